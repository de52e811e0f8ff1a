"""cluster.graph(): the wiring as a networkx graph, checked against the model it is made from."""

import networkx as nx
import pytest
from hypothesis import given, strategies as st

import netlab as nl
from helpers import PLUGINS, with_plugin


def _cluster(plugin, nodes=2, pods=(2, 1)):
    c = nl.Cluster.aks("kubenet", nodes=nodes)
    for i, n in enumerate(pods):
        for k in range(n):
            c = c.add_pod(f"p{i}-{k}", node=i)
    return with_plugin(c, plugin)


@pytest.mark.parametrize("plugin", PLUGINS)
def test_every_pod_reaches_the_vnet_through_its_own_veth_and_its_nodes_nic(plugin):
    c = _cluster(plugin)
    g = c.graph()
    for pod in c.pod_records():
        path = nx.shortest_path(g, f"pod {pod.namespace}/{pod.name}", "vnet")
        host_if = c.pod_dataplane(pod).host_if
        assert path[1] == f"pod {pod.namespace}/{pod.name} eth0"
        assert path[2].endswith(f" {host_if}") and g.nodes[path[2]]["owner"] == f"node {g.nodes[path[0]]['node']}"
        assert path[-2].endswith(" eth0") and g.nodes[path[-2]]["owner"] == g.nodes[path[2]]["owner"]


@pytest.mark.parametrize("plugin", PLUGINS)
def test_one_veth_edge_per_pod_and_one_port_edge_per_enslaved_interface(plugin):
    c = _cluster(plugin)
    g = c.graph()
    kinds = [d["kind"] for _, _, d in g.edges(data=True)]
    assert kinds.count("veth") == c.pod_count()
    enslaved = sum(1 for i in range(c.node_count) for f in c.node_dataplane(i).interfaces if f.master)
    assert kinds.count("port") == enslaved
    assert kinds.count("nic") == c.node_count
    assert kinds.count("network") == 4  # internet, vnet-vm, peered-vm, onprem-host


def test_routes_are_edge_data_exactly_as_ip_route_prints_them():
    c = _cluster("kubenet")
    g = c.graph()
    node = c.nodes[0]
    printed = set(node.ip_route().splitlines())
    on_edges = {r for _, _, d in g.edges(f"node {node.name}", data=True) for r in d.get("routes", ())}
    assert on_edges == printed
    assert g.edges[f"node {node.name}", f"node {node.name} cbr0", 0]["routes"] == (
        "10.244.0.0/24 dev cbr0 proto kernel scope link src 10.244.0.1",)


def test_kubenet_nic_edges_carry_the_route_table_rows_that_point_at_the_node():
    c = _cluster("kubenet")
    g = c.graph()
    for i in range(c.node_count):
        node = c.nodes[i]
        rows = g.edges[f"node {node.name} eth0", "vnet", 0]["routes"]
        assert len(rows) == 1 and str(node.pod_cidr) in rows[0] and str(node.ip) in rows[0]
    assert all(not d["routes"] for _, _, d in _cluster("azure-cni").graph().edges(data=True) if d["kind"] == "nic")


def test_a_bridge_port_is_reached_only_through_its_bridge():
    # veth ports have no addresses of their own: a packet reaches the node's routing through cbr0.
    g = _cluster("kubenet").graph()
    for key, data in g.nodes(data=True):
        if data["kind"] == "interface" and data["owner"].startswith("node ") and data["name"].startswith("veth"):
            assert not g.has_edge(data["owner"], key)
            assert any(g.nodes[n]["kind"] == "bridge" for n in g.neighbors(key))


@given(nodes=st.integers(1, 4), pods=st.lists(st.integers(0, 3), min_size=4, max_size=4),
       plugin=st.sampled_from(PLUGINS))
def test_the_graph_is_connected_and_counts_match_the_model(nodes, pods, plugin):
    c = _cluster(plugin, nodes=nodes, pods=pods[:nodes])
    g = c.graph()
    assert nx.is_connected(g)
    assert sum(1 for _, d in g.nodes(data=True) if d["kind"] == "pod") == c.pod_count()
    assert sum(1 for _, d in g.nodes(data=True) if d["kind"] == "node") == c.node_count
    assert c.graph().nodes(data=True) == g.nodes(data=True)  # the same cluster, the same graph
