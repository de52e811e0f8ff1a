"""One way to print any view: the command a learner would type, where they would type it.

``cluster.run(command, on=...)`` returns the text the real tool prints. ``on`` is a node
(its name or index), a pod (``"web-0"``, ``"kube-system/coredns-..."``), or a host around the
cluster (``"internet"``, ``"vnet-vm"``, ``"peered-vm"``, ``"onprem-host"``, ``"onprem-router"``);
``kubectl`` and ``az`` commands run anywhere and need no ``on``. ``conntrack -L`` lists the
connections of the traces given as ``after=``.

Every hop of a trace names the command that prints its deciding line
(``hop.decided_by.command``, ``hop.decided_by.on``), and ``run`` prints that line verbatim.

Example:
    >>> import netlab as nl
    >>> c = nl.Cluster.aks("kubenet").add_pod("web-0")
    >>> print(c.run("ip route", on="web-0"))
    default via 10.244.0.1 dev eth0
    10.244.0.0/24 dev eth0 proto kernel scope link src 10.244.0.2
    >>> c.run("ip rout", on="web-0")
    Traceback (most recent call last):
    ...
    netlab.errors.CommandError: netlab does not know the command 'ip rout' in a pod. Did you mean 'ip route'? ...
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..errors import CommandError, ConfigError, NetlabError, NotFoundError, did_you_mean
from ..text.formats import ToolText
from ..azure.network import HOST_NAMES, hosts, peered_routes, system_routes
from ..cni import dataplane as cni
from ..kubeproxy.modes import MODES
from ..model import naming
from ..model.routing import format_ip_route
from ..model.types import Interface, IPv4Interface

if TYPE_CHECKING:
    from .core import Cluster


# Aliases a learner may type for the same view (iproute2 accepts prefixes: "ip a", "ip r").
_ALIASES = {
    "ip a": "ip addr", "ip addr show": "ip addr", "ip address": "ip addr", "ip address show": "ip addr",
    "ip r": "ip route", "ip route show": "ip route", "ip ro": "ip route",
    "ip r show table local": "ip route show table local", "ip route list table local": "ip route show table local",
    "ip link": "ip link show", "ip l": "ip link show",
    "ip n": "ip neigh", "ip neighbor": "ip neigh", "ip neighbour": "ip neigh", "ip neigh show": "ip neigh",
    "iptables -S -t nat": "iptables -t nat -S", "conntrack -L -n": "conntrack -L",
    "ipvsadm -L -n": "ipvsadm -Ln", "ss -ltnup": "ss -ltunp", "ss -tulpn": "ss -ltunp", "ss -lntup": "ss -ltunp",
    "ss -tunlp": "ss -ltunp",
}


def _where_kind(cluster: "Cluster", on: Any) -> tuple[str, Any]:
    """``("node", index)``, ``("pod", Pod)``, ``("host", name)`` or ``("anywhere", None)``: where ``on``
    names, read as a trace reads its source (:mod:`netlab.trace.names`), plus the on-premises router."""
    from ..trace.names import Kind, source

    if on is None:
        return "anywhere", None
    if isinstance(on, int) and not isinstance(on, bool):
        return "node", cluster.node_index(on)
    text = str(on).strip()
    if text in HOST_NAMES:  # the on-premises router runs ip route but sends no traffic of its own
        return "host", text
    try:
        peer = source(cluster, text)
    except NetlabError:
        peer = None
    if peer is not None and peer.kind is Kind.POD:
        return "pod", peer.pod
    if peer is not None and peer.kind is Kind.NODE:
        return "node", peer.node.index
    if peer is not None and peer.kind is Kind.HOST:
        return "host", peer.host.name
    names = [n for (_, n) in cluster.pod_keys()][:200] + [node.name for node in cluster.node_records()]
    raise NotFoundError(f"on={on!r}: no node, pod or host of that name; run a command on a node (its name or index), "
                        f"in a pod (its name), or on one of {', '.join(HOST_NAMES)}.{did_you_mean(text, names)}")


def _traces(after: Any) -> list:
    from ..trace.hops import Trace

    if after is None:
        return []
    if isinstance(after, Trace):
        after = [after]
    out = []
    for t in after:
        if not isinstance(t, Trace):
            raise ConfigError(f"after={t!r}: give a trace (or a list of traces) from cluster.trace(...)")
        while t is not None:
            out.append(t)
            t = t.previous
    return list(reversed(out))


# --------------------------------------------------------------------------- the views, by where they run
def _node_views(c: "Cluster", n: int, after: Any) -> dict[str, Callable[[], str]]:
    from ..text import tools as views

    node = c.nodes[n]
    dp = c.node_dataplane(n)

    def local() -> str:
        return "\n".join(views.local_table(c.node_interfaces(n)))

    def fdb(bridge: str | None = None) -> Callable[[], str]:
        def show() -> str:
            names = [i.name for i in dp.interfaces if i.kind == "bridge"]
            if bridge is not None and bridge not in names:
                raise CommandError(f'Cannot find device "{bridge}" on node {node.name}: its bridges are '
                                   f"{', '.join(names) or 'none (this plugin wires pods without a bridge)'}")
            out = []
            for br in (i for i in dp.interfaces if i.kind == "bridge" and (bridge is None or i.name == bridge)):
                ports = [i for i in dp.interfaces if i.master == br.name]
                learned: dict[str, list[str]] = {}
                for pod in c.pods_on(n):
                    learned.setdefault(cni.host_veth_name(c.config, pod), []).append(
                        naming.virtual_mac(pod.namespace, pod.name, "eth0"))
                if any(p.name == "eth0" for p in ports):
                    learned.setdefault("eth0", []).append(views.AZURE_GATEWAY_MAC)
                out += views.bridge_fdb(br, ports, learned)
            return "\n".join(out)
        return show

    def neigh() -> str:
        uplink = "azure0" if dp.bridge == "azure0" else "eth0"
        lines = [views.neigh_line(dp.gateway, uplink, views.AZURE_GATEWAY_MAC)]
        for pod in c.pods_on(n):
            pdp = c.pod_dataplane(pod)
            dev = dp.bridge or pdp.host_if
            lines.append(views.neigh_line(pod.ip, dev, naming.virtual_mac(pod.namespace, pod.name, "eth0")))
        return "\n".join(lines)

    def conntrack() -> str:
        from ..trace.walk import conntrack_entries

        lines = [line for t in _traces(after) for tt in (t,) for line in conntrack_entries(c, tt).get(n, [])]
        return "\n".join(lines + [views.conntrack_footer(len(lines))])

    table = {
        "ip addr": node.ip_addr,
        "ip route": node.ip_route,
        "ip route show table local": local,
        "ip neigh": neigh,
        "bridge fdb show": fdb(),
        "iptables-save": node.iptables_save,
        "iptables-save -t nat": lambda: _iptables_table(node.iptables_save(), "nat"),
        "iptables-save -t filter": lambda: _iptables_table(node.iptables_save(), "filter"),
        "iptables -t nat -S": lambda: _iptables_s(node.iptables_save(), "nat"),
        "iptables -S": lambda: _iptables_s(node.iptables_save(), "filter"),
        "nft list ruleset": lambda: _no_ruleset(node.name),
        "conntrack -L": conntrack,
        "crictl pods": node.crictl_pods,
        "crictl ps": node.crictl_ps,
        "ss -ltunp": lambda: c.ss_listen(n),
        "az network nic show-effective-route-table -o table": c.effective_routes,
    }
    for rec in MODES.values():  # each proxy mode's own views, in every mode (another mode's says which shows it)
        for method, view in rec.views.items():
            if view.command is not None:
                table[view.command] = getattr(node, method)
    for i in dp.interfaces:
        if i.kind == "bridge":
            table[f"bridge fdb show br {i.name}"] = fdb(i.name)
    table["bridge link show"] = node.bridge_link
    table["bridge -d link show"] = lambda: node.bridge_link(details=True)
    table["ebtables -t filter -L"] = node.ebtables
    table["ebtables -L"] = node.ebtables
    table["ip link show"] = node.ip_link
    for i in dp.interfaces:
        table[f"ip link show {i.name}"] = (lambda d=i.name: node.ip_link(d))
        table[f"ip -d link show {i.name}"] = (lambda d=i.name: node.ip_link(d, details=True))
        if i.kind == "bridge":
            table[f"ip -d link show master {i.name}"] = (lambda d=i.name: node.ip_link(master=d, details=True))
    return table


def _no_ruleset(node: str) -> str:
    raise CommandError(
        f"nft list ruleset on {node} would also print the node's iptables rules, which live in nf_tables too "
        "(iptables-nft: iptables-save says '(nf_tables)'), translated into nft's syntax; netlab does not print that "
        "translation. 'nft list table ip kube-proxy' prints kube-proxy's own table (nftables mode), and "
        "'iptables-save' the iptables rules")


def _iptables_table(save: str, table: str) -> str:
    """The part of ``iptables-save`` for one table (``iptables-save -t nat``)."""
    out, keep = [], False
    for line in save.splitlines():
        if line.startswith("*"):
            keep = line == f"*{table}"
        if keep or (line.startswith("# ") and not out):
            out.append(line)
        if keep and line == "COMMIT":
            keep = False
    return "\n".join(out) if any(line.startswith("*") for line in out) else ""


def _iptables_s(save: str, table: str) -> str:
    """``iptables -t <table> -S``: the policies and chains as ``-P``/``-N``, then the rules, no counters."""
    out = []
    part = _iptables_table(save, table).splitlines()
    chains = [line for line in part if line.startswith(":")]
    for line in chains:
        name, policy = line[1:].split()[:2]
        out.append(f"-P {name} {policy}" if policy != "-" else f"-N {name}")
    out += [line for line in part if line.startswith("-A ")]
    return "\n".join(out)


def _pod_views(c: "Cluster", pod: Any) -> dict[str, Callable[[], str]]:
    from ..text import tools as views

    pv = c.pods[f"{pod.namespace}/{pod.name}"] if pod.namespace != "default" else c.pods[pod.name]
    pdp = c.pod_dataplane(pod)

    def neigh() -> str:
        if pdp.gateway is None:
            return ""

        node_dp = c.node_dataplane(pod.node)
        if pdp.gateway == cni.LINK_GATEWAY:
            mac = next(i.mac for i in node_dp.interfaces if i.name == pdp.host_if)
        else:
            mac = next((i.mac for i in node_dp.interfaces if any(a.ip == pdp.gateway for a in i.addresses)),
                       views.AZURE_GATEWAY_MAC)
        return views.neigh_line(pdp.gateway, "eth0", mac)

    return {
        "ip addr": pv.ip_addr,
        "ip route": pv.ip_route,
        "ip route show table local": lambda: "\n".join(views.local_table(pdp.interfaces)),
        "ip neigh": neigh,
    }


def _host_views(c: "Cluster", name: str) -> dict[str, Callable[[], str]]:
    from ..text import tools as views

    table: dict[str, Callable[[], str]] = {"ip route": lambda: format_ip_route(c.host_routes(name))}
    if name != "onprem-router":
        host = hosts(c.config)[name]
        prefix = next(r.dst.prefixlen for r in c.host_routes(name) if r.scope == "link" and r.proto == "kernel")
        lo = Interface(1, "lo", "loopback", "00:00:00:00:00:00", (IPv4Interface("127.0.0.1/8"),))
        eth0 = Interface(2, "eth0", "ether", "00:00:00:00:00:00", (IPv4Interface(f"{host.ip}/{prefix}"),))
        table["ip route show table local"] = lambda: "\n".join(views.local_table([lo, eth0]))
        if host.kind == "vnet":
            table["az network nic show-effective-route-table -o table"] = lambda: c.effective_routes_of(system_routes(c.config))
        if host.kind == "peered":
            table["az network nic show-effective-route-table -o table"] = lambda: c.effective_routes_of(peered_routes(c.config))
    return table


def _anywhere_views(c: "Cluster", ns: str | None) -> dict[str, Callable[[], str]]:
    from ..trace.hops import NODE_POD_CIDRS

    table = {
        "kubectl get pods": lambda: c.kubectl_get_pods(namespace=ns or "default", wide=False),
        "kubectl get pods -A": lambda: c.kubectl_get_pods(all_namespaces=True, wide=False),
        "kubectl get pods -o wide": lambda: c.kubectl_get_pods(namespace=ns or "default"),
        "kubectl get pods -A -o wide": lambda: c.kubectl_get_pods(all_namespaces=True),
        "kubectl get svc": lambda: c.kubectl_get_svc(namespace=ns or "default", wide=False),
        "kubectl get svc -A": lambda: c.kubectl_get_svc(all_namespaces=True, wide=False),
        "kubectl get svc -o wide": lambda: c.kubectl_get_svc(namespace=ns or "default"),
        "kubectl get svc -A -o wide": lambda: c.kubectl_get_svc(all_namespaces=True),
        "kubectl get endpointslices": lambda: c.kubectl_get_endpointslices(namespace=ns or "default"),
        "kubectl get endpointslices -A": lambda: c.kubectl_get_endpointslices(all_namespaces=True),
        NODE_POD_CIDRS: c.node_pod_cidrs,
        "az network route-table route list -o table": c.azure_route_table,
        "az network nic show-effective-route-table -o table": c.effective_routes,
        "az network lb rule list -o table": c.az_lb_rules,
        "az network lb probe list -o table": c.az_lb_probes,
        "az network lb outbound-rule list -o table": c.az_lb_outbound_rules,
    }
    return table


# kubectl's names for a resource (kind, plural, short name) -> the name netlab's views use.
_RESOURCES = {"po": "pods", "pod": "pods", "pods": "pods", "svc": "svc", "service": "svc", "services": "svc",
              "endpointslice": "endpointslices", "endpointslices": "endpointslices"}

_NAMESPACE = re.compile(r"\s(?:-n|--namespace)[ =]([a-z0-9-]+)")


def _normalise(command: str) -> tuple[str, str | None]:
    """The command in its canonical spelling, and the namespace a ``kubectl -n`` names."""
    text = " ".join(str(command).split())
    ns = None
    m = _NAMESPACE.search(" " + text)
    if text.startswith("kubectl") and m:
        ns = m.group(1)
        text = " ".join(_NAMESPACE.sub(" ", " " + text).split())
    if text.startswith("kubectl") and " --all-namespaces" in f" {text}":
        text = text.replace("--all-namespaces", "-A")
    if text.startswith("kubectl get"):
        text = re.sub(r"\s(?:-o|--output)(?:\s|=)?wide\b", " -o wide", text)
        words = text.split()
        flags = [w for w in words[3:] if w.startswith("-")]
        wide = "-o wide" in text
        rest = [w for w in words[3:] if not w.startswith("-") and w != "wide"]
        resource = _RESOURCES.get(words[2] if len(words) > 2 else "", None)
        if not rest and resource:
            text = (f"kubectl get {resource}" + (" -A" if "-A" in flags else "")
                    + (" -o wide" if wide and resource in ("pods", "svc") else ""))
    if text.startswith("az network"):
        text = re.sub(r"\s(?:-g|--resource-group|--lb-name|--route-table-name|-n|--name)\s\S+", "", " " + text).strip()
        if " -o table" not in text and "--output table" not in text:
            text += " -o table"
        text = text.replace("--output table", "-o table")
    return _ALIASES.get(text, _ALIASES.get(text.lower(), text)), ns


def supported(cluster: "Cluster", on: Any = None) -> list[str]:
    """The commands ``run`` knows ``on`` this place (a node, a pod, a host, or ``None``: anywhere)."""
    kind, where = _where_kind(cluster, on)
    return sorted(_views(cluster, kind, where, None, None))


def _views(c: "Cluster", kind: str, where: Any, ns: str | None, after: Any) -> dict[str, Callable[[], str]]:
    if kind == "node":
        return _node_views(c, where, after)
    if kind == "pod":
        return _pod_views(c, where)
    if kind == "host":
        return _host_views(c, where)
    return _anywhere_views(c, ns)


def run(cluster: "Cluster", command: str, on: Any = None, after: Any = None) -> str:
    """What ``command`` prints ``on`` a node, pod or host (``None``: a ``kubectl``/``az`` command)."""
    if not isinstance(command, str) or not command.strip():
        raise CommandError(f"command={command!r}: give the command as a learner types it, such as 'ip route'")
    canon, ns = _normalise(command)
    kind, where = _where_kind(cluster, on)
    if canon.startswith(("kubectl", "az ")) and kind != "anywhere":
        if canon.startswith("az network nic show-effective-route-table") and kind in ("node", "host"):
            pass
        else:
            kind, where = "anywhere", None
    views = _views(cluster, kind, where, ns, after)
    if canon == "conntrack -L" and kind == "node" and after is None:
        raise CommandError("conntrack -L lists the connections the node tracks, and a netlab cluster has none until a "
                           "packet passes: trace one first and pass it, cluster.run('conntrack -L', on=..., after=t)")
    view = views.get(canon)
    if view is None:
        place = {"node": "on a node", "pod": "in a pod", "host": "on this host", "anywhere": "without on="}[kind]
        known = sorted(views)
        others = []
        for other in ("node", "pod", "anywhere"):
            if other != kind and canon in _sample_views(cluster, other):
                others.append(other)
        hint = ""
        if others:
            hint = (" It runs " + " or ".join({"node": "on a node (on='<node name>')", "pod": "in a pod (on='<pod>')",
                                                "anywhere": "without on="}[o] for o in others) + ".")
        raise CommandError(f"netlab does not know the command {command.strip()!r} {place}.{did_you_mean(canon, known)}"
                           f"{hint} The commands it prints {place}: {', '.join(known)}")
    return ToolText(view())


def _sample_views(c: "Cluster", kind: str) -> dict:
    if kind == "node":
        return _node_views(c, 0, None)
    if kind == "pod":
        pods = c.pod_records()
        return _pod_views(c, pods[0]) if pods else {"ip addr": None, "ip route": None,
                                                     "ip route show table local": None, "ip neigh": None}
    return _anywhere_views(c, None)
