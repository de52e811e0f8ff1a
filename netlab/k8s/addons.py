"""Add-ons AKS runs in ``kube-system``: CoreDNS, the DNS server behind the ``kube-dns`` Service.

Every netlab cluster has the Service ``kube-system/kube-dns`` at the DNS service IP
(``10.0.0.10``), as every AKS cluster does; pods send their DNS queries there (their
``/etc/resolv.conf`` names it). The pods behind it are CoreDNS's: a Deployment ``coredns``
whose pods carry the label ``k8s-app=kube-dns`` (the Service's selector) and run one container
``coredns`` listening on 53/UDP (``dns``), 53/TCP (``dns-tcp``) and 9153/TCP (``metrics``, the
Prometheus endpoint), as in Kubernetes' own CoreDNS manifest
(``cluster/addons/dns/coredns/coredns.yaml.base``). AKS runs two replicas at least (an
autoscaler adds more in large clusters).

netlab does not add CoreDNS by itself: its pods would take the first pod addresses on the
nodes and shift every address the course prints. Until :func:`add_coredns` (or
:meth:`netlab.Cluster.add_coredns`) is called, ``kube-dns`` has no endpoints and kube-proxy
rejects DNS traffic to it.

Names are shaped as the controllers make them: the Deployment's ReplicaSet is
``coredns-<pod-template-hash>`` and its pods ``coredns-<pod-template-hash>-<5 characters>``
(:func:`netlab.model.naming.pod_template_hash`, :func:`netlab.model.naming.random_suffix`).

Placement: the scheduler spreads a Deployment's replicas over nodes (``PodTopologySpread``'s
default constraints; CoreDNS also asks for it) and, among equally good nodes, prefers the
least loaded one (``NodeResourcesFit``, least allocated). netlab applies that rule to pods
that request the same resources: each replica goes to the node with the fewest CoreDNS
replicas, then the fewest pods, then the lowest index, skipping nodes that are full. On an
empty cluster that is round-robin from node 0.

Example:
    >>> import netlab as nl
    >>> c = nl.Cluster.aks("kubenet", nodes=2).add_pod("web-0")
    >>> c = c.add_coredns()
    >>> c.services["kube-system/kube-dns"].endpoints
    ['10.244.0.3:53', '10.244.1.2:53']
    >>> c.trace("web-0", "kube-system/kube-dns", port=53, protocol="udp").verdict
    <Verdict.DELIVERED: 'delivered'>

Taught in ``notebooks/07-services.ipynb`` (Services; DNS is one of them).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..model import naming
from ..errors import ConfigError, DuplicateError
from ..model.types import Container, ContainerPort

if TYPE_CHECKING:
    from ..cluster.core import Cluster

NAMESPACE = "kube-system"
DEPLOYMENT = "coredns"
#: The label the ``kube-dns`` Service selects.
SELECTOR = ("k8s-app", "kube-dns")
#: AKS's minimum number of CoreDNS replicas.
DEFAULT_REPLICAS = 2


def coredns_container() -> Container:
    """CoreDNS's container, with the ports of the upstream manifest.

    >>> [(p.port, p.protocol, p.name) for p in coredns_container().ports]
    [(53, 'UDP', 'dns'), (53, 'TCP', 'dns-tcp'), (9153, 'TCP', 'metrics')]
    """
    return Container("coredns", ports=[ContainerPort(53, "dns", "UDP"), ContainerPort(53, "dns-tcp", "TCP"),
                                       ContainerPort(9153, "metrics", "TCP")])


def replicaset_name() -> str:
    """``coredns-<pod-template-hash>``: the ReplicaSet the Deployment controller makes.

    >>> replicaset_name()
    'coredns-6445b85ff'
    """
    return f"{DEPLOYMENT}-{naming.pod_template_hash(NAMESPACE, DEPLOYMENT)}"


def pod_names(cluster: str, resource_group: str, replicas: int) -> list[str]:
    """The replicas' names, ``coredns-<hash>-<suffix>``, the suffixes derived from the cluster and the index.

    >>> pod_names("netlab", "netlab-rg", 2)
    ['coredns-6445b85ff-88h6d', 'coredns-6445b85ff-xt52g']
    """
    names: list[str] = []
    for i in range(replicas):
        attempt = 0
        while True:  # the controller retries a name that is taken; so does netlab
            name = f"{replicaset_name()}-{naming.random_suffix(resource_group, cluster, DEPLOYMENT, str(i), str(attempt))}"
            if name not in names:
                break
            attempt += 1
        names.append(name)
    return names


def place_replicas(pods_per_node: Sequence[int], capacity: int, replicas: int,
                   replicas_per_node: Sequence[int] | None = None) -> list[int]:
    """The node each replica goes to: fewest replicas there, then fewest pods, then lowest index.

    Nodes with ``capacity`` pods are skipped while another node has room; when none has,
    the choice falls on a full node and adding the pod raises :class:`~netlab.NodeFullError`.

    >>> place_replicas([0, 0, 0], 110, 2)
    [0, 1]
    >>> place_replicas([1, 0], 110, 3)  # node 0 already runs a pod: node 1 first
    [1, 0, 1]
    >>> place_replicas([3], 110, 2)  # one node takes both
    [0, 0]
    """
    pods = list(pods_per_node)
    mine = list(replicas_per_node) if replicas_per_node is not None else [0] * len(pods)
    chosen = []
    for _ in range(replicas):
        candidates = [n for n in range(len(pods)) if pods[n] < capacity] or list(range(len(pods)))
        n = min(candidates, key=lambda n: (mine[n], pods[n], n))
        chosen.append(n)
        mine[n] += 1
        pods[n] += 1
    return chosen


def add_coredns(cluster: "Cluster", replicas: int = DEFAULT_REPLICAS) -> "Cluster":
    """See :meth:`netlab.Cluster.add_coredns`."""
    if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 1:
        raise ConfigError(f"add_coredns(replicas={replicas!r}): the CoreDNS Deployment needs a whole number of "
                          "replicas, 1 or more (AKS runs at least 2, so that DNS survives losing a node)")
    running = sorted(pod.name for pod in cluster.pods_selected(NAMESPACE, [SELECTOR]))
    if running:
        raise DuplicateError.rerun(
            f"CoreDNS already runs in this cluster ({', '.join('kube-system/' + n for n in running)}): "
            "add_coredns() adds the Deployment once; to change the number of replicas, start from a cluster "
            "without it", "add_coredns()", "CoreDNS", new="with_dns")
    cfg = cluster.config
    counts = [len(node.pods) for node in cluster.node_records()]
    nodes = place_replicas(counts, cfg.max_pods, replicas)
    labels = {SELECTOR[0]: SELECTOR[1], "pod-template-hash": naming.pod_template_hash(NAMESPACE, DEPLOYMENT)}
    for name, node in zip(pod_names(cfg.name, cfg.resource_group, replicas), nodes):
        cluster = cluster.add_pod(name, node=node, labels=labels, containers=[coredns_container()],
                                  namespace=NAMESPACE)
    return cluster
