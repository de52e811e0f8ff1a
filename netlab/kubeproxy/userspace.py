"""kube-proxy's historical userspace mode: Service traffic redirected into the kube-proxy process.

**Removed in v1.26** (kubernetes PR #112133; deprecated in v1.23, PR #104631): since
then ``--proxy-mode userspace`` fails. It was kube-proxy's first mode (iptables mode
became the default in v1.2), and netlab keeps it because the source document teaches
it and because it shows what the later modes avoid: every byte of every Service
connection passed through a user-space process.

How it worked (``pkg/proxy/userspace/proxier.go``, the facts sheet's S9, ~v1.17):

* each Service port got a **proxy port**: a listening socket of the kube-proxy process
  (TCP or UDP), bound to ``--bind-address`` (``0.0.0.0`` by default);
* iptables rules in the ``nat`` table send Service traffic to that socket:
  ``KUBE-PORTALS-CONTAINER`` (from ``PREROUTING``: traffic that comes in, from pods or
  other hosts) ``REDIRECT --to-ports <proxy port>``; ``KUBE-PORTALS-HOST`` (from
  ``OUTPUT``: the node's own traffic) ``DNAT --to-destination <node IP>:<proxy port>``,
  because REDIRECT on locally generated packets breaks the replies; NodePorts the same
  in ``KUBE-NODEPORT-CONTAINER`` / ``KUBE-NODEPORT-HOST`` (jumped to last, for local
  destinations), and ``filter KUBE-NODEPORT-NON-LOCAL`` accepts new connections to the
  proxy port (``-m state --state NEW``) against default-deny firewalls;
* the process accepts the connection, picks a backend **round-robin** (over a shuffled
  endpoint list; with ClientIP affinity it remembers each client's backend), and opens
  **a new connection of its own** to it, then copies bytes both ways. So the backend
  sees the node's address, never the client's: the client IP is lost in every case
  (userspace mode had no ``externalTrafficPolicy: Local``). If the dial fails it tries
  the next backend (timeouts 250 ms, 500 ms, 1 s, 2 s). With no endpoints it logs
  ``Couldn't find an endpoint for <svc>: missing endpoints`` and closes the connection.

The rules are added one by one with ``iptables -A`` / ``-I`` (``EnsureRule``), not with
``iptables-restore``, so :func:`render_save` prints the ``iptables-save`` form only.
:func:`render_proxy` prints a netlab table of the proxy sockets (no kube-proxy tool
printed one; the nearest were its logs, ``Proxying for service "ns/svc:port" on TCP
port 36461``).

**Packets** (:class:`UserspaceEngine`): the iptables rules at every hook; then at
``INPUT`` a packet for a proxy port ends in the kube-proxy process: verdict ``PROXY``,
one :class:`~netlab.kubeproxy.engine.Step` per backend (equal chances; a client with
an affinity entry gets its backend), ``note`` the backend ``"IP:port"``, and lines: the
proxy socket's row of :func:`render_proxy` and kube-proxy's log line
``Mapped service "<svc>" to endpoint <IP:port>``. The trace ends there: what follows
is a new connection from the node to the backend.

Choices where the sources are silent or kube-proxy was random:

* **Proxy ports.** kube-proxy asked the kernel for any free port (port 0: one from
  ``net.ipv4.ip_local_port_range``, 32768-60999 by default) or picked at random in
  ``--proxy-port-range``. netlab derives each port from the service port name and
  protocol: ``lo + sha256("<ns/svc:port>/<proto>") mod (hi - lo + 1)``, the next free
  one on a collision (Services taken sorted by namespace and name, node ports never
  used), so adding a Service does not renumber the others.
* Backends: ready endpoints only (the Endpoints API's ``addresses``), traffic policies
  ignored, as the userspace proxier did.
* Services are handled sorted by namespace and name (kube-proxy walked a Go map).
* Only the chains the userspace proxier made are printed, not kubelet's of that era
  (``KUBE-MARK-DROP``, ``KUBE-MARK-MASQ``, ``KUBE-POSTROUTING``, ``KUBE-FIREWALL``)
  nor a CNI plugin's; the ``iptables-save`` header is netlab's usual fixed one.
* netlab's evaluator sends a ``REDIRECT`` packet to ``127.0.0.1``; the kernel uses
  the incoming interface's primary address (``cbr0``'s, ``eth0``'s). Both are local
  and the proxy socket listens on ``0.0.0.0``, so the packet reaches the same socket.

Taught in ``notebooks/08-kube-proxy-modes.ipynb``.

Example:
    >>> from netlab.kubeproxy.api import ProxyConfig
    >>> cfg = ProxyConfig(node_name="node-a", node_ips=["10.224.0.4"])
    >>> svc = {"metadata": {"name": "web", "namespace": "shop"},
    ...        "spec": {"clusterIP": "10.0.0.12", "ports": [{"port": 80}]}}
    >>> sync = build([svc], [], cfg)
    >>> for l in render_save(sync).splitlines():
    ...     if l.startswith("-A KUBE-PORTALS"):
    ...         print(l)
    -A KUBE-PORTALS-CONTAINER -d 10.0.0.12/32 -p tcp -m comment --comment "shop/web" -m tcp --dport 80 -j REDIRECT --to-ports 34934
    -A KUBE-PORTALS-HOST -d 10.0.0.12/32 -p tcp -m comment --comment "shop/web" -m tcp --dport 80 -j DNAT --to-destination 10.224.0.4:34934
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import CapacityError, ConfigError
from ..model.netfilter import (
    Address,
    AddrType,
    Comment,
    Conntrack,
    Destination,
    Match,
    MatchModule,
    PhysDev,
    PortOption,
    Protocol,
    Refusal,
    Rule,
    ip,
)
from . import iptables
from .api import EndpointSlice, ProxyConfig, Service, ServicePortInfo, service_ports
from .engine import IptablesEngine, Line, Step, check_hook
from .modes import BuiltMode
from .naming import join_host_port

KUBE_PORTALS_CONTAINER = "KUBE-PORTALS-CONTAINER"
KUBE_PORTALS_HOST = "KUBE-PORTALS-HOST"
KUBE_NODEPORT_CONTAINER = "KUBE-NODEPORT-CONTAINER"
KUBE_NODEPORT_HOST = "KUBE-NODEPORT-HOST"
KUBE_NODEPORT_NON_LOCAL = "KUBE-NODEPORT-NON-LOCAL"

PORTALS_COMMENT = "handle ClusterIPs; NOTE: this must be before the NodePort rules"
NODEPORTS_COMMENT = "handle service NodePorts; NOTE: this must be the last rule in the chain"
NON_LOCAL_COMMENT = "Ensure that non-local NodePort traffic can flow"

#: Linux's default ``net.ipv4.ip_local_port_range``: where port-0 listeners get their port.
DEFAULT_PROXY_PORT_RANGE = (32768, 60999)

_ANY = ipaddress.ip_address("0.0.0.0")

#: The entry name under which :class:`UserspaceMode` records a client's affinity to a backend.
AFFINITY_PREFIX = "userspace-affinity "


@dataclass(frozen=True, slots=True)
class State(Conntrack):
    """``-m state --state NEW``: the older spelling of the conntrack state match.

    It matches exactly as ``-m conntrack --ctstate`` does (iptables implements it as an
    alias of the conntrack match), and ``iptables-save`` prints it back as ``-m state``.

    Example:
        >>> " ".join(State(("NEW",)).save_args())
        '-m state --state NEW'
    """

    def restore_args(self) -> tuple[str, ...]:
        return ("-m", "state", *(("!",) if self.negate else ()), "--state", ",".join(self.states))

    def save_args(self) -> tuple[str, ...]:
        return self.restore_args()


@dataclass(frozen=True, slots=True)
class ProxySocket:
    """One service port's listening socket in the kube-proxy process.

    Attributes:
        service: the service port name (``ns/svc:port``).
        protocol: ``"tcp"``, ``"udp"`` (or ``"sctp"``, which the userspace proxier refused).
        listen_ip: ``--bind-address`` (``0.0.0.0``: every local address).
        proxy_port: the port it listens on.
        portals: the addresses traffic is captured on (``IP:port``, ``nodePort N``).
        endpoints: the backends (``IP:port``), ready endpoints only.
        affinity_seconds: ClientIP affinity timeout, or None.
    """

    service: str
    protocol: str
    listen_ip: ipaddress.IPv4Address
    proxy_port: int
    portals: tuple[str, ...]
    endpoints: tuple[str, ...]
    affinity_seconds: int | None = None

    @property
    def socket(self) -> str:
        """``"0.0.0.0:36461"``."""
        return join_host_port(self.listen_ip, self.proxy_port)


@dataclass(frozen=True)
class UserspaceSync:
    """What the userspace proxier holds on one node.

    Attributes:
        sockets: one per service port, in netlab's Service order.
        nat_rules, filter_rules: the rules appended to its chains, in the order it appended them.
        ensured: the jumps from the built-in chains, in their kernel order.
        host_ip: the node address host traffic is DNATed to.
        listen_ip: ``--bind-address``.
    """

    sockets: tuple[ProxySocket, ...]
    nat_rules: tuple[Rule, ...]
    filter_rules: tuple[Rule, ...]
    ensured: tuple[Rule, ...]
    host_ip: ipaddress.IPv4Address
    listen_ip: ipaddress.IPv4Address

    @property
    def rules(self) -> tuple[Rule, ...]:
        """All rules: the jumps, then filter's, then nat's."""
        return self.ensured + self.filter_rules + self.nat_rules


def _jump_rules() -> tuple[Rule, ...]:
    """``iptablesInit``: portal jumps prepended, NodePort jumps appended, in their kernel order."""
    nodeports = (AddrType(dst_type="LOCAL"), Comment(NODEPORTS_COMMENT))
    return (
        Rule("filter", "INPUT", (Comment(NON_LOCAL_COMMENT),), KUBE_NODEPORT_NON_LOCAL),
        Rule("nat", "PREROUTING", (Comment(PORTALS_COMMENT),), KUBE_PORTALS_CONTAINER),
        Rule("nat", "PREROUTING", nodeports, KUBE_NODEPORT_CONTAINER),
        Rule("nat", "OUTPUT", (Comment(PORTALS_COMMENT),), KUBE_PORTALS_HOST),
        Rule("nat", "OUTPUT", nodeports, KUBE_NODEPORT_HOST),
    )


_JUMPS = _jump_rules()


def _check_range(port_range: tuple[int, int]) -> tuple[int, int]:
    try:
        lo, hi = (int(p) for p in port_range)
    except (TypeError, ValueError):
        raise ConfigError(
            f"proxy_port_range must be two port numbers (first, last), not {port_range!r}; "
            "kube-proxy's --proxy-port-range is written 'first-last', e.g. 32768-60999"
        ) from None
    if not 1 <= lo <= hi <= 65535:
        raise ConfigError(
            f"proxy_port_range {lo}-{hi} is not a range of ports: give first <= last, both 1-65535"
        )
    return lo, hi


def allocate_proxy_ports(
    keys: Iterable[str], port_range: tuple[int, int] = DEFAULT_PROXY_PORT_RANGE, reserved: Iterable[int] = ()
) -> dict[str, int]:
    """netlab's deterministic stand-in for kube-proxy's proxy port allocation.

    Each key (``"<service port name>/<protocol>"``) starts at
    ``first + sha256(key) mod (last - first + 1)`` and takes the next free port.

    Raises:
        CapacityError: when the range has fewer free ports than keys.

    Example:
        >>> allocate_proxy_ports(["shop/web/tcp"])
        {'shop/web/tcp': 34934}
    """
    lo, hi = _check_range(port_range)
    size = hi - lo + 1
    used = {p for p in reserved if lo <= p <= hi}
    keys = list(keys)
    if len(keys) > size - len(used):
        raise CapacityError(
            f"the userspace proxier needs one proxy port per service port ({len(keys)}), but the range "
            f"{lo}-{hi} has {size - len(used)} free; widen --proxy-port-range (proxy_port_range)"
        )
    out: dict[str, int] = {}
    for key in keys:
        port = lo + int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big") % size
        while port in used:
            port = lo if port == hi else port + 1
        used.add(port)
        out[key] = port
    return out


def _portal_args(info: ServicePortInfo, dest: ipaddress.IPv4Address | None, port: int, physdev: bool,
                 dst_local: bool) -> tuple[Match, ...]:
    """``iptablesCommonPortalArgs``: comment, protocol, port, then -d, physdev, addrtype."""
    proto = info.protocol
    args: tuple[Match, ...] = (Comment(info.name), Protocol(proto), MatchModule(proto), PortOption("dport", port))
    if dest is not None:
        args += (Destination(ipaddress.ip_network(f"{dest}/32")),)
    if physdev:
        args += (PhysDev(negate=True),)
    if dst_local:
        args += (AddrType(dst_type="LOCAL"),)
    return args


def build(
    services: Iterable[Mapping[str, Any] | Service],
    slices: Iterable[Mapping[str, Any] | EndpointSlice],
    cfg: ProxyConfig,
    *,
    listen_ip: str | ipaddress.IPv4Address = "0.0.0.0",
    proxy_port_range: tuple[int, int] = DEFAULT_PROXY_PORT_RANGE,
) -> UserspaceSync:
    """What the userspace proxier sets up on the node ``cfg`` describes.

    Args:
        services: Service dicts or parsed Services.
        slices: EndpointSlice dicts (their ready endpoints stand for the Endpoints
            objects the userspace proxier read) or parsed EndpointSlices.
        cfg: the node's settings; ``node_ips[0]`` is the host IP host traffic is DNATed to.
        listen_ip: ``--bind-address``. ``0.0.0.0`` (the default) makes traffic from
            pods ``REDIRECT``ed; a specific address makes it ``DNAT``ed there.
        proxy_port_range: where proxy ports come from (see :func:`allocate_proxy_ports`).

    Returns:
        The :class:`UserspaceSync`.

    Raises:
        ConfigError: for a loopback or malformed listen address or a bad port range.
        CapacityError: when the port range is too small.
        ServiceError: for a malformed Service or EndpointSlice.

    Example:
        >>> from netlab.kubeproxy.api import ProxyConfig
        >>> svc = {"metadata": {"name": "web", "namespace": "shop"},
        ...        "spec": {"clusterIP": "10.0.0.12", "ports": [{"port": 80}]}}
        >>> build([svc], [], ProxyConfig(node_name="n", node_ips=["10.224.0.4"])).sockets[0].socket
        '0.0.0.0:34934'
    """
    try:
        listen = ipaddress.ip_address(str(listen_ip))
    except ValueError:
        raise ConfigError(f"listen_ip {listen_ip!r} is not an IPv4 address; use 0.0.0.0 or a node address") from None
    if listen.is_loopback:
        # NewCustomProxier: ErrProxyOnLocalhost.
        raise ConfigError("cannot proxy on localhost: the userspace proxier refuses a loopback --bind-address; "
                          "use 0.0.0.0 or a node address")
    infos = [i for i in service_ports(services, slices, cfg)]
    reserved = {i.node_port for i in infos if i.node_port}
    ports = allocate_proxy_ports([f"{i.name}/{i.protocol}" for i in infos], proxy_port_range, reserved)
    host_ip = cfg.node_ips[0]
    to_host = host_ip if listen == _ANY else listen
    nat: list[Rule] = []
    flt: list[Rule] = []
    sockets: list[ProxySocket] = []
    for info in infos:
        proxy_port = ports[f"{info.name}/{info.protocol}"]

        def container(chain: str, args: tuple[Match, ...]) -> None:
            if listen == _ANY:
                nat.append(Rule("nat", chain, args, "REDIRECT", ("--to-ports", str(proxy_port))))
            else:
                nat.append(Rule("nat", chain, args, "DNAT", ("--to-destination", join_host_port(listen, proxy_port))))

        def host(chain: str, args: tuple[Match, ...]) -> None:
            nat.append(Rule("nat", chain, args, "DNAT", ("--to-destination", join_host_port(to_host, proxy_port))))

        port = info.port.port
        portals = [join_host_port(info.cluster_ip, port)]
        container(KUBE_PORTALS_CONTAINER, _portal_args(info, info.cluster_ip, port, False, False))
        host(KUBE_PORTALS_HOST, _portal_args(info, info.cluster_ip, port, False, False))
        for address in info.external_ips:
            portals.append(join_host_port(address, port))
            container(KUBE_PORTALS_CONTAINER, _portal_args(info, address, port, True, False))
            container(KUBE_PORTALS_CONTAINER, _portal_args(info, address, port, False, True))
            host(KUBE_PORTALS_HOST, _portal_args(info, address, port, False, True))
        for address in info.load_balancer_ips:
            portals.append(join_host_port(address, port))
            container(KUBE_PORTALS_CONTAINER, _portal_args(info, address, port, False, False))
            host(KUBE_PORTALS_HOST, _portal_args(info, address, port, False, False))
        if info.node_port:
            portals.append(f"nodePort {info.node_port}")
            container(KUBE_NODEPORT_CONTAINER, _portal_args(info, None, info.node_port, False, False))
            host(KUBE_NODEPORT_HOST, _portal_args(info, None, info.node_port, False, False))
            flt.append(Rule("filter", KUBE_NODEPORT_NON_LOCAL,
                            (*_portal_args(info, None, proxy_port, False, False), State(("NEW",))), "ACCEPT"))
        endpoints = tuple(e.endpoint for e in info.endpoints if e.ready)
        sockets.append(ProxySocket(info.name, info.protocol, listen, proxy_port, tuple(portals), endpoints,
                                   info.affinity_seconds))
    return UserspaceSync(tuple(sockets), tuple(nat), tuple(flt), _JUMPS, host_ip, listen)


# --------------------------------------------------------------------------------------
# Texts
# --------------------------------------------------------------------------------------

_PROXY_HEADER = ("SERVICE PORT", "PROTOCOL", "PROXY SOCKET", "PORTALS", "ENDPOINTS")


def _proxy_rows(sync: UserspaceSync) -> list[str]:
    cells = [_PROXY_HEADER] + [
        (s.service, s.protocol.upper(), s.socket, ", ".join(s.portals), ", ".join(s.endpoints) or "<none>")
        for s in sync.sockets
    ]
    widths = [max(len(row[i]) for row in cells) for i in range(len(_PROXY_HEADER) - 1)]
    return ["  ".join(c.ljust(w) for c, w in zip(row, widths)) + "  " + row[-1] for row in cells]


def render_proxy(sync: UserspaceSync) -> str:
    """A table of the proxy sockets: one row per service port (a netlab table, not a tool's output).

    Example:
        >>> from netlab.kubeproxy.api import ProxyConfig
        >>> svc = {"metadata": {"name": "web", "namespace": "shop"},
        ...        "spec": {"clusterIP": "10.0.0.12", "ports": [{"port": 80}]}}
        >>> print(render_proxy(build([svc], [], ProxyConfig(node_name="n", node_ips=["10.224.0.4"]))), end="")
        SERVICE PORT  PROTOCOL  PROXY SOCKET   PORTALS       ENDPOINTS
        shop/web      TCP       0.0.0.0:34934  10.0.0.12:80  <none>
    """
    return "\n".join(_proxy_rows(sync)) + "\n"


def render_save(sync: UserspaceSync, extra_rules: tuple[Rule, ...] = ()) -> str:
    """Print what ``iptables-save`` shows of the userspace proxier's chains (filter, then nat).

    Built-in chains first (with only the jumps to the proxier's chains), then its chains
    sorted by name, each with its rules in the order they were appended.

    Example:
        >>> from netlab.kubeproxy.api import ProxyConfig
        >>> text = render_save(build([], [], ProxyConfig(node_name="n", node_ips=["10.224.0.4"])))
        >>> for l in text.splitlines():
        ...     if l.startswith("-A PREROUTING"):
        ...         print(l)
        -A PREROUTING -m comment --comment "handle ClusterIPs; NOTE: this must be before the NodePort rules" -j KUBE-PORTALS-CONTAINER
        -A PREROUTING -m addrtype --dst-type LOCAL -m comment --comment "handle service NodePorts; NOTE: this must be the last rule in the chain" -j KUBE-NODEPORT-CONTAINER
    """
    chains = {
        "filter": (KUBE_NODEPORT_NON_LOCAL,),
        "nat": (KUBE_NODEPORT_CONTAINER, KUBE_NODEPORT_HOST, KUBE_PORTALS_CONTAINER, KUBE_PORTALS_HOST),
    }
    return iptables.save_text(sync.rules + tuple(extra_rules), {t: set(c) for t, c in chains.items()},
                              tables=("filter", "nat"), canaries=())


# --------------------------------------------------------------------------------------
# Packets
# --------------------------------------------------------------------------------------

_STEP_FIELDS = getattr(Step, "__dataclass_fields__", {})


def _step(probability: float, packet, lines, masqueraded: bool, note: str, examined: int) -> Step:
    if "examined" in _STEP_FIELDS:  # the cost field is newer than Step itself
        return Step(probability, "PROXY", packet, tuple(lines), masqueraded, note, examined)  # type: ignore[call-arg]
    return Step(probability, "PROXY", packet, tuple(lines), masqueraded, note)


@dataclass(frozen=True)
class UserspaceEngine:
    """The userspace proxier's rules, and at ``INPUT`` its sockets (verdict ``PROXY``)."""

    sync: UserspaceSync
    _ipt: IptablesEngine = field(init=False, repr=False, compare=False)
    _sockets: dict = field(init=False, repr=False, compare=False)
    _rows: dict = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_ipt", IptablesEngine(self.sync.rules))
        object.__setattr__(self, "_sockets", {(s.protocol, s.proxy_port): s for s in self.sync.sockets})
        rows = _proxy_rows(self.sync)[1:]
        object.__setattr__(self, "_rows", {(s.protocol, s.proxy_port): row.rstrip()
                                           for s, row in zip(self.sync.sockets, rows)})

    def socket_for(self, packet) -> ProxySocket | None:
        """The proxy socket a packet delivered to this node reaches, if any."""
        sock = self._sockets.get((packet.proto, packet.dport))
        if sock is None or (sock.listen_ip != _ANY and packet.dst != sock.listen_ip):
            return None
        return sock

    def _proxy(self, s: Step, sock: ProxySocket, ctx) -> list[Step]:
        # Without endpoints the process itself refuses the connection: no rule does in this mode.
        row = Line("kube-proxy", f"proxy socket {sock.socket}/{sock.protocol.upper()}",
                   self._rows[(sock.protocol, sock.proxy_port)],
                   refusal=None if sock.endpoints else Refusal.NO_ENDPOINTS)
        examined = getattr(s, "examined", 0) + 1
        spn = sock.service
        if not sock.endpoints:
            logs = [Line("kube-proxy", "log", f"Couldn't find an endpoint for {spn}: missing endpoints")]
            if sock.protocol == "tcp":
                logs.append(Line("kube-proxy", "log", "Failed to connect to balancer: missing endpoints"))
            note = (f"kube-proxy's socket {sock.socket} takes the connection but {spn} has no endpoints: "
                    + ("it closes the connection" if sock.protocol == "tcp" else "it drops the datagram"))
            return [_step(s.probability, s.packet, s.lines + (row, *logs), s.masqueraded, note, examined)]
        choices = list(sock.endpoints)
        if sock.affinity_seconds is not None:
            sticky = [e for e in sock.endpoints if (AFFINITY_PREFIX + e, s.packet.src) in ctx.recent]
            if sticky:
                choices = sticky[:1]
        out = []
        for endpoint in choices:
            log = Line("kube-proxy", "log", f'Mapped service "{spn}" to endpoint {endpoint}')
            out.append(_step(s.probability / len(choices), s.packet, s.lines + (row, log), s.masqueraded, endpoint,
                             examined))
        return out

    def run(self, hook: str, packet, ctx) -> tuple[Step, ...]:
        """The ways ``packet`` can leave ``hook`` on this node."""
        check_hook(hook)
        steps = self._ipt.run(hook, packet, ctx)
        if hook != "INPUT":
            return steps
        out: list[Step] = []
        for s in steps:
            sock = self.socket_for(s.packet) if s.verdict == "ACCEPT" else None
            out.extend(self._proxy(s, sock, ctx) if sock is not None else (s,))
        return tuple(out)


@dataclass(frozen=True)
class UserspaceMode(BuiltMode):
    """Userspace mode on one node: :class:`BuiltMode` with the proxier's own affinity table."""

    affinity_holder = "a backend of any userspace proxy socket on this node"
    affinity_source_of_names = "the proxy table"

    def affinity_keys(self) -> Mapping[str, tuple[str, ...]]:
        """Backend -> the proxier's affinity record (it keeps client IP -> backend per service port)."""
        return {e: (AFFINITY_PREFIX + e,) for e in sorted({e for s in self.extra.sockets for e in s.endpoints})}

    def affinity_client(self, source: Address) -> Any:
        return ip(source)

    def listening(self) -> tuple[tuple[str, str, int], ...]:
        """kube-proxy's proxy sockets: one per Service port."""
        return tuple((s.protocol, str(s.listen_ip), s.proxy_port) for s in self.extra.sockets)

    def proxy_endpoint(self, passed: Any) -> str | None:
        """The backend the kube-proxy process connects to on this branch (None: no endpoints)."""
        step = passed.hooks[-1][1]
        known = {e for s in self.extra.sockets for e in s.endpoints}
        return step.note if step.verdict == "PROXY" and step.note in known else None


def built_mode(
    services: Iterable[Mapping[str, Any] | Service],
    slices: Iterable[Mapping[str, Any] | EndpointSlice],
    cfg: ProxyConfig,
) -> UserspaceMode:
    """Userspace mode for the node ``cfg`` describes, ready for :func:`netlab.kubeproxy.flow.trace_flow`.

    Example:
        >>> from netlab.kubeproxy.api import ProxyConfig
        >>> built_mode([], [], ProxyConfig(node_name="n", node_ips=["10.224.0.4"])).mode
        'userspace'
    """
    sync = build(services, slices, cfg)
    return UserspaceMode("userspace", UserspaceEngine(sync), sync.rules, extra=sync)


__all__ = [
    "DEFAULT_PROXY_PORT_RANGE", "ProxySocket", "State", "UserspaceEngine", "UserspaceMode", "UserspaceSync",
    "allocate_proxy_ports", "build", "built_mode", "render_proxy", "render_save",
]
