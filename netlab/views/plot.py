"""Charts: address use against cluster size (section 06) and the cost of kube-proxy's modes (section 07).

The cluster diagram itself is a vector drawing (:mod:`netlab.views.diagram`); matplotlib draws
the charts, with the colours of the diagram's palette (Okabe-Ito, safe for colour-blind readers)
on a white figure, which stays readable in a dark JupyterLab theme. matplotlib is imported only
here, so ``import netlab`` stays light.
"""

from __future__ import annotations

from typing import Any

from ..compare import compare_plugins
from .diagram import BLUE, GREEN, INK, ORANGE, PURPLE, VERMILION


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
