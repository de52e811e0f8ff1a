"""Azure's network around the cluster: address ranges, the machines around it, and route tables.

One place for what Azure decides outside the nodes:

* :data:`PRIVATE_RANGES`: the private ranges Azure drops unless a route covers them (and the
  internet routes none of them);
* the machines around the cluster a trace can start or end at (:func:`hosts`: a host on the
  internet, a VM in the cluster's VNet, a VM in a peered VNet, a host on premises);
* the node subnet's effective routes (:func:`system_routes`, :func:`vnet_routes`), kubenet's route
  table with one route per node (:func:`node_routes`), a peered VM's routes
  (:func:`peered_routes`) and how ``az ... -o table`` prints them (:func:`effective_table`);
* Azure CNI Overlay's routing domain: which node owns a pod address (:func:`overlay_node`).

Functions take the cluster's :class:`~netlab.model.ClusterConfig` (and nodes), never the cluster.

Example:
    >>> import netlab as nl
    >>> c = nl.Cluster.aks("kubenet", nodes=2)
    >>> [r.address_prefix.with_prefixlen for r in node_routes(c.node_records())]
    ['10.244.0.0/24', '10.244.1.0/24']
    >>> hosts(c.config)["peered-vm"]
    Host(name='peered-vm', ip=IPv4Address('172.16.0.4'), kind='peered')
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from functools import lru_cache
from dataclasses import dataclass

from ..model.types import AzureRoute, ClusterConfig, IPv4Address, Node
from ..model.routing import format_table

#: Private ranges (RFC 1918 and RFC 6598's shared space): Azure's system routes send them nowhere
#: ("None") unless the VNet, a peering or a gateway covers them, and the internet routes none of them.
PRIVATE_RANGES = tuple(ipaddress.IPv4Network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16",
                                                          "100.64.0.0/10"))


def is_private(ip: IPv4Address) -> bool:
    """Whether ``ip`` is in one of :data:`PRIVATE_RANGES` (not routed on the internet)."""
    return any(ip in net for net in PRIVATE_RANGES)


INTERNET_HOST = ipaddress.IPv4Address("198.51.100.7")  # RFC 5737 documentation range
#: What ``cluster.run(on=...)`` accepts besides nodes and pods: the hosts, and the on-premises router.
HOST_NAMES = ("internet", "vnet-vm", "peered-vm", "onprem-host", "onprem-router")
_DEFAULT = ipaddress.IPv4Network("0.0.0.0/0")


@dataclass(frozen=True, slots=True)
class Host:
    """A machine around the cluster."""

    name: str
    ip: IPv4Address
    kind: str  # internet, vnet, peered, onprem

    @property
    def place(self) -> str:
        return {
            "internet": "internet host",
            "vnet": "VM in the cluster's VNet",
            "peered": "VM in a peered VNet",
            "onprem": "host on premises",
        }[self.kind] + f" {self.ip}"


def hosts(cfg: ClusterConfig) -> dict[str, Host]:
    """The named machines around the cluster that traces can start or end at."""
    vm_net = cfg.subnet_cidr.broadcast_address + 1
    vm_ip = vm_net + 4 if (vm_net + 4) in cfg.vnet_cidr else cfg.vnet_cidr.broadcast_address - 1
    return {
        "internet": Host("internet", INTERNET_HOST, "internet"),
        "vnet-vm": Host("vnet-vm", vm_ip, "vnet"),
        "peered-vm": Host("peered-vm", cfg.peered_cidr.network_address + 4, "peered"),
        "onprem-host": Host("onprem-host", cfg.onprem_cidr.network_address + 266, "onprem"),
    }


def host_for_ip(cfg: ClusterConfig, ip: IPv4Address) -> Host:
    """The host at ``ip``: a named one, else an unnamed machine of the network ``ip`` is in."""
    for h in hosts(cfg).values():
        if h.ip == ip:
            return h
    if ip in cfg.vnet_cidr:
        return Host(str(ip), ip, "vnet")
    if ip in cfg.peered_cidr:
        return Host(str(ip), ip, "peered")
    if ip in cfg.onprem_cidr:
        return Host(str(ip), ip, "onprem")
    return Host(str(ip), ip, "internet")


@lru_cache(maxsize=64)  # one tuple per settings: callers cache tables by the tuple's identity
def system_routes(cfg: ClusterConfig) -> tuple[AzureRoute, ...]:
    """The node subnet's system routes: the VNet, the peering, the VPN gateway, the internet, and
    the private ranges Azure drops (shadowed, "Invalid", where one of the others covers them)."""
    routes = [
        AzureRoute("VNet address space", cfg.vnet_cidr, "VnetLocal", source="Default"),
        AzureRoute("peering", cfg.peered_cidr, "VNetPeering", source="Default"),
        AzureRoute("VPN gateway", cfg.onprem_cidr, "VirtualNetworkGateway", source="VirtualNetworkGateway"),
        AzureRoute("internet", _DEFAULT, "Internet", source="Default"),
    ]
    learned = {r.address_prefix for r in routes}
    routes += [AzureRoute("private range", net, "None", source="Default", active=net not in learned)
               for net in PRIVATE_RANGES]
    return tuple(routes)


def node_routes(nodes: Iterable[Node]) -> tuple[AzureRoute, ...]:
    """kubenet's route table (UDR): one route per node, its pod ``/24`` via the node."""
    return tuple(AzureRoute(n.name, n.pod_cidr, "VirtualAppliance", n.ip) for n in nodes)


def vnet_routes(cfg: ClusterConfig, udr: tuple[AzureRoute, ...] = ()) -> tuple[AzureRoute, ...]:
    """The node subnet's effective routes: the system routes plus the route table's."""
    return system_routes(cfg) + udr


@lru_cache(maxsize=64)
def peered_routes(cfg: ClusterConfig) -> tuple[AzureRoute, ...]:
    """The effective routes of a VM in the peered VNet: its own space, the peering, the internet."""
    return (
        AzureRoute("VNet address space", cfg.peered_cidr, "VnetLocal", source="Default"),
        AzureRoute("peering", cfg.vnet_cidr, "VNetPeering", source="Default"),
        AzureRoute("internet", _DEFAULT, "Internet", source="Default"),
    ) + tuple(AzureRoute("private range", n, "None", source="Default") for n in PRIVATE_RANGES)


def effective_table(routes: tuple[AzureRoute, ...]) -> tuple[str, dict[AzureRoute, str]]:
    """``az network nic show-effective-route-table -o table`` of ``routes``, and each route's row."""
    rows = [(r.source, "Active" if r.active else "Invalid", str(r.address_prefix), r.next_hop_type,
             str(r.next_hop_ip or "")) for r in routes]
    text = format_table(("Source", "State", "Address Prefix", "Next Hop Type", "Next Hop IP"), rows)
    lines = text.splitlines()[2:]
    return text, {r: lines[i] for i, r in enumerate(routes)}


def overlay_node(cfg: ClusterConfig, node_count: int, ip: IPv4Address) -> int | None:
    """Azure CNI Overlay (and kubenet): the node whose pod ``/24`` of the pod CIDR holds ``ip``,
    or ``None`` when ``ip`` is outside the pod CIDR or its ``/24`` belongs to no node."""
    if cfg.pod_cidr is None or ip not in cfg.pod_cidr:
        return None
    n = (int(ip) - int(cfg.pod_cidr.network_address)) >> 8
    return n if n < node_count else None
