"""netlab.trace.names: the one grammar of sources and destinations, read into a typed Peer."""

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

import netlab as nl
from netlab.linux import agreement as lc
from netlab.trace import names
from netlab.linux.netns import Flow, Observation
from netlab.trace.names import Frontend, Kind

ip = ipaddress.IPv4Address


@pytest.fixture(scope="module")
def c():
    """Two kubenet nodes; a pod and a Service both named web; a NodePort, a LoadBalancer, an external IP."""
    web = [nl.Container("nginx", ports=[80])]
    return (nl.Cluster.aks("kubenet", nodes=2)
            .add_pod("web", node=0, labels={"app": "web"}, containers=web)
            .add_pod("api-0", node=1, labels={"app": "api"}, containers=[nl.Container("api", ports=[8080])])
            .add_pod("internet", node=1, containers=web)
            .add_pod("dns-0", node=1, namespace="kube-system", containers=web)
            .add_service("web", selector={"app": "web"}, ports=[80])
            .add_service("api", selector={"app": "api"}, ports=[{"port": 80, "targetPort": 8080}], type="NodePort")
            .add_service("shop", selector={"app": "web"}, ports=[80], type="LoadBalancer")
            .add_service("ext", selector={"app": "web"}, ports=[80], external_ips=["20.1.2.3"]))


# ------------------------------------------------------------------ the grammar
def test_a_bare_name_means_the_service_before_the_pod(c):
    peer = names.destination(c, "web")
    assert (peer.kind, peer.frontend, peer.address) == (Kind.SERVICE, Frontend.CLUSTER_IP, c.services["web"].cluster_ip)
    assert peer.service.spec.name == "web" and peer.pod is None


def test_pod_prefix_names_the_pod_even_where_a_service_or_host_has_its_name(c):
    assert names.destination(c, "pod:web").pod == c.pods["web"].pod
    assert names.destination(c, "pod:default/web").pod == c.pods["web"].pod
    assert names.destination(c, "internet").kind is Kind.HOST  # bare: the host comes before the pod
    assert names.destination(c, "pod:internet").pod == c.pods["internet"].pod
    assert names.source(c, "pod:internet").pod == c.pods["internet"].pod


def test_svc_prefix_and_namespaces_name_services(c):
    assert names.destination(c, "svc:web") == names.destination(c, "web") == names.destination(c, "svc:default/web")
    dns = names.destination(c, "svc:kube-system/kube-dns")
    assert (dns.kind, dns.address) == (Kind.SERVICE, ip("10.0.0.10"))
    assert names.destination(c, "kube-system/kube-dns") == dns


def test_namespace_slash_name_is_a_pod_where_no_service_has_it(c):
    peer = names.destination(c, "kube-system/dns-0")
    assert (peer.kind, peer.pod.namespace, peer.address) == (Kind.POD, "kube-system", c.pods["kube-system/dns-0"].ip)


def test_a_pod_by_name_is_the_pod_and_by_address_just_the_address(c):
    pod = c.pods["api-0"].pod
    assert names.destination(c, "api-0") == names.Peer(Kind.POD, pod.ip, pod=pod)
    assert names.destination(c, str(pod.ip)) == names.Peer(Kind.ADDRESS, pod.ip)
    assert names.source(c, str(pod.ip)) == names.Peer(Kind.POD, pod.ip, pod=pod)  # a source's address is its owner


def test_nodes_by_name_and_by_address(c):
    node = c.nodes[1].node
    want = names.Peer(Kind.NODE, node.ip, node=node)
    assert names.destination(c, node.name) == names.destination(c, str(node.ip)) == want
    assert names.source(c, node.name) == names.source(c, str(node.ip)) == want


def test_node_colon_nodeport_is_the_service_on_that_node(c):
    node, port = c.nodes[1], c.services["api"].ports[0].node_port
    by_name, by_ip = names.destination(c, f"{node.name}:{port}"), names.destination(c, f"{node.ip}:{port}")
    assert by_name == by_ip
    assert (by_name.kind, by_name.frontend, by_name.address, by_name.port) == (Kind.SERVICE, Frontend.NODE_PORT,
                                                                               node.ip, port)
    assert by_name.service.spec.name == "api" and by_name.via == f"NodePort on {node.name}"


def test_node_colon_other_port_is_the_node_with_a_port(c):
    peer = names.destination(c, f"{c.nodes[0].name}:10250")
    assert (peer.kind, peer.port, peer.node) == (Kind.NODE, 10250, c.nodes[0].node)


def test_host_colon_port_keeps_what_the_host_part_means(c):
    assert names.destination(c, "web:8080") == names.Peer(Kind.SERVICE, c.services["web"].cluster_ip, 8080,
                                                          service=c.services["web"].entry,
                                                          frontend=Frontend.CLUSTER_IP)
    assert names.destination(c, "pod:web:80").pod == c.pods["web"].pod
    assert names.destination(c, "internet:443").host.name == "internet"
    assert names.destination(c, "svc:web:80").port == 80


@pytest.mark.parametrize("frontend, address", [
    (Frontend.LOAD_BALANCER, lambda c: c.services["shop"].load_balancer_ip),
    (Frontend.EXTERNAL_IP, lambda c: ip("20.1.2.3")),
    (Frontend.CLUSTER_IP, lambda c: c.services["shop"].cluster_ip),
])
def test_a_service_address_names_the_service_and_its_frontend(c, frontend, address):
    peer = names.destination(c, str(address(c)))
    assert (peer.kind, peer.frontend, peer.address) == (Kind.SERVICE, frontend, address(c))


@pytest.mark.parametrize("text", ["localhost", "127.0.0.1", " localhost "])
def test_localhost_is_the_sources_own_loopback(c, text):
    assert names.destination(c, text) == names.Peer(Kind.LOOPBACK, ip("127.0.0.1"))


@pytest.mark.parametrize("name, kind", [("internet", "internet"), ("vnet-vm", "vnet"), ("peered-vm", "peered"),
                                        ("onprem-host", "onprem")])
def test_named_hosts_for_either_role(c, name, kind):
    for peer in (names.source(c, name), names.destination(c, name)):
        assert (peer.kind, peer.host.name, peer.host.kind) == (Kind.HOST, name, kind)


@pytest.mark.parametrize("address, kind", [("10.225.0.9", "vnet"), ("172.16.0.9", "peered"), ("192.168.1.9", "onprem"),
                                           ("8.8.8.8", "internet")])
def test_an_unnamed_source_address_is_a_host_of_its_network(c, address, kind):
    peer = names.source(c, address)
    assert (peer.kind, peer.host.kind, peer.host.name, peer.address) == (Kind.HOST, kind, address, ip(address))


def test_an_unnamed_destination_address_is_an_address(c):
    assert names.destination(c, "8.8.8.8") == names.Peer(Kind.ADDRESS, ip("8.8.8.8"))


def test_the_printed_form_names_the_kind(c):
    node = c.nodes[1]
    port = c.services["api"].ports[0].node_port
    assert [str(names.destination(c, t)) for t in ("web", "pod:web", "api-0", "internet", "localhost",
                                                    f"{node.ip}:{port}", "8.8.8.8:53")] == [
        "svc:default/web", "pod:default/web", "pod:default/api-0", "internet", "localhost",
        f"{node.name}:{port}", "8.8.8.8:53"]
    assert repr(names.destination(c, "web")) == f"<Peer Service svc:default/web at {c.services['web'].cluster_ip}, cluster IP>"


# ------------------------------------------------------------------ errors: class and message
@pytest.mark.parametrize("role, text, error, fragment", [
    ("destination", "api-O", nl.NotFoundError, "unknown destination 'api-O': give a pod name, a node name, an IP "
                                               "address, a Service name ('web', 'kube-system/kube-dns') or "
                                               "'node:nodePort' or one of internet, vnet-vm, peered-vm, onprem-host. "
                                               "Did you mean 'api-0'?"),
    ("source", "api-O", nl.NotFoundError, "unknown source 'api-O': give a pod name, a node name, an IP address or one "
                                          "of internet"),
    ("destination", "svc:nope", nl.NotFoundError, "there is no Service 'nope' in namespace default."),
    ("destination", "svc:kube-dns", nl.NotFoundError, "It is in namespace kube-system: write 'kube-system/kube-dns'"),
    ("destination", "kube-system/bogus", nl.NotFoundError, "there is no pod 'bogus' in namespace kube-system"),
    ("destination", "pod:bogus", nl.NotFoundError, "there is no pod 'bogus' in namespace default"),
    ("destination", "pod:vnet-vm", nl.NotFoundError, "there is no pod 'vnet-vm' in namespace default"),
    ("destination", "api-0:0", nl.ConfigError, "'api-0:0' ends in port 0, which is not a port: a port is a whole "
                                               "number from 1 to 65535"),
    ("destination", "10.224.0.4:70000", nl.ConfigError, "a port is a whole number from 1 to 65535"),
    ("destination", "bogus:80", nl.NotFoundError, "unknown destination 'bogus'"),
    ("destination", "localhost:80", nl.NotFoundError, "unknown destination 'localhost'"),
    ("source", "127.0.0.1", nl.ConfigError, "a loopback, unspecified, broadcast or multicast address sends no "
                                            "connection"),
    ("source", "10.0.0.1", nl.ConfigError, "is in the service CIDR 10.0.0.0/16: ClusterIPs are virtual"),
    ("source", "10.244.5.5", nl.NotFoundError, "no pod or node of the cluster has this address"),
    ("source", "svc:web", nl.NotFoundError, "unknown source 'svc:web'"),
    ("source", "aks-nodepool1-87544974-vmss000009", nl.NotFoundError, "unknown source"),
    ("sideways", "web", nl.ConfigError, "a peer is a 'source' or a 'destination'"),
])
def test_bad_names_raise_the_teaching_errors(c, role, text, error, fragment):
    with pytest.raises(error) as err:
        names.resolve(c, text, role)
    assert fragment in str(err.value)


def test_an_address_two_pods_share_is_ambiguous_as_a_source():
    c = nl.Cluster.aks("none", nodes=2).add_pod("a", node=0).add_pod("b", node=1)
    with pytest.raises(nl.ConfigError, match=r"address 172.17.0.2 belongs to more than one pod \(a on "
                                             r"aks-nodepool1-87544974-vmss000000, b on .*\): with plugin 'none'"):
        names.source(c, "172.17.0.2")


def test_the_trace_reads_names_with_the_resolver(c):
    t = c.trace("pod:web", "svc:api:80")
    assert t.source == f"pod web ({c.pods['web'].ip})"
    assert t.destination == f"Service default/api (cluster IP {c.services['api'].cluster_ip}:80)"


def test_the_kernel_check_reads_a_flows_destination_as_the_trace_does(c):
    """'web:80' is Service web (no pod is intended); 'pod:web:80' the pod web, so another answerer misdelivers."""
    web = c.pods["web"]
    for dst, answerer, verdict in (("web:80", "pod:default/internet", nl.Verdict.DELIVERED),
                                   ("pod:web:80", "pod:default/web", nl.Verdict.DELIVERED),
                                   ("pod:web:80", "pod:default/internet", nl.Verdict.MISDELIVERED)):
        obs = Observation(Flow("api-0", dst), "nl000000-p1-0", (str(web.ip), 80), "answered", answerer)
        assert lc.kernel_verdict(c, obs) is verdict, dst


# ------------------------------------------------------------------ the printed form reads back
_PLUGINS = ("kubenet", "azure-cni", "azure-cni-overlay", "none")
_NAMES = ("web", "api", "db", "internet", "client")


@st.composite
def clusters(draw):
    plugin = draw(st.sampled_from(_PLUGINS))
    nodes = draw(st.integers(1, 3))
    c = nl.Cluster.aks(plugin, nodes=nodes)
    for k, name in enumerate(draw(st.lists(st.sampled_from(_NAMES), min_size=1, max_size=4, unique=True))):
        c = c.add_pod(name, node=k % nodes, labels={"app": name}, containers=[nl.Container("x", ports=[80])])
    for name in draw(st.lists(st.sampled_from(_NAMES[:3]), max_size=3, unique=True)):
        kind = draw(st.sampled_from(("ClusterIP", "NodePort", "LoadBalancer")))
        c = c.add_service(name, selector={"app": name}, ports=[80], type=kind)
    return c


def _texts(c):
    """Every kind of text the grammar reads, for this cluster."""
    out = ["localhost", "127.0.0.1", "8.8.8.8", "10.225.0.9", *names.hosts(c.config)]
    for p in c.pods:
        pod = c.pods[p]
        out += [p, f"pod:{p}", f"{p}:8080", str(pod.ip)]
    for n in c.nodes:
        out += [n.name, str(n.ip), f"{n.name}:10250"]
    for s in c.services:
        svc = c.services[s]
        out += [s, f"svc:{s}", f"{s}:443", str(svc.cluster_ip)]
        if svc.load_balancer_ip is not None:
            out += [str(svc.load_balancer_ip), f"{svc.load_balancer_ip}:80"]
        out += [f"{n.ip}:{p.node_port}" for p in svc.ports if p.node_port for n in c.nodes]
    return out


@given(clusters(), st.data())
def test_resolving_a_peers_printed_form_gives_the_same_peer(c, data):
    text = data.draw(st.sampled_from(_texts(c)))
    for role in ("source", "destination"):
        try:
            peer = names.resolve(c, text, role)
        except nl.NetlabError:
            continue  # not every text is a source (a Service, an address nobody has)
        assert names.resolve(c, str(peer), role) == peer, (role, text, str(peer))
