"""Diagrams of a cluster, drawn from the same model the traces walk.

``draw_cluster`` draws nodes, pods (with their containers), veth pairs, the bridge
or the per-pod routes, the node NICs and the Azure VNet (with kubenet's route
table); pass a :class:`~netlab.trace.Trace` to overlay its hops as numbered arrows.
Colours are from the Okabe-Ito palette (safe for colour-blind readers) on a white
figure, which stays readable in a dark JupyterLab theme.

matplotlib is imported only here, so ``import netlab`` stays light.

Example:
    >>> import netlab as nl
    >>> from netlab.views.plot import draw_cluster
    >>> c = nl.Cluster.aks("kubenet", nodes=1).add_pod("web-0")
    >>> fig = draw_cluster(c)
    >>> "web-0" in [t.get_text().splitlines()[0] for t in fig.axes[0].texts]
    True

Taught in ``notebooks/01-single-pod.ipynb`` onwards.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..cni import dataplane as cni
from ..model import naming
from ..model.types import Plugin
from ..cluster.core import Cluster
from ..compare import compare_plugins
from ..trace.hops import ROUTE_TABLE
from ..errors import ConfigError

if TYPE_CHECKING:
    from ..trace.hops import Trace

# Okabe-Ito
BLUE, ORANGE, GREEN, VERMILION, SKY, PURPLE, YELLOW, GREY = (
    "#0072B2", "#E69F00", "#009E73", "#D55E00", "#56B4E9", "#CC79A7", "#F0E442", "#999999")
INK = "#222222"
MAX_NODES, MAX_PODS = 6, 6

NODE_W, NODE_H, GAP = 5.2, 4.6, 0.7
VNET_H = 0.9


@dataclass
class Layout:
    """Where each element was drawn, so a trace can point at it (and tests can check it)."""

    pods: dict[tuple[str, str], tuple[float, float]] = field(default_factory=dict)
    bridges: dict[int, tuple[float, float]] = field(default_factory=dict)
    nics: dict[int, tuple[float, float]] = field(default_factory=dict)
    vnet: tuple[float, float] = (0.0, 0.0)
    hosts: dict[str, tuple[float, float]] = field(default_factory=dict)
    hidden_pods: int = 0
    hidden_nodes: int = 0


def _box(ax, x, y, w, h, fc, ec=INK, lw=1.2, r=0.08, z=1, alpha=1.0):
    from matplotlib.patches import FancyBboxPatch

    p = FancyBboxPatch((x, y), w, h, boxstyle=f"round,pad=0.02,rounding_size={r}", fc=fc, ec=ec, lw=lw,
                       zorder=z, alpha=alpha)
    ax.add_patch(p)
    return p


def _text(ax, x, y, s, size=8, **kw):
    kw.setdefault("ha", "center")
    kw.setdefault("va", "center")
    kw.setdefault("color", INK)
    return ax.text(x, y, s, fontsize=size, zorder=6, **kw)


def draw_cluster(cluster: "Cluster", trace: "Trace | None" = None, ax: Any = None,
                 max_nodes: int = MAX_NODES, max_pods: int = MAX_PODS):
    """Draw the cluster (and a trace on top of it). Returns the matplotlib Figure.

    Args:
        cluster: the cluster to draw.
        trace: optional trace whose hops are drawn as numbered arrows.
        ax: an existing Axes to draw into; a new figure is made when ``None``.
        max_nodes, max_pods: larger clusters are summarised ("+N more").
    """
    from ..trace.hops import Trace

    if not isinstance(cluster, Cluster):
        raise ConfigError(f"draw_cluster needs a cluster, such as nl.Cluster.aks('kubenet'), not {cluster!r}")
    if trace is not None and not isinstance(trace, Trace):
        raise ConfigError(f"trace= takes what cluster.trace(...) returns, not {trace!r}")
    if ax is not None and not hasattr(ax, "add_patch"):
        raise ConfigError(f"ax= takes a matplotlib Axes (fig.subplots()), not {ax!r}")
    for what, value in (("max_nodes", max_nodes), ("max_pods", max_pods)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ConfigError(f"{what}={value!r}: give a whole number, 1 or more")
    cfg = cluster.config
    shown = min(cluster.node_count, max_nodes)
    has_svc = any(e.spec.namespace != "kube-system" and e.spec.name != "kubernetes" for e in cluster.service_records())
    width = shown * (NODE_W + GAP) + (4.8 if cfg.plugin is Plugin.KUBENET or has_svc else 0.6) + 1.4
    if ax is None:
        # A bare Figure (not pyplot): Jupyter shows it once, and nothing global keeps it alive.
        fig = _figure_class()(figsize=(min(2.0 + width * 1.25, 22), 7.2), facecolor="white")
        ax = fig.subplots()
    else:
        fig = ax.figure
    ax.set_facecolor("white")
    lay = Layout(hidden_nodes=cluster.node_count - shown)
    bridge = cni.bridge_name(cfg)

    for i in range(shown):
        node = cluster.nodes[i]
        x0, y0 = i * (NODE_W + GAP), 0.0
        _box(ax, x0, y0, NODE_W, NODE_H, "#f4f4f4", lw=1.6, z=0)
        _text(ax, x0 + NODE_W / 2, y0 + NODE_H - 0.22, f"node {node.name}", 8, weight="bold")
        _text(ax, x0 + NODE_W - 0.15, y0 + 0.78, f"kube-proxy: {cfg.proxy_mode.value}", 6.5, ha="right",
              color="#555555", style="italic")
        sub = f"pods {node.pod_cidr}" if node.pod_cidr is not None and cfg.plugin is not Plugin.NONE else (
            f"reserves {node.ip + 1} - {node.ip + cfg.max_pods}" if cfg.plugin is Plugin.AZURE_CNI else "")
        if sub:
            _text(ax, x0 + NODE_W / 2, y0 + NODE_H - 0.5, sub, 7, color="#444444")
        # NIC
        nic_x, nic_y = x0 + NODE_W / 2, y0 + 0.3
        uplink = "azure0 + eth0" if bridge == "azure0" else "eth0"
        _box(ax, nic_x - 1.0, nic_y - 0.22, 2.0, 0.44, SKY, z=2)
        _text(ax, nic_x, nic_y, f"{uplink} {node.ip}", 7.5)
        lay.nics[i] = (nic_x, nic_y)
        # bridge or routed
        br_y = y0 + 1.35
        if bridge:
            gw = node.dataplane.interfaces[2].addresses[0] if bridge != "azure0" else None
            label = f"bridge {bridge} {gw}" if gw else f"bridge {bridge} (eth0 enslaved)"
            _box(ax, x0 + 0.3, br_y - 0.2, NODE_W - 0.6, 0.4, ORANGE, z=2)
            _text(ax, x0 + NODE_W / 2, br_y, label, 7.5)
            ax.plot([nic_x, nic_x], [nic_y + 0.22, br_y - 0.2], color=INK, lw=1.2, zorder=1)
        else:
            _text(ax, x0 + NODE_W / 2, br_y, "routing: one /32 route per pod to its azv veth", 7, style="italic")
            ax.plot([nic_x, nic_x], [nic_y + 0.22, br_y - 0.25], color=INK, lw=1.2, zorder=1, ls=":")
        lay.bridges[i] = (x0 + NODE_W / 2, br_y)
        # pods
        pods = cluster.pods_on(i)
        visible = pods[:max_pods]
        lay.hidden_pods += len(pods) - len(visible)
        n = max(len(visible), 1)
        pw = min(1.55, (NODE_W - 0.3) / n - 0.12)
        for j, pod in enumerate(visible):
            px = x0 + 0.2 + j * ((NODE_W - 0.4) / n) + ((NODE_W - 0.4) / n - pw) / 2
            py = y0 + 2.3
            ph = 1.55
            _box(ax, px, py, pw, ph, "#e8f1f8" if pod.namespace == "default" else "#f3e6ee", ec=BLUE, z=2)
            conts = ", ".join(ct.name + (":" + "/".join(str(p.port) for p in ct.ports) if ct.ports else "")
                              for ct in pod.containers)
            size = 7 if pw > 1.2 else 6
            _text(ax, px + pw / 2, py + ph - 0.2, pod.name, size + 0.5, weight="bold")
            _text(ax, px + pw / 2, py + ph - 0.48, str(pod.ip), size)
            _text(ax, px + pw / 2, py + 0.72, _wrap(conts, 18 if pw > 1.2 else 12), size - 1, color="#333333")
            # pod eth0 and the veth to the node
            ex, ey = px + pw / 2, py + 0.15
            _box(ax, ex - 0.28, ey - 0.12, 0.56, 0.24, GREEN, z=3)
            _text(ax, ex, ey, "eth0", 6.5, color="white")
            host = cni.host_veth_name(cfg, pod)
            ax.plot([ex, ex], [ey - 0.12, br_y + (0.2 if bridge else 0.12)], color=GREEN, lw=2, zorder=1)
            _text(ax, ex, (ey + br_y) / 2 - 0.05, host if len(host) <= 12 else host[:9] + "…", 5.5,
                  color=INK, rotation=90, ha="right")
            lay.pods[pod.key] = (px + pw / 2, py + ph / 2)
        if len(pods) > len(visible):
            _text(ax, x0 + NODE_W - 0.35, y0 + 2.1, f"+{len(pods) - len(visible)} more", 7, ha="right")

    # VNet and route table
    right = shown * (NODE_W + GAP) - GAP
    vy = -1.25
    _box(ax, -0.1, vy - VNET_H / 2, right + 0.2, VNET_H, "#ddeef6", ec=BLUE, z=0)
    vnet = naming.vnet_name(cfg.name, cfg.resource_group)
    _text(ax, right / 2, vy + 0.12, f"Azure VNet {vnet}  {cfg.vnet_cidr}", 8, weight="bold")
    _text(ax, right / 2, vy - 0.2, f"node subnet aks-subnet {cfg.subnet_cidr}"
          + (f"   |   pod CIDR {cfg.pod_cidr} (not in the VNet)" if cfg.pod_cidr else "")
          + ("   |   pods are VNet addresses" if cfg.plugin is Plugin.AZURE_CNI else ""), 7)
    lay.vnet = (right / 2, vy)
    for i in range(shown):
        nx, ny = lay.nics[i]
        ax.plot([nx, nx], [ny - 0.22, vy + VNET_H / 2], color=BLUE, lw=1.5, zorder=0)
    if lay.hidden_nodes:
        _text(ax, right + 0.3, NODE_H / 2, f"+{lay.hidden_nodes} more nodes", 8, ha="left")
    if cfg.plugin is Plugin.KUBENET:
        rx = right + 0.5
        routes = cluster.route_table()[:8]
        rows = [f"{r.address_prefix} -> {r.next_hop_ip}" for r in routes]
        if len(cluster.route_table()) > 8:
            rows.append(f"... {len(cluster.route_table()) - 8} more")
        h = 0.45 + 0.26 * len(rows)
        _box(ax, rx, vy - 0.45, 4.2, h, YELLOW, z=1)
        _text(ax, rx + 2.1, vy - 0.45 + h - 0.2, "route table (UDR)", 7.5, weight="bold")
        used = set()
        if trace is not None:
            used = {h.decided_by.text for h in trace.hops if h.decided_by.command == ROUTE_TABLE}
        for k, row in enumerate(rows):
            hit = k < len(routes) and cluster.route_table_line(routes[k]) in used
            _text(ax, rx + 2.1, vy - 0.45 + h - 0.46 - 0.26 * k, row + ("  <- used" if hit else ""), 6.8,
                  family="monospace", weight="bold" if hit else "normal", color=BLUE if hit else INK)
    svc_rows = []
    for e in cluster.service_records():
        if e.spec.namespace == "kube-system" or e.spec.name == "kubernetes":
            continue
        ports = ",".join(f"{p.port}" + (f":{p.node_port}" if p.node_port else "") for p in e.spec.ports)
        lb = f" LB {e.spec.load_balancer_ips[0]}" if e.spec.load_balancer_ips else ""
        svc_rows.append(f"{e.spec.name}: {e.cluster_ip} {ports}{lb}")
    if svc_rows:
        sx = right + 0.5
        rows = svc_rows[:8] + ([f"... {len(svc_rows) - 8} more"] if len(svc_rows) > 8 else [])
        h = 0.45 + 0.26 * len(rows)
        _box(ax, sx, NODE_H - h, 4.2, h, "#eaf4ea", ec=GREEN, z=1)
        _text(ax, sx + 2.1, NODE_H - 0.2, "Services (ClusterIP port[:NodePort])", 7.5, weight="bold")
        for k, row in enumerate(rows):
            _text(ax, sx + 2.1, NODE_H - 0.46 - 0.26 * k, row, 6.5, family="monospace")
    if trace is not None:
        _draw_trace(ax, cluster, trace, lay)
    ax.set_xlim(-0.5, width)
    ax.set_ylim(-2.6 if trace is None else -3.0, NODE_H + 0.5)
    ax.set_aspect("equal")
    ax.axis("off")
    title = {Plugin.KUBENET: "kubenet (AKS basic networking)", Plugin.AZURE_CNI: f"Azure CNI ({cfg.cni_mode.value} mode)",
             Plugin.AZURE_CNI_OVERLAY: "Azure CNI Overlay", Plugin.NONE: "no network plugin: a stand-alone bridge per node"}
    ax.set_title(title[cfg.plugin], fontsize=11, color=INK)
    fig.netlab_layout = lay  # type: ignore[attr-defined]
    return fig


_FIGURE_CLASS = None


def _figure_class():
    """A matplotlib Figure that Jupyter shows as a PNG without pyplot (made once, on first use)."""
    global _FIGURE_CLASS
    if _FIGURE_CLASS is None:
        from io import BytesIO

        from matplotlib.figure import Figure

        class NetlabFigure(Figure):
            def _repr_png_(self) -> bytes:
                buf = BytesIO()
                self.savefig(buf, format="png", dpi=80, bbox_inches="tight", facecolor="white")
                return buf.getvalue()

        _FIGURE_CLASS = NetlabFigure
    return _FIGURE_CLASS


def _wrap(text: str, width: int) -> str:
    words, lines, cur = text.split(", "), [], ""
    for w in words:
        if cur and len(cur) + len(w) + 2 > width:
            lines.append(cur + ",")
            cur = w
        else:
            cur = f"{cur}, {w}" if cur else w
    lines.append(cur)
    return "\n".join(lines[:3])


def _hop_points(cluster: "Cluster", hop, lay: Layout, prev: tuple[float, float] | None) -> list[tuple[float, float]]:
    """The drawn positions a hop passes: where it came in and where it leaves."""
    place = hop.place
    if place.kind == "pod":
        ns, _, name = place.name.partition("/")
        p = lay.pods.get((ns, name))
        return [p] if p else []
    if place.kind == "node":
        try:
            i = cluster.node_index(place.name)
        except Exception:  # noqa: BLE001 - a node beyond the drawn ones
            return []
        if i not in lay.bridges:
            return []
        out = []
        for dev in (hop.in_interface, hop.out_interface):
            if dev is None:
                continue
            out.append(lay.nics[i] if dev in ("eth0", "azure0") else lay.bridges[i])
        return out or [lay.bridges[i]]
    if place.kind == "vnet":
        x = prev[0] if prev is not None else lay.vnet[0]
        return [(x, lay.vnet[1])]
    place = str(place)
    if place not in lay.hosts:
        lay.hosts[place] = (1.0 + 2.4 * len(lay.hosts), -2.45)
    return [lay.hosts[place]]


def _draw_trace(ax, cluster: "Cluster", trace: "Trace", lay: Layout) -> None:
    pts: list[tuple[float, float, int]] = []
    last = None
    for no, hop in enumerate(trace.hops, 1):
        if (hop.place, hop.interface) == last:  # a second decision at the same spot (nat after routing)
            continue
        last = (hop.place, hop.interface)
        for x, y in _hop_points(cluster, hop, lay, pts[-1][:2] if pts else None):
            if not pts or pts[-1][:2] != (x, y):
                pts.append((x, y, no))
    for key, (x, y) in lay.hosts.items():
        _box(ax, x - 1.1, y - 0.25, 2.2, 0.5, "#eeeeee", ec=GREY, z=2)
        label = key.replace("VM in ", "").replace("host ", "").replace("Azure load balancer ", "Azure LB ")
        _text(ax, x, y, label, 6.5)
    colour = {"delivered": BLUE, "dropped": VERMILION, "refused": VERMILION}.get(trace.verdict.value, PURPLE)
    for k in range(len(pts) - 1):
        (x1, y1, n1), (x2, y2, n2) = pts[k], pts[k + 1]
        ax.annotate("", xy=(x2, y2), xytext=(x1, y1), zorder=7,
                    arrowprops=dict(arrowstyle="-|>", color=colour, lw=2.2, shrinkA=6, shrinkB=6,
                                    connectionstyle="arc3,rad=0.15"))
        if n2 != n1:
            _text(ax, (x1 + x2) / 2 + 0.18, (y1 + y2) / 2 + 0.12, str(n2), 7.5, color="white", weight="bold",
                  bbox=dict(boxstyle="circle,pad=0.2", fc=colour, ec="none"))
    if trace.verdict.value in ("dropped", "refused") and pts:
        x, y, _ = pts[-1]
        _text(ax, x + 0.3, y - 0.3, f"X {trace.verdict.value}", 9, color=VERMILION, weight="bold", ha="left")
    ax.text(0, -2.95, f"{trace.source} -> {trace.destination}: {trace.verdict.value}", fontsize=8.5, color=colour,
            ha="left", va="center", zorder=6, weight="bold")


def draw_address_use(max_pods: int = 30, nodes: tuple[int, ...] = (5, 10, 25, 50, 100, 200, 400), ax: Any = None):
    """VNet addresses each plugin uses as the cluster grows (section 06), from :func:`netlab.compare_plugins`.

    Example:
        >>> fig = draw_address_use(nodes=(5, 10))
        >>> [line.get_label() for line in fig.axes[0].get_lines()]
        ['kubenet', 'azure-cni', 'azure-cni-overlay (the same as kubenet)']
        >>> fig.axes[0].get_yscale()
        'linear'
    """

    rows = {n: {r.plugin: r for r in compare_plugins(n, max_pods).rows} for n in nodes}
    if ax is None:
        fig = _figure_class()(figsize=(7.5, 4.2), facecolor="white")
        ax = fig.subplots()
    else:
        fig = ax.figure
    # Linear axes: every line is a straight line through the origin, and its slope is what a learner
    # compares (1 address per node against 1 + max_pods). kubenet and Overlay take the same addresses,
    # so Overlay is drawn as large hollow markers around kubenet's dots, and the legend says so.
    styles = {
        "kubenet": dict(color=ORANGE, marker="o", linestyle="-", markersize=5, label="kubenet"),
        "azure-cni": dict(color=BLUE, marker="s", linestyle="--", markersize=5, label="azure-cni"),
        "azure-cni-overlay": dict(color=GREEN, marker="o", linestyle=":", markersize=11, markerfacecolor="none",
                                  markeredgewidth=1.5, label="azure-cni-overlay (the same as kubenet)"),
    }
    for plugin, style in styles.items():
        ax.plot(nodes, [rows[n][plugin].subnet_addresses_needed for n in nodes], **style)
    last = nodes[-1]
    for plugin in ("kubenet", "azure-cni"):
        value = rows[last][plugin].subnet_addresses_needed
        ax.annotate(f"{value:,}", (last, value), textcoords="offset points", xytext=(-6, 6), ha="right")
    ax.set_xlabel("nodes")
    ax.set_ylabel("node-subnet addresses to plan (with 1 surge node)")
    ax.set_title(f"Addresses in the VNet subnet, max_pods={max_pods}")
    ax.set_xlim(0, last * 1.04)
    ax.set_ylim(0, max(rows[last][p].subnet_addresses_needed for p in styles) * 1.12)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper left")
    return fig


_MODE_COLOUR = {"iptables": VERMILION, "nftables": BLUE, "ipvs": GREEN, "userspace": PURPLE}
_MODE_MARKER = {"iptables": "o", "nftables": "s", "ipvs": "^", "userspace": "D"}
_LABEL_BOX = dict(boxstyle="round,pad=0.15", fc="white", ec="none", alpha=0.85)


def draw_proxy_cost(modes: tuple[str, ...] = ("iptables",), sizes: tuple[int, ...] = (10, 100, 500, 1000, 2000),
                    endpoints: int = 3, ax: Any = None):
    """What kube-proxy's modes cost as Services are added (notebook 08).

    Left: the rules (or lookups) the first packet to a Service meets, on average. Right, the
    point of the chart: the lines kube-proxy writes on a full sync (solid) and when one
    Service's endpoints change (dashed), on a log scale. Every mode's full sync grows with
    the number of Services; an update stays a handful of lines in nftables and IPVS mode,
    while in iptables mode it still rewrites one ``KUBE-SERVICES`` rule per Service. The
    updates are labelled with their size at the largest cluster. Counted on rules netlab
    renders and evaluates (:func:`netlab.kubeproxy.cost.proxy_cost`, :func:`~netlab.kubeproxy.cost.sync_text`).

    Args:
        modes: the kube-proxy modes to compare.
        sizes: numbers of Services.
        endpoints: endpoints per Service.
        ax: draw only the right-hand panel (full sync against one change) into this Axes.

    Example:
        >>> fig = draw_proxy_cost(modes=("iptables", "nftables"), sizes=(10, 40))
        >>> right = fig.axes[1]
        >>> right.get_yscale(), [line.get_label() for line in right.get_lines()]
        ('log', ['iptables: full sync', 'iptables: one Service changed', 'nftables: full sync', \
'nftables: one Service changed'])
        >>> [t.get_text() for t in right.texts]
        ['nftables: 18 lines', 'iptables: 60 lines']
    """
    from ..kubeproxy.cost import proxy_cost

    costs = {mode: [proxy_cost(mode, n, endpoints) for n in sizes] for mode in modes}
    if ax is None:
        fig = _figure_class()(figsize=(11, 4.2), facecolor="white")
        left, right = fig.subplots(1, 2)
        for mode in modes:
            left.plot(sizes, [c.rules_traversed for c in costs[mode]], marker=_MODE_MARKER.get(mode, "o"),
                      color=_MODE_COLOUR.get(mode, INK), label=mode)
        left.set_title("rules or lookups a first packet meets (average)", fontsize=11)
        left.set_ylabel("rules or lookups tested", fontsize=10)
        left.set_xlabel(f"Services ({endpoints} endpoints each)", fontsize=10)
        left.grid(True, alpha=0.3)
        left.legend(fontsize=10)
    else:
        fig, right = ax.figure, ax
    _draw_sync_cost(right, costs, sizes, endpoints)
    if ax is None:
        fig.subplots_adjust(wspace=0.28)
    return fig


def _draw_sync_cost(ax: Any, costs: dict, sizes: tuple[int, ...], endpoints: int) -> None:
    """Full sync (solid) against one Service changed (dashed), per mode; the updates labelled at the largest size."""
    from matplotlib.lines import Line2D

    ends = []
    for mode, row in costs.items():
        colour, marker = _MODE_COLOUR.get(mode, INK), _MODE_MARKER.get(mode, "o")
        ax.plot(sizes, [c.rules_written for c in row], color=colour, marker=marker, linestyle="-", lw=2,
                label=f"{mode}: full sync")
        if any(c.update_written for c in row):  # a log axis has no 0: userspace mode writes nothing on an update
            ax.plot(sizes, [c.update_written for c in row], color=colour, marker=marker, linestyle="--", lw=2,
                    markerfacecolor="white", label=f"{mode}: one Service changed")
        ends.append((row[-1].update_written, mode, colour))
    # Label each update at the largest size; labels whose values are close on the log axis go above and below.
    ends.sort()
    floor = 5
    for k, (value, mode, colour) in enumerate(ends):
        if value == 0:
            ax.annotate(f"{mode}: 0 lines (kept in kube-proxy's memory)", (1, 0.03), xycoords="axes fraction",
                        ha="right", va="bottom", fontsize=10, color=colour, weight="bold", xytext=(-8, 0),
                        textcoords="offset points", bbox=_LABEL_BOX)
            floor = 2
            continue
        below = k + 1 < len(ends) and ends[k + 1][0] < 2 * value
        ax.annotate(f"{mode}: {value:,} lines", (sizes[-1], value), textcoords="offset points",
                    xytext=(-8, -14 if below else 7), ha="right", va="center", fontsize=10, color=colour,
                    weight="bold", bbox=_LABEL_BOX)
    ax.set_yscale("log")
    ax.set_title("lines kube-proxy writes: full sync vs one Service changed", fontsize=11)
    ax.set_ylabel("lines written (log scale)", fontsize=10)
    ax.set_xlabel(f"Services ({endpoints} endpoints each)", fontsize=10)
    ax.grid(True, which="major", alpha=0.3)
    top = max(c.rules_written for row in costs.values() for c in row)
    ax.set_ylim(floor, top * 6)
    key = [Line2D([], [], color=INK, lw=2, linestyle="-", label="full sync (every Service)"),
           Line2D([], [], color=INK, lw=2, linestyle="--", marker="o", markerfacecolor="white",
                  label="one Service's endpoints changed")]
    ax.legend(handles=key, loc="upper left", fontsize=10, framealpha=0.9)
