"""What each proxy mode costs as a cluster grows: lines written per sync, rules a packet meets.

Nothing here is a formula typed in. :func:`proxy_cost` builds ``services`` Services with
``endpoints`` endpoints each, renders them with the mode's own renderer and counts the
lines kube-proxy writes, then sends a packet from a pod to the first, the middle and the
last Service through the mode's own engine and counts the rules (or lookups) it tested.

**Two kinds of sync.** A *full* sync (at start, after a failure, and in iptables mode when
the canary chain disappears) writes everything. Most syncs follow one small change, such as
a pod of one Service being replaced, and what that costs differs by mode.
:func:`sync_text` prints both in the mode's own input format, and :attr:`ProxyCost.update_written`
counts the second one. netlab renders the rules before and after one endpoint of the middle
Service is replaced by a new address, and filters and diffs those texts as follows:

* **iptables mode** (``pkg/proxy/iptables/proxier.go``, partial restores from KEP-3453
  "Minimizing iptables-restore input size": alpha 1.26, beta 1.27, GA 1.28). A partial
  ``iptables-restore`` still rewrites the whole ``filter`` table and the top-level ``nat``
  chains (``KUBE-SERVICES``, ``KUBE-NODEPORTS``, ``KUBE-POSTROUTING``, ``KUBE-MARK-MASQ``), so
  it holds one ``KUBE-SERVICES`` rule for *every* Service. Of the per-Service chains
  (``KUBE-SVC-``, ``KUBE-SVL-``, ``KUBE-EXT-``, ``KUBE-FW-``, ``KUBE-SEP-``) only the changed
  Service's are written; upstream writes the others' chain lines and rules to a discard
  buffer ("If the SVC/SVL/EXT/FW/SEP chains have not changed since the last sync then we can
  omit them from the restore input"). A chain that is no longer used is flushed and deleted
  (``:CHAIN`` and ``-X CHAIN``; in large clusters at most once per sync period). So the update
  still grows by one line per Service.
* **nftables mode** (``pkg/proxy/nftables/proxier.go``; KEP-3866, GA 1.33). A partial sync
  skips the base chains and the unchanged Services (``skipServiceUpdate``); for the changed
  Service it re-creates and flushes its chains (``ensureChain``) and writes their rules. Map and
  set elements are written only when they are new or their verdict changed, and leftovers are
  deleted (``nftElementStorage.ensureElem``, ``cleanupLeftoverKeys``). A stale endpoint chain
  is flushed, and deleted a second later in its own transaction. No line depends on how many
  other Services there are.
* **IPVS mode** (``pkg/proxy/ipvs/proxier.go``). ``syncService`` and ``syncEndpoint`` change
  only the virtual servers and real servers that differ (netlink calls; shown here in
  ``ipvsadm-save -n`` syntax), and ``syncIPSetEntries`` adds and deletes only the set entries
  that differ. The iptables rules are restored on every sync, but IPVS mode has a fixed
  handful of them (they match ipsets), whatever the number of Services.
* **userspace mode** (removed in 1.26): endpoints lived in kube-proxy's own memory; an
  endpoint change writes nothing to the kernel.

Counting is the same for every mode and for both kinds of sync: every line of the input
except table headers, chain declarations, ``COMMIT`` and comments (:func:`written_lines`).

What a first packet costs:

* iptables mode: ``KUBE-SERVICES`` holds one rule per Service port and a packet tests them in
  order, so the cost grows linearly with the number of Services.
* nftables mode: a verdict map finds the Service in one lookup whatever the size.
* IPVS mode: ipset and IPVS hash tables: one lookup each.

Published figures (see :data:`PUBLISHED`) give the real-world scale of the iptables cost.

Example:
    >>> small, large = proxy_cost("iptables", 10, 3), proxy_cost("iptables", 100, 3)
    >>> large.worst_traversed - small.worst_traversed  # 90 more Services: 90 more rules in KUBE-SERVICES
    90
    >>> large.update_written - small.update_written  # and 90 more KUBE-SERVICES lines in every update
    90
    >>> proxy_cost("nftables", 100, 3).update_written == proxy_cost("nftables", 10, 3).update_written
    True

Taught in ``notebooks/08-kube-proxy-modes.ipynb``.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from functools import lru_cache

from ..errors import ConfigError
from ..text.formats import ToolText
from ..model.netfilter import Context, Packet
from .api import ProxyConfig, parse_endpoint_slice, parse_service
from .modes import check_mode, engine_for, record

#: Published measurements, with their source and whether netlab's sources confirm them.
PUBLISHED = (
    ("KEP-3453 (minimize iptables-restore), 5,000-node scale test: p50 network-programming latency "
     "went from about 27 s to about 13 s with partial restores, and to about 5 s once "
     "--iptables-min-sync-period dropped from 10 s to 1 s", "kubernetes/enhancements keps/sig-network/3453", True),
    ("KEP-3866 (nftables kube-proxy): iptables' control plane re-reads and re-uploads the whole ruleset on "
     "every change, and its data plane cost is O(n) in Services; nftables' verdict-map dispatch is about O(1)",
     "kubernetes/enhancements keps/sig-network/3866", True),
    ("KubeCon EU 2017, 'Scale Kubernetes to Support 50,000 Services' (Huawei): often quoted as about 11 minutes "
     "to update rules for 5,000 Services (40,000 rules) and about 5 hours for 20,000 Services, versus about "
     "2 ms with IPVS", "slides at slideshare (numbers not retrievable; unverified)", False),
)

#: The node the counts are made on, and its kube-proxy settings.
_CFG = ProxyConfig(node_name="node-0", node_ips=["10.224.0.4"], cluster_cidr="10.244.0.0/16")
_NAMESPACE = "bench"
#: The address the replaced endpoint comes back with (outside the range the benchmark's endpoints use).
_NEW_ENDPOINT = "10.244.250.2"
#: iptables mode's per-Service chains; every other chain is rewritten on every sync.
_SERVICE_CHAINS = ("KUBE-SVC-", "KUBE-SVL-", "KUBE-EXT-", "KUBE-FW-", "KUBE-SEP-")
_NFT_SERVICE_CHAINS = ("service-", "external-", "firewall-", "endpoint-")


@dataclass(frozen=True, slots=True)
class ProxyCost:
    """One mode at one size.

    Attributes:
        mode, services, endpoints_per_service: what was built.
        rules_written: lines a full sync writes (rules, map and set elements, virtual and real servers).
        rules_traversed: average rules or lookups tested by the first packet to a Service.
        worst_traversed: the same for the last Service written.
        update_written: lines written when one endpoint of one Service changes (a partial sync),
            counted as ``rules_written`` is (:func:`sync_text` with ``update=True``).
    """

    mode: str
    services: int
    endpoints_per_service: int
    rules_written: int
    rules_traversed: float
    worst_traversed: int
    update_written: int


def _endpoint_ip(i: int, k: int, endpoints: int) -> str:
    n = i * endpoints + k
    base = int(ipaddress.IPv4Address("10.244.0.0"))
    return str(ipaddress.IPv4Address(base + 256 * (1 + n % 200) + 2 + n // 200 % 250))


def _objects(services: int, endpoints: int, moved: int | None = None) -> tuple[list[dict], list[dict]]:
    """The benchmark's Services and EndpointSlices; ``moved``: the Service whose last endpoint was replaced."""
    svcs, slices = [], []
    base = int(ipaddress.IPv4Address("10.0.1.1"))
    for i in range(services):
        name = f"svc-{i:05d}"
        svcs.append({"metadata": {"name": name, "namespace": _NAMESPACE},
                     "spec": {"clusterIP": str(ipaddress.IPv4Address(base + i)), "ports": [{"port": 80}]}})
        addresses = [_endpoint_ip(i, k, endpoints) for k in range(endpoints)]
        if i == moved:
            addresses[-1] = _NEW_ENDPOINT
        slices.append({
            "metadata": {"name": f"{name}-abcde", "namespace": _NAMESPACE,
                         "labels": {"kubernetes.io/service-name": name}},
            "addressType": "IPv4", "ports": [{"name": "", "port": 8080, "protocol": "TCP"}],
            "endpoints": [{"addresses": [a], "nodeName": f"node-{k % 3}"} for k, a in enumerate(addresses)],
        })
    return svcs, slices


@lru_cache(maxsize=8)
def _parsed(services: int, endpoints: int, moved: int | None = None) -> tuple[tuple, tuple]:
    """The benchmark's objects, parsed once (renderers and engines accept parsed objects)."""
    svcs, slices = _objects(services, endpoints, moved)
    return tuple(parse_service(s) for s in svcs), tuple(parse_endpoint_slice(e) for e in slices)


@lru_cache(maxsize=4)
def _built(mode: str, services: int, endpoints: int, moved: int | None = None):
    """The mode built for the benchmark's node: its engine (for packets) and its sync (``extra``, for text)."""

    return engine_for(mode, *_parsed(services, endpoints, moved), _CFG)


@lru_cache(maxsize=12)  # texts of 2,000 Services run to megabytes: keep a few
def _render(mode: str, form: str, services: int, endpoints: int, moved: int | None = None) -> str:
    """The mode's text for the benchmark (``moved``: after that Service's last endpoint was replaced)."""

    return record(mode).render(_built(mode, services, endpoints, moved).extra, form, with_jumps=False)


def _check(mode: str, services: int, endpoints: int) -> None:
    check_mode(mode)
    if not isinstance(services, int) or isinstance(services, bool) or services < 1 or services > 50_000:
        raise ConfigError(f"services={services!r}: give a whole number from 1 to 50,000")
    if not isinstance(endpoints, int) or isinstance(endpoints, bool) or endpoints < 1 or endpoints > 1000:
        raise ConfigError(f"endpoints={endpoints!r}: give a whole number from 1 to 1,000")


def written_lines(text: str) -> int:
    """Lines of a sync's input that write something: not table headers (``*nat``), chain
    declarations (``:KUBE-SERVICES - [0:0]``), ``COMMIT``, comments or blank lines.

    >>> written_lines("*nat\\n:KUBE-SERVICES - [0:0]\\n-A KUBE-SERVICES -j RETURN\\nCOMMIT\\n# note\\n")
    1
    """
    return sum(1 for line in text.splitlines()
               if line.strip() and not line.lstrip().startswith(("#", "*", ":", "COMMIT")))


# ------------------------------------------------------------------------------ iptables mode
def _restore_tables(text: str) -> list[tuple[str, list[str], list[str]]]:
    """``iptables-restore`` input as (table, chain lines, rule lines)."""
    tables: list[tuple[str, list[str], list[str]]] = []
    for line in text.splitlines():
        if line.startswith("*"):
            tables.append((line[1:], [], []))
        elif line.startswith(":"):
            tables[-1][1].append(line)
        elif line.startswith(("-A ", "-X ")):
            tables[-1][2].append(line)
    return tables


def _chain(line: str) -> str:
    return line.split()[1]


def _iptables_service_chains(rules: list[str], service: str) -> set[str]:
    """The per-Service chains of ``service`` (``ns/name``): the targets of its top-level rules, followed down."""
    mention = re.compile(re.escape(service) + r'[ :"]|' + re.escape(service) + "$")
    by_chain: dict[str, list[str]] = {}
    for r in rules:
        by_chain.setdefault(_chain(r), []).append(r)
    todo = [t for r in rules if not _chain(r).startswith(_SERVICE_CHAINS) and mention.search(r)
            for t in re.findall(r"-j (KUBE-\S+)", r) if t.startswith(_SERVICE_CHAINS)]
    found: set[str] = set()
    while todo:
        c = todo.pop()
        if c in found:
            continue
        found.add(c)
        todo += [t for r in by_chain.get(c, ()) for t in re.findall(r"-j (KUBE-\S+)", r) if t.startswith(_SERVICE_CHAINS)]
    return found


def _iptables_update(before: str, after: str, service: str) -> str:
    out = [f"# iptables-restore --noflush --counters: a partial sync after {service}'s endpoints changed (KEP-3453)"]
    old_chains = {t: {c.split()[0][1:] for c in chains} for t, chains, _ in _restore_tables(before)}
    for table, chains, rules in _restore_tables(after):
        mine = _iptables_service_chains(rules, service)
        declared = {c.split()[0][1:] for c in chains}
        stale = sorted(c for c in old_chains.get(table, ()) - declared if c.startswith(_SERVICE_CHAINS))
        out.append(f"*{table}")
        out += [c for c in chains if not c[1:].split()[0].startswith(_SERVICE_CHAINS) or c[1:].split()[0] in mine]
        out += [f":{c} - [0:0]" for c in stale]
        kept = [r for r in rules if not _chain(r).startswith(_SERVICE_CHAINS) or _chain(r) in mine]
        deletes = [f"-X {c}" for c in stale]
        if kept and "kubernetes service nodeports" in kept[-1]:  # upstream deletes stale chains before this last rule
            out += kept[:-1] + deletes + kept[-1:]
        else:
            out += kept + deletes
        out.append("COMMIT")
    return "\n".join(out) + "\n"


# ------------------------------------------------------------------------------ nftables mode
def _nft_object(line: str) -> str:
    """The chain, set or map an ``nft`` command names (``add rule ip kube-proxy CHAIN ...``)."""
    parts = line.split()
    return parts[4] if len(parts) > 4 else ""


def _nft_element(line: str) -> tuple[str, str]:
    """(set or map, key) of an ``add element`` line."""
    body = line.split("{", 1)[1].rsplit("}", 1)[0]
    return _nft_object(line), body.split(" : ")[0].strip()


def _nft_update(before: str, after: str, service: str) -> str:
    marker = f"-{service}/"
    out = [f"# nft -f -: the transaction of a partial sync after {service}'s endpoints changed"]
    old_lines = before.splitlines()
    old_elements = {line for line in old_lines if line.startswith("add element ")}
    new_elements = {line for line in after.splitlines() if line.startswith("add element ")}
    new_keys = {_nft_element(line) for line in new_elements}
    for line in after.splitlines():
        obj = _nft_object(line)
        if line.startswith(("add chain ", "flush chain ", "add rule ")) and obj.startswith(_NFT_SERVICE_CHAINS) \
                and marker in obj:
            out.append(line)
        elif line in new_elements and line not in old_elements:  # ensureElem: new, or its verdict changed
            out.append(line)
    for line in sorted(old_elements - new_elements):
        where, key = _nft_element(line)
        if (where, key) not in new_keys:  # cleanupLeftoverKeys
            out.append(f"delete element ip kube-proxy {where} {{ {key} }}")
    new_chains = {_nft_object(line) for line in after.splitlines() if line.startswith("add chain ")}
    stale = sorted({_nft_object(line) for line in old_lines if line.startswith("add chain ")} - new_chains)
    out += [f"flush chain ip kube-proxy {c}" for c in stale]
    if stale:
        out.append("# a second later, in a transaction of its own (kernels before 6.2 need the delay):")
        out += [f"delete chain ip kube-proxy {c}" for c in stale]
    return "\n".join(out) + "\n"


# ------------------------------------------------------------------------------ IPVS mode
def _ipvsadm_save(listing: str) -> list[str]:
    """``ipvsadm -Ln`` turned into ``ipvsadm-save -n`` lines: ``-A`` per virtual server, ``-a`` per real server."""
    out, service = [], ""
    for line in listing.splitlines():
        parts = line.split()
        if parts[:1] in (["TCP"], ["UDP"], ["SCTP"]):
            service = f"-{parts[0][0].lower()} {parts[1]}"
            flags = f" -p {parts[parts.index('persistent') + 1]}" if "persistent" in parts else ""
            out.append(f"-A {service} -s {parts[2]}{flags}")
        elif parts[:1] == ["->"] and service and parts[1][0].isdigit():
            out.append(f"-a {service} -r {parts[1]} -m -w {parts[3]}")
    return out


def _ipset_adds(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("add ")]


def _ipvs_full(services: int, endpoints: int) -> str:
    return ("# iptables-restore (IPVS mode's rules, rewritten on every sync)\n"
            + _render("ipvs", "restore", services, endpoints)
            + "# ipset restore: the set entries\n"
            + "\n".join(_ipset_adds(_render("ipvs", "ipset", services, endpoints))) + "\n"
            + "# ipvsadm-restore: virtual and real servers (kube-proxy makes these netlink calls)\n"
            + "\n".join(_ipvsadm_save(_render("ipvs", "ipvsadm", services, endpoints))) + "\n")


def _ipvs_update(services: int, endpoints: int, moved: int, service: str) -> str:
    old_vs, new_vs = (_ipvsadm_save(_render("ipvs", "ipvsadm", services, endpoints, m)) for m in (None, moved))
    old_set, new_set = (_ipset_adds(_render("ipvs", "ipset", services, endpoints, m)) for m in (None, moved))
    out = [f"# a sync after {service}'s endpoints changed", "# iptables-restore: the same fixed rules as every sync",
           _render("ipvs", "restore", services, endpoints, moved).rstrip("\n"),
           "# ipset: only the entries that changed (syncIPSetEntries deletes, then adds)"]
    out += ["del " + line[4:] for line in old_set if line not in new_set]
    out += [line for line in new_set if line not in old_set]
    out.append("# ipvsadm-restore syntax: only the real servers (and virtual servers) that changed (syncEndpoint "
               "adds, then deletes)")
    out += [line for line in new_vs if line not in old_vs]
    removed = [line for line in old_vs if line not in new_vs]
    out += [f"-d {' '.join(line.split()[1:5])}" if line.startswith("-a ") else f"-D {' '.join(line.split()[1:3])}"
            for line in removed]
    return "\n".join(out) + "\n"


# ------------------------------------------------------------------------------ all modes


def _full(mode: str, services: int, endpoints: int) -> str:
    if mode == "ipvs":
        return _ipvs_full(services, endpoints)
    return _render(mode, record(mode).check_form(None), services, endpoints)


def _update(mode: str, services: int, endpoints: int) -> str:
    moved = services // 2
    service = f"{_NAMESPACE}/svc-{moved:05d}"
    if mode == "ipvs":
        return _ipvs_update(services, endpoints, moved, service)
    before, after = (_render(mode, record(mode).check_form(None), services, endpoints, m) for m in (None, moved))
    if mode == "iptables":
        return _iptables_update(before, after, service)
    if mode == "nftables":
        return _nft_update(before, after, service)
    old, new = before.splitlines(), after.splitlines()
    changed = [line for line in new if line not in old] + [line for line in old if line not in new]
    return "\n".join([f"# userspace mode: {service}'s endpoints changed; kube-proxy updates the backends in its "
                      "own memory", *changed]) + "\n"


@lru_cache(maxsize=8)
def _sync_text(mode: str, services: int, endpoints: int, update: bool) -> str:
    if update:
        return _update(mode, services, endpoints)
    return _full(mode, services, endpoints)


def sync_text(mode: str, services: int, endpoints: int = 3, *, update: bool = False) -> str:
    """What kube-proxy writes on one node: a full sync, or (``update=True``) the sync after one
    endpoint of one Service (the middle one) was replaced by a pod at a new address.

    The text is in the mode's own input format: ``iptables-restore`` input, an ``nft -f``
    transaction, or (IPVS) the iptables restore, ``ipset`` lines and ``ipvsadm-save -n``
    lines; ``#`` lines say which is which. :func:`written_lines` counts it.

    Args:
        mode: ``"iptables"``, ``"nftables"``, ``"ipvs"`` or ``"userspace"``.
        services: number of Services (one TCP port each), named ``bench/svc-00000`` onwards.
        endpoints: endpoints per Service, on nodes ``node-0`` (this node), ``node-1``, ``node-2``.
        update: the partial sync after one Service changed instead of a full sync.

    Example:
        >>> print(sync_text("nftables", 100, 2, update=True))  # doctest: +ELLIPSIS
        # nft -f -: the transaction of a partial sync after bench/svc-00050's endpoints changed
        add chain ip kube-proxy endpoint-BILUSYTQ-bench/svc-00050/tcp/__10.244.101.2/8080
        ...
        flush chain ip kube-proxy endpoint-U33FVUYP-bench/svc-00050/tcp/__10.244.102.2/8080
        # a second later, in a transaction of its own (kernels before 6.2 need the delay):
        delete chain ip kube-proxy endpoint-U33FVUYP-bench/svc-00050/tcp/__10.244.102.2/8080
        >>> print(sync_text("ipvs", 100, 2, update=True).splitlines()[-2:])
        ['-a -t 10.0.1.51:80 -r 10.244.250.2:8080 -m -w 1', '-d -t 10.0.1.51:80 -r 10.244.102.2:8080']
    """
    _check(mode, services, endpoints)
    return ToolText(_sync_text(mode, services, endpoints, bool(update)).rstrip("\n"))


@lru_cache(maxsize=64)
def proxy_cost(mode: str, services: int, endpoints: int = 3) -> ProxyCost:
    """Build ``services`` Services x ``endpoints`` endpoints in ``mode`` and count.

    Args:
        mode: ``"iptables"``, ``"ipvs"``, ``"nftables"`` or ``"userspace"`` (as far as netlab renders it).
        services: number of Services (one TCP port each).
        endpoints: endpoints per Service.
    """
    _check(mode, services, endpoints)
    svcs, _ = _parsed(services, endpoints)
    written = written_lines(_sync_text(mode, services, endpoints, False))
    update = written_lines(_sync_text(mode, services, endpoints, True))
    built = _built(mode, services, endpoints)
    ctx = Context.for_node(_CFG.node_ips, extra_local=built.local_addresses, ipsets=built.ipsets)
    costs = []
    for i in sorted({0, services // 2, services - 1}):
        pkt = Packet("10.244.9.9", str(svcs[i].cluster_ips[0]), 40000, 80, "tcp")
        steps = built.engine.run("PREROUTING", pkt, ctx)
        tested = [max(s.examined, len(s.lines)) for s in steps]
        if mode in ("ipvs", "userspace"):  # these decide after the routing decision, at INPUT
            local = dataclass_replace(pkt)
            tested = [t + max(s.examined, len(s.lines)) for t, s in zip(tested, built.engine.run("INPUT", local, ctx))]
        costs.append(max(tested))
    return ProxyCost(mode, services, endpoints, written, sum(costs) / len(costs), costs[-1], update)


def dataclass_replace(pkt: Packet) -> Packet:
    return Packet(pkt.src, pkt.dst, pkt.sport, pkt.dport, pkt.proto)


def cost_table(modes: tuple[str, ...] = ("iptables",), sizes: tuple[int, ...] = (10, 100, 1000),
               endpoints: int = 3) -> list[ProxyCost]:
    """:func:`proxy_cost` for every mode and size (for a plot or a table)."""
    return [proxy_cost(m, n, endpoints) for m in modes for n in sizes]
