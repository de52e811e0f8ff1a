"""Reading Services and EndpointSlices as the API server and kube-proxy read them."""

import ipaddress

import pytest

from netlab.errors import ConfigError, ServiceError
from netlab.kubeproxy import api, modes

CFG = api.ProxyConfig(node_name="node-a", node_ips=["10.224.0.4"], cluster_cidr="10.244.0.0/16")


def svc(name="web", ns="shop", **spec):
    spec.setdefault("clusterIP", "10.0.0.12")
    spec.setdefault("ports", [{"port": 80}])
    status = spec.pop("status", None)
    obj = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": ns}, "spec": spec}
    if status:
        obj["status"] = status
    return obj


def ep(address, node=None, **conditions):
    entry = {"addresses": [address]}
    if node:
        entry["nodeName"] = node
    if conditions:
        entry["conditions"] = conditions
    return entry


def eps(endpoints, service="web", ns="shop", name=None, ports=None, address_type="IPv4"):
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {"name": name or f"{service}-abc", "namespace": ns,
                     "labels": {"kubernetes.io/service-name": service}},
        "addressType": address_type,
        "endpoints": endpoints,
        "ports": ports if ports is not None else [{"name": "", "port": 8080, "protocol": "TCP"}],
    }


# ---- Services ------------------------------------------------------------------------


def test_port_defaults_are_tcp_and_target_port_equal_to_port():
    port = api.parse_service(svc()).ports[0]
    assert (port.protocol, port.port, port.target_port, port.node_port) == ("TCP", 80, 80, None)


def test_port_out_of_range_is_reported_with_the_api_servers_field_path():
    with pytest.raises(ServiceError) as err:
        api.parse_service(svc(ports=[{"port": 70000}]))
    assert "spec.ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive" in str(err.value)
    assert str(err.value).startswith("Service shop/web: ")


def test_every_error_names_the_rule_and_the_fix():
    bad = [
        svc(type="Foo"),
        svc(ports=[{"port": 80}, {"port": 81}]),
        svc(ports=[{"port": 80, "nodePort": 30080}]),
        svc(sessionAffinity="ClientIP", sessionAffinityConfig={"clientIP": {"timeoutSeconds": 0}}),
        svc(clusterIP=""),
    ]
    for obj in bad:
        with pytest.raises(ServiceError) as err:
            api.parse_service(obj)
        rule, _, fix = str(err.value).partition("; ")
        assert "spec." in rule and fix, str(err.value)


def test_unknown_type_lists_the_supported_values():
    with pytest.raises(ServiceError, match='supported values: "ClusterIP", "ExternalName", "LoadBalancer", "NodePort"'):
        api.parse_service(svc(type="Nodeport"))


def test_a_service_with_several_ports_must_name_each():
    with pytest.raises(ServiceError, match=r"spec.ports\[1\].name: Required value"):
        api.parse_service(svc(ports=[{"name": "a", "port": 80}, {"port": 81}]))
    with pytest.raises(ServiceError, match=r'spec.ports\[1\].name: Duplicate value: "a"'):
        api.parse_service(svc(ports=[{"name": "a", "port": 80}, {"name": "a", "port": 81}]))


def test_node_port_is_forbidden_on_cluster_ip_services():
    with pytest.raises(ServiceError, match="Forbidden: may not be used when `type` is 'ClusterIP'"):
        api.parse_service(svc(ports=[{"port": 80, "nodePort": 30080}]))


def test_node_port_must_be_in_the_node_port_range():
    with pytest.raises(ServiceError, match="valid ports is 30000-32767"):
        api.parse_service(svc(type="NodePort", ports=[{"port": 80, "nodePort": 8080}]))
    custom = api.parse_service(svc(type="NodePort", ports=[{"port": 80, "nodePort": 8080}]), node_port_range=(8000, 9000))
    assert custom.ports[0].node_port == 8080


def test_node_port_service_needs_its_allocated_node_port():
    with pytest.raises(ServiceError, match=r"spec.ports\[0\].nodePort: Required value"):
        api.parse_service(svc(type="NodePort"))


def test_load_balancer_without_node_ports_is_allowed():
    assert api.parse_service(svc(type="LoadBalancer")).ports[0].node_port is None


def test_named_target_port_is_kept():
    assert api.parse_service(svc(ports=[{"port": 80, "targetPort": "http"}])).ports[0].target_port == "http"


def test_affinity_timeout_defaults_to_three_hours_and_is_at_most_a_day():
    assert api.parse_service(svc(sessionAffinity="ClientIP")).affinity_timeout == 10800
    ok = svc(sessionAffinity="ClientIP", sessionAffinityConfig={"clientIP": {"timeoutSeconds": 86400}})
    assert api.parse_service(ok).affinity_timeout == 86400
    for bad in (0, 86401):
        obj = svc(sessionAffinity="ClientIP", sessionAffinityConfig={"clientIP": {"timeoutSeconds": bad}})
        with pytest.raises(ServiceError, match="must be greater than 0 and less than 86400"):
            api.parse_service(obj)


def test_health_check_node_port_needs_load_balancer_and_local_policy():
    with pytest.raises(ServiceError, match="healthCheckNodePort"):
        api.parse_service(svc(type="NodePort", ports=[{"port": 80, "nodePort": 30080}],
                              externalTrafficPolicy="Local", healthCheckNodePort=32000))
    ok = api.parse_service(svc(type="LoadBalancer", externalTrafficPolicy="Local", healthCheckNodePort=32000))
    assert ok.health_check_node_port == 32000


def test_external_traffic_policy_needs_an_externally_accessible_service():
    with pytest.raises(ServiceError, match="externally-accessible"):
        api.parse_service(svc(externalTrafficPolicy="Local"))
    with_ip = api.parse_service(svc(externalTrafficPolicy="Local", externalIPs=["192.168.99.22"]))
    assert with_ip.external_traffic_policy is api.TrafficPolicy.LOCAL


def test_node_port_and_load_balancer_default_to_cluster_external_policy():
    assert api.parse_service(svc(type="LoadBalancer")).external_traffic_policy is api.TrafficPolicy.CLUSTER
    assert api.parse_service(svc()).external_traffic_policy is None


def test_only_vip_mode_ingress_ips_are_captured():
    status = {"loadBalancer": {"ingress": [{"ip": "20.1.2.3"}, {"ip": "20.1.2.4", "ipMode": "Proxy"},
                                           {"hostname": "lb.example.com"}, {"ip": "20.1.2.5", "ipMode": "VIP"}]}}
    parsed = api.parse_service(svc(type="LoadBalancer", status=status))
    assert [str(a) for a in parsed.load_balancer_ips] == ["20.1.2.3", "20.1.2.5"]


def test_source_ranges_are_trimmed_and_reduced_to_their_network():
    parsed = api.parse_service(svc(type="LoadBalancer", loadBalancerSourceRanges=[" 203.0.113.7/25"]))
    assert parsed.load_balancer_source_ranges == (ipaddress.ip_network("203.0.113.0/25"),)
    with pytest.raises(ServiceError, match="must be a valid CIDR"):
        api.parse_service(svc(type="LoadBalancer", loadBalancerSourceRanges=["nope"]))
    with pytest.raises(ServiceError, match="only be used when `type` is 'LoadBalancer'"):
        api.parse_service(svc(loadBalancerSourceRanges=["10.0.0.0/8"]))


def test_cluster_ip_must_be_an_address():
    with pytest.raises(ServiceError, match=r"spec.clusterIPs\[0\]: Invalid value: \"10.0.0.300\""):
        api.parse_service(svc(clusterIP="10.0.0.300"))


def test_headless_service_has_no_cluster_ip():
    assert api.parse_service(svc(clusterIP="None")).headless


def test_wrong_kind_is_rejected():
    with pytest.raises(ServiceError, match="expected \"Service\""):
        api.parse_service({**svc(), "kind": "Pod"})


# ---- EndpointSlices ------------------------------------------------------------------


def test_unset_conditions_read_as_ready_serving_and_not_terminating():
    (e,) = api.parse_endpoint_slice(eps([ep("10.244.1.5")])).endpoints
    assert (e.ready, e.serving, e.terminating) == (True, True, False)


def test_slice_without_service_name_label_is_rejected():
    obj = eps([ep("10.244.1.5")])
    obj["metadata"]["labels"] = {}
    with pytest.raises(ServiceError, match="kubernetes.io/service-name"):
        api.parse_endpoint_slice(obj)


def test_slice_address_must_match_its_address_type():
    with pytest.raises(ServiceError, match="must be a valid IPv4 address"):
        api.parse_endpoint_slice(eps([ep("fd00::5")]))


def test_slice_port_without_name_defaults_to_empty_name():
    parsed = api.parse_endpoint_slice(eps([ep("10.244.1.5")], ports=[{"port": 8080}]))
    assert parsed.ports[0] == api.EndpointPort("", 8080, "TCP")


def test_condition_must_be_a_boolean():
    with pytest.raises(ServiceError, match="conditions.ready"):
        api.parse_endpoint_slice(eps([ep("10.244.1.5", ready="yes")]))


def test_parse_objects_splits_a_kubectl_list():
    services, slices = api.parse_objects({"kind": "List", "items": [svc(), eps([ep("10.244.1.5")])]})
    assert (len(services), len(slices)) == (1, 1)
    with pytest.raises(ServiceError, match="neither Service nor EndpointSlice"):
        api.parse_objects([{"kind": "Pod"}])


# ---- service_ports: what kube-proxy derives ------------------------------------------


def endpoints_of(services, slices, cfg=CFG, which="cluster_endpoints"):
    (info,) = api.service_ports(services, slices, cfg)
    return [e.endpoint for e in getattr(info, which)]


def test_endpoints_are_sorted_by_their_ip_port_string():
    got = endpoints_of([svc()], [eps([ep("10.244.1.9"), ep("10.244.1.10"), ep("10.244.0.200")])])
    assert got == ["10.244.0.200:8080", "10.244.1.10:8080", "10.244.1.9:8080"]


def test_only_ready_endpoints_are_used_when_any_is_ready():
    got = endpoints_of([svc()], [eps([ep("10.244.1.5"), ep("10.244.1.6", ready=False)])])
    assert got == ["10.244.1.5:8080"]


def test_serving_terminating_endpoints_are_the_fallback_when_none_is_ready():
    slices = [eps([ep("10.244.1.5", ready=False, serving=True, terminating=True),
                   ep("10.244.1.6", ready=False, serving=False, terminating=True)])]
    assert endpoints_of([svc()], slices) == ["10.244.1.5:8080"]


def test_not_serving_endpoints_are_never_used():
    slices = [eps([ep("10.244.1.6", ready=False, serving=False, terminating=True)])]
    (info,) = api.service_ports([svc()], slices, CFG)
    assert info.cluster_endpoints == () and not info.has_endpoints


def test_local_endpoint_is_one_on_this_node():
    slices = [eps([ep("10.244.1.5", node="node-a"), ep("10.244.2.5", node="node-b")])]
    service = svc(type="NodePort", externalTrafficPolicy="Local", ports=[{"port": 80, "nodePort": 30080}])
    assert endpoints_of([service], slices, which="local_endpoints") == ["10.244.1.5:8080"]


def test_slice_ports_match_service_ports_by_name_and_protocol():
    service = svc(ports=[{"name": "dns", "port": 53, "protocol": "UDP"}, {"name": "dns-tcp", "port": 53, "protocol": "TCP"}])
    slice_ = eps([ep("10.244.1.5")], ports=[{"name": "dns", "port": 5353, "protocol": "UDP"},
                                            {"name": "dns-tcp", "port": 5354, "protocol": "TCP"},
                                            {"name": "dns", "port": 9999, "protocol": "TCP"}])
    infos = api.service_ports([service], [slice_], CFG)
    assert [(i.name, i.protocol, [e.endpoint for e in i.endpoints]) for i in infos] == [
        ("shop/web:dns", "udp", ["10.244.1.5:5353"]),
        ("shop/web:dns-tcp", "tcp", ["10.244.1.5:5354"]),
    ]


def test_only_the_first_address_of_an_endpoint_is_used():
    slice_ = eps([{"addresses": ["10.244.1.5", "10.244.1.6"]}])
    assert endpoints_of([svc()], [slice_]) == ["10.244.1.5:8080"]


def test_an_endpoint_in_two_slices_keeps_the_non_terminating_copy():
    first = eps([ep("10.244.1.5", ready=False, serving=True, terminating=True)], name="web-a")
    second = eps([ep("10.244.1.5", ready=True)], name="web-b")
    (info,) = api.service_ports([svc()], [first, second], CFG)
    assert [(e.endpoint, e.ready) for e in info.endpoints] == [("10.244.1.5:8080", True)]


def test_headless_external_name_and_ipv6_only_services_are_skipped():
    services = [
        svc("headless", clusterIP="None"),
        {"metadata": {"name": "ext", "namespace": "shop"}, "spec": {"type": "ExternalName", "externalName": "example.com"}},
        svc("v6", clusterIP="fd00::12", clusterIPs=["fd00::12"]),
        svc("web"),
    ]
    assert [i.name for i in api.service_ports(services, [], CFG)] == ["shop/web"]


def test_ipv6_slices_are_left_to_the_ipv6_proxier():
    slices = [eps([ep("fd00::5")], address_type="IPv6"), eps([ep("10.244.1.5")], name="web-v4")]
    assert endpoints_of([svc()], slices) == ["10.244.1.5:8080"]


def test_dual_stack_service_uses_its_ipv4_cluster_ip():
    service = svc(clusterIP="fd00::12", clusterIPs=["fd00::12", "10.0.0.12"])
    (info,) = api.service_ports([service], [], CFG)
    assert str(info.cluster_ip) == "10.0.0.12"


def test_services_come_out_sorted_by_namespace_and_name():
    services = [svc("b", ns="z", clusterIP="10.0.0.3"), svc("a", ns="z", clusterIP="10.0.0.2"),
                svc("c", ns="a", clusterIP="10.0.0.1")]
    assert [i.name for i in api.service_ports(services, [], CFG)] == ["a/c", "z/a", "z/b"]


def test_two_services_with_one_name_are_rejected():
    with pytest.raises(ServiceError, match="Duplicate value"):
        api.service_ports([svc(), svc()], [], CFG)


def test_two_services_cannot_share_a_node_port():
    a = svc("a", type="NodePort", ports=[{"port": 80, "nodePort": 30080}])
    b = svc("b", type="NodePort", clusterIP="10.0.0.13", ports=[{"port": 80, "nodePort": 30080}])
    with pytest.raises(ServiceError, match="already allocated"):
        api.service_ports([a, b], [], CFG)


def test_internal_local_policy_without_external_access_needs_no_cluster_chain():
    (info,) = api.service_ports([svc(internalTrafficPolicy="Local")], [eps([ep("10.244.1.5", node="node-a")])], CFG)
    assert not info.uses_cluster_endpoints and info.uses_local_endpoints
    assert [e.endpoint for e in info.reachable_endpoints] == ["10.244.1.5:8080"]


# ---- ProxyConfig ---------------------------------------------------------------------


def test_masquerade_mark_is_formatted_with_go_percent_hash_08x():
    assert CFG.masquerade_mark == "0x00004000"
    assert api.ProxyConfig(node_name="n", node_ips=["10.0.0.4"], masquerade_bit=31).masquerade_mark == "0x80000000"


def test_masquerade_bit_must_be_0_to_31():
    with pytest.raises(ConfigError, match=r"\[0, 31\]"):
        api.ProxyConfig(node_name="n", node_ips=["10.0.0.4"], masquerade_bit=32)


def test_node_ips_must_be_ipv4():
    with pytest.raises(ConfigError, match="IPv4"):
        api.ProxyConfig(node_name="n", node_ips=["fd00::4"])
    with pytest.raises(ConfigError, match="at least"):
        api.ProxyConfig(node_name="n", node_ips=[])


def test_nodeport_addresses_primary_means_the_node_ips():
    cfg = api.ProxyConfig(node_name="n", node_ips=["10.224.0.4"], nodeport_addresses=["primary"])
    assert [str(a) for a in cfg.nodeport_ips()] == ["10.224.0.4"]
    assert not cfg.localhost_nodeports_active


def test_localhost_nodeports_need_loopback_in_nodeport_addresses():
    cfg = api.ProxyConfig(node_name="n", node_ips=["10.224.0.4"], nodeport_addresses=["127.0.0.0/8", "10.224.0.0/16"])
    assert cfg.localhost_nodeports_active
    assert [str(a) for a in cfg.nodeport_ips()] == ["127.0.0.1", "10.224.0.4"]


def test_unknown_mode_is_named():
    assert modes.check_mode("ipvs") == "ipvs"  # rendered since the IPVS and userspace modules landed
    with pytest.raises(ConfigError, match="Did you mean 'iptables'"):
        modes.check_mode("iptable")
