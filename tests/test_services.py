"""Services in the cluster model: allocation, API objects, errors, and traces through kube-proxy."""

import ipaddress

import pytest

import netlab as nl


@pytest.fixture
def shop():
    """Three kubenet nodes; web-0 on node 0 and web-1 on node 1 behind Services; a client on node 0."""
    c = nl.Cluster.aks("kubenet", nodes=3)
    web = [nl.Container("nginx", ports=[nl.ContainerPort(8080, name="http")])]
    c = (c.add_pod("web-0", node=0, labels={"app": "web"}, containers=web)
          .add_pod("web-1", node=1, labels={"app": "web"}, containers=web)
          .add_pod("client", node=0))
    c = c.add_service("web", selector={"app": "web"}, ports=[{"name": "http", "port": 80, "targetPort": "http"}])
    c = c.add_service("web-np", selector={"app": "web"}, ports=[{"port": 80, "targetPort": 8080}], type="NodePort")
    c = c.add_service("web-local", selector={"app": "web"}, ports=[{"port": 80, "targetPort": 8080}],
                      type="LoadBalancer", external_traffic_policy="Local")
    c = c.add_service("web-lb", selector={"app": "web"}, ports=[{"port": 80, "targetPort": 8080}], type="LoadBalancer")
    c = c.add_service("empty", selector={"app": "nothing"}, ports=[80])
    return c


def test_every_cluster_has_kubernetes_and_kube_dns():
    c = nl.Cluster.aks("kubenet")
    assert str(c.services["kubernetes"].cluster_ip) == "10.0.0.1"
    assert str(c.services["kube-system/kube-dns"].cluster_ip) == "10.0.0.10"
    assert [(p.name, p.port, p.protocol) for p in c.services["kube-system/kube-dns"].ports] == [
        ("dns", 53, "UDP"), ("dns-tcp", 53, "TCP")]


def test_cluster_ips_come_from_the_dynamic_band_of_the_service_cidr(shop):
    band_end = ipaddress.IPv4Address("10.0.1.0")  # 10.0.0.1-10.0.1.0: the static band of a /16 (KEP-3070)
    for name in ("web", "web-np", "web-local", "web-lb", "empty"):
        ip = shop.services[name].cluster_ip
        assert ip in ipaddress.IPv4Network("10.0.0.0/16") and ip > band_end


def test_node_ports_come_from_the_upper_band(shop):
    for name in ("web-np", "web-local", "web-lb"):
        assert 30086 <= shop.services[name].ports[0].node_port <= 32767
    assert shop.services["web-local"].spec.health_check_node_port is not None
    assert shop.services["web-lb"].spec.health_check_node_port is None


def test_allocation_is_deterministic(shop):
    again = nl.Cluster.aks("kubenet", nodes=3).add_service("web", selector={"app": "web"}, ports=[80])
    assert again.services["web"].cluster_ip == shop.services["web"].cluster_ip


def test_named_target_port_resolves_per_pod(shop):
    assert shop.services["web"].endpoints == ["10.244.0.2:8080", "10.244.1.2:8080"]


def test_selector_matching_no_pods_gives_an_empty_slice(shop):
    assert shop.services["empty"].endpoints == []
    assert "empty-" in shop.kubectl_get_endpointslices() and "<unset>" in shop.kubectl_get_endpointslices()


def test_kubectl_get_svc_wide(shop):
    lines = shop.kubectl_get_svc().splitlines()
    assert lines[0].split() == ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE", "SELECTOR"]
    np_line = next(line for line in lines if line.startswith("web-np "))
    assert f"80:{shop.services['web-np'].ports[0].node_port}/TCP" in np_line
    lb = next(line for line in lines if line.startswith("web-lb "))
    assert str(shop.services["web-lb"].load_balancer_ip) in lb and "LoadBalancer" in lb


def test_api_objects_round_trip_through_the_parser(shop):
    from netlab.kubeproxy import parse_objects

    svcs, slices = parse_objects(shop.api_objects())
    assert {s.name for s in svcs} >= {"web", "web-np", "kubernetes", "kube-dns"}
    assert any(sl.service_name == "web" for sl in slices)


# ------------------------------------------------------------------ errors (issue: bad input)
def test_node_port_outside_the_range(shop):
    with pytest.raises(nl.ServiceError, match=r"nodePort.*30000-32767"):
        shop.add_service("x", ports=[{"port": 80, "nodePort": 29999}], type="NodePort")


def test_node_port_already_taken(shop):
    taken = shop.services["web-np"].ports[0].node_port
    with pytest.raises(nl.ServiceError, match=rf"nodePort: Invalid value: {taken}: provided port is already allocated "
                                              r"\(to Service default/web-np\)"):
        shop.add_service("x", ports=[{"port": 80, "nodePort": taken}], type="NodePort")


def test_cluster_ip_outside_the_service_cidr(shop):
    with pytest.raises(nl.ServiceError, match=r"provided IP is not in the valid range. The range of valid IPs is 10\.0\.0\.0/16"):
        shop.add_service("x", ports=[80], cluster_ip="10.1.0.5")


def test_cluster_ip_already_taken(shop):
    with pytest.raises(nl.ServiceError, match=r"provided IP is already allocated \(to Service kube-system/kube-dns\)"):
        shop.add_service("x", ports=[80], cluster_ip="10.0.0.10")


@pytest.mark.parametrize("port", [0, 65536, -1])
def test_port_outside_1_to_65535(shop, port):
    with pytest.raises(nl.ServiceError, match=r"spec\.ports\[0\]\.port: Invalid value: .*must be between 1 and 65535"):
        shop.add_service("x", ports=[port])


def test_unknown_protocol(shop):
    with pytest.raises(nl.ServiceError, match=r"spec\.ports\[0\]\.protocol: Unsupported value: \"ICMP\""):
        shop.add_service("x", ports=[{"port": 80, "protocol": "icmp"}])


def test_named_target_port_no_container_declares(shop):
    with pytest.raises(nl.ServiceError, match=r"targetPort: Invalid value: 'https': no container of the 2 selected "
                                              r"pod\(s\) declares a port named 'https' \(they declare 'http'\)"):
        shop.add_service("x", selector={"app": "web"}, ports=[{"port": 443, "targetPort": "https"}])


@pytest.mark.parametrize("timeout", [0, 86401])
def test_session_affinity_timeout_outside_1_to_86400(shop, timeout):
    with pytest.raises(nl.ServiceError, match=r"timeoutSeconds: Invalid value"):
        shop.add_service("x", ports=[80], session_affinity="ClientIP", session_affinity_timeout=timeout)


def test_local_policy_on_a_cluster_ip_service(shop):
    with pytest.raises(nl.ServiceError, match=r"spec\.externalTrafficPolicy: Invalid value: \"Local\": may only be set "
                                              r"for externally-accessible services"):
        shop.add_service("x", ports=[80], external_traffic_policy="Local")


def test_malformed_service_dict_names_the_field_path():
    from netlab.kubeproxy import parse_service

    with pytest.raises(nl.ServiceError, match=r"spec\.ports\[0\]\.port"):
        parse_service({"metadata": {"name": "a"}, "spec": {"clusterIP": "10.0.0.5", "ports": [{"port": "x"}]}})


def test_duplicate_service_name(shop):
    with pytest.raises(nl.DuplicateError, match="already exists"):
        shop.add_service("web", ports=[80])


def test_bad_service_name_is_a_dns_label(shop):
    with pytest.raises(nl.ServiceError, match="DNS-1035 label"):
        shop.add_service("Web_1", ports=[80])


def test_several_ports_need_names(shop):
    with pytest.raises(nl.ServiceError, match=r"spec\.ports\[0\]\.name: Required value"):
        shop.add_service("x", ports=[80, 443])


def test_failed_add_service_keeps_the_cluster(shop):
    before = shop.kubectl_get_svc()
    with pytest.raises(nl.NetlabError):
        shop.add_service("x", ports=[70000])
    assert shop.kubectl_get_svc() == before


def test_unknown_proxy_mode_suggests(shop):
    with pytest.raises(nl.ConfigError, match="Did you mean 'iptables'"):
        shop.with_proxy_mode("iptable")


# ------------------------------------------------------------------ traces through Services
def _endpoint_node(c, t):
    return t.delivered_to


def test_pod_to_cluster_ip_is_dnated_without_masquerade(shop):
    t = shop.trace("client", "web", port=80)
    assert t.delivered and t.listener == "nginx"
    assert t.endpoints == ("10.244.0.2:8080", "10.244.1.2:8080")
    assert t.seen_source == shop.pods["client"].ip
    dnat = [h for h in t.hops if h.nat and h.nat[0].kind == "DNAT"]
    assert len(dnat) == 1 and dnat[0].decided_by.text.endswith(f"-j DNAT --to-destination {dnat[0].packet.dst}:8080")
    assert dnat[0].rules[0].text == '-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES'


def test_explicit_endpoint_and_seed_choose_the_branch(shop):
    assert shop.trace("client", "web", endpoint="10.244.1.2:8080").delivered_to.startswith("pod web-1")
    assert shop.trace("client", "web", endpoint="10.244.0.2:8080").delivered_to.startswith("pod web-0")
    seen = {shop.trace("client", "web", seed=s).delivered_to for s in range(12)}
    assert len(seen) == 2


def test_branch_probabilities_are_shown(shop):
    t = shop.trace("client", "web")
    node, options, chosen = t.choices[0]
    assert sum(p for _, p in options) == pytest.approx(1.0)
    assert "with probability 0.50" in next(h for h in t.hops if h.nat).note


def test_node_to_cluster_ip_is_masqueraded(shop):
    node = shop.nodes[2]
    t = shop.trace(node.name, "web", port=80)
    assert t.delivered and t.seen_source == node.ip


def test_nodeport_cluster_policy_masquerades_and_may_go_anywhere(shop):
    n2 = shop.nodes[2]
    t = shop.trace("vnet-vm", f"{n2.ip}:{shop.services['web-np'].ports[0].node_port}")
    assert t.delivered and t.seen_source == n2.ip
    assert set(t.endpoints) == {"10.244.0.2:8080", "10.244.1.2:8080"}


def test_nodeport_local_policy_keeps_the_client_address_and_stays_local(shop):
    n1 = shop.nodes[1]
    port = shop.services["web-local"].ports[0].node_port
    t = shop.trace("vnet-vm", f"{n1.ip}:{port}")
    assert t.delivered and str(t.seen_source) == "10.225.0.4"
    assert t.delivered_to.startswith("pod web-1")


def test_nodeport_local_policy_drops_on_a_node_without_endpoints(shop):
    n2 = shop.nodes[2]
    t = shop.trace("vnet-vm", f"{n2.ip}:{shop.services['web-local'].ports[0].node_port}")
    assert t.verdict is nl.Verdict.DROPPED and "has no local endpoints" in t.reason


def test_pod_to_local_policy_nodeport_is_short_circuited_to_all_endpoints(shop):
    c = shop.add_pod("client2", node=2)  # node 2 runs no web endpoint
    n2 = c.nodes[2]
    t = c.trace("client2", f"{n2.ip}:{c.services['web-local'].ports[0].node_port}")
    assert t.delivered and t.seen_source == c.pods["client2"].ip
    assert any("pod traffic for default/web-local" in r for h in t.hops for r in (x.text for x in h.rules))


def test_pod_to_another_nodes_local_nodeport_is_masqueraded_first_and_dropped(shop):
    # ip-masq-agent SNATs the pod's packet to its node's address on the way out, so node 2
    # sees an outside source, and Local policy with no local endpoint drops it.
    n2 = shop.nodes[2]
    t = shop.trace("client", f"{n2.ip}:{shop.services['web-local'].ports[0].node_port}")
    assert t.verdict is nl.Verdict.DROPPED and "has no local endpoints" in t.reason
    assert any(h.nat and "SNAT" in h.nat_text for h in t.hops)


def test_load_balancer_local_policy_reaches_only_healthy_nodes(shop):
    lb = shop.services["web-local"].load_balancer_ip
    ends = {shop.trace("internet", str(lb), seed=s).delivered_to for s in range(10)}
    assert ends <= {"pod web-0 (10.244.0.2)", "pod web-1 (10.244.1.2)"}
    t = shop.trace("internet", str(lb))
    assert str(t.seen_source) == "198.51.100.7"
    assert "503, no local endpoint" in t.hops[1].note


def test_load_balancer_cluster_policy_masquerades(shop):
    t = shop.trace("internet", str(shop.services["web-lb"].load_balancer_ip), seed=1)
    assert t.delivered and t.seen_source in {n.ip for n in shop.nodes}
    assert t.reply.delivered and "from 203.0.113." in t.reply.reason


def test_in_ipvs_mode_a_pod_reaches_itself_on_every_image(shop):
    """IPVS delivers the Service address to the node itself (kube-ipvs0) and sends the DNATed packet out again:
    it leaves from cbr0, not back out of the pod's port, so no hairpin turn is needed (a model claim: this
    kernel has no IPVS to check it against)."""
    t = shop.with_proxy_mode("ipvs").with_node_image("ubuntu-24.04").trace("web-0", "web", endpoint="10.244.0.2:8080")
    assert t.delivered and str(t.seen_source) == "10.244.0.1"


@pytest.mark.parametrize("mode", ["iptables", "nftables"])
def test_a_pod_reaching_itself_through_its_service_depends_on_the_node_image(shop, mode):
    """AKS's cbr0: promiscuous, hairpin off. Kernels up to 6.6 pass the DNATed frame up to IP and it comes
    back masqueraded; 6.8 (Ubuntu 24.04) keeps it on the bridge, which will not turn it round: a timeout
    (Azure/AKS issue 5669). Hairpin on (AgentBaker pull request 8426) works on every image."""
    shop = shop.with_proxy_mode(mode)
    for image in ("ubuntu-22.04", "azurelinux-3"):
        t = shop.with_node_image(image).trace("web-0", "web", endpoint="10.244.0.2:8080")
        assert t.delivered and t.delivered_to.startswith("pod web-0")
        assert str(t.seen_source) == "10.244.0.1"  # SNAT to cbr0's address: the pod would otherwise answer itself
    t = shop.with_node_image("ubuntu-24.04").trace("web-0", "web", endpoint="10.244.0.2:8080")
    assert t.verdict is nl.Verdict.DROPPED and "5669" in t.reason and "6.8" in t.reason
    assert t.hops[-1].decided_by.command == "bridge -d link show" and t.hops[-1].decided_by.text.startswith("hairpin off")
    assert t.hops[-1].in_interface.startswith("veth") and t.hops[-1].out_interface is None  # it never leaves
    assert not t.masquerade and not any(h.hook in ("FORWARD", "POSTROUTING") for h in t.hops)  # stays on the bridge
    assert shop.run("conntrack -L", on=0, after=t).endswith(": 0 flow entries have been shown.")  # never confirmed
    fixed = shop.with_node_image("ubuntu-24.04").with_hairpin_mode(True).trace("web-0", "web", endpoint="10.244.0.2:8080")
    assert fixed.delivered and str(fixed.seen_source) == "10.244.0.1"
    other = shop.with_node_image("ubuntu-24.04").trace("web-0", "web", endpoint="10.244.1.2:8080")
    assert other.delivered  # only the turn back into the same port fails


def test_service_without_endpoints_is_rejected(shop):
    t = shop.trace("client", "empty")
    assert t.verdict is nl.Verdict.REFUSED
    assert "has no endpoints" in t.reason and "REJECT" in t.reason


def test_client_ip_affinity_rules_are_matched(shop):
    c = shop.add_service("sticky", selector={"app": "web"}, ports=[{"port": 80, "targetPort": 8080}],
                         session_affinity="ClientIP")
    t = c.trace("client", "sticky")
    assert any("-m recent" in r and "--set" in r for h in t.hops for r in (x.text for x in h.rules))


def test_load_balancer_source_ranges_drop_others():
    c = nl.Cluster.aks("kubenet", nodes=1).add_pod("w", labels={"app": "w"}, containers=[nl.Container("n", [80])])
    c = c.add_service("w", selector={"app": "w"}, ports=[80], type="LoadBalancer",
                      load_balancer_source_ranges=["203.0.113.0/25"])
    lb = str(c.services["w"].load_balancer_ip)
    t = c.trace("internet", lb)  # 198.51.100.7 is outside the allowed range
    assert t.verdict is nl.Verdict.DROPPED and "loadBalancerSourceRanges" in t.reason


def test_reply_comes_back_from_the_service_address(shop):
    t = shop.trace("client", "web")
    assert t.reply.delivered
    assert str(t.reply.hops[-1].packet.src) == str(shop.services["web"].cluster_ip)
    assert any(h.table.startswith("conntrack -L") for h in t.reply.hops)


def test_dns_query_to_kube_dns_without_coredns_is_rejected():
    c = nl.Cluster.aks("kubenet").add_pod("a")
    t = c.trace("a", "kube-system/kube-dns", port=53, protocol="udp")
    assert t.verdict is nl.Verdict.REFUSED and "no endpoints" in t.reason


def test_kubernetes_service_goes_to_the_api_server(shop):
    t = shop.trace("client", "kubernetes", port=443)
    assert t.delivered and "203.0.113.100" in t.delivered_to


@pytest.mark.parametrize("mode, verdict, line", [
    ("iptables", "dropped", "10.0.0.0/8        None"),  # no rule matches: routed to Azure, which drops it
    ("userspace", "dropped", "10.0.0.0/8        None"),
    ("nftables", "refused", 'ip daddr @cluster-ips reject comment "Reject traffic to invalid ports of ClusterIPs"'),
    ("ipvs", "refused", "--match-set KUBE-IPVS-IPS dst -j REJECT"),
])
def test_service_port_that_does_not_exist_is_left_to_the_rules(shop, mode, verdict, line):
    t = shop.with_proxy_mode(mode).trace("client", "web", port=81)
    assert t.verdict.value == verdict and line in t.hops[-1].decided_by.text
    assert not t.choices  # no Service port matched, so kube-proxy chose no endpoint
    if verdict == "dropped":
        assert "service CIDR" in t.reason and "does not have it" in t.reason


def test_every_hook_line_is_in_the_nodes_iptables_save(shop):
    t = shop.trace("client", "web-np")
    saves = {n.name: n.iptables_save() for n in shop.nodes}
    for h in t.hops:
        if h.table.startswith("iptables-save"):
            node = h.decided_by.on
            for r in h.rules:
                assert r.text in saves[node].splitlines() and r.on == node


def test_with_plugin_keeps_services_and_the_proxy_mode(shop):
    c = shop.with_proxy_mode("nftables").with_plugin("azure-cni")
    assert sorted(c.services) == sorted(shop.services)
    assert c.services["web"].cluster_ip == shop.services["web"].cluster_ip
    assert c.proxy_mode.value == "nftables"
    assert c.trace("client", "web").delivered


def test_with_plugin_and_a_new_service_cidr_reallocates_cluster_ips(shop):
    c = shop.with_plugin("kubenet", service_cidr="10.1.0.0/16", dns_service_ip="10.1.0.10")
    assert str(c.services["kubernetes"].cluster_ip) == "10.1.0.1"
    assert c.services["web"].cluster_ip in __import__("ipaddress").IPv4Network("10.1.0.0/16")
    assert c.trace("client", "web").delivered
