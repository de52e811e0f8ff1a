"""Bad input from a learner gets its own NetlabError subclass and a message that states the rule or the fix, never
a bare Python error."""

import pytest

import netlab as nl
from netlab import kubeproxy as kp


@pytest.fixture(scope="module")
def c():
    return (nl.Cluster.aks("kubenet", nodes=2)
            .add_pod("web-0", labels={"app": "web"}, containers=[nl.Container("nginx", ports=[80])])
            .add_service("web", selector={"app": "web"}, ports=[80]))


CFG = kp.ProxyConfig(node_name="n", node_ips=["10.224.0.4"])

Config, Service, NotFound = nl.ConfigError, nl.ServiceError, nl.NotFoundError
LABELS = "labels are a dict of text keys and values, such as {'app': 'web'}"
NO_CONNECTION = "is not an address a connection can go to (unspecified, broadcast or multicast)"
PORT_RANGE = "a port is a whole number from 1 to 65535"
AKS_NODES = "compare a whole number of nodes from 1 to 5,000 (the most an AKS cluster can have)"

# case: (the exact error class, a fragment of the message that states the rule or the fix, the bad call)
BAD = {
    "ExternalName Service": (Service, "netlab builds 'ClusterIP', 'NodePort' and 'LoadBalancer' Services",
                             lambda c: c.add_service("ext", selector={"app": "web"}, type="ExternalName")),
    "labels as a list": (Config, LABELS, lambda c: c.add_pod("x", labels=["a"])),
    "labels as text": (Config, LABELS, lambda c: c.add_pod("x", labels="app=web")),
    "label value None": (Config, LABELS, lambda c: c.add_pod("x", labels={"app": None})),
    "container ports as a number": (Config, "ports is a list of numbers or nl.ContainerPort(...), not '80'",
                                    lambda c: nl.Container("a", ports="80")),
    "container with a bad name": (Config, "lowercase letters, digits and '-', starting and ending with a letter or "
                                          "digit, such as Container('nginx')", lambda c: nl.Container("Bad Name")),
    "port name too long": (Config, "a port name (IANA_SVC_NAME) has at most 15 lowercase letters, digits and '-'",
                           lambda c: nl.ContainerPort(80, name="a-very-long-port-name")),
    "remove_pod(None)": (NotFound, "pods are looked up by name, such as 'web-0' or 'kube-system/coredns-0', not None",
                         lambda c: c.remove_pod(None)),
    "pods[0]": (NotFound, "pods are looked up by name, such as 'web-0' or 'kube-system/coredns-0', not 0",
                lambda c: c.pods[0]),
    "remove_service(3)": (NotFound, "Services are looked up by name, such as 'web' or 'kube-system/kube-dns', not 3",
                          lambda c: c.remove_service(3)),
    "with_plugin unknown setting": (Config, "with_plugin() does not take 'foo': it takes the ranges and settings of "
                                            "Cluster.aks", lambda c: c.with_plugin("azure-cni", foo=1)),
    "with_plugin nodes=": (Config, "To change the number of nodes, use .add_node(count)",
                           lambda c: c.with_plugin("azure-cni", nodes=3)),
    "bridge mode on kubenet": (Config, "switch with .with_plugin('azure-cni', cni_mode='bridge')",
                               lambda c: c.with_cni_mode("bridge")),
    "aks bridge mode on kubenet": (Config, "use plugin='azure-cni' or leave cni_mode out",
                                   lambda c: nl.Cluster.aks("kubenet", cni_mode="bridge")),
    "add_service ports=None": (Service, "a Service needs at least one port, e.g. ports=[80]",
                               lambda c: c.add_service("x", ports=None)),
    "add_service namespace=None": (Service, "a namespace is lowercase letters, digits and '-', at most 63 characters",
                                   lambda c: c.add_service("x", namespace=None)),
    "duplicate Service ports": (Service, "spec.ports[0] has the same port and protocol; give each port its own number",
                                lambda c: c.add_service("x", ports=[{"name": "a", "port": 80},
                                                                    {"name": "b", "port": 80}])),
    "external IPs as text": (Service, "spec.externalIPs: give a list, such as ['1.2.3.4']",
                             lambda c: c.add_service("x", external_ips="1.2.3.4")),
    "external IP as a number": (Service, "give addresses as text, such as ['203.0.113.0/25']",
                                lambda c: c.add_service("x", external_ips=[5])),
    "source ranges as text": (Service, "spec.loadBalancerSourceRanges: give a list, such as ['10.0.0.0/8']",
                              lambda c: c.add_service("x", type="LoadBalancer",
                                                      load_balancer_source_ranges="10.0.0.0/8")),
    "resource_group=None": (Config, "give a non-empty name, such as resource_group='netlab'",
                            lambda c: nl.Cluster.aks(resource_group=None)),
    "pods_per_node=True": (Config, "pods_per_node=True must be a whole number, 0 or more",
                           lambda c: nl.Cluster.aks(pods_per_node=True)),
    "add_node(True)": (Config, "count must be a whole number, 1 or more", lambda c: c.add_node(True)),
    "compare max_pods as text": (Config, "give a whole number from 10 to 250, or leave it out for the plugins' "
                                         "defaults", lambda c: nl.compare_plugins(max_pods="30")),
    "compare nodes=True": (Config, AKS_NODES, lambda c: nl.compare_plugins(nodes=True)),
    "compare beyond AKS": (Config, AKS_NODES, lambda c: nl.compare_plugins(nodes=10**6)),
    "draw_cluster(None)": (Config, "draw_cluster needs a cluster, such as nl.Cluster.aks('kubenet'), not None",
                           lambda c: nl.draw_cluster(None)),
    "draw_cluster trace='x'": (Config, "trace= takes what cluster.trace(...) returns, not 'x'",
                               lambda c: nl.draw_cluster(c, trace="x")),
    "draw_cluster highlight=0": (Config, "highlight=0: give a hop number of the trace, 1 to",
                                 lambda c: nl.draw_cluster(c, trace=c.trace("web-0", "internet", port=443), highlight=0)),
    "describe(max_nodes='x')": (Config, "max_nodes='x': give a whole number, 1 or more",
                                lambda c: c.describe(max_nodes="x")),
    "owners('nope')": (nl.AddressError, "four numbers from 0 to 255 separated by dots, for example 10.0.0.10",
                       lambda c: c.owners("nope")),
    "nodes[-5]": (NotFound, "this cluster has 2 node(s); count from the end with -1 to -2", lambda c: c.nodes[-5]),
    "trace endpoint that does not exist": (NotFound, "is not one kube-proxy could pick for this packet; it could pick "
                                                     "10.244.0.2:80",
                                           lambda c: c.trace("web-0", "web", endpoint="1.2.3.4:80")),
    "trace endpoint not IP:port": (Config, "give an endpoint as 'IP:port', for example '10.244.1.2:8080'",
                                   lambda c: c.trace("web-0", "web", endpoint="nope")),
    "trace port 0 in host:port": (Config, PORT_RANGE, lambda c: c.trace("web-0", "10.224.0.5:0")),
    "trace port 99999 in host:port": (Config, PORT_RANGE, lambda c: c.trace("web-0", "10.224.0.5:99999")),
    "trace to 0.0.0.0": (Config, NO_CONNECTION, lambda c: c.trace("web-0", "0.0.0.0")),
    "trace to broadcast": (Config, NO_CONNECTION, lambda c: c.trace("web-0", "255.255.255.255")),
    "trace to multicast": (Config, NO_CONNECTION, lambda c: c.trace("web-0", "224.0.0.1")),
    "trace from loopback": (Config, "sends no connection; start from a pod, a node or a host such as 'internet'",
                            lambda c: c.trace("127.0.0.1", "web-0")),
    "trace from a ClusterIP": (Config, "ClusterIPs are virtual, nothing sends from them; start from a pod, a node or "
                                       "a host", lambda c: c.trace("10.0.0.1", "web-0")),
    "trace from an unused pod address": (NotFound, "no pod or node of the cluster has this address; list the pods "
                                                   "with cluster.kubectl_get_pods()",
                                         lambda c: c.trace("10.244.5.5", "web-0")),
    "trace seed=None": (Config, "the seed is a whole number (0, 1, 2, ...)",
                        lambda c: c.trace("web-0", "web", seed=None)),
    "trace protocol icmp": (Config, "is not one a trace knows: use 'tcp', 'udp' or 'sctp'",
                            lambda c: c.trace("web-0", "web", protocol="icmp")),
    "render cfg=None": (Config, "cfg must be kp.ProxyConfig(node_name=..., node_ips=[...], ...)",
                        lambda c: kp.render("iptables", [], [], None)),
    "render mode as a list": (Config, "the proxy mode is a name such as 'iptables', not ['iptables']",
                              lambda c: kp.render(["iptables"], [], [], CFG)),
    "render services=None": (Config, "services is a list of objects (dicts as kubectl prints them, or parsed values), "
                                     "not None; use [] for none", lambda c: kp.render("iptables", None, [], CFG)),
    "ProxyConfig node_ips=None": (Config, "node_ips is the node's addresses, such as ['10.224.0.4'], not None",
                                  lambda c: kp.ProxyConfig(node_name="a", node_ips=None)),
    "quiz unknown question": (NotFound, "The self-checks are 01-loopback, 01-gateway",
                              lambda c: nl.quiz.check("99-nothing", "x")),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_raises_its_own_error_class_with_a_message_that_teaches(c, case):
    cls, fragment, call = BAD[case]
    with pytest.raises(nl.NetlabError) as err:
        call(c)
    assert type(err.value) is cls, f"{case}: {type(err.value).__name__}, not {cls.__name__}: {err.value}"
    assert fragment in str(err.value), f"{case}: {fragment!r} is not in {str(err.value)!r}"


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
