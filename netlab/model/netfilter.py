"""Netfilter (iptables) rules as data, how iptables prints them, and how one packet walks them.

A :class:`Rule` is one ``-A CHAIN ... -j TARGET`` line held as data: the table, the
chain, a tuple of :class:`Match` values and a target. Two formatters print a rule:

* :func:`format_restore` prints it the way a program writes it for ``iptables-restore``
  (arguments in the order the writer put them, bare host addresses, comments quoted
  only when they contain spaces);
* :func:`format_save` prints it the way ``iptables-save`` prints it back after the
  kernel stored it: ``-s``/``-d``/``-i``/``-o``/``-p`` first, addresses with a prefix
  length, every comment quoted, ``MARK`` targets as ``--set-xmark value/mask``,
  ``REJECT`` with its default ``--reject-with``, and ``--probability`` as the kernel
  stores it (a 31-bit fixed-point number printed with 11 decimals).

:func:`evaluate` walks the rules of one chain for one :class:`Packet`: it follows
jumps, gotos and ``RETURN``, applies ``MARK``, ``DNAT``, ``SNAT``/``MASQUERADE``,
``ACCEPT``, ``DROP`` and ``REJECT``, and ends a built-in chain with its policy
(``ACCEPT`` unless the :class:`Context` says otherwise). Where the kernel would roll a
die (``-m statistic --mode random``) it follows *both* outcomes and returns one
:class:`Outcome` per path, each with its probability, so the probabilities of the
outcomes add up to 1. ``-m recent --rcheck`` is not random: it matches when the
context says the source address is already in that list (a fresh client is in none).

The evaluator models the *first* packet of a connection (conntrack state ``NEW``), the
only one the ``nat`` table sees; later packets follow the conntrack entry it created.

These types are generic: kube-proxy's iptables mode builds them
(:mod:`netlab.kubeproxy.iptables`) and other writers (IPVS mode's helper rules, CNI
masquerade rules) can reuse them. Taught in ``notebooks/07-services.ipynb``.

Example:
    >>> rule = Rule("nat", "KUBE-SEP-X", (Comment("ns/web"), Source(ip("10.244.1.5"))),
    ...             "KUBE-MARK-MASQ")
    >>> format_restore(rule)
    '-A KUBE-SEP-X -m comment --comment ns/web -s 10.244.1.5 -j KUBE-MARK-MASQ'
    >>> format_save(rule)
    '-A KUBE-SEP-X -s 10.244.1.5/32 -m comment --comment "ns/web" -j KUBE-MARK-MASQ'

Size: every match and target is data, text (iptables-save and restore) and semantics (the
evaluator); one module keeps each match's three faces together, and every rule-writing layer above
uses all three.
"""

from __future__ import annotations

import enum
import ipaddress
import re
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Union

from ..errors import AddressError, ConfigError, NetlabError, did_you_mean

Address = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]
Network = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]

#: Built-in chains of each table, in the order ``iptables-save`` prints them.
BUILTIN_CHAINS: dict[str, tuple[str, ...]] = {
    "raw": ("PREROUTING", "OUTPUT"),
    "mangle": ("PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"),
    "filter": ("INPUT", "FORWARD", "OUTPUT"),
    "nat": ("PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"),
}

#: Targets the evaluator understands; any other target name is a user-defined chain.
BUILTIN_TARGETS = frozenset(
    {"ACCEPT", "DROP", "REJECT", "RETURN", "MARK", "DNAT", "SNAT", "MASQUERADE", "REDIRECT", "LOG"}
)

#: The order in which libxt_conntrack prints ``--ctstate`` flags.
_CTSTATE_ORDER = ("INVALID", "NEW", "RELATED", "ESTABLISHED", "UNTRACKED", "SNAT", "DNAT")

#: How deep jumps may nest before the evaluator calls it a loop.
_MAX_DEPTH = 64


def ip(text: str | Address) -> Address:
    """Parse one IP address, with a message that says what was wrong.

    Example:
        >>> ip("10.0.0.1")
        IPv4Address('10.0.0.1')
    """
    if isinstance(text, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
        return text
    try:
        return ipaddress.ip_address(str(text).strip())
    except ValueError:
        raise AddressError(
            f"{text!r} is not an IP address; write four numbers 0-255 separated by dots, "
            f"such as 10.244.1.5 (or an IPv6 address such as fd00::5)"
        ) from None


def net(text: str | Address | Network) -> Network:
    """Parse an address or CIDR block into a network (host bits are cleared, as iptables does).

    Example:
        >>> net("10.244.1.7/16")
        IPv4Network('10.244.0.0/16')
        >>> net("10.0.0.1")
        IPv4Network('10.0.0.1/32')
    """
    if isinstance(text, (ipaddress.IPv4Network, ipaddress.IPv6Network)):
        return text
    if isinstance(text, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
        return ipaddress.ip_network(text)
    try:
        return ipaddress.ip_network(str(text).strip(), strict=False)
    except ValueError:
        raise AddressError(
            f"{text!r} is not a CIDR block; write an address and a prefix length, "
            f"such as 10.244.0.0/16"
        ) from None


def _as_address_or_network(value: object) -> Address | Network:
    if isinstance(value, (ipaddress.IPv4Address, ipaddress.IPv6Address,
                          ipaddress.IPv4Network, ipaddress.IPv6Network)):
        return value
    text = str(value)
    return net(text) if "/" in text else ip(text)


_NEEDS_QUOTES = re.compile(r'[\s"]')


def _quote_restore(text: str) -> str:
    # kube-proxy puts double quotes around a comment only when it has spaces
    # (fmt.Sprintf(`"%s cluster IP"`, ...)); bare service port names stay bare.
    if text == "" or _NEEDS_QUOTES.search(text):
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return text


def _quote_save(text: str) -> str:
    # iptables-save (xtables_save_string) always quotes and escapes " and \.
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _bang(negate: bool) -> tuple[str, ...]:
    return ("!",) if negate else ()


class Match:
    """Base class of every match (the part of a rule before ``-j``)."""

    __slots__ = ()

    def restore_args(self) -> tuple[str, ...]:
        """Arguments as a writer puts them in ``iptables-restore`` input."""
        raise NotImplementedError

    def save_args(self) -> tuple[str, ...]:
        """Arguments as ``iptables-save`` prints them."""
        return self.restore_args()


def _address_save(value: Address | Network) -> str:
    if isinstance(value, ipaddress.IPv4Address):
        return f"{value}/32"
    if isinstance(value, ipaddress.IPv6Address):
        return f"{value}/128"
    return str(value)


def _contains(where: Address | Network, address: Address) -> bool:
    if isinstance(where, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
        return where == address
    return address.version == where.version and address in where


@dataclass(frozen=True, slots=True)
class Source(Match):
    """``[!] -s ADDRESS``: the packet's source address is (not) in ``address``.

    An :class:`ipaddress.IPv4Address` prints bare in restore form (``-s 10.0.0.1``),
    a network prints with its prefix (``-s 10.244.0.0/16``); ``iptables-save``
    always prints the prefix.
    """

    address: Address | Network
    negate: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "address", _as_address_or_network(self.address))

    def restore_args(self) -> tuple[str, ...]:
        return (*_bang(self.negate), "-s", str(self.address))

    def save_args(self) -> tuple[str, ...]:
        return (*_bang(self.negate), "-s", _address_save(self.address))


@dataclass(frozen=True, slots=True)
class Destination(Match):
    """``[!] -d ADDRESS``: the packet's destination address is (not) in ``address``."""

    address: Address | Network
    negate: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "address", _as_address_or_network(self.address))

    def restore_args(self) -> tuple[str, ...]:
        return (*_bang(self.negate), "-d", str(self.address))

    def save_args(self) -> tuple[str, ...]:
        return (*_bang(self.negate), "-d", _address_save(self.address))


@dataclass(frozen=True, slots=True)
class InInterface(Match):
    """``[!] -i NAME``: the packet came in on interface ``name`` (a trailing ``+`` is a prefix)."""

    name: str
    negate: bool = False

    def restore_args(self) -> tuple[str, ...]:
        return (*_bang(self.negate), "-i", self.name)


@dataclass(frozen=True, slots=True)
class OutInterface(Match):
    """``[!] -o NAME``: the packet leaves on interface ``name`` (a trailing ``+`` is a prefix)."""

    name: str
    negate: bool = False

    def restore_args(self) -> tuple[str, ...]:
        return (*_bang(self.negate), "-o", self.name)


@dataclass(frozen=True, slots=True)
class Protocol(Match):
    """``[!] -p PROTO``: the packet's layer-4 protocol (``tcp``, ``udp``, ``sctp``, ``icmp``)."""

    name: str
    negate: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "name", self.name.lower())

    def restore_args(self) -> tuple[str, ...]:
        return (*_bang(self.negate), "-p", self.name)


@dataclass(frozen=True, slots=True)
class MatchModule(Match):
    """``-m tcp`` / ``-m udp`` / ``-m sctp``: load a protocol match whose options come later.

    kube-proxy writes ``-m tcp -p tcp -d 10.0.0.1 --dport 80``: the ``--dport`` option
    belongs to the ``tcp`` match but stands after ``-d``. So the module and its port
    option are two items here (:class:`PortOption`), and :func:`format_save` puts the
    option back after its module, as the kernel stores it.
    """

    name: str

    def restore_args(self) -> tuple[str, ...]:
        return ("-m", self.name)


@dataclass(frozen=True, slots=True)
class PortOption(Match):
    """``[!] --dport N`` or ``[!] --sport N`` of the preceding ``-m tcp/udp/sctp``.

    ``port`` is one port, or a ``(first, last)`` range printed ``first:last``.
    """

    option: str
    port: int | tuple[int, int]
    negate: bool = False

    def __post_init__(self) -> None:
        if self.option not in ("dport", "sport"):
            raise ConfigError(
                f"a port option is 'dport' or 'sport', not {self.option!r}"
                + did_you_mean(self.option, ("dport", "sport"))
            )

    def _port_text(self) -> str:
        if isinstance(self.port, tuple):
            return f"{self.port[0]}:{self.port[1]}"
        return str(self.port)

    def restore_args(self) -> tuple[str, ...]:
        return (*_bang(self.negate), f"--{self.option}", self._port_text())

    def covers(self, port: int) -> bool:
        """Whether ``port`` is the port (or inside the range) this option names."""
        lo, hi = self.port if isinstance(self.port, tuple) else (self.port, self.port)
        return (lo <= port <= hi) != self.negate


@dataclass(frozen=True, slots=True)
class Comment(Match):
    """``-m comment --comment TEXT``: matches every packet; it labels the rule."""

    text: str

    def restore_args(self) -> tuple[str, ...]:
        return ("-m", "comment", "--comment", _quote_restore(self.text))

    def save_args(self) -> tuple[str, ...]:
        return ("-m", "comment", "--comment", _quote_save(self.text))


@dataclass(frozen=True, slots=True)
class AddrType(Match):
    """``-m addrtype [!] --src-type T [!] --dst-type T``.

    ``LOCAL`` means "an address of this node" (any interface, including ``lo``); the
    evaluator takes the node's addresses from the :class:`Context`.
    """

    src_type: str | None = None
    dst_type: str | None = None
    src_negate: bool = False
    dst_negate: bool = False

    def restore_args(self) -> tuple[str, ...]:
        args: tuple[str, ...] = ("-m", "addrtype")
        if self.src_type:
            args += (*_bang(self.src_negate), "--src-type", self.src_type)
        if self.dst_type:
            args += (*_bang(self.dst_negate), "--dst-type", self.dst_type)
        return args


@dataclass(frozen=True, slots=True)
class Conntrack(Match):
    """``-m conntrack [!] --ctstate S1,S2``: the connection tracking state is (not) one of ``states``.

    ``DNAT`` and ``SNAT`` are conntrack's *virtual* states: set, on top of ``NEW``,
    once the connection's destination (source) has been rewritten.
    """

    states: tuple[str, ...]
    negate: bool = False

    def __post_init__(self) -> None:
        states = tuple(s.upper() for s in self.states)
        unknown = [s for s in states if s not in _CTSTATE_ORDER]
        if unknown:
            raise ConfigError(
                f"conntrack has no state {unknown[0]!r}; use {', '.join(_CTSTATE_ORDER)}"
                + did_you_mean(unknown[0], _CTSTATE_ORDER)
            )
        object.__setattr__(self, "states", states)

    def restore_args(self) -> tuple[str, ...]:
        return ("-m", "conntrack", *_bang(self.negate), "--ctstate", ",".join(self.states))

    def save_args(self) -> tuple[str, ...]:
        ordered = [s for s in _CTSTATE_ORDER if s in self.states]
        return ("-m", "conntrack", *_bang(self.negate), "--ctstate", ",".join(ordered))


def go_hex(value: int, digits: int = 8) -> str:
    """Format an integer as Go's ``fmt.Sprintf("%#0<digits>x", value)`` does.

    Go counts the zero-padding width in *digits*, without the ``0x`` prefix (C and
    Python count the prefix). That is why kube-proxy's masquerade mark, built with
    ``%#08x``, is ``0x00004000`` in its restore input (its log line says
    ``mark="0x00004000"``), while ``iptables-save`` prints ``0x4000``.

    Example:
        >>> go_hex(1 << 14)
        '0x00004000'
    """
    return "0x" + format(value, f"0{digits}x")


@dataclass(frozen=True, slots=True)
class Mark(Match):
    """``-m mark [!] --mark VALUE[/MASK]``: ``(packet mark & mask) == value``.

    ``hex_digits`` is how many zero-padded hex digits the writer used (kube-proxy: 8);
    ``iptables-save`` prints the shortest form.
    """

    value: int
    mask: int | None = None
    negate: bool = False
    hex_digits: int = 8

    def restore_args(self) -> tuple[str, ...]:
        text = go_hex(self.value, self.hex_digits)
        if self.mask is not None:
            text += "/" + go_hex(self.mask, self.hex_digits)
        return ("-m", "mark", *_bang(self.negate), "--mark", text)

    def save_args(self) -> tuple[str, ...]:
        mask = 0xFFFFFFFF if self.mask is None else self.mask
        text = f"0x{self.value:x}" if mask == 0xFFFFFFFF else f"0x{self.value:x}/0x{mask:x}"
        return ("-m", "mark", *_bang(self.negate), "--mark", text)

    def covers(self, mark: int) -> bool:
        """Whether a packet carrying ``mark`` matches."""
        mask = 0xFFFFFFFF if self.mask is None else self.mask
        return ((mark & mask) == self.value) != self.negate


def kernel_probability(text: str) -> float:
    """Return the probability the kernel really uses for ``--probability text``.

    ``iptables`` stores ``lround(p * 2**31)`` in a 32-bit field and the kernel matches
    when a random 31-bit number is below it; ``iptables-save`` prints that stored value
    divided by ``2**31`` with 11 decimals. (The storage formula is inferred from the
    printed values, see the facts sheet section 1.4.)

    Example:
        >>> "%.11f" % kernel_probability("0.3333333333")
        '0.33333333349'
    """
    stored = math.floor(float(text) * 2**31 + 0.5)  # lround: half away from zero
    return stored / 2**31


@dataclass(frozen=True, slots=True)
class Statistic(Match):
    """``-m statistic --mode random --probability P``: matches with probability P.

    ``probability`` is the text the writer put in the rule (kube-proxy:
    ``"%0.10f"`` of ``1/n``); :func:`kernel_probability` turns it into what the kernel uses.
    """

    probability: str
    mode: str = "random"

    def __post_init__(self) -> None:
        if self.mode != "random":
            raise ConfigError(
                f"netlab models '-m statistic --mode random' only, not mode {self.mode!r}; "
                "kube-proxy never uses '--mode nth'"
            )
        try:
            value = float(self.probability)
        except ValueError:
            value = -1.0
        if not 0.0 <= value <= 1.0:
            raise ConfigError(
                f"--probability must be between 0 and 1, not {self.probability}; "
                "write the chance that this rule matches, e.g. 0.5000000000"
            )

    def restore_args(self) -> tuple[str, ...]:
        return ("-m", "statistic", "--mode", self.mode, "--probability", self.probability)

    def save_args(self) -> tuple[str, ...]:
        printed = "%.11f" % kernel_probability(self.probability)
        return ("-m", "statistic", "--mode", self.mode, "--probability", printed)

    @property
    def kernel_value(self) -> float:
        """The probability the kernel uses (see :func:`kernel_probability`)."""
        return kernel_probability(self.probability)


@dataclass(frozen=True, slots=True)
class Recent(Match):
    """``-m recent --name LIST --rcheck|--set ...``: the "recently seen sources" list.

    ``--set`` adds the packet's source address to ``LIST`` and always matches;
    ``--rcheck`` matches when the source is already in ``LIST`` (seen within
    ``--seconds``; ``--reap`` forgets older entries). kube-proxy uses it for ClientIP
    session affinity, with the endpoint chain's name as the list name.
    """

    name: str
    action: str
    seconds: int | None = None
    reap: bool = False

    def __post_init__(self) -> None:
        if self.action not in ("set", "rcheck", "update", "remove"):
            raise ConfigError(
                f"-m recent takes --set, --rcheck, --update or --remove, not --{self.action}"
                + did_you_mean(self.action, ("set", "rcheck", "update", "remove"))
            )

    def restore_args(self) -> tuple[str, ...]:
        # kube-proxy's order: --name first, then the action and its options.
        args: tuple[str, ...] = ("-m", "recent", "--name", self.name, f"--{self.action}")
        if self.seconds is not None:
            args += ("--seconds", str(self.seconds))
        if self.reap:
            args += ("--reap",)
        return args

    def save_args(self) -> tuple[str, ...]:
        # libxt_recent prints the action, --seconds, --reap, --name, --mask, --rsource.
        args: tuple[str, ...] = ("-m", "recent", f"--{self.action}")
        if self.seconds is not None:
            args += ("--seconds", str(self.seconds))
        if self.reap:
            args += ("--reap",)
        return args + ("--name", self.name, "--mask", "255.255.255.255", "--rsource")


@dataclass(frozen=True, slots=True)
class SetMatch(Match):
    """``-m set [!] --match-set NAME FLAGS``: the packet's fields are (not) in an ipset.

    ``flags`` says which packet field fills each dimension of the set, e.g.
    ``("dst", "dst")`` for a ``hash:ip,port`` set of destination address and port.
    """

    set_name: str
    flags: tuple[str, ...]
    negate: bool = False

    def restore_args(self) -> tuple[str, ...]:
        return ("-m", "set", *_bang(self.negate), "--match-set", self.set_name, ",".join(self.flags))


@dataclass(frozen=True, slots=True)
class PhysDev(Match):
    """``-m physdev [!] --physdev-is-in``: the packet came in through a bridge port."""

    negate: bool = False

    def restore_args(self) -> tuple[str, ...]:
        return ("-m", "physdev", *_bang(self.negate), "--physdev-is-in")


@dataclass(frozen=True, slots=True)
class NfAcct(Match):
    """``-m nfacct --nfacct-name NAME``: counts the packet in an nfacct object; always matches."""

    name: str

    def restore_args(self) -> tuple[str, ...]:
        return ("-m", "nfacct", "--nfacct-name", self.name)


class Refusal(str, enum.Enum):
    """Why kube-proxy's rules refuse or drop a packet: the reason a trace explains.

    A rule builder sets it on the rule that refuses or drops for that reason
    (:attr:`Rule.refusal`, and the same field on nftables rules); the evaluator sets
    :attr:`NO_REDIRECT_ADDRESS` itself, since a ``REDIRECT`` rule only drops when the
    interface a packet came in on has no address. It is data beside the rule, never part
    of its text: a comment can say anything without changing the reason.

    Example:
        >>> rule = Rule("filter", "KUBE-SERVICES", (Comment("any words"),), "REJECT", refusal=Refusal.NO_ENDPOINTS)
        >>> rule.refusal, rule == Rule("filter", "KUBE-SERVICES", (Comment("any words"),), "REJECT")
        (<Refusal.NO_ENDPOINTS: 'no endpoints'>, True)
    """

    #: the Service has no ready endpoint at all (kube-proxy REJECTs)
    NO_ENDPOINTS = "no endpoints"
    #: the traffic policy is Local and this node runs none of the Service's endpoints
    NO_LOCAL_ENDPOINTS = "no local endpoints"
    #: the address is a Service's, but no Service has this port (or protocol) on it
    INVALID_PORT = "invalid port"
    #: the source is outside the Service's loadBalancerSourceRanges
    FIREWALL = "firewall"
    #: ``REDIRECT`` needs the address of the interface the packet came in on, which has none
    NO_REDIRECT_ADDRESS = "no redirect address"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True, slots=True)
class Rule:
    """One rule: ``-A chain <matches> -j target <target_args>`` in ``table``.

    Attributes:
        table: ``"filter"``, ``"nat"``, ``"mangle"`` or ``"raw"``.
        chain: the chain the rule is appended to.
        matches: the matches, in the order the writer put them.
        target: ``"ACCEPT"``, ``"DNAT"``, a chain name...; ``None`` for a rule with no
            ``-j`` (it only counts packets; kube-proxy's last ``KUBE-FW-*`` rule).
        target_args: the target's options as written, e.g.
            ``("--to-destination", "10.244.1.5:8080")``.
        goto: ``-g`` instead of ``-j``: do not come back to this chain.
        refusal: why the rule refuses or drops a packet, when kube-proxy wrote it for one
            of the reasons of :class:`Refusal`; not part of the rule's text, equality or repr.

    Example:
        >>> Rule("nat", "KUBE-MARK-MASQ", (), "MARK", ("--or-mark", "0x00004000")).target
        'MARK'
    """

    table: str
    chain: str
    matches: tuple[Match, ...] = ()
    target: str | None = None
    target_args: tuple[str, ...] = ()
    goto: bool = False
    refusal: Refusal | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.table not in BUILTIN_CHAINS:
            raise ConfigError(
                f"iptables has no table {self.table!r}; use one of {', '.join(BUILTIN_CHAINS)}"
                + did_you_mean(self.table, BUILTIN_CHAINS)
            )
        if not isinstance(self.matches, tuple):
            object.__setattr__(self, "matches", tuple(self.matches))
        if not isinstance(self.target_args, tuple):
            object.__setattr__(self, "target_args", tuple(self.target_args))

    @property
    def line(self) -> str:
        """The rule in restore form (see :func:`format_restore`)."""
        return format_restore(self)


_set = object.__setattr__


def trusted_rule(table: str, chain: str, matches: tuple[Match, ...], target: str | None,
                 target_args: tuple[str, ...] = (), goto: bool = False, refusal: Refusal | None = None) -> Rule:
    """A :class:`Rule` from parts a renderer already knows are valid (a known table, tuples).

    Renderers build hundreds of thousands of rules; skipping the checks of ``Rule(...)``
    makes building 10,000 Services' rules about a third faster.
    """
    rule = object.__new__(Rule)
    _set(rule, "table", table)
    _set(rule, "chain", chain)
    _set(rule, "matches", matches)
    _set(rule, "target", target)
    _set(rule, "target_args", target_args)
    _set(rule, "goto", goto)
    _set(rule, "refusal", refusal)
    return rule


def _target_restore(rule: Rule) -> tuple[str, ...]:
    if rule.target is None:
        return ()
    return ("-g" if rule.goto else "-j", rule.target, *rule.target_args)


def _mark_int(text: str) -> int:
    return int(text, 0)


def _target_save(rule: Rule) -> tuple[str, ...]:
    if rule.target is None:
        return ()
    jump = "-g" if rule.goto else "-j"
    args = list(rule.target_args)
    if rule.target == "MARK" and len(args) == 2:
        option, text = args
        if "/" in text:
            value, mask = (_mark_int(t) for t in text.split("/", 1))
        else:
            value, mask = _mark_int(text), None
        if option == "--or-mark":
            value, mask = value, value
        elif option == "--xor-mark":
            value, mask = value, 0
        elif option == "--and-mark":
            value, mask = 0, (~value) & 0xFFFFFFFF
        elif option in ("--set-mark", "--set-xmark"):
            mask = 0xFFFFFFFF if mask is None else mask
        args = ["--set-xmark", f"0x{value:x}/0x{mask:x}"]
    elif rule.target == "REJECT" and "--reject-with" not in args:
        v6 = any(
            isinstance(m, (Source, Destination)) and m.address.version == 6 for m in rule.matches
        )
        args += ["--reject-with", "icmp6-port-unreachable" if v6 else "icmp-port-unreachable"]
    return (jump, rule.target, *args)


def format_restore(rule: Rule) -> str:
    """Print a rule as it is written for ``iptables-restore``.

    Args:
        rule: the rule.

    Returns:
        ``-A CHAIN <matches in the writer's order> -j TARGET <args>``.

    Example:
        >>> format_restore(Rule("nat", "KUBE-SERVICES",
        ...     (Comment("ns1/svc1:p80 cluster IP"), MatchModule("tcp"), Protocol("tcp"),
        ...      Destination(ip("172.30.0.41")), PortOption("dport", 80)),
        ...     "KUBE-SVC-XPGD46QRK7WJZT7O"))
        '-A KUBE-SERVICES -m comment --comment "ns1/svc1:p80 cluster IP" -m tcp -p tcp -d 172.30.0.41 --dport 80 -j KUBE-SVC-XPGD46QRK7WJZT7O'
    """
    parts = ["-A", rule.chain]
    for match in rule.matches:
        parts.extend(match.restore_args())
    parts.extend(_target_restore(rule))
    return " ".join(parts)


_SAVE_FIRST = (Source, Destination, InInterface, OutInterface, Protocol)


def format_save(rule: Rule) -> str:
    """Print a rule as ``iptables-save`` prints it back from the kernel.

    The kernel keeps the address part (``-s``, ``-d``, ``-i``, ``-o``, ``-p``) apart from
    the match modules, so ``iptables-save`` prints it first, addresses with a prefix
    length; then the modules in the order they were loaded, each with its options;
    then the target in its kernel form.

    Args:
        rule: the rule.

    Returns:
        One ``-A CHAIN ...`` line.

    Example:
        >>> format_save(Rule("nat", "KUBE-SVC-X",
        ...     (Comment("ns/web cluster IP"), MatchModule("tcp"), Protocol("tcp"),
        ...      Destination(ip("10.0.0.12")), PortOption("dport", 80),
        ...      Source(net("10.244.0.0/16"), negate=True)), "KUBE-MARK-MASQ"))
        '-A KUBE-SVC-X ! -s 10.244.0.0/16 -d 10.0.0.12/32 -p tcp -m comment --comment "ns/web cluster IP" -m tcp --dport 80 -j KUBE-MARK-MASQ'
    """
    parts = ["-A", rule.chain]
    first: list[list[Match]] = [[] for _ in _SAVE_FIRST]
    rest: list[Match] = []
    port_options: list[PortOption] = []
    modules: set[str] = set()
    protocol = None
    for match in rule.matches:
        kind = type(match)
        if kind in _SAVE_FIRST:
            first[_SAVE_FIRST.index(kind)].append(match)
            if kind is Protocol:
                protocol = match.name  # type: ignore[attr-defined]
            continue
        if kind is PortOption:
            port_options.append(match)  # type: ignore[arg-type]
        elif kind is MatchModule:
            modules.add(match.name)  # type: ignore[attr-defined]
        rest.append(match)
    for group in first:
        for match in group:
            parts.extend(match.save_args())
    port_options.sort(key=lambda m: 0 if m.option == "sport" else 1)
    implicit_done = False
    for match in rest:
        if isinstance(match, MatchModule):
            parts.extend(match.save_args())
            if match.name in ("tcp", "udp", "sctp"):
                for option in port_options:
                    parts.extend(option.restore_args())
            continue
        if isinstance(match, PortOption):
            # --dport without -m tcp: iptables loads the protocol's match implicitly there.
            if not modules and not implicit_done and protocol:
                parts.extend(("-m", protocol))
                for option in port_options:
                    parts.extend(option.restore_args())
                implicit_done = True
            continue
        parts.extend(match.save_args())
    parts.extend(_target_save(rule))
    return " ".join(parts)


# --------------------------------------------------------------------------------------
# Evaluation
# --------------------------------------------------------------------------------------


class Verdict(str, enum.Enum):
    """How a walk through one table's chain ended."""

    ACCEPT = "ACCEPT"
    DROP = "DROP"
    REJECT = "REJECT"
    #: fell off the end of (or returned from) a user-defined chain the walk started in
    RETURN = "RETURN"

    def __str__(self) -> str:
        return self.value


_PROTOCOLS = ("tcp", "udp", "sctp", "icmp", "icmpv6")


@dataclass(frozen=True, slots=True)
class Packet:
    """The header fields netfilter looks at, for the first packet of a connection.

    Attributes:
        src, dst: addresses (strings are parsed).
        sport, dport: layer-4 ports (0 for ICMP).
        proto: ``"tcp"``, ``"udp"``, ``"sctp"`` or ``"icmp"``.
        mark: the packet mark (``skb->mark``).
        ctstate: the conntrack states that hold for it: ``NEW`` for a first packet,
            plus the virtual states ``DNAT``/``SNAT`` once NAT rewrote it.
        in_interface, out_interface: interface names, when a rule asks for them.

    Example:
        >>> Packet("10.244.1.5", "10.0.0.12", 40000, 80, "TCP").proto
        'tcp'
    """

    src: Address
    dst: Address
    sport: int
    dport: int
    proto: str
    mark: int = 0
    ctstate: frozenset[str] = frozenset({"NEW"})
    in_interface: str | None = None
    out_interface: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "src", ip(self.src))
        object.__setattr__(self, "dst", ip(self.dst))
        proto = str(self.proto).lower()
        if proto not in _PROTOCOLS:
            raise ConfigError(
                f"netlab traces tcp, udp, sctp and icmp packets, not {self.proto!r}"
                + did_you_mean(proto, _PROTOCOLS)
            )
        object.__setattr__(self, "proto", proto)
        for name in ("sport", "dport"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 65535:
                raise ConfigError(f"{name} must be a port number 0-65535, not {value!r}")
        if not isinstance(self.ctstate, frozenset):
            object.__setattr__(self, "ctstate", frozenset(self.ctstate))


@dataclass(frozen=True, slots=True)
class IPSet:
    """An ipset, for ``-m set`` matches.

    ``type`` is ipset's type name (``hash:ip``, ``hash:ip,port``, ``hash:ip,port,ip``,
    ``hash:ip,port,net``, ``bitmap:port``). Each entry is a tuple with one value per
    dimension: an address for ``ip``, a network for ``net``, ``(protocol, port)`` for
    ``port`` in a hash set, and a bare port number in ``bitmap:port``.

    Example:
        >>> s = IPSet("KUBE-CLUSTER-IP", "hash:ip,port", [(ip("10.0.0.12"), ("tcp", 80))])
        >>> len(s.entries)
        1
    """

    name: str
    type: str
    entries: frozenset[tuple] = frozenset()

    def __post_init__(self) -> None:
        object.__setattr__(self, "entries", frozenset(tuple(e) for e in self.entries))

    def contains(self, packet: Packet, flags: Sequence[str]) -> bool:
        """Whether the packet's fields picked by ``flags`` form an entry of this set."""
        dims = self.type.split(":", 1)[1].split(",")
        if len(flags) < len(dims):
            raise ConfigError(
                f"set {self.name} ({self.type}) has {len(dims)} dimensions but the rule gives "
                f"{len(flags)} flags ({','.join(flags)}); give one src/dst flag per dimension"
            )
        bitmap = self.type.startswith("bitmap:")
        key: list[object] = []
        for dim, flag in zip(dims, flags):
            if flag not in ("src", "dst"):
                raise ConfigError(f"ipset flags are 'src' or 'dst', not {flag!r}; pick the packet field per dimension")
            if dim in ("ip", "net"):
                key.append(packet.src if flag == "src" else packet.dst)
            elif dim == "port":
                port = packet.sport if flag == "src" else packet.dport
                key.append(port if bitmap else (packet.proto, port))
            else:
                raise ConfigError(
                    f"netlab does not model ipset dimension {dim!r} ({self.type}); use ip, port or net sets"
                )
        if "net" not in dims:
            return tuple(key) in self.entries
        for entry in self.entries:
            if all(
                (k in e) if d == "net" else (k == e) for d, k, e in zip(dims, key, entry)
            ):
                return True
        return False


@dataclass(frozen=True, slots=True)
class Context:
    """What the evaluator needs to know about the node, beyond the packet.

    Attributes:
        local: the node's own addresses (``-m addrtype --src-type/--dst-type LOCAL``):
            its interface addresses, ``127.0.0.0/8`` and ``::1``.
        recent: ``(list name, address)`` pairs already in ``-m recent`` lists; empty
            for a fresh client.
        ipsets: the ipsets ``-m set`` matches look in.
        policies: ``(table, chain, policy)`` for built-in chains whose policy is not ``ACCEPT``.
        masquerade_address: the source address ``MASQUERADE`` picks (the outgoing
            interface's address); ``None`` keeps the source and only records the SNAT.
        physdev_is_in: whether the packet came in through a bridge port.

    Example:
        >>> ctx = Context.for_node(["10.224.0.4"])
        >>> ctx.is_local(ip("127.0.0.1")), ctx.is_local(ip("10.224.0.4")), ctx.is_local(ip("10.0.0.1"))
        (True, True, False)
    """

    local: tuple[Network, ...] = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))
    recent: frozenset[tuple[str, Address]] = frozenset()
    ipsets: tuple[IPSet, ...] = ()
    policies: tuple[tuple[str, str, str], ...] = ()
    masquerade_address: Address | None = None
    physdev_is_in: bool = False
    interface_addresses: tuple[tuple[str, Address], ...] = ()  # (interface, its primary address)

    def primary_address(self, interface: str | None) -> Address | None:
        """The first address of ``interface``, where ``REDIRECT`` sends a packet that came in on it."""
        for name, address in self.interface_addresses:
            if name == interface:
                return address
        return None

    def __post_init__(self) -> None:
        object.__setattr__(self, "local", tuple(net(a) for a in self.local))
        object.__setattr__(self, "recent", frozenset((n, ip(a)) for n, a in self.recent))
        object.__setattr__(self, "ipsets", tuple(self.ipsets))
        object.__setattr__(self, "policies", tuple(tuple(p) for p in self.policies))
        for table, chain, policy in self.policies:
            if chain not in BUILTIN_CHAINS.get(table, ()) or policy not in ("ACCEPT", "DROP"):
                raise ConfigError(
                    f"a policy belongs to a built-in chain and is ACCEPT or DROP; "
                    f"{table} {chain} {policy} is not one"
                )

    @classmethod
    def for_node(
        cls,
        node_ips: Iterable[str | Address],
        extra_local: Iterable[str | Address | Network] = (),
        recent: Iterable[tuple[str, str | Address]] = (),
        **kwargs: object,
    ) -> "Context":
        """Build the context of a node with these addresses (plus loopback).

        Example:
            >>> len(Context.for_node(["10.224.0.4"]).local)
            3
        """
        local = (
            ipaddress.ip_network("127.0.0.0/8"),
            ipaddress.ip_network("::1/128"),
            *(net(a) for a in node_ips),
            *(net(a) for a in extra_local),
        )
        return cls(local=local, recent=frozenset(recent), **kwargs)  # type: ignore[arg-type]

    def is_local(self, address: Address) -> bool:
        """Whether ``address`` belongs to this node (addrtype ``LOCAL``)."""
        return any(address.version == n.version and address in n for n in self.local)

    def policy(self, table: str, chain: str) -> str:
        """The policy of a built-in chain (``ACCEPT`` unless overridden)."""
        for t, c, p in self.policies:
            if (t, c) == (table, chain):
                return p
        return "ACCEPT"

    def ipset(self, name: str) -> IPSet:
        """The ipset called ``name``."""
        for s in self.ipsets:
            if s.name == name:
                return s
        raise NetlabError(
            f"a rule matches ipset {name!r}, but the context has no such set; "
            f"pass it in Context(ipsets=...)" + did_you_mean(name, [s.name for s in self.ipsets])
        )


@dataclass(frozen=True, slots=True)
class Ruleset:
    """Rules indexed by ``(table, chain)``, so a walk finds a chain's rules at once.

    Build one per rule tuple and pass it to :func:`evaluate` many times.

    Example:
        >>> rs = Ruleset((Rule("filter", "INPUT", (), "DROP"),))
        >>> len(rs.chain("filter", "INPUT")), len(rs.chain("filter", "FORWARD"))
        (1, 0)
    """

    rules: tuple[Rule, ...]
    _index: dict = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        rules = tuple(self.rules)
        object.__setattr__(self, "rules", rules)
        index: dict[tuple[str, str], list[Rule]] = {}
        for rule in rules:
            index.setdefault((rule.table, rule.chain), []).append(rule)
        object.__setattr__(self, "_index", {k: tuple(v) for k, v in index.items()})

    def chain(self, table: str, chain: str) -> tuple[Rule, ...]:
        """The rules of one chain, in order (empty for an unknown or empty chain)."""
        return self._index.get((table, chain), ())


@dataclass(frozen=True, slots=True)
class Outcome:
    """One way a walk through a chain can end.

    Attributes:
        probability: the chance of this path (1 when nothing random was on it).
        verdict: ``ACCEPT``, ``DROP``, ``REJECT``, or ``RETURN`` when the walk started in
            a user-defined chain and came back out of it.
        packet: the packet after this table: NAT-rewritten, mark updated, conntrack
            virtual states ``DNAT``/``SNAT`` added.
        rules: the rules that matched, in order.
        recent_set: ``(list, address)`` entries that ``-m recent --set`` added.
        masqueraded: whether ``MASQUERADE`` (or ``SNAT``) rewrote the source.
        refusal: for ``DROP`` and ``REJECT``, why (:class:`Refusal`): the deciding rule's
            reason, or :attr:`Refusal.NO_REDIRECT_ADDRESS` when ``REDIRECT`` found no address.
    """

    probability: float
    verdict: Verdict
    packet: Packet
    rules: tuple[Rule, ...]
    recent_set: frozenset[tuple[str, Address]] = frozenset()
    masqueraded: bool = False
    examined: int = 0  # rules whose matches were tested on the way: the walk's cost
    refusal: Refusal | None = field(default=None, compare=False)

    @property
    def lines(self) -> tuple[str, ...]:
        """The matched rules in restore form, so they can be found in the printed table."""
        return tuple(format_restore(r) for r in self.rules)


def _iface_matches(pattern: str, name: str | None, what: str) -> bool:
    if name is None:
        raise NetlabError(
            f"a rule matches the {what} interface ({pattern}), but the packet does not say "
            f"which interface it uses; set Packet({what}_interface=...)"
        )
    if pattern.endswith("+"):
        return name.startswith(pattern[:-1])
    return name == pattern


def _matches(match: Match, packet: Packet, ctx: Context, recent: frozenset) -> bool:
    """Deterministic matches; Statistic is handled by the caller."""
    if isinstance(match, (Source, Destination)):
        address = packet.src if isinstance(match, Source) else packet.dst
        return _contains(match.address, address) != match.negate
    if isinstance(match, Protocol):
        return (packet.proto == match.name) != match.negate
    if isinstance(match, MatchModule):
        if match.name in ("tcp", "udp", "sctp"):
            return packet.proto == match.name
        raise NetlabError(
            f"netlab's evaluator does not model '-m {match.name}'; as a bare module it knows tcp, udp "
            "and sctp (use the Match classes, e.g. Conntrack or Mark, for the others)"
        )
    if isinstance(match, PortOption):
        return match.covers(packet.dport if match.option == "dport" else packet.sport)
    if isinstance(match, (Comment, NfAcct)):
        return True
    if isinstance(match, AddrType):
        for kind, negate, address in (
            (match.src_type, match.src_negate, packet.src),
            (match.dst_type, match.dst_negate, packet.dst),
        ):
            if kind is None:
                continue
            if kind != "LOCAL":
                raise NetlabError(
                    f"netlab's evaluator knows addrtype LOCAL only, not {kind}; "
                    "kube-proxy uses --src-type LOCAL and --dst-type LOCAL"
                )
            if ctx.is_local(address) == negate:
                return False
        return True
    if isinstance(match, Conntrack):
        return bool(packet.ctstate.intersection(match.states)) != match.negate
    if isinstance(match, Mark):
        return match.covers(packet.mark)
    if isinstance(match, Recent):
        if match.action == "set":
            return True
        return ((match.name, packet.src) in recent)
    if isinstance(match, SetMatch):
        return ctx.ipset(match.set_name).contains(packet, match.flags) != match.negate
    if isinstance(match, PhysDev):
        return ctx.physdev_is_in != match.negate
    if isinstance(match, InInterface):
        return _iface_matches(match.name, packet.in_interface, "in") != match.negate
    if isinstance(match, OutInterface):
        return _iface_matches(match.name, packet.out_interface, "out") != match.negate
    raise NetlabError(
        f"netlab's evaluator does not model the match {type(match).__name__}; "
        "build rules from the Match classes in netlab.model.netfilter"
    )


def _split_host_port(text: str, what: str) -> tuple[Address, int | None]:
    host, port = text, None
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = int(rest[1:]) if rest.startswith(":") else None
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
        port = int(port_text.split("-")[0])
    return ip(host), port


def random_port(packet: "Packet") -> int:
    """The source port a ``--random-fully`` (nft: ``fully-random``) source NAT gives the connection.

    The kernel draws it at random for every connection, from 1024-65535 when the port is 1024 or
    more; netlab derives one from the connection's addresses and ports, so that the same trace
    always prints the same port (a real node prints another each time). Ports 0 (ICMP) and below
    1024 keep their number.

    Example:
        >>> random_port(Packet("10.244.0.2", "10.224.0.9", 40000, 80, "tcp"))
        64393
    """
    if packet.sport < 1024:
        return packet.sport
    import hashlib

    key = f"{packet.src} {packet.sport} {packet.dst} {packet.dport} {packet.proto}".encode()
    return 1024 + int.from_bytes(hashlib.sha256(key).digest()[:4], "big") % (65536 - 1024)


def _option(args: tuple[str, ...], name: str) -> str | None:
    for i, arg in enumerate(args[:-1]):
        if arg == name:
            return args[i + 1]
    return None


def _apply_mark(mark: int, args: tuple[str, ...]) -> int:
    if len(args) != 2:
        raise NetlabError(
            f"MARK needs one option and a value, not {' '.join(args)!r}; write e.g. ('--or-mark', '0x00004000')"
        )
    option, text = args
    if "/" in text:
        value, mask = (int(t, 0) for t in text.split("/", 1))
    else:
        value, mask = int(text, 0), None
    if option == "--or-mark":
        return mark | value
    if option == "--xor-mark":
        return mark ^ value
    if option == "--and-mark":
        return mark & value
    if option in ("--set-mark", "--set-xmark"):
        if mask is None:
            mask = 0xFFFFFFFF
        if option == "--set-mark":
            return (mark & ~mask & 0xFFFFFFFF) | value
        return (mark & ~mask & 0xFFFFFFFF) ^ value
    raise NetlabError(
        f"netlab does not model MARK {option}; use --or-mark, --xor-mark, --and-mark, --set-mark or --set-xmark"
    )


@dataclass(slots=True)
class _Walk:
    probability: float
    packet: Packet
    stack: list[list]  # [chain, next index]
    rules: list[Rule]
    recent: frozenset
    recent_set: frozenset
    masqueraded: bool = False
    examined: int = 0

    def fork(self, probability: float) -> "_Walk":
        return _Walk(
            probability,
            self.packet,
            [list(f) for f in self.stack],
            list(self.rules),
            self.recent,
            self.recent_set,
            self.masqueraded,
            self.examined,
        )


def evaluate(
    rules: Iterable[Rule] | Ruleset,
    table: str,
    chain: str,
    packet: Packet,
    ctx: Context | None = None,
) -> tuple[Outcome, ...]:
    """Walk ``table``'s ``chain`` for ``packet`` and return every way the walk can end.

    Rules are tried in order. A matching rule's target decides: a user chain is
    entered (``-j``, and left again at its end or at ``RETURN``; ``-g`` does not come
    back), ``MARK`` changes the mark and goes on, ``DNAT``/``SNAT``/``MASQUERADE``
    rewrite the packet and end the table with ``ACCEPT``, ``ACCEPT``/``DROP``/``REJECT``
    end it. A built-in chain that runs out ends with its policy.

    A rule with ``-m statistic --mode random --probability p`` splits the walk: one
    path where it matched (chance ``p`` as the kernel stores it) and one where it did
    not (``1 - p``). The returned outcomes' probabilities add up to 1.

    Args:
        rules: the rules (or a :class:`Ruleset` built from them, to reuse the index).
        table: the table to walk (``"nat"``, ``"filter"``...).
        chain: the chain to start in (a hook such as ``"PREROUTING"``, or any chain).
        packet: the packet as it arrives at this table.
        ctx: the node (local addresses, recent lists, policies); loopback only if omitted.

    Returns:
        One :class:`Outcome` per path, most likely first.

    Raises:
        NetlabError: for a jump loop, or a match or target netlab does not model.

    Example:
        >>> rules = (
        ...     Rule("nat", "PREROUTING", (), "SVC"),
        ...     Rule("nat", "SVC", (Statistic("0.5000000000"),), "DNAT", ("--to-destination", "10.244.1.5:80")),
        ...     Rule("nat", "SVC", (), "DNAT", ("--to-destination", "10.244.2.7:80")),
        ... )
        >>> for o in evaluate(rules, "nat", "PREROUTING", Packet("10.244.0.9", "10.0.0.12", 40000, 80, "tcp")):
        ...     print(o.probability, o.verdict, o.packet.dst, o.packet.dport)
        0.5 ACCEPT 10.244.1.5 80
        0.5 ACCEPT 10.244.2.7 80
    """
    ruleset = rules if isinstance(rules, Ruleset) else Ruleset(tuple(rules))
    ctx = ctx or Context()
    if table not in BUILTIN_CHAINS:
        raise ConfigError(
            f"iptables has no table {table!r}; use one of {', '.join(BUILTIN_CHAINS)}"
            + did_you_mean(table, BUILTIN_CHAINS)
        )
    start_builtin = chain in BUILTIN_CHAINS[table]
    outcomes: list[Outcome] = []
    work = [_Walk(1.0, packet, [[chain, 0]], [], ctx.recent, frozenset())]

    def finish(walk: _Walk, verdict: Verdict, refusal: Refusal | None = None) -> None:
        outcomes.append(
            Outcome(
                walk.probability,
                verdict,
                walk.packet,
                tuple(walk.rules),
                walk.recent_set,
                walk.masqueraded,
                walk.examined,
                refusal,
            )
        )

    while work:
        walk = work.pop()
        while True:
            if not walk.stack:
                finish(walk, Verdict(ctx.policy(table, chain)) if start_builtin else Verdict.RETURN)
                break
            frame = walk.stack[-1]
            chain_rules = ruleset.chain(table, frame[0])
            if frame[1] >= len(chain_rules):
                walk.stack.pop()
                continue
            rule = chain_rules[frame[1]]
            frame[1] += 1
            walk.examined += 1
            p_match = 1.0
            matched = True
            for match in rule.matches:
                if isinstance(match, Statistic):
                    p_match *= match.kernel_value
                elif not _matches(match, walk.packet, ctx, walk.recent):
                    matched = False
                    break
            if not matched or p_match == 0.0:
                continue
            if p_match < 1.0:
                # The die is rolled: follow the "no match" side later, this side now.
                work.append(walk.fork(walk.probability * (1.0 - p_match)))
                walk.probability *= p_match
            walk.rules.append(rule)
            for match in rule.matches:
                if isinstance(match, Recent) and match.action == "set":
                    entry = (match.name, walk.packet.src)
                    walk.recent = walk.recent | {entry}
                    walk.recent_set = walk.recent_set | {entry}
            target = rule.target
            if target is None or target == "LOG":
                continue
            if target in ("ACCEPT", "DROP", "REJECT"):
                finish(walk, Verdict(target), None if target == "ACCEPT" else rule.refusal)
                break
            if target == "RETURN":
                walk.stack.pop()
                continue
            if target == "MARK":
                walk.packet = replace(walk.packet, mark=_apply_mark(walk.packet.mark, rule.target_args))
                continue
            if target in ("DNAT", "REDIRECT"):
                if target == "DNAT":
                    to = _option(rule.target_args, "--to-destination")
                    if to is None:
                        raise NetlabError(
                            f"DNAT needs --to-destination IP[:port]; add it to: {format_restore(rule)}"
                        )
                    address, port = _split_host_port(to, "--to-destination")
                else:
                    # The kernel's nf_nat_redirect_ipv4: a locally generated packet goes to 127.0.0.1; one that
                    # came in goes to the primary address of the interface it came in on, and is dropped when
                    # that interface has no IPv4 address.
                    ports = _option(rule.target_args, "--to-ports")
                    port = int(ports.split("-")[0]) if ports else None
                    if chain == "OUTPUT" or walk.packet.in_interface is None:
                        address = ipaddress.ip_address("127.0.0.1")
                    else:
                        address = ctx.primary_address(walk.packet.in_interface)
                        if address is None:
                            if not ctx.interface_addresses:
                                address = ipaddress.ip_address("127.0.0.1")  # no interfaces known: a bare ruleset
                            else:
                                finish(walk, Verdict.DROP, Refusal.NO_REDIRECT_ADDRESS)
                                break
                walk.packet = replace(
                    walk.packet,
                    dst=address,
                    dport=walk.packet.dport if port is None else port,
                    ctstate=walk.packet.ctstate | {"DNAT"},
                )
                finish(walk, Verdict.ACCEPT)
                break
            if target in ("SNAT", "MASQUERADE"):
                source = walk.packet.src
                if target == "SNAT":
                    to = _option(rule.target_args, "--to-source")
                    if to is None:
                        raise NetlabError(f"SNAT needs --to-source IP[:port]; add it to: {format_restore(rule)}")
                    source, _ = _split_host_port(to, "--to-source")
                elif ctx.masquerade_address is not None:
                    source = ctx.masquerade_address
                sport = walk.packet.sport
                if "--random-fully" in rule.target_args or "--random" in rule.target_args:
                    sport = random_port(walk.packet)
                walk.packet = replace(walk.packet, src=source, sport=sport, ctstate=walk.packet.ctstate | {"SNAT"})
                walk.masqueraded = True
                finish(walk, Verdict.ACCEPT)
                break
            # A user-defined chain.
            if len(walk.stack) >= _MAX_DEPTH:
                raise NetlabError(
                    f"jumps nest deeper than {_MAX_DEPTH} chains at {format_restore(rule)}; "
                    "the rules contain a loop, which iptables would refuse to load"
                )
            if rule.goto:
                walk.stack[-1] = [target, 0]
            else:
                walk.stack.append([target, 0])
    outcomes.sort(key=lambda o: -o.probability)
    return tuple(outcomes)


def format_policy_header(table: str, chain: str, policy: str = "ACCEPT") -> str:
    """Print a chain header as ``iptables-save`` does (``:INPUT ACCEPT [0:0]`` or ``:KUBE-X - [0:0]``).

    Example:
        >>> format_policy_header("nat", "PREROUTING"), format_policy_header("nat", "KUBE-SERVICES")
        (':PREROUTING ACCEPT [0:0]', ':KUBE-SERVICES - [0:0]')
    """
    if chain in BUILTIN_CHAINS.get(table, ()):
        return f":{chain} {policy} [0:0]"
    return f":{chain} - [0:0]"
