"""kube-proxy: from Services and EndpointSlices to the rules it writes on a node.

Give it the Service and EndpointSlice objects exactly as ``kubectl get
svc,endpointslices -A -o json`` shows them (the dicts in ``items``) and the node's
kube-proxy settings, and get back

* :func:`render` - the text kube-proxy feeds to ``iptables-restore`` (``form="restore"``),
  or what ``iptables-save`` prints once it is in the kernel (``form="save"``); in
  nftables mode the ``nft -f`` transaction (``form="transaction"``) or what
  ``nft list table ip kube-proxy`` prints (``form="list"``);
* :func:`rules` - the rule data that text is printed from;
* :func:`trace_flow` - where one packet goes through those very rules.

Modules: :mod:`.modes` is the registry of modes (which module implements each, its printed
forms and node views) and loads a mode's module on first use; :mod:`.api` reads and checks the
objects, :mod:`.naming` owns the chain-name hashing; :mod:`.iptables`, :mod:`.nftables` (on
:mod:`.nft`, nftables as data), :mod:`.ipvs` and :mod:`.userspace` write each mode's rules;
:mod:`.engine` walks a packet through them and :mod:`.flow` traces a flow; :mod:`.cost` counts
what each mode writes and examines. :mod:`netlab.model.netfilter` holds the generic rule types and
the evaluator.

Taught in ``notebooks/07-services.ipynb``.

Example:
    >>> from netlab import kubeproxy as kp
    >>> cfg = kp.ProxyConfig(node_name="node-a", node_ips=["10.224.0.4"], cluster_cidr="10.244.0.0/16")
    >>> svc = {"metadata": {"name": "web", "namespace": "shop"},
    ...        "spec": {"clusterIP": "10.0.0.12", "ports": [{"port": 80}]}}
    >>> eps = {"metadata": {"name": "web-1", "namespace": "shop", "labels": {"kubernetes.io/service-name": "web"}},
    ...        "addressType": "IPv4", "ports": [{"name": "", "port": 8080}],
    ...        "endpoints": [{"addresses": ["10.244.1.9"], "nodeName": "node-b"}]}
    >>> print(kp.render("iptables", [svc], [eps], cfg, with_jumps=False))  # doctest: +ELLIPSIS
    *filter
    ...
    -A KUBE-SERVICES -m comment --comment "shop/web cluster IP" -m tcp -p tcp -d 10.0.0.12 --dport 80 -j KUBE-SVC-...
    ...
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ..model.netfilter import (
    AddrType,
    Comment,
    Conntrack,
    Destination,
    InInterface,
    Mark,
    Match,
    MatchModule,
    NfAcct,
    OutInterface,
    PhysDev,
    PortOption,
    Protocol,
    Recent,
    Rule,
    SetMatch,
    Source,
    Statistic,
)
from . import api, modes, naming
from .api import (
    EndpointSlice,
    ProxyConfig,
    Service,
    ServicePortInfo,
    parse_endpoint_slice,
    parse_objects,
    parse_service,
    service_ports,
)
from .flow import Branch, Flow, FlowVerdict, trace_flow
from .naming import chain_name, endpoint_chain_name, port_proto_hash, service_port_name

__all__ = [
    "AddrType", "Branch", "Comment", "Conntrack", "Destination", "EndpointSlice", "Flow",
    "FlowVerdict", "InInterface", "Mark", "Match", "MatchModule", "NfAcct", "OutInterface",
    "PhysDev", "PortOption", "Protocol", "ProxyConfig", "Recent", "Rule", "Service",
    "ServicePortInfo", "SetMatch", "Source", "Statistic", "api", "chain_name",
    "endpoint_chain_name", "iptables", "ipvs", "naming", "nftables", "parse_endpoint_slice", "parse_objects",
    "parse_service", "port_proto_hash", "render", "rules", "service_port_name", "service_ports",
    "trace_flow", "userspace", "load_rules", "LoadedRules", "RulesParseError", "loaded",
]

#: The mode modules load on first use (``kp.ipvs`` imports :mod:`.ipvs`): the registry in
#: :mod:`.modes` names them, so ``import netlab`` builds no mode it does not use.
_MODE_MODULES = {r.name: r.module for r in modes.MODES.values()}


#: Reading a node's pasted rules (:mod:`.loaded`) loads on first use too.
_LOADED = ("load_rules", "LoadedRules", "RulesParseError", "loaded")


def __getattr__(name: str) -> Any:
    if name in _LOADED:
        import importlib

        module = importlib.import_module(".loaded", __name__)
        return module if name == "loaded" else getattr(module, name)
    if name in _MODE_MODULES:
        import importlib

        return importlib.import_module(_MODE_MODULES[name])
    raise AttributeError(f"module 'netlab.kubeproxy' has no attribute {name!r}")


def rules(
    mode: str,
    services: Iterable[Mapping[str, Any] | Service],
    slices: Iterable[Mapping[str, Any] | EndpointSlice],
    cfg: ProxyConfig,
) -> tuple[Rule, ...]:
    """Return the rules kube-proxy puts in the kernel on this node, as data.

    First the rules added outside the restore (jumps from the built-in chains, in their
    kernel order), then the ``filter`` rules, then the ``nat`` rules, each in the order
    kube-proxy writes them.

    Args:
        mode: the proxy mode; ``"iptables"``, ``"ipvs"`` or ``"userspace"`` (``"nftables"``
            writes no iptables rules: ``()``).
        services: Service dicts or parsed Services.
        slices: EndpointSlice dicts or parsed EndpointSlices.
        cfg: the node's kube-proxy settings.

    Returns:
        A tuple of :class:`~netlab.model.netfilter.Rule`.

    Example:
        >>> from netlab import kubeproxy as kp
        >>> cfg = kp.ProxyConfig(node_name="node-a", node_ips=["10.224.0.4"])
        >>> [r.line for r in kp.rules("iptables", [], [], cfg) if r.chain == "KUBE-MARK-MASQ"]
        ['-A KUBE-MARK-MASQ -j MARK --or-mark 0x00004000']
    """
    rec = modes.record(mode)
    if not rec.iptables_rules:  # nftables mode
        return ()
    return rec.build(services, slices, cfg).rules


def render(
    mode: str,
    services: Iterable[Mapping[str, Any] | Service],
    slices: Iterable[Mapping[str, Any] | EndpointSlice],
    cfg: ProxyConfig,
    form: str | None = None,
    *,
    with_jumps: bool = True,
) -> str:
    """Print kube-proxy's rules for this node.

    Args:
        mode: the proxy mode; ``"iptables"``, ``"nftables"``, ``"ipvs"`` or ``"userspace"``.
        services: Service dicts or parsed Services.
        slices: EndpointSlice dicts or parsed EndpointSlices.
        cfg: the node's kube-proxy settings.
        form: iptables mode: ``"restore"`` (the default): the full-sync input kube-proxy
            feeds to ``iptables-restore``; ``"save"``: what ``iptables-save`` prints back
            from the kernel. nftables mode: ``"transaction"`` (the default): the
            ``nft -f`` input kube-proxy writes through knftables; ``"list"``: what
            ``nft list table ip kube-proxy`` prints. IPVS mode (:mod:`.ipvs`): ``"ipvsadm"``
            (the default): ``ipvsadm -Ln``; ``"ipset"``: ``ipset save``; ``"iptables"``: the
            iptables rules IPVS mode keeps, as ``iptables-save`` prints them; ``"restore"``:
            their ``iptables-restore`` input. userspace mode (:mod:`.userspace`, removed in
            v1.26): ``"iptables"`` (the default): ``iptables-save`` of its chains;
            ``"proxy"``: a table of its proxy sockets.
        with_jumps: restore form only: also list, as ``#`` comments, the jump rules
            kube-proxy adds outside the restore (see :mod:`.iptables`).

    Returns:
        The text, ending with a newline.

    Raises:
        ConfigError: for an unknown mode or form.
        ServiceError: for a malformed Service or EndpointSlice.

    Example:
        >>> from netlab import kubeproxy as kp
        >>> cfg = kp.ProxyConfig(node_name="node-a", node_ips=["10.224.0.4"])
        >>> kp.render("iptables", [], [], cfg, form="save").splitlines()[0]
        '# Generated by iptables-save v1.8.9 (nf_tables) on Mon Jan  6 12:00:00 2025'
        >>> kp.render("nftables", [], [], cfg, form="list").splitlines()[0]
        'table ip kube-proxy {'
    """
    rec = modes.record(mode)
    rec.check_form(form)  # before building: a wrong form costs nothing
    return rec.render(rec.build(services, slices, cfg), form, with_jumps)
