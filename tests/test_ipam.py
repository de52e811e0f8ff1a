"""Address planning: AKS defaults, Azure's reserved addresses, allocation per plugin."""

import ipaddress

import pytest

import netlab as nl
from netlab.model import ipam


def test_aks_defaults_per_plugin():
    k = ipam.make_config("kubenet")
    assert (str(k.vnet_cidr), str(k.subnet_cidr), str(k.pod_cidr), str(k.service_cidr), str(k.dns_service_ip),
            k.max_pods) == ("10.224.0.0/12", "10.224.0.0/16", "10.244.0.0/16", "10.0.0.0/16", "10.0.0.10", 110)
    assert ipam.make_config("azure-cni").max_pods == 30 and ipam.make_config("azure-cni").pod_cidr is None
    assert ipam.make_config("azure-cni-overlay").max_pods == 250


def test_first_node_is_the_fifth_address_of_the_subnet():
    assert str(ipam.node_ip(ipam.make_config("kubenet"), 0)) == "10.224.0.4"


def test_azure_keeps_five_addresses_per_subnet():
    assert ipam.usable_in_subnet(ipaddress.IPv4Network("10.0.0.0/29")) == 3


def test_pod_cidr_does_not_apply_to_azure_cni():
    with pytest.raises(nl.ConfigError, match="Azure CNI takes pod addresses from the node subnet"):
        ipam.make_config("azure-cni", pod_cidr="10.244.0.0/16")


def test_pod_cidr_smaller_than_a_24_is_refused():
    with pytest.raises(nl.RangeConflictError, match="gives every node a /24"):
        ipam.make_config("kubenet", pod_cidr="10.244.0.0/25")


def test_too_many_nodes_for_the_pod_cidr():
    with pytest.raises(nl.RangeConflictError, match=r"has only 256 /24 blocks but 300 nodes.*use a /15"):
        nl.Cluster.aks("kubenet", nodes=300, pod_cidr="10.244.0.0/16")


def test_default_pod_cidr_widens_with_a_note():
    cfg = ipam.make_config("kubenet", nodes=300)
    assert str(cfg.pod_cidr) == "10.244.0.0/15" and "widened" in cfg.notes[0]


def test_more_than_5000_nodes_is_beyond_aks():
    with pytest.raises(nl.ConfigError, match="at most 5000 nodes"):
        nl.Cluster.aks("azure-cni-overlay", nodes=5001)


def test_azure_cni_formula_and_prefix():
    assert ipam.azure_cni_addresses_needed(50, 30) == 1581
    assert ipam.azure_cni_addresses_needed(60, 30) == 1891
    assert ipam.prefix_for(1581 + 5) == 21


def test_kubenet_host_local_goes_on_after_the_last_address_it_reserved():
    c = (nl.Cluster.aks("kubenet").add_pod("web-0").add_pod("web-1").add_pod("api-0")
         .remove_pod("web-0").add_pod("web-2"))
    # web-0's 10.244.0.2 is free again, but host-local continues round-robin from .4.
    assert str(c.pods["web-2"].ip) == "10.244.0.5"


def test_kubenet_host_local_reuses_a_freed_address_only_after_wrapping_around():
    c = nl.Cluster.aks("kubenet", max_pods=250)
    for i in range(253):  # .2 ... .254: the whole /24 but the network, cbr0's .1 and the broadcast
        c = c.add_pod(f"p-{i}")
        if i >= 200:
            c = c.remove_pod(f"p-{i - 200}")
    assert str(c.pods["p-252"].ip) == "10.244.0.254"
    c = c.add_pod("wrapped")
    assert str(c.pods["wrapped"].ip) == "10.244.0.2"  # p-0's address, freed long ago, after the wrap


def test_kubenet_node_full_counts_pods_not_addresses():
    c = nl.Cluster.aks("kubenet", max_pods=10)
    for i in range(10):
        c = c.add_pod(f"p-{i}")
    c = c.remove_pod("p-0").add_pod("p-10")
    assert str(c.pods["p-10"].ip) == "10.244.0.12"  # beyond .2 + max_pods: host-local's range is the /24
    with pytest.raises(nl.NodeFullError, match="already runs max_pods=10 pods"):
        c.add_pod("p-11")


def test_azure_cni_hands_out_the_lowest_free_preallocated_address():
    c = nl.Cluster.aks("azure-cni").add_pod("a").add_pod("b").remove_pod("a").add_pod("c")
    assert c.pods["c"].ip == c.nodes[0].ip + 1
