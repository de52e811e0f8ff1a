"""Services, EndpointSlices and kube-proxy's settings, read the way kube-proxy reads them.

A learner pastes objects from ``kubectl get svc,endpointslices -A -o json`` (the dicts
in ``items``) or writes them by hand. :func:`parse_service` and
:func:`parse_endpoint_slice` turn them into frozen values and reject what the API
server would reject, with the API server's field path
(``spec.ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive``)
followed by how to fix it.

:func:`service_ports` then does what kube-proxy's service and endpoint change trackers
and ``CategorizeEndpoints`` do, so that every proxy mode starts from the same facts:

* one entry per Service port (``ServicePortName`` = namespace, name, port name,
  protocol), skipping headless and ``ExternalName`` Services and Services with no IPv4
  cluster IP (netlab models the IPv4 proxier; an IPv6 proxier would be a second one);
* endpoints from every IPv4 EndpointSlice labelled ``kubernetes.io/service-name``
  with that Service's name, matched to the Service port by port **name and protocol**
  (the ``ServicePortName`` key); only ``addresses[0]`` of an endpoint is used; an
  endpoint seen twice (``IP:port``) keeps the non-terminating copy;
* endpoints sorted by their ``"IP:port"`` *string*, as kube-proxy sorts them
  (``byEndpoint``), so ``10.244.1.10:80`` comes before ``10.244.1.9:80``;
* usable endpoints: ready ones; if none is ready, serving and terminating ones;
  never ``serving: false`` ones. Local endpoints are those whose ``nodeName`` is
  this node. Cluster- and Local-policy endpoint lists are worked out separately,
  exactly as ``CategorizeEndpoints`` does (topology hints are not modelled).

Taught in ``notebooks/07-services.ipynb``.

Example:
    >>> svc = parse_service({"metadata": {"name": "web", "namespace": "shop"},
    ...     "spec": {"clusterIP": "10.0.0.12", "ports": [{"port": 80, "targetPort": 8080}]}})
    >>> svc.ports[0].protocol, svc.ports[0].target_port
    ('TCP', 8080)

Size: one module, because it is kube-proxy's reading of the API in one place: every field check of
Services, EndpointSlices and kube-proxy's flags, with the messages the API server and kube-proxy
print. The checks refer to one another (ports, protocols, IP families, traffic policies), so
splitting them by object would scatter each rule.
"""

from __future__ import annotations

import enum
import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Union

from ..errors import ConfigError, ServiceError, did_you_mean
from .naming import join_host_port, service_port_name

Address = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]
Network = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]

#: The IPVS schedulers the kernel ships (``net/netfilter/ipvs/ip_vs_*.c``), for ``--ipvs-scheduler``.
IPVS_SCHEDULERS = ("rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh", "twos")

#: ``--service-node-port-range`` default of the API server: 30000-32767.
DEFAULT_NODE_PORT_RANGE = (30000, 32767)

#: ``sessionAffinityConfig.clientIP.timeoutSeconds`` default (3 hours) and maximum (1 day).
DEFAULT_AFFINITY_TIMEOUT = 10800
MAX_AFFINITY_TIMEOUT = 86400

SERVICE_NAME_LABEL = "kubernetes.io/service-name"


class ServiceType(str, enum.Enum):
    """``spec.type`` of a Service."""

    CLUSTER_IP = "ClusterIP"
    NODE_PORT = "NodePort"
    LOAD_BALANCER = "LoadBalancer"
    EXTERNAL_NAME = "ExternalName"

    def __str__(self) -> str:
        return self.value


class TrafficPolicy(str, enum.Enum):
    """``spec.externalTrafficPolicy`` / ``spec.internalTrafficPolicy``."""

    CLUSTER = "Cluster"
    LOCAL = "Local"

    def __str__(self) -> str:
        return self.value


class SessionAffinity(str, enum.Enum):
    """``spec.sessionAffinity``."""

    NONE = "None"
    CLIENT_IP = "ClientIP"

    def __str__(self) -> str:
        return self.value


_PROTOCOLS = ("SCTP", "TCP", "UDP")


def _go(value: object) -> str:
    # The API server prints string values quoted and numbers bare.
    return f'"{value}"' if isinstance(value, str) else str(value)


def _supported(values: Iterable[str]) -> str:
    return ", ".join(f'"{v}"' for v in sorted(values))


class _Where:
    """Builds ServiceError messages that start with the object and the field path."""

    def __init__(self, kind: str, ident: str) -> None:
        self.kind, self.ident = kind, ident

    def error(self, path: str, detail: str, fix: str) -> ServiceError:
        return ServiceError(f"{self.kind} {self.ident}: {path}: {detail}; {fix}")

    def invalid(self, path: str, value: object, reason: str, fix: str) -> ServiceError:
        return self.error(path, f"Invalid value: {_go(value)}: {reason}", fix)

    def required(self, path: str, fix: str) -> ServiceError:
        return self.error(path, "Required value", fix)

    def unsupported(self, path: str, value: object, supported: Iterable[str], fix: str = "") -> ServiceError:
        hint = did_you_mean(str(value), supported).strip()
        fix = fix or f"use one of them{(' (' + hint + ')') if hint else ''}"
        return self.error(
            path, f"Unsupported value: {_go(value)}: supported values: {_supported(supported)}", fix
        )


def _mapping(where: _Where, value: object, path: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise where.invalid(path, type(value).__name__, "must be an object",
                            "write it as a JSON object (a Python dict)")
    return value


def _list(where: _Where, value: object, path: str) -> Sequence[Any]:
    if value is None:
        return ()
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise where.invalid(path, type(value).__name__, "must be a list",
                            "write it as a JSON list (a Python list), even for one item")
    return value


def _port_number(where: _Where, value: object, path: str, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        raise where.invalid(path, value, "must be between 1 and 65535, inclusive",
                            f"set {what} to a port number in that range")
    return value


def _address(where: _Where, value: object, path: str, fix: str) -> Address:
    try:
        return ipaddress.ip_address(str(value).strip()) if isinstance(value, str) else ipaddress.ip_address(value)  # type: ignore[arg-type]
    except ValueError:
        raise where.invalid(path, value, "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)", fix) from None


def _identity(kind: str, obj: Mapping[str, Any]) -> tuple[_Where, str, str]:
    meta = obj.get("metadata") if isinstance(obj, Mapping) else None
    name = meta.get("name") if isinstance(meta, Mapping) else None
    namespace = (meta.get("namespace") if isinstance(meta, Mapping) else None) or "default"
    where = _Where(kind, f"{namespace}/{name}" if name else "(no name)")
    if not isinstance(obj, Mapping):
        raise ServiceError(
            f"a {kind} must be a dict as `kubectl get -o json` prints it, not {type(obj).__name__}; "
            f"pass the objects from its 'items' list"
        )
    got = obj.get("kind")
    if got is not None and got != kind:
        raise where.error(
            "kind", f"Invalid value: {_go(got)}: expected {_go(kind)}",
            "pass Services as services and EndpointSlices as slices (parse_objects() splits a List)",
        )
    if not isinstance(name, str) or not name:
        raise where.required("metadata.name", f"give the {kind} a name under metadata.name")
    if not isinstance(namespace, str):
        raise where.invalid("metadata.namespace", namespace, "must be a string", "write the namespace's name")
    return where, namespace, name


# --------------------------------------------------------------------------------------
# Services
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ServicePort:
    """One entry of ``spec.ports``.

    Attributes:
        name: ``name`` ("" when the Service has a single unnamed port).
        protocol: ``"TCP"``, ``"UDP"`` or ``"SCTP"``.
        port: the port on the cluster IP (and external IPs, LB IPs).
        target_port: the pod port, a number or a named container port. kube-proxy
            never reads it: the EndpointSlice controller resolves it into the slice's ports.
        node_port: the port opened on every node (NodePort and LoadBalancer), or None.
    """

    name: str
    protocol: str
    port: int
    target_port: int | str
    node_port: int | None = None


@dataclass(frozen=True, slots=True)
class Service:
    """A Service as kube-proxy sees it.

    Attributes:
        namespace, name: identity.
        type: ``spec.type``.
        cluster_ips: ``spec.clusterIPs`` (or ``spec.clusterIP``); empty when headless
            or ExternalName.
        ports: ``spec.ports``.
        external_ips: ``spec.externalIPs``.
        load_balancer_ips: ``status.loadBalancer.ingress[].ip`` whose ``ipMode`` is
            ``VIP`` (or unset); ``Proxy``-mode ingress IPs are not captured by kube-proxy.
        load_balancer_source_ranges: ``spec.loadBalancerSourceRanges``.
        external_traffic_policy: ``Cluster`` or ``Local``; None for a Service that is
            not externally accessible.
        internal_traffic_policy: ``Cluster`` or ``Local``.
        health_check_node_port: ``spec.healthCheckNodePort`` or None.
        session_affinity: ``None`` or ``ClientIP``.
        affinity_timeout: ``sessionAffinityConfig.clientIP.timeoutSeconds`` for
            ClientIP affinity (default 10800), else None.
    """

    namespace: str
    name: str
    type: ServiceType = ServiceType.CLUSTER_IP
    cluster_ips: tuple[Address, ...] = ()
    ports: tuple[ServicePort, ...] = ()
    external_ips: tuple[Address, ...] = ()
    load_balancer_ips: tuple[Address, ...] = ()
    load_balancer_source_ranges: tuple[Network, ...] = ()
    external_traffic_policy: TrafficPolicy | None = None
    internal_traffic_policy: TrafficPolicy = TrafficPolicy.CLUSTER
    health_check_node_port: int | None = None
    session_affinity: SessionAffinity = SessionAffinity.NONE
    affinity_timeout: int | None = None

    @property
    def headless(self) -> bool:
        """A Service with ``clusterIP: None``: DNS only, kube-proxy writes nothing for it."""
        return self.type is not ServiceType.EXTERNAL_NAME and not self.cluster_ips

    @property
    def key(self) -> tuple[str, str]:
        """``(namespace, name)``, the order netlab writes Services in."""
        return (self.namespace, self.name)


def _externally_accessible(type_: ServiceType, external_ips: Sequence[object]) -> bool:
    # apiservice.ExternallyAccessible
    return type_ in (ServiceType.LOAD_BALANCER, ServiceType.NODE_PORT) or (
        type_ is ServiceType.CLUSTER_IP and len(external_ips) > 0
    )


def parse_service(obj: Mapping[str, Any] | Service, *, node_port_range: tuple[int, int] = DEFAULT_NODE_PORT_RANGE) -> Service:
    """Read one Service dict (as ``kubectl get svc -o json`` prints it) into a :class:`Service`.

    Fields the API server fills in are taken as given: a pasted Service has its
    ``clusterIP`` and ``nodePort`` s. Hand-written ones must give them too.

    Args:
        obj: the Service dict (``apiVersion``/``kind`` may be left out), or a
            :class:`Service`, which is returned unchanged.
        node_port_range: the API server's ``--service-node-port-range``.

    Returns:
        The Service.

    Raises:
        ServiceError: for anything the API server would reject, naming the field.

    Example:
        >>> svc = parse_service({"metadata": {"name": "web", "namespace": "shop"},
        ...     "spec": {"type": "NodePort", "clusterIP": "10.0.0.12",
        ...              "ports": [{"port": 80, "nodePort": 30080}]}})
        >>> svc.type, svc.ports[0].node_port, svc.external_traffic_policy
        (<ServiceType.NODE_PORT: 'NodePort'>, 30080, <TrafficPolicy.CLUSTER: 'Cluster'>)
        >>> parse_service({"metadata": {"name": "web"},
        ...     "spec": {"clusterIP": "10.0.0.12", "ports": [{"port": 70000}]}})
        Traceback (most recent call last):
        ...
        netlab.errors.ServiceError: Service default/web: spec.ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive; set the Service port to a port number in that range
    """
    if isinstance(obj, Service):
        return obj
    where, namespace, name = _identity("Service", obj)  # type: ignore[arg-type]
    spec = _mapping(where, obj.get("spec"), "spec")
    status = _mapping(where, obj.get("status"), "status")
    type_text = spec.get("type", "ClusterIP") or "ClusterIP"
    try:
        type_ = ServiceType(type_text)
    except ValueError:
        raise where.unsupported("spec.type", type_text, [t.value for t in ServiceType]) from None

    cluster_ips = _cluster_ips(where, spec, type_)
    headless = type_ is not ServiceType.EXTERNAL_NAME and not cluster_ips
    ports = _ports(where, spec, type_, headless, node_port_range)
    external_ips = tuple(
        _address(where, v, f"spec.externalIPs[{i}]", "write an address, e.g. 192.168.99.22")
        for i, v in enumerate(_list(where, spec.get("externalIPs"), "spec.externalIPs"))
    )
    ranges, lb_ips = _load_balancer(where, spec, status, type_)
    etp, itp, hcnp = _policies(where, spec, type_, external_ips)
    affinity, timeout = _affinity(where, spec)
    return Service(
        namespace=namespace,
        name=name,
        type=type_,
        cluster_ips=cluster_ips,
        ports=ports,
        external_ips=external_ips,
        load_balancer_ips=lb_ips,
        load_balancer_source_ranges=ranges,
        external_traffic_policy=etp,
        internal_traffic_policy=itp,
        health_check_node_port=hcnp,
        session_affinity=affinity,
        affinity_timeout=timeout,
    )


def _cluster_ips(where: _Where, spec: Mapping[str, Any], type_: ServiceType) -> tuple[Address, ...]:
    """``spec.clusterIP(s)``: ``"None"`` is headless; ExternalName Services have none."""
    raw_ips = list(_list(where, spec.get("clusterIPs"), "spec.clusterIPs"))
    raw_ip = spec.get("clusterIP")
    if raw_ip is not None and raw_ips and raw_ips[0] != raw_ip:
        raise where.invalid(
            "spec.clusterIPs[0]", raw_ips[0], f"must match `clusterIP` ({raw_ip})",
            "make clusterIPs[0] the same address as clusterIP, or leave one of them out",
        )
    if not raw_ips and raw_ip is not None:
        raw_ips = [raw_ip]
    if type_ is ServiceType.EXTERNAL_NAME:
        return ()
    if not raw_ips or raw_ips == [""]:
        raise where.required(
            "spec.clusterIP",
            "the API server allocates it: paste the Service as `kubectl get svc -o json` shows it, "
            "or write the address it got (\"None\" for a headless Service)",
        )
    if raw_ips[0] == "None":
        if type_ is not ServiceType.CLUSTER_IP:
            raise where.invalid(
                "spec.clusterIP", "None", "may only be set to None for ClusterIP services",
                "a headless Service must have type ClusterIP; give this one its allocated cluster IP",
            )
        return ()
    cluster_ips = tuple(
        _address(where, v, f"spec.clusterIPs[{i}]", "write the cluster IP the API server allocated")
        for i, v in enumerate(raw_ips)
    )
    if len({a.version for a in cluster_ips}) != len(cluster_ips):
        raise where.invalid(
            "spec.clusterIPs", ",".join(map(str, cluster_ips)), "may have at most one IP per family",
            "give one IPv4 and/or one IPv6 address",
        )
    return cluster_ips


def _ports(
    where: _Where, spec: Mapping[str, Any], type_: ServiceType, headless: bool, node_port_range: tuple[int, int]
) -> tuple[ServicePort, ...]:
    """``spec.ports``, checked as the API server checks them."""
    raw_ports = _list(where, spec.get("ports"), "spec.ports")
    if not raw_ports and not headless and type_ is not ServiceType.EXTERNAL_NAME:
        raise where.required("spec.ports", "list at least one port, e.g. [{\"port\": 80}]")
    ports: list[ServicePort] = []
    seen_names: set[str] = set()
    seen_node_ports: set[tuple[int, str]] = set()
    for i, raw in enumerate(raw_ports):
        path = f"spec.ports[{i}]"
        raw = _mapping(where, raw, path)
        port_name = raw.get("name") or ""
        if not isinstance(port_name, str):
            raise where.invalid(f"{path}.name", port_name, "must be a string", "name the port, e.g. \"http\"")
        if len(raw_ports) > 1 and not port_name:
            raise where.required(
                f"{path}.name",
                "a Service with more than one port must name every port (kube-proxy tells them apart by name)",
            )
        if port_name in seen_names:
            raise where.error(f"{path}.name", f"Duplicate value: {_go(port_name)}", "give each port its own name")
        seen_names.add(port_name)
        protocol = raw.get("protocol") or "TCP"
        if protocol not in _PROTOCOLS:
            raise where.unsupported(f"{path}.protocol", protocol, _PROTOCOLS)
        if "port" not in raw:
            raise where.required(f"{path}.port", "give the port clients connect to")
        port = _port_number(where, raw["port"], f"{path}.port", "the Service port")
        target = raw.get("targetPort", port)
        if isinstance(target, str) and target.isdigit():
            target = int(target)
        if isinstance(target, int) and not isinstance(target, bool):
            target = _port_number(where, target, f"{path}.targetPort", "targetPort")
        elif not isinstance(target, str) or not target:
            raise where.invalid(f"{path}.targetPort", target, "must be a port number or a port name",
                                "give the container's port number or the name of its containerPort")
        node_port = _node_port(where, raw.get("nodePort"), path, type_, node_port_range)
        if node_port is not None:
            if (node_port, protocol) in seen_node_ports:
                raise where.error(f"{path}.nodePort", f"Duplicate value: {node_port}",
                                  "each port of a Service needs its own nodePort")
            seen_node_ports.add((node_port, protocol))
        ports.append(ServicePort(port_name, protocol, port, target, node_port))
    return tuple(ports)


def _node_port(
    where: _Where, node_port: object, path: str, type_: ServiceType, node_port_range: tuple[int, int]
) -> int | None:
    low, high = node_port_range
    if node_port in (0, None):
        if type_ is ServiceType.NODE_PORT:
            raise where.required(
                f"{path}.nodePort",
                f"the API server allocates one from {low}-{high}: paste the Service as kubectl shows it, "
                "or write the nodePort it got",
            )
        return None
    if type_ not in (ServiceType.NODE_PORT, ServiceType.LOAD_BALANCER):
        raise where.error(
            f"{path}.nodePort", f"Forbidden: may not be used when `type` is '{type_.value}'",
            "remove nodePort, or make the Service type NodePort or LoadBalancer",
        )
    if isinstance(node_port, bool) or not isinstance(node_port, int) or not low <= node_port <= high:
        raise where.invalid(
            f"{path}.nodePort", node_port,
            f"provided port is not in the valid range. The range of valid ports is {low}-{high}",
            "pick a nodePort in that range (the API server's --service-node-port-range)",
        )
    return node_port


def _load_balancer(
    where: _Where, spec: Mapping[str, Any], status: Mapping[str, Any], type_: ServiceType
) -> tuple[tuple[Network, ...], tuple[Address, ...]]:
    """``spec.loadBalancerSourceRanges`` and the VIP-mode ``status.loadBalancer.ingress`` IPs."""
    ranges: list[Network] = []
    for i, v in enumerate(_list(where, spec.get("loadBalancerSourceRanges"), "spec.loadBalancerSourceRanges")):
        if type_ is not ServiceType.LOAD_BALANCER:
            raise where.error(
                "spec.loadBalancerSourceRanges",
                "Forbidden: may only be used when `type` is 'LoadBalancer'",
                "remove it, or make the Service type LoadBalancer",
            )
        try:
            # kube-proxy trims whitespace (old validation let it through) and keeps the network.
            ranges.append(ipaddress.ip_network(str(v).strip(), strict=False))
        except ValueError:
            raise where.invalid(
                f"spec.loadBalancerSourceRanges[{i}]", v, "must be a valid CIDR",
                "write a CIDR block such as 203.0.113.0/24",
            ) from None
    lb_ips: list[Address] = []
    ingress = _list(where, _mapping(where, status.get("loadBalancer"), "status.loadBalancer").get("ingress"),
                    "status.loadBalancer.ingress")
    for i, ing in enumerate(ingress):
        ing = _mapping(where, ing, f"status.loadBalancer.ingress[{i}]")
        if not ing.get("ip"):
            continue  # hostname-only ingress (e.g. AWS ELB): kube-proxy has no IP to capture
        if ing.get("ipMode", "VIP") not in ("VIP", None):
            continue  # ipMode Proxy: the LB proxies to the node, kube-proxy does not capture the IP
        lb_ips.append(_address(where, ing["ip"], f"status.loadBalancer.ingress[{i}].ip", "write the LB's IP"))
    return tuple(ranges), tuple(lb_ips)


def _policies(
    where: _Where, spec: Mapping[str, Any], type_: ServiceType, external_ips: Sequence[Address]
) -> tuple[TrafficPolicy | None, TrafficPolicy, int | None]:
    """externalTrafficPolicy, internalTrafficPolicy and healthCheckNodePort."""
    accessible = _externally_accessible(type_, external_ips)
    etp_text = spec.get("externalTrafficPolicy")
    etp: TrafficPolicy | None = None
    if etp_text not in (None, ""):
        if not accessible:
            raise where.invalid(
                "spec.externalTrafficPolicy", etp_text, "may only be set for externally-accessible services",
                "remove it, or make the Service NodePort/LoadBalancer or give it externalIPs",
            )
        try:
            etp = TrafficPolicy(etp_text)
        except ValueError:
            raise where.unsupported("spec.externalTrafficPolicy", etp_text, [p.value for p in TrafficPolicy]) from None
    elif accessible:
        etp = TrafficPolicy.CLUSTER  # the API server's default

    itp_text = spec.get("internalTrafficPolicy") or "Cluster"
    try:
        itp = TrafficPolicy(itp_text)
    except ValueError:
        raise where.unsupported("spec.internalTrafficPolicy", itp_text, [p.value for p in TrafficPolicy]) from None

    hcnp = spec.get("healthCheckNodePort")
    if hcnp in (0, None):
        return etp, itp, None
    if not (type_ is ServiceType.LOAD_BALANCER and etp is TrafficPolicy.LOCAL):
        raise where.invalid(
            "spec.healthCheckNodePort", hcnp,
            "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'",
            "remove it (the API server allocates it for LoadBalancer Services with Local policy)",
        )
    return etp, itp, _port_number(where, hcnp, "spec.healthCheckNodePort", "healthCheckNodePort")


def _affinity(where: _Where, spec: Mapping[str, Any]) -> tuple[SessionAffinity, int | None]:
    """sessionAffinity and its ClientIP timeout (default 10800 s, at most 86400 s)."""
    affinity_text = spec.get("sessionAffinity") or "None"
    try:
        affinity = SessionAffinity(affinity_text)
    except ValueError:
        raise where.unsupported("spec.sessionAffinity", affinity_text, [a.value for a in SessionAffinity]) from None
    config = _mapping(where, spec.get("sessionAffinityConfig"), "spec.sessionAffinityConfig")
    if affinity is SessionAffinity.NONE:
        if config:
            raise where.error(
                "spec.sessionAffinityConfig", "Forbidden: must not be set when `sessionAffinity` is None",
                "remove it, or set sessionAffinity: ClientIP",
            )
        return affinity, None
    client = _mapping(where, config.get("clientIP"), "spec.sessionAffinityConfig.clientIP")
    timeout = client.get("timeoutSeconds")
    if timeout is None:
        timeout = DEFAULT_AFFINITY_TIMEOUT
    if isinstance(timeout, bool) or not isinstance(timeout, int) or not 0 < timeout <= MAX_AFFINITY_TIMEOUT:
        raise where.invalid(
            "spec.sessionAffinityConfig.clientIP.timeoutSeconds", timeout,
            f"must be greater than 0 and less than {MAX_AFFINITY_TIMEOUT}",
            f"pick 1-{MAX_AFFINITY_TIMEOUT} seconds, or leave it out for the default {DEFAULT_AFFINITY_TIMEOUT} (3 hours)",
        )
    return affinity, timeout


# --------------------------------------------------------------------------------------
# EndpointSlices
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One entry of an EndpointSlice's ``endpoints``.

    Conditions are read as kube-proxy reads them: ``ready`` and ``serving`` unset mean
    true, ``terminating`` unset means false.
    """

    addresses: tuple[Address, ...]
    ready: bool = True
    serving: bool = True
    terminating: bool = False
    node_name: str | None = None


@dataclass(frozen=True, slots=True)
class EndpointPort:
    """One entry of an EndpointSlice's ``ports``: the resolved ``targetPort`` of a Service port."""

    name: str
    port: int | None
    protocol: str = "TCP"


@dataclass(frozen=True, slots=True)
class EndpointSlice:
    """An EndpointSlice (``discovery.k8s.io/v1``)."""

    namespace: str
    name: str
    service_name: str
    address_type: str
    endpoints: tuple[Endpoint, ...] = ()
    ports: tuple[EndpointPort, ...] = ()


_ADDRESS_TYPES = ("FQDN", "IPv4", "IPv6")


def _condition(where: _Where, conditions: Mapping[str, Any], key: str, default: bool, path: str) -> bool:
    value = conditions.get(key)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise where.invalid(f"{path}.conditions.{key}", value, "must be true, false or null",
                            "write a JSON boolean (true/false), not a string")
    return value


def parse_endpoint_slice(obj: Mapping[str, Any] | EndpointSlice) -> EndpointSlice:
    """Read one EndpointSlice dict (``discovery.k8s.io/v1``) into an :class:`EndpointSlice`.

    Args:
        obj: the EndpointSlice dict, or an :class:`EndpointSlice` (returned unchanged).

    Returns:
        The slice. Endpoints of an ``FQDN`` slice are not read (kube-proxy ignores them).

    Raises:
        ServiceError: for anything the API server would reject, and for a slice without
            the ``kubernetes.io/service-name`` label, which kube-proxy would ignore.

    Example:
        >>> s = parse_endpoint_slice({"metadata": {"name": "web-abc", "namespace": "shop",
        ...         "labels": {"kubernetes.io/service-name": "web"}},
        ...     "addressType": "IPv4",
        ...     "endpoints": [{"addresses": ["10.244.1.5"], "conditions": {"ready": True}, "nodeName": "node-a"}],
        ...     "ports": [{"name": "", "port": 8080, "protocol": "TCP"}]})
        >>> s.service_name, s.endpoints[0].addresses[0], s.ports[0].port
        ('web', IPv4Address('10.244.1.5'), 8080)
    """
    if isinstance(obj, EndpointSlice):
        return obj
    where, namespace, name = _identity("EndpointSlice", obj)  # type: ignore[arg-type]
    api_version = obj.get("apiVersion")
    if api_version not in (None, "discovery.k8s.io/v1"):
        raise where.invalid(
            "apiVersion", api_version, "netlab reads discovery.k8s.io/v1 EndpointSlices",
            "get them with `kubectl get endpointslices.v1.discovery.k8s.io -o json`",
        )
    meta = _mapping(where, obj.get("metadata"), "metadata")
    labels = _mapping(where, meta.get("labels"), "metadata.labels")
    service_name = labels.get(SERVICE_NAME_LABEL)
    if not service_name:
        raise where.required(
            f"metadata.labels[{SERVICE_NAME_LABEL}]",
            "kube-proxy ignores EndpointSlices without this label; add it with the Service's name",
        )
    address_type = obj.get("addressType")
    if address_type not in _ADDRESS_TYPES:
        if address_type is None:
            raise where.required("addressType", "set it to IPv4 (or IPv6, FQDN)")
        raise where.unsupported("addressType", address_type, _ADDRESS_TYPES)

    endpoints: list[Endpoint] = []
    for i, raw in enumerate(_list(where, obj.get("endpoints"), "endpoints")):
        path = f"endpoints[{i}]"
        raw = _mapping(where, raw, path)
        addresses = _list(where, raw.get("addresses"), f"{path}.addresses")
        if not addresses:
            raise where.required(f"{path}.addresses", "give the endpoint's pod IP, e.g. [\"10.244.1.5\"]")
        if address_type == "FQDN":
            continue
        parsed = []
        for j, a in enumerate(addresses):
            address = _address(where, a, f"{path}.addresses[{j}]", "write the pod IP")
            if f"IPv{address.version}" != address_type:
                raise where.invalid(
                    f"{path}.addresses[{j}]", a, f"must be a valid {address_type} address",
                    f"put IPv{address.version} endpoints in a slice with addressType IPv{address.version}",
                )
            parsed.append(address)
        conditions = _mapping(where, raw.get("conditions"), f"{path}.conditions")
        node_name = raw.get("nodeName")
        if node_name is not None and not isinstance(node_name, str):
            raise where.invalid(f"{path}.nodeName", node_name, "must be a string", "write the node's name")
        endpoints.append(
            Endpoint(
                addresses=tuple(parsed),
                ready=_condition(where, conditions, "ready", True, path),
                serving=_condition(where, conditions, "serving", True, path),
                terminating=_condition(where, conditions, "terminating", False, path),
                node_name=node_name,
            )
        )

    ports: list[EndpointPort] = []
    for i, raw in enumerate(_list(where, obj.get("ports"), "ports")):
        path = f"ports[{i}]"
        raw = _mapping(where, raw, path)
        port_name = raw.get("name") or ""  # the API server defaults a missing name to ""
        protocol = raw.get("protocol") or "TCP"
        if protocol not in _PROTOCOLS:
            raise where.unsupported(f"{path}.protocol", protocol, _PROTOCOLS)
        port = raw.get("port")
        if port is not None:
            port = _port_number(where, port, f"{path}.port", "the endpoint port")
        ports.append(EndpointPort(port_name, port, protocol))

    return EndpointSlice(namespace, name, service_name, address_type, tuple(endpoints), tuple(ports))


def parse_objects(items: Mapping[str, Any] | Iterable[Any]) -> tuple[tuple[Service, ...], tuple[EndpointSlice, ...]]:
    """Split ``kubectl get svc,endpointslices -o json`` output into Services and EndpointSlices.

    Args:
        items: the whole ``{"kind": "List", "items": [...]}`` dict, or its items.

    Returns:
        ``(services, slices)``, parsed.

    Raises:
        ServiceError: for an object that is neither, or one the API server would reject.

    Example:
        >>> svcs, slices = parse_objects({"kind": "List", "items": [
        ...     {"kind": "Service", "metadata": {"name": "web"}, "spec": {"clusterIP": "10.0.0.12", "ports": [{"port": 80}]}}]})
        >>> len(svcs), len(slices)
        (1, 0)
    """
    if isinstance(items, Mapping):
        items = items.get("items", ())
    services: list[Service] = []
    slices: list[EndpointSlice] = []
    for i, obj in enumerate(items):
        kind = obj.get("kind") if isinstance(obj, Mapping) else type(obj).__name__
        if kind in ("Service",) or isinstance(obj, Service):
            services.append(parse_service(obj))
        elif kind in ("EndpointSlice",) or isinstance(obj, EndpointSlice):
            slices.append(parse_endpoint_slice(obj))
        else:
            raise ServiceError(
                f"items[{i}]: kind {kind!r} is neither Service nor EndpointSlice; "
                "get only those with `kubectl get svc,endpointslices -o json`"
                + did_you_mean(str(kind), ("Service", "EndpointSlice"))
            )
    return tuple(services), tuple(slices)


# --------------------------------------------------------------------------------------
# kube-proxy's own settings
# --------------------------------------------------------------------------------------


def _v4(value: object, what: str) -> ipaddress.IPv4Address:
    try:
        address = ipaddress.ip_address(str(value).strip())
    except ValueError:
        raise ConfigError(f"{what}: {value!r} is not an IP address; write one such as 10.224.0.4") from None
    if address.version != 4:
        raise ConfigError(
            f"{what}: {value} is IPv6, but netlab models kube-proxy's IPv4 rules (iptables, not "
            "ip6tables); give the node's IPv4 address"
        )
    return address


def _v4net(value: object, what: str) -> ipaddress.IPv4Network:
    try:
        network = ipaddress.ip_network(str(value).strip(), strict=False)
    except ValueError:
        raise ConfigError(f"{what}: {value!r} is not a CIDR block; write one such as 10.244.0.0/16") from None
    if network.version != 4:
        raise ConfigError(f"{what}: {value} is IPv6, but netlab models kube-proxy's IPv4 rules; give an IPv4 CIDR")
    return network


@dataclass(frozen=True, slots=True)
class ProxyConfig:
    """The kube-proxy settings that change the rules it writes on one node.

    Attributes:
        node_name: ``--hostname-override``: endpoints whose ``nodeName`` is this are local.
        node_ips: the node's IPv4 addresses (first = ``--bind-address``/primary node IP).
        cluster_cidr: ``--cluster-cidr`` with ``--detect-local-mode=ClusterCIDR``, the
            pod range used to tell pod traffic (``-s``) from other traffic (``! -s``);
            None means no local-traffic detector.
        masquerade_all: ``--masquerade-all``: SNAT every packet sent to a cluster IP.
        masquerade_bit: ``--iptables-masquerade-bit`` (0-31): the mark bit KUBE-MARK-MASQ sets.
        localhost_nodeports: ``--iptables-localhost-nodeports``: NodePorts answer on 127.0.0.1.
        nodeport_addresses: ``--nodeport-addresses``: None (every local address) or the
            CIDRs NodePorts answer on; ``"primary"`` means the node IPs.
        conntrack_tcp_be_liberal: whether ``net.netfilter.nf_conntrack_tcp_be_liberal`` is
            set (then kube-proxy writes no INVALID drop rule).
        random_fully: whether iptables supports ``MASQUERADE --random-fully``.
        service_cidrs: the cluster's Service CIDRs (its ServiceCIDR objects, or the API
            server's ``--service-cluster-ip-range``). Only nftables mode uses them: it
            drops packets to addresses in them that no Service holds. None (or an
            empty list) means kube-proxy knows none, and writes no such rule.
        ipvs_scheduler: ``--ipvs-scheduler`` (IPVS mode): ``rr`` (round robin, the
            default; empty means rr too), ``wrr``, ``lc``, ``sh``, ``mh``... (:data:`IPVS_SCHEDULERS`).
        ipvs_strict_arp: ``--ipvs-strict-arp`` (IPVS mode): also set ``arp_ignore=1`` and
            ``arp_announce=2``, so the node does not answer ARP for the VIPs on ``kube-ipvs0``.

    Example:
        >>> cfg = ProxyConfig(node_name="node-a", node_ips=["10.224.0.4"], cluster_cidr="10.244.0.0/16")
        >>> cfg.masquerade_mark, cfg.node_ips[0]
        ('0x00004000', IPv4Address('10.224.0.4'))
    """

    node_name: str
    node_ips: tuple[ipaddress.IPv4Address, ...]
    cluster_cidr: ipaddress.IPv4Network | None = None
    masquerade_all: bool = False
    masquerade_bit: int = 14
    localhost_nodeports: bool = True
    nodeport_addresses: tuple[ipaddress.IPv4Network, ...] | None = None
    conntrack_tcp_be_liberal: bool = False
    random_fully: bool = True
    service_cidrs: tuple[ipaddress.IPv4Network, ...] | None = None
    ipvs_scheduler: str = "rr"
    ipvs_strict_arp: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.node_name, str) or not self.node_name:
            raise ConfigError("node_name must be the node's name (kube-proxy's --hostname-override), e.g. 'node-a'")
        if not isinstance(self.node_ips, (str, ipaddress.IPv4Address, list, tuple)):
            raise ConfigError(f"node_ips is the node's addresses, such as ['10.224.0.4'], not {self.node_ips!r}")
        ips = (self.node_ips,) if isinstance(self.node_ips, (str, ipaddress.IPv4Address)) else tuple(self.node_ips)
        if not ips:
            raise ConfigError("node_ips needs at least the node's primary IPv4 address, e.g. ['10.224.0.4']")
        object.__setattr__(self, "node_ips", tuple(_v4(a, "node_ips") for a in ips))
        if self.cluster_cidr is not None:
            object.__setattr__(self, "cluster_cidr", _v4net(self.cluster_cidr, "cluster_cidr"))
        bit = self.masquerade_bit
        if isinstance(bit, bool) or not isinstance(bit, int) or not 0 <= bit <= 31:
            raise ConfigError(
                f"masquerade_bit must be within the range [0, 31], not {bit!r} "
                "(kube-proxy --iptables-masquerade-bit; the default is 14, mark 0x4000)"
            )
        if self.nodeport_addresses is not None:
            raw = (self.nodeport_addresses,) if isinstance(self.nodeport_addresses, str) else tuple(self.nodeport_addresses)
            cidrs: list[ipaddress.IPv4Network] = []
            for value in raw:
                if value == "primary":
                    cidrs.extend(ipaddress.ip_network(a) for a in self.node_ips)
                else:
                    cidrs.append(_v4net(value, "nodeport_addresses"))
            if not cidrs:
                raise ConfigError(
                    "nodeport_addresses is an empty list; use None for every local address, "
                    "or list CIDRs such as ['10.224.0.0/16']"
                )
            object.__setattr__(self, "nodeport_addresses", tuple(cidrs))
        if self.service_cidrs is not None:
            raw_cidrs = (self.service_cidrs,) if isinstance(self.service_cidrs, str) else tuple(self.service_cidrs)
            object.__setattr__(
                self, "service_cidrs", tuple(_v4net(c, "service_cidrs") for c in raw_cidrs) or None
            )
        for flag in ("masquerade_all", "localhost_nodeports", "conntrack_tcp_be_liberal", "random_fully"):
            if not isinstance(getattr(self, flag), bool):
                raise ConfigError(f"{flag} must be True or False, not {getattr(self, flag)!r}")
        if not isinstance(self.ipvs_strict_arp, bool):
            raise ConfigError(f"ipvs_strict_arp must be True or False (--ipvs-strict-arp), not {self.ipvs_strict_arp!r}")
        if self.ipvs_scheduler in ("", None):
            object.__setattr__(self, "ipvs_scheduler", "rr")  # kube-proxy: an empty --ipvs-scheduler means rr
        if self.ipvs_scheduler not in IPVS_SCHEDULERS:
            raise ConfigError(
                f"ipvs_scheduler {self.ipvs_scheduler!r} is not an IPVS scheduler the kernel ships; use one of "
                f"{', '.join(IPVS_SCHEDULERS)} (--ipvs-scheduler; the default is rr)"
                + did_you_mean(str(self.ipvs_scheduler), IPVS_SCHEDULERS)
            )

    @property
    def masquerade_value(self) -> int:
        """``1 << masquerade_bit`` (0x4000 by default)."""
        return 1 << self.masquerade_bit

    @property
    def masquerade_mark(self) -> str:
        """The mark as kube-proxy writes it: Go's ``%#08x``, e.g. ``0x00004000``."""
        return "0x" + format(self.masquerade_value, "08x")

    @property
    def local_detector(self) -> bool:
        """Whether kube-proxy can tell pod traffic from other traffic (a cluster CIDR is set)."""
        return self.cluster_cidr is not None

    @property
    def localhost_nodeports_active(self) -> bool:
        """Localhost NodePorts are on only if also allowed by ``nodeport_addresses`` (they must include 127.0.0.1)."""
        if not self.localhost_nodeports:
            return False
        if self.nodeport_addresses is None:
            return True
        loopback = ipaddress.ip_address("127.0.0.1")
        return any(loopback in c for c in self.nodeport_addresses)

    def nodeport_ips(self) -> tuple[ipaddress.IPv4Address, ...]:
        """The node addresses NodePorts answer on, when ``nodeport_addresses`` is set.

        Interfaces are taken in ``ip addr`` order: ``lo`` (127.0.0.1) first, then the node IPs.

        Example:
            >>> ProxyConfig(node_name="n", node_ips=["10.224.0.4"], nodeport_addresses=["10.224.0.0/16"]).nodeport_ips()
            (IPv4Address('10.224.0.4'),)
        """
        if self.nodeport_addresses is None:
            return ()
        candidates = (ipaddress.ip_address("127.0.0.1"), *self.node_ips)
        return tuple(a for a in candidates if any(a in c for c in self.nodeport_addresses))  # type: ignore[misc]


def check_config(cfg: object) -> "ProxyConfig":
    """The node's settings must be a :class:`ProxyConfig`."""
    if not isinstance(cfg, ProxyConfig):
        raise ConfigError(
            f"cfg must be kp.ProxyConfig(node_name=..., node_ips=[...], ...), not {cfg!r}; "
            "it tells kube-proxy which node it runs on"
        )
    return cfg


# --------------------------------------------------------------------------------------
# What kube-proxy derives: one entry per service port, endpoints categorised
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EndpointInfo:
    """One endpoint of one service port, as kube-proxy's ``BaseEndpointInfo`` holds it."""

    ip: Address
    port: int
    is_local: bool
    ready: bool
    serving: bool
    terminating: bool
    node_name: str | None = None
    #: ``"IP:port"`` (``net.JoinHostPort``), the string kube-proxy sorts and hashes.
    endpoint: str = field(init=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "endpoint", join_host_port(self.ip, self.port))


@dataclass(frozen=True, slots=True)
class ServicePortInfo:
    """One port of one Service with its endpoints, ready for a proxy mode to write rules.

    Attributes:
        service, port: where it came from.
        name: the service port name ``ns/svc:port`` (see :mod:`.naming`).
        protocol: lower-case protocol.
        cluster_ip: the IPv4 cluster IP.
        external_ips, load_balancer_ips, source_ranges: IPv4 ones only.
        node_port, health_check_node_port: 0 when not set (kube-proxy's convention).
        external_policy_local, internal_policy_local: traffic policies.
        affinity_seconds: ClientIP affinity timeout, None without affinity.
        endpoints: every endpoint of this port, sorted by ``"IP:port"`` string.
        cluster_endpoints, local_endpoints, reachable_endpoints, has_endpoints:
            ``CategorizeEndpoints``' four results.
    """

    service: Service
    port: ServicePort
    name: str
    protocol: str
    cluster_ip: ipaddress.IPv4Address
    external_ips: tuple[ipaddress.IPv4Address, ...]
    load_balancer_ips: tuple[ipaddress.IPv4Address, ...]
    source_ranges: tuple[ipaddress.IPv4Network, ...]
    node_port: int
    health_check_node_port: int
    external_policy_local: bool
    internal_policy_local: bool
    affinity_seconds: int | None
    endpoints: tuple[EndpointInfo, ...]
    cluster_endpoints: tuple[EndpointInfo, ...]
    local_endpoints: tuple[EndpointInfo, ...]
    reachable_endpoints: tuple[EndpointInfo, ...]
    has_endpoints: bool

    @property
    def externally_accessible(self) -> bool:
        """Reachable other than by cluster IP: a NodePort, an LB IP or an external IP."""
        return bool(self.node_port or self.load_balancer_ips or self.external_ips)

    @property
    def uses_cluster_endpoints(self) -> bool:
        """Needs the Cluster-policy chain (also for eTP=Local, whose short-circuit uses it)."""
        return not self.internal_policy_local or self.externally_accessible

    @property
    def uses_local_endpoints(self) -> bool:
        """Needs the Local-policy chain."""
        return self.internal_policy_local or (self.external_policy_local and self.externally_accessible)


def _categorize(eps: Sequence[EndpointInfo], uses_cluster: bool, uses_local: bool):
    """kube-proxy's CategorizeEndpoints (pkg/proxy/topology.go), without topology hints."""
    cluster: tuple[EndpointInfo, ...] = ()
    local: tuple[EndpointInfo, ...] = ()
    has_any = False
    if uses_cluster:
        cluster = tuple(e for e in eps if e.ready)
        if not cluster:
            cluster = tuple(e for e in eps if e.serving and e.terminating)
        has_any = bool(cluster)
    if not uses_local:
        return cluster, local, cluster, has_any
    local_ready = local_terminating = False
    for e in eps:
        if e.ready:
            has_any = True
            local_ready = local_ready or e.is_local
        elif e.serving and e.terminating:
            has_any = True
            local_terminating = local_terminating or e.is_local
    serving_terminating = False
    if local_ready:
        local = tuple(e for e in eps if e.is_local and e.ready)
    elif local_terminating:
        serving_terminating = True
        local = tuple(e for e in eps if e.is_local and e.serving and e.terminating)
    if not uses_cluster:
        return cluster, local, local, has_any
    if not serving_terminating:
        return cluster, local, cluster, has_any
    # kube-proxy merges the two lists through a Go map (random order); netlab sorts the
    # union by "IP:port" so the output is deterministic.
    merged = {e.endpoint: e for e in (*cluster, *local)}
    return cluster, local, tuple(merged[k] for k in sorted(merged)), has_any


def service_ports(
    services: Iterable[Mapping[str, Any] | Service],
    slices: Iterable[Mapping[str, Any] | EndpointSlice],
    cfg: ProxyConfig,
) -> tuple[ServicePortInfo, ...]:
    """Work out, for every Service port kube-proxy handles, its addresses and endpoints.

    Services come out sorted by namespace and name, ports in ``spec.ports`` order. (kube-proxy
    walks a Go map, so its order changes from sync to sync; the rules of different
    Services never overlap, so only the text's order differs.)

    Args:
        services: Service dicts or :class:`Service` values.
        slices: EndpointSlice dicts or :class:`EndpointSlice` values.
        cfg: the node's kube-proxy settings.

    Returns:
        One :class:`ServicePortInfo` per (Service, port).

    Raises:
        ServiceError: for a malformed object, or two objects with the same name.

    Example:
        >>> cfg = ProxyConfig(node_name="node-a", node_ips=["10.224.0.4"])
        >>> svc = {"metadata": {"name": "web", "namespace": "shop"},
        ...        "spec": {"clusterIP": "10.0.0.12", "ports": [{"name": "http", "port": 80}]}}
        >>> eps = {"metadata": {"name": "web-1", "namespace": "shop", "labels": {"kubernetes.io/service-name": "web"}},
        ...        "addressType": "IPv4", "ports": [{"name": "http", "port": 8080}],
        ...        "endpoints": [{"addresses": ["10.244.1.9"]}, {"addresses": ["10.244.1.10"]}]}
        >>> [e.endpoint for e in service_ports([svc], [eps], cfg)[0].cluster_endpoints]
        ['10.244.1.10:8080', '10.244.1.9:8080']
    """
    check_config(cfg)
    for what, value in (("services", services), ("slices", slices)):
        if value is None or isinstance(value, (str, bytes)):
            raise ConfigError(f"{what} is a list of objects (dicts as kubectl prints them, or parsed values), "
                              f"not {value!r}; use [] for none")
    parsed_services = [parse_service(s) for s in services]
    parsed_slices = [parse_endpoint_slice(s) for s in slices]
    seen: set[tuple[str, str]] = set()
    for svc in parsed_services:
        if svc.key in seen:
            raise ServiceError(
                f"Service {svc.namespace}/{svc.name}: metadata.name: Duplicate value: {_go(svc.name)}; "
                "a namespace holds one Service per name: remove or rename one"
            )
        seen.add(svc.key)
    slice_names: set[tuple[str, str]] = set()
    by_service: dict[tuple[str, str], list[EndpointSlice]] = {}
    for s in parsed_slices:
        if (s.namespace, s.name) in slice_names:
            raise ServiceError(
                f"EndpointSlice {s.namespace}/{s.name}: metadata.name: Duplicate value: {_go(s.name)}; "
                "a namespace holds one EndpointSlice per name: remove or rename one"
            )
        slice_names.add((s.namespace, s.name))
        if s.address_type == "IPv4":  # the IPv4 proxier reads IPv4 slices only
            by_service.setdefault((s.namespace, s.service_name), []).append(s)

    infos: list[ServicePortInfo] = []
    for svc in sorted(parsed_services, key=lambda s: s.key):
        if svc.type is ServiceType.EXTERNAL_NAME or svc.headless:
            continue
        cluster_ip = next((a for a in svc.cluster_ips if a.version == 4), None)
        if cluster_ip is None:
            continue  # an IPv6-only Service belongs to the IPv6 proxier
        external_ips = tuple(a for a in svc.external_ips if a.version == 4)
        lb_ips = tuple(a for a in svc.load_balancer_ips if a.version == 4)
        ranges = tuple(r for r in svc.load_balancer_source_ranges if r.version == 4)
        accessible_svc = _externally_accessible(svc.type, svc.external_ips)
        etp_local = accessible_svc and svc.external_traffic_policy is TrafficPolicy.LOCAL
        itp_local = svc.internal_traffic_policy is TrafficPolicy.LOCAL
        hc = svc.health_check_node_port if (svc.type is ServiceType.LOAD_BALANCER and etp_local) else None
        slices_here = sorted(by_service.get(svc.key, ()), key=lambda s: s.name)
        for port in svc.ports:
            found: dict[str, EndpointInfo] = {}
            for s in slices_here:
                for sp in s.ports:
                    if sp.name != port.name or sp.protocol != port.protocol or not sp.port:
                        continue
                    for ep in s.endpoints:
                        info = EndpointInfo(
                            ip=ep.addresses[0],
                            port=sp.port,
                            is_local=ep.node_name == cfg.node_name,
                            ready=ep.ready,
                            serving=ep.serving,
                            terminating=ep.terminating,
                            node_name=ep.node_name,
                        )
                        # Prefer the non-terminating copy of an endpoint seen twice.
                        if info.endpoint not in found or not info.terminating:
                            found[info.endpoint] = info
            endpoints = tuple(found[k] for k in sorted(found))
            node_port = port.node_port or 0
            info_stub = dict(
                service=svc,
                port=port,
                name=service_port_name(svc.namespace, svc.name, port.name),
                protocol=port.protocol.lower(),
                cluster_ip=cluster_ip,
                external_ips=external_ips,
                load_balancer_ips=lb_ips,
                source_ranges=ranges,
                node_port=node_port,
                health_check_node_port=hc or 0,
                external_policy_local=etp_local,
                internal_policy_local=itp_local,
                affinity_seconds=svc.affinity_timeout if svc.session_affinity is SessionAffinity.CLIENT_IP else None,
                endpoints=endpoints,
            )
            accessible = bool(node_port or lb_ips or external_ips)
            uses_cluster = not itp_local or accessible
            uses_local = itp_local or (etp_local and accessible)
            cluster, local, reachable, has_any = _categorize(endpoints, uses_cluster, uses_local)
            infos.append(
                ServicePortInfo(
                    **info_stub,  # type: ignore[arg-type]
                    cluster_endpoints=cluster,
                    local_endpoints=local,
                    reachable_endpoints=reachable,
                    has_endpoints=has_any,
                )
            )
    _check_node_ports(infos)
    return tuple(infos)


def _check_node_ports(infos: Sequence[ServicePortInfo]) -> None:
    owner: dict[tuple[int, str], tuple[str, str]] = {}
    for info in infos:
        here = (f"{info.service.namespace}/{info.service.name}", "")
        for port, what in ((info.node_port, "nodePort"), (info.health_check_node_port, "healthCheckNodePort")):
            if not port:
                continue
            proto = "tcp" if what == "healthCheckNodePort" else info.protocol
            key = (port, proto)
            if key in owner and owner[key][0] != here[0]:
                raise ServiceError(
                    f"Service {here[0]}: {what}: Invalid value: {port}: "
                    f"provided port is already allocated (to Service {owner[key][0]}); "
                    "every NodePort is open on every node, so two Services cannot share one: pick another"
                )
            owner[key] = here
