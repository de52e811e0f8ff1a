"""Services in the cluster model: allocation, API objects, EndpointSlices, Azure load balancers.

A Service is stored the way the API server holds it (a :class:`netlab.kubeproxy.api.Service`,
validated by the same parser that reads pasted objects) plus its selector. From the
pods, netlab builds the ``discovery.k8s.io/v1`` EndpointSlices the EndpointSlice
controller would write, so kube-proxy's renderer reads a netlab cluster and a real
cluster's objects alike.

Allocation is deterministic (so stored notebook outputs stay comparable) but shaped
like Kubernetes': ClusterIPs come from the upper ("dynamic") band of the service
CIDR and NodePorts from the upper band of 30000-32767 (KEP-3070, KEP-3668), picked by
a hash of the Service's name with the next free value on a collision. Explicitly
requested values may use the whole range.

Example:
    >>> import netlab as nl
    >>> c = nl.Cluster.aks("kubenet", nodes=2).add_pod("web-0", labels={"app": "web"},
    ...     containers=[nl.Container("nginx", ports=[80])])
    >>> c = c.add_service("web", selector={"app": "web"}, ports=[80])
    >>> c.services["web"].cluster_ip
    IPv4Address('10.0.169.187')
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import DuplicateError, ServiceError
from ..kubeproxy import api
from ..model.types import IPv4Address, Pod

if TYPE_CHECKING:
    from ..cluster.core import Cluster

NODE_PORT_RANGE = api.DEFAULT_NODE_PORT_RANGE
API_SERVER = ipaddress.IPv4Address("203.0.113.100")  # RFC 5737: the control plane's public address
LB_PUBLIC = ipaddress.IPv4Network("203.0.113.0/24")  # RFC 5737: frontends of the Azure load balancer


@dataclass(frozen=True, slots=True)
class ServiceEntry:
    """A Service of the cluster: the API object as kube-proxy reads it, and its selector."""

    spec: api.Service
    selector: tuple[tuple[str, str], ...] | None  # None: endpoints are managed by hand (kubernetes)
    seq: int

    @property
    def key(self) -> tuple[str, str]:
        return (self.spec.namespace, self.spec.name)

    @property
    def cluster_ip(self) -> IPv4Address:
        return self.spec.cluster_ips[0]  # type: ignore[return-value]


def _hash(*parts: str) -> int:
    return int.from_bytes(hashlib.sha256("/".join(parts).encode()).digest()[:8], "big")


def static_band(size: int, lo: int, hi: int) -> int:
    """KEP-3070/3668: addresses (ports) kept for explicit requests: min(max(lo, size/16), hi).

    >>> static_band(65536, 16, 256), static_band(2768, 16, 128)
    (256, 86)
    """
    return min(max(lo, size // (16 if hi == 256 else 32)), hi)


def allocate_cluster_ip(service_cidr: ipaddress.IPv4Network, namespace: str, name: str,
                        taken: set[IPv4Address]) -> IPv4Address:
    """The ClusterIP a new Service gets: hashed into the dynamic band, next free on collision."""
    size = service_cidr.num_addresses
    band = static_band(size, 16, 256)
    first, last = band + 1, size - 2  # skip the network address, the static band (.1 to .band) and the broadcast
    if last < first:
        first = 1
    span = last - first + 1
    start = _hash("clusterip", namespace, name) % span
    base = int(service_cidr.network_address)
    for k in range(span):
        ip = ipaddress.IPv4Address(base + first + (start + k) % span)
        if ip not in taken:
            return ip
    for off in range(1, size - 1):  # dynamic band full: Kubernetes falls back to the static band
        ip = ipaddress.IPv4Address(base + off)
        if ip not in taken:
            return ip
    raise ServiceError(
        f"Service {namespace}/{name}: spec.clusterIPs: Internal error: failed to allocate a serviceIP: "
        f"range is full; the service CIDR {service_cidr} has no free address left: use a larger service_cidr"
    )


def allocate_node_port(namespace: str, name: str, salt: str, taken: set[int]) -> int:
    """A NodePort (or health-check node port) from the dynamic band of 30000-32767."""
    lo, hi = NODE_PORT_RANGE
    size = hi - lo + 1
    band = static_band(size, 16, 128)
    span = size - band
    start = _hash("nodeport", namespace, name, salt) % span
    for k in range(span):
        port = lo + band + (start + k) % span
        if port not in taken:
            return port
    for port in range(lo, hi + 1):
        if port not in taken:
            return port
    raise ServiceError(
        f"Service {namespace}/{name}: spec.ports: Internal error: failed to allocate a nodePort: range is full "
        f"({lo}-{hi}); remove a NodePort or LoadBalancer Service"
    )


def allocate_lb_ip(namespace: str, name: str, taken: set[IPv4Address]) -> IPv4Address:
    """The public frontend IP Azure gives a LoadBalancer Service (documentation range)."""
    base = int(LB_PUBLIC.network_address)
    reserved = {10, 100}  # the outbound SNAT address and the API server
    start = _hash("lbip", namespace, name) % 200
    for k in range(200):
        off = 20 + (start + k) % 200
        ip = ipaddress.IPv4Address(base + off)
        if off not in reserved and ip not in taken:
            return ip
    raise ServiceError(f"Service {namespace}/{name}: no public IP left in {LB_PUBLIC} for the load balancer")


def normalise_ports(ports: Sequence[Any]) -> list[dict[str, Any]]:
    """``ports=[80]`` or ``[{"name": "http", "port": 80, "targetPort": "web"}]`` -> spec.ports dicts."""
    if isinstance(ports, (int, str, Mapping)):
        ports = [ports]
    out: list[dict[str, Any]] = []
    for i, p in enumerate(ports):
        if isinstance(p, bool):
            raise ServiceError(f"spec.ports[{i}]: Invalid value: {p}: a port is a number from 1 to 65535 or a dict")
        if isinstance(p, int):
            out.append({"port": p, "targetPort": p, "protocol": "TCP"})
        elif isinstance(p, Mapping):
            d = {("targetPort" if k in ("target_port", "targetPort") else
                  "nodePort" if k in ("node_port", "nodePort") else k): v for k, v in p.items()}
            unknown = set(d) - {"name", "port", "targetPort", "protocol", "nodePort"}
            if unknown:
                raise ServiceError(
                    f"spec.ports[{i}]: unknown field {sorted(unknown)[0]!r}: a port takes name, port, targetPort, "
                    "protocol and nodePort")
            if "port" not in d:
                raise ServiceError(f"spec.ports[{i}].port: Required value; give the Service port, e.g. {{'port': 80}}")
            d.setdefault("targetPort", d["port"])
            d["protocol"] = str(d.get("protocol", "TCP")).upper()
            out.append(d)
        else:
            raise ServiceError(
                f"spec.ports[{i}]: Invalid value: {p!r}: give a port number (80) or a dict such as "
                "{'name': 'http', 'port': 80, 'targetPort': 8080}")
    if not out:
        raise ServiceError("spec.ports: Required value; a Service needs at least one port, e.g. ports=[80]")
    seen: dict[tuple, int] = {}
    for i, d in enumerate(out):
        key = (d.get("port"), d.get("protocol"))
        if key in seen:
            raise ServiceError(f"spec.ports[{i}]: Duplicate value: {{port: {key[0]}, protocol: {key[1]}}}: "
                               f"spec.ports[{seen[key]}] has the same port and protocol; give each port its own number")
        seen[key] = i
    if len(out) > 1:
        for i, d in enumerate(out):
            if not d.get("name"):
                raise ServiceError(
                    f"spec.ports[{i}].name: Required value; when a Service has several ports, each needs a name "
                    "(e.g. 'http', 'https')")
    return out


def selects(entry: ServiceEntry, pod: Pod) -> bool:
    if not entry.selector or pod.namespace != entry.spec.namespace:
        return False
    labels = dict(pod.labels)
    return all(labels.get(k) == v for k, v in entry.selector)


def resolve_target_port(pod: Pod, port: api.ServicePort) -> int | None:
    """The pod port a Service port sends to: a number, or a named containerPort (None if the pod lacks it)."""
    if isinstance(port.target_port, int):
        return port.target_port
    for c in pod.containers:
        for cp in c.ports:
            if cp.name == port.target_port and cp.protocol == port.protocol:
                return cp.port
    return None


def check_named_ports(entry: ServiceEntry, pods: Sequence[Pod]) -> None:
    """A named targetPort must be declared by the containers of the pods the Service selects."""
    matching = [p for p in pods if selects(entry, p)]
    if not matching:
        return
    for i, port in enumerate(entry.spec.ports):
        if isinstance(port.target_port, str) and all(resolve_target_port(p, port) is None for p in matching):
            names = sorted({cp.name for p in matching for c in p.containers for cp in c.ports if cp.name})
            have = f"they declare {', '.join(repr(n) for n in names)}" if names else "they declare no named ports"
            raise ServiceError(
                f"Service {entry.spec.namespace}/{entry.spec.name}: spec.ports[{i}].targetPort: Invalid value: "
                f"{port.target_port!r}: no container of the {len(matching)} selected pod(s) declares a port named "
                f"{port.target_port!r} ({have}); name a containerPort with nl.ContainerPort(8080, name="
                f"{port.target_port!r}) or use a port number")


def service_object(entry: ServiceEntry) -> dict[str, Any]:
    """The Service as ``kubectl get svc -o json`` shows it (one item)."""
    s = entry.spec
    spec: dict[str, Any] = {
        "clusterIP": str(s.cluster_ips[0]),
        "clusterIPs": [str(ip) for ip in s.cluster_ips],
        "internalTrafficPolicy": s.internal_traffic_policy.value,
        "ipFamilies": ["IPv4"],
        "ipFamilyPolicy": "SingleStack",
        "ports": [],
        "sessionAffinity": s.session_affinity.value,
        "type": s.type.value,
    }
    for p in s.ports:
        d: dict[str, Any] = {}
        if p.name:
            d["name"] = p.name
        if p.node_port:
            d["nodePort"] = p.node_port
        d.update({"port": p.port, "protocol": p.protocol, "targetPort": p.target_port})
        spec["ports"].append(d)
    if entry.selector:
        spec["selector"] = dict(entry.selector)
    if s.external_traffic_policy is not None:
        spec["externalTrafficPolicy"] = s.external_traffic_policy.value
    if s.health_check_node_port:
        spec["healthCheckNodePort"] = s.health_check_node_port
    if s.session_affinity is api.SessionAffinity.CLIENT_IP:
        spec["sessionAffinityConfig"] = {"clientIP": {"timeoutSeconds": s.affinity_timeout}}
    if s.load_balancer_source_ranges:
        spec["loadBalancerSourceRanges"] = [str(n) for n in s.load_balancer_source_ranges]
    if s.external_ips:
        spec["externalIPs"] = [str(ip) for ip in s.external_ips]
    status: dict[str, Any] = {"loadBalancer": {}}
    if s.load_balancer_ips:
        status["loadBalancer"] = {"ingress": [{"ip": str(ip), "ipMode": "VIP"} for ip in s.load_balancer_ips]}
    meta: dict[str, Any] = {"name": s.name, "namespace": s.namespace}
    if s.name == "kubernetes" and s.namespace == "default":
        meta["labels"] = {"component": "apiserver", "provider": "kubernetes"}
    return {"apiVersion": "v1", "kind": "Service", "metadata": meta, "spec": spec, "status": status}


def slice_name(entry: ServiceEntry, group: int) -> str:
    """``<service>-<5 characters>``, as the EndpointSlice controller names slices."""
    alphabet = "bcdfghjklmnpqrstvwxz2456789"  # Kubernetes' utilrand alphabet: no vowels, no 0/1/3
    h = _hash("slice", entry.spec.namespace, entry.spec.name, str(group))
    suffix = ""
    for _ in range(5):
        h, r = divmod(h, len(alphabet))
        suffix += alphabet[r]
    return f"{entry.spec.name}-{suffix}"


def endpoint_slices(cluster: "Cluster", entry: ServiceEntry) -> list[dict[str, Any]]:
    """The EndpointSlices of one Service, built from the pods its selector matches.

    Pods whose named target ports resolve to different numbers land in different
    slices, as with the real controller.
    """
    s = entry.spec
    labels = {"endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io",
              "kubernetes.io/service-name": s.name}
    if entry.selector is None:
        if (s.namespace, s.name) != ("default", "kubernetes"):
            return []
        return [{
            "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
            # the API server writes this slice itself (no EndpointSlice controller label)
            "metadata": {"name": "kubernetes", "namespace": "default",
                         "labels": {"kubernetes.io/service-name": "kubernetes"}},
            "endpoints": [{"addresses": [str(API_SERVER)], "conditions": {"ready": True}}],
            "ports": [{"name": "https", "port": 443, "protocol": "TCP"}],
        }]
    groups: dict[tuple, list[Pod]] = {}
    for pod in cluster.pods_selected(s.namespace, entry.selector):
        resolved = tuple(resolve_target_port(pod, port) for port in s.ports)
        if all(r is None for r in resolved):
            continue
        groups.setdefault(resolved, []).append(pod)
    if not groups:  # the controller still writes one slice, with no endpoints and no ports
        return [{
            "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
            "metadata": {"name": slice_name(entry, 0), "namespace": s.namespace, "labels": dict(labels)},
            "endpoints": [], "ports": [],
        }]
    out = []
    for g, (resolved, members) in enumerate(sorted(groups.items(), key=lambda kv: str(kv[0]))):
        out.append({
            "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
            "metadata": {"name": slice_name(entry, g), "namespace": s.namespace, "labels": dict(labels)},
            "endpoints": [{
                "addresses": [str(p.ip)],
                "conditions": {"ready": True, "serving": True, "terminating": False},
                "nodeName": cluster.node_record(p.node).name,
                "targetRef": {"kind": "Pod", "name": p.name, "namespace": p.namespace},
            } for p in members],
            "ports": [{"name": port.name, "port": r, "protocol": port.protocol}
                      for port, r in zip(s.ports, resolved) if r is not None],
        })
    return out


# ----------------------------------------------------------------------------- in the cluster
_DNS1035 = __import__("re").compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_DNS1123_LABEL = __import__("re").compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_LABEL = __import__("re").compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")


def default_services(cfg) -> Any:
    """``default/kubernetes`` (the service CIDR's first address) and ``kube-system/kube-dns``
    (the DNS service IP), which every cluster has."""
    from rpds import HashTrieMap

    first = cfg.service_cidr.network_address + 1
    kubernetes = api.parse_service({
        "metadata": {"name": "kubernetes", "namespace": "default"},
        "spec": {"clusterIP": str(first), "ports": [{"name": "https", "port": 443, "targetPort": 443}]},
    })
    dns = api.parse_service({
        "metadata": {"name": "kube-dns", "namespace": "kube-system"},
        "spec": {"clusterIP": str(cfg.dns_service_ip), "ports": [
            {"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53},
            {"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": 53}]},
    })
    return HashTrieMap({
        kubernetes.key: ServiceEntry(kubernetes, None, -2),
        dns.key: ServiceEntry(dns, (("k8s-app", "kube-dns"),), -1),
    })


def rehome(entries: Any, old_cfg: Any, new_cfg: Any) -> Any:
    """The Services of a cluster moved to a new configuration (``with_plugin``): the same
    Services; when the service CIDR changed, ClusterIPs are allocated again in the new one
    (``kubernetes`` and ``kube-dns`` take their fixed addresses)."""
    import dataclasses

    if old_cfg.service_cidr == new_cfg.service_cidr and old_cfg.dns_service_ip == new_cfg.dns_service_ip:
        return entries
    moved = default_services(new_cfg)
    taken = {e.cluster_ip for e in moved.values()}
    for e in sorted(entries.values(), key=lambda e: e.seq):
        if e.key in moved:
            continue
        ip = allocate_cluster_ip(new_cfg.service_cidr, e.spec.namespace, e.spec.name, taken)
        taken.add(ip)
        moved = moved.insert(e.key, dataclasses.replace(e, spec=dataclasses.replace(e.spec, cluster_ips=(ip,))))
    return moved


def new_service(cluster: "Cluster", name: str, selector: Mapping[str, str] | None, ports: Any, type_: str, *,
                namespace: str, external_traffic_policy: str | None, internal_traffic_policy: str,
                session_affinity: str, session_affinity_timeout: int | None, cluster_ip: str | None,
                load_balancer_source_ranges: Sequence[str] | None, external_ips: Sequence[str] | None,
                check_ports: bool = True) -> ServiceEntry:
    """The Service :meth:`netlab.Cluster.add_service` adds to ``cluster``, checked and with its
    addresses and ports allocated (the cluster itself is not changed)."""

    where = f"Service {namespace}/{name}"
    if not isinstance(namespace, str) or len(namespace) > 63 or not _DNS1123_LABEL.match(namespace):
        raise ServiceError(f"{where}: metadata.namespace: Invalid value: {namespace!r}: a namespace is lowercase "
                           "letters, digits and '-', at most 63 characters (for example 'default')")
    if type_ not in ("ClusterIP", "NodePort", "LoadBalancer"):
        raise ServiceError(
            f"{where}: spec.type: Unsupported value: {type_!r}: netlab builds 'ClusterIP', 'NodePort' and "
            "'LoadBalancer' Services (an 'ExternalName' Service is only a DNS alias; kube-proxy writes nothing for it)")
    if not isinstance(name, str) or len(name) > 63 or not _DNS1035.match(name):
        raise ServiceError(
            f"{where}: metadata.name: Invalid value: {name!r}: a Service name must be a DNS-1035 label: lowercase "
            "letters, digits and '-', starting with a letter, at most 63 characters (for example 'web')")
    if cluster.find_service(name, namespace) is not None:
        raise DuplicateError.rerun(f"{where} already exists: Service names are unique within a namespace; "
                                   "pick another name or remove_service() the old one first",
                                   f"add_service({name!r}, ...)", "the Service")
    if selector is not None and (not isinstance(selector, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) and _LABEL.match(k.rpartition("/")[2]) and
            (not v or _LABEL.match(v)) for k, v in selector.items())):
        raise ServiceError(f"{where}: spec.selector: Invalid value: {selector!r}: give a dict of label keys and "
                           "values (letters, digits, '-', '_', '.'), such as {'app': 'web'}")
    for what, value in (("loadBalancerSourceRanges", load_balancer_source_ranges), ("externalIPs", external_ips)):
        if isinstance(value, str):
            raise ServiceError(f"{where}: spec.{what}: give a list, such as [{value!r}]")
        if value is not None and not all(isinstance(v, str) for v in value):
            raise ServiceError(f"{where}: spec.{what}: Invalid value: {list(value)!r}: give addresses as text, "
                               "such as ['203.0.113.0/25']")
    if ports is None:
        raise ServiceError(f"{where}: spec.ports: Required value; a Service needs at least one port, e.g. ports=[80]")
    try:
        port_dicts = normalise_ports(ports)
    except ServiceError as err:  # say which Service, as the other checks do
        raise ServiceError(f"{where}: {err}") from None
    cfg = cluster.config
    taken_ips = {e.cluster_ip for e in cluster.service_records()}
    if cluster_ip is None:
        ip = allocate_cluster_ip(cfg.service_cidr, namespace, name, taken_ips)
    else:
        try:
            ip = ipaddress.IPv4Address(str(cluster_ip))
        except ValueError:
            raise ServiceError(f"{where}: spec.clusterIP: Invalid value: {cluster_ip!r}: must be a valid IP address, "
                               "e.g. 10.0.0.50") from None
        if ip not in cfg.service_cidr or ip in (cfg.service_cidr.network_address, cfg.service_cidr.broadcast_address):
            raise ServiceError(
                f"{where}: spec.clusterIPs: Invalid value: [\"{ip}\"]: failed to allocate IP {ip}: provided IP is not "
                f"in the valid range. The range of valid IPs is {cfg.service_cidr}; pick an address inside it or "
                "leave cluster_ip out to have one allocated")
        if ip in taken_ips:
            owner = next(e for e in cluster.service_records() if e.cluster_ip == ip)
            raise ServiceError(
                f"{where}: spec.clusterIPs: Invalid value: [\"{ip}\"]: failed to allocate IP {ip}: provided IP is "
                f"already allocated (to Service {owner.spec.namespace}/{owner.spec.name}); pick another or leave "
                "cluster_ip out")
    stype = str(type_)
    taken_ports: dict[int, str] = {}
    for e in cluster.service_records():
        for p in e.spec.ports:
            if p.node_port:
                taken_ports[p.node_port] = f"{e.spec.namespace}/{e.spec.name}"
        if e.spec.health_check_node_port:
            taken_ports[e.spec.health_check_node_port] = f"{e.spec.namespace}/{e.spec.name}"
    external = stype in ("NodePort", "LoadBalancer")
    for i, d in enumerate(port_dicts):
        if not external:
            continue
        np_ = d.get("nodePort")
        if np_ is None:
            np_ = allocate_node_port(namespace, name, f"{i}", set(taken_ports))
            d["nodePort"] = np_
        elif isinstance(np_, int) and np_ in taken_ports:
            raise ServiceError(
                f"{where}: spec.ports[{i}].nodePort: Invalid value: {np_}: provided port is already allocated "
                f"(to Service {taken_ports[np_]}); pick another in {NODE_PORT_RANGE[0]}-{NODE_PORT_RANGE[1]} or leave "
                "it out to have one allocated")
        if isinstance(np_, int):
            taken_ports[np_] = f"{namespace}/{name}"
    spec: dict[str, Any] = {"type": stype, "clusterIP": str(ip), "ports": port_dicts,
                            "internalTrafficPolicy": internal_traffic_policy, "sessionAffinity": session_affinity}
    if external_traffic_policy is not None:
        spec["externalTrafficPolicy"] = external_traffic_policy
    if session_affinity == "ClientIP" or session_affinity_timeout is not None:
        spec["sessionAffinityConfig"] = {"clientIP": {"timeoutSeconds": session_affinity_timeout}}
    if load_balancer_source_ranges:
        spec["loadBalancerSourceRanges"] = list(load_balancer_source_ranges)
    if external_ips:
        spec["externalIPs"] = list(external_ips)
    status: dict[str, Any] = {}
    if stype == "LoadBalancer":
        taken_lb = {ip for e in cluster.service_records() for ip in e.spec.load_balancer_ips}
        status = {"loadBalancer": {"ingress": [{"ip": str(allocate_lb_ip(namespace, name, taken_lb))}]}}
        if external_traffic_policy == "Local":
            spec["healthCheckNodePort"] = allocate_node_port(namespace, name, "health", set(taken_ports))
    if load_balancer_source_ranges and stype != "LoadBalancer":
        raise ServiceError(f"{where}: spec.loadBalancerSourceRanges: Forbidden: may only be used when `type` is "
                           "'LoadBalancer'; remove it or make the Service a LoadBalancer")
    parsed = api.parse_service({"metadata": {"name": name, "namespace": namespace}, "spec": spec, "status": status})
    seq = max((e.seq for e in cluster.service_records()), default=0) + 1
    entry = ServiceEntry(parsed, tuple(sorted((str(k), str(v)) for k, v in selector.items())) if selector else (), seq)
    if check_ports:
        check_named_ports(entry, cluster.pods_selected(entry.spec.namespace, entry.selector or ()))
    return entry


def _ports_text(s: api.Service) -> str:
    out = []
    for p in s.ports:
        out.append(f"{p.port}:{p.node_port}/{p.protocol}" if p.node_port else f"{p.port}/{p.protocol}")
    return ",".join(out)


def format_get_svc(cluster: "Cluster", namespace: str | None, all_namespaces: bool, wide: bool = True) -> str:
    """``kubectl get svc -o wide``; ``wide=False``: ``kubectl get svc`` (no SELECTOR column)."""
    from ..model.routing import format_kubectl

    entries = [e for e in cluster.service_records() if all_namespaces or e.spec.namespace == namespace]
    if not entries:
        return f"No resources found in {namespace} namespace." if not all_namespaces else "No resources found"
    rows = []
    for e in entries:
        s = e.spec
        ext = ",".join(str(ip) for ip in (*s.load_balancer_ips, *s.external_ips)) or (
            "<pending>" if s.type is api.ServiceType.LOAD_BALANCER else "<none>")
        sel = ",".join(f"{k}={v}" for k, v in e.selector) if e.selector else "<none>"
        row = [s.name, s.type.value, str(e.cluster_ip), ext, _ports_text(s), _age(cluster, e)] + ([sel] if wide else [])
        if all_namespaces:
            row.insert(0, s.namespace)
        rows.append(row)
    headers = ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"] + (["SELECTOR"] if wide else [])
    if all_namespaces:
        headers.insert(0, "NAMESPACE")
    return format_kubectl(headers, rows)


def _age(cluster: "Cluster", e: ServiceEntry) -> str:
    return "1h" if e.seq < 0 else f"{max((x.seq for x in cluster.service_records()), default=0) - e.seq + 1}m"


def format_get_endpointslices(cluster: "Cluster", namespace: str | None, all_namespaces: bool) -> str:
    """``kubectl get endpointslices``: NAME ADDRESSTYPE PORTS ENDPOINTS AGE."""
    from ..model.routing import format_kubectl

    rows = []
    for item in cluster.api_objects()["items"]:
        if item["kind"] != "EndpointSlice":
            continue
        ns = item["metadata"]["namespace"]
        if not all_namespaces and ns != namespace:
            continue
        ports = ",".join(str(p["port"]) for p in item["ports"]) or "<unset>"
        addrs = [a for ep in item["endpoints"] for a in ep["addresses"]]
        eps = ",".join(addrs[:3]) + (f" + {len(addrs) - 3} more..." if len(addrs) > 3 else "") or "<unset>"
        svc = cluster.find_service(item["metadata"]["labels"]["kubernetes.io/service-name"], ns)
        row = [item["metadata"]["name"], item["addressType"], ports, eps, _age(cluster, svc) if svc else "1h"]
        if all_namespaces:
            row.insert(0, ns)
        rows.append(row)
    if not rows:
        return f"No resources found in {namespace} namespace." if not all_namespaces else "No resources found"
    headers = ["NAME", "ADDRESSTYPE", "PORTS", "ENDPOINTS", "AGE"]
    if all_namespaces:
        headers.insert(0, "NAMESPACE")
    return format_kubectl(headers, rows)


class ServiceView:
    """One Service of a cluster."""

    def __init__(self, cluster: "Cluster", entry: ServiceEntry) -> None:
        self._c, self.entry = cluster, entry

    spec = property(lambda self: self.entry.spec)
    name = property(lambda self: self.entry.spec.name)
    namespace = property(lambda self: self.entry.spec.namespace)
    type = property(lambda self: self.entry.spec.type)
    cluster_ip = property(lambda self: self.entry.cluster_ip)
    ports = property(lambda self: self.entry.spec.ports)
    selector = property(lambda self: dict(self.entry.selector or ()))

    @property
    def load_balancer_ip(self) -> IPv4Address | None:
        ips = self.entry.spec.load_balancer_ips
        return ips[0] if ips else None  # type: ignore[return-value]

    @property
    def endpoints(self) -> list[str]:
        """``IP:port`` of every endpoint, from the Service's EndpointSlices."""
        out = []
        for item in endpoint_slices(self._c, self.entry):
            for ep in item["endpoints"]:
                for p in item["ports"]:
                    out.append(f"{ep['addresses'][0]}:{p['port']}")
        return sorted(set(out))

    def __repr__(self) -> str:
        return (f"<Service {self.namespace}/{self.name} {self.type.value} {self.cluster_ip} "
                f"{_ports_text(self.entry.spec)}, {len(self.endpoints)} endpoint(s)>")
