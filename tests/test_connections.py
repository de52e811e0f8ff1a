"""A second connection from the same client, traced after the first (``after=``): ClientIP session affinity
keeps it on the first one's endpoint in every proxy mode, exactly as kube-proxy's own rules do when the client
already has an affinity entry (``kubeproxy.trace_flow(affinity=...)``); without affinity it is a fresh choice."""

import pytest

import netlab as nl
from netlab import kubeproxy as kp
from netlab.errors import ConfigError

from test_hop_views import cluster

MODES = ["iptables", "nftables", "ipvs", "userspace"]


def three_endpoints(mode: str) -> nl.Cluster:
    return cluster("kubenet", "transparent", mode).add_pod(
        "web-2", node=1, labels={"app": "web"}, containers=[nl.Container("w", ports=[8080])])


def rules_say(c: nl.Cluster, mode: str, client, affinity: str) -> set[str]:
    """The endpoints kube-proxy's rules on the client's node allow, given the client's affinity entry."""
    items = c.api_objects()["items"]
    services = [o for o in items if o["kind"] == "Service"]
    slices = [o for o in items if o["kind"] == "EndpointSlice"]
    flow = kp.trace_flow(mode, services, slices, c.proxy_config(0), source=client,
                         destination=c.services["sticky"].cluster_ip, port=80, affinity=affinity)
    return {b.endpoint for b in flow.branches}


@pytest.mark.parametrize("mode", MODES)
def test_client_ip_affinity_holds_for_the_next_connection_as_the_rules_say(mode):
    c = three_endpoints(mode)
    firsts = set()
    for seed in range(8):
        first = c.trace("client", "sticky", seed=seed)
        firsts.add(first.endpoint)
        second = c.trace("client", "sticky", seed=seed + 100, after=first)
        third = c.trace("client", "sticky", seed=seed + 200, after=second)
        assert second.endpoint == third.endpoint == first.endpoint
        assert rules_say(c, mode, first.hops[0].packet.src, first.endpoint) == {first.endpoint}
        assert second.hops[0].packet.sport != first.hops[0].packet.sport  # a new connection, a new port
        assert second.previous is first
    assert len(firsts) > 1  # the first choice is a real choice


@pytest.mark.parametrize("mode", MODES)
def test_without_affinity_the_next_connection_chooses_again(mode):
    c = three_endpoints(mode)
    seen = {c.trace("client", "web", seed=s + 100, after=c.trace("client", "web", seed=s)).endpoint
            for s in range(12)}
    assert len(seen) > 1


def test_both_connections_show_in_conntrack():
    c = three_endpoints("iptables")
    first = c.trace("client", "sticky")
    second = c.trace("client", "sticky", after=first)
    out = c.run("conntrack -L", on=0, after=second).splitlines()
    assert out[-1].endswith("2 flow entries have been shown.")
    assert f"sport={first.hops[0].packet.sport} " in out[0] and f"sport={second.hops[0].packet.sport} " in out[1]


def test_after_needs_the_same_client():
    c = three_endpoints("iptables")
    first = c.trace("client", "sticky")
    with pytest.raises(ConfigError, match="trace from the same source"):
        c.trace("web-1", "sticky", after=first)
    with pytest.raises(ConfigError, match="give the trace"):
        c.trace("client", "sticky", after="first")


@pytest.mark.parametrize("mode", MODES)
def test_after_works_where_no_service_keeps_affinity(mode):
    c = (nl.Cluster.aks("kubenet", nodes=2).add_pod("web-0", node=0, labels={"app": "web"}, containers=[
         nl.Container("w", ports=[8080])]).add_pod("client", node=1)
         .add_service("web", selector={"app": "web"}, ports=[{"port": 80, "targetPort": 8080}]).with_proxy_mode(mode))
    first = c.trace("client", "web:80")
    assert c.trace("client", "web:80", after=first).delivered


def test_a_port_given_twice_must_agree():
    c = three_endpoints("iptables")
    with pytest.raises(ConfigError, match="give the port once"):
        c.trace("client", "web:80", port=81)
    assert c.trace("client", "web:80", port=80).delivered
