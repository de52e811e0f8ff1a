"""The explorer, driven by setting control values as a learner would click them."""

import matplotlib
import pytest

matplotlib.use("Agg")

import netlab as nl  # noqa: E402


def make():
    return nl.explore(nl.Cluster.aks("kubenet", nodes=2))


def test_add_pod_and_trace_between_nodes():
    ex = make()
    c = ex.controls
    for name, node in (("web-0", 0), ("api-0", 1)):
        c["pod_name"].value, c["pod_node"].value = name, node
        c["add_pod"].click()
    assert sorted(ex.cluster.pods) == ["api-0", "web-0"]
    c["src"].value, c["dst"].value = "web-0", "api-0"
    c["go"].click()
    assert ex.trace.delivered
    assert "delivered" in ex.message.value
    texts = [t.text for t in ex.figure.texts]
    assert "web-0" in texts and "api-0" in texts
    assert ex.diagram.value == ex.figure._repr_html_() and "<svg" in ex.diagram.value  # what the browser receives
    assert [n for b in ex.figure.badges for n in b.hops] == list(range(1, len(ex.trace.hops) + 1))


def test_bad_input_keeps_the_cluster_and_explains():
    ex = make()
    c = ex.controls
    c["pod_name"].value = "Web_0"
    before = ex.cluster
    c["add_pod"].click()
    assert ex.cluster is before
    assert "ConfigError" in ex.message.value and "lowercase letters" in ex.message.value


def test_switching_plugin_readdresses_and_a_refused_switch_resets_the_selector():
    ex = make()
    c = ex.controls
    c["pod_name"].value = "web-0"
    c["add_pod"].click()
    c["plugin"].value = "azure-cni"
    assert ex.cluster.plugin is nl.Plugin.AZURE_CNI
    assert str(ex.cluster.pods["web-0"].ip) == "10.224.0.5"
    assert not c["cni_mode"].disabled
    # kubenet with max_pods 250 on 2 nodes is fine; make a switch fail: 300 pods do not fit max_pods 250
    big = nl.Cluster.aks("azure-cni-overlay", nodes=1, pods_per_node=250, max_pods=250)
    ex2 = nl.explore(big)
    ex2.controls["plugin"].value = "azure-cni"  # Azure CNI allows 30 pods per node by default
    assert ex2.cluster is big and ex2.controls["plugin"].value == "azure-cni-overlay"
    assert "NodeFullError" in ex2.message.value


def test_services_and_proxy_modes():
    ex = make()
    c = ex.controls
    c["pod_name"].value, c["pod_node"].value, c["pod_port"].value = "web-0", 1, 8080
    c["add_pod"].click()
    c["pod_name"].value, c["pod_node"].value = "client", 0
    c["add_pod"].click()
    c["svc_name"].value, c["svc_port"].value, c["svc_type"].value = "web", 8080, "NodePort"
    c["add_service"].click()
    assert "web" in ex.cluster.services
    for mode in ("ipvs", "nftables", "userspace", "iptables"):
        c["proxy_mode"].value = mode
        c["src"].value, c["dst"].value, c["port"].value = "client", "web", 8080
        c["go"].click()
        assert ex.trace.delivered, (mode, ex.message.value)


def test_undo_steps_back():
    ex = make()
    ex.controls["add_node"].click()
    assert ex.cluster.node_count == 3
    ex.controls["undo"].click()
    assert ex.cluster.node_count == 2
    ex.controls["undo"].click()
    assert "nothing to undo" in ex.message.value


def test_trace_without_destination_says_what_to_choose():
    ex = make()
    ex.controls["go"].click()
    assert "choose where the packet goes" in ex.message.value


def test_the_explorer_selectors_start_on_a_choice_not_blank():
    ex = nl.explore(nl.Cluster.aks("kubenet", nodes=2).add_pod("web-0"))
    assert ex.controls["src"].value == "web-0"
    assert ex.controls["pod_node"].value == 0
    ex.controls["dst"].value = ex.cluster.nodes[1].name
    ex.run_trace()  # no "unknown source 'None'"
    assert ex.trace is not None and ex.trace.source.startswith("pod web-0")


def _lb_explorer():
    c = (nl.Cluster.aks("kubenet", nodes=2).add_pod("web-0", labels={"app": "web"},
                                                    containers=[nl.Container("nginx", ports=[80])])
         .add_service("shop", selector={"app": "web"}, ports=[80], type="LoadBalancer"))
    return nl.explore(c), c


def test_undo_says_what_it_undid():
    ex = nl.explore(nl.Cluster.aks("kubenet", nodes=1))
    ex.controls["add_node"].click()
    ex.controls["undo"].click()
    assert "undone: one more node" in ex.message.value and len(ex.cluster.nodes) == 1


@pytest.mark.parametrize("control, value, says", [
    ("port", 0, "port 0 is not a port"), ("port", 70000, "port 70000 is not a port"),
    ("seed", -1, "seed -1"),
])
def test_a_bad_port_or_seed_is_refused_with_the_rule(control, value, says):
    ex, _ = _lb_explorer()
    ex.controls["dst"].value = "web-0"
    ex.controls[control].value = value
    ex.run_trace()
    assert says in ex.message.value and ex.trace is None


def test_from_the_internet_a_service_name_means_its_load_balancer_ip():
    ex, c = _lb_explorer()
    lb = str(c.services["shop"].load_balancer_ip)
    assert lb in ex.controls["dst"].options
    assert any(o.endswith(f":{c.services['shop'].ports[0].node_port}") for o in ex.controls["dst"].options)
    ex.controls["src"].value = "internet"
    ex.controls["dst"].value = "shop"
    ex.run_trace()
    assert ex.trace.delivered and f"reached at its load balancer IP {lb}" in ex.message.value


def test_a_refused_connection_shows_in_red_with_the_reason():
    ex = make()
    c = ex.controls
    c["pod_name"].value, c["pod_node"].value = "web-0", 0
    c["add_pod"].click()
    c["pod_name"].value, c["pod_node"].value = "api-0", 1
    c["add_pod"].click()
    port = ex.cluster.pods["api-0"].containers[0].ports[0].port
    c["src"].value, c["dst"].value, c["port"].value = "web-0", "api-0", port + 1
    c["go"].click()
    assert ex.trace.verdict is nl.Verdict.REFUSED
    assert "#b2182b" in ex.message.value and "refused" in ex.message.value and "TCP reset" in ex.message.value
    assert ex.figure.badges[-1].label.endswith("✕") and ex.figure.badges[-1].kind == "end"
    assert any(t.text.startswith("refused:") for t in ex.figure.texts)


def test_step_through_stays_on_for_every_trace_until_switched_off():
    ex = make()
    c = ex.controls
    c["step"].value = True  # nothing traced yet: it waits for a trace
    assert "trace a packet to step through" in ex.message.value and ex.view.children == (ex.diagram,)
    for name, node in (("web-0", 0), ("api-0", 1)):
        c["pod_name"].value, c["pod_node"].value = name, node
        c["add_pod"].click()
    c["src"].value, c["dst"].value = "web-0", "api-0"
    c["go"].click()
    s = ex.stepper
    assert ex.view.children == (s.widget,) and s.steps == len(ex.trace.hops) and s.step == 1
    s.next.click()
    assert s.step == 2 and "rect.nl-b.nl-h2{" in s.picture.value
    c["proxy_mode"].value = "nftables"  # a change: no trace to step through, the new cluster's drawing
    assert ex.view.children == (ex.diagram,) and ex.stepper is None
    c["go"].click()  # the next trace opens hop by hop again
    assert ex.stepper is not None and ex.view.children == (ex.stepper.widget,) and ex.stepper.step == 1
    c["step"].value = False
    assert ex.view.children == (ex.diagram,) and "<svg" in ex.diagram.value


def test_a_service_can_send_to_another_pod_port_and_old_modes_say_what_changed():
    ex = nl.explore(nl.Cluster.aks("kubenet", nodes=2).add_pod(
        "web-0", labels={"app": "web"}, containers=[nl.Container("nginx", ports=[8080])]))
    c = ex.controls
    c["svc_name"].value, c["svc_port"].value, c["svc_target"].value, c["svc_type"].value = "web", 80, "8080", "LoadBalancer"
    c["add_service"].click()
    assert ex.cluster.services["web"].ports[0].target_port == 8080
    c["src"].value, c["dst"].value = "internet", "web"
    c["go"].click()
    assert ex.trace.delivered and ex.trace.hops[-1].packet.dport == 8080
    c["proxy_mode"].value = "userspace"
    assert "removed userspace mode in Kubernetes 1.26" in ex.message.value
    c["proxy_mode"].value = "ipvs"
    assert "deprecated since Kubernetes 1.35" in ex.message.value
