"""The model: what a cluster is made of, as immutable values, and the rules that give them addresses.

Owns the value types (:mod:`.types`: nodes, pods, containers, interfaces, routes, the cluster's
settings), address management as AKS does it (:mod:`.ipam`), the names Kubernetes and AKS generate
(:mod:`.naming`), route tables and longest-prefix match (:mod:`.routing`), netfilter rules as data
with their evaluator (:mod:`.netfilter`) and the catalogue of node images (:mod:`.images`).
Imports nothing of netlab but :mod:`netlab.errors`; everything else builds on it.
"""

from .types import (  # netlab.model.<name> stays the public path
    IPv4Address,
    IPv4Network,
    IPv4Interface,
    Plugin,
    CniMode,
    ProxyMode,
    Verdict,
    ContainerPort,
    PortLike,
    Container,
    check_pod_ports,
    Pod,
    Node,
    ClusterConfig,
    Interface,
    Route,
    AzureRoute,
)

__all__ = [
    "IPv4Address",
    "IPv4Network",
    "IPv4Interface",
    "Plugin",
    "CniMode",
    "ProxyMode",
    "Verdict",
    "ContainerPort",
    "PortLike",
    "Container",
    "check_pod_ports",
    "Pod",
    "Node",
    "ClusterConfig",
    "Interface",
    "Route",
    "AzureRoute",
]
