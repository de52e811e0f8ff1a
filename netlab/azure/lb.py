"""The Azure Standard Load Balancer AKS keeps for LoadBalancer Services, as the cloud provider sets it up.

AKS's cloud provider (cloud-provider-azure) puts every public LoadBalancer Service on
one load balancer named ``kubernetes``, backend pool ``kubernetes`` (all nodes):

* frontend IP configuration ``("a" + Service UID without dashes)[:32]``, public IP
  ``kubernetes-<frontend>``;
* one load-balancing rule per Service port, ``<frontend>-<PROTOCOL>-<port>``: frontend
  port = backend port = the Service port, **floating IP on** (the packet reaches the node
  with the load balancer's IP still as its destination, and kube-proxy's rules for that
  IP take it from there), idle timeout 4 minutes, TCP reset on, outbound SNAT off;
* health probes: ``externalTrafficPolicy: Cluster`` gets a TCP probe on the port's
  NodePort (any node forwards); ``Local`` gets one HTTP probe ``/healthz`` on the
  ``healthCheckNodePort``, which kube-proxy answers 200 only on nodes that run an
  endpoint, so the load balancer sends traffic only to those nodes. Interval 5 s, 2 probes;
* outbound: rule ``aksOutboundRule`` with its own backend pool ``aksOutboundBackendPool``.

Example:
    >>> import netlab as nl
    >>> c = nl.Cluster.aks("kubenet", nodes=2).add_service("web", ports=[80], type="LoadBalancer")
    >>> rule = load_balancing_rules(c)[0]
    >>> rule.name.endswith("-TCP-80"), rule.floating_ip
    (True, True)
"""

from __future__ import annotations

import hashlib
import ipaddress
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..model import naming
from ..model.routing import format_table
from ..k8s.services import endpoint_slices

if TYPE_CHECKING:
    from ..cluster.core import Cluster

LB_NAME = "kubernetes"
BACKEND_POOL = "kubernetes"
OUTBOUND_RULE = "aksOutboundRule"
OUTBOUND_PUBLIC_IP = ipaddress.IPv4Address("203.0.113.10")  # the outbound rule's public IP (RFC 5737 range)
OUTBOUND_POOL = "aksOutboundBackendPool"


def service_uid(namespace: str, name: str) -> str:
    """A deterministic Kubernetes-style UID (``8-4-4-4-12`` hex) for a Service."""
    h = hashlib.sha256(f"uid/{namespace}/{name}".encode()).hexdigest()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:32]}"


def frontend_name(entry: Any) -> str:
    """``DefaultLoadBalancerName``: ``"a"`` + the UID without dashes, cut to 32 characters."""
    return ("a" + service_uid(entry.spec.namespace, entry.spec.name).replace("-", ""))[:32]


@dataclass(frozen=True, slots=True)
class Probe:
    name: str
    protocol: str  # Tcp, Http
    port: int
    request_path: str | None = None
    interval: int = 5
    number_of_probes: int = 2


@dataclass(frozen=True, slots=True)
class LbRule:
    name: str
    service: tuple[str, str]
    frontend: str
    frontend_ip: Any
    protocol: str  # Tcp, Udp
    frontend_port: int
    backend_port: int
    probe: Probe | None
    floating_ip: bool = True
    idle_timeout: int = 4
    tcp_reset: bool = True
    disable_outbound_snat: bool = True


def _lb_entries(cluster: "Cluster") -> list[Any]:
    return [e for e in cluster.service_records() if e.spec.load_balancer_ips]


def load_balancing_rules(cluster: "Cluster") -> tuple[LbRule, ...]:
    """One rule per port of every LoadBalancer Service."""
    out = []
    for e in _lb_entries(cluster):
        fe = frontend_name(e)
        local = e.spec.external_traffic_policy is not None and e.spec.external_traffic_policy.value == "Local"
        for p in e.spec.ports:
            name = f"{fe}-{p.protocol}-{p.port}"
            if local:
                probe: Probe | None = Probe(f"{fe}-TCP-{e.spec.health_check_node_port}", "Http",
                                           e.spec.health_check_node_port, "/healthz")
            elif p.protocol == "TCP":
                probe = Probe(name, "Tcp", p.node_port)
            else:
                probe = None  # the cloud provider adds no probe for UDP or SCTP ports
            out.append(LbRule(name, e.key, fe, e.spec.load_balancer_ips[0], p.protocol.capitalize(),
                              p.port, p.port, probe))
    return tuple(out)


def rule_for(cluster: "Cluster", ip: Any, port: int, protocol: str) -> LbRule | None:
    for r in load_balancing_rules(cluster):
        if r.frontend_ip == ip and r.frontend_port == port and r.protocol.lower() == protocol.lower():
            return r
    return None


def healthy_nodes(cluster: "Cluster", rule: LbRule) -> list[tuple[Any, bool, str]]:
    """``(node, healthy, why)`` for every node of the backend pool, as the rule's probe sees them."""
    entry = cluster.find_service(rule.service[1], rule.service[0])
    probe = rule.probe
    out = []
    endpoints_by_node: dict[str, int] = {}

    for sl in endpoint_slices(cluster, entry):
        for ep in sl["endpoints"]:
            if ep.get("nodeName"):
                endpoints_by_node[ep["nodeName"]] = endpoints_by_node.get(ep["nodeName"], 0) + 1
    any_endpoint = bool(endpoints_by_node)
    for n in range(cluster.node_count):
        node = cluster.node_record(n)
        if probe is None:
            out.append((node, True, "no probe (UDP): always in rotation"))
        elif probe.protocol == "Http":
            k = endpoints_by_node.get(node.name, 0)
            out.append((node, k > 0, f"HTTP {probe.port}{probe.request_path}: "
                        + (f"200, {k} local endpoint(s)" if k else "503, no local endpoint")))
        else:
            out.append((node, any_endpoint, f"TCP {probe.port}: " + (
                "connects (kube-proxy forwards the NodePort to an endpoint)" if any_endpoint else
                "refused (the Service has no endpoints)")))
    return out


def rule_line(cluster: "Cluster", rule: LbRule) -> str:
    """The row of :func:`format_rules` that holds ``rule``."""
    lines = format_rules(cluster).splitlines()[2:]
    return lines[load_balancing_rules(cluster).index(rule)]


def format_rules(cluster: "Cluster") -> str:
    """``az network lb rule list -g <node resource group> --lb-name kubernetes -o table``."""
    rg = naming.node_resource_group(cluster.config.name, cluster.config.resource_group, cluster.config.location)
    headers = ("BackendPort", "DisableOutboundSnat", "EnableFloatingIP", "EnableTcpReset", "FrontendPort",
               "IdleTimeoutInMinutes", "LoadDistribution", "Name", "Protocol", "ProvisioningState", "ResourceGroup")
    rows = [(str(r.backend_port), str(r.disable_outbound_snat), str(r.floating_ip), str(r.tcp_reset),
             str(r.frontend_port), str(r.idle_timeout), "Default", r.name, r.protocol, "Succeeded", rg)
            for r in load_balancing_rules(cluster)]
    return format_table(headers, rows)


def format_probes(cluster: "Cluster") -> str:
    """``az network lb probe list -g <node resource group> --lb-name kubernetes -o table``."""
    rg = naming.node_resource_group(cluster.config.name, cluster.config.resource_group, cluster.config.location)
    seen: dict[str, Probe] = {}
    for r in load_balancing_rules(cluster):
        if r.probe is not None:
            seen.setdefault(r.probe.name, r.probe)
    headers = ("IntervalInSeconds", "Name", "NumberOfProbes", "Port", "ProbeThreshold", "Protocol",
               "ProvisioningState", "RequestPath", "ResourceGroup")
    rows = [(str(p.interval), p.name, str(p.number_of_probes), str(p.port), str(p.number_of_probes), p.protocol,
             "Succeeded", p.request_path or "", rg) for p in seen.values()]
    return format_table(headers, rows)
