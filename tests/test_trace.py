"""Traces: every hop names the line that decided it, and that line is in the printed table."""

import pytest

import netlab as nl
from helpers import PLUGINS, with_plugin


def _printed_tables(c):
    """Every text view a learner can print, concatenated."""
    parts = [c.azure_route_table(), c.effective_routes()]
    for n in c.nodes:
        parts += [n.ip_route(), n.iptables_nat()]
    for p in c.pods.values():
        parts.append(p.ip_route())
    return "\n".join(parts)


def test_container_to_container_goes_over_lo(kubenet2):
    t = kubenet2.trace("web-0", "localhost", port=80)
    assert t.delivered and [h.interface for h in t.hops] == ["out lo", "in lo"]
    assert t.listener == "nginx"
    assert "never leaves the pod's network namespace" in t.hops[0].note


def test_pod_to_pod_same_node_is_switched_by_cbr0(kubenet2):
    t = kubenet2.trace("web-0", "web-1", port=80)
    assert t.delivered
    assert t.hops[0].decided_by.text == "10.244.0.0/24 dev eth0 proto kernel scope link src 10.244.0.2"
    assert t.hops[1].table.startswith("bridge fdb show") and "master cbr0" in t.hops[1].decided_by.text
    assert not t.nat


def test_kubenet_cross_node_uses_the_azure_route_table(kubenet2):
    t = kubenet2.trace("web-0", "api-0", port=8080)
    assert t.delivered and t.listener == "api"
    udr = [h for h in t.hops if h.table.startswith("az network route-table route list")]
    assert len(udr) == 1
    assert udr[0].decided_by.text in kubenet2.azure_route_table().splitlines()
    assert "10.244.1.0/24" in udr[0].decided_by.text and "VirtualAppliance" in udr[0].decided_by.text
    assert not t.nat  # pod to pod keeps the pod's address


@pytest.mark.parametrize("plugin", ["azure-cni", "azure-cni-bridge"])
def test_azure_cni_cross_node_is_delivered_natively_by_the_vnet(kubenet2, plugin):
    c = with_plugin(kubenet2, plugin)
    t = c.trace("web-0", "api-0", port=8080)
    assert t.delivered and not t.nat
    vnet = [h for h in t.hops if str(h.place).startswith("Azure VNet")]
    assert len(vnet) == 1 and "VnetLocal" in vnet[0].decided_by.text
    assert not any(h.decided_by.command.startswith("az network route-table") for h in t.hops)
    assert any(h.decided_by.command == "az network nic show-effective-route-table -o table" for h in t.hops)


def test_overlay_cross_node_uses_azures_routing_domain(kubenet2):
    t = kubenet2.with_plugin("azure-cni-overlay").trace("web-0", "api-0", port=8080)
    assert t.delivered and not t.nat
    overlay = [h for h in t.hops if h.place.kind == "vnet"]
    assert len(overlay) == 1 and overlay[0].decided_by.command.startswith("kubectl get nodes -o custom-columns=")
    assert overlay[0].decided_by.text.split()[1] == "10.244.1.0/24"  # node 1's pod range, which Azure follows


def test_none_plugin_cross_node_reaches_the_wrong_pod():
    c = nl.Cluster.aks("none", nodes=2).add_pod("a", node=0).add_pod("b", node=1)
    t = c.trace("a", "b")
    assert t.verdict is nl.Verdict.MISDELIVERED
    assert "Both have the address 172.17.0.2" in t.reason
    assert t.delivered_to.startswith("pod a ")


def test_none_plugin_cross_node_to_an_unused_address_is_dropped_on_the_bridge():
    c = nl.Cluster.aks("none", nodes=2).add_pod("a", node=0).add_pod("x", node=1).add_pod("b", node=1)
    t = c.trace("a", "b")  # b is 172.17.0.3, which node 0 does not have
    assert t.verdict is nl.Verdict.DROPPED
    assert "nothing routes between the bridges" in t.reason


def test_none_plugin_same_node_works():
    c = nl.Cluster.aks("none", nodes=2).add_pod("a", node=0).add_pod("b", node=0, containers=[nl.Container("app", [80])])
    assert c.trace("a", "b").delivered


@pytest.mark.parametrize("plugin", PLUGINS)
def test_pod_to_its_own_node_and_back(kubenet2, plugin):
    c = with_plugin(kubenet2, plugin)
    node = c.pods["web-0"].node.name
    there = c.trace("web-0", node, port=10250)
    back = c.trace(node, "web-0", port=80)
    assert there.delivered and back.delivered
    assert there.hops[-1].decided_by.text.startswith("local ")
    assert back.listener == "nginx"


@pytest.mark.parametrize("plugin", PLUGINS)
def test_node_to_pod_on_another_node(kubenet2, plugin):
    c = with_plugin(kubenet2, plugin)
    t = c.trace(c.nodes[0].name, "api-0", port=8080)
    assert t.delivered == (plugin != "none")


@pytest.mark.parametrize("plugin,snat_to_node", [
    ("kubenet", True), ("azure-cni", False), ("azure-cni-bridge", False), ("azure-cni-overlay", True), ("none", True),
])
def test_pod_to_vnet_host_snat_depends_on_plugin(kubenet2, plugin, snat_to_node):
    c = with_plugin(kubenet2, plugin)
    t = c.trace("web-0", "vnet-vm", port=443)
    assert t.delivered
    node_ip = str(c.pods["web-0"].node.ip)
    assert (str(t.hops[-1].packet.src) == node_ip) == snat_to_node


@pytest.mark.parametrize("plugin", PLUGINS)
def test_pod_to_internet_is_snated_to_node_then_public_ip(kubenet2, plugin):
    c = with_plugin(kubenet2, plugin)
    t = c.trace("web-0", "internet", port=443)
    assert t.delivered
    node_ip = str(c.pods["web-0"].node.ip)
    assert str(t.nat[0]).startswith("SNAT (MASQUERADE)") and str(t.nat[0]).endswith(f"-> {node_ip}")
    assert str(t.hops[-1].packet.src) == "203.0.113.10"
    masq = [h for h in t.hops if h.nat and "MASQUERADE" in h.nat_text][0]
    assert masq.decided_by.text.endswith("-j MASQUERADE")


@pytest.mark.parametrize("plugin,reachable", [
    ("kubenet", False), ("azure-cni", True), ("azure-cni-bridge", True), ("azure-cni-overlay", False), ("none", False),
])
@pytest.mark.parametrize("source", ["peered-vm", "onprem-host", "vnet-vm"])
def test_outside_hosts_reach_pods_only_with_azure_cni(kubenet2, plugin, reachable, source):
    c = with_plugin(kubenet2, plugin)
    t = c.trace(source, "api-0", port=8080)
    assert t.delivered == reachable, t


def test_kubenet_peered_drop_explains_route_table_scope(kubenet2):
    t = kubenet2.trace("peered-vm", "api-0", port=8080)
    assert "Only the route table attached to the node subnet" in t.reason
    assert t.hops[-1].decided_by.text.split()[:3] == ["Default", "Active", "10.0.0.0/8"]


def test_internet_cannot_reach_private_pod_addresses(kubenet2):
    t = kubenet2.trace("internet", "web-0")
    assert t.verdict is nl.Verdict.DROPPED and "LoadBalancer Service" in t.reason


@pytest.mark.parametrize("plugin", PLUGINS)
def test_every_decided_by_line_is_in_a_printed_table(kubenet2, plugin):
    c = with_plugin(kubenet2, plugin)
    tables = _printed_tables(c)
    for src, dst in [("web-0", "api-0"), ("web-0", "web-1"), ("web-0", "internet"), ("web-0", "vnet-vm")]:
        for hop in c.trace(src, dst).hops:
            if hop.table.startswith(("ip route (", "iptables-save", "az network", "effective routes (node")):
                assert hop.decided_by.text in tables, (hop.table, hop.decided_by.text)


def test_trace_by_address_equals_trace_by_name(kubenet2):
    a = kubenet2.trace("web-0", "api-0")
    b = kubenet2.trace("web-0", "10.244.1.2")
    assert [h.decided_by.text for h in a.hops] == [h.decided_by.text for h in b.hops]


def test_trace_is_deterministic(kubenet2):
    assert str(kubenet2.trace("web-0", "internet")) == str(kubenet2.trace("web-0", "internet"))


def test_trace_text_and_html(kubenet2):
    t = kubenet2.trace("web-0", "api-0", port=8080)
    text = str(t)
    assert text.startswith("trace pod web-0 (10.244.0.2) -> pod api-0 (10.244.1.2), tcp/8080")
    assert "\nverdict: delivered: delivered to pod api-0 (10.244.1.2)\nreply: delivered: the reply reaches pod web-0 " \
        "(10.244.0.2) from 10.244.1.2:8080" in text
    html = t._repr_html_()
    assert html.count("<tr>") == len(t.hops) + 1 + len(t.reply.hops) + 1  # forward table and the reply table
    assert "VirtualAppliance" in html


def test_hop_packet_shows_the_header_at_that_point(kubenet2):
    t = kubenet2.trace("web-0", "internet", port=443)
    srcs = [str(h.packet.src) for h in t.hops]
    assert srcs[0] == "10.244.0.2" and srcs[-1] == "203.0.113.10"
    assert all(h.packet.dport == 443 for h in t.hops)


def test_all_hooks_shows_every_netfilter_hook_in_kernel_order(kubenet2):
    t = kubenet2.trace("web-0", "api-0", port=8080, all_hooks=True)
    hooks = [(h.place.name, h.hook) for h in t.hops if h.hook]
    node0 = [hk for place, hk in hooks if place.endswith("vmss000000")]
    node1 = [hk for place, hk in hooks if place.endswith("vmss000001")]
    assert node0 == ["PREROUTING", "FORWARD", "POSTROUTING"] == node1
    assert len(t.hops) > len(kubenet2.trace("web-0", "api-0", port=8080).hops)
    assert t.delivered


@pytest.mark.parametrize("mode", ["iptables", "nftables"])
def test_a_hook_where_only_jumps_matched_gets_no_hop_of_its_own_in_either_mode(mode):
    # nftables' "ct state new jump cluster-ips-check" matches every new connection and then nothing in
    # that chain does: like iptables' "-A FORWARD ... -j KUBE-FORWARD", it decides nothing, so the
    # short trace leaves the hook out (the line's target says so, not its wording); all_hooks shows it.
    from netlab.scenarios import shop

    c = shop().with_proxy_mode(mode)
    short = c.trace("client", "internet", port=443)
    assert [h.hook for h in short.hops if h.hook] == ["POSTROUTING"]
    full = c.trace("client", "internet", port=443, all_hooks=True)
    assert [h.hook for h in full.hops if h.hook] == ["PREROUTING", "FORWARD", "POSTROUTING"]
    assert short.delivered and full.delivered


def test_printed_traces_are_short_by_default_and_list_every_rule_on_request(kubenet2):
    c = kubenet2.add_service("web", selector={"app": "web"}, ports=[80])
    t = c.trace("api-0", "web", port=80)
    short, full = str(t), t.text(rules=True)
    assert "matched  4 rules at this hook (the trace's .text(rules=True) lists them)" in short
    assert "-A PREROUTING -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES" in full
    assert "kubernetes service portals" not in short
    deciding = {f"        {h.decided_by.text.strip()}" for h in t.hops}
    assert all(len(line) <= 110 for line in short.splitlines() if line not in deciding)
    # The deciding lines are never folded: each is on a line of its own, exactly as the tool prints it.
    for hop in t.hops:
        assert f"        {hop.decided_by.text.strip()}" in short.splitlines()
    assert all(f"        {r}" in full.splitlines() for h in t.hops for r in h.rules)


def test_userspace_proxys_new_connection_comes_from_the_routes_preferred_source():
    # kube-proxy dials the backend without binding an address: the kernel picks the route's src, so a backend
    # on the node's own cbr0 sees the node's cbr0 address, one on another node the node's eth0 address.
    from netlab.scenarios import proxy_modes

    c = proxy_modes().with_proxy_mode("userspace")  # client on node 0; web-0 on node 0, web-1 on node 1
    node0 = c.nodes[0]
    for endpoint, seen in (("10.244.0.2:8080", "10.244.0.1"), ("10.244.1.2:8080", str(node0.ip))):
        t = c.trace("client", "web", port=80, endpoint=endpoint)
        assert t.delivered and str(t.seen_source) == seen, (endpoint, t.seen_source)


def test_an_ipvs_hop_is_its_own_hook_and_its_scheduler_is_no_dice_roll():
    from netlab.scenarios import proxy_modes

    t = proxy_modes().with_proxy_mode("ipvs").trace("client", "web", port=80)
    hop = next(h for h in t.hops if "IPVS virtual server" in h.note)
    assert hop.note.startswith("after filter INPUT (for the node itself), IPVS takes the packet on its own hook:")
    assert "probability" not in hop.note and "the next one in turn" in hop.note


@pytest.mark.parametrize("mode", ["iptables", "nftables", "ipvs"])
def test_kube_proxys_masquerade_draws_a_random_source_port_and_the_reply_undoes_it(mode):
    # kube-proxy writes MASQUERADE --random-fully (nft: masquerade fully-random): the kernel gives the connection a
    # random source port, and conntrack maps the reply back to the client's own port.
    from netlab.scenarios import all_services

    c = all_services().with_proxy_mode(mode)
    node_port = c.find_service("web-np").spec.ports[0].node_port
    t = c.trace("vnet-vm", f"{c.nodes[2].ip}:{node_port}")  # node 2 runs no web pod: SNAT to reach another node
    masq = next(n for h in t.hops for n in h.nat if n.kind == "MASQUERADE")
    assert masq.after[0] == c.nodes[2].ip and masq.after[1] != masq.before[1] and 1024 <= masq.after[1] <= 65535
    assert t.hops[-1].packet.sport == masq.after[1]  # the pod sees the node's address and the new port
    back = next(n for h in t.reply.hops for n in h.nat if n.kind == "un-SNAT")
    assert back.before == masq.after and back.after == masq.before
    assert t == c.trace("vnet-vm", f"{c.nodes[2].ip}:{node_port}")  # the same port every time in netlab


def test_ip_masq_agents_masquerade_keeps_the_source_port():
    # ip-masq-agent's rule has no --random-fully: a free source port is kept
    c = nl.Cluster.aks("kubenet").add_pod("web-0")
    t = c.trace("web-0", "internet", port=443)
    masq = next(n for h in t.hops for n in h.nat if n.kind == "MASQUERADE")
    assert masq.after[1] == masq.before[1]
