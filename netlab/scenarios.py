"""The named clusters the course is built on: one pure function each, the same value every call.

The notebooks show their clusters being built step by step (that is the lesson), and
``tests/test_scenarios.py`` runs each notebook's building cells and checks that they give
exactly the cluster named here; the tests' fixtures and the check against the kernel
(:mod:`netlab.linux.agreement`) take their clusters from here too, so "the kernel check covers
every notebook" holds by construction, not by copying.

====================  =========================================================================
function              used by
====================  =========================================================================
``hello_world``       notebook 00
``single_pod``        notebook 01, the kernel check (``01-single-pod``)
``multiple_pods``     notebook 02, the kernel check (``02-multiple-pods``)
``multiple_nodes``    notebook 03, the kernel check (``03-multiple-nodes``)
``kubenet_routing``   notebook 04, the kernel check (``04-kubenet-routing``)
``azure_cni``         notebook 05, the kernel check (``05-azure-cni``)
``web_service``       notebook 07 (its first cluster)
``all_services``      notebook 07 (its last cluster), the kernel check (``07-services``)
``proxy_modes``       notebook 08
``kubenet_two_nodes`` tests/conftest.py's ``kubenet2`` fixture
``shop``              tests/test_services.py's ``shop`` fixture; with ``probes=True``, the kernel
                      check's ``services`` case
``self_hairpin``      the kernel check's ``self-hairpin`` cases
``hairpin_repro``     ``python -m netlab.linux hairpin`` (Azure/AKS issue 5669's reproduction)
====================  =========================================================================

Example:
    >>> from netlab import scenarios
    >>> c = scenarios.kubenet_routing()
    >>> print(c.trace("web-0", "api-0", port=8080).reason)
    delivered to pod api-0 (10.244.1.2)
    >>> scenarios.kubenet_routing() == c  # a new value each call, always the same one
    True
"""

from __future__ import annotations

from .model import images
from .cluster.core import Cluster
from .model.types import Container, ContainerPort

__all__ = ["hello_world", "single_pod", "multiple_pods", "multiple_nodes", "kubenet_routing", "azure_cni",
           "web_service", "all_services", "proxy_modes", "kubenet_two_nodes", "shop", "self_hairpin",
           "hairpin_repro", "NOTEBOOKS"]


def _nginx(port: int | ContainerPort = 80) -> list[Container]:
    return [Container("nginx", ports=[port])]


def hello_world() -> Cluster:
    """Notebook 00: two kubenet nodes, pod ``hello`` on node 0 and pod ``world`` (port 80) on node 1."""
    return (Cluster.aks(plugin="kubenet", nodes=2).add_pod("hello", node=0)
            .add_pod("world", node=1, containers=[Container("web", ports=[80])]))


def single_pod() -> Cluster:
    """Notebook 01: one kubenet node running ``web-0`` (nginx on 80, ``app=web``)."""
    return Cluster.aks(plugin="kubenet", nodes=1).add_pod("web-0", node=0, labels={"app": "web"},
                                                          containers=_nginx())


def multiple_pods() -> Cluster:
    """Notebook 02: one kubenet node; ``web-0`` (nginx and a log shipper), ``web-1`` and ``api-0`` (8080)."""
    web = [Container("nginx", ports=[80]), Container("log-shipper")]
    return (Cluster.aks(plugin="kubenet", nodes=1)
            .add_pod("web-0", labels={"app": "web"}, containers=web)
            .add_pod("web-1", labels={"app": "web"}, containers=_nginx())
            .add_pod("api-0", labels={"app": "api"}, containers=[Container("api", ports=[8080])]))


def multiple_nodes() -> Cluster:
    """Notebook 03: plugin ``none`` on two nodes; ``a`` on node 0, ``b`` and ``c`` on node 1 (port 80 each)."""
    app = [Container("app", ports=[80])]
    return (Cluster.aks(plugin="none", nodes=2)
            .add_pod("a", node=0, containers=app)
            .add_pod("b", node=1, containers=app)
            .add_pod("c", node=1, containers=app))


def kubenet_routing() -> Cluster:
    """Notebook 04: three kubenet nodes; ``web-0`` (80), ``api-0`` (8080), ``db-0`` (5432), one per node."""
    return (Cluster.aks(plugin="kubenet", nodes=3)
            .add_pod("web-0", node=0, labels={"app": "web"}, containers=_nginx())
            .add_pod("api-0", node=1, labels={"app": "api"}, containers=[Container("api", ports=[8080])])
            .add_pod("db-0", node=2, labels={"app": "db"}, containers=[Container("postgres", ports=[5432])]))


def azure_cni() -> Cluster:
    """Notebook 05: three Azure CNI nodes; ``web-0`` (80) on node 0, ``api-0`` (8080) on node 1."""
    return (Cluster.aks(plugin="azure-cni", nodes=3)
            .add_pod("web-0", node=0, labels={"app": "web"}, containers=_nginx())
            .add_pod("api-0", node=1, labels={"app": "api"}, containers=[Container("api", ports=[8080])]))


def _web_pods(nodes: int = 3) -> Cluster:
    web = _nginx(ContainerPort(8080, name="http"))
    return (Cluster.aks(plugin="kubenet", nodes=nodes)
            .add_pod("web-0", node=0, labels={"app": "web"}, containers=web)
            .add_pod("web-1", node=1, labels={"app": "web"}, containers=web))


_HTTP = [{"name": "http", "port": 80, "targetPort": "http"}]
_TO_8080 = [{"port": 80, "targetPort": 8080}]


def web_service() -> Cluster:
    """Notebook 07's first cluster: three kubenet nodes, ``web-0`` and ``web-1`` (port 8080, named
    ``http``) behind the ClusterIP Service ``web``, a ``client`` pod, and CoreDNS behind kube-dns."""
    return (_web_pods().add_pod("client", node=0)
            .add_service("web", selector={"app": "web"}, ports=_HTTP)
            .add_coredns())


def all_services() -> Cluster:
    """Notebook 07's last cluster: :func:`web_service` with the NodePort ``web-np``, the NodePort
    ``web-local`` (``externalTrafficPolicy: Local``), the LoadBalancer ``shop`` (Local) and
    ``nobody`` (a Service that selects no pod), added in that order."""
    return (web_service()
            .add_service("web-np", selector={"app": "web"}, ports=_TO_8080, type="NodePort")
            .add_service("web-local", selector={"app": "web"}, ports=_TO_8080, type="NodePort",
                         external_traffic_policy="Local")
            .add_service("shop", selector={"app": "web"}, ports=_TO_8080, type="LoadBalancer",
                         external_traffic_policy="Local")
            .add_service("nobody", selector={"app": "nothing"}, ports=[80]))


def proxy_modes() -> Cluster:
    """Notebook 08: the pods of :func:`web_service`, the Services ``web`` and ``shop`` (a LoadBalancer,
    Local policy), and CoreDNS."""
    return (_web_pods().add_pod("client", node=0)
            .add_service("web", selector={"app": "web"}, ports=_HTTP)
            .add_service("shop", selector={"app": "web"}, ports=_TO_8080, type="LoadBalancer",
                         external_traffic_policy="Local")
            .add_coredns())


def kubenet_two_nodes() -> Cluster:
    """tests/conftest.py's ``kubenet2``: two kubenet nodes; ``web-0`` (nginx on 80 and a log shipper) and
    ``web-1`` (80) on node 0, ``api-0`` (8080) on node 1."""
    return (Cluster.aks("kubenet", nodes=2)
            .add_pod("web-0", node=0, labels={"app": "web"},
                     containers=[Container("nginx", ports=[80]), Container("log-shipper")])
            .add_pod("web-1", node=0, labels={"app": "web"}, containers=_nginx())
            .add_pod("api-0", node=1, labels={"app": "api"}, containers=[Container("api", ports=[8080])]))


def shop(probes: bool = False, variant: str | None = None) -> Cluster:
    """tests/test_services.py's ``shop``: three kubenet nodes, ``web-0`` and ``web-1`` (8080, ``http``), a
    ``client`` on node 0; the Services ``web`` (ClusterIP), ``web-np`` (NodePort), ``web-local``
    (LoadBalancer, Local policy), ``web-lb`` (LoadBalancer) and ``empty`` (no endpoints).

    ``probes=True`` is the kernel check's version: the clients listen on 7000 (so a flow to them has
    something to answer), and ``api-0`` (8080, node 1) and ``client2`` (node 2) join them. A ``variant``
    re-addresses the pods under that plugin (:func:`with_variant`) before the Services are added, as
    the kernel check does for every plugin, kubenet included.
    """
    c = _web_pods()
    if probes:
        shell = [Container("shell", ports=[7000])]
        c = (c.add_pod("client", node=0, containers=shell)
             .add_pod("api-0", node=1, labels={"app": "api"}, containers=[Container("api", ports=[8080])])
             .add_pod("client2", node=2, containers=shell))
    else:
        c = c.add_pod("client", node=0)
    if variant is not None:
        c = with_variant(c, variant)
    return (c.add_service("web", selector={"app": "web"}, ports=_HTTP)
            .add_service("web-np", selector={"app": "web"}, ports=_TO_8080, type="NodePort")
            .add_service("web-local", selector={"app": "web"}, ports=_TO_8080, type="LoadBalancer",
                         external_traffic_policy="Local")
            .add_service("web-lb", selector={"app": "web"}, ports=_TO_8080, type="LoadBalancer")
            .add_service("empty", selector={"app": "nothing"}, ports=[80]))


def self_hairpin(node_image: str | None = None, variant: str | None = None) -> Cluster:
    """The kernel check's self-hairpin cluster: two kubenet nodes on ``node_image`` (the default
    image if None), ``solo-0`` (8080, node 0) behind the NodePort Service ``solo`` (80 -> 8080), and
    ``other`` (8080, node 1). ``variant`` as in :func:`shop`."""
    web = [Container("nginx", ports=[8080])]
    c = (Cluster.aks("kubenet", nodes=2, node_image=node_image or images.DEFAULT_IMAGE)
         .add_pod("solo-0", node=0, labels={"app": "solo"}, containers=web).add_pod("other", node=1, containers=web))
    if variant is not None:
        c = with_variant(c, variant)
    return c.add_service("solo", selector={"app": "solo"}, ports=_TO_8080, type="NodePort")


def hairpin_repro(hairpin_mode: bool = False) -> Cluster:
    """The smallest cluster where a pod can reach itself through its own Service: one kubenet node,
    ``web-0`` (80) and the Service ``web`` selecting it (Azure/AKS issue 5669's reproduction), with
    the bridge's hairpin mode as given."""
    return (Cluster.aks("kubenet", nodes=1, hairpin_mode=hairpin_mode)
            .add_pod("web-0", labels={"app": "web"}, containers=_nginx())
            .add_service("web", selector={"app": "web"}, ports=[80]))


def with_variant(cluster: Cluster, variant: str) -> Cluster:
    """``cluster`` under a plugin as the kernel check names it (``azure-cni-bridge``: Azure CNI in
    bridge mode; ``azure-cni``: in transparent mode). Always re-addressed, also under its own plugin
    (pods keep their ages; addresses follow the plugin's IPAM)."""
    if variant == "azure-cni-bridge":
        return cluster.with_plugin("azure-cni", cni_mode="bridge")
    if variant == "azure-cni":
        return cluster.with_plugin("azure-cni", cni_mode="transparent")
    return cluster.with_plugin(variant)


# Each notebook's cluster by the notebook's name (07: the cluster its last cells trace).
NOTEBOOKS = {
    "00-start-here": hello_world,
    "01-single-pod": single_pod,
    "02-multiple-pods": multiple_pods,
    "03-multiple-nodes": multiple_nodes,
    "04-kubenet-routing": kubenet_routing,
    "05-azure-cni": azure_cni,
    "07-services": all_services,
    "08-kube-proxy-modes": proxy_modes,
}
