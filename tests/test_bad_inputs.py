"""Bad input from a learner always gets a NetlabError that explains, never a bare Python error."""

import pytest

import netlab as nl
from netlab import kubeproxy as kp


@pytest.fixture(scope="module")
def c():
    return (nl.Cluster.aks("kubenet", nodes=2)
            .add_pod("web-0", labels={"app": "web"}, containers=[nl.Container("nginx", ports=[80])])
            .add_service("web", selector={"app": "web"}, ports=[80]))


CFG = kp.ProxyConfig(node_name="n", node_ips=["10.224.0.4"])

BAD = {
    "ExternalName Service": lambda c: c.add_service("ext", selector={"app": "web"}, type="ExternalName"),
    "labels as a list": lambda c: c.add_pod("x", labels=["a"]),
    "labels as text": lambda c: c.add_pod("x", labels="app=web"),
    "label value None": lambda c: c.add_pod("x", labels={"app": None}),
    "container ports as a number": lambda c: nl.Container("a", ports="80"),
    "container with a bad name": lambda c: nl.Container("Bad Name"),
    "port name too long": lambda c: nl.ContainerPort(80, name="a-very-long-port-name"),
    "remove_pod(None)": lambda c: c.remove_pod(None),
    "pods[0]": lambda c: c.pods[0],
    "remove_service(3)": lambda c: c.remove_service(3),
    "with_plugin unknown setting": lambda c: c.with_plugin("azure-cni", foo=1),
    "with_plugin nodes=": lambda c: c.with_plugin("azure-cni", nodes=3),
    "bridge mode on kubenet": lambda c: c.with_cni_mode("bridge"),
    "aks bridge mode on kubenet": lambda c: nl.Cluster.aks("kubenet", cni_mode="bridge"),
    "add_service ports=None": lambda c: c.add_service("x", ports=None),
    "add_service namespace=None": lambda c: c.add_service("x", namespace=None),
    "duplicate Service ports": lambda c: c.add_service("x", ports=[{"name": "a", "port": 80}, {"name": "b", "port": 80}]),
    "external IPs as text": lambda c: c.add_service("x", external_ips="1.2.3.4"),
    "external IP as a number": lambda c: c.add_service("x", external_ips=[5]),
    "source ranges as text": lambda c: c.add_service("x", type="LoadBalancer", load_balancer_source_ranges="10.0.0.0/8"),
    "resource_group=None": lambda c: nl.Cluster.aks(resource_group=None),
    "pods_per_node=True": lambda c: nl.Cluster.aks(pods_per_node=True),
    "add_node(True)": lambda c: c.add_node(True),
    "compare max_pods as text": lambda c: nl.compare_plugins(max_pods="30"),
    "compare nodes=True": lambda c: nl.compare_plugins(nodes=True),
    "compare beyond AKS": lambda c: nl.compare_plugins(nodes=10**6),
    "draw_cluster(None)": lambda c: nl.draw_cluster(None),
    "draw_cluster trace='x'": lambda c: nl.draw_cluster(c, trace="x"),
    "draw_cluster ax='x'": lambda c: nl.draw_cluster(c, ax="x"),
    "describe(max_nodes='x')": lambda c: c.describe(max_nodes="x"),
    "owners('nope')": lambda c: c.owners("nope"),
    "nodes[-5]": lambda c: c.nodes[-5],
    "trace endpoint that does not exist": lambda c: c.trace("web-0", "web", endpoint="1.2.3.4:80"),
    "trace endpoint not IP:port": lambda c: c.trace("web-0", "web", endpoint="nope"),
    "trace port 0 in host:port": lambda c: c.trace("web-0", "10.224.0.5:0"),
    "trace port 99999 in host:port": lambda c: c.trace("web-0", "10.224.0.5:99999"),
    "trace to 0.0.0.0": lambda c: c.trace("web-0", "0.0.0.0"),
    "trace to broadcast": lambda c: c.trace("web-0", "255.255.255.255"),
    "trace to multicast": lambda c: c.trace("web-0", "224.0.0.1"),
    "trace from loopback": lambda c: c.trace("127.0.0.1", "web-0"),
    "trace from a ClusterIP": lambda c: c.trace("10.0.0.1", "web-0"),
    "trace from an unused pod address": lambda c: c.trace("10.244.5.5", "web-0"),
    "trace seed=None": lambda c: c.trace("web-0", "web", seed=None),
    "trace protocol icmp": lambda c: c.trace("web-0", "web", protocol="icmp"),
    "render cfg=None": lambda c: kp.render("iptables", [], [], None),
    "render mode as a list": lambda c: kp.render(["iptables"], [], [], CFG),
    "render services=None": lambda c: kp.render("iptables", None, [], CFG),
    "ProxyConfig node_ips=None": lambda c: kp.ProxyConfig(node_name="a", node_ips=None),
    "quiz unknown question": lambda c: nl.quiz.check("99-nothing", "x"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_raises_a_netlab_error_that_explains(c, case):
    with pytest.raises(nl.NetlabError) as err:
        BAD[case](c)
    assert len(str(err.value)) > 30  # a sentence, not a bare value


def test_not_found_names_the_right_namespace(c):
    c2 = c.add_pod("coredns-0", namespace="kube-system")
    with pytest.raises(nl.NotFoundError, match=r"It is in namespace kube-system: write 'kube-system/coredns-0'"):
        c2.remove_pod("coredns-0")
    with pytest.raises(nl.NotFoundError, match=r"write 'kube-system/kube-dns'"):
        c2.remove_service("kube-dns")


def test_kubectl_namespace_none_lists_every_namespace(c):
    assert c.kubectl_get_svc(namespace=None).splitlines()[0].startswith("NAMESPACE")


def test_seeded_traces_are_deterministic(c):
    assert str(c.trace("web-0", "web", seed=3)) == str(c.trace("web-0", "web", seed=3))


def test_an_unknown_add_service_setting_is_taught_not_a_bare_type_error():
    c = nl.Cluster.aks("kubenet")
    with pytest.raises(nl.ServiceError, match=r"add_service\(\) has no setting 'node_port'\. A port's settings go "
                                              r"in ports: ports=\[\{'port': 80, 'targetPort': 8080, 'nodePort': 30080\}\]"):
        c.add_service("web", ports=[80], node_port=30080)
    with pytest.raises(nl.ServiceError, match="has no setting 'selecter'. Did you mean 'selector'?"):
        c.add_service("web", selecter={"app": "web"})


def test_an_unknown_node_name_lists_the_nodes_there_are():
    c = nl.Cluster.aks("kubenet", nodes=2)
    with pytest.raises(nl.NotFoundError, match=r"there is no node named 'aks-foo'\. This cluster's nodes are "
                                               r"'aks-nodepool1-87544974-vmss000000', 'aks-nodepool1-87544974-vmss000001'; "
                                               r"give one of those names or its index, 0 to 1"):
        c.add_pod("x", node="aks-foo")
