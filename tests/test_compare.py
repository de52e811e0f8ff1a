"""Section 06 as numbers.

Every number is a literal worked out by hand from the AKS planning rules (the facts file):
Azure CNI reserves a node's own address plus max_pods addresses on the node subnet and plans
``(nodes + surge) + (nodes + surge) * max_pods``; kubenet and Overlay take one subnet address per
node and a /24 of pod range (256 addresses) outside the VNet per node; Azure keeps 5 addresses of
every subnet; kubenet writes one route per node, at most 400.
"""

import dataclasses
import re

import pytest

import netlab as nl


def rows(**kw):
    return {r.plugin: r for r in nl.compare_plugins(**kw).rows}


def test_aks_docs_example_50_nodes_30_pods_needs_1581_addresses():
    r = rows(nodes=50, max_pods=30)["azure-cni"]
    assert r.subnet_addresses_needed == 1581  # 51 + 51 * 30
    assert r.smallest_subnet == "/21"  # 1,581 + 5 reserved = 1,586: more than a /22's 1,024, within a /21's 2,048
    assert r.vnet_addresses_used == 1550  # 50 nodes x (1 node address + 30 pre-allocated pod addresses)


def test_ten_more_nodes_need_1891():
    assert rows(nodes=60, max_pods=30)["azure-cni"].subnet_addresses_needed == 1891  # 61 + 61 * 30


def test_kubenet_uses_a_route_per_node_and_is_capped_at_400():
    r = rows(nodes=50)["kubenet"]
    assert r.route_table_entries == 50 and r.node_limit == 400
    assert r.vnet_addresses_used == 50 and r.max_pods == 110


def test_every_row_at_50_nodes_and_30_pods_as_worked_by_hand():
    # kubenet against Azure CNI: 50 VNet addresses against 1,550, but 50 x 256 = 12,800 pod-range addresses
    # outside the VNet and one route per node.
    assert [dataclasses.asdict(r) for r in nl.compare_plugins(nodes=50, max_pods=30).rows] == [
        dict(plugin="kubenet", max_pods=30, vnet_addresses_used=50, subnet_addresses_needed=51,
             smallest_subnet="/26", pod_addresses_outside_vnet=12800, route_table_entries=50,
             node_limit=400, route_table_on_path=True, peered_network_reaches_pods=False,
             vnet_sees_pod_ip=False),
        dict(plugin="azure-cni", max_pods=30, vnet_addresses_used=1550, subnet_addresses_needed=1581,
             smallest_subnet="/21", pod_addresses_outside_vnet=0, route_table_entries=0,
             node_limit=5000, route_table_on_path=False, peered_network_reaches_pods=True,
             vnet_sees_pod_ip=True),
        dict(plugin="azure-cni-overlay", max_pods=30, vnet_addresses_used=50, subnet_addresses_needed=51,
             smallest_subnet="/26", pod_addresses_outside_vnet=12800, route_table_entries=0,
             node_limit=5000, route_table_on_path=False, peered_network_reaches_pods=False,
             vnet_sees_pod_ip=False),
    ]


def test_default_max_pods_are_each_plugins_aks_default():
    r = rows(nodes=10)
    assert (r["kubenet"].max_pods, r["azure-cni"].max_pods, r["azure-cni-overlay"].max_pods) == (110, 30, 250)
    assert r["azure-cni"].subnet_addresses_needed == 341  # 11 + 11 * 30; + 5 = 346 needs a /23
    assert r["azure-cni"].smallest_subnet == "/23"
    assert r["kubenet"].subnet_addresses_needed == 11 and r["kubenet"].smallest_subnet == "/28"  # 11 + 5 = 16
    assert r["kubenet"].pod_addresses_outside_vnet == 2560


@pytest.mark.parametrize("nodes, surge, needed, subnet", [
    (8, 0, 248, "/24"),   # 8 x 31 + 5 = 253 of 256: a /24 fits about 8 Azure CNI nodes at 30 pods
    (9, 0, 279, "/23"),   # 9 x 31 + 5 = 284: one node more needs a /23
    (3, 1, 124, "/24"),   # 4 x 31 + 5 = 129: the surge node pushes it past a /25's 128
])
def test_azure_cni_subnet_boundaries(nodes, surge, needed, subnet):
    r = rows(nodes=nodes, max_pods=30, surge=surge)["azure-cni"]
    assert (r.subnet_addresses_needed, r.smallest_subnet) == (needed, subnet)


def test_401_kubenet_nodes_are_flagged_beyond_the_route_table_and_the_default_pod_cidr():
    c = nl.compare_plugins(nodes=401, max_pods=30)
    assert c.warnings == [
        "kubenet cannot have 401 nodes: its limit is 400 (one Azure route per node, at most 400 routes per "
        "route table)",
        "kubenet needs a pod CIDR larger than the default /16 for 401 nodes (one /24 each)",
        "azure-cni-overlay needs a pod CIDR larger than the default /16 for 401 nodes (one /24 each)",
    ]
    r = {row.plugin: row for row in c.rows}
    assert r["kubenet"].pod_addresses_outside_vnet == 102656  # 401 x 256 > 65,536 of a /16
    assert r["azure-cni"].subnet_addresses_needed == 12462 and r["azure-cni"].smallest_subnet == "/18"  # 402 x 31


def test_only_azure_cni_lets_peered_networks_reach_pods():
    r = rows(nodes=10)
    assert r["azure-cni"].peered_network_reaches_pods
    assert not r["kubenet"].peered_network_reaches_pods
    assert not r["azure-cni-overlay"].peered_network_reaches_pods


def test_only_kubenet_pod_traffic_passes_a_route_table():
    r = rows(nodes=3)
    assert r["kubenet"].route_table_on_path is True
    assert r["azure-cni"].route_table_on_path is False
    assert r["azure-cni-overlay"].route_table_on_path is False
    table = str(nl.compare_plugins(nodes=3))
    assert re.search(r"\npod to pod across nodes passes a route table +yes +no +no\n", table)
    assert "trace steps" not in table  # a count of trace rows is no measure of performance


def test_table_text_lists_every_plugin():
    text = str(nl.compare_plugins(nodes=50, max_pods=30))
    assert text.splitlines()[1].split() == ["kubenet", "azure-cni", "azure-cni-overlay"]
    assert "1,581" in text
    assert "<table>" in nl.compare_plugins(nodes=5)._repr_html_()


def test_the_50_node_table_prints_exactly_these_lines():
    assert str(nl.compare_plugins(nodes=50, max_pods=30)) == """\
50 nodes (+1 surge)
                                                     kubenet  azure-cni  azure-cni-overlay
max pods per node                                         30         30                 30
VNet addresses used (nodes + reserved pod IPs)            50      1,550                 50
subnet addresses to plan (with surge)                     51      1,581                 51
smallest subnet that fits                                /26        /21                /26
pod-range addresses outside the VNet (a /24 a node)   12,800          0             12,800
Azure route table entries                                 50          0                  0
node limit                                               400      5,000              5,000
pod to pod across nodes passes a route table             yes         no                 no
peered network / on premises reaches pods                 no        yes                 no
VNet hosts see the pod's own address                      no        yes                 no"""


def test_bad_input_is_explained():
    with pytest.raises(nl.ConfigError, match="10 to 250"):
        nl.compare_plugins(nodes=5, max_pods=300)
    with pytest.raises(nl.ConfigError, match="from 1 to 5,000"):
        nl.compare_plugins(nodes=0)
