"""How each network plugin wires a node and its pods: interfaces, routes, masquerade.

The result is data: :class:`NodeDataplane` and :class:`PodDataplane` hold the
interfaces and routes that ``ip addr`` and ``ip route`` print, and the nat rules that
decide whether traffic leaving the node is SNATed to the node's address.

* kubenet: bridge ``cbr0`` holds the ``/24``'s ``.1``; each pod has a veth pair whose
  host end (``veth...``) is a port of ``cbr0``; pods route everything via ``.1``.
* Azure CNI transparent: no bridge. Each pod's host end ``azv...`` gets a ``/32``
  route on the node; the pod routes everything via the link-local ``169.254.1.1``,
  which the host end answers for.
* Azure CNI bridge: ``azure0`` enslaves ``eth0`` and takes the node address; pods are
  in the subnet and route via the subnet's gateway.
* Azure CNI Overlay: wired like transparent mode, with pod addresses from the node's
  ``/24`` of the pod CIDR.
* ``none``: every node runs a stand-alone ``docker0`` bridge on ``172.17.0.0/16``.

Example:
    >>> from netlab import Cluster
    >>> c = Cluster.aks(plugin="kubenet", nodes=1).add_pod("web-0", node=0)
    >>> print(c.pods["web-0"].ip_route())
    default via 10.244.0.1 dev eth0
    10.244.0.0/24 dev eth0 proto kernel scope link src 10.244.0.2
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

from . import naming
from .model import (
    ClusterConfig,
    CniMode,
    Interface,
    IPv4Address,
    IPv4Interface,
    IPv4Network,
    Node,
    Plugin,
    Pod,
    Route,
)
from .netfilter import AddrType, Comment, Destination, OutInterface, Rule, Source
from .routing import sort_routes

WIRESERVER = ipaddress.IPv4Address("168.63.129.16")
IMDS = ipaddress.IPv4Address("169.254.169.254")
LINK_GATEWAY = ipaddress.IPv4Address("169.254.1.1")
LOOPBACK = IPv4Interface("127.0.0.1/8")
AZURE_HOST_VETH_MAC = "aa:aa:aa:aa:aa:aa"


@dataclass(frozen=True, slots=True)
class NodeDataplane:
    interfaces: tuple[Interface, ...]
    routes: tuple[Route, ...]
    nat: tuple[Rule, ...]  # the node's own nat rules (ip-masq-agent or docker), as netfilter data
    bridge: str | None  # the bridge pods hang off, if any
    gateway: IPv4Address  # the subnet's gateway (Azure's .1)


@dataclass(frozen=True, slots=True)
class PodDataplane:
    interfaces: tuple[Interface, ...]
    routes: tuple[Route, ...]
    host_if: str  # the host end of the pod's veth pair
    gateway: IPv4Address | None


def bridge_name(cfg: ClusterConfig) -> str | None:
    """The node's pod bridge for the plugin, or ``None`` for routed (transparent) wiring."""
    if cfg.plugin is Plugin.KUBENET:
        return "cbr0"
    if cfg.plugin is Plugin.NONE:
        return "docker0"
    if cfg.plugin is Plugin.AZURE_CNI and cfg.cni_mode is CniMode.BRIDGE:
        return "azure0"
    return None


def routed_pods(cfg: ClusterConfig) -> bool:
    """True when the node reaches each pod through its own ``/32`` route (no bridge)."""
    return bridge_name(cfg) is None


def host_veth_name(cfg: ClusterConfig, pod: Pod) -> str:
    """The name of the host end of the pod's veth pair, in the plugin's scheme."""
    if cfg.plugin in (Plugin.AZURE_CNI, Plugin.AZURE_CNI_OVERLAY):
        bridge_mode = cfg.plugin is Plugin.AZURE_CNI and cfg.cni_mode is CniMode.BRIDGE
        return naming.azure_veth_name(pod.namespace, pod.name, bridge_mode)
    return naming.bridge_veth_name(pod.namespace, pod.name)


def _azure(cfg: ClusterConfig) -> bool:
    return cfg.plugin in (Plugin.AZURE_CNI, Plugin.AZURE_CNI_OVERLAY)


def pod_slot(cfg: ClusterConfig, node: Node, pod: Pod) -> int:
    """The pod's allocation slot on its node (0 for the first address handed out)."""
    if cfg.plugin is Plugin.AZURE_CNI:
        return int(pod.ip) - int(node.ip) - 1
    assert node.pod_cidr is not None
    return int(pod.ip) - int(node.pod_cidr.network_address) - 2


def host_veth_ifindex(cfg: ClusterConfig, node: Node, pod: Pod) -> int:
    """Interface numbers as a node shows them: Azure CNI creates both ends of a pair on
    the node (two consecutive numbers, the pod end first); the bridge plugin creates
    the pair inside the pod, so only the host end takes a node number."""
    first = 4 if bridge_name(cfg) else 3
    slot = pod_slot(cfg, node, pod)
    return first + 2 * slot + 1 if _azure(cfg) else first + slot


def pod_eth0_ifindex(cfg: ClusterConfig, node: Node, pod: Pod) -> int:
    return host_veth_ifindex(cfg, node, pod) - 1 if _azure(cfg) else 2


def subnet_gateway(cfg: ClusterConfig) -> IPv4Address:
    """Azure answers at the subnet's first usable address (``.1``)."""
    return cfg.subnet_cidr.network_address + 1


def non_masquerade_cidrs(cfg: ClusterConfig) -> tuple[IPv4Network, ...]:
    """Destinations pod traffic reaches with the pod's own address.

    This is AKS's ``azure-ip-masq-agent-config-reconciled`` ``nonMasqueradeCIDRs``:
    the pod CIDR for kubenet and Overlay; the subnet, service CIDR and VNet for Azure
    CNI, whose pod addresses are VNet addresses. ``masqLinkLocal: true`` adds nothing.
    """
    if cfg.plugin is Plugin.AZURE_CNI:
        return (cfg.subnet_cidr, cfg.service_cidr, cfg.vnet_cidr)
    if cfg.pod_cidr is not None:
        return (cfg.pod_cidr,)
    return ()


MASQ_AGENT_CHAIN = "IP-MASQ-AGENT"


def nat_rules(cfg: ClusterConfig) -> tuple[Rule, ...]:
    """The node's own rules that SNAT pod traffic leaving the node, as ``iptables-save`` shows them.

    AKS runs ip-masq-agent (its first comment really carries quote characters);
    with plugin ``none`` it is Docker's single MASQUERADE rule for ``docker0``.
    """
    if cfg.plugin is Plugin.NONE:
        net = cfg.docker_bridge_cidr.network
        return (Rule("nat", "POSTROUTING", (Source(net), OutInterface("docker0", negate=True)), "MASQUERADE"),)
    rules = [
        Rule("nat", "POSTROUTING", (
            Comment('"ip-masq-agent: ensure nat POSTROUTING directs all non-LOCAL destination traffic to our '
                    'custom IP-MASQ-AGENT chain"'),
            AddrType(dst_type="LOCAL", dst_negate=True)), MASQ_AGENT_CHAIN),
    ]
    for net in non_masquerade_cidrs(cfg):
        rules.append(Rule("nat", MASQ_AGENT_CHAIN, (
            Destination(net), Comment("ip-masq-agent: local traffic is not subject to MASQUERADE")), "RETURN"))
    rules.append(Rule("nat", MASQ_AGENT_CHAIN, (
        Comment("ip-masq-agent: outbound traffic is subject to MASQUERADE (must be last in chain)"),), "MASQUERADE"))
    return tuple(rules)


def node_dataplane(cfg: ClusterConfig, node: Node, pods: Sequence[Pod]) -> NodeDataplane:
    """Interfaces, routes and nat rules of one node."""
    gw = subnet_gateway(cfg)
    node_if = IPv4Interface(f"{node.ip}/{cfg.subnet_cidr.prefixlen}")
    bridge = bridge_name(cfg)
    default = ipaddress.IPv4Network("0.0.0.0/0")
    ifs = [Interface(1, "lo", "loopback", "00:00:00:00:00:00", (LOOPBACK,), mtu=65536)]
    if bridge == "azure0":
        # Legacy bridge mode: eth0 is enslaved to azure0, which takes the node address;
        # the AKS FAQ shows only two routes, however many pods there are.
        ifs.append(Interface(2, "eth0", "ether", naming.nic_mac(node.name), (), master="azure0"))
        ifs.append(Interface(3, "azure0", "bridge", naming.nic_mac(node.name), (node_if,)))
        routes = [
            Route(default, "azure0", via=gw, proto="dhcp", src=node.ip, metric=100),
            Route(cfg.subnet_cidr, "azure0", proto="kernel", scope="link", src=node.ip),
        ]
    else:
        ifs.append(Interface(2, "eth0", "ether", naming.nic_mac(node.name), (node_if,)))
        routes = [
            Route(default, "eth0", via=gw, proto="dhcp", src=node.ip, metric=100),
            Route(cfg.subnet_cidr, "eth0", proto="kernel", scope="link", src=node.ip, metric=100),
            Route(ipaddress.IPv4Network(gw), "eth0", proto="dhcp", scope="link", src=node.ip, metric=100),
            Route(ipaddress.IPv4Network(WIRESERVER), "eth0", via=gw, proto="dhcp", src=node.ip, metric=100),
            Route(ipaddress.IPv4Network(IMDS), "eth0", via=gw, proto="dhcp", src=node.ip, metric=100),
        ]
    if bridge in ("cbr0", "docker0"):
        gw_if = (
            cfg.docker_bridge_cidr
            if bridge == "docker0"
            else IPv4Interface(f"{node.pod_cidr.network_address + 1}/24")  # type: ignore[union-attr]
        )
        ifs.append(Interface(3, bridge, "bridge", naming.virtual_mac(node.name, bridge), (gw_if,),
                             promisc=bridge == "cbr0", broadcast=bridge == "docker0"))
        routes.append(Route(gw_if.network, bridge, proto="kernel", scope="link", src=gw_if.ip))
    for pod in pods:
        name = host_veth_name(cfg, pod)
        idx = host_veth_ifindex(cfg, node, pod)
        peer = pod_eth0_ifindex(cfg, node, pod)
        netns = naming.netns_name(pod.namespace, pod.name)
        if _azure(cfg) and bridge is None:
            # Transparent mode gives every host end the same MAC and proxy-ARPs 169.254.1.1.
            ifs.append(Interface(idx, name, "veth", AZURE_HOST_VETH_MAC, (), master=bridge,
                                 peer_ifindex=peer, peer_netns=netns))
        else:
            ifs.append(Interface(idx, name, "veth", naming.virtual_mac(node.name, name), (),
                                 master=bridge, peer_ifindex=peer, peer_netns=netns,
                                 qlen=1000 if _azure(cfg) else None))
        if bridge is None:
            routes.append(Route(ipaddress.IPv4Network(pod.ip), name, proto="static"))
    ifs.sort(key=lambda i: i.ifindex)
    return NodeDataplane(tuple(ifs), sort_routes(routes), nat_rules(cfg), bridge, gw)


def pod_dataplane(cfg: ClusterConfig, node: Node, pod: Pod) -> PodDataplane:
    """Interfaces and routes inside one pod's network namespace."""
    host_if = host_veth_name(cfg, pod)
    host_idx = host_veth_ifindex(cfg, node, pod)
    mac = naming.virtual_mac(pod.namespace, pod.name, "eth0")
    lo = Interface(1, "lo", "loopback", "00:00:00:00:00:00", (LOOPBACK,), mtu=65536)
    default = ipaddress.IPv4Network("0.0.0.0/0")
    if _azure(cfg):
        # Azure CNI: the address keeps the prefix of the range it came from (the subnet,
        # or the whole pod CIDR for Overlay) and carries no broadcast address.
        prefix = cfg.pod_cidr.prefixlen if cfg.pod_cidr is not None else cfg.subnet_cidr.prefixlen
        addr = IPv4Interface(f"{pod.ip}/{prefix}")
        if cfg.plugin is Plugin.AZURE_CNI and cfg.cni_mode is CniMode.BRIDGE:
            gateway: IPv4Address | None = subnet_gateway(cfg)
            routes = sort_routes((
                Route(default, "eth0", via=gateway, proto="static"),
                Route(cfg.subnet_cidr, "eth0", proto="kernel", scope="link", src=pod.ip),
            ))
        else:  # transparent (and Overlay): the kernel subnet route is deleted
            gateway = LINK_GATEWAY
            routes = (
                Route(default, "eth0", via=LINK_GATEWAY, proto="static"),
                Route(ipaddress.IPv4Network(LINK_GATEWAY), "eth0", proto="static", scope="link"),
            )
        eth0 = Interface(pod_eth0_ifindex(cfg, node, pod), "eth0", "veth", mac, (addr,),
                         peer_ifindex=host_idx, multicast=False, broadcast=False)
    else:
        if cfg.plugin is Plugin.NONE:
            net, gateway = cfg.docker_bridge_cidr.network, cfg.docker_bridge_cidr.ip
        else:
            assert node.pod_cidr is not None
            net, gateway = node.pod_cidr, node.pod_cidr.network_address + 1
        addr = IPv4Interface(f"{pod.ip}/{net.prefixlen}")
        routes = sort_routes((
            Route(default, "eth0", via=gateway),
            Route(net, "eth0", proto="kernel", scope="link", src=pod.ip),
        ))
        eth0 = Interface(2, "eth0", "veth", mac, (addr,), peer_ifindex=host_idx, qlen=None)
    return PodDataplane((lo, eth0), routes, host_if, gateway)
