"""Node images: the catalogue, its errors, the self-hairpin outcome per image and bridge setting, and
the kubenet bridge's views (ip link, bridge link, ebtables) that show the setting."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

import netlab as nl
from netlab.cni import dataplane as cni
from netlab.model import images
from netlab.model.images import KernelPath


def _web(**kw):
    return (nl.Cluster.aks("kubenet", nodes=1, **kw)
            .add_pod("web-0", labels={"app": "web"}, containers=[nl.Container("nginx", ports=[80])])
            .add_service("web", selector={"app": "web"}, ports=[80]))


# ------------------------------------------------------------------ the catalogue
def test_the_catalogue_holds_the_three_aks_linux_images_with_their_kernels():
    assert {n: i.kernel_version for n, i in images.IMAGES.items()} == {
        "ubuntu-22.04": "5.15", "ubuntu-24.04": "6.8", "azurelinux-3": "6.6"}
    assert {n: i.os_sku for n, i in images.IMAGES.items()} == {
        "ubuntu-22.04": "Ubuntu", "ubuntu-24.04": "Ubuntu", "azurelinux-3": "AzureLinux"}


def test_every_kernel_number_says_where_it_comes_from():
    for img in images.IMAGES.values():
        assert "issue 5669" in img.kernel_source or "pull request 8426" in img.kernel_source
    assert "may carry a newer -azure kernel" in images.image("ubuntu-22.04").kernel_source


def test_the_catalogue_is_immutable():
    with pytest.raises(TypeError):
        images.IMAGES["debian-12"] = images.IMAGES["ubuntu-24.04"]  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        images.image("ubuntu-24.04").kernel = (5, 15)  # type: ignore[misc]


def test_a_new_cluster_gets_ubuntu_24_04_the_default_from_kubernetes_1_35():
    c = nl.Cluster.aks("kubenet")
    assert images.DEFAULT_IMAGE == "ubuntu-24.04"
    assert c.config.node_image == "ubuntu-24.04" and c.node_image.kernel_version == "6.8"
    assert c.config.hairpin_mode is False
    assert "1.35" in c.node_image.default_for


def test_an_unknown_image_lists_the_known_ones_and_suggests_the_closest():
    with pytest.raises(nl.ConfigError) as err:
        nl.Cluster.aks("kubenet", node_image="ubuntu-22.4")
    msg = str(err.value)
    assert "ubuntu-22.04, ubuntu-24.04, azurelinux-3" in msg and "Did you mean 'ubuntu-22.04'?" in msg
    with pytest.raises(nl.NetlabError, match="there is no node image 'windows'"):
        images.image("windows")
    with pytest.raises(nl.ConfigError, match="no node image"):
        nl.Cluster.aks("kubenet").with_node_image("azurelinux-2")


def test_hairpin_mode_is_kubenets_setting_and_a_yes_or_no():
    with pytest.raises(nl.ConfigError, match="hairpin_mode is kubenet's bridge setting"):
        nl.Cluster.aks("azure-cni", hairpin_mode=True)
    with pytest.raises(nl.ConfigError, match="True or False"):
        nl.Cluster.aks("kubenet", hairpin_mode="on")  # type: ignore[arg-type]
    with pytest.raises(nl.ConfigError, match="kubenet's bridge setting"):
        nl.Cluster.aks("azure-cni-overlay").with_hairpin_mode(True)
    assert nl.Cluster.aks("azure-cni").with_hairpin_mode(False).config.hairpin_mode is False


def test_the_image_and_hairpin_mode_survive_a_change_of_plugin_and_of_proxy_mode():
    c = nl.Cluster.aks("kubenet", node_image="azurelinux-3", hairpin_mode=True).add_pod("web-0")
    again = c.with_plugin("azure-cni").with_plugin("kubenet").with_proxy_mode("nftables")
    assert again.config.node_image == "azurelinux-3"
    assert again.config.hairpin_mode is False  # Azure CNI has no cbr0: the setting does not carry over
    assert c.with_proxy_mode("nftables").config.hairpin_mode is True
    assert c.with_plugin("kubenet").config.hairpin_mode is True
    assert nl.Cluster.aks("kubenet").with_plugin("none", node_image="ubuntu-22.04").config.node_image == "ubuntu-22.04"


def test_clusters_on_different_images_or_hairpin_modes_are_not_equal():
    a = _web()
    assert a == _web(node_image="ubuntu-24.04")
    assert a != _web(node_image="ubuntu-22.04")
    assert a != a.with_node_image("azurelinux-3")
    assert a != a.with_hairpin_mode(True)
    assert a.with_hairpin_mode(True).with_hairpin_mode(False) == a
    assert a.with_node_image("azurelinux-3").with_node_image("ubuntu-24.04") == a


# ------------------------------------------------------------------ the outcome table
OUTCOMES = {
    # (image, hairpin_mode, promisc): delivered?
    ("ubuntu-22.04", False, True): True,
    ("ubuntu-24.04", False, True): False,  # Azure/AKS issue 5669
    ("azurelinux-3", False, True): True,
    ("ubuntu-22.04", True, True): True,
    ("ubuntu-24.04", True, True): True,  # AgentBaker pull request 8426
    ("azurelinux-3", True, True): True,
    ("ubuntu-22.04", False, False): False,
    ("ubuntu-24.04", False, False): False,
    ("azurelinux-3", False, False): False,
    ("ubuntu-24.04", True, False): True,
}


@pytest.mark.parametrize(("key", "delivered"), OUTCOMES.items(), ids=lambda v: str(v))
def test_a_pod_reaches_itself_through_its_service_per_image_and_bridge_setting(key, delivered):
    name, hairpin_mode, promisc = key
    got, why = images.self_hairpin(name, hairpin_mode=hairpin_mode, promisc=promisc)
    assert got is delivered
    assert ("times out" in why) is not delivered  # the reason says what the client sees ...
    assert "cbr0" in why  # the reason names the bridge ...
    if not hairpin_mode:
        assert "hairpin off" in why or "hairpin is off" in why  # ... its setting ...
        assert f"Linux {images.image(name).kernel_version}" in why  # ... and the kernel
    else:
        assert "hairpin on" in why


def test_the_ubuntu_24_04_reason_points_at_the_issue_and_the_fix():
    why = images.self_hairpin("ubuntu-24.04", hairpin_mode=False, promisc=True)[1]
    assert "Linux 6.8 (Ubuntu 24.04 LTS)" in why and "times out" in why
    assert "issue 5669" in why and "pull request 8426" in why


def test_the_reason_names_another_bridge_when_asked():
    assert "docker0" in images.self_hairpin("ubuntu-22.04", False, False, bridge="docker0")[1]


@given(st.sampled_from(sorted(images.IMAGES)), st.booleans())
def test_hairpin_on_always_delivers_and_a_plain_bridge_without_it_never_does(name, promisc):
    assert images.self_hairpin(name, True, promisc)[0] is True
    assert images.self_hairpin(name, False, False)[0] is False
    # With AKS's settings only the kernel decides.
    assert images.self_hairpin(name, False, True)[0] is (images.image(name).path is KernelPath.PASSED_UP)


# ------------------------------------------------------------------ the running kernel
@pytest.mark.parametrize(("release", "expected"), [
    ("5.15.0-1079-azure", "ubuntu-22.04"), ("6.1.0-25-amd64", "ubuntu-22.04"), ("6.6.64.2-1.azl3", "azurelinux-3"),
    ("6.8.0-1021-azure", "ubuntu-24.04"), ("6.18.44-fc-v1252", "ubuntu-24.04"), ("7.0.1", "ubuntu-24.04"),
    ("6.7.12", None)])
def test_a_kernel_release_matches_the_image_whose_kernel_behaves_alike(release, expected):
    img = images.matching_image(release)
    assert (img.name if img else None) == expected


def test_a_release_that_is_not_a_version_is_refused():
    with pytest.raises(nl.ConfigError, match="does not start with a version"):
        images.parse_release("azure")


@given(st.integers(0, 9), st.integers(0, 40))
def test_every_known_kernel_matches_an_image_of_the_same_behaviour(major, minor):
    img = images.matching_image(f"{major}.{minor}.0")
    path = images.kernel_path((major, minor))
    assert (img is None) == (path is None)
    if img is not None:
        assert img.path is path


# ------------------------------------------------------------------ the bridge in the model and its views
def test_kubenets_bridge_is_promiscuous_and_its_ports_have_hairpin_as_configured():
    for on in (False, True):
        dp = _web(hairpin_mode=on).nodes[0].dataplane
        cbr0 = next(i for i in dp.interfaces if i.name == "cbr0")
        ports = [i for i in dp.interfaces if i.master == "cbr0"]
        assert cbr0.promisc and cbr0.hairpin is None
        assert ports and all(p.hairpin is on for p in ports)


def test_docker0_and_azure0_ports_keep_hairpin_on():
    for c in (nl.Cluster.aks("none").add_pod("a"), nl.Cluster.aks("azure-cni", cni_mode="bridge").add_pod("a")):
        dp = c.nodes[0].dataplane
        assert [i.hairpin for i in dp.interfaces if i.kind == "veth"] == [True]
        assert not any(i.promisc for i in dp.interfaces)


def test_the_dedup_rule_is_only_on_kubenet_nodes():
    assert len(_web().nodes[0].dataplane.bridge_rules) == 3
    for plugin in ("none", "azure-cni", "azure-cni-overlay"):
        assert nl.Cluster.aks(plugin).add_pod("a").nodes[0].dataplane.bridge_rules == ()


CBR0_DETAILS = """\
3: cbr0: <BROADCAST,MULTICAST,PROMISC,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP mode DEFAULT group default qlen 1000
    link/ether 32:f6:1f:31:10:8c brd ff:ff:ff:ff:ff:ff promiscuity 1  allmulti 0 minmtu 68 maxmtu 65535
    bridge forward_delay 1500 hello_time 200 max_age 2000 ageing_time 30000 stp_state 0 priority 32768 \
vlan_filtering 0 bridge_id 8000.32:f6:1f:31:10:8c designated_root 8000.32:f6:1f:31:10:8c root_port 0 root_path_cost 0 \
topology_change 0 topology_change_detected 0 hello_timer    0.00 tcn_timer    0.00 topology_change_timer    0.00 \
gc_timer   28.12 group_fwd_mask 0 group_address 01:80:c2:00:00:00 mcast_snooping 1 no_linklocal_learn 0 \
mcast_vlan_snooping 0 mcast_router 1 mcast_query_use_ifaddr 0 mcast_querier 0 mcast_hash_elasticity 16 \
mcast_hash_max 4096 mcast_last_member_count 2 mcast_startup_query_count 2 mcast_last_member_interval 100 \
mcast_membership_interval 26000 mcast_querier_interval 25500 mcast_query_interval 12500 \
mcast_query_response_interval 1000 mcast_startup_query_interval 3124 mcast_stats_enabled 0 mcast_igmp_version 2 \
mcast_mld_version 1 nf_call_iptables 0 nf_call_ip6tables 0 nf_call_arptables 0 addrgenmode eui64 numtxqueues 1 \
numrxqueues 1 gso_max_size 65536 gso_max_segs 65535 tso_max_size 524280 tso_max_segs 65535 gro_max_size 65536"""

PORT_DETAILS = """\
4: veth3b2c3b2c@if2: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue master cbr0 state UP mode DEFAULT group default
    link/ether 72:e4:33:63:a5:b5 brd ff:ff:ff:ff:ff:ff link-netns cni-6620d18f-b440-71c7-c942-5bb48df99dcf \
promiscuity 1  allmulti 1 minmtu 68 maxmtu 65535
    veth
    bridge_slave state forwarding priority 32 cost 2 hairpin off guard off root_block off fastleave off learning on \
flood on port_id 0x8001 port_no 0x1 designated_port 32769 designated_cost 0 designated_bridge 8000.32:f6:1f:31:10:8c \
designated_root 8000.32:f6:1f:31:10:8c hold_timer    0.00 message_age_timer    0.00 forward_delay_timer    0.00 \
topology_change_ack 0 config_pending 0 proxy_arp off proxy_arp_wifi off mcast_router 1 mcast_fast_leave off \
mcast_flood on bcast_flood on mcast_to_unicast off neigh_suppress off group_fwd_mask 0 group_fwd_mask_str 0x0 \
vlan_tunnel off isolated off locked off addrgenmode eui64 numtxqueues 2 numrxqueues 2 gso_max_size 65536 \
gso_max_segs 65535 tso_max_size 524280 tso_max_segs 65535 gro_max_size 65536"""


def test_ip_d_link_shows_cbr0_promiscuous_and_its_port_with_hairpin_off():
    node = _web().nodes[0]
    assert node.ip_link("cbr0", details=True) == CBR0_DETAILS
    assert node.ip_link(master="cbr0", details=True) == PORT_DETAILS
    fixed = _web(hairpin_mode=True).nodes[0].ip_link(master="cbr0", details=True)
    assert fixed == PORT_DETAILS.replace("hairpin off", "hairpin on")


def test_ip_link_lists_every_interface_as_ip_link_show_does():
    assert _web().nodes[0].ip_link() == """\
1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN mode DEFAULT group default qlen 1000
    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00
2: eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc mq state UP mode DEFAULT group default qlen 1000
    link/ether 00:0d:3a:cc:02:ab brd ff:ff:ff:ff:ff:ff
3: cbr0: <BROADCAST,MULTICAST,PROMISC,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP mode DEFAULT group default qlen 1000
    link/ether 32:f6:1f:31:10:8c brd ff:ff:ff:ff:ff:ff
4: veth3b2c3b2c@if2: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue master cbr0 state UP mode DEFAULT group default
    link/ether 72:e4:33:63:a5:b5 brd ff:ff:ff:ff:ff:ff link-netns cni-6620d18f-b440-71c7-c942-5bb48df99dcf"""


def test_ip_d_link_of_eth0_is_refused_with_what_can_be_shown():
    node = _web().nodes[0]
    with pytest.raises(nl.ConfigError, match=r"node.ip_link\('cbr0', details=True\)"):
        node.ip_link(details=True)
    with pytest.raises(nl.NotFoundError, match="Did you mean 'cbr0'"):
        node.ip_link("cbr1")
    assert "minmtu 0 maxmtu 0" in node.ip_link("lo", details=True)


def test_bridge_link_prints_hairpin_only_with_details():
    node = _web().nodes[0]
    plain = "4: veth3b2c3b2c@eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 master cbr0 state forwarding priority 32 cost 2"
    assert node.bridge_link() == plain
    assert node.bridge_link(details=True) == plain + (
        "\n    hairpin off guard off root_block off fastleave off learning on flood on mcast_flood on bcast_flood on "
        "mcast_router 1 mcast_to_unicast off neigh_suppress off vlan_tunnel off isolated off locked off")
    assert "hairpin on" in _web(hairpin_mode=True).nodes[0].bridge_link(details=True)
    assert nl.Cluster.aks("azure-cni").add_pod("a").nodes[0].bridge_link() == ""  # transparent: no bridge


def test_ebtables_shows_aks_dedup_chain_on_kubenet():
    assert _web().nodes[0].ebtables() == """\
Bridge table: filter

Bridge chain: INPUT, entries: 0, policy: ACCEPT

Bridge chain: FORWARD, entries: 0, policy: ACCEPT

Bridge chain: OUTPUT, entries: 1, policy: ACCEPT
-j AKS-DEDUP-PROMISC

Bridge chain: AKS-DEDUP-PROMISC, entries: 2, policy: RETURN
-p IPv4 -s 32:f6:1f:31:10:8c -o veth+ --ip-src 10.244.0.1 -j ACCEPT
-p IPv4 -s 32:f6:1f:31:10:8c -o veth+ --ip-src 10.244.0.0/24 -j DROP"""


def test_ebtables_elsewhere_is_empty_or_says_what_is_not_modelled():
    assert nl.Cluster.aks("none").nodes[0].ebtables().count("entries: 0") == 3
    assert "not" not in nl.Cluster.aks("none").nodes[0].ebtables()
    assert "models ebtables only for kubenet" in nl.Cluster.aks("azure-cni").nodes[0].ebtables()


def test_the_dedup_rule_follows_the_nodes_pod_range():
    rules = nl.Cluster.aks("kubenet", nodes=2).nodes[1].dataplane.bridge_rules
    assert [str(r.ip_src) for r in rules[1:]] == ["10.244.1.1", "10.244.1.0/24"]
    assert str(rules[0]) == "-j AKS-DEDUP-PROMISC" and rules[0].chain == "OUTPUT"


def test_bridge_ids_are_printed_without_leading_zeros_as_iproute2_does():
    assert cni.bridge_id("0a:00:0b:01:02:03") == "8000.a:0:b:1:2:3"
