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

Modules: :mod:`.api` reads and checks the objects, :mod:`.naming` owns the chain-name
hashing, :mod:`.iptables` writes iptables mode's rules, :mod:`.nftables` nftables mode's
table (on :mod:`.nft`, nftables as data), :mod:`.flow` traces packets;
:mod:`netlab.netfilter` holds the generic rule types and the evaluator.

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

from ..errors import ConfigError, did_you_mean
from ..netfilter import (
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
from . import api, iptables, ipvs, naming, nftables, userspace
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
    "trace_flow", "userspace",
]

_FORMS = ("restore", "save")
#: IPVS mode: ipvsadm -Ln (default), ipset save, iptables-save, iptables-restore input.
_IPVS_FORMS = ("ipvsadm", "ipset", "iptables", "restore")
#: userspace mode: iptables-save of its chains (default), the proxy socket table.
_USERSPACE_FORMS = ("iptables", "proxy")
_NFT_FORMS = ("transaction", "list")


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
        A tuple of :class:`~netlab.netfilter.Rule`.

    Example:
        >>> from netlab import kubeproxy as kp
        >>> cfg = kp.ProxyConfig(node_name="node-a", node_ips=["10.224.0.4"])
        >>> [r.line for r in kp.rules("iptables", [], [], cfg) if r.chain == "KUBE-MARK-MASQ"]
        ['-A KUBE-MARK-MASQ -j MARK --or-mark 0x00004000']
    """
    api.check_mode(mode)
    if mode == "nftables":
        return ()
    if mode == "ipvs":
        return ipvs.build(services, slices, cfg).rules
    if mode == "userspace":
        return userspace.build(services, slices, cfg).rules
    return iptables.build(services, slices, cfg).rules


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
    api.check_mode(mode)
    if mode == "nftables":
        form = form or "transaction"
        if form not in _NFT_FORMS:
            raise ConfigError(
                f"nftables mode prints form 'transaction' (the nft -f input kube-proxy writes) or 'list' "
                f"(what nft list table prints), not {form!r}" + did_you_mean(str(form), _NFT_FORMS)
            )
        sync = nftables.build(services, slices, cfg)
        return nftables.render_list(sync) if form == "list" else nftables.render_transaction(sync)
    if mode in ("ipvs", "userspace"):
        return _render_ipvs_userspace(mode, services, slices, cfg, form, with_jumps)
    form = form or "restore"
    if form not in _FORMS:
        raise ConfigError(
            f"form is 'restore' (what kube-proxy writes) or 'save' (what iptables-save prints), "
            f"not {form!r}" + did_you_mean(str(form), _FORMS)
        )
    sync = iptables.build(services, slices, cfg)
    if form == "save":
        return iptables.render_save(sync)
    return iptables.render_restore(sync, with_jumps=with_jumps)


def _render_ipvs_userspace(mode: str, services, slices, cfg: ProxyConfig, form: str | None, with_jumps: bool) -> str:
    """:func:`render` for IPVS mode (:mod:`.ipvs`) and the historical userspace mode (:mod:`.userspace`)."""
    if mode == "ipvs":
        form = form or "ipvsadm"
        if form not in _IPVS_FORMS:
            raise ConfigError(
                f"IPVS mode prints form 'ipvsadm' (ipvsadm -Ln), 'ipset' (ipset save), 'iptables' (iptables-save) "
                f"or 'restore' (the iptables-restore input), not {form!r}" + did_you_mean(str(form), _IPVS_FORMS)
            )
        sync = ipvs.build(services, slices, cfg)
        if form == "ipvsadm":
            return ipvs.render_ipvsadm(sync)
        if form == "ipset":
            return ipvs.render_ipset(sync)
        return ipvs.render_save(sync) if form == "iptables" else ipvs.render_restore(sync, with_jumps=with_jumps)
    form = form or "iptables"
    if form not in _USERSPACE_FORMS:
        raise ConfigError(
            f"userspace mode prints form 'iptables' (iptables-save of its chains) or 'proxy' (its proxy "
            f"sockets), not {form!r}" + did_you_mean(str(form), _USERSPACE_FORMS)
        )
    usync = userspace.build(services, slices, cfg)
    return userspace.render_save(usync) if form == "iptables" else userspace.render_proxy(usync)
