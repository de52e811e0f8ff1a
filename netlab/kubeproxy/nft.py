"""nftables as data: one table's objects, the two texts nft reads and prints, and a packet walk.

kube-proxy's nftables mode (:mod:`.nftables`) keeps all its rules in one table. This
module holds that table as data and knows nothing about Services:

* objects - :class:`Table`, :class:`Chain`, :class:`NftSet` (a set or a verdict map),
  :class:`Element`, and :class:`Rule`, a tuple of statements (:class:`IpAddr`,
  :class:`VmapLookup`, :class:`Numgen`, :class:`Dnat`, :class:`Verdict`...);
* a *transaction* - the :class:`Op` s (``add``, ``flush``, ``delete``) a program sends
  to ``nft -f``; :func:`format_op` prints each one exactly as the knftables library
  (which kube-proxy uses) writes it, e.g. ``add rule ip kube-proxy services ...``;
* :func:`apply` - what the kernel holds after the transaction (a fresh node: nothing
  before), as an :class:`NftRuleset`;
* :func:`format_list` - what ``nft list table ip kube-proxy`` prints for that ruleset:
  sets and maps, then chains, each in the order it was created; elements sorted the
  way nft sorts them; anonymous interval sets merged; marks and priorities in nft's
  own spelling (``meta mark set meta mark | 0x00004000``, ``priority dstnat - 10``);
* :class:`NftEngine` - evaluates the ruleset for one packet at one netfilter hook: the
  base chains registered at that hook run in priority order, each one following
  ``jump``/``goto``/``return``, verdict-map lookups and ``numgen`` (one branch per
  endpoint, each with probability 1/N), and returns :class:`~.engine.Step` s whose
  lines are the rules exactly as :func:`format_list` prints them.

The list form is what **nft v1.0.6** (Debian 12) prints; it was checked line for line
against that nft on a real kernel. Other nft versions differ in small ways (newer ones
may print ``priority dstnat`` for an ``output`` hook where 1.0.6 prints ``-100``).

Taught in ``notebooks/08-kube-proxy-modes.ipynb``.

Example:
    >>> ops = (Op("add", Table("ip", "demo")), Op("add", Chain("c")),
    ...        Op("add", Rule("c", (IpAddr("saddr", ip("10.0.0.0/8"), negate=True), Verdict("drop")))))
    >>> print(format_op(ops[2], "ip", "demo"))
    add rule ip demo c ip saddr != 10.0.0.0/8 drop
    >>> print(format_list(apply(ops)).expandtabs(4), end="")  # nft indents with tabs
    table ip demo {
        chain c {
            ip saddr != 10.0.0.0/8 drop
        }
    }

Size: nftables' grammar as one piece: each statement type is data, text (for nft -f and for nft
list) and a match or an action in the packet walk; splitting by concern would separate each
statement from how it prints and how it matches.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Union

from ..errors import ConfigError
from ..model.netfilter import Context, Packet, Refusal, random_port
from .engine import HOOK_TABLES, Line, Step, check_hook

Address = ipaddress.IPv4Address
Network = ipaddress.IPv4Network
KeyPart = Union[ipaddress.IPv4Address, str, int]

#: IANA protocol numbers: nft stores ``inet_proto`` as this byte (and sorts by it).
PROTOCOL_NUMBERS = {"tcp": 6, "udp": 17, "sctp": 132}

#: nft's standard priority names (``nft(8)``, "Standard priority names").
STANDARD_PRIORITIES = (("raw", -300), ("mangle", -150), ("dstnat", -100), ("filter", 0),
                       ("security", 50), ("srcnat", 100))

#: The netfilter hooks, in netlab's names (:data:`.engine.HOOK_TABLES`) and nft's.
HOOKS = {"PREROUTING": "prerouting", "INPUT": "input", "FORWARD": "forward",
         "OUTPUT": "output", "POSTROUTING": "postrouting"}

#: nft's default ``size`` for a set that rules update from the packet path.
DYNAMIC_SET_SIZE = 65535

#: How deep jumps may nest before the evaluator calls it a loop (the kernel's limit is 16).
MAX_JUMP_DEPTH = 16


class NftError(ConfigError):
    """A transaction nft would refuse, or a ruleset the evaluator cannot walk."""


def ip(text: str | Address | Network) -> Address | Network:
    """An IPv4 address, or a network when the text has a ``/``.

    Example:
        >>> ip("10.0.0.1"), ip("10.0.0.0/8")
        (IPv4Address('10.0.0.1'), IPv4Network('10.0.0.0/8'))
    """
    if isinstance(text, (ipaddress.IPv4Address, ipaddress.IPv4Network)):
        return text
    value = str(text)
    try:
        return ipaddress.IPv4Network(value) if "/" in value else ipaddress.IPv4Address(value)
    except ValueError:
        raise NftError(
            f"{text!r} is not an IPv4 address or CIDR block; the ip family table holds IPv4 only: "
            "write e.g. 10.0.0.1 or 10.0.0.0/8"
        ) from None


def _go_quote(text: str) -> str:
    # Go's %q, which knftables uses for comments (ASCII text needs only these escapes).
    out = []
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _addr_listed(value: Address | Network) -> str:
    # nft prints a /32 prefix as a bare address.
    if isinstance(value, ipaddress.IPv4Network) and value.prefixlen == 32:
        return str(value.network_address)
    return str(value)


def _contains(where: Address | Network, address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if address.version != 4:
        return False
    if isinstance(where, ipaddress.IPv4Network):
        return address in where
    return where == address


# --------------------------------------------------------------------------------------
# Statements: the words of a rule
# --------------------------------------------------------------------------------------


class Stmt:
    """One expression or statement of a rule.

    ``text()`` is how a program writes it in a transaction (knftables' ``Concat``: words
    joined by single spaces), ``listed()`` how ``nft list`` prints it back.
    """

    __slots__ = ()

    def text(self) -> str:
        raise NotImplementedError

    def listed(self) -> str:
        return self.text()


@dataclass(frozen=True, slots=True)
class CtState(Stmt):
    """``ct state new``: the connection-tracking state is one of ``states``."""

    states: tuple[str, ...] = ("new",)

    def text(self) -> str:
        return "ct state " + ",".join(self.states)


@dataclass(frozen=True, slots=True)
class IpAddr(Stmt):
    """``ip saddr|daddr [!=] ADDRESS``: the source or destination is (not) in ``value``."""

    field: str
    value: Address | Network
    negate: bool = False

    def text(self) -> str:
        return f"ip {self.field} {'!= ' if self.negate else ''}{self.value}"

    def listed(self) -> str:
        return f"ip {self.field} {'!= ' if self.negate else ''}{_addr_listed(self.value)}"


@dataclass(frozen=True, slots=True)
class IpInSet(Stmt):
    """``ip saddr|daddr [!=] { a , b }``: membership of an anonymous set.

    ``separator`` is how the program joined the elements: kube-proxy writes
    ``" , "`` for source ranges (one knftables word per comma) and ``","`` for
    its Service CIDRs (one pre-joined string).
    """

    field: str
    elements: tuple[Address | Network, ...]
    negate: bool = False
    separator: str = " , "

    def text(self) -> str:
        items = self.separator.join(str(e) for e in self.elements)
        return f"ip {self.field} {'!= ' if self.negate else ''}{{ {items} }}"

    def listed(self) -> str:
        return f"ip {self.field} {'!= ' if self.negate else ''}{anonymous_set_listed(self.elements)}"

    def covers(self, address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
        return any(_contains(e, address) for e in self.elements)


@dataclass(frozen=True, slots=True)
class IpLookup(Stmt):
    """``ip saddr|daddr @SET``: the address is an element of a named set."""

    field: str
    set_name: str

    def text(self) -> str:
        return f"ip {self.field} @{self.set_name}"


@dataclass(frozen=True, slots=True)
class FibLocal(Stmt):
    """``fib saddr|daddr type local``: the address belongs to this host."""

    field: str

    def text(self) -> str:
        return f"fib {self.field} type local"


#: Packet fields a verdict-map key can be built from.
KEY_FIELDS = ("ip daddr", "ip saddr", "meta l4proto", "th dport")


@dataclass(frozen=True, slots=True)
class VmapLookup(Stmt):
    """``KEY . KEY vmap @MAP``: look the packet up in a verdict map; no element, no match."""

    keys: tuple[str, ...]
    map_name: str

    def __post_init__(self) -> None:
        for key in self.keys:
            if key not in KEY_FIELDS:
                raise NftError(
                    f"netlab builds map keys from {', '.join(KEY_FIELDS)}, not {key!r}; "
                    "kube-proxy's maps use ip daddr . meta l4proto . th dport"
                )

    def text(self) -> str:
        return f"{' . '.join(self.keys)} vmap @{self.map_name}"


@dataclass(frozen=True, slots=True)
class Numgen(Stmt):
    """``numgen random mod N vmap { 0 : goto A , 1 : goto B }``: pick one of N chains at random."""

    targets: tuple[str, ...]

    def _items(self, separator: str) -> str:
        return separator.join(f"{i} : goto {t}" for i, t in enumerate(self.targets))

    def text(self) -> str:
        return f"numgen random mod {len(self.targets)} vmap {{ {self._items(' , ')} }}"

    def listed(self) -> str:
        return f"numgen random mod {len(self.targets)} vmap {{ {self._items(', ')} }}"


@dataclass(frozen=True, slots=True)
class L4Proto(Stmt):
    """``meta l4proto tcp``: the layer-4 protocol."""

    proto: str

    def text(self) -> str:
        return f"meta l4proto {self.proto}"


def _mark_listed(value: int) -> str:
    return f"0x{value:08x}"


@dataclass(frozen=True, slots=True)
class MarkSet(Stmt):
    """``mark set mark or|xor VALUE``: set or flip bits of the packet mark.

    ``written`` is the value as the program spells it (kube-proxy: Go's ``%#08x``,
    ``0x00004000``); nft prints ``meta mark set meta mark | 0x00004000``.
    """

    op: str
    value: int
    written: str = ""

    def __post_init__(self) -> None:
        if self.op not in ("or", "xor"):
            raise NftError(f"netlab models 'mark set mark or|xor VALUE', not {self.op!r}")
        if not self.written:
            object.__setattr__(self, "written", hex(self.value))

    def text(self) -> str:
        return f"mark set mark {self.op} {self.written}"

    def listed(self) -> str:
        return f"meta mark set meta mark {'|' if self.op == 'or' else '^'} {_mark_listed(self.value)}"


@dataclass(frozen=True, slots=True)
class MarkClear(Stmt):
    """``mark and MASK == 0``: none of ``mask`` 's bits is set."""

    mask: int
    written: str = ""

    def __post_init__(self) -> None:
        if not self.written:
            object.__setattr__(self, "written", hex(self.mask))

    def text(self) -> str:
        return f"mark and {self.written} == 0"

    def listed(self) -> str:
        inverse = self.mask ^ 0xFFFFFFFF
        if self.mask and inverse & (inverse + 1) == 0:
            # A mask of leading one-bits (bit 31 alone) is a prefix: nft prints "meta mark 0x00000000/1".
            return f"meta mark 0x00000000/{32 - inverse.bit_length()}"
        return f"meta mark & {_mark_listed(self.mask)} == 0x00000000"


@dataclass(frozen=True, slots=True)
class SetUpdate(Stmt):
    """``update @SET { ip saddr }``: add the source address to a dynamic set (refresh its timeout)."""

    set_name: str
    field: str = "saddr"

    def text(self) -> str:
        return f"update @{self.set_name} {{ ip {self.field} }}"


@dataclass(frozen=True, slots=True)
class Dnat(Stmt):
    """``dnat to IP:PORT``: rewrite the destination; ends the base chain with accept."""

    address: Address
    port: int

    def text(self) -> str:
        return f"dnat to {self.address}:{self.port}"


@dataclass(frozen=True, slots=True)
class Masquerade(Stmt):
    """``masquerade fully-random``: SNAT to the outgoing interface's address; ends with accept."""

    fully_random: bool = True

    def text(self) -> str:
        return "masquerade fully-random" if self.fully_random else "masquerade"


VERDICTS = ("accept", "drop", "reject", "return", "jump", "goto")


@dataclass(frozen=True, slots=True)
class Verdict(Stmt):
    """``jump X``, ``goto X``, ``return``, ``accept``, ``drop`` or ``reject``."""

    kind: str
    chain: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in VERDICTS:
            raise NftError(f"nft has no verdict {self.kind!r}; use one of {', '.join(VERDICTS)}")
        if (self.kind in ("jump", "goto")) != (self.chain is not None):
            raise NftError(f"'{self.kind}' {'needs' if self.chain is None else 'takes no'} chain name")

    def text(self) -> str:
        return f"{self.kind} {self.chain}" if self.chain else self.kind


def anonymous_set_listed(elements: Sequence[Address | Network]) -> str:
    """Print an anonymous set the way nft lists it back.

    A set written with one element is printed as that element, without braces. A set
    with any prefix is an *interval* set: nft merges overlapping and adjacent intervals
    and prints each as an address, a prefix or a range ``a-b``. A set of bare
    addresses is a hash set: sorted, duplicates dropped.

    Example:
        >>> anonymous_set_listed([ip("203.0.113.0/25")])
        '203.0.113.0/25'
        >>> anonymous_set_listed([ip("10.0.0.0/24"), ip("10.0.1.0/24"), ip("1.2.3.4")])
        '{ 1.2.3.4, 10.0.0.0/23 }'
        >>> anonymous_set_listed([ip("10.0.0.0/25"), ip("10.0.0.128/26")])
        '{ 10.0.0.0-10.0.0.191 }'
    """
    if len(elements) == 1:
        return _addr_listed(elements[0])
    if not any(isinstance(e, ipaddress.IPv4Network) for e in elements):
        return "{ " + ", ".join(str(a) for a in sorted(set(elements))) + " }"
    spans = sorted(
        (int(e.network_address), int(e.broadcast_address)) if isinstance(e, ipaddress.IPv4Network)
        else (int(e), int(e)) for e in elements
    )
    merged: list[list[int]] = []
    for low, high in spans:
        if merged and low <= merged[-1][1] + 1:
            merged[-1][1] = max(merged[-1][1], high)
        else:
            merged.append([low, high])
    items = []
    for low, high in merged:
        size = high - low + 1
        if low == high:
            items.append(str(ipaddress.IPv4Address(low)))
        elif size & (size - 1) == 0 and low % size == 0:
            items.append(f"{ipaddress.IPv4Address(low)}/{32 - size.bit_length() + 1}")
        else:
            items.append(f"{ipaddress.IPv4Address(low)}-{ipaddress.IPv4Address(high)}")
    return "{ " + ", ".join(items) + " }"


# --------------------------------------------------------------------------------------
# Objects of a table
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Table:
    """``table FAMILY NAME``, with its comment."""

    family: str
    name: str
    comment: str | None = None


@dataclass(frozen=True, slots=True)
class Chain:
    """A chain; a *base* chain also has a type, a hook and a priority.

    Example:
        >>> Chain("nat-prerouting", "nat", "prerouting", -100).base
        True
    """

    name: str
    type: str | None = None
    hook: str | None = None
    priority: int | None = None
    comment: str | None = None

    @property
    def base(self) -> bool:
        return self.hook is not None


@dataclass(frozen=True, slots=True)
class NftSet:
    """A named set (``kind="set"``) or verdict map (``kind="map"``).

    ``type`` is nft's type text: ``ipv4_addr`` or, for a map,
    ``ipv4_addr . inet_proto . inet_service : verdict``. ``timeout`` is in seconds.
    """

    name: str
    type: str
    kind: str = "set"
    flags: tuple[str, ...] = ()
    timeout: int | None = None
    comment: str | None = None
    size: int | None = None

    @property
    def dynamic(self) -> bool:
        return "dynamic" in self.flags


@dataclass(frozen=True, slots=True)
class Element:
    """One element of a set (no value) or map (``value`` is a verdict).

    ``key`` holds typed parts: an address, a protocol name, a port number.
    """

    container: str
    key: tuple[KeyPart, ...]
    value: Verdict | None = None
    comment: str | None = None
    refusal: Refusal | None = field(default=None, compare=False, repr=False)  # as Rule.refusal, for a map's verdict

    def key_text(self) -> str:
        return " . ".join(str(k) for k in self.key)

    def listed(self) -> str:
        """The element as it appears inside ``elements = { ... }``."""
        text = self.key_text()
        if self.comment is not None:
            text += f' comment "{self.comment}"'
        if self.value is not None:
            text += f" : {self.value.text()}"
        return text


@dataclass(frozen=True, slots=True)
class Rule:
    """``add rule ... CHAIN STATEMENTS [comment "..."]``.

    ``refusal`` says why the rule refuses or drops a packet, when kube-proxy wrote it for
    one of the reasons of :class:`~netlab.model.netfilter.Refusal`; it is not part of the
    rule's text, equality or repr.
    """

    chain: str
    stmts: tuple[Stmt, ...]
    comment: str | None = None
    refusal: Refusal | None = field(default=None, compare=False, repr=False)

    def text(self) -> str:
        body = " ".join(s.text() for s in self.stmts)
        return body if self.comment is None else f"{body} comment {_go_quote(self.comment)}"

    def listed(self) -> str:
        body = " ".join(s.listed() for s in self.stmts)
        return body if self.comment is None else f'{body} comment "{self.comment}"'

    @property
    def action(self) -> str:
        """What the rule does when it matches, as the keyword of its last statement that acts:
        a verdict (``jump``, ``goto``, ``accept``, ``drop``, ``reject``, ``return``), ``vmap``,
        ``numgen``, ``dnat``, ``masquerade``, ``mark`` or ``update``; empty for a rule that only matches."""
        for stmt in reversed(self.stmts):
            action = _ACTIONS.get(type(stmt))
            if action is not None:
                return stmt.kind if isinstance(stmt, Verdict) else action
        return ""


#: The statements that act, by the keyword :attr:`Rule.action` gives them; the rest only match.
_ACTIONS: dict[type, str] = {Verdict: "verdict", VmapLookup: "vmap", Numgen: "numgen", Dnat: "dnat",
                             Masquerade: "masquerade", MarkSet: "mark", SetUpdate: "update"}

NftObject = Union[Table, Chain, NftSet, Element, Rule]

_VERBS = ("add", "flush", "delete")


@dataclass(frozen=True, slots=True)
class Op:
    """One operation of a transaction: ``add``, ``flush`` or ``delete`` an object."""

    verb: str
    obj: NftObject

    def __post_init__(self) -> None:
        if self.verb not in _VERBS:
            raise NftError(f"netlab models nft verbs {', '.join(_VERBS)}, not {self.verb!r}")


def format_op(op: Op, family: str, table: str) -> str:
    """Print one operation as knftables writes it into the ``nft -f`` input.

    Example:
        >>> print(format_op(Op("add", NftSet("cluster-ips", "ipv4_addr", comment="Active ClusterIPs")), "ip", "kube-proxy"))
        add set ip kube-proxy cluster-ips { type ipv4_addr ; comment "Active ClusterIPs" ; }
        >>> print(format_op(Op("add", Chain("nat-output", "nat", "output", -100)), "ip", "kube-proxy"))
        add chain ip kube-proxy nat-output { type nat hook output priority -100 ; }
    """
    obj, verb = op.obj, op.verb
    where = f"{family} {table}"
    if isinstance(obj, Rule):
        return f"{verb} rule {where} {obj.chain} {obj.text()}"
    if isinstance(obj, Element):
        text = f"{verb} element {where} {obj.container} {{ {obj.key_text()}"
        if verb == "add":
            if obj.comment is not None:
                text += f" comment {_go_quote(obj.comment)}"
            if obj.value is not None:
                text += f" : {obj.value.text()}"
        return text + " }"
    if isinstance(obj, Chain):
        text = f"{verb} chain {where} {obj.name}"
        if verb == "add" and (obj.type is not None or obj.comment is not None):
            text += " {"
            if obj.type is not None:
                text += f" type {obj.type} hook {obj.hook} priority {obj.priority} ;"
            if obj.comment is not None:
                text += f" comment {_go_quote(obj.comment)} ;"
            text += " }"
        return text
    if isinstance(obj, NftSet):
        text = f"{verb} {obj.kind} {where} {obj.name}"
        if verb == "add":
            text += f" {{ type {obj.type} ;"
            if obj.flags:
                text += f" flags {','.join(obj.flags)} ;"
            if obj.timeout is not None:
                text += f" timeout {obj.timeout}s ;"
            if obj.comment is not None:
                text += f" comment {_go_quote(obj.comment)} ;"
            text += " }"
        return text
    if isinstance(obj, Table):
        text = f"{verb} table {obj.family} {obj.name}"
        if verb == "add" and obj.comment is not None:
            text += f" {{ comment {_go_quote(obj.comment)} ; }}"
        return text
    raise NftError(f"nft has no object {type(obj).__name__}")  # pragma: no cover


def format_transaction(ops: Iterable[Op], family: str, table: str) -> str:
    """Print a whole transaction, one operation per line, ending with a newline."""
    return "".join(format_op(op, family, table) + "\n" for op in ops)


# --------------------------------------------------------------------------------------
# What the kernel holds after a transaction
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NftRuleset:
    """One table as the kernel holds it: objects in creation order, rules per chain.

    Attributes:
        table: the table.
        sets: sets and maps, in the order they were created.
        elements: each set's or map's elements, in the order they were added.
        chains: chains, in the order they were created.
        rules: each chain's rules, in order.
    """

    table: Table
    sets: tuple[NftSet, ...]
    elements: Mapping[str, tuple[Element, ...]]
    chains: tuple[Chain, ...]
    rules: Mapping[str, tuple[Rule, ...]]
    _index: dict = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "_index",
            {name: {e.key: e for e in elements} for name, elements in self.elements.items()},
        )

    def chain(self, name: str) -> Chain:
        """The chain called ``name``."""
        for c in self.chains:
            if c.name == name:
                return c
        raise NftError(f"table {self.table.family} {self.table.name} has no chain {name!r}")

    def set(self, name: str) -> NftSet:
        """The set or map called ``name``."""
        for s in self.sets:
            if s.name == name:
                return s
        raise NftError(f"table {self.table.family} {self.table.name} has no set or map {name!r}")

    def lookup(self, name: str, key: tuple) -> Element | None:
        """The element of set/map ``name`` whose key is ``key``, or None."""
        return self._index.get(name, {}).get(key)

    def base_chains(self, hook: str) -> tuple[Chain, ...]:
        """The base chains at a netfilter hook (``"PREROUTING"``...), by priority.

        Chains of equal priority keep their creation order.
        """
        check_hook(hook)
        nft_hook = HOOKS[hook]
        found = [c for c in self.chains if c.hook == nft_hook]
        return tuple(sorted(found, key=lambda c: c.priority))  # stable: creation order on ties


def _referenced_chain(stmt: Stmt) -> Iterable[str]:
    if isinstance(stmt, Verdict) and stmt.chain:
        yield stmt.chain
    elif isinstance(stmt, Numgen):
        yield from stmt.targets


def _referenced_set(stmt: Stmt) -> str | None:
    if isinstance(stmt, (IpLookup, SetUpdate)):
        return stmt.set_name
    if isinstance(stmt, VmapLookup):
        return stmt.map_name
    return None


def apply(ops: Iterable[Op]) -> NftRuleset:
    """Run a transaction against an empty kernel and return the table it leaves.

    Checks what nft itself checks: a rule's chain and the chains it jumps to exist, the
    sets it looks up exist, an element's set exists, a base chain is not changed in
    place. nft would refuse the whole transaction; so does this.

    Args:
        ops: the operations, the first one adding the table.

    Returns:
        The :class:`NftRuleset`.

    Raises:
        NftError: naming the operation nft would refuse, and why.

    Example:
        >>> r = apply([Op("add", Table("ip", "t")), Op("add", Chain("a")), Op("delete", Chain("a")),
        ...            Op("add", Chain("b")), Op("add", Chain("a"))])
        >>> [c.name for c in r.chains]
        ['b', 'a']
    """
    table: Table | None = None
    sets: dict[str, NftSet] = {}
    elements: dict[str, dict[tuple, Element]] = {}
    chains: dict[str, Chain] = {}
    rules: dict[str, list[Rule]] = {}
    updated: set[str] = set()
    for op in ops:
        obj, verb = op.obj, op.verb

        def refuse(why: str, fix: str) -> NftError:
            where = f"{table.family} {table.name}" if table else "ip ?"
            return NftError(f"nft would refuse `{format_op(op, *where.split())}`: {why}; {fix}")

        if isinstance(obj, Table):
            if verb != "add":
                raise refuse("netlab models a fresh table only", "start the transaction with 'add table'")
            table = table or obj
            continue
        if table is None:
            raise NftError("a transaction must add the table before anything in it; start with Op('add', Table(...))")
        if isinstance(obj, Rule):
            if obj.chain not in chains:
                raise refuse(f"chain {obj.chain!r} does not exist", "add the chain before its rules")
            for stmt in obj.stmts:
                for target in _referenced_chain(stmt):
                    if target not in chains:
                        raise refuse(f"it jumps to chain {target!r}, which does not exist",
                                     "add the target chain first")
                name = _referenced_set(stmt)
                if name is not None:
                    if name not in sets:
                        raise refuse(f"set or map {name!r} does not exist", "add it before the rule")
                    if isinstance(stmt, SetUpdate):
                        updated.add(name)
            rules[obj.chain].append(obj)
        elif isinstance(obj, Element):
            if obj.container not in sets:
                raise refuse(f"set or map {obj.container!r} does not exist", "add it before its elements")
            held = elements[obj.container]
            if verb == "add":
                if obj.value is not None and obj.value.chain is not None and obj.value.chain not in chains:
                    raise refuse(f"its verdict jumps to chain {obj.value.chain!r}, which does not exist",
                                 "add the chain first")
                held.setdefault(obj.key, obj)
            elif verb == "delete":
                if held.pop(obj.key, None) is None:
                    raise refuse("no such element", "delete only elements that exist")
            else:
                raise refuse("elements cannot be flushed", "flush the set instead")
        elif isinstance(obj, Chain):
            if verb == "add":
                existing = chains.get(obj.name)
                if existing is None:
                    chains[obj.name] = obj
                    rules[obj.name] = []
                elif obj.hook is not None and (existing.type, existing.hook, existing.priority) != (
                        obj.type, obj.hook, obj.priority):
                    raise refuse("the chain exists with another type, hook or priority",
                                 "delete it first (kube-proxy adds and deletes its base chains once)")
            elif verb == "flush":
                if obj.name not in chains:
                    raise refuse("no such chain", "add it before flushing it")
                rules[obj.name] = []
            else:
                if obj.name not in chains:
                    raise refuse("no such chain", "add it before deleting it")
                del chains[obj.name]
                del rules[obj.name]
        elif isinstance(obj, NftSet):
            if verb == "add":
                if obj.name not in sets:
                    sets[obj.name] = obj
                    elements[obj.name] = {}
            elif verb == "flush":
                if obj.name not in sets:
                    raise refuse("no such set or map", "add it before flushing it")
                elements[obj.name] = {}
            else:
                if obj.name not in sets:
                    raise refuse("no such set or map", "add it before deleting it")
                del sets[obj.name]
                del elements[obj.name]
    if table is None:
        raise NftError("the transaction adds no table; start it with Op('add', Table(...))")
    # nft gives a dynamic set that a rule updates the default size (65535).
    for name in updated:
        if name in sets and sets[name].size is None and sets[name].dynamic:
            sets[name] = dataclasses.replace(sets[name], size=DYNAMIC_SET_SIZE)
    return NftRuleset(
        table=table,
        sets=tuple(sets.values()),
        elements=MappingProxyType({name: tuple(held.values()) for name, held in elements.items()}),
        chains=tuple(chains.values()),
        rules=MappingProxyType({name: tuple(r) for name, r in rules.items()}),
    )


# --------------------------------------------------------------------------------------
# nft list
# --------------------------------------------------------------------------------------


def _hook_allows(name: str, hook: str) -> bool:
    # nft 1.0.6 (std_prio_family_hook_compat) prints dstnat only at prerouting and
    # srcnat only at postrouting; elsewhere the number is printed.
    if name == "dstnat":
        return hook == "prerouting"
    if name == "srcnat":
        return hook == "postrouting"
    return True


def priority_listed(priority: int, hook: str) -> str:
    """A base chain's priority as nft prints it: a standard name within 10, else a number.

    Example:
        >>> priority_listed(-110, "prerouting"), priority_listed(-110, "output"), priority_listed(0, "input")
        ('dstnat - 10', '-110', 'filter')
    """
    for name, value in STANDARD_PRIORITIES:
        if abs(priority - value) <= 10:
            if not _hook_allows(name, hook):
                break
            offset = priority - value
            if offset > 0:
                return f"{name} + {offset}"
            if offset < 0:
                return f"{name} - {-offset}"
            return name
    return str(priority)


def duration_listed(seconds: int) -> str:
    """A timeout as nft prints it: ``3h``, ``1d``, ``2h46m40s``.

    Example:
        >>> duration_listed(10800), duration_listed(10000), duration_listed(86400)
        ('3h', '2h46m40s', '1d')
    """
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        amount, seconds = divmod(seconds, size)
        if amount:
            parts.append(f"{amount}{unit}")
    return "".join(parts) or "0s"


def element_sort_key(key: tuple[KeyPart, ...]) -> int:
    """The order nft lists elements in (on a little-endian host such as x86-64 or arm64).

    A single address sorts by its value. A concatenation is laid out as bytes (address:
    4, ``inet_proto``: 1, ``inet_service``: 2, each in network order) and nft compares
    that blob as one host-endian number, so the *last* byte weighs most: map elements
    come out ordered by the port's low byte first, which looks unsorted but is nft's order.

    Example:
        >>> keys = [(ip("10.0.0.1"), "tcp", 443), (ip("10.0.0.1"), "tcp", 8080), (ip("9.0.0.1"), "tcp", 80)]
        >>> [k[2] for k in sorted(keys, key=element_sort_key)]
        [80, 8080, 443]
    """
    if len(key) == 1 and isinstance(key[0], ipaddress.IPv4Address):
        return int(key[0])
    data = bytearray()
    for part in key:
        if isinstance(part, ipaddress.IPv4Address):
            data += part.packed
        elif isinstance(part, str):
            data.append(PROTOCOL_NUMBERS[part])
        else:
            data += part.to_bytes(2, "big")
    return int.from_bytes(bytes(data), "little")


_WRAP = ",\n\t\t\t     "


def _elements_listed(s: NftSet, elements: Sequence[Element]) -> str:
    ordered = sorted(elements, key=lambda e: element_sort_key(e.key))
    texts = [e.listed() for e in ordered]
    if s.kind == "set" and s.type == "ipv4_addr":
        # nft puts two addresses on a line.
        rows = [", ".join(texts[i:i + 2]) for i in range(0, len(texts), 2)]
        return "{ " + _WRAP.join(rows) + " }"
    return "{ " + _WRAP.join(texts) + " }"


def format_list(ruleset: NftRuleset) -> str:
    """Print the ruleset the way ``nft list table FAMILY NAME`` does (nft v1.0.6).

    Args:
        ruleset: the result of :func:`apply`.

    Returns:
        The text, ending with a newline.
    """
    out = [f"table {ruleset.table.family} {ruleset.table.name} {{"]
    if ruleset.table.comment is not None:
        out.append(f'\tcomment "{ruleset.table.comment}"')
    blocks: list[list[str]] = []
    for s in ruleset.sets:
        block = [f"\t{s.kind} {s.name} {{", f"\t\ttype {s.type}"]
        if s.size is not None:
            block.append(f"\t\tsize {s.size}")
        if s.flags:
            block.append(f"\t\tflags {','.join(s.flags)}")
        if s.timeout is not None:
            block.append(f"\t\ttimeout {duration_listed(s.timeout)}")
        if s.comment is not None:
            block.append(f'\t\tcomment "{s.comment}"')
        held = ruleset.elements.get(s.name, ())
        if held:
            block.append(f"\t\telements = {_elements_listed(s, held)}")
        block.append("\t}")
        blocks.append(block)
    for c in ruleset.chains:
        block = [f"\tchain {c.name} {{"]
        if c.base:
            block.append(f"\t\ttype {c.type} hook {c.hook} priority {priority_listed(c.priority, c.hook)}; "
                         "policy accept;")
        if c.comment is not None:
            block.append(f'\t\tcomment "{c.comment}"')
        block.extend("\t\t" + r.listed() for r in ruleset.rules.get(c.name, ()))
        block.append("\t}")
        blocks.append(block)
    for i, block in enumerate(blocks):
        if i:
            out.append("")
        out.extend(block)
    out.append("}")
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------------------
# Evaluation
# --------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Walk:
    probability: float
    packet: Packet
    stack: list  # [chain, next rule index]
    lines: list
    updated: frozenset  # (set, address) added by "update @set"
    masqueraded: bool = False
    pending: Verdict | None = None

    def fork(self, probability: float, pending: Verdict) -> "_Walk":
        return _Walk(probability, self.packet, [list(f) for f in self.stack], list(self.lines),
                     self.updated, self.masqueraded, pending)


def _key_part(name: str, packet: Packet):
    if name == "ip daddr":
        return packet.dst
    if name == "ip saddr":
        return packet.src
    if name == "meta l4proto":
        return packet.proto
    return packet.dport  # th dport


@dataclass(frozen=True)
class NftEngine:
    """An nft ruleset as an engine (:class:`~.engine.Engine`): each hook runs its base chains.

    Every base chain registered at the hook runs, lowest priority first; ``accept`` (or
    the end of a base chain, whose policy is accept) goes on to the next one, ``drop``
    and ``reject`` end the hook. ``dnat`` and ``masquerade`` end their base chain with
    accept, as they do in the kernel. ``numgen random mod N`` forks the walk into N
    branches of probability 1/N each; ``ip saddr @set`` on a dynamic (affinity) set
    matches the ``(set, address)`` pairs in ``ctx.recent`` and those an earlier
    ``update @set`` of the same walk added.

    Each :class:`~.engine.Step` lists the rules that matched as
    ``Line("nft", <chain>, <rule as format_list prints it>)``; a verdict-map lookup that
    found an element adds that element too, as ``Line("nft", "map <name>", <element as
    listed>)``, so a learner sees which entry of ``@service-ips`` sent the packet where.

    Example:
        >>> ops = [Op("add", Table("ip", "t")), Op("add", Chain("pre", "nat", "prerouting", -100)),
        ...        Op("add", Rule("pre", (L4Proto("tcp"), Dnat(ip("10.244.1.5"), 8080))))]
        >>> step, = NftEngine(apply(ops)).run("PREROUTING", Packet("10.244.0.9", "10.0.0.12", 40000, 80, "tcp"), Context())
        >>> step.verdict, str(step.packet.dst), step.packet.dport, step.lines[0].text
        ('ACCEPT', '10.244.1.5', 8080, 'meta l4proto tcp dnat to 10.244.1.5:8080')
    """

    ruleset: NftRuleset
    _listed: dict = field(init=False, repr=False, compare=False, default_factory=dict)
    _bases: dict = field(init=False, repr=False, compare=False, default_factory=dict)

    def base_chains(self, hook: str) -> tuple[Chain, ...]:
        """The base chains a hook runs, in order."""
        bases = self._bases.get(hook)
        if bases is None:
            bases = self._bases[hook] = self.ruleset.base_chains(hook)
        return bases

    def run(self, hook: str, packet: Packet, ctx: Context) -> tuple[Step, ...]:
        """The ways ``packet`` can leave ``hook`` (probabilities add up to 1)."""
        steps = [Step(1.0, "ACCEPT", packet)]
        for base in self.base_chains(hook):
            nxt: list[Step] = []
            for s in steps:
                if s.verdict != "ACCEPT":
                    nxt.append(s)
                    continue
                for w, verdict in self._walk(base.name, s.packet, ctx):
                    nxt.append(Step(s.probability * w.probability, verdict, w.packet, s.lines + tuple(w.lines),
                                    s.masqueraded or w.masqueraded))
            steps = nxt
        return tuple(steps)

    def _line(self, chain: str, index: int, rule: Rule) -> Line:
        key = (chain, index)
        line = self._listed.get(key)
        if line is None:
            line = self._listed[key] = Line("nft", chain, rule.listed(), refusal=rule.refusal, target=rule.action,
                                            mark_match=any(isinstance(s, MarkClear) for s in rule.stmts))
        return line

    def _walk(self, chain: str, packet: Packet, ctx: Context) -> list[tuple[_Walk, str]]:
        finished: list[tuple[_Walk, str]] = []
        work = [_Walk(1.0, packet, [[chain, 0]], [], frozenset())]
        rules = self.ruleset.rules
        while work:
            w = work.pop()
            verdict = w.pending
            w.pending = None
            while True:
                if verdict is not None:
                    end = self._verdict(w, verdict, ctx)
                    verdict = None
                    if end:
                        finished.append((w, end))
                        break
                if not w.stack:
                    finished.append((w, "ACCEPT"))  # the base chain's policy
                    break
                frame = w.stack[-1]
                chain_rules = rules.get(frame[0], ())
                if frame[1] >= len(chain_rules):
                    w.stack.pop()  # end of a chain: back to where it was jumped from
                    continue
                index = frame[1]
                rule = chain_rules[index]
                frame[1] += 1
                result = self._rule(w, frame[0], index, rule, ctx, work)
                if result is None:
                    continue
                if isinstance(result, str):
                    finished.append((w, result))
                    break
                verdict = result
        finished.sort(key=lambda item: -item[0].probability)
        return finished

    def _rule(self, w: _Walk, chain: str, index: int, rule: Rule, ctx: Context, work: list):
        """Run one rule: None (no match, or fell through), a verdict to apply, or an end ("ACCEPT"...)."""
        packet = w.packet
        recorded = False
        for stmt in rule.stmts:
            if isinstance(stmt, (CtState, IpAddr, IpInSet, IpLookup, FibLocal, L4Proto, MarkClear)):
                if not self._matches(stmt, w, ctx):
                    return None
                continue
            if not recorded:
                w.lines.append(self._line(chain, index, rule))
                recorded = True
            if isinstance(stmt, Verdict):
                return stmt
            if isinstance(stmt, VmapLookup):
                if packet.proto not in PROTOCOL_NUMBERS and "th dport" in stmt.keys:
                    w.lines.pop()
                    return None
                key = tuple(_key_part(k, packet) for k in stmt.keys)
                element = self.ruleset.lookup(stmt.map_name, key)
                if element is None:
                    w.lines.pop()  # no element: the rule did not match
                    return None
                w.lines.append(Line("nft", f"map {stmt.map_name}", element.listed(), refusal=element.refusal,
                                    target=element.value.kind if element.value is not None else ""))
                return element.value
            if isinstance(stmt, Numgen):
                n = len(stmt.targets)
                for target in reversed(stmt.targets[1:]):
                    work.append(w.fork(w.probability / n, Verdict("goto", target)))
                w.probability /= n
                return Verdict("goto", stmt.targets[0])
            if isinstance(stmt, MarkSet):
                mark = packet.mark | stmt.value if stmt.op == "or" else packet.mark ^ stmt.value
                packet = w.packet = dataclasses.replace(packet, mark=mark)
            elif isinstance(stmt, SetUpdate):
                w.updated = w.updated | {(stmt.set_name, packet.src if stmt.field == "saddr" else packet.dst)}
            elif isinstance(stmt, Dnat):
                w.packet = dataclasses.replace(packet, dst=stmt.address, dport=stmt.port,
                                               ctstate=packet.ctstate | {"DNAT"})
                return "ACCEPT"
            elif isinstance(stmt, Masquerade):
                source = ctx.masquerade_address if ctx.masquerade_address is not None else packet.src
                sport = random_port(packet) if stmt.fully_random else packet.sport
                w.packet = dataclasses.replace(packet, src=source, sport=sport, ctstate=packet.ctstate | {"SNAT"})
                w.masqueraded = True
                return "ACCEPT"
            else:  # pragma: no cover - every Stmt subclass is handled above
                raise NftError(f"netlab's nft evaluator does not model {type(stmt).__name__}")
        if not recorded:
            w.lines.append(self._line(chain, index, rule))
        return None

    def _matches(self, stmt: Stmt, w: _Walk, ctx: Context) -> bool:
        packet = w.packet
        if isinstance(stmt, CtState):
            return any(state.upper() in packet.ctstate for state in stmt.states)
        if isinstance(stmt, IpAddr):
            address = packet.src if stmt.field == "saddr" else packet.dst
            return _contains(stmt.value, address) != stmt.negate
        if isinstance(stmt, IpInSet):
            return stmt.covers(packet.src if stmt.field == "saddr" else packet.dst) != stmt.negate
        if isinstance(stmt, IpLookup):
            address = packet.src if stmt.field == "saddr" else packet.dst
            if self.ruleset.set(stmt.set_name).dynamic:
                entry = (stmt.set_name, address)
                return entry in ctx.recent or entry in w.updated
            return self.ruleset.lookup(stmt.set_name, (address,)) is not None
        if isinstance(stmt, FibLocal):
            return ctx.is_local(packet.src if stmt.field == "saddr" else packet.dst)
        if isinstance(stmt, L4Proto):
            return packet.proto == stmt.proto
        if isinstance(stmt, MarkClear):
            return packet.mark & stmt.mask == 0
        raise NftError(f"{type(stmt).__name__} is not a match")  # pragma: no cover

    def _verdict(self, w: _Walk, verdict: Verdict, ctx: Context) -> str | None:
        kind = verdict.kind
        if kind in ("accept", "drop", "reject"):
            return kind.upper()
        if kind == "return":
            w.stack.pop()
            return None
        if verdict.chain not in self.ruleset.rules:
            raise NftError(f"'{verdict.text()}': no chain {verdict.chain!r} in the table")
        if kind == "jump":
            if len(w.stack) >= MAX_JUMP_DEPTH:
                raise NftError(
                    f"'{verdict.text()}' nests jumps deeper than {MAX_JUMP_DEPTH} chains; "
                    "the ruleset loops, which nft would refuse to load"
                )
            w.stack.append([verdict.chain, 0])
        else:  # goto: replaces the current chain, so its end returns to the caller's caller
            w.stack[-1] = [verdict.chain, 0]
        return None


def hook_names(engine: NftEngine) -> dict[str, tuple[str, ...]]:
    """For reports: each hook's base chains as ``"nft <chain>"``, in the order they run."""
    return {hook: tuple(f"nft {c.name}" for c in engine.base_chains(hook)) for hook in HOOK_TABLES}
