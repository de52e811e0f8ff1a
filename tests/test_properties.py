"""Invariants over random clusters (hypothesis)."""

import ipaddress

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import netlab as nl

PLUGINS = ["kubenet", "azure-cni", "azure-cni-overlay", "none"]


@st.composite
def clusters(draw, plugins=PLUGINS):
    plugin = draw(st.sampled_from(plugins))
    nodes = draw(st.integers(1, 5))
    max_pods = draw(st.integers(10, 40))
    mode = draw(st.sampled_from(["transparent", "bridge"])) if plugin == "azure-cni" else "transparent"
    c = nl.Cluster.aks(plugin, nodes=nodes, max_pods=max_pods, cni_mode=mode)
    count = draw(st.integers(1, 10))  # max_pods is at least 10
    for i in range(count):
        c = c.add_pod(f"p{i}", node=draw(st.integers(0, nodes - 1)))
    removals = draw(st.lists(st.integers(0, count - 1), max_size=3, unique=True))
    for r in removals[: count - 1]:
        c = c.remove_pod(f"p{r}")
    return c


# The hypothesis profile is set once for the whole suite, in conftest.py.


@given(clusters(["kubenet", "azure-cni", "azure-cni-overlay"]))
def test_addresses_are_unique(c):
    addrs = [p.ip for p in c.pods.values()] + [n.ip for n in c.nodes]
    assert len(addrs) == len(set(addrs))


@given(clusters())
def test_every_address_is_inside_the_range_its_plugin_says(c):
    cfg = c.config
    for n in c.nodes:
        assert n.ip in cfg.subnet_cidr
        assert int(n.ip) - int(cfg.subnet_cidr.network_address) >= 4  # Azure keeps .0-.3
    for p in c.pods.values():
        node = p.node
        if cfg.plugin is nl.Plugin.AZURE_CNI:
            assert p.ip in cfg.subnet_cidr
            assert int(node.ip) < int(p.ip) <= int(node.ip) + cfg.max_pods
        elif cfg.plugin is nl.Plugin.NONE:
            assert p.ip in ipaddress.IPv4Network("172.17.0.0/16")
        else:
            assert p.ip in node.pod_cidr and p.ip in cfg.pod_cidr
            assert p.ip != node.pod_cidr.network_address + 1  # the bridge's gateway


@given(clusters(["kubenet", "azure-cni", "azure-cni-overlay"]))
def test_every_pod_reaches_every_other_pod(c):
    pods = list(c.pods)
    for a in pods:
        for b in pods:
            t = c.trace(a, b)
            # it arrives; whether it is answered depends on a listener (a closed port is refused)
            assert t.verdict in (nl.Verdict.DELIVERED, nl.Verdict.REFUSED), str(t)
            assert (t.verdict is nl.Verdict.DELIVERED) == (t.listener is not None)
            assert t.delivered_to.startswith(f"pod {b.split('/')[-1]} ")
            assert not t.nat  # pod-to-pod keeps the pod's own address


@given(clusters(["none"]))
def test_none_plugin_never_delivers_across_nodes(c):
    pods = list(c.pods.values())
    for a in pods:
        for b in pods:
            t = c.trace(a.name, b.name)
            if a.node.index == b.node.index:
                assert t.verdict in (nl.Verdict.DELIVERED, nl.Verdict.REFUSED)
            else:
                assert t.verdict in (nl.Verdict.DROPPED, nl.Verdict.MISDELIVERED)


@given(clusters())
def test_routes_of_each_node_are_sorted_and_unique(c):
    for n in c.nodes:
        lines = n.ip_route().splitlines()
        assert len(lines) == len(set(lines))
        assert lines[0].startswith("default via ")


@given(clusters(["kubenet", "azure-cni", "azure-cni-overlay"]))
def test_switching_plugin_and_back_restores_addresses(c):
    other = "azure-cni" if c.plugin is not nl.Plugin.AZURE_CNI else "kubenet"
    back = c.with_plugin(other).with_plugin(c.plugin.value, max_pods=c.config.max_pods)
    # pods are re-addressed in creation order, so after removals addresses may compact
    assert sorted(back.pods) == sorted(c.pods)
    assert {k: v.node.index for k, v in back.pods.items()} == {k: v.node.index for k, v in c.pods.items()}


_CHANGES = [
    lambda c: c.add_pod("extra"),
    lambda c: c.add_node(),
    lambda c: c.add_service("extra", selector={"app": "a"}, ports=[80]),
    lambda c: c.with_proxy_mode("nftables"),
    lambda c: c.remove_pod("p-0"),
]


@given(plugin=st.sampled_from(["none", "kubenet", "azure-cni", "azure-cni-overlay"]),
       nodes=st.integers(1, 3), pods=st.integers(1, 4), change=st.sampled_from(range(len(_CHANGES))))
def test_equal_descriptions_give_equal_clusters_and_any_change_an_unequal_one(plugin, nodes, pods, change):
    def build():
        c = nl.Cluster.aks(plugin, nodes=nodes)
        for i in range(pods):
            c = c.add_pod(f"p-{i}", node=i % nodes, labels={"app": "a"})
        return c.add_service("web", selector={"app": "a"}, ports=[80])

    a, b = build(), build()
    assert a == b and a is not b
    assert _CHANGES[change](a) != a
