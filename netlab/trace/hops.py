"""What a trace is made of, as data: headers, places, the lines that decided, NAT, conntrack, hops
and the trace itself, with their text and HTML views; and the commands whose output a hop cites.

A :class:`Hop` names where the packet was (:class:`Place`), the headers before and after, the NAT
and conntrack entries it made or used, and the :class:`Line` that decided it: the exact text a
real tool prints, with the command (``Line.command``) and where it runs (``Line.on``), so
``cluster.run(hop.decided_by.command, on=hop.decided_by.on)`` prints the table that holds it.
:class:`Trace` is the hops in order, with the verdict and the reply.
"""

from __future__ import annotations

import html
import textwrap
import ipaddress
from dataclasses import dataclass, field
from typing import Any

from ..model.types import IPv4Address, Verdict
from ..azure.network import HOST_NAMES



LOOPBACK_NET = ipaddress.IPv4Network("127.0.0.0/8")
LOOPBACK_LOCAL_ROUTE = "local 127.0.0.0/8 dev lo proto kernel scope host src 127.0.0.1"
LOCAL_TABLE = "ip route show table local"
NFT_LIST = "nft list table ip kube-proxy"
SS_LISTEN = "ss -ltunp"


@dataclass(frozen=True, slots=True)
class Header:
    """The packet's addresses and ports as they are at one hop."""

    src: IPv4Address
    sport: int
    dst: IPv4Address
    dport: int
    protocol: str

    def __str__(self) -> str:
        return f"{self.src}:{self.sport} -> {self.dst}:{self.dport} {self.protocol}"


@dataclass(frozen=True, slots=True)
class Place:
    """Where a hop happens: ``kind`` is ``pod``, ``node``, ``vnet`` (Azure's virtual network),
    ``load balancer``, ``host`` (a machine around the cluster) or ``router`` (the on-premises
    router); ``name`` says which one (``default/web-0``, a node name, ``internet``, ...)."""

    kind: str
    name: str
    netns: str  # the network namespace or network it is in, in words

    label: str = ""  # how the place is called in a trace, where the kind and name do not say it

    def __str__(self) -> str:
        if self.label:
            return self.label
        return {"pod": "pod", "node": "node", "vnet": "Azure VNet", "load balancer": "Azure load balancer",
                "router": "router"}.get(self.kind, self.kind) + f" {self.name}"


@dataclass(frozen=True, slots=True)
class Line:
    """A line a learner can print: ``cluster.run(line.command, on=line.on)`` shows it, verbatim.

    ``on`` is where to run the command: a node name, a pod (``default/web-0``), a host around
    the cluster (``internet``, ``vnet-vm``, ...), or ``None`` for ``kubectl``/``az`` commands,
    which run anywhere. ``conntrack -L`` shows the entries of a trace: pass ``after=the_trace``.
    """

    text: str
    command: str
    on: str | None = None

    def __str__(self) -> str:
        return self.text

    @property
    def where(self) -> str:
        """The command and where it runs, in words: ``ip route (node aks-...)``."""
        if self.on is None:
            return self.command
        kind = "pod" if "/" in self.on else "host" if self.on in HOST_NAMES or self.on[:1].isdigit() else "node"
        return f"{self.command} ({kind} {self.on})"


@dataclass(frozen=True, slots=True)
class Nat:
    """One address translation: ``kind`` is ``DNAT``, ``SNAT``, ``MASQUERADE``, ``REDIRECT``
    (a DNAT to this host), or ``un-DNAT``/``un-SNAT`` (conntrack reversing one on a reply)."""

    kind: str
    before: tuple[IPv4Address, int]
    after: tuple[IPv4Address, int]
    by: str = ""  # who, in words, where it is not a rule of the hop (Azure's outbound rule)

    @property
    def field(self) -> str:
        """Which end of the packet changed: ``destination`` or ``source``."""
        return "destination" if self.kind in ("DNAT", "REDIRECT", "un-SNAT") else "source"

    def __str__(self) -> str:
        b, a = f"{self.before[0]}:{self.before[1]}", f"{self.after[0]}:{self.after[1]}"
        if self.kind in ("un-DNAT", "un-SNAT"):
            return f"{self.kind} {self.field} {b} -> {a}"
        if self.kind == "MASQUERADE":
            if self.before[1] != self.after[1]:  # --random-fully: a new source port too
                return f"SNAT (MASQUERADE, random port) {b} -> {a}"
            return f"SNAT (MASQUERADE) {self.before[0]} -> {self.after[0]}"
        if self.kind == "SNAT":
            return f"SNAT {self.before[0]} -> {self.after[0]}" + (f" ({self.by})" if self.by else "")
        return f"{self.kind} {b} -> {a}" + (f" ({self.by})" if self.by else "")


@dataclass(frozen=True, slots=True)
class Conntrack:
    """The connection-tracking entry a hop created (the request's first NAT on a node) or used
    (a reply: conntrack reverses the NAT without reading the rules again)."""

    line: Line  # the entry as ``conntrack -L`` prints it on that node
    created: bool


@dataclass(frozen=True, slots=True)
class Hop:
    """One step of a trace, as data: where, through which interfaces, the packet before and
    after, the NAT and conntrack entry, the netfilter hook with every matched rule, and the
    deciding line with the command that prints it (``decided_by.command``, ``decided_by.on``).
    """

    place: Place
    in_interface: str | None
    out_interface: str | None
    before: Header
    packet: Header  # after the hop
    decided_by: Line
    note: str = ""
    nat: tuple[Nat, ...] = ()
    conntrack: Conntrack | None = None
    hook: str | None = None  # PREROUTING, INPUT, FORWARD, OUTPUT or POSTROUTING, if any
    rules: tuple[Line, ...] = ()  # every rule line that matched at this hook, in order
    via: str | None = None  # how it arrived where no interface says it: "from <node>", "frontend ...", a socket
    in_port: str | None = None  # the bridge port behind in_interface (a pod's veth on cbr0), if any

    @property
    def netns(self) -> str:
        return self.place.netns

    @property
    def interface(self) -> str:
        """The interfaces in words: ``in vethX, out eth0``; ``PREROUTING, in eth0`` at a hook."""
        parts = []
        if self.via:
            parts.append(self.via)
        if self.in_interface:
            port = f" (from its port {self.in_port})" if self.in_port else ""
            parts.append(f"in {self.in_interface}{port}")
        if self.out_interface:
            parts.append(f"out {self.out_interface}")
        text = ", ".join(parts)
        return f"{self.hook}, {text}" if self.hook and text else (self.hook or text)

    @property
    def table(self) -> str:
        """The command that prints the deciding line, and where: ``ip route (pod default/web-0)``."""
        return self.decided_by.where

    @property
    def nat_text(self) -> str | None:
        return "; ".join(str(n) for n in self.nat) or None


@dataclass(frozen=True)
class Trace:
    """The walk of one packet: hops, verdict, and why."""

    source: str
    destination: str
    protocol: str
    port: int
    hops: tuple[Hop, ...]
    verdict: Verdict
    reason: str
    delivered_to: str | None = None
    listener: str | None = None
    choices: tuple = ()  # (node, ((endpoint, probability), ...), chosen endpoint) per kube-proxy choice
    reply: "Trace | None" = None  # the answer's way back, NAT undone by conntrack
    masquerade: tuple = ()  # (where: a node name or "azure", source before, source after) per SNAT on the way
    affinity: tuple = ()  # (node index, client address, "IP:port") per kube-proxy choice: kept by after=...
    connections: tuple = ()  # (node index or "azure", first header in, header out) per conntrack entry made
    previous: "Trace | None" = None  # the connection this one was traced after (after=...)
    cluster: Any = field(default=None, compare=False, repr=False)  # the cluster it was traced in (for drawings)

    def __repr__(self) -> str:
        return (f"<Trace {self.source} -> {self.destination}, {self.protocol}/{self.port}: {self.verdict.value}, "
                f"{len(self.hops)} hops>")

    @property
    def endpoints(self) -> tuple[str, ...]:
        """Every endpoint (``IP:port``) kube-proxy could have sent the packet to, at its first choice."""
        if not self.choices:
            return ()
        return tuple(sorted(ep for ep, _ in self.choices[0][1] if ":" in ep))

    @property
    def endpoint(self) -> str | None:
        """The endpoint (``IP:port``) kube-proxy chose for this connection, if a Service was on the way."""
        return self.choices[0][2] if self.choices and ":" in self.choices[0][2] else None

    @property
    def masqueraded(self) -> bool:
        """Whether a node or Azure rewrote the source on the way (SNAT or MASQUERADE)."""
        return bool(self.masquerade)

    @property
    def refused(self) -> bool:
        return self.verdict is Verdict.REFUSED

    @property
    def seen_source(self) -> IPv4Address | None:
        """The source address the final receiver sees (after every SNAT on the way)."""
        return self.hops[-1].packet.src if self.delivered and self.hops else None

    @property
    def delivered(self) -> bool:
        return self.verdict is Verdict.DELIVERED

    @property
    def nat(self) -> tuple[Nat, ...]:
        """Every address translation on the way, in order."""
        return tuple(n for h in self.hops for n in h.nat)

    def __str__(self) -> str:
        return self.text()

    def as_dict(self) -> dict:
        """The trace as plain data for JSON (``json.dumps(trace.as_dict())``): every field, addresses
        as text, enums as their values; the reply nested; the cluster and an earlier trace left out.

        >>> import netlab as nl
        >>> t = nl.Cluster.aks("kubenet").add_pod("a").add_pod("b").trace("a", "b", port=80)
        >>> d = t.as_dict()
        >>> d["verdict"], d["hops"][0]["place"]["name"], d["hops"][0]["packet"]["dst"]
        ('refused', 'default/a', '10.244.0.3')
        """
        import dataclasses
        import enum
        import ipaddress

        def plain(value):
            if isinstance(value, Trace):
                return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)
                        if f.name not in ("cluster", "previous")}
            if dataclasses.is_dataclass(value) and not isinstance(value, type):
                return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
            if isinstance(value, enum.Enum):
                return value.value
            if isinstance(value, (ipaddress.IPv4Address, ipaddress.IPv4Network, ipaddress.IPv4Interface)):
                return str(value)
            if isinstance(value, (tuple, list)):
                return [plain(v) for v in value]
            if isinstance(value, dict):
                return {str(k): plain(v) for k, v in value.items()}
            return value

        return plain(self)

    def text(self, rules: bool = False, width: int = 110) -> str:
        """The trace as a table of text, each line at most ``width`` characters where it can break.

        Short by default: where several rules matched at one hook, it says how many and shows
        only the deciding one; ``rules=True`` lists every matched rule, as the HTML view does
        under "all matched rules". Prose is folded at ``width``; a route or rule line stays
        whole, on a line of its own, exactly as the tool prints it.
        """
        def fold(first: str, text: str, indent: str = " " * 15) -> list[str]:
            return textwrap.wrap(text, width=width, initial_indent=first, subsequent_indent=indent,
                                 break_long_words=False, break_on_hyphens=False) or [first.rstrip()]

        lines = [f"trace {self.source} -> {self.destination}, {self.protocol}/{self.port}"]
        for i, h in enumerate(self.hops, 1):
            lines.extend(fold(f"{i:>2}. ", f"{h.place}  [{h.netns}]  {h.interface}", " " * 4))
            lines.append(f"      packet   {h.packet}")
            if h.nat:
                lines.extend(fold("      NAT      ", h.nat_text or ""))
            # The deciding line stays whole on a line of its own, as the tool prints it, so that a
            # learner can find it (or search for it) in the printed table; only prose is folded.
            lines.append(f"      {h.table}:")
            lines.append(f"        {h.decided_by.text.strip()}")
            if len(h.rules) > 1:
                if rules:
                    lines.append(f"      matched  {len(h.rules)} rules at this hook, in order:")
                    lines.extend(f"        {r.text}" for r in h.rules)
                else:
                    lines.append(f"      matched  {len(h.rules)} rules at this hook (the trace's .text(rules=True) "
                                 "lists them)")
            if h.note:
                lines.extend(fold("      why      ", h.note))
        lines.extend(fold("verdict: ", f"{self.verdict.value}: {self.reason}", " " * 9))
        if self.reply is not None:
            lines.extend(fold("reply: ", f"{self.reply.verdict.value}: {self.reply.reason} ({len(self.reply.hops)} "
                              "hops: the trace's .reply shows them)", " " * 7))
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        e = html.escape
        colour = {"delivered": "#1b7837", "dropped": "#b2182b", "refused": "#b2182b"}.get(self.verdict.value, "#b35806")
        rows = []
        for i, h in enumerate(self.hops, 1):
            nat = f"<br><b>NAT</b> {e(h.nat_text or '')}" if h.nat else ""
            matched = ""
            if len(h.rules) > 1:
                matched = "<details><summary>all matched rules</summary><pre>" + e("\n".join(r.text for r in h.rules)) + "</pre></details>"
            rows.append(
                f"<tr><td>{i}</td><td>{e(str(h.place))}<br><small>{e(h.netns)}</small></td>"
                f"<td>{e(h.interface)}</td><td><code>{e(str(h.packet))}</code>{nat}</td>"
                f"<td><small>{e(h.table)}</small><br><code>{e(h.decided_by.text)}</code>{matched}</td>"
                f"<td>{e(h.note)}</td></tr>"
            )
        # JupyterLab right-aligns table cells; a hop's rules and reasons read from the left.
        return left_aligned(
            f"<div><b>trace {e(self.source)} &rarr; {e(self.destination)}, "
            f"{e(self.protocol)}/{self.port}</b>"
            "<table><thead><tr><th>#</th><th>where</th><th>interface</th><th>packet</th>"
            "<th>decided by</th><th>why</th></tr></thead><tbody>"
            + "".join(rows)
            + f"</tbody></table><p style='color:{colour}'><b>{e(self.verdict.value)}</b>: "
            f"{e(self.reason)}</p>"
            + (f"<details><summary>the reply</summary>{self.reply._repr_html_()}</details>" if self.reply else "")
            + "</div>"
        )


def left_aligned(markup: str) -> str:
    """Table cells that read from the left, top-aligned, whatever the notebook's stylesheet says."""
    style = "text-align:left;vertical-align:top"
    return markup.replace("<td>", f"<td style='{style}'>").replace("<th>", f"<th style='{style}'>")



EFFECTIVE_ROUTES = "az network nic show-effective-route-table -o table"
ROUTE_TABLE = "az network route-table route list -o table"
LB_RULES = "az network lb rule list -o table"
LB_OUTBOUND = "az network lb outbound-rule list -o table"
NODE_POD_CIDRS = ("kubectl get nodes -o custom-columns=NAME:.metadata.name,POD-CIDR:.spec.podCIDR,"
                  "INTERNAL-IP:.status.addresses[0].address")


