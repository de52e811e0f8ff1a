"""A real node's rules, pasted: read ``iptables-save`` (or ``nft list``) text, explain it, trace a packet.

:func:`load_rules` owns reading the text a learner copies from a node into netlab's own rule model:

* ``iptables-save`` output, both ``iptables-legacy`` and ``iptables-nft`` (header comments,
  ``*raw``/``*mangle``/``*filter``/``*nat``/``*security`` tables, ``:CHAIN POLICY [pkts:bytes]`` lines,
  ``-A`` rules with or without the ``[pkts:bytes]`` prefix of ``iptables-save -c``, ``COMMIT``), with
  every chain whoever wrote it (Docker, Calico, ip-masq-agent, kubelet...). Each rule becomes a
  :class:`~netlab.model.netfilter.Rule`: the matches and targets of
  :mod:`netlab.model.netfilter` where netlab models them, and a :class:`Unmodelled` match (or an
  unmodelled target) holding the exact words where it does not (``-m string``, ``-m multiport``,
  ``-j CT``, ``-j TPROXY``...);
* ``nft list ruleset`` / ``nft list table ip kube-proxy`` output: every ``ip`` table becomes
  :mod:`.nft` data (sets, maps, chains, rules); a statement netlab does not model is kept, with the
  rest of its rule, as its text; tables of other families are kept as text and listed.

:meth:`LoadedRules.explain` says, chain by chain, who wrote it and why: kube-proxy's fixed chains
in words, its per-Service chains matched to the Service port (and endpoint) by the chain-name hash of
:mod:`.naming` (against ``kubectl get svc,endpointslices -A -o json`` when given, else against the
rules' own comments), other software's chains by their well-known names.

:meth:`LoadedRules.trace` walks the first packet of a connection through the pasted rules with the
same engines and node walk as :func:`~.flow.trace_flow` (:class:`~.engine.IptablesEngine`,
:class:`~.nft.NftEngine`, :func:`~.engine.walk_node`) and returns the same :class:`~.flow.Flow`. A
rule with a part netlab does not model is never guessed: when the walk reaches it and everything
netlab does model in it matches, the branch stops there, verdict ``not modelled``, naming the rule
and its line (:class:`~.flow.NotModelled`).

Taught in ``notebooks/09-your-own-cluster.ipynb``.

Example:
    >>> text = '''*nat
    ... :PREROUTING ACCEPT [0:0]
    ... :INPUT ACCEPT [0:0]
    ... :OUTPUT ACCEPT [0:0]
    ... :POSTROUTING ACCEPT [0:0]
    ... :DOCKER - [0:0]
    ... -A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER
    ... -A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE
    ... -A DOCKER -i docker0 -j RETURN
    ... -A DOCKER ! -i docker0 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 172.17.0.2:80
    ... COMMIT
    ... '''
    >>> rules = load_rules(text)
    >>> rules.trace(source="203.0.113.9", destination="10.0.0.4", port=8080, node_ips=["10.0.0.4"]).endpoints
    ('172.17.0.2:80',)
    >>> print(rules.explain().splitlines()[-1])
    nat      DOCKER       2        not kube-proxy's (Docker)

Size: one pasted text, two grammars (iptables-save and nft list) read into the model's types, and the
two things a learner asks of it (what is this chain? where does my packet go?); the nft reader is the
second half, after the iptables reader it mirrors.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from ..errors import ConfigError, NetlabError
from ..model.netfilter import (
    BUILTIN_CHAINS, BUILTIN_TARGETS, AddrType, Comment, Conntrack, Context, Destination, InInterface, IPSet, Mark,
    Match, MatchModule, NfAcct, OutInterface, Packet, PhysDev, PortOption, Protocol, Recent, Rule, SetMatch, Source,
    Statistic, format_save, ip, net,
)
from ..model.routing import format_table
from ..text.formats import ToolText
from . import nft as nf
from .engine import HOOK_TABLES, IptablesEngine, Pass, Step, chain as chain_engines, walk_node
from .flow import Flow, NotModelled, branch_of
from .naming import endpoint_chain_name, join_host_port, port_proto_hash, service_port_name


class RulesParseError(ConfigError):
    """Pasted rules that are not ``iptables-save`` or ``nft list`` output; the message names the line."""


def _error(number: int, line: str, why: str) -> RulesParseError:
    return RulesParseError(f'line {number}: "{line.strip()}" : {why}')


@dataclass(frozen=True, slots=True)
class Unmodelled(Match):
    """A match netlab does not model (``-m string ...``), kept as the words it was pasted as.

    It prints back as it came; a trace that reaches a rule holding one stops there
    (:meth:`LoadedRules.trace`), since netlab cannot say whether it matches.
    """

    args: tuple[str, ...]

    def restore_args(self) -> tuple[str, ...]:
        return self.args


@dataclass(frozen=True, slots=True)
class LoadedRule:
    """One pasted rule: where it was, the rule as data, and what of it netlab does not model.

    Attributes:
        line: its line number in the pasted text.
        table, chain: where it is (nft: ``"ip kube-proxy"`` and the chain).
        text: the line as pasted (without an ``iptables-save -c`` counter prefix).
        rule: an iptables :class:`~netlab.model.netfilter.Rule` or an :class:`~.nft.Rule`;
            ``None`` in a table netlab does not walk (``security``).
        not_modelled: the parts netlab does not model (empty when it models all of the rule).
        counters: the ``[pkts:bytes]`` prefix of ``iptables-save -c``, or ``""``.
    """

    line: int
    table: str
    chain: str
    text: str
    rule: Any
    not_modelled: tuple[str, ...] = ()
    counters: str = ""

    def printed(self) -> str:
        """The rule as ``iptables-save`` prints it (``format_save``), or as nft lists it."""
        if self.rule is None:
            return self.text
        body = format_save(self.rule) if isinstance(self.rule, Rule) else self.rule.listed()
        return f"{self.counters} {body}" if self.counters else body

    def stop(self) -> NotModelled:
        return NotModelled(self.line, self.text, self.not_modelled, f"{self.table} {self.chain}")


@dataclass(frozen=True, slots=True)
class LoadedChain:
    """A chain as declared: ``:NAME POLICY [pkts:bytes]`` (``policy`` is ``"-"`` for a user chain)."""

    table: str
    name: str
    policy: str = "-"
    counters: str = "[0:0]"
    line: int = 0


@dataclass(frozen=True, slots=True)
class LoadedTable:
    """One ``*table`` ... ``COMMIT`` block, with the comment lines printed before it."""

    name: str
    chains: tuple[LoadedChain, ...]
    rules: tuple[LoadedRule, ...]
    before: tuple[str, ...] = ()


# --------------------------------------------------------------------------------------
# iptables-save
# --------------------------------------------------------------------------------------

def _tokens(text: str, number: int) -> list[tuple[str, str]]:
    """Words as iptables-save quotes them: ``"..."`` with ``\\"`` and ``\\\\`` escapes. (value, as written)."""
    out, i, n = [], 0, len(text)
    while i < n:
        if text[i] in " \t":
            i += 1
            continue
        start = i
        if text[i] == '"':
            i, buf = i + 1, []
            while i < n and text[i] != '"':
                if text[i] == "\\" and i + 1 < n:
                    i += 1
                buf.append(text[i])
                i += 1
            if i >= n:
                raise _error(number, text, "a double quote is not closed; iptables-save closes every quoted word")
            i += 1
            out.append(("".join(buf), text[start:i]))
        else:
            while i < n and text[i] not in " \t":
                i += 1
            out.append((text[start:i], text[start:i]))
    return out


_BASIC = {"-s": "s", "--source": "s", "-d": "d", "--destination": "d", "-i": "i", "--in-interface": "i",
          "-o": "o", "--out-interface": "o", "-p": "p", "--protocol": "p"}
_NEW = {"-m", "--match", "-j", "--jump", "-g", "--goto", *_BASIC}
_PROTOCOL_NUMBERS = {"6": "tcp", "17": "udp", "132": "sctp", "1": "icmp", "58": "icmpv6"}
_PORTS = {"--dport": "dport", "--destination-port": "dport", "--sport": "sport", "--source-port": "sport"}

#: Targets iptables knows besides chains; a rule jumping to one netlab does not evaluate is kept, not modelled.
EXTENSION_TARGETS = frozenset(
    "AUDIT CHECKSUM CLASSIFY CLUSTERIP CONNMARK CONNSECMARK CT DSCP ECN HL HMARK IDLETIMER LED NETMAP NFLOG "
    "NFQUEUE NOTRACK RATEEST SECMARK SET SYNPROXY TCPMSS TCPOPTSTRIP TEE TOS TPROXY TRACE TTL ULOG".split())


def _starts_new(tokens: list[tuple[str, str]], j: int) -> bool:
    value = tokens[j][0]
    return value in _NEW or (value == "!" and j + 1 < len(tokens) and tokens[j + 1][0] in _BASIC)


def _options(words: list[str]) -> list[tuple[str, bool, list[str]]] | None:
    """``[!] --opt values...`` groups of one match module; None if a word belongs to no option."""
    out: list[tuple[str, bool, list[str]]] = []
    negate = False
    for word in words:
        if word == "!":
            negate = True
        elif word.startswith("--"):
            out.append((word, negate, []))
            negate = False
        elif out and not negate:
            out[-1][2].append(word)
        else:
            return None
    return out


def _module(name: str, words: list[str]) -> tuple[Match, ...] | None:
    """The matches of ``-m name words...``, or None where netlab does not model them."""
    opts = _options(words)
    if opts is None:
        return None
    try:
        if name == "comment" and [(o, n, len(v)) for o, n, v in opts] == [("--comment", False, 1)]:
            return (Comment(opts[0][2][0]),)
        if name in ("tcp", "udp", "sctp") and all(o in _PORTS and len(v) == 1 for o, _n, v in opts):
            ports = tuple(PortOption(_PORTS[o], _port(v[0]), n) for o, n, v in opts)
            return (MatchModule(name), *ports)
        if name == "addrtype" and opts and all(o in ("--src-type", "--dst-type") and v == ["LOCAL"]
                                               for o, _n, v in opts):
            kw: dict[str, Any] = {}
            for o, n, _v in opts:
                side = "src" if o == "--src-type" else "dst"
                kw[f"{side}_type"], kw[f"{side}_negate"] = "LOCAL", n
            return (AddrType(**kw),)
        if name == "conntrack" and len(opts) == 1 and opts[0][0] == "--ctstate" and len(opts[0][2]) == 1:
            return (Conntrack(tuple(opts[0][2][0].split(",")), opts[0][1]),)
        if name == "state" and len(opts) == 1 and opts[0][0] == "--state" and len(opts[0][2]) == 1:
            from .userspace import State  # the older spelling of the conntrack match, as userspace mode writes it

            return (State(tuple(opts[0][2][0].split(",")), opts[0][1]),)
        if name == "mark" and len(opts) == 1 and opts[0][0] == "--mark" and len(opts[0][2]) == 1:
            value, _, mask = opts[0][2][0].partition("/")
            return (Mark(int(value, 0), int(mask, 0) if mask else None, opts[0][1]),)
        if name == "statistic" and [(o, n, len(v)) for o, n, v in opts] == [
                ("--mode", False, 1), ("--probability", False, 1)] and opts[0][2] == ["random"]:
            return (Statistic(opts[1][2][0]),)
        if name == "recent":
            return _recent(opts)
        if name == "set" and len(opts) == 1 and opts[0][0] == "--match-set" and len(opts[0][2]) == 2:
            return (SetMatch(opts[0][2][0], tuple(opts[0][2][1].split(",")), opts[0][1]),)
        if name == "physdev" and len(opts) == 1 and opts[0][0] == "--physdev-is-in" and not opts[0][2]:
            return (PhysDev(opts[0][1]),)
        if name == "nfacct" and [(o, n, len(v)) for o, n, v in opts] == [("--nfacct-name", False, 1)]:
            return (NfAcct(opts[0][2][0]),)
    except (ValueError, ConfigError):
        return None
    return None


def _port(text: str) -> int | tuple[int, int]:
    low, sep, high = text.partition(":")
    return (int(low), int(high)) if sep else int(low)


def _recent(opts: list[tuple[str, bool, list[str]]]) -> tuple[Match, ...] | None:
    found = {o: v for o, n, v in opts if not n}
    actions = [o[2:] for o in found if o in ("--set", "--rcheck", "--update", "--remove")]
    allowed = {"--set", "--rcheck", "--update", "--remove", "--seconds", "--reap", "--name", "--mask", "--rsource"}
    if len(found) != len(opts) or len(actions) != 1 or set(found) - allowed or "--name" not in found:
        return None
    if found.get("--mask", ["255.255.255.255"]) != ["255.255.255.255"]:
        return None
    seconds = found.get("--seconds")
    return (Recent(found["--name"][0], actions[0], int(seconds[0]) if seconds else None, "--reap" in found),)


def _address_ok(text: str) -> bool:
    host, port = text, None
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else (None if not rest else "x")
    elif text.count(":") == 1:
        host, _, port = text.partition(":")
    try:
        ipaddress.ip_address(host)
        return port is None or (port.isdigit() and 0 < int(port) < 65536)
    except ValueError:
        return False


def _target_modelled(target: str, args: list[str]) -> bool | None:
    """Whether netlab's evaluator does what ``-j target args`` does; None when iptables would refuse it."""
    if target in ("ACCEPT", "DROP", "RETURN"):
        return None if args else True
    if target == "REJECT":
        return len(args) in (0, 2) and (not args or args[0] == "--reject-with")
    if target == "MARK":
        ops = ("--set-xmark", "--set-mark", "--or-mark", "--and-mark", "--xor-mark")
        if len(args) != 2 or args[0] not in ops:
            return False
        try:
            [int(part, 0) for part in args[1].split("/", 1)]
        except ValueError:
            return False
        return True
    if target in ("DNAT", "SNAT"):
        option = "--to-destination" if target == "DNAT" else "--to-source"
        extra = set(args[2:]) - ({"--random", "--random-fully", "--persistent"} if target == "SNAT" else set())
        return len(args) >= 2 and args[0] == option and _address_ok(args[1]) and not extra
    if target == "MASQUERADE":
        return set(args) <= {"--random", "--random-fully"}
    if target == "REDIRECT":
        return not args or (len(args) == 2 and args[0] == "--to-ports" and args[1].isdigit())
    if target == "LOG":
        return True
    return False


def _parse_rule(number: int, line: str, table: str, tokens: list[tuple[str, str]], declared: set[str]) -> LoadedRule:
    if len(tokens) < 2:
        raise _error(number, line, "-A needs a chain name, then the rule")
    chain = tokens[1][0]
    if chain not in declared:
        raise _error(number, line, f"table {table} declares no chain {chain}; iptables-save prints "
                                   f"':{chain} - [0:0]' after '*{table}' for every chain it has")
    tokens = tokens[2:]
    matches: list[Match] = []
    unmodelled: list[str] = []
    target, target_args, goto = None, (), False
    protocol = None
    i = 0
    while i < len(tokens):
        value, raw = tokens[i]
        negate = value == "!" and raw == "!"
        if negate:
            i += 1
            if i >= len(tokens) or tokens[i][0] not in _BASIC:
                raise _error(number, line, "'!' must stand before -s, -d, -i, -o or -p, or before an option of a match")
            value, raw = tokens[i]
        if value in _BASIC:
            if i + 1 >= len(tokens):
                raise _error(number, line, f"{value} needs a value")
            arg = tokens[i + 1][0]
            kind = _BASIC[value]
            try:
                if kind in "sd":
                    matches.append((Source if kind == "s" else Destination)(net(arg) if "/" in arg else ip(arg), negate))
                elif kind in "io":
                    matches.append((InInterface if kind == "i" else OutInterface)(arg, negate))
                elif arg.lower() in ("all", "0"):
                    matches.append(Unmodelled((*(("!",) if negate else ()), "-p", arg)))
                    unmodelled.append(f"-p {arg}")
                else:
                    protocol = _PROTOCOL_NUMBERS.get(arg, arg.lower())
                    matches.append(Protocol(protocol, negate))
            except NetlabError as err:
                raise _error(number, line, f"{value} expects an address, an interface or a protocol: {err}") from None
            i += 2
            continue
        if value in ("-j", "--jump", "-g", "--goto"):
            if i + 1 >= len(tokens):
                raise _error(number, line, f"{value} needs a target")
            target, goto = tokens[i + 1][0], value in ("-g", "--goto")
            target_args = tuple(r for _v, r in tokens[i + 2:])
            break
        if value in ("-m", "--match") or value.startswith("--"):
            if value in ("-m", "--match"):
                if i + 1 >= len(tokens):
                    raise _error(number, line, "-m needs a match name")
                name, j = tokens[i + 1][0], i + 2
            else:  # an option after other words, as restore input writes --dport after -d
                name, j = None, i
            start = j
            while j < len(tokens) and not _starts_new(tokens, j):
                j += 1
            words = [v for v, _r in tokens[start:j]]
            if name is None:
                owner = next((m.name for m in reversed(matches) if isinstance(m, MatchModule)), protocol)
                found = _module(owner, words) if owner in ("tcp", "udp", "sctp") else None
                if found is None:
                    raise _error(number, line, f"{value} belongs to no match; write '-m <match>' before it")
                matches.extend(found[1:])
            else:
                found = _module(name, words)
                if found is None:
                    text = " ".join(r for _v, r in tokens[i:j])
                    matches.append(Unmodelled(tuple(r for _v, r in tokens[i:j])))
                    unmodelled.append(text)
                else:
                    matches.extend(found)
            i = j
            continue
        if value in ("-f", "--fragment"):
            matches.append(Unmodelled(("!", value) if negate else (value,)))
            unmodelled.append(value)
            i += 1
            continue
        raise _error(number, line, f"{value} is not an option iptables-save prints; expected -s, -d, -i, -o, -p, "
                                   "-m <match> ..., then -j <target> or -g <chain>")
    if target is not None:
        args = [v for v, _r in tokens[len(tokens) - len(target_args):]]
        if goto and target not in declared:
            raise _error(number, line, f"-g needs a chain of table {table}, and it declares no {target}")
        if target not in declared or target in BUILTIN_TARGETS:
            modelled = _target_modelled(target, args) if target in BUILTIN_TARGETS else False
            if modelled is None:
                raise _error(number, line, f"-j {target} takes no options")
            if target not in BUILTIN_TARGETS and target not in EXTENSION_TARGETS:
                raise _error(number, line, f"-j {target}: table {table} declares no chain {target}, and iptables has "
                                           f"no such target; declare it with ':{target} - [0:0]'")
            if not modelled:
                unmodelled.append(" ".join(("-j", target, *target_args)))
    rule = Rule(table, chain, tuple(matches), target, target_args, goto) if table in BUILTIN_CHAINS else None
    return LoadedRule(number, table, chain, line.strip(), rule, tuple(unmodelled))


_CHAIN_LINE = re.compile(r"^:(\S+)\s+(\S+)(?:\s+(\[\d+:\d+\]))?\s*$")
_COUNTERS = re.compile(r"^(\[\d+:\d+\])\s+")
_BUILTINS = {**BUILTIN_CHAINS, "security": ("INPUT", "FORWARD", "OUTPUT")}
_TABLES = tuple(_BUILTINS)


def _load_iptables(text: str) -> "LoadedRules":
    tables: list[LoadedTable] = []
    pending: list[str] = []
    current: dict[str, Any] | None = None
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            if stripped and current is None:
                pending.append(stripped)
            continue
        if stripped.startswith("*"):
            name = stripped[1:]
            if current is not None:
                raise _error(number, line, f"table {current['name']} (line {current['line']}) has no COMMIT; "
                                           "iptables-save ends every table with COMMIT")
            if name not in _TABLES:
                raise _error(number, line, f"iptables has no table {name!r}; expected one of {', '.join(_TABLES)}")
            if any(t.name == name for t in tables):
                raise _error(number, line, f"table {name} appears twice; paste one iptables-save output")
            current = {"name": name, "line": number, "chains": [], "rules": [], "before": tuple(pending)}
            pending = []
            continue
        if current is None:
            raise _error(number, line, "a line outside a table; iptables-save starts each table with '*filter', "
                                       "'*nat'... and ends it with COMMIT")
        if stripped == "COMMIT":
            tables.append(LoadedTable(current["name"], tuple(current["chains"]), tuple(current["rules"]),
                                      current["before"]))
            current = None
            continue
        table, builtins = current["name"], _BUILTINS[current["name"]]
        if stripped.startswith(":"):
            found = _CHAIN_LINE.match(stripped)
            if not found:
                raise _error(number, line, "a chain line is ':NAME POLICY [packets:bytes]'")
            name, policy, counters = found.groups()
            if name in builtins and policy not in ("ACCEPT", "DROP"):
                raise _error(number, line, f"{name} is a built-in chain of table {table}: its policy is ACCEPT or DROP")
            if name not in builtins and policy != "-":
                raise _error(number, line, f"{name} is not a built-in chain of table {table}, so its policy is '-'")
            current["chains"].append(LoadedChain(table, name, policy, counters or "", number))
            continue
        counters = ""
        prefix = _COUNTERS.match(stripped)
        if prefix:
            counters, stripped = prefix.group(1), stripped[prefix.end():]
        tokens = _tokens(stripped, number)
        if tokens[0][0] != "-A":
            raise _error(number, line, "expected a rule ('-A CHAIN ...'), a chain line (':CHAIN POLICY [0:0]') or COMMIT")
        declared = {c.name for c in current["chains"]} | set(builtins)
        current["rules"].append(replace(_parse_rule(number, stripped, table, tokens, declared), counters=counters))
    if current is not None:
        raise _error(current["line"], "*" + current["name"], "this table has no COMMIT at the end of the text; "
                                                             "paste the whole iptables-save output")
    if not tables:
        raise RulesParseError("line 1: no table found; paste the output of 'iptables-save' (it starts with *filter, "
                              "*nat... after a '# Generated by' comment) or of 'nft list ruleset'")
    return LoadedRules("iptables-save", tuple(tables), tuple(pending))


# --------------------------------------------------------------------------------------
# nft list ruleset / nft list table
# --------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class _NftStop(nf.Verdict):
    """The rest of an nft rule from the first statement netlab does not model, kept as its text.

    It lists as that text; to the walk it is the end of the road (the branch stops there).
    """

    raw: str = ""

    def text(self) -> str:
        return self.raw

    def listed(self) -> str:
        return self.raw


@dataclass(frozen=True, slots=True)
class LoadedNftTable:
    """One ``table FAMILY NAME { ... }`` block.

    ``ruleset`` is the table as :mod:`.nft` data (``ip`` tables), ``None`` for other families, which
    are kept as ``text`` and not walked. ``verbatim`` says the table prints back as pasted, because
    something in it (a set netlab cannot hold, a chain's ``policy drop``) has no place in the data.
    """

    family: str
    name: str
    line: int
    text: str
    ruleset: nf.NftRuleset | None = None
    rules: tuple[LoadedRule, ...] = ()
    verbatim: bool = False

    def printed(self) -> str:
        return self.text if self.verbatim or self.ruleset is None else nf.format_list(self.ruleset)


_FIELDS = {("ip", "saddr"): "ip saddr", ("ip", "daddr"): "ip daddr", ("meta", "l4proto"): "meta l4proto",
           ("th", "dport"): "th dport"}
_VERDICT_WORDS = ("accept", "drop", "reject", "return", "jump", "goto")


def _nft_verdict(words: list[str]) -> nf.Verdict | None:
    if len(words) == 1 and words[0] in ("accept", "drop", "reject", "return"):
        return nf.Verdict(words[0])
    if len(words) == 2 and words[0] in ("jump", "goto"):
        return nf.Verdict(words[0], words[1])
    return None


def _nft_address_set(words: list[str]) -> tuple | None:
    items = [w for w in " ".join(words).replace(",", " ").split()]
    out: list = []
    try:
        for item in items:
            if "-" in item:
                low, high = item.split("-", 1)
                out.extend(ipaddress.summarize_address_range(ipaddress.IPv4Address(low), ipaddress.IPv4Address(high)))
            else:
                out.append(nf.ip(item))
    except (ValueError, ConfigError):
        return None
    return tuple(out) if out else None


def _nft_stmt(words: list[str], i: int) -> tuple[nf.Stmt, int] | None:
    """One statement of a listed rule starting at ``words[i]``, and where the next one starts."""
    w = words[i:]
    if w[:2] == ["ct", "state"] and len(w) > 2:
        return nf.CtState(tuple(w[2].split(","))), i + 3
    if w[:2] == ["fib", "saddr"] or w[:2] == ["fib", "daddr"]:
        return (nf.FibLocal(w[1]), i + 4) if w[2:4] == ["type", "local"] else None
    if w[:4] == ["meta", "mark", "set", "meta"] and len(w) > 6 and w[4] == "mark" and w[5] in ("|", "^"):
        return nf.MarkSet("or" if w[5] == "|" else "xor", int(w[6], 16), w[6]), i + 7
    if w[:3] == ["meta", "mark", "&"] and len(w) > 5 and w[4] == "==" and int(w[5], 16) == 0:
        return nf.MarkClear(int(w[3], 16), w[3]), i + 6
    if w[:2] == ["meta", "mark"] and len(w) > 2 and re.fullmatch(r"0x0+/\d+", w[2]):
        bits = int(w[2].split("/")[1])
        return nf.MarkClear(((1 << bits) - 1) << (32 - bits)), i + 3
    if w[:1] == ["update"] and len(w) > 5 and w[1].startswith("@") and w[2:6] == ["{", "ip", "saddr", "}"]:
        return nf.SetUpdate(w[1][1:]), i + 6
    if w[:3] == ["numgen", "random", "mod"] and len(w) > 5 and w[4:6] == ["vmap", "{"] and "}" in w:
        end = w.index("}")
        items = [item.split() for item in " ".join(w[6:end]).split(",")]
        if not all(len(it) == 4 and it[0] == str(n) and it[1:3] == [":", "goto"] for n, it in enumerate(items)):
            return None
        if len(items) != int(w[3]):
            return None
        return nf.Numgen(tuple(it[3] for it in items)), i + end + 1
    if w[:2] == ["dnat", "to"] and len(w) > 2 and re.fullmatch(r"[\d.]+:\d+", w[2]):
        host, port = w[2].split(":")
        return nf.Dnat(ipaddress.IPv4Address(host), int(port)), i + 3
    if w[:1] == ["masquerade"]:
        return (nf.Masquerade(True), i + 2) if w[1:2] == ["fully-random"] else (nf.Masquerade(False), i + 1)
    if w and w[0] in _VERDICT_WORDS:
        size = 2 if w[0] in ("jump", "goto") else 1
        verdict = _nft_verdict(w[:size])
        return (verdict, i + size) if verdict else None
    keys, j = [], 0
    while tuple(w[j:j + 2]) in _FIELDS:
        keys.append(_FIELDS[tuple(w[j:j + 2])])
        j += 2
        if w[j:j + 1] != ["."]:
            break
        j += 1
    if not keys:
        return None
    if w[j:j + 1] == ["vmap"] and len(w) > j + 1 and w[j + 1].startswith("@"):
        return nf.VmapLookup(tuple(keys), w[j + 1][1:]), i + j + 2
    if len(keys) != 1 or j >= len(w):
        return None
    negate = w[j] == "!="
    j += negate
    value = w[j] if j < len(w) else ""
    if keys[0] == "meta l4proto":
        return (nf.L4Proto(value), i + j + 1) if value in nf.PROTOCOL_NUMBERS and not negate else None
    if keys[0] not in ("ip saddr", "ip daddr"):
        return None
    side = keys[0].split()[1]
    if value.startswith("@") and not negate:
        return nf.IpLookup(side, value[1:]), i + j + 1
    if value == "{" and "}" in w[j:]:
        end = w.index("}", j)
        found = _nft_address_set(w[j + 1:end])
        return (nf.IpInSet(side, found, negate), i + end + 1) if found else None
    try:
        return nf.IpAddr(side, nf.ip(value), negate), i + j + 1
    except ConfigError:
        return None


def _nft_rule(number: int, line: str, chain: str) -> tuple[nf.Rule, tuple[str, ...]]:
    tokens = _tokens(line, number)
    comment = None
    if len(tokens) >= 2 and tokens[-2][0] == "comment" and tokens[-1][1].startswith('"'):
        comment, tokens = tokens[-1][0], tokens[:-2]
    words = [v for v, _r in tokens]
    stmts: list[nf.Stmt] = []
    i = 0
    while i < len(words):
        try:
            found = _nft_stmt(words, i)
        except (ValueError, ConfigError):
            found = None
        if found is None:
            raw = " ".join(r for _v, r in tokens[i:])
            return nf.Rule(chain, (*stmts, _NftStop("drop", None, raw)), comment), (raw,)
        stmts.append(found[0])
        i = found[1]
    return nf.Rule(chain, tuple(stmts), comment), ()


def _duration(text: str) -> int:
    total = 0
    for amount, unit in re.findall(r"(\d+)([dhms])", text):
        total += int(amount) * {"d": 86400, "h": 3600, "m": 60, "s": 1}[unit]
    return total


def _priority(text: str) -> int:
    names = dict(nf.STANDARD_PRIORITIES)
    found = re.fullmatch(r"(\w+)(?:\s*([+-])\s*(\d+))?", text.strip())
    if found and found.group(1) in names:
        offset = int(found.group(3) or 0)
        return names[found.group(1)] + (offset if found.group(2) != "-" else -offset)
    return int(text)


def _key_part(text: str) -> Any:
    if text in nf.PROTOCOL_NUMBERS:
        return text
    if text.isdigit():
        return int(text)
    return ipaddress.IPv4Address(text)


def _split_top(text: str) -> list[str]:
    parts, quoted, buf = [], False, []
    for ch in text:
        quoted = not quoted if ch == '"' else quoted
        if ch == "," and not quoted:
            parts.append("".join(buf).strip())
            buf = []
            continue
        buf.append(ch)
    parts.append("".join(buf).strip())
    return [p for p in parts if p]


def _balance(text: str) -> int:
    return re.sub(r'"[^"]*"', "", text).count("{") - re.sub(r'"[^"]*"', "", text).count("}")


def _nft_table(family: str, name: str, lines: list[str], start: int, end: int) -> LoadedNftTable:
    text = "\n".join(lines[start - 1:end]) + "\n"
    if family != "ip":
        return LoadedNftTable(family, name, start, text)
    comment, sets, elements, chains, rules = None, [], {}, [], {}
    loaded: list[LoadedRule] = []
    verbatim = False
    n = start  # lines[n] is line number n + 1
    while n < end - 1:
        number, line = n + 1, lines[n].strip()
        n += 1
        if not line:
            continue
        if line.startswith("comment ") and not chains and not sets:
            comment = _tokens(line, number)[1][0]
            continue
        head = re.fullmatch(r"(set|map|chain) (\S+) \{", line)
        if not head:
            raise _error(number, line, f"expected 'set NAME {{', 'map NAME {{' or 'chain NAME {{' inside table {family} {name}")
        kind, obj = head.groups()
        body: list[tuple[int, str]] = []
        while n < end - 1 and lines[n].strip() != "}":
            body.append((n + 1, lines[n].strip()))
            n += 1
        n += 1
        if kind == "chain":
            chain = nf.Chain(obj)
            rules[obj] = []
            for number, line in body:
                header = re.fullmatch(r"type (\w+) hook (\w+) priority ([^;]+); policy (\w+);", line)
                if header:
                    chain = replace(chain, type=header.group(1), hook=header.group(2), priority=_priority(header.group(3)))
                    if header.group(4) != "accept":
                        verbatim = True
                        stop = nf.Rule(obj, (_NftStop("drop", None, f"policy {header.group(4)}"),))
                        loaded.append(LoadedRule(number, f"{family} {name}", obj, line, stop, (f"policy {header.group(4)}",)))
                elif line.startswith("comment ") and not rules[obj]:
                    chain = replace(chain, comment=_tokens(line, number)[1][0])
                elif line:
                    rule, parts = _nft_rule(number, line, obj)
                    rules[obj].append(rule)
                    loaded.append(LoadedRule(number, f"{family} {name}", obj, line, rule, parts))
            chains.append(chain)
            rules[obj] = tuple(rules[obj]) + tuple(r.rule for r in loaded if r.chain == obj and r.text.startswith("type "))
            continue
        props: dict[str, Any] = {}
        joined: list[tuple[int, str]] = []
        for number, line in body:
            if joined and _balance(" ".join(t for _n, t in joined)) > 0:
                joined[-1] = (joined[-1][0], joined[-1][1] + " " + line)
            else:
                joined.append((number, line))
        held: list[nf.Element] = []
        for number, line in joined:
            word, _, rest = line.partition(" ")
            if word in ("type", "size", "flags", "timeout") or (word == "comment" and rest.startswith('"')):
                props[word] = rest
            elif word == "elements" and rest.startswith("= {") and rest.endswith("}"):
                for item in _split_top(rest[3:-1]):
                    found = re.fullmatch(r'(.+?)(?: comment "([^"]*)")?(?: : (.+))?', item)
                    try:
                        key = tuple(_key_part(p.strip()) for p in found.group(1).split(" . "))
                    except ValueError:
                        verbatim = True
                        held = []
                        break
                    value = _nft_verdict(found.group(3).split()) if found.group(3) else None
                    held.append(nf.Element(obj, key, value, found.group(2)))
            else:
                verbatim = True  # an attribute nft.NftSet has no field for: print the table as pasted
        if "type" not in props:
            raise _error(body[0][0] if body else n, f"{kind} {obj}", f"a {kind} needs a 'type' line")
        sets.append(nf.NftSet(obj, props["type"], kind, tuple(props["flags"].split(",")) if "flags" in props else (),
                              _duration(props["timeout"]) if "timeout" in props else None,
                              props["comment"][1:-1] if "comment" in props else None,
                              int(props["size"]) if "size" in props else None))
        elements[obj] = tuple(held)
    for rule in loaded:
        for stmt in rule.rule.stmts:
            names = stmt.targets if isinstance(stmt, nf.Numgen) else (
                (stmt.chain,) if isinstance(stmt, nf.Verdict) and stmt.chain and not isinstance(stmt, _NftStop) else ())
            for target in names:
                if target not in rules:
                    raise _error(rule.line, rule.text, f"no chain {target} in table {family} {name}")
            used = getattr(stmt, "set_name", None) or getattr(stmt, "map_name", None)
            if used and used not in elements:
                raise _error(rule.line, rule.text, f"no set or map {used} in table {family} {name}")
    ruleset = nf.NftRuleset(nf.Table(family, name, comment), tuple(sets), elements, tuple(chains),
                            {c: tuple(r) for c, r in rules.items()})
    return LoadedNftTable(family, name, start, text, ruleset, tuple(loaded), verbatim)


def _load_nft(text: str) -> "LoadedRules":
    lines = text.splitlines()
    tables: list[LoadedNftTable] = []
    n = 0
    while n < len(lines):
        line = lines[n].strip()
        if not line or line.startswith("#"):
            n += 1
            continue
        head = re.fullmatch(r"table (\w+) (\S+) \{", line)
        if not head:
            raise _error(n + 1, line, "expected 'table FAMILY NAME {', as 'nft list ruleset' prints each table")
        depth, end = 0, n
        while end < len(lines):
            depth += _balance(lines[end])
            end += 1
            if depth == 0:
                break
        if depth:
            raise _error(n + 1, line, "this table's '{' is never closed; paste the whole 'nft list' output")
        tables.append(_nft_table(head.group(1), head.group(2), lines, n + 1, end))
        n = end
    return LoadedRules("nft", (), (), tuple(tables))


# --------------------------------------------------------------------------------------
# What a chain is for
# --------------------------------------------------------------------------------------

_HOOKS = {"PREROUTING": "every packet that arrives, before routing", "INPUT": "packets for this node",
          "FORWARD": "packets routed through this node", "OUTPUT": "packets this node sends",
          "POSTROUTING": "every packet that leaves, after routing"}

_KUBE_CHAINS = {
    ("nat", "KUBE-SERVICES"): "kube-proxy: sends Service addresses and ports to their chains",
    ("filter", "KUBE-SERVICES"): "kube-proxy: rejects Service ports with no endpoints",
    ("nat", "KUBE-NODEPORTS"): "kube-proxy: sends NodePorts to their Service's chain",
    ("filter", "KUBE-NODEPORTS"): "kube-proxy: accepts health check node ports",
    "KUBE-POSTROUTING": "kube-proxy: masquerades packets that carry the mark",
    "KUBE-MARK-MASQ": "kube-proxy: sets the masquerade mark",
    "KUBE-FORWARD": "kube-proxy: accepts marked and established forwarded traffic",
    "KUBE-PROXY-FIREWALL": "kube-proxy: drops LB traffic outside loadBalancerSourceRanges",
    "KUBE-EXTERNAL-SERVICES": "kube-proxy: rejects external traffic with no (local) endpoints",
    "KUBE-FIREWALL": "kubelet and kube-proxy: drops martian packets to 127.0.0.0/8",
    "KUBE-KUBELET-CANARY": "kubelet: empty canary (a resync when it goes)",
    "KUBE-PROXY-CANARY": "kube-proxy: empty canary (a resync when it goes)",
    "KUBE-MARK-DROP": "kubelet (before v1.28): marks packets to drop",
    "KUBE-LOAD-BALANCER": "kube-proxy IPVS: load-balancer IPs (ipset KUBE-LOAD-BALANCER)",
    "KUBE-NODE-PORT": "kube-proxy IPVS: NodePorts (ipsets KUBE-NODE-PORT-*)",
    "KUBE-IPVS-FILTER": "kube-proxy IPVS: rejects traffic to kube-ipvs0 addresses it does not serve",
    "KUBE-IPVS-OUT-FILTER": "kube-proxy IPVS: filters what the node sends to kube-ipvs0 addresses",
    "KUBE-SOURCE-RANGES-FIREWALL": "kube-proxy IPVS: drops LB traffic outside loadBalancerSourceRanges",
    "KUBE-PORTALS-CONTAINER": "kube-proxy userspace: redirects Service traffic from pods to its proxy",
    "KUBE-PORTALS-HOST": "kube-proxy userspace: redirects Service traffic from the node to its proxy",
    "KUBE-NODEPORT-CONTAINER": "kube-proxy userspace: redirects NodePorts from pods to its proxy",
    "KUBE-NODEPORT-HOST": "kube-proxy userspace: redirects NodePorts from the node to its proxy",
    "KUBE-NODEPORT-NON-LOCAL": "kube-proxy userspace: accepts NodePort traffic for its proxy",
}

_KUBE_PREFIXES = {
    "KUBE-SVC-": "kube-proxy: a Service port picks an endpoint (Cluster policy)",
    "KUBE-SVL-": "kube-proxy: a Service port picks a local endpoint (Local policy)",
    "KUBE-EXT-": "kube-proxy: external entry (NodePort, LB, external IP)",
    "KUBE-FW-": "kube-proxy: loadBalancerSourceRanges of a Service port",
    "KUBE-XLB-": "kube-proxy before v1.24: Local policy chain of a Service port",
    "KUBE-SEP-": "kube-proxy: one endpoint, DNAT to it",
}

#: Well-known chain-name prefixes of other software, longest match first.
OWNERS = (("DOCKER", "Docker"), ("cali-", "Calico"), ("IP-MASQ-AGENT", "ip-masq-agent, as on AKS and GKE"),
          ("IP-MASQ", "ip-masq-agent"), ("AZURE-NPM", "Azure Network Policy Manager"), ("CILIUM", "Cilium"),
          ("OLD_CILIUM", "Cilium"), ("FLANNEL", "flannel"), ("WEAVE", "Weave Net"), ("ANTREA", "Antrea"),
          ("KUBE-ROUTER", "kube-router"), ("CNI-", "the CNI bridge and portmap plugins"), ("LIBVIRT", "libvirt"),
          ("ISTIO", "Istio"), ("ufw", "ufw"), ("f2b-", "fail2ban"))

_NFT_CHAINS = {
    "services": "kube-proxy: Service addresses and NodePorts, by verdict map",
    "masquerading": "kube-proxy: masquerades packets that carry the mark",
    "mark-for-masquerade": "kube-proxy: sets the masquerade mark",
    "reject-chain": "kube-proxy: rejects Service ports with no endpoints",
    "firewall-check": "kube-proxy: loadBalancerSourceRanges, by verdict map",
    "service-endpoints-check": "kube-proxy: Service ports with no endpoints, by verdict map",
    "nodeport-endpoints-check": "kube-proxy: NodePorts with no endpoints, by verdict map",
    "cluster-ips-check": "kube-proxy: rejects invalid ports of cluster IPs",
}
_NFT_PREFIXES = {"service": "kube-proxy: a Service port picks an endpoint (Cluster policy)",
                 "local": "kube-proxy: a Service port picks a local endpoint (Local policy)",
                 "external": "kube-proxy: external entry (NodePort, LB, external IP)",
                 "firewall": "kube-proxy: loadBalancerSourceRanges of a Service port",
                 "endpoint": "kube-proxy: one endpoint, DNAT to it"}

_SPN = re.compile(r"[a-z0-9][-a-z0-9.]*/[a-z0-9][-a-z0-9.]*(?::[-a-z0-9]+)?")


def _role(table: str, chain: LoadedChain | str, builtin: bool, policy: str = "ACCEPT") -> str:
    name = chain if isinstance(chain, str) else chain.name
    if builtin:
        return f"hook: {_HOOKS.get(name, name)}" + (f" (policy {policy})" if policy != "ACCEPT" else "")
    role = _KUBE_CHAINS.get((table, name)) or _KUBE_CHAINS.get(name)
    if role:
        return role
    for prefix, words in _KUBE_PREFIXES.items():
        if name.startswith(prefix):
            return words
    owner = next((who for prefix, who in OWNERS if name.startswith(prefix)), None)
    if name.startswith("KUBE-") and owner is None:
        return "a KUBE- chain netlab does not know (another kube-proxy version?)"
    return f"not kube-proxy's ({owner})" if owner else "not kube-proxy's"


def _object_index(objects: Mapping[str, Any] | Iterable[Any]) -> tuple[dict, dict]:
    """chain hash -> (service port name, protocol); endpoint chain hash -> (name, protocol, endpoint)."""
    from .api import parse_objects

    services, slices = parse_objects(objects)
    ports, endpoints = {}, {}
    for svc in services:
        for p in svc.ports:
            spn, proto = service_port_name(svc.namespace, svc.name, p.name), p.protocol.lower()
            ports[port_proto_hash(spn, proto)] = (spn, proto)
            for sl in slices:
                if (sl.namespace, sl.service_name) != (svc.namespace, svc.name):
                    continue
                for ep_port in sl.ports:
                    if ep_port.name != p.name or ep_port.port is None:
                        continue
                    for ep in sl.endpoints:
                        for address in ep.addresses:
                            endpoint = join_host_port(address, ep_port.port)
                            endpoints[endpoint_chain_name(spn, proto, endpoint)[9:]] = (spn, proto, endpoint)
    return ports, endpoints


def _service(name: str, own: list[LoadedRule], into: list[LoadedRule], index: tuple[dict, dict] | None
             ) -> tuple[str, str]:
    """(Service port or endpoint, how it was matched) for one of kube-proxy's per-Service iptables chains."""
    prefix = next((p for p in _KUBE_PREFIXES if name.startswith(p)), None)
    if prefix is None:
        return "", ""
    digest, sep = name[len(prefix):], prefix == "KUBE-SEP-"
    if index is not None:
        found = index[1 if sep else 0].get(digest)
        if found:
            return (f"{found[0]} ({found[1]})" + (f" -> {found[2]}" if sep else "")), "objects"
    names, endpoint = [], ""
    for r in (*own, *into):
        for m in r.rule.matches if r.rule is not None else ():
            if isinstance(m, Comment):
                names.extend(w for w in m.text.split() if _SPN.fullmatch(w))
        if sep and r in own and r.rule is not None and r.rule.target == "DNAT" and len(r.rule.target_args) > 1:
            endpoint = r.rule.target_args[1]
    for spn in dict.fromkeys(names):
        for proto in ("tcp", "udp", "sctp"):
            hashed = endpoint_chain_name(spn, proto, endpoint)[9:] if sep else port_proto_hash(spn, proto)
            if hashed == digest:
                return f"{spn} ({proto})" + (f" -> {endpoint}" if sep else ""), "comments"
    if names:
        return names[0] + (f" -> {endpoint}" if sep else ""), "comment, hash differs"
    return (f"-> {endpoint}", "DNAT rule") if endpoint else ("?", "")


def _nft_service(name: str, index: tuple[dict, dict] | None) -> tuple[str, str, str]:
    """(role, Service port or endpoint, how) for a chain of kube-proxy's nftables mode."""
    found = re.fullmatch(r"(service|local|external|firewall|endpoint)-([A-Z2-7]{8})-(.+)", name)
    if not found:
        return _NFT_CHAINS.get(name, "not kube-proxy's"), "", ""
    kind, _digest, base = found.groups()
    from .nftables import hash_and_truncate

    rest, _, ep = base.partition("__")
    parts = rest.split("/")
    if hash_and_truncate(base) != f"{_digest}-{base}" or len(parts) != 4:
        return _NFT_PREFIXES[kind], base, "name, hash differs"
    spn = service_port_name(parts[0], parts[1], parts[3])
    text = f"{spn} ({parts[2]})" + (f" -> {join_host_port(*ep.rsplit('/', 1))}" if ep else "")
    how = "name"
    if index is not None and port_proto_hash(spn, parts[2]) in index[0]:
        how = "objects"
    return _NFT_PREFIXES[kind], text, how


# --------------------------------------------------------------------------------------
# The loaded rules
# --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _TableWalk:
    """The tables :class:`~.engine.IptablesEngine` does not walk (raw, mangle, nat INPUT), as an engine."""

    engine: IptablesEngine
    hooks: Mapping[str, tuple[tuple[str, str], ...]]

    def run(self, hook: str, packet: Packet, ctx: Context) -> tuple[Step, ...]:
        from ..model.netfilter import evaluate
        from .engine import iptables_line

        steps = [Step(1.0, "ACCEPT", packet)]
        for table, chain in self.hooks.get(hook, ()):
            nxt: list[Step] = []
            for s in steps:
                if s.verdict != "ACCEPT":
                    nxt.append(s)
                    continue
                for o in evaluate(self.engine.rules, table, chain, s.packet, ctx):
                    verdict = "ACCEPT" if o.verdict.value in ("ACCEPT", "RETURN") else o.verdict.value
                    nxt.append(Step(s.probability * o.probability, verdict, o.packet,
                                    s.lines + tuple(iptables_line(r) for r in o.rules), s.masqueraded or o.masqueraded))
            steps = nxt
        return tuple(steps)


_BEFORE = {"PREROUTING": (("raw", "PREROUTING"), ("mangle", "PREROUTING")), "INPUT": (("mangle", "INPUT"),),
           "FORWARD": (("mangle", "FORWARD"),), "OUTPUT": (("raw", "OUTPUT"), ("mangle", "OUTPUT")),
           "POSTROUTING": (("mangle", "POSTROUTING"),)}
_AFTER = {"INPUT": (("nat", "INPUT"),)}


@dataclass(frozen=True)
class LoadedRules:
    """Rules pasted from a node, read by :func:`load_rules`.

    Attributes:
        form: ``"iptables-save"`` or ``"nft"``.
        tables: the ``iptables-save`` tables, in the order pasted.
        trailer: comment lines after the last table (``# Completed on ...``).
        nft_tables: the ``nft list`` tables, in the order pasted.
    """

    form: str
    tables: tuple[LoadedTable, ...] = ()
    trailer: tuple[str, ...] = ()
    nft_tables: tuple[LoadedNftTable, ...] = ()

    @property
    def rules(self) -> tuple[LoadedRule, ...]:
        """Every rule, in the order pasted."""
        return tuple(r for t in (*self.tables, *self.nft_tables) for r in t.rules)

    @property
    def not_modelled(self) -> tuple[LoadedRule, ...]:
        """The rules with a part netlab does not model (a trace stops at them)."""
        return tuple(r for r in self.rules if r.not_modelled)

    def text(self) -> ToolText:
        """The rules printed back as ``iptables-save`` (or ``nft list``) prints them."""
        if self.form == "nft":
            return ToolText("".join(t.printed() for t in self.nft_tables))
        out: list[str] = []
        for t in self.tables:
            out.extend(t.before)
            out.append(f"*{t.name}")
            out.extend(f":{c.name} {c.policy}" + (f" {c.counters}" if c.counters else "") for c in t.chains)
            out.extend(r.printed() for r in t.rules)
            out.append("COMMIT")
        out.extend(self.trailer)
        return ToolText("\n".join(out) + "\n")

    def __str__(self) -> str:
        return str(self.text())

    def explain(self, objects: Mapping[str, Any] | Iterable[Any] | None = None) -> ToolText:
        """A table of the chains: table, chain, rules, what it is for, the Service port (or endpoint) it serves.

        Args:
            objects: ``kubectl get svc,endpointslices -A -o json`` (the dict, or its ``items``): chain-name
                hashes are matched to these Service ports and endpoints. Without it, to the names in the
                rules' own comments. ``MATCHED BY`` says which (``comment, hash differs``: the comment names a
                Service port whose hash is not the chain's).
        """
        index = _object_index(objects) if objects is not None else None
        rows: list[tuple[str, ...]] = []
        for t in self.tables:
            builtins = _BUILTINS[t.name]
            for c in t.chains:
                own = [r for r in t.rules if r.chain == c.name]
                into = [r for r in t.rules if r.rule is not None and r.rule.target == c.name]
                service, how = _service(c.name, own, into, index)
                rows.append((t.name, c.name, str(len(own)), _role(t.name, c, c.name in builtins, c.policy),
                             service, how))
        for nt in self.nft_tables:
            where = f"{nt.family} {nt.name}"
            if nt.ruleset is None:
                rows.append((where, "(table)", "", "not walked: netlab reads ip tables only", "", ""))
                continue
            for s in nt.ruleset.sets:
                rows.append((where, f"@{s.name}", str(len(nt.ruleset.elements.get(s.name, ()))),
                             f"{s.kind}: {s.comment or s.type}", "", ""))
            for c in nt.ruleset.chains:
                count = str(sum(1 for r in nt.rules if r.chain == c.name and not r.text.startswith("type ")))
                if c.base:
                    rows.append((where, c.name, count, f"hook: {c.type} {c.hook}, priority "
                                 f"{nf.priority_listed(c.priority, c.hook)}", "", ""))
                else:
                    role, service, how = _nft_service(c.name, index)
                    rows.append((where, c.name, count, role, service, how))
        return ToolText(format_table(("TABLE", "CHAIN", "RULES", "ROLE", "SERVICE PORT / ENDPOINT", "MATCHED BY"),
                                     rows))

    def node_ips(self) -> tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, ...]:
        """The node's own addresses, where the rules name them: the ``-d IP -j KUBE-NODEPORTS`` rules kube-proxy
        writes with ``--nodeport-addresses``, or nftables mode's ``@nodeport-ips`` set. Often none."""
        found: list = []
        for r in self.rules:
            rule = r.rule
            if isinstance(rule, Rule) and rule.chain == "KUBE-SERVICES" and rule.target == "KUBE-NODEPORTS":
                for m in rule.matches:
                    if isinstance(m, Destination) and not m.negate and net(m.address).num_addresses == 1:
                        address = net(m.address).network_address
                        if not address.is_loopback:
                            found.append(address)
        for nt in self.nft_tables:
            if nt.ruleset is not None:
                found.extend(e.key[0] for e in nt.ruleset.elements.get("nodeport-ips", ()))
        return tuple(dict.fromkeys(found))

    def trace(self, source: str, destination: str, port: int, protocol: str = "tcp",
              node_ips: Iterable[str] | None = None, *, source_port: int = 49152, in_interface: str = "eth0",
              out_interface: str = "eth0", ipsets: Iterable[IPSet] = (), physdev_is_in: bool = False) -> Flow:
        """Walk the first packet of a connection through the pasted rules, as :func:`~.flow.trace_flow` does.

        Args:
            source, destination, port, protocol: the packet (a source that is one of the node's addresses, or
                ``127.x``, is the node itself: OUTPUT; any other comes in: PREROUTING).
            node_ips: the node's own addresses; else those :meth:`node_ips` finds in the rules; else none (only
                ``127.0.0.0/8`` is local, so the node's own address counts as another machine's; a note says so).
            source_port: the client's port.
            in_interface: the interface a packet from elsewhere comes in on (``docker0``, ``cali1234``...), for
                rules with ``-i``; a packet from the node itself comes from ``lo``.
            out_interface: the interface routing picks for a packet that leaves, for rules with ``-o``.
            ipsets: the ipsets ``-m set`` rules look in (``ipset save`` is not part of ``iptables-save``); a rule
                naming a set not given is not modelled.
            physdev_is_in: whether the packet came in through a bridge port (``-m physdev``).

        Returns:
            The :class:`~.flow.Flow`; a branch that reached a rule netlab does not model has verdict
            ``not modelled`` and names that rule and its line (``branch.not_modelled``).
        """
        proto = str(protocol).lower()
        src, dst = ip(source), ip(destination)
        notes: list[str] = []
        if node_ips is not None:
            ips = tuple(ip(a) for a in node_ips)
        else:
            ips = self.node_ips()
            notes.append(f"the node's addresses, from the rules: {', '.join(map(str, ips))}" if ips else
                         "no node address given (node_ips=) or found in the rules: only 127.0.0.0/8 is the node's, so "
                         "a packet from a node address is treated as coming from another machine, and a NodePort "
                         "on one is not seen as local")
        ipsets = tuple(ipsets)
        known_sets = {s.name for s in ipsets}
        if self.form == "nft":
            engine, stops, hooks = self._nft_engine(notes)
            policies: tuple = ()
        else:
            engine, stops, hooks = self._iptables_engine(known_sets)
            policies = tuple((t.name, c.name, c.policy) for t in self.tables if t.name in BUILTIN_CHAINS
                             for c in t.chains if c.policy == "DROP")
            skipped = [t.name for t in self.tables if t.name not in BUILTIN_CHAINS and t.rules]
            if skipped:
                notes.append(f"not walked: table {', '.join(skipped)} (netlab walks raw, mangle, nat and filter)")
        ctx = Context.for_node(ips, ipsets=ipsets, policies=policies, physdev_is_in=physdev_is_in)
        from_node = ctx.is_local(src)
        packet = Packet(src, dst, source_port, port, proto, in_interface="lo" if from_node else in_interface,
                        out_interface=("lo" if ctx.is_local(dst) else out_interface) if from_node else None)

        def route(pkt: Packet):
            return ctx.is_local(pkt.dst), out_interface, ips[0] if ips else None

        def stop_of(ps: Pass) -> NotModelled | None:
            if ps.verdict == "DROP" and ps.lines:
                found = stops.get((ps.lines[-1].where, ps.lines[-1].restore or ps.lines[-1].text))
                return found.stop() if found else None
            return None

        def shown(line) -> str:
            found = stops.get((line.where, line.restore or line.text))
            return found.text if found else line.text

        branches = [branch_of(ps, hooks, line_text=shown, not_modelled=stop_of(ps))
                    for ps in walk_node(engine, packet, ctx, route, from_node=from_node)]
        branches.sort(key=lambda b: (-b.probability, b.endpoint or ""))
        return Flow(src, dst, port, proto, tuple(branches), tuple(notes))

    def _iptables_engine(self, known_sets: set[str]):
        """The engine for the pasted rules: each rule netlab cannot decide becomes a stand-in that keeps the
        matches netlab models and DROPs with a marker comment, so the walk stops exactly there."""
        walked: list[Rule] = []
        stops: dict[tuple[str, str], LoadedRule] = {}
        for lr in self.rules:
            rule = lr.rule
            if rule is None:
                continue
            unknown_set = [m for m in rule.matches if isinstance(m, SetMatch) and m.set_name not in known_sets]
            if lr.not_modelled or unknown_set:
                if unknown_set and not lr.not_modelled:
                    lr = replace(lr, not_modelled=tuple(f"-m set --match-set {m.set_name} (its members: pass "
                                                        "ipsets=)" for m in unknown_set))
                known = tuple(m for m in rule.matches if not isinstance(m, Unmodelled) and m not in unknown_set)
                rule = Rule(rule.table, rule.chain, (*known, Comment(f"netlab-stop-line-{lr.line}")), "DROP")
                from ..model.netfilter import format_restore

                stops[(f"{rule.table} {rule.chain}", format_restore(rule))] = lr
            walked.append(rule)
        main = IptablesEngine(tuple(walked))
        present = {(r.table, r.chain) for r in walked}
        before = {h: tuple(tc for tc in tcs if tc in present) for h, tcs in _BEFORE.items()}
        after = {h: tuple(tc for tc in tcs if tc in present) for h, tcs in _AFTER.items()}
        engines = [e for e in (_TableWalk(main, before) if any(before.values()) else None, main,
                               _TableWalk(main, after) if any(after.values()) else None) if e is not None]

        def hooks(hook: str) -> tuple[str, ...]:
            return tuple(f"{t} {c}" for t, c in (*before.get(hook, ()), *HOOK_TABLES[hook], *after.get(hook, ())))

        return chain_engines(*engines), stops, hooks

    def _nft_engine(self, notes: list[str]):
        walkable = [t for t in self.nft_tables if t.ruleset is not None]
        table = next((t for t in walkable if t.name == "kube-proxy"), walkable[0] if len(walkable) == 1 else None)
        if table is None:
            raise ConfigError("netlab walks one nft table: paste 'nft list table ip kube-proxy', or a ruleset with "
                              "one ip table")
        others = [f"{t.family} {t.name}" for t in self.nft_tables if t is not table]
        if others:
            notes.append(f"not walked: table {', '.join(others)} (netlab walks table {table.family} {table.name})")
        engine = nf.NftEngine(table.ruleset)
        stops = {(f"{r.chain}", r.rule.listed()): r for r in table.rules if r.not_modelled}
        names = nf.hook_names(engine)
        return engine, stops, lambda hook: names.get(hook, ())


def load_rules(text: str) -> LoadedRules:
    """Read the output of ``iptables-save`` (``-c`` too) or of ``nft list ruleset`` / ``nft list table``.

    Args:
        text: the text as the tool printed it, or the path of a file holding it.

    Returns:
        The :class:`LoadedRules`: print it back (``str``), :meth:`~LoadedRules.explain` its chains,
        :meth:`~LoadedRules.trace` a packet through it.

    Raises:
        RulesParseError: naming the line, its text and what was expected there.

    Example:
        >>> rules = load_rules("*filter\\n:INPUT ACCEPT [0:0]\\n-A INPUT -p tcp -m string --string x --algo bm -j DROP\\nCOMMIT\\n")
        >>> [r.not_modelled for r in rules.not_modelled]
        [('-m string --string x --algo bm',)]
        >>> load_rules("*nat\\n:KUBE-SERVICES - [0:0]\\n-A KUBE-SERVICES -j\\nCOMMIT\\n")
        Traceback (most recent call last):
        ...
        netlab.kubeproxy.loaded.RulesParseError: line 3: "-A KUBE-SERVICES -j" : -j needs a target
    """
    import os
    import pathlib

    if isinstance(text, os.PathLike) or (isinstance(text, str) and "\n" not in text.strip() and text.strip()
                                         and not text.lstrip().startswith(("*", "#", "table ", ":", "-A"))):
        path = pathlib.Path(text)  # a file's name, not its text: read it, as apply() and from_kubectl() do
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as err:
            raise RulesParseError(f"load_rules: {str(path)!r} looks like a file's name, but it cannot be read "
                                  f"({err.strerror}); give the path of the saved output, or the text itself") from None
    if not isinstance(text, str):
        raise RulesParseError(f"load_rules reads text (the output of iptables-save or nft list), not {type(text).__name__}")
    first = next((line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")), "")
    return _load_nft(text) if first.startswith("table ") else _load_iptables(text)
