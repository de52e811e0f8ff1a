"""Address planning and allocation, as AKS and each plugin do it.

* kubenet and Azure CNI Overlay: node ``i`` owns ``/24`` number ``i`` of the pod CIDR;
  pods take ``.2``, ``.3``, ... (``.1`` is the bridge's gateway address).
* Azure CNI (node subnet): node ``i`` takes the next free subnet address and then
  reserves ``max_pods`` more right after it, before the next node is placed
  (``10.224.0.4`` node, ``.5``-``.34`` its pods, ``10.224.0.35`` the next node).
* ``none``: every node runs the same stand-alone bridge range ``172.17.0.0/16``.

Azure keeps five addresses of every subnet: the first four and the last.

Example:
    >>> cfg = make_config("kubenet")
    >>> node_ip(cfg, 1), node_pod_cidr(cfg, 1)
    (IPv4Address('10.224.0.5'), IPv4Network('10.244.1.0/24'))
"""

from __future__ import annotations

import ipaddress
import math

from . import images
from ..errors import (
    AddressError,
    ConfigError,
    NodeFullError,
    RangeConflictError,
    RouteLimitError,
    SubnetExhaustedError,
)
from .types import ClusterConfig, CniMode, IPv4Address, IPv4Network, Plugin

AZURE_RESERVED = 5  # first four and the last address of every Azure subnet
AZURE_FIRST_HOST = 4
KUBENET_ROUTE_LIMIT = 400  # routes per Azure route table
AKS_NODE_LIMIT = 5000
MAX_PODS_RANGE = (10, 250)
FORBIDDEN = tuple(
    ipaddress.IPv4Network(n)
    for n in ("169.254.0.0/16", "172.30.0.0/16", "172.31.0.0/16", "192.0.2.0/24")
)

DEFAULTS = {
    "vnet_cidr": "10.224.0.0/12",
    "subnet_cidr": "10.224.0.0/16",
    "pod_cidr": "10.244.0.0/16",
    "service_cidr": "10.0.0.0/16",
    "dns_service_ip": "10.0.0.10",
}
DEFAULT_MAX_PODS = {
    Plugin.NONE: 110,
    Plugin.KUBENET: 110,
    Plugin.AZURE_CNI: 30,
    Plugin.AZURE_CNI_OVERLAY: 250,
}


def parse_plugin(plugin: "Plugin | str") -> Plugin:
    """Accept a :class:`Plugin` or its name."""
    try:
        return Plugin(plugin)
    except ValueError:
        names = ", ".join(repr(p.value) for p in Plugin)
        raise ConfigError(
            f"unknown network plugin {plugin!r}: choose one of {names} ('none' is the document's section 03: "
            "Docker-style docker0 bridges on every node and no cluster network, not AKS's "
            "'--network-plugin none', which leaves the nodes NotReady until you install a CNI)") from None


def parse_network(text: object, what: str) -> IPv4Network:
    """Parse an IPv4 CIDR block, explaining what is wrong with a bad one.

    >>> parse_network("10.244.0.0/16", "pod_cidr")
    IPv4Network('10.244.0.0/16')
    >>> parse_network("10.244.0.1/16", "pod_cidr")
    Traceback (most recent call last):
    ...
    netlab.errors.AddressError: pod_cidr '10.244.0.1/16' has host bits set: a CIDR block names the first address of its range; write 10.244.0.0/16
    """
    if isinstance(text, ipaddress.IPv4Network):
        return text
    try:
        return ipaddress.IPv4Network(str(text))
    except ValueError as err:
        if "has host bits set" in str(err):
            fixed = ipaddress.IPv4Network(str(text), strict=False)
            raise AddressError(
                f"{what} {text!r} has host bits set: a CIDR block names the first address "
                f"of its range; write {fixed}"
            ) from None
        raise AddressError(
            f"{what} {text!r} is not an IPv4 CIDR block ({err}); write it as "
            "address/prefix-length, for example 10.244.0.0/16"
        ) from None


def parse_address(text: object, what: str) -> IPv4Address:
    """Parse an IPv4 address, explaining what is wrong with a bad one.

    >>> parse_address("10.0.0.300", "dns_service_ip")
    Traceback (most recent call last):
    ...
    netlab.errors.AddressError: dns_service_ip '10.0.0.300' is not an IPv4 address: four numbers from 0 to 255 separated by dots, for example 10.0.0.10
    """
    if isinstance(text, ipaddress.IPv4Address):
        return text
    try:
        return ipaddress.IPv4Address(str(text))
    except ValueError:
        raise AddressError(
            f"{what} {text!r} is not an IPv4 address: four numbers from 0 to 255 separated "
            "by dots, for example 10.0.0.10"
        ) from None


def _check_forbidden(net: IPv4Network, what: str) -> None:
    for bad in FORBIDDEN:
        if net.overlaps(bad):
            raise RangeConflictError(
                f"{what} {net} overlaps {bad}, which AKS does not allow (169.254.0.0/16, "
                "172.30.0.0/16, 172.31.0.0/16 and 192.0.2.0/24 are reserved); pick a private "
                "range outside them, such as 10.0.0.0/8"
            )


def _check_disjoint(a: IPv4Network, what_a: str, b: IPv4Network, what_b: str, why: str) -> None:
    if a.overlaps(b):
        raise RangeConflictError(
            f"{what_a} {a} overlaps {what_b} {b}: {why}; choose ranges that do not overlap"
        )


def usable_in_subnet(subnet: IPv4Network) -> int:
    """Addresses Azure lets you use in a subnet: all but five.

    >>> usable_in_subnet(ipaddress.IPv4Network("10.224.0.0/24"))
    251
    """
    return max(subnet.num_addresses - AZURE_RESERVED, 0)


def prefix_for(addresses: int) -> int:
    """The longest prefix whose block holds at least ``addresses`` addresses.

    >>> prefix_for(1581), prefix_for(2048), prefix_for(2049)
    (21, 21, 20)
    """
    return 32 - max(0, math.ceil(math.log2(max(addresses, 1))))


def azure_cni_addresses_needed(nodes: int, max_pods: int, surge: int = 1) -> int:
    """``(nodes + surge) + (nodes + surge) * max_pods``: the AKS sizing formula.

    >>> azure_cni_addresses_needed(50, 30)
    1581
    """
    n = nodes + surge
    return n + n * max_pods


def make_config(
    plugin: "Plugin | str" = Plugin.KUBENET,
    *,
    nodes: int = 0,
    name: str = "netlab",
    vnet_cidr: object = None,
    subnet_cidr: object = None,
    pod_cidr: object = None,
    service_cidr: object = None,
    dns_service_ip: object = None,
    max_pods: int | None = None,
    cni_mode: "CniMode | str" = CniMode.TRANSPARENT,
    resource_group: str = "netlab-rg",
    location: str = "westeurope",
    node_image: str | None = None,
    hairpin_mode: bool = False,
) -> ClusterConfig:
    """Validate the settings and fill in AKS defaults for the plugin.

    ``node_image`` defaults to :data:`netlab.model.images.DEFAULT_IMAGE`; ``hairpin_mode`` is the
    kubenet bridge's CNI setting (see :mod:`netlab.model.images`).

    A range left out gets AKS's default; if ``nodes`` do not fit the default, netlab
    widens it to the smallest block that fits and records a note (AKS would refuse to
    create such a cluster; pass the range yourself to choose).
    """
    plugin = parse_plugin(plugin)
    node_image = images.image(images.DEFAULT_IMAGE if node_image is None else node_image).name
    if not isinstance(hairpin_mode, bool):
        raise ConfigError(f"hairpin_mode={hairpin_mode!r}: it is the kubenet bridge's hairpinMode, True or False "
                          "(AKS writes False)")
    if hairpin_mode and plugin is not Plugin.KUBENET:
        raise ConfigError(f"hairpin_mode is kubenet's bridge setting (cbr0's ports), and this cluster uses "
                          f"{plugin.value}; leave hairpin_mode out, or use plugin='kubenet'")
    if nodes > AKS_NODE_LIMIT:
        raise ConfigError(
            f"{nodes} nodes is more than AKS supports: a cluster holds at most "
            f"{AKS_NODE_LIMIT} nodes; split the workload over several clusters"
        )
    try:
        cni_mode = CniMode(cni_mode)
    except ValueError:
        raise ConfigError(f"unknown Azure CNI mode {cni_mode!r}: choose 'transparent' or 'bridge'") from None
    if cni_mode is CniMode.BRIDGE and plugin is not Plugin.AZURE_CNI:
        raise ConfigError(f"cni_mode 'bridge' is an Azure CNI setting; plugin {plugin.value} has no such mode: "
                          "use plugin='azure-cni' or leave cni_mode out")
    notes: list[str] = []
    widened: set[str] = set()
    if max_pods is None:
        max_pods = DEFAULT_MAX_PODS[plugin]
    if not isinstance(max_pods, int) or isinstance(max_pods, bool) or not MAX_PODS_RANGE[0] <= max_pods <= MAX_PODS_RANGE[1]:
        raise ConfigError(
            f"max_pods {max_pods!r} is outside what AKS accepts: max pods per node must be "
            f"from {MAX_PODS_RANGE[0]} to {MAX_PODS_RANGE[1]}"
        )
    vnet = parse_network(vnet_cidr or DEFAULTS["vnet_cidr"], "vnet_cidr")
    if subnet_cidr is None:
        subnet = parse_network(DEFAULTS["subnet_cidr"], "subnet_cidr")
        per_node = max_pods + 1 if plugin is Plugin.AZURE_CNI else 1
        need = nodes * per_node + AZURE_RESERVED
        if need > subnet.num_addresses and vnet.overlaps(subnet):
            wide = ipaddress.IPv4Network(f"{subnet.network_address}/{prefix_for(need)}", strict=False)
            if wide.prefixlen >= vnet.prefixlen:
                notes.append(
                    f"subnet widened from {subnet} to {wide} to fit {nodes} nodes x {per_node} "
                    "addresses (AKS would refuse the default; pass subnet_cidr to choose)"
                )
                widened.add("subnet_cidr")
                subnet = wide
    else:
        subnet = parse_network(subnet_cidr, "subnet_cidr")
    service = parse_network(service_cidr or DEFAULTS["service_cidr"], "service_cidr")
    dns = parse_address(dns_service_ip or DEFAULTS["dns_service_ip"], "dns_service_ip")

    pods: IPv4Network | None = None
    if plugin in (Plugin.KUBENET, Plugin.AZURE_CNI_OVERLAY):
        if pod_cidr is None:
            pods = parse_network(DEFAULTS["pod_cidr"], "pod_cidr")
            if nodes > 2 ** (24 - pods.prefixlen):
                wide = ipaddress.IPv4Network(
                    f"{pods.network_address}/{24 - math.ceil(math.log2(nodes))}", strict=False
                )
                notes.append(
                    f"pod CIDR widened from {pods} to {wide} to give {nodes} nodes a /24 each "
                    "(pass pod_cidr to choose)"
                )
                widened.add("pod_cidr")
                pods = wide
        else:
            pods = parse_network(pod_cidr, "pod_cidr")
        if pods.prefixlen > 24:
            raise RangeConflictError(
                f"pod_cidr {pods} is smaller than one node's /24: {plugin.value} gives every "
                "node a /24 of the pod CIDR; use a /24 or larger, such as 10.244.0.0/16"
            )
    elif pod_cidr is not None:
        raise ConfigError(
            f"pod_cidr does not apply to {plugin.value}: "
            + (
                "Azure CNI takes pod addresses from the node subnet; size subnet_cidr instead"
                if plugin is Plugin.AZURE_CNI
                else "every node's stand-alone bridge uses 172.17.0.0/16"
            )
        )

    for net, what in ((vnet, "vnet_cidr"), (subnet, "subnet_cidr"), (service, "service_cidr")):
        _check_forbidden(net, what)
    if pods is not None:
        _check_forbidden(pods, "pod_cidr")
    if not subnet.subnet_of(vnet):
        raise RangeConflictError(
            f"subnet_cidr {subnet} is not inside vnet_cidr {vnet}: a subnet is carved out of "
            "its VNet's address space; pick a subnet inside it or widen the VNet"
        )
    _check_disjoint(service, "service_cidr", vnet, "vnet_cidr",
                    "ClusterIPs are virtual and must not shadow real VNet addresses")
    if pods is not None:
        _check_disjoint(pods, "pod_cidr", vnet, "vnet_cidr",
                        "pods would share addresses with VNet hosts and routing could not tell them apart")
        _check_disjoint(pods, "pod_cidr", service, "service_cidr",
                        "a destination would be both a pod and a Service")
    if dns not in service:
        raise RangeConflictError(
            f"dns_service_ip {dns} is outside service_cidr {service}: kube-dns is a Service, "
            f"so its ClusterIP must come from the service range, for example "
            f"{service.network_address + 10}"
        )
    if dns in (service.network_address, service.network_address + 1, service.broadcast_address):
        raise RangeConflictError(
            f"dns_service_ip {dns} cannot be used: {service.network_address + 1} is the first "
            "address of the service range and belongs to the 'kubernetes' Service "
            "(and the network and broadcast addresses are not usable); AKS uses the .10, "
            f"for example {service.network_address + 10}"
        )
    return ClusterConfig(
        name=name,
        plugin=plugin,
        vnet_cidr=vnet,
        subnet_cidr=subnet,
        pod_cidr=pods,
        service_cidr=service,
        dns_service_ip=dns,
        max_pods=max_pods,
        cni_mode=cni_mode,
        resource_group=resource_group,
        location=location,
        node_image=node_image,
        hairpin_mode=hairpin_mode,
        notes=tuple(notes),
        widened=frozenset(widened),
    )


def check_node_count(cfg: ClusterConfig, nodes: int) -> None:
    """Raise the error that stops a cluster from having ``nodes`` nodes."""
    if nodes > AKS_NODE_LIMIT:
        raise ConfigError(
            f"{nodes} nodes is more than AKS supports: a cluster holds at most "
            f"{AKS_NODE_LIMIT} nodes; split the workload over several clusters"
        )
    if cfg.plugin is Plugin.KUBENET and nodes > KUBENET_ROUTE_LIMIT:
        raise RouteLimitError(
            f"kubenet cannot have {nodes} nodes: it needs one route per node in the Azure "
            f"route table, and a route table holds at most {KUBENET_ROUTE_LIMIT} routes; "
            "stay at 400 nodes or use Azure CNI Overlay"
        )
    if cfg.plugin is Plugin.AZURE_CNI:
        per_node = cfg.max_pods + 1
        usable = usable_in_subnet(cfg.subnet_cidr)
        if nodes * per_node > usable:
            need = azure_cni_addresses_needed(nodes, cfg.max_pods)
            raise SubnetExhaustedError(
                f"the subnet {cfg.subnet_cidr} cannot hold {nodes} Azure CNI nodes: each node "
                f"pre-allocates its own address and max_pods={cfg.max_pods} pod addresses "
                f"({per_node}), and AKS sizes the subnet as (nodes + surge) + (nodes + surge) "
                f"* max_pods = ({nodes} + 1) + ({nodes} + 1) * {cfg.max_pods} = {need:,} "
                f"addresses; it has {usable:,} usable (Azure keeps 5). Use a /{prefix_for(need + AZURE_RESERVED)} "
                "or larger, lower max_pods, or use Azure CNI Overlay"
            )
    else:
        usable = usable_in_subnet(cfg.subnet_cidr)
        if nodes > usable:
            raise SubnetExhaustedError(
                f"the subnet {cfg.subnet_cidr} cannot hold {nodes} nodes: it has {usable:,} "
                f"usable addresses (Azure keeps 5); use a /{prefix_for(nodes + AZURE_RESERVED)} or larger"
            )
    if cfg.pod_cidr is not None:
        blocks = 2 ** (24 - cfg.pod_cidr.prefixlen)
        if nodes > blocks:
            raise RangeConflictError(
                f"pod_cidr {cfg.pod_cidr} has only {blocks} /24 blocks but {nodes} nodes each "
                f"need one; use a /{24 - math.ceil(math.log2(nodes))} or larger"
            )


def node_ip(cfg: ClusterConfig, index: int) -> IPv4Address:
    """The primary address of node ``index`` in the node subnet."""
    step = cfg.max_pods + 1 if cfg.plugin is Plugin.AZURE_CNI else 1
    return cfg.subnet_cidr.network_address + AZURE_FIRST_HOST + index * step


def node_pod_cidr(cfg: ClusterConfig, index: int) -> IPv4Network | None:
    """The range the node's bridge serves: a /24 of the pod CIDR, or docker's range."""
    if cfg.plugin is Plugin.NONE:
        return cfg.docker_bridge_cidr.network
    if cfg.pod_cidr is None:
        return None
    return ipaddress.IPv4Network((int(cfg.pod_cidr.network_address) + (index << 8), 24))


def node_pod_range(cfg: ClusterConfig, index: int) -> tuple[IPv4Address, int] | None:
    """Azure CNI: the first address and count of the pod addresses a node pre-allocates."""
    if cfg.plugin is not Plugin.AZURE_CNI:
        return None
    return (node_ip(cfg, index) + 1, cfg.max_pods)


def pod_ip(cfg: ClusterConfig, index: int, slot: int) -> IPv4Address:
    """The address of the pod in allocation slot ``slot`` (0-based) of node ``index``."""
    if cfg.plugin is Plugin.AZURE_CNI:
        return node_ip(cfg, index) + 1 + slot
    net = node_pod_cidr(cfg, index)
    assert net is not None
    return net.network_address + 2 + slot  # .1 is the bridge (gateway)


def host_local_size(cfg: ClusterConfig, index: int) -> int:
    """How many addresses kubenet's ``host-local`` range on node ``index`` holds.

    The node's pod CIDR less its network address, the bridge's gateway (``.1``) and the
    broadcast address: 253 in a ``/24``, far more than ``max_pods``.
    """
    net = node_pod_cidr(cfg, index)
    assert net is not None
    return net.num_addresses - 3


def free_slot(cfg: ClusterConfig, node_index: int, node_name: str, used: set[IPv4Address], pod: str,
              last: int = -1) -> int:
    """The allocation slot the node's IPAM hands out next, or a :class:`NodeFullError` that teaches.

    kubenet's ``host-local`` IPAM goes round-robin: it starts after the address it reserved
    last (``last``, kept on the node in ``/var/lib/cni/networks/kubenet/last_reserved_ip.0``),
    so an address freed by a deleted pod is handed out again only after the range wraps
    around. The other plugins' IPAM here hands out the lowest free slot.

    >>> cfg = make_config("kubenet", nodes=1)
    >>> free_slot(cfg, 0, "n", {pod_ip(cfg, 0, 1)}, "web-2", last=1)  # slot 0 (.2) is free: not reused yet
    2
    >>> free_slot(cfg, 0, "n", {pod_ip(cfg, 0, 1)}, "web-2", last=252)  # the end of the /24: wrap around
    0
    """
    if cfg.plugin is Plugin.KUBENET:
        if len(used) < cfg.max_pods:
            size = host_local_size(cfg, node_index)
            for step in range(1, size + 1):
                slot = (last + step) % size
                if pod_ip(cfg, node_index, slot) not in used:
                    return slot
    else:
        for slot in range(cfg.max_pods):
            if pod_ip(cfg, node_index, slot) not in used:
                return slot
    if cfg.plugin is Plugin.AZURE_CNI:
        why = (f"has used all {cfg.max_pods} pod addresses it reserved "
               "(Azure CNI pre-allocates max_pods addresses per node)")
    else:
        why = f"already runs max_pods={cfg.max_pods} pods"
    raise NodeFullError(f"pod {pod} needs an address, but node {node_name} {why}; raise max_pods or add a node")
