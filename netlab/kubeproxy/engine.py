"""A node's packet-processing engine, hook by hook, for every proxy mode.

The kernel runs a packet through netfilter hooks in a fixed order. An *engine* answers
one question: "this packet reaches hook H on this node: how can it leave the hook?"
It returns one :class:`Step` per possible branch (kube-proxy's random endpoint choice
makes several), each with the exact lines that matched, in the format the mode's own
tool prints. Every proxy mode provides an engine:

* iptables mode: :class:`IptablesEngine` walks the iptables tables of the hook
  (``nat PREROUTING``; ``filter INPUT``; ``filter FORWARD``; ``nat OUTPUT`` then
  ``filter OUTPUT``; ``nat POSTROUTING``);
* IPVS mode: the iptables rules IPVS mode keeps, plus the IPVS virtual servers, which
  take a packet for a local virtual address after ``filter INPUT`` and send it on to a
  real server (verdict ``IPVS``);
* nftables mode: the base chains of the ``kube-proxy`` table at that hook, by priority;
* userspace mode: iptables rules that redirect Service traffic into the kube-proxy
  process, which ends the connection there (verdict ``PROXY``) and opens a new one.

:func:`chain` runs several engines one after the other at each hook (the kube-proxy
engine and the node's other iptables rules, such as ip-masq-agent's), and
:func:`walk_node` drives an engine through the hooks in kernel order for one node.

Example:
    >>> from netlab.model.netfilter import Packet, Rule, Context
    >>> eng = IptablesEngine((Rule("nat", "PREROUTING", (), "DNAT", ("--to-destination", "10.244.1.5:80")),))
    >>> [s.packet.dst for s in eng.run("PREROUTING", Packet("10.244.0.9", "10.0.0.12", 40000, 80, "tcp"), Context())]
    [IPv4Address('10.244.1.5')]
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from ..errors import ConfigError
from ..model.netfilter import (
    Context,
    Mark,
    Packet,
    Refusal,
    Rule,
    Ruleset,
    Verdict,
    evaluate,
    format_restore,
    format_save,
)

#: The hooks, and the iptables tables each one runs, in the kernel's priority order.
HOOK_TABLES: dict[str, tuple[tuple[str, str], ...]] = {
    "PREROUTING": (("nat", "PREROUTING"),),
    "INPUT": (("filter", "INPUT"),),
    "FORWARD": (("filter", "FORWARD"),),
    "OUTPUT": (("nat", "OUTPUT"), ("filter", "OUTPUT")),
    "POSTROUTING": (("nat", "POSTROUTING"),),
}

#: Verdicts a step can end with. ACCEPT goes on to the next hook; IPVS means IPVS took
#: a packet for a virtual server after INPUT and sends it on to a real server (route it
#: again, then POSTROUTING); PROXY means the packet reached a local socket of the
#: kube-proxy process, which opens a new connection of its own.
VERDICTS = ("ACCEPT", "DROP", "REJECT", "IPVS", "PROXY")


@dataclass(frozen=True, slots=True)
class Line:
    """One line that decided something, and where a learner finds it.

    ``tool`` names the printed table (``iptables``, ``nft``, ``ipvsadm``, ``kube-proxy``),
    ``where`` the table and chain (``nat KUBE-SERVICES``), ``text`` the line as that
    tool prints it, ``restore`` the same rule in ``iptables-restore`` form (iptables only).
    ``refusal`` says why, when this line refused or dropped the packet for one of
    kube-proxy's reasons (:class:`~netlab.model.netfilter.Refusal`); it is not part of the text.
    ``target`` is what the line does, from the rule itself rather than its text: an iptables
    rule's target (``DNAT``, ``MARK``, the chain it jumps to), an nft rule's action (``jump``,
    ``goto``, ``vmap``, ``dnat``, ``masquerade``, ``mark``, ``accept``, ``drop``, ``reject``,
    ``return``); empty for the lines of other tools. ``mark_match`` says whether the rule
    matches on the packet mark (kube-proxy's ``-m mark --mark 0x4000/0x4000``).
    """

    tool: str
    where: str
    text: str
    restore: str = ""
    refusal: Refusal | None = field(default=None, compare=False, repr=False)
    target: str = field(default="", compare=False, repr=False)
    mark_match: bool = field(default=False, compare=False, repr=False)

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True, slots=True)
class Step:
    """One way a packet can leave one hook.

    Attributes:
        probability: the chance of this branch (1 when nothing random decided).
        verdict: one of :data:`VERDICTS`.
        packet: the packet as it leaves the hook (NAT applied, mark updated).
        lines: every line that matched, in order.
        masqueraded: whether a MASQUERADE/SNAT rewrote the source here.
        note: what happened, in words (for IPVS and the userspace proxy).
    """

    probability: float
    verdict: str
    packet: Packet
    lines: tuple[Line, ...] = ()
    masqueraded: bool = False
    note: str = ""
    examined: int = 0  # rules (or lookups) tested on the way: what the hook cost this packet


class Engine(Protocol):
    """What every proxy mode's engine offers."""

    def run(self, hook: str, packet: Packet, ctx: Context) -> tuple[Step, ...]:
        """The ways ``packet`` can leave ``hook`` (probabilities add up to 1)."""
        ...


def check_hook(hook: str) -> None:
    if hook not in HOOK_TABLES:
        raise ConfigError(f"netfilter has no hook {hook!r}; use one of {', '.join(HOOK_TABLES)}")


def iptables_line(rule: Rule) -> Line:
    """The line a learner finds for ``rule`` in ``iptables-save``, with what it does."""
    return Line("iptables", f"{rule.table} {rule.chain}", format_save(rule), format_restore(rule), rule.refusal,
                rule.target or "", any(isinstance(m, Mark) for m in rule.matches))


@dataclass(frozen=True)
class IptablesEngine:
    """iptables rules as an engine: each hook walks its tables in order."""

    rules: tuple[Rule, ...]
    _ruleset: Ruleset = field(init=False, repr=False, compare=False)
    _lines: dict = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "rules", tuple(self.rules))
        object.__setattr__(self, "_ruleset", Ruleset(self.rules))
        object.__setattr__(self, "_lines", {})

    def _line(self, rule: Rule) -> Line:
        # The engine's rules never change, so each rule's printed forms are made once.
        line = self._lines.get(id(rule))
        if line is None:
            line = self._lines[id(rule)] = iptables_line(rule)
        return line

    def run(self, hook: str, packet: Packet, ctx: Context, skip_tables: tuple[str, ...] = ()) -> tuple[Step, ...]:
        check_hook(hook)
        steps = [Step(1.0, "ACCEPT", packet)]
        for table, chain in HOOK_TABLES[hook]:
            if table in skip_tables:
                continue
            nxt: list[Step] = []
            for s in steps:
                if s.verdict != "ACCEPT":
                    nxt.append(s)
                    continue
                for o in evaluate(self._ruleset, table, chain, s.packet, ctx):
                    verdict = "ACCEPT" if o.verdict in (Verdict.ACCEPT, Verdict.RETURN) else o.verdict.value
                    lines = tuple(self._line(r) for r in o.rules)
                    if o.refusal is not None and lines and lines[-1].refusal is not o.refusal:
                        # The evaluator's own reason (REDIRECT found no address) goes on the rule that met it.
                        lines = lines[:-1] + (dataclasses.replace(lines[-1], refusal=o.refusal),)
                    nxt.append(Step(s.probability * o.probability, verdict, o.packet, s.lines + lines,
                                    s.masqueraded or o.masqueraded, examined=s.examined + o.examined))
            steps = nxt
        return tuple(steps)


@dataclass(frozen=True)
class Chained:
    """Several engines at one hook, one after the other (e.g. kube-proxy's, then the node's own rules).

    NAT is decided once per connection and direction: once an engine has rewritten the
    destination (PREROUTING/OUTPUT) or the source (POSTROUTING), the later engines' nat
    tables are not consulted at that hook, as the kernel skips nat chains for a
    connection whose NAT binding is already set up.
    """

    engines: tuple[Engine, ...]

    def run(self, hook: str, packet: Packet, ctx: Context) -> tuple[Step, ...]:
        steps = [Step(1.0, "ACCEPT", packet)]
        for engine in self.engines:
            nxt: list[Step] = []
            for s in steps:
                if s.verdict != "ACCEPT":
                    nxt.append(s)
                    continue
                bound = (s.masqueraded if hook == "POSTROUTING" else
                         ("DNAT" in s.packet.ctstate and "DNAT" not in packet.ctstate))
                if bound and isinstance(engine, IptablesEngine):
                    outs = engine.run(hook, s.packet, ctx, skip_tables=("nat",))
                elif bound:
                    nxt.append(s)
                    continue
                else:
                    outs = engine.run(hook, s.packet, ctx)
                for o in outs:
                    nxt.append(Step(s.probability * o.probability, o.verdict, o.packet, s.lines + o.lines,
                                    s.masqueraded or o.masqueraded, o.note or s.note,
                                    s.examined + getattr(o, "examined", 0)))
            steps = nxt
        return tuple(steps)


def chain(*engines: Engine) -> Engine:
    """One engine that runs ``engines`` in order at every hook."""
    flat: list[Engine] = []
    for e in engines:
        flat.extend(e.engines if isinstance(e, Chained) else (e,))
    return flat[0] if len(flat) == 1 else Chained(tuple(flat))


@dataclass(frozen=True, slots=True)
class Pass:
    """One branch of a packet's way through one node.

    Attributes:
        probability: chance of this branch.
        verdict: ``DELIVER`` (to a local socket of the node), ``FORWARD`` (out of the
            node, ``out_interface`` set), ``DROP``, ``REJECT``, or ``PROXY``.
        packet: the packet as it leaves (or is delivered).
        hooks: ``(hook, step)`` in the order the packet met them.
    """

    probability: float
    verdict: str
    packet: Packet
    hooks: tuple[tuple[str, Step], ...]

    @property
    def masqueraded(self) -> bool:
        return any(s.masqueraded for _, s in self.hooks)

    @property
    def lines(self) -> tuple[Line, ...]:
        return tuple(line for _, s in self.hooks for line in s.lines)


#: route(packet) -> (local?, out interface, masquerade address) for a node.
Router = Callable[[Packet], tuple[bool, str | None, object]]


def walk_node(engine: Engine, packet: Packet, ctx: Context, route: Router, *, from_node: bool,
              max_reroutes: int = 2) -> tuple[Pass, ...]:
    """Drive ``packet`` through one node's hooks in kernel order.

    A packet that came in goes through PREROUTING, the routing decision, then INPUT
    (for the node) or FORWARD and POSTROUTING (onwards). A packet the node sends
    itself goes through OUTPUT, the routing decision and POSTROUTING (and INPUT when
    it is for the node itself). IPVS re-routes after INPUT; the userspace proxy ends
    the connection (``PROXY``).

    Args:
        engine: the node's engine.
        packet: the first packet of the connection as it arrives (or is sent).
        ctx: the node's context; its ``masquerade_address`` is set per outgoing interface
            from ``route``.
        route: the node's routing decision for a packet.
        from_node: whether the node itself sends the packet.
    """
    out: list[Pass] = []

    def go(p: float, pkt: Packet, hooks: tuple, stage: str, reroutes: int) -> None:
        if stage in ("PREROUTING", "OUTPUT"):
            for s in engine.run(stage, pkt, ctx):
                h = hooks + ((stage, s),)
                if s.verdict in ("DROP", "REJECT"):
                    out.append(Pass(p * s.probability, s.verdict, s.packet, h))
                else:
                    go(p * s.probability, s.packet, h, "ROUTE", reroutes)
            return
        if stage == "ROUTE":
            local, iface, masq_addr = route(pkt)
            if local:
                pkt = dataclasses.replace(pkt, out_interface=None)
                for s in engine.run("INPUT", pkt, ctx):
                    h = hooks + (("INPUT", s),)
                    if s.verdict == "IPVS" and reroutes < max_reroutes:
                        go(p * s.probability, s.packet, h, "ROUTE", reroutes + 1)
                    elif s.verdict == "ACCEPT":
                        out.append(Pass(p * s.probability, "DELIVER", s.packet, h))
                    else:
                        out.append(Pass(p * s.probability, s.verdict, s.packet, h))
                return
            pkt = dataclasses.replace(pkt, out_interface=iface)
            node_ctx = dataclasses.replace(ctx, masquerade_address=masq_addr)
            hook_list = ("POSTROUTING",) if (from_node or reroutes) else ("FORWARD", "POSTROUTING")
            steps = [(p, pkt, hooks)]
            for hook in hook_list:
                nxt = []
                for prob, q, h in steps:
                    for s in engine.run(hook, q, node_ctx):
                        hh = h + ((hook, s),)
                        if s.verdict in ("DROP", "REJECT"):
                            out.append(Pass(prob * s.probability, s.verdict, s.packet, hh))
                        else:
                            nxt.append((prob * s.probability, s.packet, hh))
                steps = nxt
            for prob, q, h in steps:
                out.append(Pass(prob, "FORWARD", q, h))
            return
        raise AssertionError(stage)  # pragma: no cover

    go(1.0, packet, (), "OUTPUT" if from_node else "PREROUTING", 0)
    out.sort(key=lambda ps: -ps.probability)
    return tuple(out)


def as_lines(rules: Iterable[Rule]) -> tuple[Line, ...]:
    """iptables rules as :class:`Line` s."""
    return tuple(iptables_line(r) for r in rules)


def flatten(steps: Sequence[Step]) -> float:
    """The total probability of ``steps`` (1.0 when complete)."""
    return sum(s.probability for s in steps)
