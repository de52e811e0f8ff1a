"""One function per naming scheme, each deterministic and in the real system's shape."""

import re

from netlab.model import naming


def test_node_names_use_base36_instance_ids():
    names = [naming.node_name("c", "rg", "nodepool1", i) for i in (0, 9, 10, 35, 36)]
    assert [n[-6:] for n in names] == ["000000", "000009", "00000a", "00000z", "000010"]
    assert all(re.fullmatch(r"aks-nodepool1-\d{8}-vmss[0-9a-z]{6}", n) for n in names)


def test_cluster_digits_are_stable_and_differ_between_clusters():
    assert naming.cluster_digits("a", "rg") == naming.cluster_digits("a", "rg")
    assert naming.cluster_digits("a", "rg") != naming.cluster_digits("b", "rg")


def test_azure_veth_name_is_sha1_of_namespace_dot_pod():
    # Azure CNI derives the host veth from sha1("<namespace>.<pod>"): default/nginx -> azvc440f455693
    assert naming.azure_veth_name("default", "nginx") == "azvc440f455693"
    assert len(naming.azure_veth_name("kube-system", "coredns-0")) == 14


def test_bridge_veth_name_has_eight_hex_digits():
    assert re.fullmatch(r"veth[0-9a-f]{8}", naming.bridge_veth_name("default", "web-0"))


def test_nic_mac_uses_microsofts_oui():
    assert naming.nic_mac("node").startswith("00:0d:3a:")


def test_virtual_macs_are_locally_administered_unicast():
    for key in ("a", "b", "c", "d"):
        first = int(naming.virtual_mac(key).split(":")[0], 16)
        assert first & 0b10 and not first & 0b1


def test_netns_names_look_like_cni_uuids():
    assert re.fullmatch(r"cni-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
                        naming.netns_name("default", "web-0"))


def test_resource_names():
    assert naming.route_table_name("c", "rg").startswith("aks-agentpool-")
    assert naming.route_table_name("c", "rg").endswith("-routetable")
    assert naming.node_resource_group("netlab", "netlab-rg", "westeurope") == "MC_netlab-rg_netlab_westeurope"
