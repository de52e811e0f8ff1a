"""What each proxy mode costs as a cluster grows: rules written per sync, rules a packet meets.

Nothing here is a formula typed in: :func:`proxy_cost` builds ``services`` Services with
``endpoints`` endpoints each, renders them with the mode's own renderer and counts
what it wrote, then sends a packet from a pod to the first, the middle and the last
Service through the mode's own engine and counts the rules (or lookups) it tested.

* iptables mode: ``KUBE-SERVICES`` holds one rule per Service port and a packet tests
  them in order, so the cost grows linearly with the number of Services; every sync
  rewrites the whole ruleset (KEP-3453 made most syncs partial from 1.28).
* nftables mode: a verdict map finds the Service in one lookup whatever the size.
* IPVS mode: ipset and IPVS hash tables: one lookup each.

Published figures (see :data:`PUBLISHED`) give the real-world scale of the iptables cost.

Example:
    >>> small, large = proxy_cost("iptables", 10, 3), proxy_cost("iptables", 100, 3)
    >>> large.worst_traversed - small.worst_traversed  # 90 more Services: 90 more rules in KUBE-SERVICES
    90
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from functools import lru_cache

from ..errors import ConfigError
from ..netfilter import Context, Packet
from .api import ProxyConfig, check_mode

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


@dataclass(frozen=True, slots=True)
class ProxyCost:
    """One mode at one size."""

    mode: str
    services: int
    endpoints_per_service: int
    rules_written: int  # lines of the sync's output: rules, map/set elements, virtual and real servers
    rules_traversed: float  # average rules or lookups tested by the first packet to a Service
    worst_traversed: int  # the same for the last Service written


def _objects(services: int, endpoints: int) -> tuple[list[dict], list[dict]]:
    svcs, slices = [], []
    base = int(ipaddress.IPv4Address("10.0.1.1"))
    for i in range(services):
        name = f"svc-{i:05d}"
        svcs.append({"metadata": {"name": name, "namespace": "bench"},
                     "spec": {"clusterIP": str(ipaddress.IPv4Address(base + i)), "ports": [{"port": 80}]}})
        slices.append({
            "metadata": {"name": f"{name}-abcde", "namespace": "bench",
                         "labels": {"kubernetes.io/service-name": name}},
            "addressType": "IPv4", "ports": [{"name": "", "port": 8080, "protocol": "TCP"}],
            "endpoints": [{"addresses": [str(ipaddress.IPv4Address(int(ipaddress.IPv4Address("10.244.0.0"))
                                                                     + 256 * (1 + (i * endpoints + k) % 200) + 2 +
                                                                     (i * endpoints + k) // 200 % 250))],
                           "nodeName": f"node-{k % 3}"} for k in range(endpoints)],
        })
    return svcs, slices


@lru_cache(maxsize=64)
def proxy_cost(mode: str, services: int, endpoints: int = 3) -> ProxyCost:
    """Build ``services`` Services x ``endpoints`` endpoints in ``mode`` and count.

    Args:
        mode: ``"iptables"``, ``"ipvs"``, ``"nftables"`` or ``"userspace"`` (as far as netlab renders it).
        services: number of Services (one TCP port each).
        endpoints: endpoints per Service.
    """
    check_mode(mode)
    if not isinstance(services, int) or services < 1 or services > 50_000:
        raise ConfigError(f"services={services!r}: give a whole number from 1 to 50,000")
    if not isinstance(endpoints, int) or endpoints < 1 or endpoints > 1000:
        raise ConfigError(f"endpoints={endpoints!r}: give a whole number from 1 to 1,000")
    from . import render
    from .modes import engine_for

    svcs, slices = _objects(services, endpoints)
    cfg = ProxyConfig(node_name="node-0", node_ips=["10.224.0.4"], cluster_cidr="10.244.0.0/16")
    text = render(mode, svcs, slices, cfg)
    written = sum(1 for line in text.splitlines() if line.strip() and not line.lstrip().startswith(("#", "*", ":",
                                                                                                   "COMMIT")))
    built = engine_for(mode, svcs, slices, cfg)
    ctx = Context.for_node(cfg.node_ips, extra_local=built.local_addresses, ipsets=built.ipsets)
    costs = []
    for i in sorted({0, services // 2, services - 1}):
        pkt = Packet("10.244.9.9", svcs[i]["spec"]["clusterIP"], 40000, 80, "tcp")
        steps = built.engine.run("PREROUTING", pkt, ctx)
        tested = [max(s.examined, len(s.lines)) for s in steps]
        if mode in ("ipvs", "userspace"):  # these decide after the routing decision, at INPUT
            local = dataclass_replace(pkt)
            tested = [t + max(s.examined, len(s.lines)) for t, s in zip(tested, built.engine.run("INPUT", local, ctx))]
        costs.append(max(tested))
    return ProxyCost(mode, services, endpoints, written, sum(costs) / len(costs), costs[-1])


def dataclass_replace(pkt: Packet) -> Packet:
    return Packet(pkt.src, pkt.dst, pkt.sport, pkt.dport, pkt.proto)


def cost_table(modes: tuple[str, ...] = ("iptables",), sizes: tuple[int, ...] = (10, 100, 1000),
               endpoints: int = 3) -> list[ProxyCost]:
    """:func:`proxy_cost` for every mode and size (for a plot or a table)."""
    return [proxy_cost(m, n, endpoints) for m in modes for n in sizes]
