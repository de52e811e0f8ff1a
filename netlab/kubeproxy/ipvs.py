"""kube-proxy's IPVS mode: virtual servers, ipsets and the iptables rules it keeps, as data and text.

IPVS mode arrived in v1.8 (beta v1.9, GA v1.11) to scale to tens of thousands of
Services, and is **deprecated since v1.35** (KEP-5495); nftables mode (GA v1.33) is the
way forward. netlab teaches it because the source document does and because it shows a
second way to build Services: the kernel's load balancer instead of NAT rules.

:func:`build` follows ``syncProxyRules`` and ``writeIptablesRules`` of
``pkg/proxy/ipvs/proxier.go`` (the facts sheet's S5, roughly v1.31+) for one full sync
on one node, and returns an :class:`IpvsSync`:

* **virtual servers** (:class:`VirtualServer`): one per ClusterIP:port, external IP:port,
  load-balancer IP:port and node IP x nodePort, scheduler ``rr`` unless
  ``ProxyConfig.ipvs_scheduler`` says otherwise, ``persistent <timeout>`` for ClientIP
  affinity; real servers (:class:`RealServer`) forward with ``Masq`` at weight 1.
  Which endpoints a virtual server gets is ``syncEndpoint``'s rule: the ClusterIP one
  follows ``internalTrafficPolicy``, the others ``externalTrafficPolicy``; with policy
  ``Local`` it gets the *local* endpoints, and **if there are none, every cluster
  endpoint** (kubernetes PR #97081: pods on the node may still use it; traffic from
  outside is forwarded unmasqueraded and its replies go astray);
* the **addresses bound to the dummy interface** ``kube-ipvs0`` (:func:`ipvs_addresses`):
  every ClusterIP, and every external and load-balancer IP that is not already an
  address of another interface; so the node treats a Service VIP as its own;
* the **ipsets** (names, types and comments of ``ipsetInfo``) and their entries;
* the **iptables rules** in the order ``writeIptablesRules`` writes them (nat first,
  then filter), plus the jump rules from the built-in chains and kubelet's
  ``KUBE-FIREWALL`` rule, as :class:`netlab.model.netfilter.Rule` data with
  :class:`~netlab.model.netfilter.SetMatch` and friends;
* the **sysctls** kube-proxy sets at start (:func:`sysctls`), as data; netlab does not
  apply them.

Texts: :func:`render_ipvsadm` (``ipvsadm -Ln``), :func:`render_ipset` (``ipset save``),
:func:`render_save` (``iptables-save``) and :func:`render_restore` (the
``iptables-restore`` input).

**Packets** (:class:`IpvsEngine`). IPVS hooks into netfilter at LOCAL_IN, after
``filter INPUT`` (priority 99), and at LOCAL_OUT, after ``nat OUTPUT`` and before
``filter OUTPUT`` (priority -98; ``ip_vs_ops4`` in ``net/netfilter/ipvs/ip_vs_core.c``).
A packet for a virtual server (protocol, VIP, port) is scheduled to a real server,
its destination rewritten (verdict ``IPVS``, one :class:`~netlab.kubeproxy.engine.Step`
per real server), and sent on through LOCAL_OUT, where ``filter OUTPUT`` sees it (the
kernel's ``ip_vs_nat_xmit`` calls ``NF_HOOK(LOCAL_OUT)``; the nat table is not walked
again because the connection's destination NAT is already bound), then routed and
through ``nat POSTROUTING``, where ``KUBE-POSTROUTING`` masquerades marked packets and
the ``KUBE-LOOP-BACK`` set masquerades hairpin traffic. So the INPUT step of a
scheduled packet carries the ``filter INPUT`` lines, the two ``ipvsadm -Ln`` lines
(service and destination) and the ``filter OUTPUT`` lines, each :class:`Line` naming its
table and chain; ``Branch.hooks`` lists the netfilter hooks only.

**A virtual server with no real servers** (a Service without endpoints): the scheduler
finds no destination and ``ip_vs_leave()`` sends ICMP port unreachable and drops the
packet (``ip_vs_core.c``; ``ip_vs_scheduler_err`` logs, rate-limited, ``IPVS: rr: TCP
10.0.0.12:80 - no destination available``). On the wire that is what iptables'
``REJECT`` sends, so the verdict is ``REJECT``, decided by IPVS at INPUT, where iptables
mode decides it in ``filter``.

**Conntrack.** With ``net/ipv4/vs/conntrack=1`` IPVS rewrites the connection's reply
tuple (``ip_vs_update_conntrack``) but, as far as netlab's sources show, does not set
the ``DNAT`` status bit that ``-m conntrack --ctstate DNAT`` tests. netlab still adds
``DNAT`` to the traced packet's ``ctstate`` to mark "destination rewritten", which is
what :func:`~netlab.kubeproxy.flow.trace_flow` reads; no IPVS-mode rule tests it.

**How IPVS mode differs from iptables mode** (the tests pin each one):

* ``externalTrafficPolicy: Local``: there is no short-circuit for pods and the node;
  a pod or the node reaching a NodePort or LB IP gets the *local* endpoints only, and
  is not masqueraded (``KUBE-NODE-PORT-LOCAL-TCP`` / ``KUBE-LOAD-BALANCER-LOCAL``
  return early). With no local endpoint, external traffic is forwarded to every
  endpoint unmasqueraded instead of being dropped.
* ``internalTrafficPolicy: Local`` with no local endpoint: a ClusterIP-only Service
  has no real servers, so the answer is ICMP port unreachable (``REJECT``) where
  iptables mode drops; a Service that is also externally reachable falls back to every
  endpoint.
* Localhost NodePorts (``127.0.0.1:<nodePort>``) do not exist: ``KUBE-SERVICES``
  returns at once for ``-s 127.0.0.0/8`` and there is no virtual server on 127.0.0.1.
* A ClusterIP on a port that is not a Service port is refused (``KUBE-IPVS-FILTER``
  rejects new connections to any address on ``kube-ipvs0``, issue 72236); iptables
  mode routes it on.
* ClientIP affinity is kept per virtual server (an IPVS persistence template
  ``<client, VIP, port>``), so a client sticky through the ClusterIP is not sticky
  through a NodePort of the same Service; iptables mode keeps one ``-m recent`` list per
  endpoint, shared by all of them.
* Node-originated traffic: the VIPs are local, so a process that does not bind a
  source address gets the VIP itself as source (the local route has ``src <VIP>``);
  that is why, without a cluster CIDR, kube-proxy masquerades ``src,dst`` matches of
  ``KUBE-CLUSTER-IP``. netlab traces the source you give it.

Choices where the sources are silent or kube-proxy is random:

* Services are handled sorted by namespace and name (kube-proxy walks a Go map), node
  IPs in ``ProxyConfig.node_ips`` order; so are the ``kube-ipvs0`` addresses.
* ``ipvsadm`` sorts services and destinations with ``ipvs_cmp_services`` /
  ``ipvs_cmp_dests`` (libipvs) and glibc's merge sort. Those comparators subtract
  addresses as unsigned 32-bit numbers into a signed ``int``, so addresses more than
  128.0.0.0 apart compare "the wrong way round" (``168.63.0.1`` sorts before
  ``10.0.0.1``). netlab reproduces that; when the addresses of one protocol span more
  than half the address space the comparison is not even transitive and the real order
  depends on the kernel's hash-table order, which netlab replaces by kube-proxy's
  creation order.
* ``ipset save`` lists sets in creation order (kube-proxy creates them walking a Go
  map: random), netlab in ``ipsetInfo`` order; hash-set members in hash order
  (random), netlab sorted; ``initval`` is drawn at random by the kernel when a set is
  created, netlab prints a fixed value (CRC-32 of the set name) so the text never
  changes. The format is ipset 7.x on a kernel with hash bucket sizing (5.11+:
  ``bucketsize 12 initval 0x...``).
* For schedulers other than ``rr`` the trace lists every real server as an equally
  likely branch: which one wins depends on live connection counts or a hash of the
  client that netlab does not model.
* ``ipvsadm`` shows the ``mh`` scheduler's source-hash flag as ``mh (mh-port)``
  (ipvsadm 1.29+ prints scheduler flags in brackets; recalled, not re-read).
* This machine's kernel has no IPVS module: everything here is a model.

Taught in ``notebooks/08-kube-proxy-modes.ipynb``.

Example:
    >>> from netlab.kubeproxy.api import ProxyConfig
    >>> cfg = ProxyConfig(node_name="node-a", node_ips=["10.224.0.4"], cluster_cidr="10.244.0.0/16")
    >>> svc = {"metadata": {"name": "web", "namespace": "shop"},
    ...        "spec": {"clusterIP": "10.0.0.12", "ports": [{"port": 80}]}}
    >>> eps = {"metadata": {"name": "web-1", "namespace": "shop", "labels": {"kubernetes.io/service-name": "web"}},
    ...        "addressType": "IPv4", "ports": [{"name": "", "port": 8080}],
    ...        "endpoints": [{"addresses": ["10.244.1.9"], "nodeName": "node-b"}]}
    >>> print(render_ipvsadm(build([svc], [eps], cfg)).rstrip())  # doctest: +NORMALIZE_WHITESPACE
    IP Virtual Server version 1.2.1 (size=4096)
    Prot LocalAddress:Port Scheduler Flags
      -> RemoteAddress:Port           Forward Weight ActiveConn InActConn
    TCP  10.0.0.12:80 rr
      -> 10.244.1.9:8080              Masq    1      0          0

Size: one mode, one module, in the order of upstream's IPVS proxier: the virtual servers, the ipsets
and the iptables rules it keeps, their three printed forms (ipvsadm, ipset, iptables) and the engine
that walks them belong to one sync.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import ConfigError, NotFoundError, did_you_mean
from ..model.netfilter import (
    BUILTIN_CHAINS,
    AddrType,
    Comment,
    Conntrack,
    IPSet,
    Mark,
    Match,
    PhysDev,
    Protocol,
    Refusal,
    Rule,
    SetMatch,
    Source,
    format_save,
)
from . import iptables
from .api import IPVS_SCHEDULERS, EndpointInfo, EndpointSlice, ProxyConfig, Service, ServicePortInfo, service_ports
from .engine import IptablesEngine, Line, Step, check_hook, iptables_line
from .modes import BuiltMode
from .naming import join_host_port

# --------------------------------------------------------------------------------------
# Names kube-proxy uses (proxier.go, ipset.go)
# --------------------------------------------------------------------------------------

KUBE_SERVICES = "KUBE-SERVICES"
KUBE_POSTROUTING = "KUBE-POSTROUTING"
KUBE_NODE_PORT = "KUBE-NODE-PORT"  # singular in IPVS mode, in both nat and filter
KUBE_LOAD_BALANCER = "KUBE-LOAD-BALANCER"
KUBE_MARK_MASQ = "KUBE-MARK-MASQ"
KUBE_FORWARD = "KUBE-FORWARD"
KUBE_PROXY_FIREWALL = "KUBE-PROXY-FIREWALL"
KUBE_SOURCE_RANGES_FIREWALL = "KUBE-SOURCE-RANGES-FIREWALL"
KUBE_IPVS_FILTER = "KUBE-IPVS-FILTER"
KUBE_IPVS_OUT_FILTER = "KUBE-IPVS-OUT-FILTER"

#: The dummy interface the Service VIPs are bound to (``defaultDummyDevice``).
DUMMY_DEVICE = "kube-ipvs0"

#: ``iptablesChains``: the chain lines of the restore input, per table, in order.
NAT_CHAINS = (KUBE_SERVICES, KUBE_POSTROUTING, KUBE_NODE_PORT, KUBE_LOAD_BALANCER, KUBE_MARK_MASQ)
FILTER_CHAINS = (KUBE_FORWARD, KUBE_NODE_PORT, KUBE_PROXY_FIREWALL, KUBE_SOURCE_RANGES_FIREWALL,
                 KUBE_IPVS_FILTER, KUBE_IPVS_OUT_FILTER)

#: ``iptablesJumpChain``: (table, from built-in chain, to, comment). No conntrack match here.
_JUMP_CHAINS = (
    ("nat", "OUTPUT", KUBE_SERVICES, "kubernetes service portals"),
    ("nat", "PREROUTING", KUBE_SERVICES, "kubernetes service portals"),
    ("nat", "POSTROUTING", KUBE_POSTROUTING, "kubernetes postrouting rules"),
    ("filter", "FORWARD", KUBE_FORWARD, "kubernetes forwarding rules"),
    ("filter", "INPUT", KUBE_NODE_PORT, "kubernetes health check rules"),
    ("filter", "INPUT", KUBE_PROXY_FIREWALL, "kube-proxy firewall rules"),
    ("filter", "FORWARD", KUBE_PROXY_FIREWALL, "kube-proxy firewall rules"),
    ("filter", "INPUT", KUBE_IPVS_FILTER, "kubernetes ipvs access filter"),
    ("filter", "OUTPUT", KUBE_IPVS_OUT_FILTER, "kubernetes ipvs access filter"),
)

KUBE_LOOP_BACK = "KUBE-LOOP-BACK"
KUBE_CLUSTER_IP = "KUBE-CLUSTER-IP"
KUBE_EXTERNAL_IP = "KUBE-EXTERNAL-IP"
KUBE_EXTERNAL_IP_LOCAL = "KUBE-EXTERNAL-IP-LOCAL"
KUBE_LOAD_BALANCER_SET = "KUBE-LOAD-BALANCER"
KUBE_LOAD_BALANCER_LOCAL = "KUBE-LOAD-BALANCER-LOCAL"
KUBE_LOAD_BALANCER_FW = "KUBE-LOAD-BALANCER-FW"
KUBE_LOAD_BALANCER_SOURCE_IP = "KUBE-LOAD-BALANCER-SOURCE-IP"
KUBE_LOAD_BALANCER_SOURCE_CIDR = "KUBE-LOAD-BALANCER-SOURCE-CIDR"
KUBE_NODE_PORT_TCP = "KUBE-NODE-PORT-TCP"
KUBE_NODE_PORT_LOCAL_TCP = "KUBE-NODE-PORT-LOCAL-TCP"
KUBE_NODE_PORT_UDP = "KUBE-NODE-PORT-UDP"
KUBE_NODE_PORT_LOCAL_UDP = "KUBE-NODE-PORT-LOCAL-UDP"
KUBE_NODE_PORT_SCTP = "KUBE-NODE-PORT-SCTP-HASH"
KUBE_NODE_PORT_LOCAL_SCTP = "KUBE-NODE-PORT-LOCAL-SCTP-HASH"
KUBE_HEALTH_CHECK_NODE_PORT = "KUBE-HEALTH-CHECK-NODE-PORT"
KUBE_IPVS_IPS = "KUBE-IPVS-IPS"

#: ``ipsetInfo``: (name, type, comment), in the order proxier.go declares them.
IPSET_INFO: tuple[tuple[str, str, str], ...] = (
    (KUBE_LOOP_BACK, "hash:ip,port,ip", "Kubernetes endpoints dst ip:port, source ip for solving hairpin purpose"),
    (KUBE_CLUSTER_IP, "hash:ip,port", "Kubernetes service cluster ip + port for masquerade purpose"),
    (KUBE_EXTERNAL_IP, "hash:ip,port", "Kubernetes service external ip + port for masquerade and filter purpose"),
    (KUBE_EXTERNAL_IP_LOCAL, "hash:ip,port", "Kubernetes service external ip + port with externalTrafficPolicy=local"),
    (KUBE_LOAD_BALANCER_SET, "hash:ip,port", "Kubernetes service lb portal"),
    (KUBE_LOAD_BALANCER_FW, "hash:ip,port",
     "Kubernetes service load balancer ip + port for load balancer with sourceRange"),
    (KUBE_LOAD_BALANCER_LOCAL, "hash:ip,port",
     "Kubernetes service load balancer ip + port with externalTrafficPolicy=local"),
    (KUBE_LOAD_BALANCER_SOURCE_IP, "hash:ip,port,ip",
     "Kubernetes service load balancer ip + port + source IP for packet filter purpose"),
    (KUBE_LOAD_BALANCER_SOURCE_CIDR, "hash:ip,port,net",
     "Kubernetes service load balancer ip + port + source cidr for packet filter purpose"),
    (KUBE_NODE_PORT_TCP, "bitmap:port", "Kubernetes nodeport TCP port for masquerade purpose"),
    (KUBE_NODE_PORT_LOCAL_TCP, "bitmap:port", "Kubernetes nodeport TCP port with externalTrafficPolicy=local"),
    (KUBE_NODE_PORT_UDP, "bitmap:port", "Kubernetes nodeport UDP port for masquerade purpose"),
    (KUBE_NODE_PORT_LOCAL_UDP, "bitmap:port", "Kubernetes nodeport UDP port with externalTrafficPolicy=local"),
    (KUBE_NODE_PORT_SCTP, "hash:ip,port",
     "Kubernetes nodeport SCTP port for masquerade purpose with type 'hash ip:port'"),
    (KUBE_NODE_PORT_LOCAL_SCTP, "hash:ip,port",
     "Kubernetes nodeport SCTP port with externalTrafficPolicy=local with type 'hash ip:port'"),
    (KUBE_HEALTH_CHECK_NODE_PORT, "bitmap:port", "Kubernetes health check node port"),
    (KUBE_IPVS_IPS, "hash:ip", "Addresses on the ipvs interface"),
)
_IPSET_TYPE = {name: type_ for name, type_, _ in IPSET_INFO}
_IPSET_COMMENT = {name: comment for name, _, comment in IPSET_INFO}

#: ``ipsetWithIptablesChain``: (set, table, from chain, to, match flags, protocol match).
#: The Local NodePort sets come before the plain ones, as proxier.go requires.
_SET_RULES = (
    (KUBE_LOOP_BACK, "nat", KUBE_POSTROUTING, "MASQUERADE", ("dst", "dst", "src"), ""),
    (KUBE_LOAD_BALANCER_SET, "nat", KUBE_SERVICES, KUBE_LOAD_BALANCER, ("dst", "dst"), ""),
    (KUBE_LOAD_BALANCER_LOCAL, "nat", KUBE_LOAD_BALANCER, "RETURN", ("dst", "dst"), ""),
    (KUBE_NODE_PORT_LOCAL_TCP, "nat", KUBE_NODE_PORT, "RETURN", ("dst",), "tcp"),
    (KUBE_NODE_PORT_TCP, "nat", KUBE_NODE_PORT, KUBE_MARK_MASQ, ("dst",), "tcp"),
    (KUBE_NODE_PORT_LOCAL_UDP, "nat", KUBE_NODE_PORT, "RETURN", ("dst",), "udp"),
    (KUBE_NODE_PORT_UDP, "nat", KUBE_NODE_PORT, KUBE_MARK_MASQ, ("dst",), "udp"),
    (KUBE_NODE_PORT_LOCAL_SCTP, "nat", KUBE_NODE_PORT, "RETURN", ("dst", "dst"), "sctp"),
    (KUBE_NODE_PORT_SCTP, "nat", KUBE_NODE_PORT, KUBE_MARK_MASQ, ("dst", "dst"), "sctp"),
    (KUBE_LOAD_BALANCER_FW, "filter", KUBE_PROXY_FIREWALL, KUBE_SOURCE_RANGES_FIREWALL, ("dst", "dst"), ""),
    (KUBE_LOAD_BALANCER_SOURCE_CIDR, "filter", KUBE_SOURCE_RANGES_FIREWALL, "RETURN", ("dst", "dst", "src"), ""),
    (KUBE_LOAD_BALANCER_SOURCE_IP, "filter", KUBE_SOURCE_RANGES_FIREWALL, "RETURN", ("dst", "dst", "src"), ""),
)

#: The IPVS schedulers the kernel ships; kube-proxy passes ``--ipvs-scheduler`` through and
#: falls back to iptables mode if the scheduler's module is missing.
SCHEDULERS = IPVS_SCHEDULERS

#: ``utilipvs.FlagPersistent`` and ``FlagSourceHash`` (= ``IP_VS_SVC_F_SCHED2``, "mh-port").
FLAG_PERSISTENT = 0x1
FLAG_SOURCE_HASH = 0x10

#: ``ipvsadm -Ln``'s first line: IPVS 1.2.1 and the default connection table size (2**12).
IPVSADM_VERSION_LINE = "IP Virtual Server version 1.2.1 (size=4096)"
IPVSADM_TITLE = (
    "Prot LocalAddress:Port Scheduler Flags",
    "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn",
)

_PROTO_NUMBER = {"tcp": 6, "udp": 17, "sctp": 132}
_LOOPBACK = ipaddress.ip_network("127.0.0.0/8")

#: The ``-m recent``-style entry name under which :class:`IpvsMode` records a client's
#: persistence template (``Context.recent`` holds ``(name, client)`` pairs).
TEMPLATE_PREFIX = "ipvs-template "


# --------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RealServer:
    """One IPVS destination (``ipvsadm -a -r``): an endpoint of the Service.

    Attributes:
        ip, port: the endpoint.
        weight: kube-proxy always adds real servers at weight 1 (0 while draining).
        forward: the forwarding method ``ipvsadm`` prints; kube-proxy leaves it at NAT, ``Masq``.
    """

    ip: ipaddress.IPv4Address
    port: int
    weight: int = 1
    forward: str = "Masq"

    @property
    def endpoint(self) -> str:
        """``"IP:port"``."""
        return join_host_port(self.ip, self.port)

    def line(self) -> str:
        """The ``ipvsadm -Ln`` destination line: ``"  -> %-28s %-7s %-6d %-10u %-10u"`` (ActiveConn and InActConn 0).

        Example:
            >>> RealServer(ipaddress.ip_address("10.244.1.9"), 8080).line()
            '  -> 10.244.1.9:8080              Masq    1      0          0         '
        """
        return "  -> %-28s %-7s %-6d %-10u %-10u" % (self.endpoint[:28], self.forward, self.weight, 0, 0)


@dataclass(frozen=True, slots=True)
class VirtualServer:
    """One IPVS virtual service (``ipvsadm -A -t VIP:port``) and its real servers.

    Attributes:
        protocol: ``"tcp"``, ``"udp"`` or ``"sctp"``.
        address, port: the VIP and port.
        scheduler: ``rr`` unless ``--ipvs-scheduler`` says otherwise.
        flags: ``FLAG_PERSISTENT`` (ClientIP affinity) and/or ``FLAG_SOURCE_HASH`` (``mh``).
        timeout: the persistence timeout (``sessionAffinityConfig.clientIP.timeoutSeconds``), 0 without.
        real_servers: its destinations.
        service: the service port name (``ns/svc:port``) it belongs to.
        kind: ``"cluster IP"``, ``"external IP"``, ``"load balancer IP"`` or ``"node port"``.
        local_policy: whether its endpoints were chosen by a ``Local`` traffic policy.
        refusal: why it has no real servers, if it has none (IPVS then refuses new connections);
            not part of its text, equality or repr.
    """

    protocol: str
    address: ipaddress.IPv4Address
    port: int
    scheduler: str
    flags: int = 0
    timeout: int = 0
    real_servers: tuple[RealServer, ...] = ()
    service: str = ""
    kind: str = ""
    local_policy: bool = False
    refusal: Refusal | None = field(default=None, compare=False, repr=False)

    @property
    def key(self) -> tuple[ipaddress.IPv4Address, str, int]:
        """How IPVS finds it for a packet: destination address, protocol, destination port."""
        return (self.address, self.protocol, self.port)

    @property
    def persistent(self) -> bool:
        return bool(self.flags & FLAG_PERSISTENT)

    @property
    def name(self) -> str:
        """``ipvsadm``'s name for it: ``"TCP  10.0.0.12:80"`` (protocol, two spaces, address:port)."""
        return f"{self.protocol.upper()}  {join_host_port(self.address, self.port)}"

    def line(self) -> str:
        """The ``ipvsadm -Ln`` service line.

        Example:
            >>> VirtualServer("tcp", ipaddress.ip_address("10.0.0.1"), 443, "rr", FLAG_PERSISTENT, 10800).line()
            'TCP  10.0.0.1:443 rr persistent 10800'
        """
        text = f"{self.name[:33]} {self.scheduler}"
        if self.flags & FLAG_SOURCE_HASH:
            text += f" ({_SCHED_FLAG_NAMES.get(self.scheduler, 'flag-2')})"
        if self.persistent:
            text += f" persistent {self.timeout}"
        return text

    def sorted_real_servers(self) -> tuple[RealServer, ...]:
        """The real servers in the order ``ipvsadm`` prints them (``ipvs_cmp_dests``)."""
        return _ipvsadm_sort(self.real_servers, _dest_key, _cmp_dests)


_SCHED_FLAG_NAMES = {"mh": "mh-port", "sh": "sh-port"}


@dataclass(frozen=True, slots=True)
class Sysctl:
    """A sysctl kube-proxy sets when it starts in IPVS mode (``proxier.go`` NewProxier).

    Attributes:
        key: the ``/proc/sys`` path, as kube-proxy names it (``net/ipv4/vs/conntrack``).
        value: the value it writes.
        why: when and why.
    """

    key: str
    value: int
    why: str = ""

    def __str__(self) -> str:
        return f"{self.key.replace('/', '.')} = {self.value}"


@dataclass(frozen=True, slots=True)
class IPVSMatch(Match):
    """``-m ipvs --vaddr A --vproto P --vport N``: the packet belongs to an IPVS connection of that virtual server.

    kube-proxy writes it in ``KUBE-IPVS-OUT-FILTER``. netlab's generic evaluator does not
    know it; :class:`IpvsEngine` resolves it, because only IPVS knows which virtual
    server a packet went through. ``iptables-save`` prints ``--vproto`` as a number,
    before ``--vaddr``, and a /32 ``--vaddr`` without its mask (libxt_ipvs).

    Example:
        >>> m = IPVSMatch(ipaddress.ip_address("20.1.2.5"), "tcp", 80)
        >>> " ".join(m.restore_args()), " ".join(m.save_args())
        ('-m ipvs --vaddr 20.1.2.5 --vproto tcp --vport 80', '-m ipvs --vproto 6 --vaddr 20.1.2.5 --vport 80')
    """

    vaddr: ipaddress.IPv4Address
    vproto: str
    vport: int

    def restore_args(self) -> tuple[str, ...]:
        return ("-m", "ipvs", "--vaddr", str(self.vaddr), "--vproto", self.vproto, "--vport", str(self.vport))

    def save_args(self) -> tuple[str, ...]:
        return ("-m", "ipvs", "--vproto", str(_PROTO_NUMBER[self.vproto]), "--vaddr", str(self.vaddr),
                "--vport", str(self.vport))

    def covers(self, vs: VirtualServer | None) -> bool:
        return vs is not None and (vs.address, vs.protocol, vs.port) == (self.vaddr, self.vproto, self.vport)


@dataclass(frozen=True, slots=True)
class TableSync:
    """One table of the restore input: chain lines and rules in kube-proxy's order."""

    table: str
    chains: tuple[str, ...]
    rules: tuple[Rule, ...]


@dataclass(frozen=True)
class IpvsSync:
    """Everything one full sync of kube-proxy's IPVS mode puts in the kernel on one node.

    Attributes:
        virtual_servers: in the order kube-proxy creates them.
        ipsets: every set of ``ipsetInfo`` (also the empty ones), with its entries.
        nat, filter: the two tables of the restore input (nat is written first).
        ensured: the jump rules from the built-in chains (kube-proxy's and kubelet's, in
            their kernel order) and kubelet's ``KUBE-FIREWALL`` localnet rule.
        bound_addresses: the VIPs on ``kube-ipvs0``.
        sysctls: what kube-proxy sets at start (on a 5.9+ kernel).
        scheduler: the IPVS scheduler.
    """

    virtual_servers: tuple[VirtualServer, ...]
    ipsets: tuple[IPSet, ...]
    nat: TableSync
    filter: TableSync
    ensured: tuple[Rule, ...]
    bound_addresses: tuple[ipaddress.IPv4Address, ...]
    sysctls: tuple[Sysctl, ...]
    scheduler: str

    @property
    def rules(self) -> tuple[Rule, ...]:
        """All iptables rules: the ensured ones, then nat's, then filter's."""
        return self.ensured + self.nat.rules + self.filter.rules

    def ipset(self, name: str) -> IPSet:
        """The ipset called ``name``."""
        for s in self.ipsets:
            if s.name == name:
                return s
        raise NotFoundError(
            f"IPVS mode has no ipset {name!r}; its sets are {', '.join(n for n, _, _ in IPSET_INFO)}"
            + did_you_mean(name, [n for n, _, _ in IPSET_INFO])
        )


# --------------------------------------------------------------------------------------
# Settings
# --------------------------------------------------------------------------------------


def check_scheduler(name: str) -> str:
    """Check ``--ipvs-scheduler`` and return the scheduler kube-proxy uses (empty means ``rr``).

    Example:
        >>> check_scheduler(""), check_scheduler("wrr")
        ('rr', 'wrr')
    """
    if name == "" or name is None:
        return "rr"
    if not isinstance(name, str) or name not in SCHEDULERS:
        raise ConfigError(
            f"ipvs_scheduler {name!r} is not an IPVS scheduler the kernel ships; use one of "
            f"{', '.join(SCHEDULERS)} (kube-proxy's default is rr)" + did_you_mean(str(name), SCHEDULERS)
        )
    return name


def _scheduler(cfg: ProxyConfig) -> str:
    return check_scheduler(cfg.ipvs_scheduler)


def sysctls(cfg: ProxyConfig, kernel: tuple[int, int] = (5, 15)) -> tuple[Sysctl, ...]:
    """The sysctls kube-proxy sets when it starts in IPVS mode, in its order.

    Args:
        cfg: the node's settings (``ipvs_strict_arp`` adds the ARP pair).
        kernel: the node's kernel version; ``conn_reuse_mode`` is set to 0 only on
            kernels 4.1 to 5.8 (5.9 fixed the bug it works around, issue 93297).

    Example:
        >>> for s in sysctls(ProxyConfig(node_name="n", node_ips=["10.224.0.4"])):
        ...     print(s)
        net.ipv4.vs.conntrack = 1
        net.ipv4.vs.expire_nodest_conn = 1
        net.ipv4.vs.expire_quiescent_template = 1
        net.ipv4.ip_forward = 1
    """
    out = [Sysctl("net/ipv4/vs/conntrack", 1, "IPVS keeps conntrack entries, so iptables NAT and "
                                               "conntrack states work on IPVS traffic")]
    if (4, 1) <= tuple(kernel) < (5, 9):
        out.append(Sysctl("net/ipv4/vs/conn_reuse_mode", 0, "kernels 4.1-5.8: avoid 1 s stalls when a "
                                                              "source port is reused (issue 93297)"))
    out += [
        Sysctl("net/ipv4/vs/expire_nodest_conn", 1, "drop connections whose real server was removed"),
        Sysctl("net/ipv4/vs/expire_quiescent_template", 1, "expire persistence templates of weight-0 real servers"),
        Sysctl("net/ipv4/ip_forward", 1, "forward packets to real servers on other nodes"),
    ]
    if getattr(cfg, "ipvs_strict_arp", False):
        out += [
            Sysctl("net/ipv4/conf/all/arp_ignore", 1, "--ipvs-strict-arp: answer ARP only for the receiving "
                                                      "interface's own addresses (not kube-ipvs0's VIPs)"),
            Sysctl("net/ipv4/conf/all/arp_announce", 2, "--ipvs-strict-arp: never announce a VIP as ARP source"),
        ]
    return tuple(out)


# --------------------------------------------------------------------------------------
# Building one sync
# --------------------------------------------------------------------------------------


def _real_servers(endpoints: Iterable[EndpointInfo]) -> tuple[RealServer, ...]:
    seen: dict[str, RealServer] = {}
    for ep in endpoints:
        seen.setdefault(ep.endpoint, RealServer(ep.ip, ep.port))  # type: ignore[arg-type]
    return tuple(seen.values())


def _endpoints_for(info: ServicePortInfo, only_local: bool) -> tuple[EndpointInfo, ...]:
    """``syncEndpoint``: Local policy takes the local endpoints, or every cluster endpoint if there are none."""
    if only_local and info.local_endpoints:
        return info.local_endpoints
    return info.cluster_endpoints


def _node_ips(cfg: ProxyConfig) -> tuple[ipaddress.IPv4Address, ...]:
    """The addresses NodePort virtual servers are created on (loopback never: ``isValidForSet``)."""
    if cfg.nodeport_addresses is None:
        candidates = cfg.node_ips
    else:
        candidates = cfg.nodeport_ips()
    out: list[ipaddress.IPv4Address] = []
    for a in candidates:
        if a not in _LOOPBACK and a not in out:
            out.append(a)
    return tuple(out)


def _jump_rules() -> tuple[Rule, ...]:
    """Jumps from the built-in chains in their final kernel order.

    kubelet has already put ``-j KUBE-FIREWALL`` in filter INPUT and OUTPUT; kube-proxy
    then prepends each of ``iptablesJumpChain`` (``EnsureRule(Prepend, ...)``), so the
    last one added to a chain comes first.
    """
    chains: dict[tuple[str, str], list[Rule]] = {
        ("filter", "INPUT"): [Rule("filter", "INPUT", (), iptables.KUBE_FIREWALL)],
        ("filter", "OUTPUT"): [Rule("filter", "OUTPUT", (), iptables.KUBE_FIREWALL)],
    }
    for table, src, dst, comment in _JUMP_CHAINS:
        rule = Rule(table, src, (Comment(comment),), dst)
        existing = chains.setdefault((table, src), [])
        if rule not in existing:
            existing.insert(0, rule)
    ordered: list[Rule] = []
    for table in ("filter", "nat"):
        for chain in BUILTIN_CHAINS[table]:
            ordered.extend(chains.get((table, chain), ()))
    # kubelet's own rule in KUBE-FIREWALL (IPVS mode never writes that chain).
    ordered.append(iptables.localnet_rule())
    return tuple(ordered)


_JUMPS = _jump_rules()


class _Sets:
    """The active entries of every ipset during one sync."""

    def __init__(self) -> None:
        self.entries: dict[str, set[tuple]] = {name: set() for name, _, _ in IPSET_INFO}

    def add(self, name: str, entry: tuple) -> None:
        self.entries[name].add(entry)

    def empty(self, name: str) -> bool:
        return not self.entries[name]

    def freeze(self) -> tuple[IPSet, ...]:
        return tuple(IPSet(name, type_, frozenset(self.entries[name])) for name, type_, _ in IPSET_INFO)


def _set_match(name: str, flags: tuple[str, ...]) -> SetMatch:
    return SetMatch(name, flags)


def build(
    services: Iterable[Mapping[str, Any] | Service],
    slices: Iterable[Mapping[str, Any] | EndpointSlice],
    cfg: ProxyConfig,
    *,
    kernel: tuple[int, int] = (5, 15),
) -> IpvsSync:
    """Compute one full sync of kube-proxy's IPVS mode on the node ``cfg`` describes.

    Args:
        services: Service dicts (``kubectl get svc -o json`` items) or parsed Services.
        slices: EndpointSlice dicts or parsed EndpointSlices.
        cfg: the node's kube-proxy settings (``ipvs_scheduler``, ``ipvs_strict_arp`` too).
        kernel: the node's kernel version, for :func:`sysctls`.

    Returns:
        The :class:`IpvsSync`.

    Raises:
        ServiceError: for a malformed Service or EndpointSlice.
        ConfigError: for an unknown IPVS scheduler.

    Example:
        >>> from netlab.kubeproxy.api import ProxyConfig
        >>> sync = build([], [], ProxyConfig(node_name="n", node_ips=["10.224.0.4"]))
        >>> sync.nat.chains
        ('KUBE-SERVICES', 'KUBE-POSTROUTING', 'KUBE-NODE-PORT', 'KUBE-LOAD-BALANCER', 'KUBE-MARK-MASQ')
        >>> len(sync.ipsets), sync.virtual_servers
        (17, ())
    """
    scheduler = _scheduler(cfg)
    infos = service_ports(services, slices, cfg)
    sets = _Sets()
    vservers: list[VirtualServer] = []
    bound: dict[ipaddress.IPv4Address, None] = {}
    node_addresses = set(cfg.node_ips)  # all local addresses but kube-ipvs0's (loopback excluded)
    no_node_access: list[tuple[ipaddress.IPv4Address, str, int]] = []
    node_ips = _node_ips(cfg) if any(i.node_port for i in infos) else ()
    base_flags = FLAG_SOURCE_HASH if scheduler == "mh" else 0

    for info in infos:
        proto, port, spn = info.protocol, info.port.port, info.name
        flags, timeout = base_flags, 0
        if info.affinity_seconds is not None:
            flags |= FLAG_PERSISTENT
            timeout = info.affinity_seconds

        def vs(address: ipaddress.IPv4Address, vport: int, kind: str, only_local: bool) -> None:
            eps = _endpoints_for(info, only_local)
            refusal = None if eps else Refusal.NO_LOCAL_ENDPOINTS if info.has_endpoints else Refusal.NO_ENDPOINTS
            vservers.append(VirtualServer(proto, address, vport, scheduler, flags, timeout, _real_servers(eps),
                                          spn, kind, only_local and bool(info.local_endpoints), refusal))

        # Hairpin: every local endpoint (ready or not) may reach itself through the VIP.
        for ep in info.endpoints:
            if ep.is_local:
                sets.add(KUBE_LOOP_BACK, (ep.ip, (proto, ep.port), ep.ip))

        # The cluster IP: always bound, always a virtual server (even with no endpoints).
        sets.add(KUBE_CLUSTER_IP, (info.cluster_ip, (proto, port)))
        vs(info.cluster_ip, port, "cluster IP", info.internal_policy_local)
        bound.setdefault(info.cluster_ip)

        for address in info.external_ips:
            sets.add(KUBE_EXTERNAL_IP_LOCAL if info.external_policy_local else KUBE_EXTERNAL_IP,
                     (address, (proto, port)))
            vs(address, port, "external IP", info.external_policy_local)
            if address not in node_addresses:  # never bind an address another interface holds
                bound.setdefault(address)

        for address in info.load_balancer_ips:
            entry = (address, (proto, port))
            sets.add(KUBE_LOAD_BALANCER_SET, entry)
            if info.external_policy_local:
                sets.add(KUBE_LOAD_BALANCER_LOCAL, entry)
            if info.source_ranges:
                sets.add(KUBE_LOAD_BALANCER_FW, entry)
                allow_from_node = False
                for cidr in info.source_ranges:
                    sets.add(KUBE_LOAD_BALANCER_SOURCE_CIDR, (address, (proto, port), cidr))
                    allow_from_node = allow_from_node or cfg.node_ips[0] in cidr
                if allow_from_node:
                    # The node reaches a local LB VIP with the VIP as source.
                    sets.add(KUBE_LOAD_BALANCER_SOURCE_IP, (address, (proto, port), address))
                else:
                    no_node_access.append((address, proto, port))
            vs(address, port, "load balancer IP", info.external_policy_local)
            if address not in node_addresses:
                bound.setdefault(address)

        if info.node_port:
            if not node_ips:
                continue  # kube-proxy skips the rest of this Service port, health check included
            if proto == "sctp":
                np_set, np_local = KUBE_NODE_PORT_SCTP, KUBE_NODE_PORT_LOCAL_SCTP
                entries: list[tuple] = [(a, ("sctp", info.node_port)) for a in node_ips]
            else:
                np_set = KUBE_NODE_PORT_TCP if proto == "tcp" else KUBE_NODE_PORT_UDP
                np_local = KUBE_NODE_PORT_LOCAL_TCP if proto == "tcp" else KUBE_NODE_PORT_LOCAL_UDP
                entries = [(info.node_port,)]
            for e in entries:
                sets.add(np_set, e)
                if info.external_policy_local:
                    sets.add(np_local, e)
            for address in node_ips:
                vs(address, info.node_port, "node port", info.external_policy_local)

        if info.health_check_node_port:
            sets.add(KUBE_HEALTH_CHECK_NODE_PORT, (info.health_check_node_port,))

    for address in bound:
        sets.add(KUBE_IPVS_IPS, (address,))

    nat_rules, filter_rules = _write_iptables_rules(sets, cfg, no_node_access)
    return IpvsSync(
        virtual_servers=tuple(vservers),
        ipsets=sets.freeze(),
        nat=TableSync("nat", NAT_CHAINS, tuple(nat_rules)),
        filter=TableSync("filter", FILTER_CHAINS, tuple(filter_rules)),
        ensured=_JUMPS,
        bound_addresses=tuple(bound),
        sysctls=sysctls(cfg, kernel),
        scheduler=scheduler,
    )


def _write_iptables_rules(
    sets: _Sets, cfg: ProxyConfig, no_node_access: Sequence[tuple[ipaddress.IPv4Address, str, int]]
) -> tuple[list[Rule], list[Rule]]:
    """``writeIptablesRules``, in its order."""
    nat: list[Rule] = []
    flt: list[Rule] = []

    def add(table: str, chain: str, matches: tuple[Match, ...], target: str | None, *args: str,
            refusal: Refusal | None = None) -> None:
        (nat if table == "nat" else flt).append(Rule(table, chain, matches, target, args, refusal=refusal))

    # 1. Dismiss connections from localhost early.
    add("nat", KUBE_SERVICES, (Source(_LOOPBACK),), "RETURN")

    # 2. One rule per non-empty set of ipsetWithIptablesChain.
    for name, table, src, dst, flags, proto in _SET_RULES:
        if sets.empty(name):
            continue
        matches: tuple[Match, ...] = (Protocol(proto),) if proto else ()
        matches += (Comment(_IPSET_COMMENT[name]), _set_match(name, flags))
        add(table, src, matches, dst)

    # 3. Masquerade for cluster IPs.
    if not sets.empty(KUBE_CLUSTER_IP):
        head = (Comment(_IPSET_COMMENT[KUBE_CLUSTER_IP]),)
        if cfg.masquerade_all:
            add("nat", KUBE_SERVICES, (*head, _set_match(KUBE_CLUSTER_IP, ("dst", "dst"))), KUBE_MARK_MASQ)
        elif cfg.cluster_cidr is not None:
            add("nat", KUBE_SERVICES, (*head, _set_match(KUBE_CLUSTER_IP, ("dst", "dst")),
                                       Source(cfg.cluster_cidr, negate=True)), KUBE_MARK_MASQ)
        else:
            # Node traffic that picked a VIP as its source (the VIPs are local addresses).
            add("nat", KUBE_SERVICES, (*head, _set_match(KUBE_CLUSTER_IP, ("src", "dst"))), KUBE_MARK_MASQ)

    # 4. External IPs: masquerade (Cluster policy only), then accept off-node and dst-local traffic.
    def external_ip_rules(head: tuple[Match, ...]) -> None:
        add("nat", KUBE_SERVICES, (*head, PhysDev(negate=True), AddrType(src_type="LOCAL", src_negate=True)),
            "ACCEPT")
        add("nat", KUBE_SERVICES, (*head, AddrType(dst_type="LOCAL")), "ACCEPT")

    for name, masquerade in ((KUBE_EXTERNAL_IP, True), (KUBE_EXTERNAL_IP_LOCAL, False)):
        if sets.empty(name):
            continue
        head = (Comment(_IPSET_COMMENT[name]), _set_match(name, ("dst", "dst")))
        if masquerade:
            add("nat", KUBE_SERVICES, head, KUBE_MARK_MASQ)
        external_ip_rules(head)

    # 5-7. NodePorts, LB masquerade, the source-range drop.
    add("nat", KUBE_SERVICES, (AddrType(dst_type="LOCAL"),), KUBE_NODE_PORT)
    add("nat", KUBE_LOAD_BALANCER, (), KUBE_MARK_MASQ)
    add("filter", KUBE_SOURCE_RANGES_FIREWALL, (), "DROP", refusal=Refusal.FIREWALL)

    # 8. LBs whose source ranges leave out the node: the node (VIP as source) may not use them.
    for address, proto, port in no_node_access:
        add("filter", KUBE_IPVS_OUT_FILTER, (Source(address), IPVSMatch(address, proto, port)), "DROP",
            refusal=Refusal.FIREWALL)

    # 9. Accept what IPVS will take, whatever other rules say (acceptIPVSTraffic).
    for name in (KUBE_CLUSTER_IP, KUBE_LOAD_BALANCER_SET):
        if not sets.empty(name):
            add("nat", KUBE_SERVICES, (_set_match(name, ("dst", "dst")),), "ACCEPT")

    # 10. KUBE-FORWARD (no INVALID drop in IPVS mode).
    mark = cfg.masquerade_value
    add("filter", KUBE_FORWARD, (Comment("kubernetes forwarding rules"), Mark(mark, mark)), "ACCEPT")
    add("filter", KUBE_FORWARD, (Comment("kubernetes forwarding conntrack rule"),
                                 Conntrack(("RELATED", "ESTABLISHED"))), "ACCEPT")

    # 11. Health check node ports.
    add("filter", KUBE_NODE_PORT, (Comment(_IPSET_COMMENT[KUBE_HEALTH_CHECK_NODE_PORT]),
                                   _set_match(KUBE_HEALTH_CHECK_NODE_PORT, ("dst",))), "ACCEPT")

    # 12. KUBE-IPVS-FILTER: Service VIP:port and health checks pass; other new
    # connections to a kube-ipvs0 address are refused (issue 72236).
    for name in (KUBE_LOAD_BALANCER_SET, KUBE_CLUSTER_IP, KUBE_EXTERNAL_IP, KUBE_EXTERNAL_IP_LOCAL):
        add("filter", KUBE_IPVS_FILTER, (_set_match(name, ("dst", "dst")),), "RETURN")
    add("filter", KUBE_IPVS_FILTER, (_set_match(KUBE_HEALTH_CHECK_NODE_PORT, ("dst",)),), "RETURN")
    add("filter", KUBE_IPVS_FILTER, (Conntrack(("NEW",)), _set_match(KUBE_IPVS_IPS, ("dst",))), "REJECT",
        refusal=Refusal.INVALID_PORT)

    # 13. KUBE-POSTROUTING and KUBE-MARK-MASQ, as in iptables mode.
    add("nat", KUBE_POSTROUTING, (Mark(mark, mark, negate=True),), "RETURN")
    add("nat", KUBE_POSTROUTING, (), "MARK", "--xor-mark", cfg.masquerade_mark)
    masq_args = ("--random-fully",) if cfg.random_fully else ()
    add("nat", KUBE_POSTROUTING, (Comment("kubernetes service traffic requiring SNAT"),), "MASQUERADE", *masq_args)
    add("nat", KUBE_MARK_MASQ, (), "MARK", "--or-mark", cfg.masquerade_mark)
    return nat, flt


def ipvs_addresses(sync: IpvsSync) -> tuple[ipaddress.IPv4Address, ...]:
    """The VIPs kube-proxy binds to ``kube-ipvs0``: ClusterIPs, external IPs and LB IPs.

    Each is a /32 with ``scope global`` (``ip addr show kube-ipvs0`` prints
    ``inet 10.0.0.12/32 scope global kube-ipvs0``). An external or LB IP that is already
    an address of another interface is not bound again.

    Example:
        >>> from netlab.kubeproxy.api import ProxyConfig
        >>> svc = {"metadata": {"name": "web"}, "spec": {"clusterIP": "10.0.0.12", "ports": [{"port": 80}]}}
        >>> ipvs_addresses(build([svc], [], ProxyConfig(node_name="n", node_ips=["10.224.0.4"])))
        (IPv4Address('10.0.0.12'),)
    """
    return sync.bound_addresses


# --------------------------------------------------------------------------------------
# ipvsadm's sort (libipvs ipvs_cmp_services / ipvs_cmp_dests + glibc qsort = merge sort)
# --------------------------------------------------------------------------------------


def _c_int(value: int) -> int:
    """A difference of two unsigned 32-bit numbers stored in a C ``int``."""
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value & 0x80000000 else value


def _service_key(vs: VirtualServer) -> tuple[int, int, int]:
    return (_PROTO_NUMBER[vs.protocol], int(vs.address), vs.port)


def _dest_key(rs: RealServer) -> tuple[int, int, int]:
    return (0, int(rs.ip), rs.port)


def _cmp_services(a: tuple[int, int, int], b: tuple[int, int, int]) -> int:
    return (a[0] - b[0]) or _c_int(a[1] - b[1]) or (a[2] - b[2])


_cmp_dests = _cmp_services  # the protocol field of a destination key is always 0


def _msort(items: list, keys: list, cmp) -> list:
    """glibc ``msort_with_tmp``: top-down merge sort, left half ``n/2``, takes the left item when ``cmp <= 0``."""
    return _msort_pair(items, keys, cmp)[0]


def _msort_pair(items: list, keys: list, cmp) -> tuple[list, list]:
    n = len(items)
    if n <= 1:
        return items, keys
    n1 = n // 2
    left, lk = _msort_pair(items[:n1], keys[:n1], cmp)
    right, rk = _msort_pair(items[n1:], keys[n1:], cmp)
    out, ok, i, j = [], [], 0, 0
    while i < len(left) and j < len(right):
        if cmp(lk[i], rk[j]) <= 0:
            out.append(left[i])
            ok.append(lk[i])
            i += 1
        else:
            out.append(right[j])
            ok.append(rk[j])
            j += 1
    out += left[i:]
    ok += lk[i:]
    out += right[j:]
    ok += rk[j:]
    return out, ok


def _rotation(addresses: Iterable[int]) -> int | None:
    """Where the comparator's circular order starts, if it is a total order on ``addresses``.

    ``int(a - b)`` orders addresses correctly when all of them fit in less than half the
    32-bit circle; the order then starts just after the widest gap between neighbours.
    Returns None when they do not fit (the comparison is then not transitive).
    """
    points = sorted(set(addresses))
    if len(points) <= 1:
        return 0
    gaps = [(points[i + 1] - points[i], points[i + 1]) for i in range(len(points) - 1)]
    gaps.append(((points[0] - points[-1]) % (1 << 32), points[0]))
    widest, start = max(gaps)
    if (1 << 32) - widest >= (1 << 31):
        return None
    return start


def _ipvsadm_sort(items: Sequence, key, cmp) -> tuple:
    """Sort as ipvsadm does, fast when the comparator is a total order (the usual case)."""
    keys = [key(x) for x in items]
    by_proto: dict[int, list[int]] = {}
    for k in keys:
        by_proto.setdefault(k[0], []).append(k[1])
    starts = {p: _rotation(addrs) for p, addrs in by_proto.items()}
    if all(s is not None for s in starts.values()):
        order = sorted(range(len(items)),
                       key=lambda i: (keys[i][0], (keys[i][1] - starts[keys[i][0]]) % (1 << 32), keys[i][2]))
        return tuple(items[i] for i in order)
    return tuple(_msort(list(items), keys, cmp))


# --------------------------------------------------------------------------------------
# Texts
# --------------------------------------------------------------------------------------


def render_ipvsadm(sync: IpvsSync) -> str:
    """Print ``ipvsadm -Ln``: the virtual servers and their real servers, as ipvsadm sorts them.

    The destination lines end with spaces (``%-10u``), as the real output does.

    Example:
        >>> from netlab.kubeproxy.api import ProxyConfig
        >>> print(render_ipvsadm(build([], [], ProxyConfig(node_name="n", node_ips=["10.224.0.4"]))), end="")
        IP Virtual Server version 1.2.1 (size=4096)
        Prot LocalAddress:Port Scheduler Flags
          -> RemoteAddress:Port           Forward Weight ActiveConn InActConn
    """
    out = [IPVSADM_VERSION_LINE, *IPVSADM_TITLE]
    for vs in _ipvsadm_sort(sync.virtual_servers, _service_key, _cmp_services):
        out.append(vs.line())
        out.extend(rs.line() for rs in vs.sorted_real_servers())
    return "\n".join(out) + "\n"


def _initval(name: str) -> int:
    # The kernel draws initval at random when a set is created; netlab fixes it per name.
    return zlib.crc32(name.encode())


def _ipset_member(type_: str, entry: tuple) -> str:
    dims = type_.split(":", 1)[1].split(",")
    if type_.startswith("bitmap:"):
        return str(entry[0])
    parts = []
    for dim, value in zip(dims, entry):
        if dim == "port":
            parts.append(f"{value[0]}:{value[1]}")
        elif dim == "net" and value.prefixlen == value.max_prefixlen:
            parts.append(str(value.network_address))  # ipset prints a host without /32
        else:
            parts.append(str(value))
    return ",".join(parts)


def _member_key(entry: tuple) -> tuple:
    key: list[Any] = []
    for value in entry:
        if isinstance(value, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
            key.append((0, int(value), 0))
        elif isinstance(value, (ipaddress.IPv4Network, ipaddress.IPv6Network)):
            key.append((0, int(value.network_address), value.prefixlen))
        elif isinstance(value, tuple):
            key.append((1, _PROTO_NUMBER.get(value[0], 0), value[1]))
        else:
            key.append((2, int(value), 0))
    return tuple(key)


def render_ipset(sync: IpvsSync) -> str:
    """Print ``ipset save`` for kube-proxy's sets (ipset 7.x, kernel 5.11+).

    Every set kube-proxy creates is there, empty ones too: a ``create`` line, then one
    ``add`` line per member (see the module notes on order and ``initval``).

    Example:
        >>> from netlab.kubeproxy.api import ProxyConfig
        >>> svc = {"metadata": {"name": "web"}, "spec": {"clusterIP": "10.0.0.12", "ports": [{"port": 80}]}}
        >>> text = render_ipset(build([svc], [], ProxyConfig(node_name="n", node_ips=["10.224.0.4"])))
        >>> for l in text.splitlines():
        ...     if "KUBE-CLUSTER-IP" in l:
        ...         print(l)
        create KUBE-CLUSTER-IP hash:ip,port family inet hashsize 1024 maxelem 65536 bucketsize 12 initval 0x06f03586
        add KUBE-CLUSTER-IP 10.0.0.12,tcp:80
    """
    out: list[str] = []
    for s in sync.ipsets:
        if s.type.startswith("bitmap:"):
            out.append(f"create {s.name} {s.type} range 0-65535")
            members = sorted(s.entries, key=lambda e: e[0])
        else:
            out.append(f"create {s.name} {s.type} family inet hashsize 1024 maxelem 65536 "
                       f"bucketsize 12 initval 0x{_initval(s.name):08x}")
            members = sorted(s.entries, key=_member_key)
        out.extend(f"add {s.name} {_ipset_member(s.type, e)}" for e in members)
    return "\n".join(out) + "\n"


_JUMP_NOTE = {
    "nat": (
        "# Not part of the restore input, added before it and shown here as they end up in the kernel:",
        "# kube-proxy inserts each jump from a built-in chain with `iptables -t nat -I <chain> ...` (EnsureRule).",
    ),
    "filter": (
        "# Not part of the restore input, added before it and shown here as they end up in the kernel:",
        "# kube-proxy inserts each jump from a built-in chain with `iptables -t filter -I <chain> ...`",
        "# (EnsureRule); kubelet added the KUBE-FIREWALL jumps (and its rule) when it started.",
    ),
}


def render_restore(sync: IpvsSync, *, with_jumps: bool = True) -> str:
    """Print the ``iptables-restore`` input of an IPVS-mode sync: ``*nat`` first, then ``*filter``.

    Args:
        sync: the result of :func:`build`.
        with_jumps: also list, as ``#`` comment lines after each table's chain lines, the
            rules added outside the restore (``iptables-restore`` skips comments).

    Example:
        >>> from netlab.kubeproxy.api import ProxyConfig
        >>> text = render_restore(build([], [], ProxyConfig(node_name="n", node_ips=["10.224.0.4"])), with_jumps=False)
        >>> text.splitlines()[:2], text.splitlines()[6]
        (['*nat', ':KUBE-SERVICES - [0:0]'], '-A KUBE-SERVICES -s 127.0.0.0/8 -j RETURN')
    """
    return iptables.restore_text((sync.nat, sync.filter), sync.ensured, with_jumps=with_jumps, notes=_JUMP_NOTE)


def render_save(sync: IpvsSync, extra_rules: tuple[Rule, ...] = ()) -> str:
    """Print what ``iptables-save`` shows on an IPVS-mode node (kube-proxy's and kubelet's rules).

    Same layout as iptables mode's :func:`netlab.kubeproxy.iptables.render_save`: one block
    per table (mangle, filter, nat) with the fixed header date, built-in chains first,
    then user chains sorted by name. kubelet's ``KUBE-KUBELET-CANARY`` is there; IPVS mode
    has no ``KUBE-PROXY-CANARY`` (only the iptables proxier watches a canary).

    Example:
        >>> from netlab.kubeproxy.api import ProxyConfig
        >>> text = render_save(build([], [], ProxyConfig(node_name="n", node_ips=["10.224.0.4"])))
        >>> for l in text.splitlines():
        ...     if l.startswith("-A INPUT"):
        ...         print(l)
        -A INPUT -m comment --comment "kubernetes ipvs access filter" -j KUBE-IPVS-FILTER
        -A INPUT -m comment --comment "kube-proxy firewall rules" -j KUBE-PROXY-FIREWALL
        -A INPUT -m comment --comment "kubernetes health check rules" -j KUBE-NODE-PORT
        -A INPUT -j KUBE-FIREWALL
    """
    declared = {"mangle": set(), "filter": set(sync.filter.chains) | {iptables.KUBE_FIREWALL},
                "nat": set(sync.nat.chains)}
    return iptables.save_text(sync.rules + tuple(extra_rules), declared, canaries=(iptables.KUBE_KUBELET_CANARY,))


# --------------------------------------------------------------------------------------
# Packets
# --------------------------------------------------------------------------------------

_STEP_FIELDS = getattr(Step, "__dataclass_fields__", {})


def _step(probability: float, verdict: str, packet, lines, masqueraded: bool, note: str, examined: int) -> Step:
    # ``examined`` (the cost a packet paid) is a newer Step field; pass it only when it exists.
    if "examined" in _STEP_FIELDS:
        return Step(probability, verdict, packet, tuple(lines), masqueraded, note, examined)  # type: ignore[call-arg]
    return Step(probability, verdict, packet, tuple(lines), masqueraded, note)


def _examined(step: Step) -> int:
    return getattr(step, "examined", 0)


def _has_ipvs_match(rule: Rule) -> bool:
    return any(isinstance(m, IPVSMatch) for m in rule.matches)


@dataclass(frozen=True)
class IpvsEngine:
    """IPVS mode on one node, hook by hook (see the module notes).

    ``PREROUTING``, ``FORWARD`` and ``POSTROUTING`` are plain iptables. ``INPUT`` walks
    ``filter INPUT``, then IPVS schedules a packet for a virtual server (verdict
    ``IPVS``; ``REJECT`` when it has no real servers) and ``filter OUTPUT`` sees the
    rewritten packet. ``OUTPUT`` walks ``nat OUTPUT``, then IPVS, then ``filter OUTPUT``.
    """

    sync: IpvsSync
    _plain: IptablesEngine = field(init=False, repr=False, compare=False)
    _nat: IptablesEngine = field(init=False, repr=False, compare=False)
    _vs: dict = field(init=False, repr=False, compare=False)
    _filters: dict = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Rules with ``-m ipvs`` only match packets IPVS handled; without IPVS they are as good as absent.
        plain = tuple(r for r in self.sync.rules if not _has_ipvs_match(r))
        object.__setattr__(self, "_plain", IptablesEngine(plain))
        object.__setattr__(self, "_nat", IptablesEngine(tuple(r for r in plain if r.table == "nat")))
        object.__setattr__(self, "_vs", {vs.key: vs for vs in self.sync.virtual_servers})
        object.__setattr__(self, "_filters", {})

    def virtual_server(self, packet) -> VirtualServer | None:
        """The virtual server a packet is for (protocol, destination address and port), if any."""
        return self._vs.get((packet.dst, packet.proto, packet.dport))

    def _filter(self, vs: VirtualServer | None) -> tuple[IptablesEngine, dict[str, Line]]:
        """``filter`` with ``-m ipvs`` resolved for packets that went through ``vs``."""
        key = vs.key if vs is not None else None
        if key not in self._filters:
            rules: list[Rule] = []
            originals: dict[str, Line] = {}
            for rule in self.sync.rules:
                if rule.table != "filter":
                    continue
                ipvs_matches = [m for m in rule.matches if isinstance(m, IPVSMatch)]
                if not ipvs_matches:
                    rules.append(rule)
                elif all(m.covers(vs) for m in ipvs_matches):
                    resolved = dataclasses.replace(rule, matches=tuple(m for m in rule.matches
                                                                       if not isinstance(m, IPVSMatch)))
                    rules.append(resolved)
                    originals[format_save(resolved)] = iptables_line(rule)
            self._filters[key] = (IptablesEngine(tuple(rules)), originals)
        return self._filters[key]

    def _filter_output(self, s: Step, vs: VirtualServer | None, packet, ctx, head: tuple[Line, ...],
                       probability: float, verdict_if_accepted: str, note: str, examined: int) -> list[Step]:
        engine, originals = self._filter(vs)
        out = []
        for f in engine.run("OUTPUT", packet, ctx):
            lines = tuple(originals.get(line.text, line) for line in f.lines)
            verdict = verdict_if_accepted if f.verdict == "ACCEPT" else f.verdict
            out.append(_step(probability * f.probability, verdict, f.packet, s.lines + head + lines,
                             s.masqueraded or f.masqueraded, note, examined + _examined(f)))
        return out

    def _schedule(self, vs: VirtualServer, packet, ctx) -> tuple[list[tuple[float, RealServer]], bool]:
        """The real servers a new connection may go to, and whether a persistence template chose."""
        servers = vs.sorted_real_servers()
        if not servers:
            return [], False
        if vs.persistent:
            for rs in servers:
                if (TEMPLATE_PREFIX + rs.endpoint, packet.src) in ctx.recent:
                    return [(1.0, rs)], True  # the template decides, the scheduler is not asked
        return [(1.0 / len(servers), rs) for rs in servers], False

    def _ipvs(self, s: Step, vs: VirtualServer, ctx) -> list[Step]:
        vs_line = Line("ipvsadm", vs.name, vs.line())
        examined = _examined(s) + 1  # one hash lookup in the IPVS service table
        choices, by_template = self._schedule(vs, s.packet, ctx)
        if not choices:
            vs_line = dataclasses.replace(vs_line, refusal=vs.refusal)
            note = (f"IPVS virtual server {vs.name} has no real servers: ip_vs_leave() answers ICMP port "
                    f"unreachable and drops the packet")
            return [_step(s.probability, "REJECT", s.packet, s.lines + (vs_line,), s.masqueraded, note, examined)]
        out: list[Step] = []
        for p, rs in choices:
            packet = dataclasses.replace(s.packet, dst=rs.ip, dport=rs.port, ctstate=s.packet.ctstate | {"DNAT"})
            head = (vs_line, Line("ipvsadm", vs.name, rs.line().rstrip()))
            how = "the client's persistence template" if by_template else f"scheduler {vs.scheduler}"
            note = f"IPVS virtual server {vs.name} -> real server {rs.endpoint} ({how}, {rs.forward})"
            out.extend(self._filter_output(s, vs, packet, ctx, head, s.probability * p, "IPVS", note, examined))
        return out

    def run(self, hook: str, packet, ctx) -> tuple[Step, ...]:
        """The ways ``packet`` can leave ``hook`` on this node."""
        check_hook(hook)
        if hook == "INPUT":
            out: list[Step] = []
            for s in self._plain.run("INPUT", packet, ctx):
                vs = self.virtual_server(s.packet) if s.verdict == "ACCEPT" else None
                out.extend(self._ipvs(s, vs, ctx) if vs is not None else (s,))
            return tuple(out)
        if hook == "OUTPUT":
            out = []
            for s in self._nat.run("OUTPUT", packet, ctx):
                if s.verdict != "ACCEPT":
                    out.append(s)
                    continue
                vs = self.virtual_server(s.packet)
                if vs is not None:
                    out.extend(self._ipvs(s, vs, ctx))
                else:
                    out.extend(self._filter_output(s, None, s.packet, ctx, (), s.probability, "ACCEPT", s.note,
                                                   _examined(s) + 1))
            return tuple(out)
        return self._plain.run(hook, packet, ctx)


@dataclass(frozen=True)
class IpvsMode(BuiltMode):
    """IPVS mode set up on one node: :class:`BuiltMode` with IPVS persistence templates as affinity."""

    affinity_holder = "a real server of any IPVS virtual server on this node"

    def affinity_keys(self) -> Mapping[str, tuple[str, ...]]:
        """Real server -> its persistence template. IPVS keeps one template per client and virtual
        server; netlab's ``affinity=`` means "the virtual server this packet reaches has a template
        for this client pointing at that real server"."""
        known = sorted({rs.endpoint for vs in self.extra.virtual_servers for rs in vs.real_servers})
        return {endpoint: (TEMPLATE_PREFIX + endpoint,) for endpoint in known}


def built_mode(
    services: Iterable[Mapping[str, Any] | Service],
    slices: Iterable[Mapping[str, Any] | EndpointSlice],
    cfg: ProxyConfig,
) -> IpvsMode:
    """IPVS mode for the node ``cfg`` describes, ready for :func:`netlab.kubeproxy.flow.trace_flow`.

    Example:
        >>> from netlab.kubeproxy.api import ProxyConfig
        >>> svc = {"metadata": {"name": "web"}, "spec": {"clusterIP": "10.0.0.12", "ports": [{"port": 80}]}}
        >>> built_mode([svc], [], ProxyConfig(node_name="n", node_ips=["10.224.0.4"])).local_addresses
        (IPv4Address('10.0.0.12'),)
    """
    sync = build(services, slices, cfg)
    return IpvsMode("ipvs", IpvsEngine(sync), sync.rules, sync.ipsets, ipvs_addresses(sync), extra=sync,
                    dummy_device=DUMMY_DEVICE)


__all__ = [
    "DUMMY_DEVICE", "IPSET_INFO", "IPVSMatch", "IpvsEngine", "IpvsMode", "IpvsSync", "RealServer", "SCHEDULERS",
    "Sysctl", "VirtualServer", "build", "built_mode", "check_scheduler", "ipvs_addresses", "render_ipset",
    "render_ipvsadm", "render_restore", "render_save", "sysctls",
]
