"""Packets through kube-proxy's iptables rules (facts sheet sections 1.5 and 5)."""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netlab import kubeproxy as kp
from netlab.errors import AddressError, ConfigError, NotFoundError

NODE_IP = "10.224.0.4"
CFG = kp.ProxyConfig(node_name="node-a", node_ips=[NODE_IP], cluster_cidr="10.244.0.0/16")
NO_DETECTOR = kp.ProxyConfig(node_name="node-a", node_ips=[NODE_IP])

POD = "10.244.1.5"  # a pod on this node, not an endpoint
OUTSIDE = "203.0.113.9"  # a client outside the cluster
OFF_CLUSTER = "192.168.7.7"  # a VNet host that routes the service range to this node
LOCAL_EP = "10.244.1.8:8080"
REMOTE_EPS = ("10.244.2.9:8080", "10.244.3.4:8080")
ALL_EPS = tuple(sorted((LOCAL_EP, *REMOTE_EPS)))


def svc(name, **spec):
    status = spec.pop("status", None)
    obj = {"metadata": {"name": name, "namespace": "shop"}, "spec": spec}
    if status:
        obj["status"] = status
    return obj


def slice_for(name, endpoints=(("10.244.1.8", "node-a"), ("10.244.2.9", "node-b"), ("10.244.3.4", "node-c")),
              port=8080, **conditions):
    return {
        "metadata": {"name": f"{name}-1", "namespace": "shop", "labels": {"kubernetes.io/service-name": name}},
        "addressType": "IPv4",
        "endpoints": [{"addresses": [a], "nodeName": n, **({"conditions": conditions} if conditions else {})}
                      for a, n in endpoints],
        "ports": [{"name": "", "port": port, "protocol": "TCP"}],
    }


CLUSTER_IP = svc("web", clusterIP="10.0.0.12", ports=[{"port": 80}])
NODE_PORT = svc("np", type="NodePort", clusterIP="10.0.0.13", ports=[{"port": 80, "nodePort": 30080}])
NODE_PORT_LOCAL = svc("npl", type="NodePort", clusterIP="10.0.0.14", externalTrafficPolicy="Local",
                      ports=[{"port": 80, "nodePort": 30081}])
LB = svc("lb", type="LoadBalancer", clusterIP="10.0.0.15", ports=[{"port": 80, "nodePort": 30082}],
         status={"loadBalancer": {"ingress": [{"ip": "20.1.2.3"}]}})
LB_LOCAL = svc("lbl", type="LoadBalancer", clusterIP="10.0.0.16", externalTrafficPolicy="Local",
               healthCheckNodePort=32000, ports=[{"port": 80, "nodePort": 30083}],
               status={"loadBalancer": {"ingress": [{"ip": "20.1.2.4"}]}})
SERVICES = [CLUSTER_IP, NODE_PORT, NODE_PORT_LOCAL, LB, LB_LOCAL]
SLICES = [slice_for(s["metadata"]["name"]) for s in SERVICES]


def trace(source, destination, port, services=SERVICES, slices=SLICES, cfg=CFG, **kw):
    flow = kp.trace_flow("iptables", services, slices, cfg, source=source, destination=destination, port=port, **kw)
    assert math.isclose(sum(b.probability for b in flow.branches), 1.0)
    return flow


# ---- ClusterIP ------------------------------------------------------------------------


def test_pod_to_cluster_ip_reaches_every_endpoint_without_masquerade():
    flow = trace(POD, "10.0.0.12", 80)
    assert (flow.verdict, flow.endpoints, flow.masquerade) == ("DNAT", ALL_EPS, False)
    assert all(b.probability == pytest.approx(1 / 3) for b in flow.branches)


def test_node_to_cluster_ip_is_masqueraded_with_the_cluster_cidr_detector():
    flow = trace(NODE_IP, "10.0.0.12", 80)
    assert (flow.verdict, flow.endpoints, flow.masquerade) == ("DNAT", ALL_EPS, True)
    assert flow.branches[0].hooks == ("nat OUTPUT", "filter OUTPUT", "nat POSTROUTING")


def test_node_to_cluster_ip_is_not_masqueraded_without_a_detector():
    flow = trace(NODE_IP, "10.0.0.12", 80, cfg=NO_DETECTOR)
    assert (flow.verdict, flow.endpoints, flow.masquerade) == ("DNAT", ALL_EPS, False)


def test_off_cluster_source_to_cluster_ip_is_masqueraded_with_a_detector_only():
    assert trace(OFF_CLUSTER, "10.0.0.12", 80).masquerade is True
    assert trace(OFF_CLUSTER, "10.0.0.12", 80, cfg=NO_DETECTOR).masquerade is False


def test_masquerade_all_masquerades_pod_traffic_too():
    cfg = kp.ProxyConfig(node_name="node-a", node_ips=[NODE_IP], cluster_cidr="10.244.0.0/16", masquerade_all=True)
    assert trace(POD, "10.0.0.12", 80, cfg=cfg).masquerade is True


def test_external_traffic_policy_does_not_apply_to_cluster_ip_traffic():
    flow = trace(POD, "10.0.0.14", 80)
    assert (flow.endpoints, flow.masquerade) == (ALL_EPS, False)


def test_hairpin_pod_reaching_itself_through_its_service_is_masqueraded():
    flow = trace("10.244.1.8", "10.0.0.12", 80)
    by_endpoint = {b.endpoint: b.masquerade for b in flow.branches}
    assert by_endpoint == {LOCAL_EP: True, REMOTE_EPS[0]: False, REMOTE_EPS[1]: False}
    assert flow.masquerade is False
    hairpin = next(b for b in flow.branches if b.endpoint == LOCAL_EP)
    assert any(line.endswith("-s 10.244.1.8 -j KUBE-MARK-MASQ") for line in hairpin.lines)


def test_service_without_endpoints_is_rejected_in_filter():
    flow = trace(POD, "10.0.0.12", 80, slices=[])
    assert (flow.verdict, flow.endpoints) == ("REJECT", ())
    assert flow.branches[0].hooks[-1] == "filter FORWARD"
    assert flow.branches[0].lines[-1].endswith("has no endpoints\" -m tcp -p tcp -d 10.0.0.12 --dport 80 -j REJECT")


def test_node_to_service_without_endpoints_is_rejected_in_filter_output():
    flow = trace(NODE_IP, "10.0.0.12", 80, slices=[])
    assert flow.verdict == "REJECT" and flow.branches[0].hooks[-1] == "filter OUTPUT"


def test_not_ready_endpoints_are_not_chosen():
    slices = [slice_for("web", endpoints=(("10.244.2.9", "node-b"),)),
              {**slice_for("web", endpoints=(("10.244.3.4", "node-c"),), ready=False),
               "metadata": {"name": "web-2", "namespace": "shop", "labels": {"kubernetes.io/service-name": "web"}}}]
    assert trace(POD, "10.0.0.12", 80, services=[CLUSTER_IP], slices=slices).endpoints == ("10.244.2.9:8080",)


def test_terminating_endpoints_serve_when_none_is_ready():
    slices = [slice_for("web", endpoints=(("10.244.2.9", "node-b"),), ready=False, serving=True, terminating=True)]
    assert trace(POD, "10.0.0.12", 80, services=[CLUSTER_IP], slices=slices).endpoints == ("10.244.2.9:8080",)


# ---- internalTrafficPolicy -------------------------------------------------------------


ITP_LOCAL = svc("itp", clusterIP="10.0.0.17", internalTrafficPolicy="Local", ports=[{"port": 80}])


def test_internal_local_policy_sends_pod_traffic_to_local_endpoints_only():
    flow = trace(POD, "10.0.0.17", 80, services=[ITP_LOCAL], slices=[slice_for("itp")])
    assert (flow.verdict, flow.endpoints, flow.masquerade) == ("DNAT", (LOCAL_EP,), False)


def test_internal_local_policy_without_local_endpoints_drops():
    remote = slice_for("itp", endpoints=(("10.244.2.9", "node-b"),))
    flow = trace(POD, "10.0.0.17", 80, services=[ITP_LOCAL], slices=[remote])
    assert (flow.verdict, flow.endpoints) == ("DROP", ())
    assert "has no local endpoints" in flow.branches[0].lines[-1]


# ---- NodePort and LoadBalancer ---------------------------------------------------------


def test_external_to_node_port_with_cluster_policy_is_masqueraded_to_any_endpoint():
    flow = trace(OUTSIDE, NODE_IP, 30080)
    assert (flow.verdict, flow.endpoints, flow.masquerade) == ("DNAT", ALL_EPS, True)


def test_external_to_node_port_with_local_policy_keeps_the_source_and_stays_local():
    flow = trace(OUTSIDE, NODE_IP, 30081)
    assert (flow.verdict, flow.endpoints, flow.masquerade) == ("DNAT", (LOCAL_EP,), False)
    assert flow.branches[0].probability == 1.0


def test_external_to_node_port_with_local_policy_and_no_local_endpoint_is_dropped():
    remote = [slice_for("npl", endpoints=(("10.244.2.9", "node-b"),))]
    flow = trace(OUTSIDE, NODE_IP, 30081, services=[NODE_PORT_LOCAL], slices=remote)
    assert (flow.verdict, flow.endpoints) == ("DROP", ())
    assert flow.branches[0].hooks == ("nat PREROUTING", "filter INPUT")
    assert flow.branches[0].lines[-1].startswith('-A KUBE-EXTERNAL-SERVICES -m comment --comment "shop/npl has no local endpoints"')


def test_pod_to_node_port_with_local_policy_is_short_circuited_to_all_endpoints():
    flow = trace(POD, NODE_IP, 30081)
    assert (flow.verdict, flow.endpoints, flow.masquerade) == ("DNAT", ALL_EPS, False)
    assert any("pod traffic for shop/npl external destinations" in l for l in flow.branches[0].lines)


def test_pod_short_circuit_works_even_without_local_endpoints():
    remote = [slice_for("npl", endpoints=(("10.244.2.9", "node-b"),))]
    flow = trace(POD, NODE_IP, 30081, services=[NODE_PORT_LOCAL], slices=remote)
    assert (flow.verdict, flow.endpoints, flow.masquerade) == ("DNAT", ("10.244.2.9:8080",), False)


def test_node_to_its_own_node_port_with_local_policy_is_masqueraded_to_all_endpoints():
    flow = trace(NODE_IP, NODE_IP, 30081)
    assert (flow.verdict, flow.endpoints, flow.masquerade) == ("DNAT", ALL_EPS, True)
    assert any("masquerade LOCAL traffic for shop/npl" in l for l in flow.branches[0].lines)


def test_localhost_node_port_is_masqueraded():
    flow = trace("127.0.0.1", "127.0.0.1", 30080)
    assert (flow.verdict, flow.endpoints, flow.masquerade) == ("DNAT", ALL_EPS, True)


def test_external_to_load_balancer_with_cluster_policy_is_masqueraded():
    flow = trace(OUTSIDE, "20.1.2.3", 80)
    assert (flow.verdict, flow.endpoints, flow.masquerade) == ("DNAT", ALL_EPS, True)


def test_external_to_load_balancer_with_local_policy_keeps_the_source():
    flow = trace(OUTSIDE, "20.1.2.4", 80)
    assert (flow.verdict, flow.endpoints, flow.masquerade) == ("DNAT", (LOCAL_EP,), False)


def test_pod_to_load_balancer_with_local_policy_reaches_all_endpoints_without_masquerade():
    flow = trace(POD, "20.1.2.4", 80)
    assert (flow.verdict, flow.endpoints, flow.masquerade) == ("DNAT", ALL_EPS, False)


def test_health_check_node_port_is_accepted_in_filter():
    flow = trace(OUTSIDE, NODE_IP, 32000)
    assert flow.verdict == "ACCEPT"
    assert flow.branches[0].lines[-1].endswith("health check node port\" -m tcp -p tcp --dport 32000 -j ACCEPT")


def test_external_ip_with_cluster_policy_is_masqueraded():
    ext = svc("ext", clusterIP="10.0.0.18", externalIPs=["192.168.99.33"], ports=[{"port": 80}])
    flow = trace(OUTSIDE, "192.168.99.33", 80, services=[ext], slices=[slice_for("ext")])
    assert (flow.verdict, flow.endpoints, flow.masquerade) == ("DNAT", ALL_EPS, True)


def test_load_balancer_with_no_endpoints_rejects_external_traffic():
    flow = trace(OUTSIDE, "20.1.2.3", 80, services=[LB], slices=[])
    assert flow.verdict == "REJECT"
    assert trace(OUTSIDE, NODE_IP, 30082, services=[LB], slices=[]).verdict == "REJECT"


# ---- loadBalancerSourceRanges ----------------------------------------------------------


LB_RANGES = svc("lbr", type="LoadBalancer", clusterIP="10.0.0.19", loadBalancerSourceRanges=["203.0.113.0/24"],
                ports=[{"port": 80, "nodePort": 30084}], status={"loadBalancer": {"ingress": [{"ip": "20.1.2.5"}]}})


def test_allowed_source_range_reaches_the_endpoints():
    flow = trace(OUTSIDE, "20.1.2.5", 80, services=[LB_RANGES], slices=[slice_for("lbr")])
    assert (flow.verdict, flow.endpoints, flow.masquerade) == ("DNAT", ALL_EPS, True)


def test_other_sources_are_dropped_by_kube_proxy_firewall():
    flow = trace("198.51.100.7", "20.1.2.5", 80, services=[LB_RANGES], slices=[slice_for("lbr")])
    assert (flow.verdict, flow.endpoints) == ("DROP", ())
    assert flow.branches[0].lines[-1].startswith('-A KUBE-PROXY-FIREWALL -m comment --comment "shop/lbr traffic not accepted by KUBE-FW-')
    assert any("will be dropped by KUBE-PROXY-FIREWALL" in l for l in flow.branches[0].lines)


def test_node_ports_are_not_subject_to_source_ranges():
    flow = trace("198.51.100.7", NODE_IP, 30084, services=[LB_RANGES], slices=[slice_for("lbr")])
    assert flow.verdict == "DNAT"


# ---- session affinity -------------------------------------------------------------------


AFFINITY = svc("sticky", clusterIP="10.0.0.20", sessionAffinity="ClientIP", ports=[{"port": 80}])


def test_fresh_client_with_client_ip_affinity_is_load_balanced():
    flow = trace(POD, "10.0.0.20", 80, services=[AFFINITY], slices=[slice_for("sticky")])
    assert flow.endpoints == ALL_EPS and len(flow.branches) == 3


def test_client_with_an_affinity_entry_always_reaches_its_endpoint():
    flow = trace(POD, "10.0.0.20", 80, services=[AFFINITY], slices=[slice_for("sticky")], affinity=REMOTE_EPS[1])
    assert [(b.endpoint, b.probability) for b in flow.branches] == [(REMOTE_EPS[1], 1.0)]
    assert any("--rcheck --seconds 10800 --reap" in l for l in flow.branches[0].lines)


def test_unknown_affinity_endpoint_is_reported():
    with pytest.raises(NotFoundError, match="10.244.9.9:8080"):
        trace(POD, "10.0.0.20", 80, services=[AFFINITY], slices=[slice_for("sticky")], affinity="10.244.9.9:8080")


# ---- other -----------------------------------------------------------------------------


def test_traffic_to_a_non_service_address_is_left_alone():
    flow = trace(POD, "10.244.2.9", 8080)
    assert (flow.verdict, flow.endpoints, flow.masquerade) == ("ACCEPT", (), False)


def test_udp_packet_matches_the_udp_service_only():
    dns = svc("dns", clusterIP="10.0.0.10", ports=[{"port": 53, "protocol": "UDP"}])
    dns_slice = slice_for("dns", port=53)
    dns_slice["ports"][0]["protocol"] = "UDP"
    assert trace(POD, "10.0.0.10", 53, services=[dns], slices=[dns_slice], protocol="udp").verdict == "DNAT"
    assert trace(POD, "10.0.0.10", 53, services=[dns], slices=[dns_slice], protocol="tcp").verdict == "ACCEPT"


def test_endpoint_on_the_node_itself_is_delivered_through_input_without_postrouting():
    api = svc("kubernetes", clusterIP="10.0.0.1", ports=[{"name": "https", "port": 443}])
    host = slice_for("kubernetes", endpoints=((NODE_IP, "node-a"),), port=6443)
    host["ports"][0]["name"] = "https"
    flow = trace(POD, "10.0.0.1", 443, services=[api], slices=[host])
    assert flow.endpoints == (f"{NODE_IP}:6443",)
    assert flow.branches[0].hooks == ("nat PREROUTING", "filter INPUT")


def test_every_traced_line_can_be_found_in_the_printed_restore_text():
    text = kp.render("iptables", SERVICES, SLICES, CFG)
    printed = {l.removeprefix("# ") for l in text.splitlines()}
    for source, destination, port in [(POD, "10.0.0.12", 80), (NODE_IP, NODE_IP, 30081), (OUTSIDE, "20.1.2.4", 80)]:
        for branch in trace(source, destination, port).branches:
            assert set(branch.lines) <= printed


def test_bad_mode_protocol_and_address_are_reported():
    with pytest.raises(ConfigError, match="iptables"):
        kp.trace_flow("iptable", [], [], CFG, source=POD, destination="10.0.0.12", port=80)
    with pytest.raises(ConfigError, match="Did you mean 'udp'"):
        kp.trace_flow("iptables", [], [], CFG, source=POD, destination="10.0.0.12", port=80, protocol="upd")
    with pytest.raises(AddressError):
        kp.trace_flow("iptables", [], [], CFG, source="10.0.0.300", destination="10.0.0.12", port=80)


# ---- property: probabilities add up --------------------------------------------------


@st.composite
def random_service(draw):
    kind = draw(st.sampled_from(["ClusterIP", "NodePort", "LoadBalancer"]))
    spec = {"type": kind, "clusterIP": "10.0.0.50", "ports": [{"port": 80}]}
    if kind != "ClusterIP":
        spec["ports"][0]["nodePort"] = 30500
        spec["externalTrafficPolicy"] = draw(st.sampled_from(["Cluster", "Local"]))
    if kind == "LoadBalancer":
        spec["status"] = {"loadBalancer": {"ingress": [{"ip": "20.9.9.9"}]}}
        if draw(st.booleans()):
            spec["loadBalancerSourceRanges"] = ["203.0.113.0/24"]
    if draw(st.booleans()):
        spec["internalTrafficPolicy"] = "Local"
    if draw(st.booleans()):
        spec["sessionAffinity"] = "ClientIP"
    n = draw(st.integers(0, 12))
    nodes = draw(st.lists(st.sampled_from(["node-a", "node-b"]), min_size=n, max_size=n))
    endpoints = tuple((f"10.244.{i % 3}.{i + 10}", node) for i, node in enumerate(nodes))
    return svc("rnd", **spec), slice_for("rnd", endpoints=endpoints), kind


@settings(max_examples=80, deadline=None, derandomize=True)
@given(random_service(), st.sampled_from([POD, NODE_IP, OUTSIDE, "127.0.0.1", "10.244.0.10"]),
       st.sampled_from(["cluster", "nodeport", "lb"]))
def test_branch_probabilities_always_sum_to_one(service, source, target):
    service_obj, slice_obj, kind = service
    destination, port = {"cluster": ("10.0.0.50", 80), "nodeport": (NODE_IP, 30500), "lb": ("20.9.9.9", 80)}[target]
    if source == "127.0.0.1" and target == "nodeport":
        destination = "127.0.0.1"
    flow = kp.trace_flow("iptables", [service_obj], [slice_obj], CFG, source=source, destination=destination, port=port)
    assert math.isclose(sum(b.probability for b in flow.branches), 1.0, rel_tol=1e-9)
    assert all(b.probability > 0 for b in flow.branches)
    assert flow.verdict in ("DNAT", "REJECT", "DROP", "ACCEPT")
    if flow.verdict == "DNAT":
        assert len(flow.branches) == len(flow.endpoints)
