import pytest
from hypothesis import HealthCheck, settings

import netlab as nl

# One hypothesis profile for every test file, set before any test is collected, so that the number
# of examples does not depend on which file pytest happens to import first. Derandomized: CI reruns
# the same examples.
settings.register_profile("netlab", deadline=None, max_examples=60, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("netlab")


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

