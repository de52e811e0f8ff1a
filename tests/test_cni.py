"""Interfaces and routes per plugin, in the exact text ip route / ip addr print on real AKS nodes."""

import pytest

import netlab as nl

from helpers import PLUGINS, with_plugin


def test_kubenet_node_ip_route_matches_a_real_aks_node(kubenet2):
    assert kubenet2.nodes[0].ip_route() == "\n".join([
        "default via 10.224.0.1 dev eth0 proto dhcp src 10.224.0.4 metric 100",
        "10.224.0.0/16 dev eth0 proto kernel scope link src 10.224.0.4 metric 100",
        "10.224.0.1 dev eth0 proto dhcp scope link src 10.224.0.4 metric 100",
        "10.244.0.0/24 dev cbr0 proto kernel scope link src 10.244.0.1",
        "168.63.129.16 via 10.224.0.1 dev eth0 proto dhcp src 10.224.0.4 metric 100",
        "169.254.169.254 via 10.224.0.1 dev eth0 proto dhcp src 10.224.0.4 metric 100",
    ])


def test_kubenet_node_has_no_routes_to_other_nodes_pods(kubenet2):
    assert "10.244.1.0/24" not in kubenet2.nodes[0].ip_route()


def test_kubenet_pod_routes_via_the_bridge_gateway(kubenet2):
    assert kubenet2.pods["web-0"].ip_route() == (
        "default via 10.244.0.1 dev eth0\n"
        "10.244.0.0/24 dev eth0 proto kernel scope link src 10.244.0.2"
    )


def test_kubenet_pod_ip_addr_golden(kubenet2):
    text = kubenet2.pods["web-0"].ip_addr()
    lines = text.splitlines()
    assert lines[0] == "1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN group default qlen 1000"
    assert lines[1] == "    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00"
    assert lines[2] == "    inet 127.0.0.1/8 scope host lo"
    assert lines[3] == "       valid_lft forever preferred_lft forever"
    assert lines[4] == "    inet6 ::1/128 scope host"
    assert lines[6] == "2: eth0@if4: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP group default"
    assert lines[7].startswith("    link/ether ") and lines[7].endswith(" brd ff:ff:ff:ff:ff:ff link-netnsid 0")
    assert lines[8] == "    inet 10.244.0.2/24 brd 10.244.0.255 scope global eth0"


def test_kubenet_node_ip_addr_has_cbr0_and_veth_ports(kubenet2):
    text = kubenet2.nodes[0].ip_addr()
    assert "2: eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc mq state UP group default qlen 1000" in text
    assert "    inet 10.224.0.4/16 metric 100 brd 10.224.255.255 scope global eth0" in text
    assert "3: cbr0: <BROADCAST,MULTICAST,PROMISC,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP group default qlen 1000" in text
    assert "    inet 10.244.0.1/24 scope global cbr0" in text
    veth = nl.Cluster.aks("kubenet").add_pod("web-0").nodes[0].interfaces[-1].name
    assert f"4: {veth}@if2: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue master cbr0 state UP group default\n" in text


def test_veth_pairs_point_at_each_other(kubenet2):
    node = kubenet2.nodes[0]
    for pod in node.pods:
        eth0 = pod.interfaces[1]
        host = next(i for i in node.interfaces if i.ifindex == eth0.peer_ifindex)
        assert host.peer_ifindex == eth0.ifindex
        assert host.master == "cbr0"


def test_azure_cni_transparent_node_has_a_host_route_per_pod():
    c = nl.Cluster.aks("azure-cni", nodes=1).add_pod("nginx", node=0)
    assert "10.224.0.5 dev azvc440f455693 proto static" in c.nodes[0].ip_route().splitlines()


def test_azure_cni_transparent_pod_routes_via_link_local_gateway():
    c = nl.Cluster.aks("azure-cni", nodes=1).add_pod("nginx", node=0)
    assert c.pods["nginx"].ip_route() == (
        "default via 169.254.1.1 dev eth0 proto static\n169.254.1.1 dev eth0 proto static scope link"
    )
    text = c.pods["nginx"].ip_addr()
    assert "eth0@if4: <BROADCAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP group default qlen 1000" in text
    assert "    inet 10.224.0.5/16 scope global eth0" in text


def test_azure_cni_host_veth_has_the_fixed_mac():
    c = nl.Cluster.aks("azure-cni", nodes=1).add_pod("nginx", node=0)
    text = c.nodes[0].ip_addr()
    assert "4: azvc440f455693@if3: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP group default qlen 1000" in text
    assert "    link/ether aa:aa:aa:aa:aa:aa brd ff:ff:ff:ff:ff:ff link-netns cni-" in text
    assert "    inet6 fe80::a8aa:aaff:feaa:aaaa/64 scope link" in text


def test_azure_cni_bridge_mode_has_only_two_node_routes():
    c = nl.Cluster.aks("azure-cni", nodes=1, cni_mode="bridge").add_pod("a").add_pod("b")
    assert c.nodes[0].ip_route() == (
        "default via 10.224.0.1 dev azure0 proto dhcp src 10.224.0.4 metric 100\n"
        "10.224.0.0/16 dev azure0 proto kernel scope link src 10.224.0.4"
    )
    assert "eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc mq master azure0" in c.nodes[0].ip_addr()
    assert c.pods["a"].ip_route() == (
        "default via 10.224.0.1 dev eth0 proto static\n10.224.0.0/16 dev eth0 proto kernel scope link src 10.224.0.5"
    )


def test_overlay_pod_keeps_the_pod_cidr_prefix():
    c = nl.Cluster.aks("azure-cni-overlay", nodes=2).add_pod("a", node=1)
    assert c.pods["a"].ip == nl.Cluster.aks("kubenet", nodes=2).add_pod("a", node=1).pods["a"].ip
    assert "    inet 10.244.1.2/16 scope global eth0" in c.pods["a"].ip_addr()
    assert "10.244.1.2 dev azvb3d4bc38d6d proto static" in c.nodes[1].ip_route() or \
        f"10.244.1.2 dev {c.nodes[1].interfaces[-1].name} proto static" in c.nodes[1].ip_route()


def test_none_plugin_every_node_has_the_same_docker0():
    c = nl.Cluster.aks("none", nodes=2)
    for node in c.nodes:
        assert "172.17.0.0/16 dev docker0 proto kernel scope link src 172.17.0.1" in node.ip_route()


@pytest.mark.parametrize("plugin", PLUGINS)
def test_every_pod_default_route_points_at_an_address_the_node_answers_for(kubenet2, plugin):
    c = with_plugin(kubenet2, plugin)
    for pod in c.pods.values():
        gw = pod.dataplane.gateway
        node_addrs = {a.ip for i in pod.node.interfaces for a in i.addresses}
        assert gw in node_addrs or str(gw) in ("169.254.1.1", "10.224.0.1")


def test_ip_masq_agent_rules_are_the_real_ones(kubenet2):
    assert kubenet2.nodes[0].iptables_nat().splitlines() == [
        '-A POSTROUTING -m comment --comment "\\"ip-masq-agent: ensure nat POSTROUTING directs all non-LOCAL '
        'destination traffic to our custom IP-MASQ-AGENT chain\\"" -m addrtype ! --dst-type LOCAL -j IP-MASQ-AGENT',
        '-A IP-MASQ-AGENT -d 10.244.0.0/16 -m comment --comment "ip-masq-agent: local traffic is not subject to '
        'MASQUERADE" -j RETURN',
        '-A IP-MASQ-AGENT -m comment --comment "ip-masq-agent: outbound traffic is subject to MASQUERADE (must be '
        'last in chain)" -j MASQUERADE',
    ]


def test_azure_cni_does_not_masquerade_inside_the_vnet():
    c = nl.Cluster.aks("azure-cni")
    nat = c.nodes[0].iptables_nat()
    for net in ("10.224.0.0/16", "10.0.0.0/16", "10.224.0.0/12"):
        assert f"-A IP-MASQ-AGENT -d {net} " in nat
