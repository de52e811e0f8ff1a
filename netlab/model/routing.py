"""Route tables as data: longest-prefix match and the formats ``ip route`` and ``az`` print.

Example:
    >>> from ipaddress import IPv4Network as N, IPv4Address as A
    >>> table = (Route(N("0.0.0.0/0"), "eth0", via=A("10.224.0.1")),
    ...          Route(N("10.244.0.0/24"), "cbr0", proto="kernel", scope="link", src=A("10.244.0.1")))
    >>> print(lookup(table, A("10.244.0.7")))
    10.244.0.0/24 dev cbr0 proto kernel scope link src 10.244.0.1
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TypeVar

from .types import AzureRoute, IPv4Address, Route

R = TypeVar("R", Route, AzureRoute)


def format_route(r: Route) -> str:
    """One route as iproute2 prints it (``ip route show``)."""
    if r.dst.prefixlen == 0:
        dst = "default"
    elif r.dst.prefixlen == 32:
        dst = str(r.dst.network_address)
    else:
        dst = str(r.dst)
    parts = [dst]
    if r.via is not None:
        parts += ["via", str(r.via)]
    parts += ["dev", r.dev]
    if r.proto:
        parts += ["proto", r.proto]
    if r.scope:
        parts += ["scope", r.scope]
    if r.src is not None:
        parts += ["src", str(r.src)]
    if r.metric is not None:
        parts += ["metric", str(r.metric)]
    return " ".join(parts)


def sort_routes(routes: Iterable[Route]) -> tuple[Route, ...]:
    """The order the kernel lists the main table in: by destination, shorter prefix first."""
    return tuple(sorted(routes, key=lambda r: (int(r.dst.network_address), r.dst.prefixlen, r.metric or 0)))


def format_ip_route(routes: Sequence[Route]) -> str:
    """The whole table as ``ip route`` prints it."""
    return "\n".join(format_route(r) for r in routes)


def _prefix(r: Route | AzureRoute):
    return r.dst if isinstance(r, Route) else r.address_prefix


def _scan(table: Iterable[R], dst: IPv4Address) -> R | None:
    best: R | None = None
    best_key: tuple[int, int, int] | None = None
    for r in table:
        if isinstance(r, AzureRoute) and not r.active:
            continue
        net = _prefix(r)
        if dst in net:
            if isinstance(r, AzureRoute):
                key = (net.prefixlen, 1 if r.source == "User" else 0, 0)
            else:
                key = (net.prefixlen, 0, -(r.metric or 0))
            if best_key is None or key > best_key:
                best, best_key = r, key
    return best


class _Index:
    """A route table grouped by prefix length: the best route per destination network, so a
    lookup costs at most 33 dictionary probes however many routes the table holds."""

    __slots__ = ("table", "by_length")

    def __init__(self, table: Sequence[R]) -> None:
        self.table = table  # kept so the identity check below cannot meet a recycled id
        groups: dict[int, dict[int, list]] = {}
        for r in table:
            if isinstance(r, AzureRoute) and not r.active:
                continue
            net = _prefix(r)
            groups.setdefault(net.prefixlen, {}).setdefault(int(net.network_address), []).append(r)
        self.by_length = [(length, (0xFFFFFFFF << (32 - length)) & 0xFFFFFFFF,
                           {net: _scan(rs, _prefix(rs[0]).network_address) for net, rs in nets.items()})
                          for length, nets in sorted(groups.items(), reverse=True)]

    def lookup(self, dst: IPv4Address):
        d = int(dst)
        for _length, mask, nets in self.by_length:
            r = nets.get(d & mask)
            if r is not None:
                return r
        return None


_INDEXES: dict[int, _Index] = {}
_INDEXED_FROM = 16  # shorter tables are scanned: building an index costs more than it saves


def lookup(table: Iterable[R], dst: IPv4Address) -> R | None:
    """Longest-prefix match; among equal prefixes a user route beats a system route and
    the lower metric wins. Returns ``None`` when nothing matches.

    A tuple of many routes (kubenet's route table holds one per node) is indexed once by
    prefix length and destination network, and the index is kept for the tuple while it is
    in use, so a lookup does not grow with the table.
    """
    if not isinstance(table, tuple) or len(table) < _INDEXED_FROM:
        return _scan(table, dst)
    index = _INDEXES.get(id(table))
    if index is None or index.table is not table:
        if len(_INDEXES) >= 64:
            _INDEXES.pop(next(iter(_INDEXES)))
        index = _INDEXES[id(table)] = _Index(table)
    return index.lookup(dst)


def format_azure_route(r: AzureRoute) -> str:
    """One Azure route in one line: the way a learner finds it in the table."""
    hop = f" {r.next_hop_ip}" if r.next_hop_ip is not None else ""
    return f"{r.source}  {r.address_prefix}  {r.next_hop_type}{hop}  ({r.name})"


def format_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Columns as the Azure CLI's ``-o table`` prints them: header, dashes, two-space gaps."""
    widths = [len(h) + 2 for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    for row in rows:
        lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())
    return "\n".join(lines)


def format_tabwriter(rows: Sequence[Sequence[str]], minwidth: int, padding: int) -> str:
    """Rows aligned as Go's ``text/tabwriter`` aligns tab-separated cells (pad character a space).

    A column is as wide as its widest cell plus ``padding``, and at least ``minwidth``; the last
    cell of a line is not padded. kubectl uses ``minwidth=6, padding=3``; crictl
    ``minwidth=20, padding=3`` (``newDefaultTableDisplay`` in cri-tools' ``cmd/crictl/display.go``).

    >>> print(format_tabwriter([["POD ID", "STATE"], ["0123", "Ready"]], minwidth=8, padding=3))
    POD ID   STATE
    0123     Ready
    """
    widths: list[int] = []
    for row in rows:
        for i, cell in enumerate(row[:-1]):
            if i == len(widths):
                widths.append(minwidth)
            widths[i] = max(widths[i], len(cell) + padding)
    return "\n".join("".join(c.ljust(w) for c, w in zip(row[:-1], widths)) + row[-1] for row in rows)


def format_kubectl(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Columns as kubectl prints them (Go tabwriter: min width 6, padding 3)."""
    return format_tabwriter([list(headers), *rows], minwidth=6, padding=3)
