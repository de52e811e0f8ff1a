import pytest
from hypothesis import HealthCheck, settings

import netlab as nl

# One hypothesis profile for every test file, set before any test is collected, so that the number
# of examples does not depend on which file pytest happens to import first. Derandomized: CI reruns
# the same examples.
settings.register_profile("netlab", deadline=None, max_examples=60, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("netlab")

# The files whose tests take longest, first: with pytest-xdist's two workers (pyproject.toml, --dist
# loadfile) the Binder simulation and the browser test start at once, side by side, and the short
# tests fill in around them. Each file keeps its own order.
LONGEST_FIRST = ("binder", "wheel", "browser", "slow", "kernel")


def pytest_collection_modifyitems(items):
    rank: dict[str, int] = {}
    for item in items:
        mine = next((i for i, m in enumerate(LONGEST_FIRST) if item.get_closest_marker(m)), len(LONGEST_FIRST))
        rank[item.nodeid.split("::")[0]] = min(mine, rank.get(item.nodeid.split("::")[0], mine))
    items.sort(key=lambda item: rank[item.nodeid.split("::")[0]])


def poll_in_slices(step: float = 0.5) -> None:
    """Make jupyter_client's asyncio channels wait for a message in slices of ``step`` seconds.

    nbclient answers an Output widget's output with a comm message on the shell socket while it is
    waiting on that socket for the cell's execute_reply; the reply can then arrive without waking the
    wait (a timing-dependent race in nbclient), which then ends only at the cell's timeout (600 s here:
    measured, a notebook with an explorer took 606 s instead of 4 s while the machine was busy). A
    wait in slices looks again every ``step`` seconds, up to the same deadline. tests/test_binder.py
    does the same in the Binder environment's interpreter."""
    from queue import Empty
    import time

    from jupyter_client.channels import AsyncZMQSocketChannel

    whole = AsyncZMQSocketChannel.get_msg
    if getattr(whole, "sliced", False):
        return

    async def get_msg(self, timeout=None):
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = step if deadline is None else min(step, max(0.0, deadline - time.monotonic()))
            try:
                return await whole(self, timeout=left)
            except Empty:
                if deadline is not None and time.monotonic() >= deadline:
                    raise

    get_msg.sliced = True
    AsyncZMQSocketChannel.get_msg = get_msg


@pytest.fixture(autouse=True, scope="session")
def _nbclient_waits_in_slices():
    """Every notebook the tests execute with nbclient in this process (tests/test_rerun.py) waits in slices."""
    poll_in_slices()


@pytest.fixture
def kubenet2():
    """Two kubenet nodes: web-0 (nginx on 80, a log shipper) and web-1 on node 0, api-0 on node 1."""
    from netlab import scenarios  # the same cluster everywhere it is used (netlab/scenarios.py)

    return scenarios.kubenet_two_nodes()

