"""Each proxy mode, built for one node: its engine, its printed forms, its extras.

:func:`engine_for` is the one place that knows which module implements which mode.

Example:
    >>> from netlab.kubeproxy.api import ProxyConfig
    >>> built = engine_for("iptables", [], [], ProxyConfig(node_name="n", node_ips=["10.224.0.4"]))
    >>> built.hook_names("OUTPUT")
    ('nat OUTPUT', 'filter OUTPUT')
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import NotFoundError, did_you_mean
from ..netfilter import Address, IPSet, Rule
from . import iptables
from .api import EndpointSlice, ProxyConfig, Service, check_mode
from .engine import HOOK_TABLES, Engine, IptablesEngine


@dataclass(frozen=True)
class BuiltMode:
    """A proxy mode set up on one node.

    Attributes:
        mode: the mode's name.
        engine: what the node does to a packet at each hook.
        rules: the iptables rules in the kernel (all modes but nftables keep some).
        ipsets: ipsets the rules match against (IPVS mode).
        local_addresses: extra addresses local to the node (IPVS binds Service VIPs to kube-ipvs0).
        extra: mode-specific data (the IPVS virtual servers, the nft table, the proxy ports).
    """

    mode: str
    engine: Engine
    rules: tuple[Rule, ...] = ()
    ipsets: tuple[IPSet, ...] = ()
    local_addresses: tuple[Address, ...] = ()
    extra: Any = None
    hooks: dict = field(default_factory=lambda: {h: tuple(f"{t} {c}" for t, c in tc) for h, tc in HOOK_TABLES.items()})

    def hook_names(self, hook: str) -> tuple[str, ...]:
        """The tables (or base chains) a hook walks, for reports."""
        return self.hooks.get(hook, (hook,))

    def affinity_entries(self, source: Address, affinity: Iterable[str]) -> frozenset:
        """The ``-m recent`` entries a client with ClientIP affinity to these endpoints has."""
        sep_by_endpoint: dict[str, list[str]] = {}
        for rule in self.rules:
            if rule.table == "nat" and rule.target == "DNAT" and rule.chain.startswith("KUBE-SEP-"):
                sep_by_endpoint.setdefault(rule.target_args[-1], []).append(rule.chain)
        entries = set()
        for endpoint in affinity:
            if endpoint not in sep_by_endpoint:
                raise NotFoundError(
                    f"affinity endpoint {endpoint!r} is not an endpoint of any Service on this node; "
                    f"give one as 'IP:port' from flow.endpoints" + did_you_mean(endpoint, sep_by_endpoint)
                )
            entries.update((chain, source) for chain in sep_by_endpoint[endpoint])
        return frozenset(entries)

    def proxy_endpoint(self, passed: Any) -> str | None:
        """Userspace mode: the backend the kube-proxy process connects to for this branch."""
        return getattr(passed.hooks[-1][1], "note", None) or None


def engine_for(
    mode: str,
    services: Iterable[Mapping[str, Any] | Service],
    slices: Iterable[Mapping[str, Any] | EndpointSlice],
    cfg: ProxyConfig,
) -> BuiltMode:
    """Build ``mode`` for the node ``cfg`` describes."""
    check_mode(mode)
    if mode == "iptables":
        sync = iptables.build(services, slices, cfg)
        return BuiltMode("iptables", IptablesEngine(sync.rules), sync.rules, extra=sync)
    elif mode == "nftables":
        # No iptables rules; hooks map to the kube-proxy table's base chains, e.g.
        # {"PREROUTING": ("nft filter-prerouting-pre-dnat", "nft nat-prerouting"), ...}.
        from .nftables import built_mode

        return built_mode(services, slices, cfg)
    elif mode == "ipvs":
        from . import ipvs  # imported here: ipvs builds on BuiltMode

        return ipvs.built_mode(services, slices, cfg)
    elif mode == "userspace":
        from . import userspace

        return userspace.built_mode(services, slices, cfg)
    raise AssertionError(mode)  # pragma: no cover - check_mode lists the modes
