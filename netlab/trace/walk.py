"""A packet's walk through the cluster, hop by hop, each hop naming the line that decided it.

Each hop is a :class:`~.hops.Hop` (:mod:`.hops`): its place, the interfaces in and out, the
packet before and after, the NAT applied, the conntrack entry made or used, the netfilter hook
with every matched rule, and ``decided_by``: a :class:`~.hops.Line` with the command that prints
it and where to run it. :func:`trace` reads the *same* route tables, bridge ports and rules that the
views print, so ``cluster.run(hop.decided_by.command, on=hop.decided_by.on, after=trace)``
shows every deciding line verbatim.

Verdicts: ``delivered``; ``refused`` (the client hears at once: a TCP reset from a port where
nothing listens, or a REJECT rule); ``dropped`` (silence: a DROP rule, no route); ``delivered
to the wrong pod``. ``trace.masquerade`` lists every source rewrite, ``trace.endpoint`` the
endpoint kube-proxy chose; ``after=`` traces a second connection from the same client.

Sources and destinations are pod names (``"web-0"``, ``"kube-system/coredns-0"``),
node names, IP addresses, ``"localhost"`` (the source pod's own loopback), or one of
the hosts around the cluster: ``"internet"`` (198.51.100.7, a documentation address),
``"vnet-vm"`` (a VM in another subnet of the cluster's VNet), ``"peered-vm"`` (a VM
in a peered VNet) and ``"onprem-host"`` (a host on premises, behind a VPN gateway).

Example:
    >>> import netlab as nl
    >>> api = [nl.Container("api", ports=[8080])]
    >>> c = nl.Cluster.aks("kubenet", nodes=2).add_pod("web-0", node=0).add_pod("api-0", node=1, containers=api)
    >>> t = c.trace("web-0", "api-0", port=8080)
    >>> t.verdict.value, len(t.hops)
    ('delivered', 7)
    >>> hop = t.hops[3]
    >>> str(hop.place), hop.decided_by.command, hop.decided_by.on
    ('Azure VNet aks-vnet-69863852', 'az network route-table route list -o table', None)
    >>> print(hop.decided_by)  # the row of c.run(hop.decided_by.command) that sent it to node 1
    10.244.1.0/24    False             aks-nodepool1-87544974-vmss000001  10.224.0.5          VirtualAppliance  Succeeded            MC_netlab-rg_netlab_westeurope

Taught in ``notebooks/02-multiple-pods.ipynb`` to ``notebooks/06-comparison.ipynb``.

Size: the walk is one state machine: each method is a place a packet can be (a pod, a bridge, a
node's hooks, Azure, a load balancer, a host) and hands the packet to the next; the values it
produces are in :mod:`.hops`, the hook reports and explanations in :mod:`.reports`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import ipaddress
import random
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..cni import dataplane as cni
from . import names
from ..model import images, naming
from ..errors import ConfigError, NotFoundError
from ..model.types import AzureRoute, IPv4Address, Node, Plugin, Pod, Verdict
from ..azure import lb as azurelb
from ..azure.lb import OUTBOUND_PUBLIC_IP, OUTBOUND_RULE
from ..azure.network import Host, host_for_ip, is_private, peered_routes, system_routes
from ..model.routing import lookup
from ..text.tools import AZURE_GATEWAY_MAC, conntrack_line, fdb_entry, local_route

if TYPE_CHECKING:
    from ..cluster.core import Cluster

from .hops import (
    LOOPBACK_NET,
    LOOPBACK_LOCAL_ROUTE,
    LOCAL_TABLE,
    NFT_LIST,
    SS_LISTEN,
    Header,
    Place,
    Line,
    Nat,
    Conntrack,
    Hop,
    Trace,
    EFFECTIVE_ROUTES,
    ROUTE_TABLE,
    LB_RULES,
    LB_OUTBOUND,
    NODE_POD_CIDRS,
)
from .reports import rule_target, key_line, hook_shown, hook_note, endpoint_of, branch_options, refusal_reason
from ..kubeproxy.engine import walk_node
from ..model.netfilter import Packet as NfPacket

_MAX_HOPS = 32


def _label(ep: Any) -> str:
    if isinstance(ep, Pod):
        return f"pod {ep.name} ({ep.ip})"
    if isinstance(ep, Node):
        return f"node {ep.name} ({ep.ip})"
    if isinstance(ep, Host):
        return f"{ep.name} ({ep.ip})" if ep.name != str(ep.ip) else ep.place
    return str(ep)


def _walk_target(peer: names.Peer) -> Any:
    """The walk's target for a peer: a Pod, Node, Host, ServiceTarget or (an address that names nothing
    more) the address."""
    if peer.kind is names.Kind.SERVICE:
        return ServiceTarget(peer.service, peer.address, peer.via, peer.frontend)
    return peer.pod or peer.node or peer.host or peer.address


def _sport(src: Any, dst: Any, port: int) -> int:
    """A deterministic ephemeral port from Linux's default range 32768-60999."""
    h = hashlib.sha256(f"{src}|{dst}|{port}".encode()).digest()
    return 32768 + int.from_bytes(h[:4], "big") % (60999 - 32768 + 1)


# --------------------------------------------------------------------------- the walk
class _Drop(Exception):
    def __init__(self, reason: str, refused: bool = False) -> None:
        self.reason = reason
        self.refused = refused  # the sender hears about it (a REJECT rule, a TCP reset)


def _pod_on(pod: Pod) -> str:
    return f"{pod.namespace}/{pod.name}"


class _Walk:
    def __init__(self, cluster: "Cluster", target: Any, protocol: str, endpoint: str | None = None,
                 seed: int = 0, after: "Trace | None" = None) -> None:
        self.c = cluster
        self.endpoint = endpoint
        self.rng = random.Random(seed)
        self.after = after  # an earlier connection from the same client: its affinity holds
        self.choices: list[tuple[str, tuple[tuple[str, float], ...], str]] = []
        self.conntrack: list[tuple[Any, Header, Header]] = []  # (node index or "azure", before, after)
        self.reply_of: "_Walk | None" = None  # set on the walk of a reply: the forward walk it answers
        self.proxy_legs: list[tuple[int, Header]] = []  # userspace mode: client connections ending in kube-proxy
        self.all_hooks = False  # show every netfilter hook a packet passes, not only those that decide
        self.cfg = cluster.config
        self.target = target  # Pod, Node, Host or a bare address
        self.protocol = protocol
        self.hops: list[Hop] = []
        self.end: Any = None
        self.listener: str | None = None
        self.masquerade: list[tuple[str, IPv4Address, IPv4Address]] = []  # (where, from, to)
        self.affinity: list[tuple[int, IPv4Address, str]] = []  # (node index, client, "IP:port") kube-proxy chose

    # -- helpers
    def hop(self, place: Place, pkt: Header, line: Line, note: str = "", *, into: str | None = None,
            out: str | None = None, before: Header | None = None, nat: tuple[Nat, ...] = (),
            conntrack: Conntrack | None = None, hook: str | None = None, rules: tuple[Line, ...] = (),
            via: str | None = None, port: str | None = None) -> None:
        if len(self.hops) >= _MAX_HOPS:
            raise _Drop(f"more than {_MAX_HOPS} hops: a routing loop")
        self.hops.append(Hop(place, into, out, before if before is not None else pkt, pkt, line, note, nat,
                             conntrack, hook, rules, via, port if port != into else None))

    def pod_place(self, pod: Pod) -> Place:
        return Place("pod", _pod_on(pod), f"netns {naming.netns_name(pod.namespace, pod.name)}")

    def node_place(self, node: Node) -> Place:
        return Place("node", node.name, "root netns")

    def vnet_place(self) -> Place:
        return Place("vnet", naming.vnet_name(self.cfg.name, self.cfg.resource_group), "Azure SDN")

    def host_place(self, host: Host) -> Place:
        return Place("host", host.name, host.kind, label=host.place)

    # -- pods
    def from_pod(self, pod: Pod, pkt: Header) -> Header:
        place, on = self.pod_place(pod), _pod_on(pod)
        if pkt.dst in LOOPBACK_NET or pkt.dst == pod.ip:
            loop = pkt.dst in LOOPBACK_NET
            line = Line(LOOPBACK_LOCAL_ROUTE if loop else local_route(pod.ip, "eth0"), LOCAL_TABLE, on)
            what = ("a loopback address" if loop else "this pod's own address")
            self.hop(place, pkt, line,
                     f"the destination is {what}, so the kernel loops the packet back over lo; it never leaves "
                     "the pod's network namespace, which all the pod's containers share", out="lo")
            return self.deliver_pod(pod, pkt, "lo", line=line)
        dp = self.c.pod_dataplane(pod)
        r = lookup(dp.routes, pkt.dst)
        if r is None:  # pragma: no cover - every pod has a default route
            raise _Drop(f"pod {pod.name} has no route to {pkt.dst}")
        nxt = r.via or pkt.dst
        if r.via is not None:
            note = f"{pkt.dst} is not on the pod's link, so the pod sends it to its gateway {r.via}"
            if r.via == cni.LINK_GATEWAY:
                note += (" (a link-local address the host end of the veth answers for: "
                         "Azure CNI routes every pod packet through the node)")
        else:
            note = f"{pkt.dst} is on the pod's link ({r.dst}): the pod asks for it by ARP"
        self.hop(place, pkt, Line(str(r), "ip route", on), note, out="eth0")
        return self.into_node_from_pod(pod, pkt, nxt)

    def deliver_pod(self, pod: Pod, pkt: Header, interface: str, line: Line | None = None) -> Header:
        place = self.pod_place(pod)
        listener = None
        for cont in pod.containers:
            for p in cont.ports:
                if p.port == pkt.dport and p.protocol.lower() == self.protocol:
                    listener = cont.name
        if self.reply_of is not None:
            listener = None
            note = "the reply reaches the socket that opened the connection"
        elif listener:
            note = f"container {listener!r} listens on {self.protocol}/{pkt.dport} (all containers share this namespace)"
        else:
            declared = ", ".join(f"{p.protocol.lower()}/{p.port}" for c in pod.containers for p in c.ports)
            answer = ("a TCP reset" if self.protocol == "tcp" else "an ICMP port unreachable"
                      if self.protocol == "udp" else "an SCTP ABORT")
            note = (f"no container of pod {pod.name} listens on {self.protocol}/{pkt.dport} "
                    f"({'it declares ' + declared if declared else 'it declares no ports'}): the packet arrived, "
                    f"and the kernel answers with {answer}")
        if line is None:
            line = Line(local_route(pod.ip, "eth0"), LOCAL_TABLE, _pod_on(pod))
        self.hop(place, pkt, line, note, into=interface)
        self.end, self.listener = pod, listener
        return pkt

    def into_node_from_pod(self, pod: Pod, pkt: Header, nxt: IPv4Address) -> Header:
        node = self.c.node_record(pod.node)
        dp = self.c.node_dataplane(node.index)
        veth = cni.host_veth_name(self.cfg, pod)
        if dp.bridge in ("cbr0", "docker0"):
            gw = dp.interfaces[2].addresses[0].ip  # the bridge's own address
            if nxt == gw:
                return self.through_node(node, pkt, dp.bridge, port=veth)
            if self.reply_of is not None:
                pkt = self.conntrack_reverse(node, pkt, veth, bridged=dp.bridge)
            return self.bridge_deliver(node, dp.bridge, pkt, nxt, came_in=veth)
        if dp.bridge == "azure0":
            local = self.c.pods_at(node.index, nxt)
            if local or nxt == node.ip:
                if local:
                    if self.reply_of is not None:
                        pkt = self.conntrack_reverse(node, pkt, veth, bridged="azure0")
                    return self.bridge_deliver(node, "azure0", pkt, nxt, came_in=veth)
                return self.through_node(node, pkt, "azure0", port=veth)
            self.hop(self.node_place(node), pkt,
                     Line(fdb_entry(AZURE_GATEWAY_MAC, "eth0", "azure0"), "bridge fdb show br azure0", node.name),
                     "azure0 switches the frame to eth0, its uplink: in bridge mode pods sit directly on "
                     "the VNet subnet and talk to Azure's gateway themselves; Azure answers every ARP request "
                     f"with the MAC {AZURE_GATEWAY_MAC} (bridged frames still pass iptables, because "
                     "bridge-nf-call-iptables=1)", into=veth, out="eth0")
            return self.through_node(node, pkt, "azure0", port=veth, bridged_out="eth0")
        return self.through_node(node, pkt, veth)

    def bridge_deliver(self, node: Node, bridge: str, pkt: Header, ip: IPv4Address, came_in: str) -> Header:
        pods = self.c.pods_at(node.index, ip)
        if not pods:
            if self.cfg.plugin is Plugin.NONE and ip in self.cfg.docker_bridge_cidr.network:
                raise _Drop(
                    f"{ip} is inside 172.17.0.0/16, so it looks local: the sender asks for it by ARP on "
                    f"{node.name}'s docker0 bridge and nobody there has it. With plugin 'none' every node "
                    "runs its own docker0 with the same range, and nothing routes between the bridges"
                )
            raise _Drop(f"nobody on {bridge} of {node.name} answers ARP for {ip}: no pod there has that address")
        pod = pods[0]
        veth = cni.host_veth_name(self.cfg, pod)
        note = (f"{bridge} is a switch: it forwards the frame to the port where it learned pod "
                f"{pod.name}'s MAC address (layer 2, no routing)")
        if came_in == veth and self.reply_of is None:
            note += ": the port it came in on. " + self.hairpin(node, bridge, pkt, pod, veth)
        mac = naming.virtual_mac(pod.namespace, pod.name, "eth0")
        self.hop(self.node_place(node), pkt, Line(fdb_entry(mac, veth, bridge), f"bridge fdb show br {bridge}",
                                                    node.name), note, into=came_in, out=veth)
        return self.deliver_pod(pod, pkt, "eth0")

    def hairpin(self, node: Node, bridge: str, pkt: Header, pod: Pod, port: str) -> str:
        """A frame going back out of the bridge port it came in on (a pod reaching itself through a Service):
        whether it goes depends on the port's hairpin flag, the bridge's promiscuity and the node's kernel
        (:func:`netlab.model.images.self_hairpin`). Returns the reason; raises ``_Drop`` where it times out."""

        dp = self.c.node_dataplane(node.index)
        hairpin = cni.port_hairpin(self.cfg, bridge)
        promisc = any(i.promisc for i in dp.interfaces if i.name == bridge)
        ok, why = images.self_hairpin(self.cfg.node_image, hairpin, promisc, bridge)
        if not ok:
            flags = self.c.run("bridge -d link show", on=node.name).splitlines()
            row = next((i for i, line in enumerate(flags)
                        if not line.startswith(" ") and line.split(":")[1].strip().split("@")[0] == port), None)
            if row is not None and row + 1 < len(flags):
                self.hop(self.node_place(node), pkt, Line(flags[row + 1].strip(), "bridge -d link show", node.name),
                         f"{bridge} would have to send the frame back out of {port}, the port it came in on: " + why,
                         into=port)
            raise _Drop(f"pod {pod.name} connects to itself through the Service, which needs a hairpin turn on {bridge}: "
                        + why)
        return why[0].upper() + why[1:]

    # -- nodes
    def node_locals(self, node: Node) -> set[IPv4Address]:
        return {a.ip for i in self.c.node_interfaces(node.index) for a in i.addresses}

    def through_node(self, node: Node, pkt: Header, came_in: str | None, port: str | None = None,
                     bridged_out: str | None = None) -> Header:
        """The packet's way through one node: netfilter hooks in kernel order around the routing decision.

        ``came_in`` is the interface it arrived on (``None``: the node itself sends it), ``port``
        the bridge port behind it; ``bridged_out`` names the uplink a bridged frame leaves through
        (Azure CNI bridge mode).
        """

        if self.reply_of is not None:
            return self.reply_through_node(node, pkt, came_in, port)
        engine, ctx, route = self.c.node_runtime(node.index)
        if bridged_out is not None:
            def route(p, _out=bridged_out, _ip=node.ip):  # noqa: E306 - the frame is bridged, not routed
                return False, _out, _ip
        recent = self.recent_for(node, pkt)
        if recent:
            ctx = dataclasses.replace(ctx, recent=ctx.recent | recent)
        packet = NfPacket(pkt.src, pkt.dst, pkt.sport, pkt.dport, self.protocol, in_interface=came_in)
        passes = walk_node(engine, packet, ctx, route, from_node=came_in is None)
        chosen = self.choose(node, passes)
        turned = self.turns_back(node, chosen, came_in, port)
        cur, routed = pkt, False
        for hook, step in chosen.hooks:
            if turned and hook != "PREROUTING":
                # The DNATed frame stays on the bridge (no routing, no later hook) and must leave by its own port.
                return self.bridge_deliver(node, came_in, cur, cur.dst, came_in=port)
            if hook in ("INPUT", "FORWARD", "POSTROUTING") and not routed:
                routed = True
                self.route_hop(node, cur, came_in, port, bridged_out, local=hook == "INPUT")
            new = Header(step.packet.src, step.packet.sport, step.packet.dst, step.packet.dport, self.protocol)
            out_if = step.packet.out_interface
            uplink = out_if in ("eth0", "azure0")
            if self.all_hooks or hook_shown(hook, step, cur, new, uplink) or step.verdict == "PROXY":
                self.hook_hop(node, hook, step, cur, new, passes, came_in, port)
            if new.src != cur.src or new.sport != cur.sport:
                self.masquerade.append((node.name, cur.src, new.src))
            cur = new
        if not routed and chosen.verdict not in ("DROP", "REJECT"):
            self.route_hop(node, cur, came_in, port, bridged_out, local=chosen.verdict == "DELIVER")
        if chosen.verdict in ("DROP", "REJECT"):
            raise _Drop(refusal_reason(chosen), refused=chosen.verdict == "REJECT")
        self.conntrack.append((node.index, pkt, cur))
        if chosen.verdict == "PROXY":
            return self.userspace_proxy(node, cur, chosen)
        if chosen.verdict == "DELIVER":
            self.end = node
            return cur
        out_if = chosen.packet.out_interface or "eth0"
        dp = self.c.node_dataplane(node.index)
        if out_if == dp.bridge and out_if != "azure0":
            # A frame the node routed after delivering it locally (IPVS) leaves from the bridge device itself;
            # one it forwarded leaves from the port it came in on, which makes a hairpin turn for its own pod.
            local = any(hook == "INPUT" for hook, _ in chosen.hooks)
            return self.bridge_deliver(node, out_if, cur, cur.dst,
                                       came_in=port if came_in == out_if and port and not local else out_if)
        if out_if.startswith("azv"):
            pod = self.c.pods_at(node.index, cur.dst)[0]
            return self.deliver_pod(pod, cur, "eth0")
        if out_if == "azure0" and self.c.pods_at(node.index, cur.dst):
            return self.bridge_deliver(node, "azure0", cur, cur.dst,
                                       came_in=port if came_in == "azure0" and port else "azure0")
        return self.azure(cur, node)

    def turns_back(self, node: Node, chosen: Any, came_in: str | None, port: str | None) -> bool:
        """Whether a frame from a pod's bridge port, DNATed to that same pod, fails its hairpin turn: then the
        kernel drops it on the bridge, before FORWARD and POSTROUTING (and conntrack never confirms it)."""

        if self.reply_of is not None or port is None or came_in is None or came_in == port:
            return False
        dp = self.c.node_dataplane(node.index)
        if came_in != dp.bridge or dp.bridge == "azure0" or not chosen.hooks or chosen.hooks[0][0] != "PREROUTING":
            return False
        dst = chosen.hooks[0][1].packet.dst
        pods = self.c.pods_at(node.index, dst)
        if not pods or cni.host_veth_name(self.cfg, pods[0]) != port:
            return False
        promisc = any(i.promisc for i in dp.interfaces if i.name == came_in)
        return not images.self_hairpin(self.cfg.node_image, cni.port_hairpin(self.cfg, came_in), promisc, came_in)[0]

    def recent_for(self, node: Node, pkt: Header) -> frozenset:
        """ClientIP affinity an earlier connection (``after=``) left on this node: ``-m recent`` entries."""
        if self.after is None:
            return frozenset()
        built = self.c.node_proxy(node.index)
        entries: set = set()
        for n, src, ep in self.after.affinity:
            if n == node.index and src == pkt.src:
                try:
                    entries |= built.affinity_entries(pkt.src, (ep,))
                except NotFoundError:
                    pass  # a Service without ClientIP affinity: no entry to keep
        return frozenset(entries)

    def conntrack_line(self, node_on: str, before: Header, after: Header) -> Line:
        return Line(conntrack_line(self.protocol, *_ct_tuples(before, after)), "conntrack -L", node_on)

    def conntrack_reverse(self, node: Node, pkt: Header, came_in: str | None, bridged: str | None = None,
                          port: str | None = None) -> Header:
        """On a reply: undo the NAT the request got on this node (routed, or bridged with br_netfilter)."""
        assert self.reply_of is not None
        for where, before, after in self.reply_of.conntrack:
            if where == node.index and before != after and pkt.src == after.dst and pkt.sport == after.dport \
                    and pkt.dst == after.src and pkt.dport == after.sport:
                new = Header(before.dst, before.dport, before.src, before.sport, self.protocol)
                nats = []
                if before.src != after.src or before.sport != after.sport:
                    nats.append(Nat("un-SNAT", (pkt.dst, pkt.dport), (new.dst, new.dport)))
                if before.dst != after.dst or before.dport != after.dport:
                    nats.append(Nat("un-DNAT", (pkt.src, pkt.sport), (new.src, new.sport)))
                note = ("a reply of a tracked connection: the nat rules are not read again; conntrack reverses "
                        "the translation the request got on this node")
                if bridged:
                    note += (f" (the frame is only switched by {bridged}, but bridge-nf-call-iptables=1 sends "
                             "bridged IPv4 through netfilter and conntrack too)")
                line = self.conntrack_line(node.name, before, after)
                self.hop(self.node_place(node), new, line, note, into=came_in or "lo", before=pkt,
                         nat=tuple(nats), conntrack=Conntrack(line, created=False), port=port)
                return new
        return pkt

    def reply_through_node(self, node: Node, pkt: Header, came_in: str | None, port: str | None = None) -> Header:
        """A reply crossing a node: conntrack undoes the NAT the request got here; no nat rules are read."""
        pkt = self.conntrack_reverse(node, pkt, came_in, port=port)
        dp = self.c.node_dataplane(node.index)
        if pkt.dst in self.node_locals(node) or pkt.dst in LOOPBACK_NET:
            self.route_hop(node, pkt, came_in, port, None, local=True)
            self.end = node
            return pkt
        self.route_hop(node, pkt, came_in, port, None, local=False)
        r = lookup(dp.routes, pkt.dst)
        out_if = r.dev if r is not None else "eth0"
        if out_if == dp.bridge and out_if != "azure0":
            return self.bridge_deliver(node, out_if, pkt, pkt.dst, came_in=out_if)
        if out_if.startswith("azv"):
            return self.deliver_pod(self.c.pods_at(node.index, pkt.dst)[0], pkt, "eth0")
        if out_if == "azure0" and self.c.pods_at(node.index, pkt.dst):
            return self.bridge_deliver(node, "azure0", pkt, pkt.dst, came_in="azure0")
        return self.azure(pkt, node)

    def route_hop(self, node: Node, pkt: Header, came_in: str | None, port: str | None, bridged_out: str | None,
                  local: bool) -> None:
        place = self.node_place(node)
        dp = self.c.node_dataplane(node.index)
        into = came_in
        if bridged_out is not None:
            return  # a bridged frame is switched, not routed (its bridge hop is already shown)
        if local:
            dev = "lo"
            for i in self.c.node_interfaces(node.index):
                if any(a.ip == pkt.dst for a in i.addresses):
                    dev = i.name
            text = LOOPBACK_LOCAL_ROUTE if pkt.dst.is_loopback else local_route(pkt.dst, dev)
            self.hop(place, pkt, Line(text, LOCAL_TABLE, node.name),
                     "the destination is one of the node's own addresses: it goes up to the node itself",
                     into=into or "lo", port=port)
            return
        r = lookup(dp.routes, pkt.dst)
        assert r is not None
        if r.dev == dp.bridge and r.dev != "azure0":
            note = f"{r.dst} is the pods' network on bridge {r.dev}"
        elif r.dev.startswith("azv"):
            note = f"a /32 route per pod: {pkt.dst} lives behind veth {r.dev}"
        elif r.dev == "azure0" and self.c.pods_at(node.index, pkt.dst):
            note = f"{pkt.dst} is on the subnet link, which azure0 bridges to the local pods"
        else:
            note = (f"the node forwards it (ip_forward=1) out of {r.dev} to Azure"
                    if came_in else f"the node sends it out of {r.dev} to Azure")
            if r.via is not None:
                note += f", addressed at layer 2 to the subnet gateway {r.via}"
        self.hop(place, pkt, Line(str(r), "ip route", node.name), note, into=into, out=r.dev, port=port)

    def rule_line(self, node: Node, line: Any) -> Line:
        """A line of kube-proxy's or the node's rules, with the command that prints it on ``node``."""
        if line.tool == "nft":
            return Line(line.text, NFT_LIST, node.name)
        if line.tool == "ipvsadm":
            return Line(line.text, "ipvsadm -Ln", node.name)
        return Line(line.text, "iptables-save", node.name)

    def hook_hop(self, node: Node, hook: str, step: Any, cur: Header, new: Header,
                 passes: Any, came_in: str | None, port: str | None) -> None:
        lines = step.lines
        key = key_line(lines)
        if step.verdict == "PROXY":
            decided = self.proxy_socket_line(node, new)
        elif key is not None:
            decided = self.rule_line(node, key)
        else:  # no rule matched: the chain's policy decided
            decided = Line(f":{hook} ACCEPT [0:0]", "iptables-save", node.name)
        nats: list[Nat] = []
        redirect = any(rule_target(line) == "REDIRECT" for line in lines)
        if new.dst != cur.dst or new.dport != cur.dport:
            nats.append(Nat("REDIRECT" if redirect else "DNAT", (cur.dst, cur.dport), (new.dst, new.dport)))
        if new.src != cur.src or new.sport != cur.sport:  # a fully random port changes even to the same address
            nats.append(Nat("MASQUERADE", (cur.src, cur.sport), (new.src, new.sport)))
        note = hook_note(hook, step, cur, new)
        options = branch_options(passes)
        chosen_ep = step.note if step.verdict == "PROXY" else f"{new.dst}:{new.dport}"
        probabilities = dict(options)
        dnat = bool(nats) and nats[0].kind == "DNAT"
        if (dnat or step.verdict in ("PROXY", "IPVS")) and chosen_ep in probabilities:
            if len(options) > 1:
                others = ", ".join(f"{ep} ({p:.2f})" for ep, p in options if ep != chosen_ep)
                if step.verdict == "IPVS":
                    # a scheduler, not a dice roll: which server this connection gets depends on those before it
                    note += (" The scheduler picks the real server for each new connection (rr: the next one in turn), "
                             f"so which one this connection gets depends on the ones before it; netlab took {chosen_ep}; "
                             f"the others: {', '.join(ep for ep, _ in options if ep != chosen_ep)} "
                             "(choose with endpoint=... or seed=...)")
                else:
                    who = "the kube-proxy process" if step.verdict == "PROXY" else "kube-proxy's rules"
                    note += (f" {who} picked {chosen_ep} with probability {probabilities[chosen_ep]:.2f}; "
                             f"other branches: {others} (choose with endpoint=... or seed=...)")
            self.choices.append((node.name, tuple(options), chosen_ep))
            if ":" in chosen_ep:
                self.affinity.append((node.index, cur.src, chosen_ep))
        out_if = step.packet.out_interface
        into = None
        if came_in and hook in ("PREROUTING", "INPUT"):
            into = came_in
        created = None
        if nats and hook in ("PREROUTING", "OUTPUT", "POSTROUTING"):
            created = Conntrack(Line("", "conntrack -L", node.name), created=True)  # filled in by the trace
        self.hop(self.node_place(node), new, decided, note, into=into,
                 out=out_if if hook in ("FORWARD", "POSTROUTING") and out_if else None, before=cur,
                 nat=tuple(nats), conntrack=created, hook=hook, port=port if into else None,
                 rules=tuple(self.rule_line(node, line) for line in lines if line.tool != "kube-proxy")
                 + ((decided,) if step.verdict == "PROXY" else ()))

    def proxy_socket_line(self, node: Node, pkt: Header) -> Line:
        from ..text.tools import ss_line

        return Line(ss_line(self.c, node.index, self.protocol, pkt.dport), SS_LISTEN, node.name)

    def choose(self, node: Node, passes: Any) -> Any:
        """Pick the branch this trace follows: the requested endpoint, or by the seed."""
        if len(passes) == 1:
            return passes[0]
        if self.endpoint is not None:
            for ps in passes:
                if endpoint_of(ps) == self.endpoint:
                    return ps
        r = self.rng.random()
        acc = 0.0
        for ps in passes:
            acc += ps.probability
            if r < acc:
                return ps
        return passes[-1]

    def userspace_proxy(self, node: Node, pkt: Header, chosen: Any) -> Header:
        """Userspace mode: the connection ends in kube-proxy, which opens a new one to a backend."""
        backend = endpoint_of(chosen)
        if backend is None:
            why = next((st.note for _, st in reversed(chosen.hooks) if st.verdict == "PROXY"), "")
            raise _Drop(f"{why or 'kube-proxy has no backend for this Service'}: the client sees the connection "
                        "accepted and then closed (userspace mode had no REJECT rule)" if self.protocol == "tcp" else
                        f"{why or 'kube-proxy has no backend for this Service'}: the datagram is dropped",
                        refused=self.protocol == "tcp")
        self.hop(self.node_place(node), pkt, self.endpointslice_line(backend),
                 f"the connection ends in the kube-proxy process; it picks {backend} from the Service's "
                 "EndpointSlice and opens a NEW connection from the node to it: the backend sees the node's "
                 "address, never the client's", via="kube-proxy socket")
        self.proxy_legs.append((node.index, pkt))
        host, _, port = backend.rpartition(":")
        # kube-proxy dials without binding an address, so the kernel picks the route's preferred source:
        # the node's cbr0 address towards a pod on the node's own bridge, its eth0 address otherwise.
        src = _source_address(self.c, node, ipaddress.IPv4Address(host))
        new = Header(src, _sport(src, backend, 0), ipaddress.IPv4Address(host), int(port), self.protocol)
        return self.through_node(node, new, None)

    def endpointslice_line(self, backend: str) -> Line:
        """The row of ``kubectl get endpointslices`` that lists ``backend``."""
        ns = self.target.entry.spec.namespace if isinstance(self.target, ServiceTarget) else "default"
        text = self.c.kubectl_get_endpointslices(namespace=ns)
        ip, _, port = backend.rpartition(":")
        svc = self.target.entry.spec.name if isinstance(self.target, ServiceTarget) else ""
        for row in text.splitlines()[1:]:
            cells = row.split()
            if cells and cells[0].startswith(svc) and ip in cells[3].split(",") and port in cells[2].split(","):
                return Line(row, f"kubectl get endpointslices -n {ns}")
        return Line(text.splitlines()[-1], f"kubectl get endpointslices -n {ns}")  # pragma: no cover

    # -- Azure
    def azure(self, pkt: Header, node: Node | None, routes: tuple[AzureRoute, ...] | None = None,
              on: str | None = None, note_where: str = "") -> Header:
        place = self.vnet_place()
        cfg = self.cfg
        from_ = f"from {node.name}" if node is not None else "from outside the node subnet"
        if node is not None and cfg.plugin is Plugin.AZURE_CNI_OVERLAY and cfg.pod_cidr is not None \
                and pkt.dst in cfg.pod_cidr:
            n = self.c.pod_cidr_node(pkt.dst)
            if n is None:
                raise _Drop(f"no node owns {pkt.dst}: its /24 of the pod CIDR is not assigned to any node")
            dest = self.c.node_record(n)
            self.hop(place, pkt, Line(self.c.node_pod_cidr_row(n), NODE_POD_CIDRS),
                     f"Azure keeps each node's pod /24 in its own routing domain for the pod CIDR: no route "
                     f"table, no encapsulation; only cluster nodes can use it. Azure shows no table of it; it "
                     f"follows the node's pod range {dest.pod_cidr}, which kubectl prints", via=from_)
            return self.through_node(dest, pkt, "eth0")
        if routes is None:
            routes, on = self.c.vnet_routes(), node.name if node is not None else None
        r = lookup(routes, pkt.dst)
        assert r is not None
        line = Line(self.c.effective_route_row(r, routes), EFFECTIVE_ROUTES, on)
        kind = r.next_hop_type
        if kind == "VirtualAppliance":
            dest = self.c.owners(r.next_hop_ip)[0]  # type: ignore[arg-type]
            self.hop(place, pkt, Line(self.c.route_table_line(r), ROUTE_TABLE),
                     f"kubenet's route for {r.address_prefix} sends the packet to node {dest.name}, which "
                     "forwards for its pods (IP forwarding is enabled on the node's NIC)", via=from_)
            return self.through_node(dest, pkt, "eth0")
        if kind == "VnetLocal":
            owners = self.c.owners(pkt.dst)
            if owners:
                dest_node = owners[0] if isinstance(owners[0], Node) else self.c.node_record(owners[0].node)
                what = "the node's primary address" if isinstance(owners[0], Node) else \
                    "one of the addresses Azure CNI reserved on that node's NIC"
                self.hop(place, pkt, line, f"{pkt.dst} is {what}: the VNet delivers it straight to "
                         f"{dest_node.name}'s NIC{note_where}", via=from_)
                uplink = "azure0" if self.c.node_dataplane(dest_node.index).bridge == "azure0" else "eth0"
                return self.through_node(dest_node, pkt, uplink, port="eth0" if uplink == "azure0" else None)
            host = host_for_ip(self.cfg, pkt.dst)
            if host.kind == "vnet" and pkt.dst not in cfg.subnet_cidr:
                self.hop(place, pkt, line, f"inside the VNet: delivered to the VM's NIC{note_where}", via=from_)
                return self.deliver_host(host, pkt)
            self.hop(place, pkt, line, f"{pkt.dst} is in the VNet's address space{note_where}", via=from_)
            raise _Drop(f"no NIC in the VNet has the address {pkt.dst}")
        if kind == "Internet":
            if self.reply_of is None and is_private(pkt.src):
                new = dataclasses.replace(pkt, src=OUTBOUND_PUBLIC_IP)
                nat = Nat("SNAT", (pkt.src, pkt.sport), (OUTBOUND_PUBLIC_IP, pkt.sport),
                          by="the cluster load balancer's outbound public IP")
                self.hop(place, new, line, "leaving Azure: outbound traffic gets the cluster's public address "
                         f"(outbound rule {OUTBOUND_RULE} of load balancer kubernetes)", via=from_,
                         before=pkt, nat=(nat,))
                self.conntrack.append(("azure", pkt, new))
                self.masquerade.append(("azure", pkt.src, OUTBOUND_PUBLIC_IP))
                pkt = new
            else:
                self.hop(place, pkt, line, "leaving Azure for the internet", via=from_)
            return self.deliver_host(host_for_ip(self.cfg, pkt.dst), pkt)
        if kind == "VNetPeering":
            self.hop(place, pkt, line, "the peering carries it to the other VNet", via=from_)
            return self.deliver_host(host_for_ip(self.cfg, pkt.dst), pkt)
        if kind == "VirtualNetworkGateway":
            self.hop(place, pkt, line, "the VPN gateway carries it on premises", via=from_)
            return self.deliver_host(host_for_ip(self.cfg, pkt.dst), pkt)
        self.hop(place, pkt, line, "next hop None: Azure drops the packet", via=from_)
        raise _Drop(self.none_reason(pkt.dst, node is not None))

    def azure_lb(self, host: Host, pkt: Header) -> Header:
        """A client outside the cluster reaches a LoadBalancer Service's public address."""

        self.hop(self.host_place(host), pkt, Line(str(self.c.host_routes(host)[0]), "ip route", host.name),
                 f"{pkt.dst} is a public address of the cluster's Azure load balancer", out="eth0")
        place = Place("load balancer", "kubernetes", "Azure SDN")
        rule = azurelb.rule_for(self.c, pkt.dst, pkt.dport, self.protocol)
        if rule is None:
            entry = self.target.entry
            ports = ", ".join(f"{p.port}/{p.protocol}" for p in entry.spec.ports)
            raise _Drop(f"the load balancer has no rule for {self.protocol}/{pkt.dport} on {pkt.dst}: "
                        f"Service {self.target.name} exposes {ports}")
        health = azurelb.healthy_nodes(self.c, rule)
        healthy = [n for n, ok, _ in health if ok]
        state = "; ".join(f"{n.name}: {why}" for n, _, why in health)
        rule_line = Line(azurelb.rule_line(self.c, rule), LB_RULES)
        if not healthy:
            self.hop(place, pkt, rule_line, f"health probes: {state}", via=f"frontend {rule.frontend}")
            raise _Drop("every node failed the load balancer's health probe, so it has nowhere to send the "
                        "connection (with externalTrafficPolicy Local, only nodes running an endpoint pass)")
        node = None
        if self.endpoint is not None:
            ip = self.endpoint.rpartition(":")[0]
            owners = self.c.owners(ipaddress.IPv4Address(ip)) if ip else ()
            if owners and isinstance(owners[0], Pod) and self.c.node_record(owners[0].node) in healthy:
                node = self.c.node_record(owners[0].node)
        if node is None:
            node = healthy[self.rng.randrange(len(healthy))]
        note = (f"rule {rule.name}: frontend {rule.frontend_ip}:{rule.frontend_port} -> backend pool kubernetes, "
                f"port {rule.backend_port}, floating IP on, so the destination stays {pkt.dst}; the source stays the "
                f"client's. Health probes: {state}. Azure picked {node.name} (it hashes the connection's addresses "
                f"and ports over the healthy nodes)")
        self.hop(place, pkt, rule_line, note, via=f"frontend {rule.frontend}")
        return self.through_node(node, pkt, "eth0")

    def none_reason(self, dst: IPv4Address, from_node_subnet: bool) -> str:
        cfg = self.cfg
        if cfg.pod_cidr is not None and dst in cfg.pod_cidr and cfg.plugin is Plugin.KUBENET:
            return (f"{dst} is a kubenet pod address. Only the route table attached to the node subnet "
                    f"({naming.route_table_name(cfg.name, cfg.resource_group)}) says which node holds which "
                    f"pod /24; here Azure's system route for private ranges says None. Reach pods from outside "
                    "through a Service (notebook 07), add routes for the pod CIDR on this side, or use Azure "
                    "CNI, whose pods have VNet addresses")
        if cfg.pod_cidr is not None and dst in cfg.pod_cidr:
            return (f"{dst} is an Azure CNI Overlay pod address: pod addresses from the overlay range are "
                    "reachable only from the cluster's own nodes and pods. Expose the pod through a Service")
        if dst in cfg.service_cidr:
            return (f"{dst} is in the service CIDR {cfg.service_cidr}: a ClusterIP is virtual, and only kube-proxy's "
                    "rules on a node give it a meaning. No rule matched this port (the Service does not have it), so "
                    "the node routed the packet like any other, to Azure, which has no route for the range and drops "
                    "it: the client waits for a timeout")
        if cfg.plugin is Plugin.NONE and dst in cfg.docker_bridge_cidr.network:
            return (f"{dst} exists only behind a node's stand-alone docker0 bridge: the VNet has no route to "
                    "172.17.0.0/16, and every node reuses that range")
        return f"{dst} is a private address that no route in this network leads to"

    # -- hosts around the cluster
    def deliver_host(self, host: Host, pkt: Header) -> Header:
        self.hop(self.host_place(host), pkt, Line(local_route(host.ip, "eth0"), LOCAL_TABLE, host.name),
                 f"{host.ip} is this host's own address: the packet has arrived", into="eth0")
        self.end = host
        return pkt

    def from_host(self, host: Host, pkt: Header) -> Header:
        cfg = self.cfg
        place = self.host_place(host)
        default = Line(str(self.c.host_routes(host)[0]), "ip route", host.name)
        if self.reply_of is not None:
            for where, before, after in self.reply_of.conntrack:
                if where == "azure" and pkt.dst == after.src and pkt.dport == after.sport:
                    self.hop(place, pkt, default,
                             f"the reply goes to {pkt.dst}, the cluster's outbound public address", out="eth0")
                    new = Header(pkt.src, pkt.sport, before.src, before.sport, self.protocol)
                    self.hop(self.vnet_place(), new, Line(self.c.outbound_rule_row(), LB_OUTBOUND),
                             f"Azure's outbound rule {OUTBOUND_RULE} remembers the flow and reverses its SNAT",
                             via="from the internet", before=pkt,
                             nat=(Nat("un-SNAT", (pkt.dst, pkt.dport), (new.dst, new.dport)),))
                    return self.azure(new, None, self.c.vnet_routes(), None)
        if isinstance(self.target, ServiceTarget) and self.target.frontend is names.Frontend.LOAD_BALANCER:
            return self.azure_lb(host, pkt)
        if host.kind == "internet":
            if is_private(pkt.dst):
                self.hop(place, pkt, default, "private addresses (RFC 1918, and 100.64.0.0/10) are not routed on "
                         "the internet",
                         out="eth0")
                raise _Drop(
                    f"{pkt.dst} is a private address, reachable only inside Azure: nothing on the internet "
                    "routes to it. A LoadBalancer Service (notebook 07) gives the pod a public front door")
            self.hop(place, pkt, default, "", out="eth0")
            return self.deliver_host(host_for_ip(self.cfg, pkt.dst), pkt)
        if host.kind == "vnet":
            self.hop(place, pkt, default, "the VM sends it to Azure; its subnet has no route table attached",
                     out="eth0")
            return self.azure(pkt, None, system_routes(self.cfg), host.name)
        if host.kind == "peered":
            routes = peered_routes(cfg)
            r = lookup(routes, pkt.dst)
            assert r is not None
            self.hop(place, pkt, Line(self.c.effective_route_row(r, routes), EFFECTIVE_ROUTES, host.name),
                     "the peering covers the cluster VNet's address space "
                     f"{cfg.vnet_cidr} only" if r.next_hop_type != "VNetPeering" else
                     f"{pkt.dst} is in the cluster VNet's address space: across the peering", out="eth0")
            if r.next_hop_type != "VNetPeering":
                raise _Drop(self.none_reason(pkt.dst, False))
            return self.azure(pkt, None, system_routes(self.cfg), "vnet-vm",
                              " (arriving over the peering, it follows the VNet's system routes, which the "
                              "VM's NIC in the VNet shows)")
        # on premises: the host's router reaches the VNet through the VPN tunnel
        self.hop(place, pkt, default, "the host sends it to its router", out="eth0")
        router = self.c.host_routes("onprem-router")
        r = lookup(router, pkt.dst)
        assert r is not None
        rplace = Place("router", "onprem-router", "on premises", label="on-premises router")
        if r.dev == "vti0":
            self.hop(rplace, pkt, Line(str(r), "ip route", "onprem-router"),
                     "the VPN tunnel to Azure's VPN gateway carries the VNet's address space", into="lan0", out="vti0")
            return self.azure(pkt, None, system_routes(self.cfg), "vnet-vm",
                              " (arriving through the VPN gateway, it follows the VNet's system routes, which the "
                              "VM's NIC in the VNet shows)")
        self.hop(rplace, pkt, Line(str(r), "ip route", "onprem-router"),
                 f"only {cfg.vnet_cidr} goes through the VPN tunnel", into="lan0", out=r.dev)
        raise _Drop(self.none_reason(pkt.dst, False) if is_private(pkt.dst) else
                    f"{pkt.dst} is not reachable from on premises")


@dataclass(frozen=True, slots=True)
class ServiceTarget:
    """A Service as a trace's destination."""

    entry: Any  # services.ServiceEntry
    ip: IPv4Address
    via: str  # how the trace prints it: "cluster IP", "NodePort on <node>", "load balancer", "external IP"
    frontend: "names.Frontend"  # where the Service is reached (decisions read this, not via)

    @property
    def name(self) -> str:
        return f"{self.entry.spec.namespace}/{self.entry.spec.name}"


def _source_address(cluster: "Cluster", source: Any, dst: IPv4Address) -> IPv4Address:
    """The source address Linux picks: lo's for a loopback destination; for a node, the
    preferred source (``src``) of its route to the destination (``10.244.0.1`` towards a
    pod on its own ``cbr0``), else its primary address."""
    if dst.is_loopback:
        return ipaddress.IPv4Address("127.0.0.1")
    if isinstance(source, Node):
        r = lookup(cluster.node_dataplane(source.index).routes, dst)
        if r is not None and r.src is not None:
            return r.src
    return source.ip


def _is_host_port(text: str) -> bool:
    host, sep, port = text.rpartition(":")
    try:
        ipaddress.IPv4Address(host)
    except ValueError:
        return False
    return bool(sep) and port.isdigit()


def _check_port(port: Any, what: str) -> None:
    if port is None:
        return
    if not isinstance(port, int) or isinstance(port, bool) or not 1 <= port <= 65535:
        raise ConfigError(f"{what} {port!r} is not a port: a port is a whole number from 1 to 65535")


def _check_destination(ip: IPv4Address, text: Any) -> None:
    if ip.is_unspecified or ip == ipaddress.IPv4Address("255.255.255.255") or ip.is_multicast:
        raise ConfigError(f"{text!r} is not an address a connection can go to (unspecified, broadcast or "
                          "multicast); give a pod, a node, a Service or a host's address")
    if ip.is_loopback and str(text).strip() != "127.0.0.1":
        raise ConfigError(f"{text!r} is a loopback address: write 'localhost' to trace to the source's own lo")


def _default_port(target: Any, port: int | None, via_node_port: bool) -> int:
    if port is not None:
        return port
    if isinstance(target, ServiceTarget):
        return target.entry.spec.ports[0].port
    if isinstance(target, Pod):
        for c in target.containers:
            for p in c.ports:
                return p.port
    return 80


def trace(cluster: "Cluster", src: Any, dst: Any, port: int | None = None, protocol: str = "tcp",
          endpoint: str | None = None, seed: int = 0, all_hooks: bool = False, after: "Trace | None" = None) -> Trace:
    """Walk one packet from ``src`` to ``dst`` and explain every hop.

    Args:
        cluster: the cluster.
        src: pod name, node name, IP address or a named host (``"internet"``, ...).
        dst: the same, ``"localhost"`` (the source's own loopback), a Service name
            (``"web"``, ``"kube-system/kube-dns"``; Services win over pods of the same name,
            write ``"pod:web"`` for the pod), a ClusterIP, a load balancer IP, or
            ``"<node name or IP>:<nodePort>"``.
        port: destination port (1-65535); by default the Service's first port, the pod's
            first declared container port, or 80. A port the Service does not have is left to
            the rules, as a real packet is (nftables mode rejects it, iptables mode has no rule).
        protocol: ``"tcp"``, ``"udp"`` or ``"sctp"``.
        endpoint: where kube-proxy picks among endpoints, follow this one (``"IP:port"``).
        seed: otherwise, the seed of the deterministic random choice.
        all_hooks: show a hop for every netfilter hook the packet passes on a node
            (PREROUTING, INPUT or FORWARD, OUTPUT, POSTROUTING), also where no rule changed or
            judged it; by default only the hooks that decided something are shown.
        after: an earlier trace from the same client: this is a new connection (a new source
            port) made after it, so kube-proxy's ClientIP affinity (``sessionAffinity:
            ClientIP``) sends it to the endpoint the earlier one reached, in every mode.
    """
    proto = str(protocol).lower()
    if proto not in ("tcp", "udp", "sctp"):
        raise ConfigError(f"protocol {protocol!r} is not one a trace knows: use 'tcp', 'udp' or 'sctp'")
    _check_port(port, "port")
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise ConfigError(f"seed={seed!r}: the seed is a whole number (0, 1, 2, ...); the same seed always "
                          "gives the same choices")
    if endpoint is not None and (not isinstance(endpoint, str) or not _is_host_port(endpoint)):
        raise ConfigError(f"endpoint={endpoint!r}: give an endpoint as 'IP:port', for example '10.244.1.2:8080' "
                          "(the Service's endpoints are listed by cluster.services[name].endpoints)")
    if after is not None and not isinstance(after, Trace):
        raise ConfigError(f"after={after!r}: give the trace of the earlier connection, as cluster.trace(...) "
                          "returned it")
    s = _walk_target(names.source(cluster, src))
    to = names.destination(cluster, dst)
    if to.kind is names.Kind.LOOPBACK:
        if isinstance(s, Host):
            raise ConfigError("'localhost' is the source's own loopback: start from a pod or a node")
        d: Any = s
    else:
        d = _walk_target(to)
        if to.port is not None:
            if port is not None and port != to.port:
                raise ConfigError(f"{dst!r} names port {to.port} and port={port} another: give the port once, in "
                                  "the destination or as port=")
            port = to.port
        _check_destination(to.address, dst)
    dst_ip = to.address
    port = _default_port(d, port, False)
    src_ip = _source_address(cluster, s, dst_ip)
    if after is not None and after.hops and after.hops[0].packet.src != src_ip:
        raise ConfigError(f"after=: the earlier connection came from {after.hops[0].packet.src}, this one from "
                          f"{src_ip}; affinity and connection tracking follow one client, so trace from the same "
                          "source")
    previous = 0
    t = after
    while t is not None:
        previous, t = previous + 1, t.previous
    pkt = Header(src_ip, _sport(src_ip, dst_ip, port if not previous else f"{port}#{previous}"), dst_ip, port, proto)
    if not isinstance(all_hooks, bool):
        raise ConfigError(f"all_hooks={all_hooks!r}: give True or False")
    walk = _Walk(cluster, d, proto, endpoint=endpoint, seed=seed, after=after)
    walk.all_hooks = all_hooks
    try:
        if isinstance(s, Pod):
            walk.from_pod(s, pkt)
        elif isinstance(s, Node):
            walk.through_node(s, pkt, None)
        else:
            walk.from_host(s, pkt)
        verdict, reason = _judge(cluster, walk, d)
    except _Drop as drop:
        verdict = Verdict.REFUSED if drop.refused else Verdict.DROPPED
        reason = drop.reason
    if endpoint is not None and walk.choices and not any(endpoint in dict(opts) for _, opts, _ in walk.choices):
        offered = sorted({ep for _, opts, _ in walk.choices for ep, _ in opts if ":" in ep})
        raise NotFoundError(f"endpoint {endpoint!r} is not one kube-proxy could pick for this packet; it could pick "
                            f"{', '.join(offered)}")
    if endpoint is not None and not walk.choices:
        raise NotFoundError(f"endpoint={endpoint!r}, but this packet meets no Service, so there is no endpoint to "
                            "choose; leave endpoint out, or trace to a Service")
    reply = None
    if verdict in (Verdict.DELIVERED, Verdict.MISDELIVERED) and walk.hops and to.kind is not names.Kind.LOOPBACK:
        reply = _reply(cluster, walk, s, pkt, proto)
    dst_label = "localhost" if to.kind is names.Kind.LOOPBACK else _label(d)
    if isinstance(d, ServiceTarget):
        dst_label = f"Service {d.name} ({d.via} {dst_ip}:{port})"
    elif to.kind is names.Kind.NODE and to.port is not None:
        dst_label = f"node {d.name} port {port} ({d.ip}:{port})"
    result = Trace(
        source=_label(s),
        destination=dst_label,
        protocol=proto,
        port=port,
        hops=tuple(walk.hops),
        verdict=verdict,
        reason=reason,
        delivered_to=_label(walk.end) if walk.end is not None else None,
        listener=walk.listener,
        choices=tuple(walk.choices),
        reply=reply,
        masquerade=tuple(walk.masquerade),
        affinity=tuple(walk.affinity) + (after.affinity if after is not None else ()),
        connections=tuple(walk.conntrack),
        previous=after,
        cluster=cluster,
    )
    return _with_conntrack(cluster, result)


def _ct_tuples(before: Header, after: Header) -> tuple[tuple, tuple]:
    """A connection's original tuple (as it came in) and reply tuple (the answer to what went out)."""
    return (before.src, before.dst, before.sport, before.dport), (after.dst, after.src, after.dport, after.sport)


def conntrack_entries(cluster: "Cluster", t: Trace) -> dict[Any, list[str]]:
    """The entries ``conntrack -L`` shows after trace ``t``, per node index (and ``"azure"``),
    in the state the connection is left in: ``ESTABLISHED [ASSURED]`` once the reply came back,
    ``CLOSE`` after a reset, ``[UNREPLIED]`` when no answer came."""
    return {where: [line for _, _, line in rows] for where, rows in _entries(t).items()}


def _entries(t: Trace) -> dict[Any, list[tuple[Header, Header, str]]]:
    """Per node index (and ``"azure"``): each connection's first header in, header out, and its entry."""
    answered = t.reply is not None and t.reply.verdict is Verdict.DELIVERED
    out: dict[Any, list[tuple[Header, Header, str]]] = {}
    for where, before, after in t.connections:
        orig, reply = _ct_tuples(before, after)
        if answered:
            line = conntrack_line(t.protocol, orig, reply)
        elif t.verdict is Verdict.REFUSED and t.protocol == "tcp":
            line = conntrack_line(t.protocol, orig, reply, state="CLOSE", assured=False)
        else:
            line = conntrack_line(t.protocol, orig, reply, state="SYN_SENT", assured=False, unreplied=True)
        out.setdefault(where, []).append((before, after, line))
    return out


def _with_conntrack(cluster: "Cluster", t: Trace) -> Trace:
    """Fill each NAT hop's conntrack entry with the line ``conntrack -L`` shows after the trace."""
    if not any(h.conntrack is not None and h.conntrack.created for h in t.hops):
        return t
    by_name = {cluster.node_record(w).name: rows for w, rows in _entries(t).items() if w != "azure"}
    hops = []
    for h in t.hops:
        if h.conntrack is not None and h.conntrack.created and h.place.kind == "node":
            rows = by_name.get(h.place.name, ())
            # the hop's connection: the one it opened (same header in), or finished (same header out)
            lines = [line for before, after, line in rows if h.before == before or h.packet == after]
            if lines:
                h = dataclasses.replace(h, conntrack=Conntrack(Line(lines[0], "conntrack -L", h.place.name), True))
            else:
                h = dataclasses.replace(h, conntrack=None)
        hops.append(h)
    return dataclasses.replace(t, hops=tuple(hops))


def _reply(cluster: "Cluster", walk: _Walk, source: Any, request: Header, proto: str) -> Trace:
    """The answer to the traced packet, from where it arrived back to the source."""
    final = walk.hops[-1].packet
    back = Header(final.dst, final.dport, final.src, final.sport, proto)
    rw = _Walk(cluster, source, proto)
    rw.reply_of = walk
    end = walk.end
    try:
        if isinstance(end, Pod):
            rw.from_pod(end, back)
        elif isinstance(end, Node):
            rw.reply_through_node(end, back, None)
        elif isinstance(end, Host):
            rw.from_host(end, back)
        for node_index, leg in reversed(walk.proxy_legs):
            node = cluster.node_record(node_index)
            if rw.end is not node and rw.end != node:
                break
            answer = Header(leg.dst, leg.dport, leg.src, leg.sport, proto)
            rw.hop(rw.node_place(node), answer, rw.proxy_socket_line(node, leg),
                   "kube-proxy copies the backend's answer onto the client's own connection, whose socket "
                   "it accepted on this port", via="kube-proxy socket")
            rw.end = None
            rw.reply_through_node(node, answer, None)
        if rw.end == source or rw.end is source:
            got = rw.hops[-1].packet
            ok = got.src == request.dst and got.sport == request.dport
            verdict = Verdict.DELIVERED
            reason = (f"the reply reaches {_label(source)} from {got.src}:{got.sport}, the address it connected to"
                      if ok else f"the reply reaches {_label(source)} from {got.src}:{got.sport}, but it connected to "
                      f"{request.dst}:{request.dport}: its socket would not take it")
            if not ok:
                verdict = Verdict.DROPPED
        else:
            verdict, reason = Verdict.DROPPED, (f"the reply ended at {_label(rw.end)}, not at {_label(source)}"
                                                if rw.end is not None else "the reply got lost")
    except _Drop as drop:
        verdict, reason = Verdict.DROPPED, drop.reason
    return Trace(_label(end), _label(source), proto, back.dport, tuple(rw.hops), verdict, reason,
                 _label(rw.end) if rw.end is not None else None, masquerade=tuple(rw.masquerade), cluster=cluster)


def _judge(cluster: "Cluster", walk: _Walk, intended: Any) -> tuple[Verdict, str]:
    end = walk.end
    if isinstance(intended, Pod) and isinstance(end, Pod) and end != intended:
        same_ip = end.ip == intended.ip
        why = (f" Both have the address {end.ip}: with plugin 'none' every node's docker0 hands out the same "
               "172.17.0.0/16 range, so an address does not say which node a pod is on."
               if same_ip else "")
        return Verdict.MISDELIVERED, (
            f"the packet for pod {intended.name} on {cluster.node_record(intended.node).name} reached pod "
            f"{end.name} on {cluster.node_record(end.node).name} instead.{why}")
    if isinstance(end, Pod) and walk.listener is None:
        answer = {"tcp": "a TCP reset (connection refused)", "udp": "an ICMP port unreachable",
                  "sctp": "an SCTP ABORT"}[walk.protocol]
        port = walk.hops[-1].packet.dport
        declared = sorted({f"{p.protocol.lower()}/{p.port}" for c in end.containers for p in c.ports})
        return Verdict.REFUSED, (f"the packet reached {_label(end)}, but nothing there listens on "
                                 f"{walk.protocol}/{port} ({'its containers declare ' + ', '.join(declared) if declared else 'its containers declare no ports'}): "
                                 f"the kernel answers with {answer}")
    if isinstance(intended, ServiceTarget):
        return Verdict.DELIVERED, f"delivered to {_label(end)}, an endpoint of Service {intended.name}"
    if isinstance(intended, ipaddress.IPv4Address) or end is intended or end == intended:
        return Verdict.DELIVERED, f"delivered to {_label(end)}"
    if isinstance(intended, Node) and isinstance(end, Pod):
        return Verdict.DELIVERED, f"delivered to {_label(end)} (a Service behind the node's port)"
    return Verdict.DELIVERED, f"delivered to {_label(end)}"


