import re
"""Section 06 as numbers."""

import pytest

import netlab as nl


def rows(**kw):
    return {r.plugin: r for r in nl.compare_plugins(**kw).rows}


def test_aks_docs_example_50_nodes_30_pods_needs_1581_addresses():
    r = rows(nodes=50, max_pods=30)["azure-cni"]
    assert r.subnet_addresses_needed == 1581
    assert r.smallest_subnet == "/21"
    assert r.vnet_addresses_used == 50 * 31


def test_ten_more_nodes_need_1891():
    assert rows(nodes=60, max_pods=30)["azure-cni"].subnet_addresses_needed == 1891


def test_kubenet_uses_a_route_per_node_and_is_capped_at_400():
    r = rows(nodes=50)["kubenet"]
    assert r.route_table_entries == 50 and r.node_limit == 400
    assert r.vnet_addresses_used == 50 and r.max_pods == 110


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


def test_bad_input_is_explained():
    with pytest.raises(nl.ConfigError, match="10 to 250"):
        nl.compare_plugins(nodes=5, max_pods=300)
    with pytest.raises(nl.ConfigError, match="from 1 to 5,000"):
        nl.compare_plugins(nodes=0)
