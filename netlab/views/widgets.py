"""An interactive explorer: build a cluster with buttons, switch plugins and proxy modes, trace packets.

Every control edits the cluster *description* and rebuilds from it; nothing patches a
view. A change that breaks a rule shows the rule and the fix in the message line and
keeps the last valid cluster on screen (and ``Undo`` steps back through what you built).
ipywidgets is imported only here; the diagram is an SVG (:mod:`netlab.views.diagram`).

Example:
    >>> import netlab as nl
    >>> ex = nl.explore(nl.Cluster.aks("kubenet", nodes=2))
    >>> ex.controls["pod_name"].value = "web-0"
    >>> ex.controls["add_pod"].click()
    >>> sorted(ex.cluster.pods)
    ['web-0']
    >>> ex.controls["pod_name"].value = "web-0"
    >>> ex.controls["add_pod"].click()  # the same name again: refused, nothing lost
    >>> ex.message.value.startswith("<span style='color:#b2182b'>DuplicateError")
    True

Taught in ``notebooks/04-kubenet-routing.ipynb``, ``05-azure-cni.ipynb`` and ``08-kube-proxy-modes.ipynb``.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

from ..cluster.core import Cluster
from ..errors import NetlabError
from ..model.types import Container, ContainerPort, Plugin, ProxyMode
from ..trace import names
from ..azure.network import hosts

_OK, _BAD = "#1b7837", "#b2182b"
# What changed since the source document, said where a learner picks a mode (notebook 08 says it at length).
_MODE_NOTES = {
    "userspace": " (as the source document describes it: kube-proxy removed userspace mode in Kubernetes 1.26)",
    "ipvs": " (deprecated since Kubernetes 1.35; nftables is the successor)",
}


def _in_kernel() -> bool:
    """Whether a Jupyter kernel is there to show outputs (not so in tests and scripts)."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython comes with ipywidgets
        return False
    shell = get_ipython()
    return shell is not None and hasattr(shell, "kernel")


class Explorer:
    """The explorer's state and widgets. ``widget`` is what Jupyter shows; ``cluster`` the current value."""

    def __init__(self, cluster: Cluster | None = None) -> None:
        import ipywidgets as w

        self.cluster = cluster if cluster is not None else Cluster.aks("kubenet", nodes=2)
        self.history: list[Cluster] = []
        self._done: list[str] = []  # what each step of the history did, for Undo to say
        self.figure: Any = None
        self.trace: Any = None
        lay = w.Layout(width="auto")
        c: dict[str, Any] = {}
        c["plugin"] = w.Dropdown(options=[p.value for p in Plugin], value=self.cluster.plugin.value,
                                 description="plugin", layout=lay)
        c["cni_mode"] = w.ToggleButtons(options=["transparent", "bridge"], value=self.cluster.config.cni_mode.value,
                                        description="Azure CNI", style={"button_width": "90px"})
        c["proxy_mode"] = w.Dropdown(options=[m.value for m in ProxyMode], value=self.cluster.proxy_mode.value,
                                     description="kube-proxy", layout=lay)
        c["add_node"] = w.Button(description="Add node", icon="plus")
        c["undo"] = w.Button(description="Undo", icon="undo")
        c["pod_name"] = w.Text(placeholder="web-1", description="pod", layout=w.Layout(width="180px"))
        c["pod_node"] = w.Dropdown(description="on node", layout=w.Layout(width="170px"))
        c["pod_app"] = w.Text(value="web", description="app=", layout=w.Layout(width="150px"))
        c["pod_port"] = w.IntText(value=80, description="port", layout=w.Layout(width="130px"))
        c["add_pod"] = w.Button(description="Add pod", icon="plus")
        c["svc_name"] = w.Text(placeholder="web", description="Service", layout=w.Layout(width="180px"))
        c["svc_app"] = w.Text(value="web", description="selects app=", layout=w.Layout(width="170px"))
        c["svc_port"] = w.IntText(value=80, description="port", layout=w.Layout(width="130px"))
        c["svc_target"] = w.Text(placeholder="same", description="to pod port", style={"description_width": "initial"},
                                 layout=w.Layout(width="170px"))  # targetPort: a number or a port's name; empty: same
        c["svc_type"] = w.Dropdown(options=["ClusterIP", "NodePort", "LoadBalancer"], description="type",
                                   layout=w.Layout(width="200px"))
        c["svc_policy"] = w.Dropdown(options=["Cluster", "Local"], description="external policy",
                                     style={"description_width": "initial"}, layout=w.Layout(width="200px"))
        c["add_service"] = w.Button(description="Add Service", icon="plus")
        c["src"] = w.Dropdown(description="from", layout=w.Layout(width="260px"))
        c["dst"] = w.Combobox(description="to", placeholder="pod, Service, node, node:port, address",
                              ensure_option=False, layout=w.Layout(width="330px"))
        c["port"] = w.IntText(value=80, description="port", layout=w.Layout(width="130px"))
        c["seed"] = w.IntText(value=0, description="seed", layout=w.Layout(width="120px"))
        c["go"] = w.Button(description="Trace", icon="play", button_style="primary")
        c["step"] = w.ToggleButton(description="Step through", icon="step-forward", value=False,
                                   tooltip="walk each trace hop by hop on the diagram (stays on for the next traces)")
        self.controls = c
        self.message = w.HTML()
        self.diagram = w.HTML()
        self.stepper: Any = None  # the step-through of the last trace, once opened
        self.view = w.Box([self.diagram])  # the diagram, or the step-through in its place
        self.trace_out = w.Output()
        self.text_out = w.Output()

        self._syncing = False
        c["plugin"].observe(lambda ch: self._selector(lambda cl: cl.with_plugin(ch["new"]),
                                                      f"plugin {ch['new']}: every pod re-addressed"), "value")
        c["cni_mode"].observe(lambda ch: self._selector(lambda cl: cl.with_cni_mode(ch["new"]),
                                                        f"Azure CNI {ch['new']} mode"), "value")
        c["proxy_mode"].observe(lambda ch: self._selector(lambda cl: cl.with_proxy_mode(ch["new"]),
                                                          f"kube-proxy in {ch['new']} mode" + _MODE_NOTES.get(ch["new"], "")),
                                "value")
        c["add_node"].on_click(lambda _: self._apply(lambda cl: cl.add_node(), "one more node"))
        c["undo"].on_click(lambda _: self.undo())
        c["add_pod"].on_click(lambda _: self._add_pod())
        c["add_service"].on_click(lambda _: self._add_service())
        c["go"].on_click(lambda _: self.run_trace())
        c["step"].observe(lambda ch: self.step_through() if ch["new"] else self._draw(), "value")

        box = w.VBox
        row = w.HBox
        self.widget = box([
            row([c["plugin"], c["cni_mode"], c["proxy_mode"], c["add_node"], c["undo"]]),
            row([c["pod_name"], c["pod_node"], c["pod_app"], c["pod_port"], c["add_pod"]]),
            row([c["svc_name"], c["svc_app"], c["svc_port"], c["svc_target"], c["svc_type"], c["svc_policy"],
                 c["add_service"]]),
            row([c["src"], c["dst"], c["port"], c["seed"], c["go"], c["step"]]),
            self.message, self.view, self.trace_out,
        ])
        self._refresh("ready: change the cluster with the controls, then trace a packet", ok=True)

    # ---------------------------------------------------------------- actions
    def _apply(self, change: Callable[[Cluster], Cluster], what: str) -> bool:
        """Apply ``change``; on a NetlabError keep the old cluster and show why."""
        try:
            new = change(self.cluster)
        except NetlabError as err:
            # A button press is no re-run cell: show the rule without the notebook hint.
            self._say(f"{type(err).__name__}: {getattr(err, 'rule', err)}", ok=False)
            self._sync_controls()
            return False
        self.history.append(self.cluster)
        self._done.append(what)
        self.cluster = new
        self.trace = None
        self._refresh(what, ok=True)
        return True

    def _selector(self, change: Callable[[Cluster], Cluster], what: str) -> None:
        if not self._syncing:  # ignore the change the explorer itself makes when it resets a selector
            self._apply(change, what)

    def undo(self) -> None:
        """Step back to the previous cluster."""
        if not self.history:
            self._say("nothing to undo", ok=False)
            return
        self.cluster = self.history.pop()
        undone = self._done.pop() if self._done else "the last change"
        self.trace = None
        self._refresh(f"undone: {undone}", ok=True)

    def _add_pod(self) -> None:
        c = self.controls
        name = c["pod_name"].value.strip()
        app = c["pod_app"].value.strip()
        port = c["pod_port"].value
        node = c["pod_node"].value if c["pod_node"].value is not None else 0

        def change(cl: Cluster) -> Cluster:
            containers = [Container("app", ports=[ContainerPort(port)] if port else [])]
            return cl.add_pod(name, node=node, labels={"app": app} if app else None, containers=containers)

        if self._apply(change, f"pod {name} added"):
            c["pod_name"].value = ""

    def _add_service(self) -> None:
        c = self.controls
        name = c["svc_name"].value.strip()
        kind = c["svc_type"].value
        policy = c["svc_policy"].value if kind != "ClusterIP" else None

        raw = c["svc_target"].value.strip()
        target: int | str = int(raw) if raw.isdigit() else raw or c["svc_port"].value

        def change(cl: Cluster) -> Cluster:
            return cl.add_service(name, selector={"app": c["svc_app"].value.strip()},
                                  ports=[{"port": c["svc_port"].value, "targetPort": target}],
                                  type=kind, external_traffic_policy=policy)

        if self._apply(change, f"Service {name} added"):
            c["svc_name"].value = ""

    def run_trace(self) -> None:
        """Trace from the chosen source to the chosen destination and show it."""
        c = self.controls
        dst = c["dst"].value.strip()
        if not dst:
            self._say("choose where the packet goes ('to'): a pod, a Service, a node, node:port or an address",
                      ok=False)
            return
        port, seed = c["port"].value, c["seed"].value
        if not 1 <= port <= 65535:
            self._say(f"port {port} is not a port: give a whole number from 1 to 65535 (80 for web servers)", ok=False)
            return
        if seed < 0:
            self._say(f"seed {seed}: the seed picks kube-proxy's random choice; give a whole number, 0 or more",
                      ok=False)
            return
        dst, because = self._outside_view(c["src"].value, dst)
        try:
            names_its_port = names.destination(self.cluster, dst).port is not None
        except NetlabError:
            names_its_port = False  # the trace below says what is wrong with it
        if names_its_port:
            port = None  # "node:30080" names its port; the port box is for the other destinations
        try:
            self.trace = self.cluster.trace(c["src"].value, dst, port=port, seed=seed)
        except NetlabError as err:
            self._say(f"{type(err).__name__}: {err}", ok=False)
            return
        self._say(f"{because}{self.trace.verdict.value}: {self.trace.reason}", ok=self.trace.delivered)
        self._draw()
        if not _in_kernel():
            return
        from IPython.display import HTML, display

        with self.trace_out:
            self.trace_out.clear_output(wait=True)
            display(HTML(self.trace._repr_html_()))

    def _outside_view(self, src: str, dst: str) -> tuple[str, str]:
        """A host outside the cluster reaches a Service by its load balancer IP, not by its ClusterIP
        (which only the nodes know): translate a Service name picked for such a source, and say so."""
        try:
            source, to = names.source(self.cluster, src), names.destination(self.cluster, dst)
        except NetlabError:
            return dst, ""  # the trace says what is wrong with it
        named = to.frontend is names.Frontend.CLUSTER_IP and to.port is None and str(to.address) != dst
        if source.kind is not names.Kind.HOST or not named:
            return dst, ""
        svc = to.service.spec
        if svc.load_balancer_ips:
            return (str(svc.load_balancer_ips[0]),
                    f"from outside the cluster, Service {dst} is reached at its load balancer IP "
                    f"{svc.load_balancer_ips[0]}: ")
        node_ports = [p.node_port for p in svc.ports if p.node_port]
        if node_ports:
            node = self.cluster.nodes[0]
            return (f"{node.ip}:{node_ports[0]}",
                    f"from outside the cluster, Service {dst} is reached at a node's NodePort, "
                    f"{node.ip}:{node_ports[0]}: ")
        return dst, ""

    # ---------------------------------------------------------------- views
    def _say(self, text: str, ok: bool) -> None:
        colour = _OK if ok else _BAD
        self.message.value = f"<span style='color:{colour}'>{html.escape(text)}</span>"

    def _sync_controls(self) -> None:
        """Put the selectors back to what the (unchanged) cluster has."""
        c = self.controls
        self._syncing = True
        try:
            for key, value in (("plugin", self.cluster.plugin.value),
                               ("cni_mode", self.cluster.config.cni_mode.value),
                               ("proxy_mode", self.cluster.proxy_mode.value)):
                if c[key].value != value:
                    c[key].value = value
        finally:
            self._syncing = False

    def _refresh(self, what: str, ok: bool) -> None:
        c = self.controls
        cl = self.cluster
        nodes = [(f"{n.index}: {n.name[-10:]}", n.index) for n in cl.nodes]
        chosen_node = c["pod_node"].value
        c["pod_node"].options = nodes
        # A selector never stays blank: keep the learner's choice if it still exists, else the first one
        # (a blank "from" made a trace fail with "unknown source 'None'").
        c["pod_node"].value = chosen_node if chosen_node in [i for _, i in nodes] else nodes[0][1]
        c["cni_mode"].disabled = cl.plugin is not Plugin.AZURE_CNI
        sources = list(cl.pods) + [n.name for n in cl.nodes] + list(hosts(cl.config))
        current = c["src"].value
        c["src"].options = sources
        c["src"].value = current if current in sources else sources[0]
        services = [s for s in cl.services if s not in ("kubernetes", "kube-system/kube-dns")]
        # Besides names: each Service's load balancer IP and every node's NodePorts, the addresses a host
        # outside the cluster would use.
        outside = [str(cl.services[s].load_balancer_ip) for s in services if cl.services[s].load_balancer_ip]
        outside += [f"{n.ip}:{p.node_port}" for s in services for p in cl.services[s].ports if p.node_port
                    for n in cl.nodes]
        c["dst"].options = tuple(services + outside + list(cl.pods) + [n.name for n in cl.nodes] + list(hosts(cl.config)))
        self._sync_controls()
        self._say(what, ok)
        self._draw()
        if _in_kernel():
            self.trace_out.clear_output()

    def _draw(self) -> None:
        from .diagram import draw_cluster

        self.figure = draw_cluster(self.cluster, trace=self.trace)
        # An HTML widget takes the drawing as a value: no output area to clear and refill, nothing to encode.
        self.diagram.value = self.figure._repr_html_()
        self.view.children = (self.diagram,)
        self.stepper = None
        if self.trace is not None and self.controls["step"].value:
            self.step_through(quiet=True)  # stepping stays on: each new trace opens at its first hop

    def step_through(self, quiet: bool = False) -> None:
        """Show the last trace hop by hop in place of the diagram (while the Step through button is down)."""
        from .step import StepThrough

        if self.trace is None:
            if not quiet:
                self._say("trace a packet to step through: with Step through down, every trace opens hop by hop",
                          ok=True)
            return
        self.stepper = StepThrough(self.trace, self.cluster)
        self.view.children = (self.stepper.widget,)
        if quiet:
            return
        self._say(f"stepping through {self.trace.source} -> {self.trace.destination}: {self.stepper.steps} hops; "
                  "Prev, Next or the slider move between them", ok=True)

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)


def explore(cluster: Cluster | None = None) -> Explorer:
    """An explorer for ``cluster`` (a two-node kubenet cluster if none). Show it by ending a cell with it."""
    return Explorer(cluster)
