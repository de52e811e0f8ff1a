"""The cluster diagram: a vector drawing (SVG) laid out from :meth:`netlab.Cluster.graph`.

:func:`draw_cluster` returns a :class:`Diagram`, which Jupyter shows as an inline SVG at the
width of a notebook column (900 px): every text is at least 12 px at that width, selectable,
and every element has a ``<title>`` (hover, screen readers). Nodes, pods (their containers and
the pause container that holds the pod's network namespace), the veth pairs, the bridge (or
the per-pod routes), the NICs and the Azure VNet are drawn from the graph; larger clusters lay
out in rows and summarise ("+7 more pods").

With a trace, the packet's way is drawn hop by hop along the wires, each hop numbered exactly
as in the trace table (several hops at one place share one badge, "3-5"): NAT hops have
a badge of their own colour and their before and after in the notes under the drawing; the
route-table row a hop used carries the hop's number; a refused or dropped packet ends in an X
with the reason, and a wrong pod is marked. A legend says what each colour means (the
Okabe-Ito palette, safe for colour-blind readers). ``repr(diagram)`` is the text alternative:
a one-line description and the trace table.

Size: one drawing, laid out in one place (its boxes, lanes and the paths a packet takes between
them depend on each other), so it is one module.

Every text, badge and arrow is kept as a box (:attr:`Diagram.texts`, :attr:`Diagram.badges`,
:attr:`Diagram.arrows`) so that tests can check sizes and overlaps without a browser.

Example:
    >>> import netlab as nl
    >>> c = nl.Cluster.aks("kubenet", nodes=1).add_pod("web-0")
    >>> d = nl.draw_cluster(c)
    >>> d.width, min(t.size for t in d.texts) >= 12
    (900, True)
    >>> print(repr(d).splitlines()[0])
    kubenet (AKS basic networking): 1 node, 1 pod.
"""

from __future__ import annotations

import hashlib
import html
import math
import textwrap
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..cluster.core import Cluster
from ..cni import dataplane as cni
from ..errors import ConfigError
from ..model import naming
from ..model.types import Plugin
from ..trace.hops import EFFECTIVE_ROUTES, ROUTE_TABLE

if TYPE_CHECKING:
    from ..trace.hops import Hop, Trace

# Okabe-Ito, one meaning each in every figure (and in the legend).
BLUE, ORANGE, GREEN, VERMILION, SKY, PURPLE, YELLOW, GREY = (
    "#0072B2", "#E69F00", "#009E73", "#D55E00", "#56B4E9", "#CC79A7", "#F0E442", "#999999")
INK, MUTED = "#222222", "#555555"
POD_FILL, NODE_FILL, VNET_FILL, HOST_FILL = "#E8F1F8", "#F4F4F4", "#DDEEF6", "#EEEEEE"
ROUTED = "routed"  # the legend's key for the dashed bar of a node without a bridge (drawn in NODE_FILL)
MEANING = (  # colour, what it means: the legend, in this order
    (POD_FILL, "pod (its network namespace)"), (GREEN, "veth pair"), (ORANGE, "bridge"),
    (ROUTED, "no bridge: the node's routes (a /32 per pod)"), (SKY, "NIC"),
    (VNET_FILL, "Azure VNet"), (BLUE, "the packet's way, hop number"), (PURPLE, "address translated (NAT)"),
    (VERMILION, "dropped or refused"), (YELLOW, "the route a hop used"),
)

WIDTH = 900
FONT = 12  # the smallest text, in px at the drawing's own width
ADVANCE = 0.62  # a monospace character's width, in em (DejaVu Sans Mono, Menlo: 0.60; Consolas: 0.55)
FAMILY = "DejaVu Sans Mono, Menlo, Consolas, monospace"
M = 12  # outer margin
SPINE = 14  # the VNet's vertical strip on the left, joining the rows' bands
GAP = 14
POD_W = 124
LINE = 16
MAX_NODES, MAX_PODS = 9, 6


@dataclass(frozen=True)
class TextBox:
    """A text as drawn: its box in px at the drawing's width."""

    text: str
    size: float
    x0: float
    y0: float
    x1: float
    y1: float


@dataclass(frozen=True)
class Badge:
    """A hop badge: its label ("3" or "3-5"), centre, radius and the hop numbers it stands for."""

    label: str
    x: float
    y: float
    r: float
    hops: tuple[int, ...]
    kind: str = "hop"  # hop, nat or end

    @property
    def box(self) -> tuple[float, float, float, float]:
        w = max(self.r, len(self.label) * ADVANCE * FONT / 2 + 4)
        return (self.x - w, self.y - self.r, self.x + w, self.y + self.r)


@dataclass
class _Canvas:
    parts: list[str] = field(default_factory=list)
    texts: list[TextBox] = field(default_factory=list)

    def rect(self, x: float, y: float, w: float, h: float, fill: str, stroke: str = INK, title: str = "",
             rx: float = 5, width: float = 1.2, dash: str = "", cls: str = "") -> None:
        d = f' stroke-dasharray="{dash}"' if dash else ""
        d += f' class="{cls}"' if cls else ""
        inner = f"<title>{html.escape(title, quote=False)}</title>" if title else ""
        self.parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" rx="{rx}" fill="{fill}" '
                          f'stroke="{stroke}" stroke-width="{width}"{d}>{inner}</rect>')

    def line(self, points: list[tuple[float, float]], stroke: str, width: float = 1.5, dash: str = "",
             arrow: str = "", cls: str = "") -> None:
        d = f' stroke-dasharray="{dash}"' if dash else ""
        d += f' class="{cls}"' if cls else ""
        m = f' marker-end="url(#{arrow})"' if arrow else ""
        pts = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
        self.parts.append(f'<polyline points="{pts}" fill="none" stroke="{stroke}" stroke-width="{width}" '
                          f'stroke-linejoin="round"{d}{m}/>')

    def text(self, x: float, y: float, s: str, size: float = FONT, anchor: str = "start", weight: str = "",
             fill: str = INK, title: str = "", italic: bool = False, width: float | None = None,
             cls: str = "") -> TextBox:
        """Write ``s`` with its baseline at ``y``; cut to ``width`` px with an ellipsis (the whole text
        then in its ``<title>``)."""
        full = s
        if width is not None and text_width(s, size) > width:
            keep = max(1, int(width / (ADVANCE * size)) - 1)
            s = s[:keep] + "…"
            title = title or full
        w = text_width(s, size)
        x0 = x - w / 2 if anchor == "middle" else x - w if anchor == "end" else x
        box = TextBox(s, size, x0, y - 0.8 * size, x0 + w, y + 0.25 * size)
        self.texts.append(box)
        attrs = f' font-weight="{weight}"' if weight else ""
        attrs += ' font-style="italic"' if italic else ""
        attrs += f' class="{cls}"' if cls else ""
        inner = html.escape(s, quote=False) + (f"<title>{html.escape(title, quote=False)}</title>" if title else "")
        self.parts.append(f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" fill="{fill}"'
                          f'{attrs}>{inner}</text>')
        return box


def _trimmed(pts: list[tuple[float, float]], by: float) -> list[tuple[float, float]]:
    """The path without its last ``by`` px, so that its arrowhead shows beside the next badge, not under it."""
    (x0, y0), (x1, y1) = pts[-2], pts[-1]
    length = math.hypot(x1 - x0, y1 - y0)
    if length <= by + 4:
        return pts
    f = (length - by) / length
    return pts[:-1] + [(x0 + (x1 - x0) * f, y0 + (y1 - y0) * f)]


def text_width(s: str, size: float = FONT) -> float:
    return len(s) * ADVANCE * size


@dataclass(frozen=True)
class _Anchor:
    """Where a hop is drawn, and how a path reaches the VNet band (or the node's bridge lane) from there."""

    x: float
    y: float
    node: int | None  # the drawn node it belongs to (None: the VNet or a host)
    to_bridge: tuple[tuple[float, float], ...] = ()
    to_band: tuple[tuple[float, float], ...] = ()
    row: int = 0


@dataclass
class _NodeLayout:
    index: int
    x0: float
    y0: float
    w: float
    h: float
    row: int
    pods: dict[tuple[str, str], tuple[float, float, float, float]]  # key -> box
    veth_y: float  # where a pod's badge sits, below its eth0
    bridge_y: float  # the lane under the bridge bar, where paths run along the node
    nic_x: float  # the column paths take beside the NIC
    nic_y: float
    hidden: int  # pods not drawn
    more: tuple[float, float] | None  # where "+N more pods" is


class Diagram:
    """An SVG drawing of a cluster (and a trace on it): Jupyter shows it inline; ``repr`` is its text.

    Attributes:
        svg: the drawing.
        width, height: its size in px (shown 1:1 in a 900 px notebook column, scaled down in a narrower one).
        texts, badges, arrows: every text box, hop badge and arrow segment, for checks.
        description: one line saying what it shows.
    """

    def __init__(self, svg: str, width: int, height: float, texts: tuple[TextBox, ...], badges: tuple[Badge, ...],
                 arrows: tuple[tuple[tuple[float, float], tuple[float, float]], ...], description: str,
                 trace: "Trace | None", boxes: dict[str, tuple[float, float, float, float]], ident: str = "") -> None:
        self.svg = svg
        self.width = width
        self.height = height
        self.texts = texts
        self.badges = badges
        self.arrows = arrows
        self.description = description
        self.trace = trace
        self.boxes = boxes  # named shapes (a pod's box, a node's box), for checks
        self.ident = ident  # the svg element's id, which scopes a highlight's style to this drawing

    def _repr_html_(self) -> str:
        return f'<div style="max-width:{self.width}px">{self.svg}</div>'

    def renamed(self, suffix: str) -> "Diagram":
        """The same drawing under another id (``nl-...-suffix``): a highlight's style then reaches this copy
        only, not the same drawing shown elsewhere on the page."""
        ident = f"{self.ident}-{suffix}"
        svg = self.svg.replace(f'id="{self.ident}"', f'id="{ident}"', 1)
        return Diagram(svg, self.width, self.height, self.texts, self.badges, self.arrows, self.description,
                       self.trace, self.boxes, ident)

    def highlighted(self, step: int) -> str:
        """The drawing with hop ``step`` picked out: the way up to it strong, its badge ringed, the rest faint.

        Only a style block is added (scoped to this drawing's id), so stepping costs no new drawing.
        """
        if self.trace is None or not isinstance(step, int) or isinstance(step, bool) or not 1 <= step <= len(
                self.trace.hops):
            hops = len(self.trace.hops) if self.trace is not None else 0
            raise ConfigError(f"step={step!r}: give a hop number of the trace, 1 to {hops}" if self.trace is not None
                              else "a drawing without a trace has no hops to step through")
        i = f"#{self.ident}"
        done = ",".join(f"{i} .nl-s{n}" for n in range(1, step)) or f"{i} .nl-none"
        seen = ",".join(f"{i} .nl-h{n}" for n in range(1, step + 1))
        style = (f"<style>{i} .nl-a{{opacity:.3}} {i} .nl-b{{opacity:.55}} {i} .nl-n{{opacity:.3}} "
                 f"{done},{seen}{{opacity:1}} {i} rect.nl-b.nl-h{step}{{stroke:{INK};stroke-width:3.5}}</style>")
        head, _, tail = self.svg.partition("<defs>")
        return f"{head}{style}<defs>{tail}"

    def _repr_svg_(self) -> str:
        return self.svg

    def __repr__(self) -> str:
        return self.description + (f"\n{self.trace.text()}" if self.trace is not None else "")

    def overlaps(self) -> list[str]:
        """What covers what: a text over a text, a badge or an arrow over a text, a badge over a badge,
        or a text out of the drawing. Empty for a readable drawing (the tests require it)."""
        def hit(a: tuple[float, ...], b: tuple[float, ...], pad: float = 0.0) -> bool:
            return a[0] < b[2] - pad and b[0] < a[2] - pad and a[1] < b[3] - pad and b[1] < a[3] - pad

        boxes = [((t.x0, t.y0, t.x1, t.y1), f"text {t.text!r}") for t in self.texts]
        found = []
        for k, (a, what) in enumerate(boxes):
            if a[0] < 0 or a[2] > self.width:
                found.append(f"{what} runs out of the drawing")
            for b, other in boxes[k + 1:]:
                if hit(a, b, 0.5):
                    found.append(f"{what} overlaps {other}")
        for k, badge in enumerate(self.badges):
            for b, other in boxes:
                if hit(badge.box, b, 0.5):
                    found.append(f"badge {badge.label} covers {other}")
            for other in self.badges[k + 1:]:
                if hit(badge.box, other.box, 0.5):
                    found.append(f"badge {badge.label} covers badge {other.label}")
        for (x0, y0), (x1, y1) in self.arrows:
            seg = (min(x0, x1) - 1.5, min(y0, y1) - 1.5, max(x0, x1) + 1.5, max(y0, y1) + 1.5)
            for b, other in boxes:
                if hit(seg, b, 0.5):
                    found.append(f"an arrow ({x0:.0f},{y0:.0f})-({x1:.0f},{y1:.0f}) crosses {other}")
        return found


def draw_cluster(cluster: "Cluster", trace: "Trace | None" = None, max_nodes: int = MAX_NODES,
                 max_pods: int = MAX_PODS, highlight: int | None = None) -> Diagram:
    """Draw the cluster, and ``trace`` on it, as an SVG :class:`Diagram` readable at 900 px.

    Args:
        cluster: the cluster to draw.
        trace: what ``cluster.trace(...)`` returned: its hops are drawn numbered as in its table.
        max_nodes, max_pods: larger clusters are summarised ("+N more").
        highlight: a hop number (1 is the first) to pick out, as :func:`netlab.step_through` does:
            the path up to it is drawn strong, the rest faint.
    """
    from ..trace.hops import Trace

    if not isinstance(cluster, Cluster):
        raise ConfigError(f"draw_cluster needs a cluster, such as nl.Cluster.aks('kubenet'), not {cluster!r}")
    if trace is not None and not isinstance(trace, Trace):
        raise ConfigError(f"trace= takes what cluster.trace(...) returns, not {trace!r}")
    for what, value in (("max_nodes", max_nodes), ("max_pods", max_pods)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ConfigError(f"{what}={value!r}: give a whole number, 1 or more")
    if trace is not None and trace.cluster is not None and trace.cluster is not cluster and trace.cluster != cluster:
        raise ConfigError("this trace was made in another cluster, or in this one before a change: a drawing would "
                          "put its hops in the wrong places. Trace again in the cluster you draw: "
                          "nl.draw_cluster(cluster, trace=cluster.trace(...))")
    if highlight is not None and (trace is None or not isinstance(highlight, int) or isinstance(highlight, bool)
                                  or not 1 <= highlight <= len(trace.hops)):
        hops = len(trace.hops) if trace is not None else 0
        raise ConfigError(f"highlight={highlight!r}: give a hop number of the trace, 1 to {hops}"
                          if trace is not None else "highlight= needs a trace= to pick a hop of")
    return _Drawing(cluster, trace, max_nodes, max_pods, highlight).draw()


class _Drawing:
    def __init__(self, cluster: Cluster, trace: "Trace | None", max_nodes: int, max_pods: int,
                 highlight: int | None) -> None:
        self.c = cluster
        self.cfg = cluster.config
        self.trace = trace
        self.max_pods = max_pods
        self.highlight = highlight
        self.cv = _Canvas()
        self.boxes: dict[str, tuple[float, float, float, float]] = {}
        self.graph = cluster.graph()
        self.wiring = self._wiring()
        self.veths = {key: veth for pods in self.wiring.values() for key, veth in pods}
        self.same_ip: dict[str, list[str]] = {}  # address -> pods that have it (more than one: plugin none's docker0s)
        for key, data in self.graph.nodes(data=True):
            if data["kind"] == "pod":
                self.same_ip.setdefault(data["ip"], []).append(data["name"])
        self.shown = min(cluster.node_count, max_nodes)
        self.nodes: dict[int, _NodeLayout] = {}
        self.bands: dict[int, float] = {}  # row -> the band's top
        self.hosts: dict[str, tuple[float, float, float, float]] = {}
        self.badges: list[Badge] = []
        self.arrows: list[tuple[tuple[float, float], tuple[float, float]]] = []
        self.used_routes: dict[str, list[int]] = {}
        self.used_effective: dict[str, dict[str, list[int]]] = {}  # node -> row -> hops (Azure's effective routes)
        self.notes: list[tuple[str, str, str, int]] = []  # (badge label, text, colour, the hop it belongs to)
        self.probes = self._probes()  # node name -> (passes, why): the load balancer's health probe, if traced

    # ------------------------------------------------------------------ layout
    def _wiring(self) -> dict[str, list[tuple[tuple[str, str], str]]]:
        """Each node's pods and the host end of each pod's veth, read from the graph: node -> [(pod key, veth)]."""
        g = self.graph
        out: dict[str, list[tuple[tuple[str, str], str]]] = {}
        for key, data in g.nodes(data=True):
            if data["kind"] != "pod":
                continue
            veth = next(n for n in g.neighbors(f"{key} eth0") if g.nodes[n].get("owner") not in (None, key))
            out.setdefault(data["node"], []).append(((data["namespace"], data["name"]), g.nodes[veth]["name"]))
        return out

    def _probes(self) -> dict[str, tuple[bool, str, str]]:
        """The health probe of the load-balancer rule the trace went through: node -> (passes, why, probe)."""
        from ..azure import lb as azurelb

        for hop in self.trace.hops if self.trace is not None else ():
            if hop.place.kind == "load balancer":
                rule = azurelb.rule_for(self.c, hop.before.dst, hop.before.dport, self.trace.protocol)
                if rule is None or rule.probe is None:
                    return {}
                probe = rule.probe
                what = f"{probe.protocol.upper()} {probe.port}{probe.request_path or ''}"
                return {n.name: (ok, why, what) for n, ok, why in azurelb.healthy_nodes(self.c, rule)}
        return {}

    def _columns(self) -> int:
        n = self.shown
        if n >= 5:
            return 3  # many nodes: three to a row, each summarising the pods it cannot show
        most = max((min(len(self.wiring.get(self.c.nodes[i].name, ())), self.max_pods) for i in range(n)), default=0)
        for cols in (3, 2, 1):
            if cols <= n and (cols == 1 or self._per_row(self._node_w(cols)) >= max(most, 1)):
                return cols
        return 1

    @staticmethod
    def _node_w(cols: int) -> float:
        return (WIDTH - 2 * M - SPINE - GAP - (cols - 1) * GAP) / cols

    @staticmethod
    def _per_row(node_w: float) -> int:
        return max(1, int((node_w - 16 + 8) // (POD_W + 8)))

    def draw(self) -> Diagram:
        cv, c, cfg = self.cv, self.c, self.cfg
        title = {Plugin.KUBENET: "kubenet (AKS basic networking)",
                 Plugin.AZURE_CNI: f"Azure CNI ({cfg.cni_mode.value} mode)",
                 Plugin.AZURE_CNI_OVERLAY: "Azure CNI Overlay",
                 Plugin.NONE: "no network plugin: a stand-alone bridge per node"}[cfg.plugin]
        pods = c.pod_count()
        counts = f"{c.node_count} node{'s' * (c.node_count != 1)}, {pods} pod{'s' * (pods != 1)}"
        description = f"{title}: {counts}."
        if self.trace is not None:
            t = self.trace
            description += (f" Trace {t.source} -> {t.destination}, {t.protocol}/{t.port}: {t.verdict.value} "
                            f"after {len(t.hops)} hop{'s' * (len(t.hops) != 1)}.")
        y = M + 16
        cv.text(M, y, title, 15, weight="bold", width=WIDTH - 2 * M)
        y += 22
        cv.text(M, y, counts + (f"; kube-proxy in {cfg.proxy_mode.value} mode" if c.node_count else ""), FONT,
                fill=MUTED, width=WIDTH - 2 * M)
        y += 14
        cols = self._columns()
        node_w = self._node_w(cols)
        x_start = M + SPINE + GAP
        rows = math.ceil(self.shown / cols) if self.shown else 0
        for r in range(rows):
            row_nodes = list(range(r * cols, min(self.shown, (r + 1) * cols)))
            # one pod height for the row, so that bars, NICs and wires line up across its nodes
            lines = max((len(self._pod_lines(p)) for i in row_nodes for p in self._visible(i, node_w)), default=2)
            layouts = [self._node_layout(i, x_start + k * (node_w + GAP), y, node_w, r, lines)
                       for k, i in enumerate(row_nodes)]
            h = max(lay.h for lay in layouts)
            for lay in layouts:
                lay.h = h
                self.nodes[lay.index] = lay
                self._draw_node(lay)
            band = y + h + 24
            self.bands[r] = band
            y = band + 44 + 18
        if not rows:
            self.bands[0] = y
            y += 44 + 18
        last_band = self.bands[max(self.bands)]
        self._draw_vnet(rows)
        hidden_nodes = c.node_count - self.shown
        if hidden_nodes:
            cv.text(WIDTH - M, last_band + 32, f"+{hidden_nodes} more nodes", anchor="end",
                    title=", ".join(c.nodes[i].name for i in range(self.shown, c.node_count)))
        y = last_band + 44
        if self.trace is not None:
            y = self._draw_hosts(y + 30)
            self._draw_trace()
        y = self._draw_tables(y + 12)
        y = self._draw_notes(y)
        y = self._draw_legend(y + 8)
        height = y + M
        defs = ('<defs>'
                f'<marker id="nl-arrow" viewBox="0 0 10 10" refX="8" refY="5" markerWidth="5" markerHeight="5" '
                f'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="{BLUE}"/></marker>'
                '</defs>')
        body = "".join(cv.parts)
        ident = "nl-" + hashlib.sha1(f"{description}{body}".encode()).hexdigest()[:10]
        svg = (f'<svg xmlns="http://www.w3.org/2000/svg" id="{ident}" viewBox="0 0 {WIDTH} {height:.0f}" width="{WIDTH}" '
               f'height="{height:.0f}" style="max-width:100%;height:auto;background:white" role="img" '
               f'font-family="{FAMILY}"><title>{html.escape(description, quote=False)}</title>'
               f'<desc>{html.escape(description, quote=False)}</desc>{defs}'
               f'<rect x="0" y="0" width="{WIDTH}" height="{height:.0f}" fill="white"/>'
               + body + "</svg>")
        d = Diagram(svg, WIDTH, height, tuple(cv.texts), tuple(self.badges), tuple(self.arrows), description,
                    self.trace, dict(self.boxes), ident)
        if self.highlight is not None:
            d.svg = d.highlighted(self.highlight)
        return d

    def _pods(self, i: int) -> list[Any]:
        return [self.c.find_pod(key[1], key[0]) for key, _ in self.wiring.get(self.c.nodes[i].name, ())]

    def _visible(self, i: int, w: float) -> list[Any]:
        return self._pods(i)[:min(self.max_pods, self._per_row(w))]

    def _node_layout(self, i: int, x0: float, y0: float, w: float, row: int, lines: int) -> _NodeLayout:
        pods = self._pods(i)
        visible = self._visible(i, w)
        pod_h = 8 + LINE * lines + 24
        pod_top = y0 + 64
        boxes = {}
        for k, p in enumerate(visible):
            px = x0 + 8 + k * (POD_W + 8)
            boxes[p.key] = (px, pod_top, px + POD_W, pod_top + pod_h)
        veth_top = pod_top + pod_h
        bar_top = veth_top + 42
        lane_y = bar_top + 22 + 10
        nic_label = "eth0"
        nic_w = max(text_width(nic_label), text_width(str(self.c.nodes[i].ip))) + 14
        nic_top = bar_top + 22 + 34
        column = x0 + w - 8 - nic_w - 24  # where paths run: the wires to and from the NIC, through its box
        return _NodeLayout(i, x0, y0, w, nic_top + 2 * LINE + 8 + 14 - y0, row, boxes, veth_top + 13, lane_y,
                           column, nic_top + LINE + 2, len(pods) - len(visible),
                           (x0 + w - 8, pod_top - 8) if len(pods) > len(visible) else None)

    def _pod_lines(self, pod: Any) -> list[tuple[str, str]]:
        lines = [(pod.name, "bold"), (str(pod.ip), "")]
        containers = list(pod.containers)
        for ct in containers[:2]:
            ports = "/".join(str(p) for p in sorted({p.port for p in ct.ports}))
            lines.append((f"{ct.name}:{ports}" if ports else ct.name, ""))
        if len(containers) > 2:
            lines.append((f"+{len(containers) - 2} more", "muted"))
        lines.append(("pause (netns)", "muted"))
        twins = self.same_ip.get(str(pod.ip), [])
        others = [n for n in twins if n != pod.name]
        if others:
            lines.append((f"same IP as {others[0]}", "warn"))
        if self.trace is not None and self.trace.verdict.value == "delivered to the wrong pod":
            lines.append(("", ""))
        return lines

    def _draw_node(self, lay: _NodeLayout) -> None:
        cv, c, cfg = self.cv, self.c, self.cfg
        node = c.nodes[lay.index]
        x0, y0, w = lay.x0, lay.y0, lay.w
        self.boxes[f"node {node.name}"] = (x0, y0, x0 + w, y0 + lay.h)
        cv.rect(x0, y0, w, lay.h, NODE_FILL, title=f"node {node.name}: {node.ip}", width=1.6)
        cv.text(x0 + 8, y0 + 18, node.name, FONT, weight="bold", width=w - 16, title=f"node {node.name}")
        if node.pod_cidr is not None and cfg.plugin is not Plugin.NONE:
            sub = f"{node.ip} · pods {node.pod_cidr}"
        elif cfg.plugin is Plugin.AZURE_CNI:
            sub = f"{node.ip} · {cfg.max_pods} pod IPs reserved"
        else:
            sub = f"{node.ip}"
        cv.text(x0 + 8, y0 + 36, sub, FONT, width=w - 16)
        built = c.node_proxy(lay.index)
        dummy = f", {built.dummy_device}" if built.dummy_device else ""  # IPVS: the device holding Service IPs
        proxy = cv.text(x0 + 8, y0 + 54, f"kube-proxy: {cfg.proxy_mode.value}{dummy}", FONT, fill=MUTED, italic=True,
                        width=w - 16, title=(f"{built.dummy_device} holds every Service address "
                                             f"({', '.join(map(str, built.local_addresses[:6]))}"
                                             f"{', ...' if len(built.local_addresses) > 6 else ''}) so that the "
                                             "node accepts their packets for IPVS" if built.dummy_device else ""))
        if node.name in self.probes:
            ok, why, what = self.probes[node.name]
            cv.text(proxy.x1 + 12, y0 + 54, "LB probe ✓" if ok else "LB probe ✕", FONT, weight="bold",
                    fill=BLUE if ok else VERMILION, title=f"the load balancer's health probe ({what}): {why}",
                    width=x0 + w - 8 - proxy.x1 - 12)
        bridge = cni.bridge_name(cfg)
        bar_top = lay.bridge_y - 32
        misdelivered = (self.trace.hops[-1].place.name if self.trace is not None and self.trace.hops
                        and self.trace.verdict.value == "delivered to the wrong pod" else None)
        for key, (px0, py0, px1, py1) in lay.pods.items():
            pod = c.find_pod(key[1], key[0])
            wrong = misdelivered == f"{pod.namespace}/{pod.name}"
            self.boxes[f"pod {pod.namespace}/{pod.name}"] = (px0, py0, px1, py1)
            conts = ", ".join(ct.name for ct in pod.containers)
            cv.rect(px0, py0, POD_W, py1 - py0, POD_FILL, stroke=VERMILION if wrong else INK, width=3 if wrong else 1.2,
                    title=f"pod {pod.namespace}/{pod.name} {pod.ip}: containers {conts} and the pause container "
                          "that holds its network namespace")
            ty = py0 + 8 + 12
            for text, style in self._pod_lines(pod):
                if not text and wrong:
                    cv.text(px0 + 6, ty, "✕ wrong pod", FONT, weight="bold", fill=VERMILION, width=POD_W - 12)
                elif text:
                    cv.text(px0 + 6, ty, text, FONT, weight="bold" if style in ("bold", "warn") else "",
                            fill=MUTED if style == "muted" else VERMILION if style == "warn" else INK, width=POD_W - 12,
                            title=f"pods {', '.join(self.same_ip[str(pod.ip)])} all have {pod.ip}: each node's "
                                  "bridge hands out the same range" if style == "warn" else "")
                ty += LINE
            cx = (px0 + px1) / 2
            tab_w = text_width("eth0") + 8
            cv.rect(cx - tab_w / 2, py1 - 20, tab_w, 16, GREEN, stroke=GREEN, rx=3,
                    title=f"eth0 of pod {pod.name}: {pod.ip}")
            cv.text(cx, py1 - 8, "eth0", FONT, anchor="middle", fill="white")
            host_if = self.veths[key]
            cv.line([(cx, py1), (cx, bar_top)], GREEN, 3)
            cv.text(cx + 6, py1 + 36, host_if, FONT, width=min(POD_W - 10, x0 + w - 8 - (cx + 6)),
                    title=f"{host_if}: the node's end of pod {pod.name}'s veth pair")
        if lay.more is not None:
            hidden = [name for (_, name), _ in self.wiring[node.name]][len(lay.pods):]
            cv.text(lay.more[0], lay.more[1], f"+{lay.hidden} more pods", FONT, anchor="end", fill=MUTED,
                    title=", ".join(hidden))
        # the bridge bar (or the routing that takes its place), labelled below on the left
        if bridge:
            addrs = self.graph.nodes[f"node {node.name} {bridge}"]["addresses"]
            addr = addrs[0] if addrs else None
            label = f"{bridge} {addr}" if addr else f"{bridge}"
            cv.rect(x0 + 8, bar_top, w - 16, 22, ORANGE, stroke=INK, rx=3,
                    title=f"bridge {bridge}" + (f" {addr}: the pods' gateway" if addr else ": eth0 is one of its ports"))
        else:
            label = "ip route: a /32 per pod"
            cv.rect(x0 + 8, bar_top, w - 16, 22, NODE_FILL, stroke=MUTED, rx=3, dash="4 3",
                    title="no bridge: the node's routing table sends each pod's address to its veth (a /32 route "
                          "per pod, ip route)")
        # the label under the bar, left of the path column; on two lines rather than cut (an address stays whole)
        room = lay.nic_x - 16 - (x0 + 8)
        split = {"ip route: a /32 per pod": ("ip route:", "a /32 per pod")}.get(label, tuple(label.split(" ", 1)))
        for k, part in enumerate((label,) if text_width(label) <= room else split):
            cv.text(x0 + 8, bar_top + 22 + 40 + k * LINE, part, FONT, width=room)
        # the NIC, on the right; the path column runs through its left part, along its wires
        nic_l = lay.nic_x - 14
        nic_w = x0 + w - 8 - nic_l
        nic_top = lay.nic_y - LINE - 2
        nic_cx = (lay.nic_x + 12 + x0 + w - 8) / 2  # the texts, right of the path column
        cv.line([(lay.nic_x, bar_top + 22), (lay.nic_x, nic_top)], INK, 1.5)
        enslaved = bridge == "azure0"
        cv.rect(nic_l, nic_top, nic_w, 2 * LINE + 6, SKY, rx=3,
                title=f"eth0 of node {node.name}: {node.ip}" + (" (a port of azure0, which holds the address)"
                                                                  if enslaved else ""))
        cv.text(nic_cx, nic_top + 14, "eth0", FONT, anchor="middle", weight="bold")
        cv.text(nic_cx, nic_top + 14 + LINE, str(node.ip), FONT, anchor="middle", width=x0 + w - 8 - lay.nic_x - 16)
        self.boxes[f"nic {node.name}"] = (nic_l, nic_top, nic_l + nic_w, nic_top + 2 * LINE + 6)

    def _draw_vnet(self, rows: int) -> None:
        cv, cfg = self.cv, self.cfg
        vnet = naming.vnet_name(cfg.name, cfg.resource_group)
        first, last = min(self.bands.values()), max(self.bands.values())
        cv.rect(M, first, SPINE, last + 44 - first, VNET_FILL, stroke=SKY, rx=3, title=f"Azure VNet {vnet}")
        for r, top in self.bands.items():
            cv.rect(M, top, WIDTH - 2 * M, 44, VNET_FILL, stroke=SKY, rx=4,
                    title=f"Azure VNet {vnet} {cfg.vnet_cidr}, node subnet {cfg.subnet_cidr}")
            label = f"Azure VNet {cfg.vnet_cidr}" if r == 0 else "Azure VNet (the same)"
            cv.text(M + SPINE + 8, top + 36, label, FONT, weight="bold" if r == 0 else "", width=300)
        for i, lay in self.nodes.items():
            cv.line([(lay.nic_x, lay.nic_y + LINE + 4), (lay.nic_x, self.bands[lay.row])], SKY, 2)

    # ------------------------------------------------------------------ the trace
    def _anchor(self, hop: "Hop", prev: _Anchor | None, nxt: "Hop | None") -> _Anchor:
        place = hop.place
        if place.kind == "pod":
            ns, _, name = place.name.partition("/")
            for lay in self.nodes.values():
                if (ns, name) in lay.pods:
                    x0, y0, x1, _ = lay.pods[(ns, name)]
                    if "lo" in (hop.in_interface, hop.out_interface):
                        # over lo the packet never leaves the pod's namespace: the badge stays inside the pod
                        pod = self._node_anchor(lay, (x0 + x1) / 2, "veth")
                        x, y = x1 - 14, y0 + 14
                        return _Anchor(x, y, lay.index, ((x, y),) + pod.to_bridge, ((x, y),) + pod.to_band, lay.row)
                    return self._node_anchor(lay, (x0 + x1) / 2, "veth")
            return self._hidden_anchor(place.name)
        if place.kind == "node":
            i = self.c.node_index(place.name)
            lay = self.nodes.get(i)
            if lay is None:
                return self._hidden_anchor(place.name)
            pod_x = None
            for dev in (hop.in_port, hop.out_interface, hop.in_interface):
                x = self._veth_x(lay, dev)
                if x is not None:
                    pod_x = x
                    break
            if pod_x is not None:
                return self._node_anchor(lay, pod_x, "bridge")
            # a hook sits where the packet is: on eth0's side (coming in from or going out to the VNet) or the bridge's
            dev = hop.out_interface if hop.out_interface is not None else hop.in_interface
            if dev == "eth0" or (dev is None and hop.hook is not None):
                return self._node_anchor(lay, lay.nic_x, "nic")
            return self._node_anchor(lay, lay.nic_x, "bridge")
        if place.kind == "vnet":
            x = None
            via = hop.via or ""
            for i, lay in self.nodes.items():
                if via == f"from {self.c.nodes[i].name}":
                    x = lay.nic_x
            if x is None and nxt is not None and nxt.place.kind == "node":
                lay = self.nodes.get(self.c.node_index(nxt.place.name))
                x = lay.nic_x if lay is not None else None
            if x is None and prev is not None and prev.node is not None:
                x = prev.x
            row = self.nodes[prev.node].row if prev is not None and prev.node in self.nodes else max(self.bands)
            if x is None:
                x = WIDTH / 2
            y = self.bands[row] + 12
            return _Anchor(x, y, None, to_band=((x, y),), row=row)
        return self._host_anchor(str(place))

    def _veth_x(self, lay: _NodeLayout, dev: str | None) -> float | None:
        if dev is None:
            return None
        for key, (x0, _, x1, _) in lay.pods.items():
            if self.veths[key] == dev:
                return (x0 + x1) / 2
        return None

    def _node_anchor(self, lay: _NodeLayout, x: float, level: str) -> _Anchor:
        band = self.bands[lay.row] + 12
        down = ((lay.nic_x, lay.bridge_y), (lay.nic_x, band))
        if level == "veth":
            return _Anchor(x, lay.veth_y, lay.index, ((x, lay.veth_y), (x, lay.bridge_y)),
                           ((x, lay.veth_y), (x, lay.bridge_y)) + down, lay.row)
        if level == "bridge":
            return _Anchor(x, lay.bridge_y, lay.index, ((x, lay.bridge_y),), ((x, lay.bridge_y),) + down, lay.row)
        return _Anchor(lay.nic_x, lay.nic_y, lay.index, ((lay.nic_x, lay.nic_y), (lay.nic_x, lay.bridge_y)),
                       ((lay.nic_x, lay.nic_y), (lay.nic_x, band)), lay.row)

    def _hidden_anchor(self, name: str) -> _Anchor:
        return self._host_anchor(name)

    def _host_anchor(self, label: str) -> _Anchor:
        x0, y0, x1, y1 = self.hosts[label]
        band = max(self.bands)
        x = (x0 + x1) / 2
        return _Anchor(x, y0 - 16, None, to_band=((x, y0 - 16), (x, self.bands[band] + 12)), row=band)

    def _outside_places(self) -> list[tuple[str, str]]:
        """The places of the trace that are not drawn nodes or pods: hosts, the load balancer, hidden ones."""
        out: dict[str, str] = {}
        assert self.trace is not None
        for hop in self.trace.hops + (self.trace.reply.hops if self.trace.reply is not None else ()):
            place = hop.place
            if place.kind in ("vnet",):
                continue
            if place.kind == "pod":
                ns, _, name = place.name.partition("/")
                if any((ns, name) in lay.pods for lay in self.nodes.values()):
                    continue
                out[place.name] = f"pod {place.name} (not drawn)"
                continue
            if place.kind == "node":
                if self.c.node_index(place.name) in self.nodes:
                    continue
                out[place.name] = f"node {place.name} (not drawn)"
                continue
            out[str(place)] = str(place)
        return list(out.items())

    def _draw_hosts(self, y: float) -> float:
        cv = self.cv
        places = self._outside_places()
        if not places:
            return y - 30
        x = WIDTH - M
        bottom = y
        for key, label in reversed(places):
            lines = [label]
            if label.startswith("Azure load balancer"):
                lines += self._lb_text() + self._probe_text()
            w = min(max(text_width(s) for s in lines) + 16, 330)
            x0 = x - w
            self.hosts[key] = (x0, y, x, y + 10 + LINE * len(lines))
            cv.rect(x0, y, w, 10 + LINE * len(lines), HOST_FILL, stroke=GREY, rx=4, title=label)
            for k, s in enumerate(lines):
                cv.text(x0 + 8, y + 18 + LINE * k, s, FONT, width=w - 16)
            # a VM in the VNet is on it; everything else reaches it through Azure's edge (dashed)
            inside = label.startswith("VM in the cluster's VNet")
            cv.line([((x0 + x) / 2, y), ((x0 + x) / 2, max(self.bands.values()) + 44)], SKY if inside else GREY,
                    2 if inside else 1.5, dash="" if inside else "5 4")
            x = x0 - 16
            bottom = max(bottom, y + 10 + LINE * len(lines))
        return bottom + 8

    def _lb_text(self) -> list[str]:
        """The load-balancing rule the trace used: its frontend, floating IP, and the backend pool."""
        for hop in self.trace.hops if self.trace is not None else ():
            if hop.place.kind == "load balancer":
                return [f"frontend {hop.before.dst}:{hop.before.dport}", "floating IP: dst kept",
                        f"backend pool: all {self.c.node_count} nodes"]
        return []

    def _probe_text(self) -> list[str]:
        if not self.probes:
            return ["no health probe"]
        what = next(iter(self.probes.values()))[2]
        passing = sum(ok for ok, _, _ in self.probes.values())
        return [f"probe {what}", f"{passing} of {len(self.probes)} nodes pass"]

    def _draw_trace(self) -> None:
        trace = self.trace
        assert trace is not None
        cv = self.cv
        failed = trace.verdict.value in ("dropped", "refused")
        colour = BLUE  # the way the packet went; where it ended, and how, is the last badge's to say
        anchors: list[tuple[_Anchor, list[int]]] = []
        prev: _Anchor | None = None
        for no, hop in enumerate(trace.hops, 1):
            nxt = trace.hops[no] if no < len(trace.hops) else None
            a = self._anchor(hop, prev, nxt)
            if anchors and (anchors[-1][0].x, anchors[-1][0].y) == (a.x, a.y):
                anchors[-1][1].append(no)
            else:
                anchors.append((a, [no]))
            prev = a
            if hop.decided_by.command == ROUTE_TABLE:
                self.used_routes.setdefault(hop.decided_by.text, []).append(no)
            elif hop.decided_by.command == EFFECTIVE_ROUTES and hop.decided_by.on is not None:
                self.used_effective.setdefault(hop.decided_by.on, {}).setdefault(hop.decided_by.text, []).append(no)
        # Classes name each arrow by the hop it leaves (nl-s3) and each badge by its hops (nl-h3 nl-h4), so that a
        # step through the trace is a few lines of style (Diagram.highlighted), not a new drawing.
        for k in range(len(anchors) - 1):
            a, hops_a = anchors[k]
            b, _ = anchors[k + 1]
            pts = self._route(a, b)
            cv.line(_trimmed(pts, 11), colour, 3, arrow="nl-arrow", cls=f"nl-a nl-s{hops_a[-1]}")
            self.arrows.extend(zip(pts, pts[1:]))
        for k, (a, hops) in enumerate(anchors):
            label = str(hops[0]) if len(hops) == 1 else f"{hops[0]}-{hops[-1]}"
            nat = any(trace.hops[n - 1].nat for n in hops)
            end = failed and k == len(anchors) - 1
            kind = "end" if end else "nat" if nat else "hop"
            fill = VERMILION if end else PURPLE if nat else BLUE
            if end:
                label += " ✕"
            badge = self._place_badge(Badge(label, a.x, a.y, 10, tuple(hops), kind))
            self.badges.append(badge)
            bx0, by0, bx1, by1 = badge.box
            cls = "nl-b " + " ".join(f"nl-h{n}" for n in hops)
            titles = "\n".join(f"{n}. {trace.hops[n - 1].place} {trace.hops[n - 1].interface}: "
                               f"{trace.hops[n - 1].decided_by.text.strip()}" for n in hops)
            cv.parts.append(f'<rect class="{cls}" x="{bx0:.1f}" y="{by0:.1f}" width="{bx1 - bx0:.1f}" '
                            f'height="{by1 - by0:.1f}" rx="{badge.r}" fill="{fill}" stroke="white" stroke-width="1.5">'
                            f'<title>{html.escape(titles, quote=False)}</title></rect>')
            cv.parts.append(f'<text class="{cls}" x="{badge.x:.1f}" y="{badge.y + 4.5:.1f}" font-size="{FONT}" '
                            f'text-anchor="middle" fill="white" font-weight="bold">{html.escape(label, quote=False)}</text>')
            for n in hops:
                hop = trace.hops[n - 1]
                if hop.nat:
                    self.notes.append((str(n), f"{hop.place}: {hop.nat_text}", PURPLE, n))
                    self.notes.append(("", f"by {hop.decided_by.where}: {hop.decided_by.text.strip()}", MUTED, n))
                if hop.place.kind == "load balancer" and n < len(trace.hops):
                    passing = [name for name, (ok, _, _) in self.probes.items() if ok]
                    self.notes.append((str(n), f"the load balancer sent the connection to {trace.hops[n].place} "
                                               f"(its health probe passes on {len(passing)} of {len(self.probes)} "
                                               "nodes; Azure hashes each connection over those)", BLUE, n))
        last = len(trace.hops)
        if trace.reply is not None:  # the way back is in the trace's table; its translations are noted here
            for n, hop in enumerate(trace.reply.hops, 1):
                if hop.nat:
                    self.notes.append(("back", f"reply hop {n}, {hop.place}: {hop.nat_text}", PURPLE, last))
        last = len(trace.hops)
        if failed or trace.verdict.value == "delivered to the wrong pod":
            self.notes.append((str(last), f"{trace.verdict.value}: {trace.reason}", VERMILION, last))
        for node, options, chosen in trace.choices:
            if len(options) > 1:
                shares = ", ".join(f"{ep} {p:.0%}" for ep, p in options)
                # the hop that made the choice: the first one that translated the destination
                at = next((n for n, h in enumerate(trace.hops, 1) if any(x.kind in ("DNAT", "REDIRECT") for x in h.nat)),
                          next((n for n, h in enumerate(trace.hops, 1) if h.place.name == node), 1))
                self.notes.append((str(at), f"kube-proxy on {node} chose {chosen} among {shares}", BLUE, at))

    def _place_badge(self, badge: Badge) -> Badge:
        """The badge at its hop's place, or beside it when an earlier badge or a text is there already
        (a packet that comes back to a place: the reply, a hairpin, the VNet in and out)."""
        def free(b: Badge) -> bool:
            x0, y0, x1, y1 = b.box
            if x0 < 0 or x1 > WIDTH:
                return False
            boxes = [o.box for o in self.badges] + [(t.x0, t.y0, t.x1, t.y1) for t in self.cv.texts]
            return not any(x0 < o[2] and o[0] < x1 and y0 < o[3] and o[1] < y1 for o in boxes)

        for dx, dy in ((0, 0), (26, 0), (-26, 0), (52, 0), (-52, 0), (0, -24), (0, 24), (78, 0), (-78, 0)):
            moved = Badge(badge.label, badge.x + dx, badge.y + dy, badge.r, badge.hops, badge.kind)
            if free(moved):
                return moved
        return badge

    def _route(self, a: _Anchor, b: _Anchor) -> list[tuple[float, float]]:
        if a.node is not None and a.node == b.node:
            pts = list(a.to_bridge) + list(reversed(b.to_bridge))
        elif a.node is None and b.node is None and len(a.to_band) == 2 and a.y == b.y:
            pts = [(a.x, a.y), (b.x, b.y)]  # host to host (a client to the load balancer): along the hosts' row
        else:
            pa, pb = list(a.to_band), list(reversed(b.to_band))
            ya, yb = pa[-1][1], pb[0][1]
            if ya == yb:
                pts = pa + pb
            else:
                spine = M + SPINE / 2
                pts = pa + [(spine, ya), (spine, yb)] + pb
        out: list[tuple[float, float]] = []
        for p in pts:
            if not out or out[-1] != p:
                out.append(p)
        # drop points in the middle of a straight run
        clean = [out[0]]
        for k in range(1, len(out) - 1):
            (x0, y0), (x1, y1), (x2, y2) = clean[-1], out[k], out[k + 1]
            if (x0 == x1 == x2) or (y0 == y1 == y2):
                continue
            clean.append(out[k])
        if len(out) > 1:
            clean.append(out[-1])
        return clean

    # ------------------------------------------------------------------ tables, notes, legend
    def _draw_tables(self, y: float) -> float:
        cv, c, cfg = self.cv, self.c, self.cfg
        panels: list[tuple[str, list[tuple[str, str]], str]] = []
        if cfg.plugin is Plugin.KUBENET:
            routes = c.route_table()
            rows = []
            for r in routes[:8]:
                used = self.used_routes.get(c.route_table_line(r), [])
                rows.append((f"{r.address_prefix} -> {r.next_hop_ip}" + (
                    f"  hop {', '.join(map(str, used))}" if used else ""), f"used {used[0]}" if used else ""))
            if len(routes) > 8:
                rows.append((f"... {len(routes) - 8} more", "muted"))
            panels.append((f"route table (UDR) {naming.route_table_name(cfg.name, cfg.resource_group)}", rows,
                           "Azure's route table on the node subnet: which node holds which pod /24"))
        for node, used_rows in self.used_effective.items():
            # the VNet's routes as the node's NIC sees them, when the trace used one (kubenet's UDR is above)
            table = c.run(EFFECTIVE_ROUTES, on=node).splitlines()[2:]
            rows = []
            for line in table[:8]:
                cols = line.split()
                used = used_rows.get(line, [])
                state = "" if cols[1] == "Active" else f" ({cols[1]})"  # a route another one overrides
                rows.append((f"{cols[2]} -> {' '.join(cols[3:])}{state}"
                             + (f"  hop {', '.join(map(str, used))}" if used else ""),
                             f"used {used[0]}" if used else ""))
            panels.append((f"VNet routes of {node}'s NIC", rows,
                           f"az network nic show-effective-route-table on {node}: the routes Azure applies to its NIC"))
        svc_rows = []
        for e in c.service_records():
            if e.spec.namespace == "kube-system" or e.spec.name == "kubernetes":
                continue
            ports = ",".join(f"{p.port}" + (f":{p.node_port}" if p.node_port else "") + f"/{p.protocol}"
                             for p in e.spec.ports)
            lb = f" {e.spec.load_balancer_ips[0]}" if e.spec.load_balancer_ips else ""
            svc_rows.append((f"{e.spec.name} {e.cluster_ip}{lb} {ports}", ""))
        if svc_rows:
            rows = svc_rows[:8] + ([(f"... {len(svc_rows) - 8} more", "muted")] if len(svc_rows) > 8 else [])
            panels.append(("Services: name, cluster IP, [LB IP], PORT(S)", rows,
                           "the cluster's Services, their ports as kubectl get svc prints them (port[:nodePort]/protocol)"))
        if not panels:
            return y
        pw = (WIDTH - 2 * M - GAP * (len(panels) - 1)) / len(panels)
        bottom = y
        for k, (head, rows, title) in enumerate(panels):
            x0 = M + k * (pw + GAP)
            h = 10 + LINE * (len(rows) + 1) + 6
            cv.rect(x0, y, pw, h, "white", stroke=GREY, rx=4, title=title)
            cv.text(x0 + 8, y + 18, head, FONT, weight="bold", width=pw - 16)
            for j, (row, style) in enumerate(rows):
                ry = y + 18 + LINE * (j + 1)
                used = style.startswith("used")
                cls = f"nl-n nl-h{style.split()[1]}" if used else ""  # dimmed until a step reaches its hop
                if used:
                    cv.rect(x0 + 4, ry - 12, pw - 8, LINE, YELLOW, stroke=YELLOW, rx=2, cls=cls)
                cv.text(x0 + 8, ry, row, FONT, weight="bold" if used else "",
                        fill=MUTED if style == "muted" else INK, width=pw - 16, cls=cls)
            bottom = max(bottom, y + h)
        return bottom + 8

    def _draw_notes(self, y: float) -> float:
        cv = self.cv
        if self.trace is None:
            return y
        per_line = int((WIDTH - 2 * M - 48) / (ADVANCE * FONT))
        t = self.trace
        y += 16
        head = textwrap.wrap(f"{t.source} -> {t.destination}: {t.verdict.value}", per_line + 6,
                             break_on_hyphens=False)
        for k, line in enumerate(head):
            cv.text(M, y + k * (LINE + 2), line, FONT, weight="bold", cls=f"nl-n nl-h{len(t.hops)}",
                    fill=VERMILION if t.verdict.value != "delivered" else BLUE, width=WIDTH - 2 * M)
        y += (len(head) - 1) * (LINE + 2)
        for label, text, colour, hop in self.notes:
            lines = textwrap.wrap(text, per_line, break_on_hyphens=False) or [""]
            for k, line in enumerate(lines):
                y += LINE + 2
                if k == 0 and label:
                    cv.text(M, y, label if label == "back" else f"{label}.", FONT, weight="bold", fill=colour,
                            cls=f"nl-n nl-h{hop}")
                cv.text(M + 40, y, line, FONT, cls=f"nl-n nl-h{hop}")
        return y + 8

    def _draw_legend(self, y: float) -> float:
        cv = self.cv
        x = M
        y += 8
        used = {POD_FILL, VNET_FILL, SKY}
        used |= {GREEN} if self.veths else set()
        used |= {ORANGE} if cni.bridge_name(self.cfg) else {ROUTED}
        if self.trace is not None:
            used |= {BLUE} | ({PURPLE} if any(b.kind == "nat" for b in self.badges) else set())
            used |= {VERMILION} if any(b.kind == "end" for b in self.badges) or self.notes and any(
                note[2] == VERMILION for note in self.notes) else set()
            used |= {YELLOW} if self.used_routes or self.used_effective else set()
        for colour, meaning in MEANING:
            if colour not in used:
                continue
            w = 14 + 6 + text_width(meaning) + 18
            if x + w > WIDTH - M:
                x = M
                y += LINE + 6
            if colour == ROUTED:
                cv.rect(x, y - 11, 14, 14, NODE_FILL, stroke=MUTED, rx=2, width=1.2, dash="3 2")
            else:
                cv.rect(x, y - 11, 14, 14, colour, stroke=INK, rx=2, width=0.8)
            cv.text(x + 20, y, meaning, FONT)
            x += w
        return y + 10
