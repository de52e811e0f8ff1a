"""Section 06 as numbers: kubenet ("basic") versus Azure CNI ("advanced") and Overlay.

The address arithmetic follows the AKS planning rules; the hop counts and the
"can a peered network reach a pod" answers are not typed in: they come from tracing
a packet through a small cluster of each plugin, so they always agree with what
``Cluster.trace`` shows.

Example:
    >>> rows = {r.plugin: r for r in compare_plugins(nodes=50, max_pods=30).rows}
    >>> rows["azure-cni"].subnet_addresses_needed
    1581
    >>> rows["azure-cni"].smallest_subnet
    '/21'

Taught in ``notebooks/06-comparison.ipynb``.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

from .model import ipam
from .errors import ConfigError
from .model.types import Plugin
from .trace.hops import ROUTE_TABLE

PLUGINS = (Plugin.KUBENET, Plugin.AZURE_CNI, Plugin.AZURE_CNI_OVERLAY)


@dataclass(frozen=True, slots=True)
class PluginFacts:
    """One plugin's row of the comparison."""

    plugin: str
    max_pods: int
    vnet_addresses_used: int
    subnet_addresses_needed: int
    smallest_subnet: str
    pod_addresses_outside_vnet: int
    route_table_entries: int
    node_limit: int
    route_table_on_path: bool
    peered_network_reaches_pods: bool
    vnet_sees_pod_ip: bool


@dataclass(frozen=True)
class Comparison:
    """The rows of :func:`compare_plugins`, printable as a table."""

    nodes: int
    surge: int
    rows: tuple[PluginFacts, ...]

    _LABELS = (
        ("max_pods", "max pods per node"),
        ("vnet_addresses_used", "VNet addresses used (nodes + reserved pod IPs)"),
        ("subnet_addresses_needed", "subnet addresses to plan (with surge)"),
        ("smallest_subnet", "smallest subnet that fits"),
        ("pod_addresses_outside_vnet", "pod-range addresses outside the VNet (a /24 a node)"),
        ("route_table_entries", "Azure route table entries"),
        ("node_limit", "node limit"),
        ("route_table_on_path", "pod to pod across nodes passes a route table"),
        ("peered_network_reaches_pods", "peered network / on premises reaches pods"),
        ("vnet_sees_pod_ip", "VNet hosts see the pod's own address"),
    )

    def table(self) -> list[list[str]]:
        out = [["", *[r.plugin for r in self.rows]]]
        for attr, label in self._LABELS:
            cells = []
            for r in self.rows:
                v = getattr(r, attr)
                cells.append(("yes" if v else "no") if isinstance(v, bool) else (f"{v:,}" if isinstance(v, int) else v))
            out.append([label, *cells])
        return out

    @property
    def warnings(self) -> list[str]:
        """Rows that describe a cluster the plugin cannot have."""
        out = []
        for r in self.rows:
            if self.nodes > r.node_limit:
                out.append(f"{r.plugin} cannot have {self.nodes:,} nodes: its limit is {r.node_limit:,} "
                           "(one Azure route per node, at most 400 routes per route table)")
            if r.pod_addresses_outside_vnet > 65536:
                out.append(f"{r.plugin} needs a pod CIDR larger than the default /16 for {self.nodes:,} nodes "
                           "(one /24 each)")
        return out

    def __str__(self) -> str:
        t = self.table()
        widths = [max(len(row[i]) for row in t) for i in range(len(t[0]))]
        head = f"{self.nodes} nodes (+{self.surge} surge)"
        lines = [head] + [f"note: {w}" for w in self.warnings]
        for row in t:
            lines.append("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))).rstrip())
        return "\n".join(lines)

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        t = self.table()
        e = html.escape
        head = "".join(f"<th>{e(c)}</th>" for c in t[0])
        body = "".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>" for row in t[1:])
        notes = "".join(f"<p><i>note: {e(w)}</i></p>" for w in self.warnings)
        return (f"<p><b>{self.nodes} nodes (+{self.surge} surge)</b></p>{notes}<table><thead><tr>{head}</tr></thead>"
                f"<tbody>{body}</tbody></table>")


def _traced(plugin: Plugin) -> tuple[bool, bool, bool]:
    """Whether pod-to-pod traffic across nodes passes a route table (a UDR), peered reachability and
    client-IP visibility, by tracing. (A count of trace rows would say nothing about speed: a row is a
    line that decided something, not a network hop.)"""
    from .cluster.core import Cluster

    from .model.types import Container

    web = [Container("web", ports=[80])]
    c = Cluster.aks(plugin, nodes=2).add_pod("a", node=0, containers=web).add_pod("b", node=1, containers=web)
    udr = any(h.decided_by.command == ROUTE_TABLE for h in c.trace("a", "b").hops)
    peered = c.trace("peered-vm", "b").delivered and c.trace("onprem-host", "b").delivered
    t = c.trace("b", "vnet-vm")
    sees_ip = t.delivered and not t.nat  # no SNAT on the way
    return udr, peered, sees_ip


def compare_plugins(nodes: int = 50, max_pods: int | None = None, surge: int = 1) -> Comparison:
    """Compare the plugins for a cluster of ``nodes`` nodes.

    Args:
        nodes: cluster size.
        max_pods: max pods per node; ``None`` takes each plugin's AKS default
            (kubenet 110, Azure CNI 30, Overlay 250).
        surge: extra nodes an upgrade adds at once (AKS's max surge, default 1).
    """
    if not isinstance(nodes, int) or isinstance(nodes, bool) or not 1 <= nodes <= ipam.AKS_NODE_LIMIT:
        raise ConfigError(f"nodes={nodes!r}: compare a whole number of nodes from 1 to {ipam.AKS_NODE_LIMIT:,} "
                          "(the most an AKS cluster can have)")
    if max_pods is not None and (not isinstance(max_pods, int) or isinstance(max_pods, bool)):
        raise ConfigError(f"max_pods={max_pods!r}: give a whole number from 10 to 250, or leave it out for the "
                          "plugins' defaults")
    if not isinstance(surge, int) or isinstance(surge, bool) or surge < 0:
        raise ConfigError(f"surge={surge!r}: surge is a whole number of extra nodes, 0 or more")
    rows = []
    for plugin in PLUGINS:
        mp = max_pods if max_pods is not None else ipam.DEFAULT_MAX_PODS[plugin]
        if not ipam.MAX_PODS_RANGE[0] <= mp <= ipam.MAX_PODS_RANGE[1]:
            raise ConfigError(f"max_pods {mp} is outside what AKS accepts: 10 to 250")
        n = nodes + surge
        if plugin is Plugin.AZURE_CNI:
            used = nodes * (1 + mp)
            need = ipam.azure_cni_addresses_needed(nodes, mp, surge)
            outside = 0
        else:
            used, need = nodes, n
            outside = nodes * 256  # one /24 per node
        udr, peered, sees_ip = _traced(plugin)
        rows.append(PluginFacts(
            plugin=plugin.value,
            max_pods=mp,
            vnet_addresses_used=used,
            subnet_addresses_needed=need,
            smallest_subnet=f"/{ipam.prefix_for(need + ipam.AZURE_RESERVED)}",
            pod_addresses_outside_vnet=outside,
            route_table_entries=nodes if plugin is Plugin.KUBENET else 0,
            node_limit=ipam.KUBENET_ROUTE_LIMIT if plugin is Plugin.KUBENET else ipam.AKS_NODE_LIMIT,
            route_table_on_path=udr,
            peered_network_reaches_pods=peered,
            vnet_sees_pod_ip=sees_ip,
        ))
    return Comparison(nodes, surge, tuple(rows))
