"""The registry of kube-proxy's modes: one record per :class:`~netlab.model.ProxyMode`.

A record says which module implements the mode and, by name, what that module offers: how
to build one node's sync, how to set the mode up as an engine, its printed forms (the first
is the default), the node views it answers (by the command a learner types) and how its
ClientIP affinity is held. :func:`netlab.kubeproxy.render`, :func:`netlab.kubeproxy.rules`,
the node views of :class:`netlab.Cluster` (and so ``cluster.run``) and :mod:`netlab.linux`
all look modes up here, and a mode's module is imported only when the mode is first used.
Adding a mode means one module (``build``, ``built_mode`` and its printers) and one record.

:class:`BuiltMode` is a mode set up on one node: its engine, the iptables rules it keeps, and
the affinity entries a client holds.

Example:
    >>> from netlab.kubeproxy.api import ProxyConfig
    >>> built = engine_for("iptables", [], [], ProxyConfig(node_name="n", node_ips=["10.224.0.4"]))
    >>> built.hook_names("OUTPUT")
    ('nat OUTPUT', 'filter OUTPUT')
    >>> tuple(record("ipvs").forms)
    ('ipvsadm', 'ipset', 'iptables', 'restore')
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from ..errors import ConfigError, NotFoundError, did_you_mean
from ..model.types import ProxyMode
from ..model.netfilter import Address, IPSet, Rule
from .api import EndpointSlice, ProxyConfig, Service
from .engine import HOOK_TABLES, Engine


@dataclass(frozen=True)
class Printer:
    """One printed form of a mode: the module's function and what it prints."""

    function: str
    shows: str
    with_jumps: bool = False  # the function takes with_jumps= (iptables-restore input)


@dataclass(frozen=True)
class View:
    """A node view only one mode has: the form that prints it, the tool as a message names
    it, and the command a learner types for it (``cluster.run``), if it has one of its own."""

    form: str
    tool: str
    command: str | None = None


@dataclass(frozen=True)
class ModeRecord:
    """What netlab knows of one proxy mode, by name, so nothing is imported until it is used.

    Attributes:
        mode: the mode.
        module: the module that implements it (``build``, ``built_mode`` and the printers).
        forms: printer by form name, the default first.
        views: node view (the :class:`netlab.cluster.NodeView` method, which ``cluster.run`` calls
            for the view's command) -> :class:`View`.
        iptables_save: the module's ``iptables-save`` printer (taking the node's own rules as
            ``extra_rules``): what the command prints on a node in this mode.
        iptables_rules: whether the mode writes iptables rules of its own (nftables mode does not).
        nft_input: the form that is the ``nft -f`` input, for modes that write nftables.
        kernel_tools: the commands (by package) :mod:`netlab.linux` needs to load the mode into a
            kernel, beyond iproute2's and iptables'.
        not_realised: why :mod:`netlab.linux` does not load the mode into a kernel, or ``None``
            when it does; :func:`netlab.linux.kernel_support` may add what this kernel lacks
            (its entry of the mode's name).
    """

    mode: ProxyMode
    module: str
    forms: Mapping[str, Printer]
    views: Mapping[str, View] = field(default_factory=dict)
    iptables_save: str = "render_save"
    iptables_rules: bool = True
    nft_input: str | None = None
    kernel_tools: Mapping[str, str] = field(default_factory=dict)
    not_realised: str | None = None

    @property
    def name(self) -> str:
        return self.mode.value

    def load(self) -> ModuleType:
        return importlib.import_module(self.module)

    def build(self, services: Iterable[Mapping[str, Any] | Service],
              slices: Iterable[Mapping[str, Any] | EndpointSlice], cfg: ProxyConfig) -> Any:
        """One node's sync: the mode's rules and tables as data."""
        return self.load().build(services, slices, cfg)

    def built(self, services: Iterable[Mapping[str, Any] | Service],
              slices: Iterable[Mapping[str, Any] | EndpointSlice], cfg: ProxyConfig) -> "BuiltMode":
        """The mode set up on one node, as an engine."""
        return self.load().built_mode(services, slices, cfg)

    def check_form(self, form: str | None) -> str:
        """``form``, or the default form for ``None``; a :class:`ConfigError` listing the forms otherwise."""
        form = form or next(iter(self.forms))
        if form not in self.forms:
            shown = ", ".join(f"{f!r} ({p.shows})" for f, p in self.forms.items())
            raise ConfigError(f"{self.name} mode prints form {shown}; not {form!r}."
                              + did_you_mean(str(form), self.forms))
        return form

    def render(self, sync: Any, form: str | None = None, with_jumps: bool = True) -> str:
        """``sync`` printed in ``form`` (the default form if ``None``)."""
        form = self.check_form(form)
        printer = self.forms[form]
        function = getattr(self.load(), printer.function)
        return function(sync, with_jumps=with_jumps) if printer.with_jumps else function(sync)

    def save(self, sync: Any, extra_rules: tuple[Rule, ...]) -> str:
        """What ``iptables-save`` prints on a node in this mode: the mode's rules (if it keeps any)
        with the node's own (``extra_rules``)."""
        return getattr(self.load(), self.iptables_save)(sync, extra_rules=extra_rules)


_IPTABLES_RESTORE = "the iptables-restore input kube-proxy writes"

#: The modes, in the order errors and menus list them.
MODES: dict[str, ModeRecord] = {
    "iptables": ModeRecord(
        ProxyMode.IPTABLES, "netlab.kubeproxy.iptables",
        {"restore": Printer("render_restore", _IPTABLES_RESTORE, with_jumps=True),
         "save": Printer("render_save", "what iptables-save prints")}),
    "nftables": ModeRecord(
        ProxyMode.NFTABLES, "netlab.kubeproxy.nftables",
        {"transaction": Printer("render_transaction", "the nft -f input kube-proxy writes"),
         "list": Printer("render_list", "what nft list table prints")},
        views={"nft_list": View("list", "nft list table ip kube-proxy", "nft list table ip kube-proxy")},
        iptables_save="render_iptables_save", iptables_rules=False, nft_input="transaction", kernel_tools={"nft": "nftables"}),
    "ipvs": ModeRecord(
        ProxyMode.IPVS, "netlab.kubeproxy.ipvs",
        {"ipvsadm": Printer("render_ipvsadm", "ipvsadm -Ln"),
         "ipset": Printer("render_ipset", "ipset save"),
         "iptables": Printer("render_save", "iptables-save"),
         "restore": Printer("render_restore", _IPTABLES_RESTORE, with_jumps=True)},
        views={"ipvsadm": View("ipvsadm", "ipvsadm -Ln", "ipvsadm -Ln"),
               "ipset_list": View("ipset", "ipset", "ipset list")},
        not_realised="IPVS mode is not realised: netlab models it (ipvsadm -Ln, ipset, its iptables rules) but does "
                     "not load it into a kernel"),
    "userspace": ModeRecord(
        ProxyMode.USERSPACE, "netlab.kubeproxy.userspace",
        {"iptables": Printer("render_save", "iptables-save of its chains"),
         "proxy": Printer("render_proxy", "its proxy sockets")},
        # Its proxy sockets have no command of their own: 'ss -ltunp' lists them with every other listening socket.
        views={"kube_proxy_ports": View("proxy", "kube-proxy's proxy ports")},
        not_realised="userspace mode is not realised: kube-proxy removed it in Kubernetes 1.26"),
}

PROXY_MODES: tuple[str, ...] = tuple(MODES)


def check_mode(mode: str) -> str:
    """Check a proxy mode name and return it.

    Example:
        >>> check_mode("iptables")
        'iptables'
    """
    if isinstance(mode, ProxyMode):
        return mode.value
    if not isinstance(mode, str):
        raise ConfigError(f"the proxy mode is a name such as 'iptables', not {mode!r}")
    if mode in MODES:
        return mode
    raise ConfigError(
        f"kube-proxy has no proxy mode {mode!r}; netlab renders {', '.join(repr(m) for m in PROXY_MODES)}"
        + did_you_mean(str(mode), PROXY_MODES)
    )


def record(mode: "str | ProxyMode") -> ModeRecord:
    """The registry's record of ``mode`` (a name or a :class:`~netlab.model.ProxyMode`)."""
    return MODES[check_mode(mode)]


def mode_with_view(view: str) -> ModeRecord:
    """The mode whose nodes answer the node view ``view`` (for "not in this mode" messages)."""
    return next(r for r in MODES.values() if view in r.views)


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
        dummy_device: the dummy interface the mode adds to the node to hold ``local_addresses``
            (IPVS: ``kube-ipvs0``), or ``None``.
        sysctls: the kernel settings kube-proxy sets on the node in this mode (iptables mode:
            ``net.ipv4.conf.all.route_localnet=1`` while NodePorts answer on 127.0.0.1).
    """

    mode: str
    engine: Engine
    rules: tuple[Rule, ...] = ()
    ipsets: tuple[IPSet, ...] = ()
    local_addresses: tuple[Address, ...] = ()
    extra: Any = None
    hooks: dict = field(default_factory=lambda: {h: tuple(f"{t} {c}" for t, c in tc) for h, tc in HOOK_TABLES.items()})
    dummy_device: str | None = None
    sysctls: Mapping[str, str] = field(default_factory=dict)

    def listening(self) -> tuple[tuple[str, str, int], ...]:
        """``(protocol, address, port)`` of the sockets kube-proxy's process listens on (userspace mode's
        proxy ports; none in the modes where the kernel forwards)."""
        return ()

    def hook_names(self, hook: str) -> tuple[str, ...]:
        """The tables (or base chains) a hook walks, for reports."""
        return self.hooks.get(hook, (hook,))

    # What a client with ClientIP affinity holds differs by mode (iptables: ``-m recent`` entries of
    # the endpoint's KUBE-SEP chains; nftables: affinity-set entries; IPVS: persistence templates;
    # userspace: the proxier's table). A mode says, per endpoint, which entries; the checking is here.
    affinity_holder = "an endpoint of any Service on this node"
    affinity_source_of_names = "flow.endpoints"

    def affinity_keys(self) -> Mapping[str, tuple[str, ...]]:
        """Endpoint ``IP:port`` -> the names of the affinity entries kept for it (iptables mode:
        the ``KUBE-SEP-...`` chains whose ``-m recent`` lists hold the client)."""
        chains: dict[str, list[str]] = {}
        for rule in self.rules:
            if rule.table == "nat" and rule.target == "DNAT" and rule.chain.startswith("KUBE-SEP-"):
                chains.setdefault(rule.target_args[-1], []).append(rule.chain)
        return {endpoint: tuple(names) for endpoint, names in chains.items()}

    def affinity_client(self, source: Address) -> Any:
        return source

    def affinity_entries(self, source: Address, affinity: Iterable[str]) -> frozenset:
        """The entries a client with ClientIP affinity to these endpoints holds."""
        keys = self.affinity_keys()
        entries = set()
        for endpoint in affinity:
            if endpoint not in keys:
                raise NotFoundError(
                    f"affinity endpoint {endpoint!r} is not {self.affinity_holder}; give one as 'IP:port' from "
                    f"{self.affinity_source_of_names}." + did_you_mean(endpoint, keys)
                )
            entries.update((name, self.affinity_client(source)) for name in keys[endpoint])
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
    return record(mode).built(services, slices, cfg)
