"""Follow one packet through the rules kube-proxy wrote on one node.

:func:`trace_flow` renders the rules (the same data the printed tables come from) and
walks them with :func:`netlab.model.netfilter.evaluate`, hook by hook, the way the kernel
does for the first packet of a connection:

* a packet from the node itself (a node IP, ``127.0.0.0/8`` or an extra local
  address) goes through ``nat OUTPUT``, ``filter OUTPUT`` and ``nat POSTROUTING``
  (and ``filter INPUT`` if, after DNAT, it is for the node itself);
* any other packet goes through ``nat PREROUTING``, then the routing decision: if its
  destination (after DNAT) is an address of the node, ``filter INPUT`` (local
  delivery: no POSTROUTING, so no masquerade); otherwise ``filter FORWARD`` and
  ``nat POSTROUTING``, where ``KUBE-POSTROUTING`` masquerades packets that carry the mark.

Each random choice of an endpoint is a :class:`Branch` with its probability.

Taught in ``notebooks/07-services.ipynb``.

Example:
    >>> from netlab.kubeproxy.api import ProxyConfig
    >>> cfg = ProxyConfig(node_name="node-a", node_ips=["10.224.0.4"], cluster_cidr="10.244.0.0/16")
    >>> svc = {"metadata": {"name": "web", "namespace": "shop"},
    ...        "spec": {"clusterIP": "10.0.0.12", "ports": [{"port": 80}]}}
    >>> trace_flow("iptables", [svc], [], cfg, source="10.244.1.5", destination="10.0.0.12", port=80).verdict
    <FlowVerdict.REJECT: 'REJECT'>
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import ConfigError, did_you_mean
from ..model.netfilter import Address, Context, Packet, ip, net
from .api import EndpointSlice, ProxyConfig, Service
from .engine import Line, Pass, walk_node
from .modes import check_mode, engine_for
from .naming import join_host_port


class FlowVerdict(str, enum.Enum):
    """How a traced packet ends on this node."""

    #: kube-proxy rewrote the destination to an endpoint, and nothing dropped it.
    DNAT = "DNAT"
    #: a filter rule refused it with an ICMP error (a Service with no endpoints).
    REJECT = "REJECT"
    #: a filter rule dropped it silently.
    DROP = "DROP"
    #: kube-proxy's rules let it through untouched (not a Service address).
    ACCEPT = "ACCEPT"
    #: userspace mode: the connection ends in the kube-proxy process, which opens a new one.
    PROXY = "PROXY"
    #: pasted rules (:mod:`.loaded`): the walk met a rule with a match or target netlab does not
    #: model, and stopped there rather than guess (:attr:`Branch.not_modelled` names the rule).
    NOT_MODELLED = "not modelled"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True, slots=True)
class NotModelled:
    """The rule a walk through pasted rules stopped at: netlab does not model part of it.

    Attributes:
        line: its line number in the pasted text.
        text: the rule as it was pasted (``-A CHAIN ...``, or an nft rule).
        parts: the parts netlab does not model (``-m string --string x --algo bm``, ``-j CT --notrack``...).
        where: the table and chain (``raw PREROUTING``, ``nft ip kube-proxy services``).
    """

    line: int
    text: str
    parts: tuple[str, ...] = ()
    where: str = ""

    def __str__(self) -> str:
        return f"not modelled: line {self.line}: {self.text}"


@dataclass(frozen=True, slots=True)
class Branch:
    """One way the packet can go.

    Attributes:
        probability: the chance of this branch.
        endpoint: ``"IP:port"`` after DNAT, or None when the packet was not DNATed.
        masquerade: whether ``KUBE-POSTROUTING`` masqueraded it (the mark was set when
            it reached nat POSTROUTING).
        lines: the rules that matched, in order, exactly as the restore text prints them.
        verdict: how this branch ends.
        hooks: the ``table CHAIN`` hooks walked, in order.
        not_modelled: for :attr:`FlowVerdict.NOT_MODELLED`, the rule the walk stopped at.
    """

    probability: float
    endpoint: str | None
    masquerade: bool
    lines: tuple[str, ...]
    verdict: FlowVerdict
    hooks: tuple[str, ...] = ()
    not_modelled: NotModelled | None = None


@dataclass(frozen=True, slots=True)
class Flow:
    """The fate of one packet.

    Attributes:
        source, destination, port, protocol: the packet as it arrived.
        branches: every way it can go, most likely first; probabilities add up to 1.
        notes: what the trace assumed, in words (pasted rules: where the node's addresses came from).
    """

    source: Address
    destination: Address
    port: int
    protocol: str
    branches: tuple[Branch, ...]
    notes: tuple[str, ...] = ()

    @property
    def verdict(self) -> FlowVerdict:
        """The branches' verdict (they share one with kube-proxy's rules; else the likeliest)."""
        return self.branches[0].verdict

    @property
    def endpoints(self) -> tuple[str, ...]:
        """The endpoints (``"IP:port"``) the packet may be sent to, sorted."""
        return tuple(sorted({b.endpoint for b in self.branches if b.endpoint and b.verdict is FlowVerdict.DNAT}))

    @property
    def masquerade(self) -> bool:
        """True when every branch is masqueraded. When only some are (a pod reaching
        itself through its Service: hairpin), see :attr:`branches`."""
        return all(b.masquerade for b in self.branches)

    @property
    def not_modelled(self) -> tuple[NotModelled, ...]:
        """The rules netlab does not model at which branches stopped (pasted rules only), by line."""
        found = {b.not_modelled for b in self.branches if b.not_modelled is not None}
        return tuple(sorted(found, key=lambda n: n.line))

    def __str__(self) -> str:
        head = f"{self.protocol} {self.source} -> {self.destination}:{self.port}: {self.verdict}"
        rows = [head]
        for b in self.branches:
            where = f" to {b.endpoint}" if b.endpoint else ""
            stop = f": {b.not_modelled}" if b.not_modelled else ""
            rows.append(f"  {b.probability:.4f} {b.verdict}{where}{' masqueraded' if b.masquerade else ''}{stop}")
        rows.extend(f"  note: {note}" for note in self.notes)
        return "\n".join(rows)

    def text(self) -> str:
        """:func:`str` of the flow, with each branch's hooks and the rules that matched on its way, in order."""
        rows = [str(self)]
        for i, b in enumerate(self.branches, 1):
            where = f" to {b.endpoint}" if b.endpoint else ""
            rows.append(f"branch {i} ({b.probability:.4f}, {b.verdict}{where}), through {', '.join(b.hooks)}:")
            rows.extend(f"  {line}" for line in b.lines)
        return "\n".join(rows)


def trace_flow(
    mode: str,
    services: Iterable[Mapping[str, Any] | Service],
    slices: Iterable[Mapping[str, Any] | EndpointSlice],
    cfg: ProxyConfig,
    *,
    source: str | Address,
    destination: str | Address,
    port: int,
    protocol: str = "tcp",
    source_port: int = 49152,
    affinity: str | Iterable[str] = (),
    extra_local: Iterable[str | Address] = (),
) -> Flow:
    """Trace the first packet of a connection through kube-proxy's rules on one node.

    Args:
        mode: the proxy mode (``"iptables"``).
        services: Service dicts or parsed Services.
        slices: EndpointSlice dicts or parsed EndpointSlices.
        cfg: the node's kube-proxy settings.
        source: the client's address. A node IP or ``127.x`` means the node itself.
        destination: the address it connects to (cluster IP, node IP, LB IP...).
        port: the destination port (Service port, or NodePort on a node IP).
        protocol: ``"tcp"``, ``"udp"`` or ``"sctp"``.
        source_port: the client's port.
        affinity: ``"IP:port"`` endpoint(s) this client already has a ClientIP affinity
            entry for (the ``-m recent`` list); a fresh client has none.
        extra_local: more addresses that belong to the node (say, an LB IP bound to it).

    Returns:
        The :class:`Flow`.

    Raises:
        ConfigError: for an unknown mode or protocol.
        AddressError: for a malformed address.
        NotFoundError: for an affinity endpoint that no Service has.

    Example:
        >>> from netlab.kubeproxy.api import ProxyConfig
        >>> cfg = ProxyConfig(node_name="node-a", node_ips=["10.224.0.4"], cluster_cidr="10.244.0.0/16")
        >>> svc = {"metadata": {"name": "web", "namespace": "shop"},
        ...        "spec": {"clusterIP": "10.0.0.12", "ports": [{"port": 80}]}}
        >>> eps = {"metadata": {"name": "web-1", "namespace": "shop", "labels": {"kubernetes.io/service-name": "web"}},
        ...        "addressType": "IPv4", "ports": [{"name": "", "port": 8080}],
        ...        "endpoints": [{"addresses": ["10.244.1.9"]}, {"addresses": ["10.244.2.7"]}]}
        >>> flow = trace_flow("iptables", [svc], [eps], cfg, source="10.244.1.5", destination="10.0.0.12", port=80)
        >>> flow.verdict, flow.endpoints, flow.masquerade
        (<FlowVerdict.DNAT: 'DNAT'>, ('10.244.1.9:8080', '10.244.2.7:8080'), False)
        >>> [b.probability for b in flow.branches]
        [0.5, 0.5]
    """
    check_mode(mode)
    proto = str(protocol).lower()
    if proto not in ("tcp", "udp", "sctp"):
        raise ConfigError(
            f"Services carry tcp, udp or sctp, not {protocol!r}" + did_you_mean(proto, ("tcp", "udp", "sctp"))
        )
    src, dst = ip(source), ip(destination)
    built = engine_for(mode, services, slices, cfg)
    wanted = (affinity,) if isinstance(affinity, str) else tuple(affinity)
    recent = built.affinity_entries(src, wanted) if wanted else frozenset()
    ctx = Context.for_node(cfg.node_ips, extra_local=tuple(net(a) for a in (*built.local_addresses, *extra_local)),
                           recent=recent, ipsets=built.ipsets)
    packet = Packet(src, dst, source_port, port, proto)
    from_node = ctx.is_local(src)

    def route(pkt: Packet):
        return ctx.is_local(pkt.dst), "eth0", cfg.node_ips[0]

    branches = [branch_of(ps, built.hook_names, built.proxy_endpoint)
                for ps in walk_node(built.engine, packet, ctx, route, from_node=from_node)]
    branches.sort(key=lambda b: (-b.probability, b.endpoint or ""))
    return Flow(src, dst, port, proto, tuple(branches))


def branch_of(ps: Pass, hook_names: Callable[[str], tuple[str, ...]],
              proxy_endpoint: Callable[[Pass], str | None] | None = None, *,
              line_text: Callable[[Line], str] = lambda line: line.restore or line.text,
              not_modelled: NotModelled | None = None) -> Branch:
    """One way through a node (:func:`~.engine.walk_node`) as a :class:`Branch`.

    ``hook_names`` gives the tables (or base chains) a hook walked; ``line_text`` how a matched line is
    shown (the restore form by default); ``not_modelled`` marks a branch that stopped at a rule netlab
    does not model (:mod:`.loaded`).
    """
    if not_modelled is not None:
        return Branch(ps.probability, None, False, tuple(line_text(line) for line in ps.lines),
                      FlowVerdict.NOT_MODELLED, tuple(t for h, _ in ps.hooks for t in hook_names(h)), not_modelled)
    dnat = "DNAT" in ps.packet.ctstate or ps.verdict == "PROXY"
    if ps.verdict in ("DROP", "REJECT"):
        verdict = FlowVerdict(ps.verdict)
    elif ps.verdict == "PROXY":
        verdict = FlowVerdict.PROXY
    else:
        verdict = FlowVerdict.DNAT if dnat else FlowVerdict.ACCEPT
    endpoint = _endpoint(ps.packet) if dnat and verdict is not FlowVerdict.PROXY else (
        proxy_endpoint(ps) if verdict is FlowVerdict.PROXY and proxy_endpoint is not None else None)
    masq = ps.masqueraded and verdict not in (FlowVerdict.DROP, FlowVerdict.REJECT)
    return Branch(ps.probability, endpoint, masq, tuple(line_text(line) for line in ps.lines),
                  verdict, tuple(t for h, _ in ps.hooks for t in hook_names(h)))


def _endpoint(pkt: Packet) -> str:
    return join_host_port(pkt.dst, pkt.dport)
