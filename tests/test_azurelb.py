"""The Azure load balancer AKS keeps for LoadBalancer Services."""

import netlab as nl
from netlab.azure import lb as azurelb


def cluster(policy):
    c = (nl.Cluster.aks("kubenet", nodes=3)
         .add_pod("w0", node=0, labels={"app": "w"}, containers=[nl.Container("n", ports=[80])]))
    return c.add_service("w", selector={"app": "w"}, ports=[80], type="LoadBalancer",
                         external_traffic_policy=policy)


def test_names_follow_the_cloud_provider():
    c = cluster("Cluster")
    e = c._services[("default", "w")]
    fe = azurelb.frontend_name(e)
    assert fe.startswith("a") and len(fe) == 32
    (rule,) = azurelb.load_balancing_rules(c)
    assert rule.name == f"{fe}-TCP-80" and rule.floating_ip and rule.disable_outbound_snat


def test_cluster_policy_probes_the_node_port_over_tcp():
    c = cluster("Cluster")
    (rule,) = azurelb.load_balancing_rules(c)
    assert (rule.probe.protocol, rule.probe.port) == ("Tcp", c.services["w"].ports[0].node_port)
    assert all(ok for _, ok, _ in azurelb.healthy_nodes(c, rule))


def test_local_policy_probes_healthz_on_the_health_check_port():
    c = cluster("Local")
    (rule,) = azurelb.load_balancing_rules(c)
    assert (rule.probe.protocol, rule.probe.request_path) == ("Http", "/healthz")
    assert rule.probe.port == c.services["w"].spec.health_check_node_port
    health = [ok for _, ok, _ in azurelb.healthy_nodes(c, rule)]
    assert health == [True, False, False]


def test_tables_print_like_the_azure_cli():
    c = cluster("Local")
    rules, probes = c.az_lb_rules().splitlines(), c.az_lb_probes().splitlines()
    assert rules[0].split()[:3] == ["BackendPort", "DisableOutboundSnat", "EnableFloatingIP"]
    assert set(rules[1]) <= {"-", " "}
    assert "Http" in probes[2] and "/healthz" in probes[2]


def test_uids_are_deterministic_and_uuid_shaped():
    uid = azurelb.service_uid("default", "w")
    assert uid == azurelb.service_uid("default", "w")
    assert [len(p) for p in uid.split("-")] == [8, 4, 4, 4, 12]
