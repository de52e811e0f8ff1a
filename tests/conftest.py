import pytest

import netlab as nl


@pytest.fixture
def kubenet2():
    """Two kubenet nodes: web-0 (nginx on 80, a log shipper) and web-1 on node 0, api-0 on node 1."""
    return (
        nl.Cluster.aks("kubenet", nodes=2)
        .add_pod("web-0", node=0, labels={"app": "web"},
                 containers=[nl.Container("nginx", ports=[80]), nl.Container("log-shipper")])
        .add_pod("web-1", node=0, labels={"app": "web"}, containers=[nl.Container("nginx", ports=[80])])
        .add_pod("api-0", node=1, labels={"app": "api"}, containers=[nl.Container("api", ports=[8080])])
    )

