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
    from netlab import scenarios  # the same cluster everywhere it is used (netlab/scenarios.py)

    return scenarios.kubenet_two_nodes()

