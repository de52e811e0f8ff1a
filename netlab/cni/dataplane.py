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

from ..model import naming
from ..model.types import (
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
from ..model.netfilter import AddrType, Comment, Destination, OutInterface, Rule, Source
from ..model.routing import sort_routes

WIRESERVER = ipaddress.IPv4Address("168.63.129.16")
IMDS = ipaddress.IPv4Address("169.254.169.254")
LINK_GATEWAY = ipaddress.IPv4Address("169.254.1.1")
LOOPBACK = IPv4Interface("127.0.0.1/8")
AZURE_HOST_VETH_MAC = "aa:aa:aa:aa:aa:aa"


@dataclass(frozen=True, slots=True)
class BridgeRule:
    """One ebtables rule (``-t filter``), as ``ebtables -L`` prints it.

    The only ones netlab models are AKS's ``AKS-DEDUP-PROMISC`` chain on kubenet nodes: see
    :func:`dedup_rules`.
    """

    chain: str
    target: str
    proto: str | None = None  # -p IPv4
    src_mac: str | None = None  # -s
    out_if: str | None = None  # -o (``veth+``: every veth)
    ip_src: "IPv4Network | IPv4Address | None" = None  # --ip-src

    def __str__(self) -> str:
        parts = []
        if self.proto:
            parts += ["-p", self.proto]
        if self.src_mac:
            parts += ["-s", self.src_mac]
        if self.out_if:
            parts += ["-o", self.out_if]
        if self.ip_src is not None:
            parts += ["--ip-src", str(self.ip_src)]
        return " ".join(parts + ["-j", self.target])


@dataclass(frozen=True, slots=True)
class NodeDataplane:
    interfaces: tuple[Interface, ...]
    routes: tuple[Route, ...]
    nat: tuple[Rule, ...]  # the node's own nat rules (ip-masq-agent or docker), as netfilter data
    bridge: str | None  # the bridge pods hang off, if any
    gateway: IPv4Address  # the subnet's gateway (Azure's .1)
    bridge_rules: tuple[BridgeRule, ...] = ()  # ebtables -t filter (kubenet: AKS's dedup chain)


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


DEDUP_CHAIN = "AKS-DEDUP-PROMISC"


def port_hairpin(cfg: ClusterConfig, bridge: str | None) -> bool:
    """Hairpin on a pod's port of the node's bridge.

    ``cbr0`` (kubenet): the cluster's ``hairpin_mode`` (AKS writes ``"hairpinMode": false``
    in the bridge plugin's config, with ``"promiscMode": true``); ``docker0``: on (kubelet
    falls back to ``hairpin-veth`` for a plain bridge); ``azure0``: on (Azure CNI sets it).
    """
    return cfg.hairpin_mode if bridge == "cbr0" else bridge is not None


def dedup_rules(bridge: Interface, pod_cidr: IPv4Network) -> tuple[BridgeRule, ...]:
    """AKS's rules against the duplicate frames a promiscuous ``cbr0`` produces (ebtables, filter).

    A promiscuous bridge passes a copy of every frame up to IP; what IP then forwards back onto
    the bridge would reach a pod a second time. AKS's node bootstrapper (Azure/AgentBaker,
    ``parts/linux/cloud-init/artifacts/ensure-no-dup.sh``, run by ``ensure-no-dup.service``
    when the bridge config has ``promiscMode: true``; the same rule kubelet used for
    dockershim + kubenet, kubernetes PR 28717) adds chain ``AKS-DEDUP-PROMISC``, jumped to from
    ``OUTPUT``: frames from the bridge's MAC to any ``veth`` with the bridge's own address as
    source are accepted, with any other source in the node's pod range dropped. AgentBaker's
    e2e test (``KubenetEnsureNoDupEbtablesValidator``) checks for these three rules.
    """
    ip = bridge.addresses[0].ip
    return (
        BridgeRule("OUTPUT", DEDUP_CHAIN),
        BridgeRule(DEDUP_CHAIN, "ACCEPT", "IPv4", bridge.mac, "veth+", ip),
        BridgeRule(DEDUP_CHAIN, "DROP", "IPv4", bridge.mac, "veth+", pod_cidr),
    )


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
        ifs.append(Interface(2, "eth0", "ether", naming.nic_mac(node.name), (), master="azure0", hairpin=False))
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
                                 qlen=1000 if _azure(cfg) else None,
                                 hairpin=port_hairpin(cfg, bridge) if bridge else None))
        if bridge is None:
            routes.append(Route(ipaddress.IPv4Network(pod.ip), name, proto="static"))
    ifs.sort(key=lambda i: i.ifindex)
    rules: tuple[BridgeRule, ...] = ()
    if bridge == "cbr0" and node.pod_cidr is not None:
        rules = dedup_rules(next(i for i in ifs if i.name == "cbr0"), node.pod_cidr)
    return NodeDataplane(tuple(ifs), sort_routes(routes), nat_rules(cfg), bridge, gw, rules)


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


# --------------------------------------------------------------------------- bridge views
# `ip link`, `ip -d link`, `bridge link` and `ebtables -L` as iproute2 6.1 and ebtables 1.8.9
# (nf_tables) print them (the versions of Ubuntu 24.04 and Debian 12), checked against Linux 6.18
# by tests/test_linux_hairpin.py. Trailing spaces iproute2 prints are left out, as in `ip addr`.
_BRIDGE_DETAILS = (
    "forward_delay 1500 hello_time 200 max_age 2000 ageing_time 30000 stp_state 0 priority 32768 vlan_filtering 0 "
    "bridge_id {id} designated_root {id} root_port 0 root_path_cost 0 topology_change 0 topology_change_detected 0 "
    "hello_timer    0.00 tcn_timer    0.00 topology_change_timer    0.00 gc_timer {gc:7.2f} group_fwd_mask 0 "
    "group_address 01:80:c2:00:00:00 mcast_snooping 1 no_linklocal_learn 0 mcast_vlan_snooping 0 mcast_router 1 "
    "mcast_query_use_ifaddr 0 mcast_querier 0 mcast_hash_elasticity 16 mcast_hash_max 4096 "
    "mcast_last_member_count 2 mcast_startup_query_count 2 mcast_last_member_interval 100 "
    "mcast_membership_interval 26000 mcast_querier_interval 25500 mcast_query_interval 12500 "
    "mcast_query_response_interval 1000 mcast_startup_query_interval 3124 mcast_stats_enabled 0 "
    "mcast_igmp_version 2 mcast_mld_version 1 nf_call_iptables 0 nf_call_ip6tables 0 nf_call_arptables 0"
)
_PORT_DETAILS = (
    "state forwarding priority 32 cost {cost} hairpin {hairpin} guard off root_block off fastleave off learning on "
    "flood on port_id 0x{port_id:x} port_no 0x{port_no:x} designated_port {port_id} designated_cost 0 "
    "designated_bridge {id} designated_root {id} hold_timer    0.00 message_age_timer    0.00 "
    "forward_delay_timer    0.00 topology_change_ack 0 config_pending 0 proxy_arp off proxy_arp_wifi off "
    "mcast_router 1 mcast_fast_leave off mcast_flood on bcast_flood on mcast_to_unicast off neigh_suppress off "
    "group_fwd_mask 0 group_fwd_mask_str 0x0 vlan_tunnel off isolated off locked off"
)
_BRIDGE_LINK_DETAILS = ("hairpin {hairpin} guard off root_block off fastleave off learning on flood on mcast_flood on "
                        "bcast_flood on mcast_router 1 mcast_to_unicast off neigh_suppress off vlan_tunnel off "
                        "isolated off locked off")
_GSO = "gso_max_size 65536 gso_max_segs 65535 tso_max_size 524280 tso_max_segs 65535 gro_max_size 65536"
VETH_QUEUES = 2  # a veth has one queue per CPU: 2 on AKS's default 2-vCPU node sizes (and on the test machine)


def _onoff(flag: bool | None) -> str:
    return "on" if flag else "off"


def _link_flags(i: Interface) -> str:
    if i.kind == "loopback":
        return "<LOOPBACK,UP,LOWER_UP>"
    flags = ["BROADCAST", "MULTICAST"] if i.multicast else ["BROADCAST"]
    if i.promisc:
        flags.append("PROMISC")
    return "<" + ",".join(flags + ["UP", "LOWER_UP"]) + ">"


def bridge_id(mac: str) -> str:
    """A bridge id as iproute2 prints it: priority 8000, then the MAC without leading zeros."""
    return "8000." + ":".join(f"{int(b, 16):x}" for b in mac.split(":"))


def _ports(interfaces: Sequence[Interface], bridge: str) -> list[Interface]:
    """The bridge's ports in the order they were enslaved (port_no 1, 2, ...)."""
    return [i for i in interfaces if i.master == bridge]


def _port_cost(i: Interface) -> int:
    # The kernel's port_cost(): a veth reports 10 Gbit/s (cost 2); Azure's NIC reports more (cost 1).
    return 2 if i.kind == "veth" else 1


def gc_timer(bridge_mac: str) -> float:
    """A reading of the bridge's fdb garbage-collection timer (it counts down from 300 s and restarts),
    fixed per bridge so that printed text is deterministic."""
    return int(bridge_mac.replace(":", ""), 16) % 30000 / 100


def format_ip_link(interfaces: Sequence[Interface], details: bool = False,
                   node_interfaces: Sequence[Interface] | None = None) -> str:
    """Interfaces as ``ip link show`` (``details``: ``ip -d link show``) prints them.

    ``node_interfaces``: all of the node's interfaces, when ``interfaces`` is a part of them (a
    port's details name its bridge's id and its port number).

    Details are printed for the loopback, bridges and veths; an Azure NIC's driver details
    (``hv_netvsc``) are not modelled, so ``details`` with ``kind == "ether"`` raises ValueError.
    """
    node_interfaces = interfaces if node_interfaces is None else node_interfaces
    by_name = {i.name: i for i in node_interfaces}
    out: list[str] = []
    for i in interfaces:
        name = f"{i.name}@if{i.peer_ifindex}" if i.kind == "veth" else i.name
        qdisc = "mq" if i.kind == "ether" else "noqueue"
        state = "UNKNOWN" if i.kind == "loopback" else "UP"
        master = f" master {i.master}" if i.master else ""
        qlen = f" qlen {i.qlen}" if i.qlen else ""
        out.append(f"{i.ifindex}: {name}: {_link_flags(i)} mtu {i.mtu} qdisc {qdisc}{master} state {state} "
                   f"mode DEFAULT group default{qlen}")
        if i.kind == "loopback":
            link = "    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00"
        else:
            link = f"    link/ether {i.mac} brd ff:ff:ff:ff:ff:ff"
            if i.kind == "veth":
                link += f" link-netns {i.peer_netns}" if i.peer_netns else " link-netnsid 0"
        if not details:
            out.append(link)
            continue
        if i.kind == "ether":
            raise ValueError(f"{i.name}: netlab does not model the Azure NIC driver's details (ip -d link)")
        port = i.master is not None
        promiscuity = 1 if (i.promisc or port) else 0
        mtus = "minmtu 0 maxmtu 0" if i.kind == "loopback" else "minmtu 68 maxmtu 65535"
        out.append(f"{link} promiscuity {promiscuity}  allmulti {1 if port else 0} {mtus}")
        queues = VETH_QUEUES if i.kind == "veth" else 1
        tail = f"addrgenmode eui64 numtxqueues {queues} numrxqueues {queues} {_GSO}"
        if i.kind == "bridge":
            out.append(f"    bridge {_BRIDGE_DETAILS.format(id=bridge_id(i.mac), gc=gc_timer(i.mac))} {tail}")
        elif i.kind == "veth":
            out.append("    veth")
            if port:
                br = by_name[i.master]  # type: ignore[index]
                no = _ports(node_interfaces, br.name).index(i) + 1
                slave = _PORT_DETAILS.format(cost=_port_cost(i), hairpin=_onoff(i.hairpin), port_id=0x8000 + no,
                                             port_no=no, id=bridge_id(br.mac))
                out.append(f"    bridge_slave {slave} {tail}")
            else:
                out.append(f"    {tail}")
        else:
            out[-1] += f" {tail}"
    return "\n".join(out)


def format_bridge_link(interfaces: Sequence[Interface], details: bool = False) -> str:
    """Every bridge port as ``bridge link show`` (``details``: ``bridge -d link show``) prints it.

    Plain ``bridge link show`` does not print a port's hairpin flag; ``-d`` does. The name after
    ``@`` is iproute2 resolving the veth peer's ifindex in the node's own namespace (ifindex 2 of
    the pod's ``eth0`` is the node's ``eth0``), as the real tool does.
    """
    index = {i.ifindex: i.name for i in interfaces}
    out = []
    for i in interfaces:
        if i.master is None:
            continue
        at = f"@{index.get(i.peer_ifindex, f'if{i.peer_ifindex}')}" if i.peer_ifindex is not None else ""
        out.append(f"{i.ifindex}: {i.name}{at}: {_link_flags(i)} mtu {i.mtu} master {i.master} state forwarding "
                   f"priority 32 cost {_port_cost(i)}")
        if details:
            out.append("    " + _BRIDGE_LINK_DETAILS.format(hairpin=_onoff(i.hairpin)))
    return "\n".join(out)


def format_ebtables(rules: Sequence[BridgeRule]) -> str:
    """The filter table as ``ebtables -t filter -L`` prints it: built-in chains, then the others."""
    chains = ["INPUT", "FORWARD", "OUTPUT"]
    chains += sorted({r.chain for r in rules} - set(chains))
    out = ["Bridge table: filter"]
    for chain in chains:
        mine = [r for r in rules if r.chain == chain]
        policy = "ACCEPT" if chain in ("INPUT", "FORWARD", "OUTPUT") else "RETURN"
        out += ["", f"Bridge chain: {chain}, entries: {len(mine)}, policy: {policy}"]
        out += [str(r) for r in mine]
    return "\n".join(out)
