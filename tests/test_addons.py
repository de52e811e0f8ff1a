"""CoreDNS behind kube-dns: opt-in pods, named and placed as the controllers and the scheduler would."""

import pytest

import netlab as nl
from netlab.k8s import addons
from helpers import PLUGINS, with_plugin

PODS_A = """\
NAMESPACE     NAME                      READY   STATUS    RESTARTS   AGE   IP           NODE                                NOMINATED NODE   READINESS GATES
default       web-0                     1/1     Running   0          3m    10.244.0.2   aks-nodepool1-87544974-vmss000000   <none>           <none>
kube-system   coredns-6445b85ff-88h6d   1/1     Running   0          2m    10.244.1.2   aks-nodepool1-87544974-vmss000001   <none>           <none>
kube-system   coredns-6445b85ff-xt52g   1/1     Running   0          1m    10.244.0.3   aks-nodepool1-87544974-vmss000000   <none>           <none>"""

SLICES_A = """\
NAMESPACE     NAME             ADDRESSTYPE   PORTS   ENDPOINTS               AGE
default       kubernetes       IPv4          443     203.0.113.100           1h
kube-system   kube-dns-6pltb   IPv4          53,53   10.244.0.3,10.244.1.2   1h"""


@pytest.fixture
def with_dns():
    return nl.Cluster.aks("kubenet", nodes=2).add_pod("web-0").add_coredns()


def test_clusters_run_no_coredns_until_asked():
    c = nl.Cluster.aks("kubenet", nodes=2).add_pod("web-0")
    assert c.services["kube-system/kube-dns"].endpoints == []
    assert c.trace("web-0", "kube-system/kube-dns", port=53, protocol="udp").verdict is nl.Verdict.REFUSED
    assert str(c.pods["web-0"].ip) == "10.244.0.2"


def test_kubectl_shows_the_coredns_pods_and_the_kube_dns_slice(with_dns):
    assert with_dns.kubectl_get_pods(all_namespaces=True) == PODS_A
    assert with_dns.kubectl_get_endpointslices(all_namespaces=True) == SLICES_A
    assert with_dns.kubectl_get_pods().splitlines()[1].startswith("web-0")  # default namespace only


def test_pods_are_named_after_the_replicaset_and_labelled_for_the_service(with_dns):
    names = [n for n in with_dns.pods if n.startswith("kube-system/")]
    assert names == ["kube-system/coredns-6445b85ff-88h6d", "kube-system/coredns-6445b85ff-xt52g"]
    for n in names:
        pod = with_dns.pods[n]
        assert pod.labels == {"k8s-app": "kube-dns", "pod-template-hash": "6445b85ff"}
        assert pod.name.startswith(addons.replicaset_name() + "-")
        assert [(p.port, p.protocol, p.name) for c in pod.containers for p in c.ports] == [
            (53, "UDP", "dns"), (53, "TCP", "dns-tcp"), (9153, "TCP", "metrics")]


@pytest.mark.parametrize("mode", ["iptables", "ipvs", "nftables", "userspace"])
@pytest.mark.parametrize("protocol", ["udp", "tcp"])
def test_dns_to_kube_dns_is_delivered_in_every_proxy_mode(with_dns, mode, protocol):
    c = with_dns.with_proxy_mode(mode)
    for dst in ("kube-system/kube-dns", "10.0.0.10"):
        t = c.trace("web-0", dst, port=53, protocol=protocol)
        assert t.verdict is nl.Verdict.DELIVERED, t
        assert str(t.hops[-1].place).startswith("pod kube-system/coredns-6445b85ff-")


@pytest.mark.parametrize("plugin", PLUGINS)
def test_dns_works_under_every_plugin(with_dns, plugin):
    c = with_plugin(with_dns, plugin)
    assert len(c.services["kube-system/kube-dns"].endpoints) == 2
    assert c.trace("web-0", "kube-system/kube-dns", port=53, protocol="udp").verdict is nl.Verdict.DELIVERED


def test_kube_proxy_writes_udp_rules_for_dns(with_dns):
    save = with_dns.nodes[0].iptables_save()
    assert ('-A KUBE-SERVICES -d 10.0.0.10/32 -p udp -m comment --comment "kube-system/kube-dns:dns cluster IP" '
            '-m udp --dport 53 -j KUBE-SVC-TCOU7JCQXEZGVUNU') in save  # the chain name of the fact sheet's real dump
    assert '-p udp -m comment --comment "kube-system/kube-dns:dns" -m udp -j DNAT --to-destination 10.244.1.2:53' in save
    ipvs = with_dns.with_proxy_mode("ipvs").nodes[0].ipvsadm()
    assert "UDP  10.0.0.10:53 rr\n  -> 10.244.0.3:53                Masq    1      0          0" in ipvs
    nft = with_dns.with_proxy_mode("nftables").nodes[0].nft_list()
    assert "10.0.0.10 . udp . 53 : goto service-FY5PMXPG-kube-system/kube-dns/udp/dns" in nft


def test_replicas_spread_over_nodes_then_prefer_the_least_loaded():
    empty = nl.Cluster.aks("kubenet", nodes=3).add_coredns(replicas=4)
    on = sorted((p.node.index for n, p in empty.pods.items()))
    assert on == [0, 0, 1, 2]
    assert addons.place_replicas([0, 0, 0], 110, 4) == [0, 1, 2, 0]
    assert addons.place_replicas([5, 1, 1], 110, 2) == [1, 2]
    assert addons.place_replicas([10, 0], 10, 2) == [1, 1]  # node 0 is full


def test_one_node_takes_every_replica():
    c = nl.Cluster.aks("azure-cni", nodes=1).add_coredns()
    assert [p.node.index for p in c.pods.values()] == [0, 0]
    assert len(c.nodes[0].crictl_pods().splitlines()) == 3


def test_crictl_on_the_node_lists_the_coredns_sandbox_and_container(with_dns):
    pods = with_dns.nodes[1].crictl_pods()
    assert "coredns-6445b85ff-88h6d   kube-system" in pods
    ps = with_dns.nodes[1].crictl_ps().splitlines()[1].split()
    assert ps[-5] == "coredns" and ps[-1] == "kube-system"  # NAME, then ATTEMPT, POD ID, POD, NAMESPACE


def test_adding_coredns_twice_explains_the_rerun(with_dns):
    with pytest.raises(nl.DuplicateError, match="CoreDNS already runs.*Did you run this cell twice"):
        with_dns.add_coredns()


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2"])
def test_replicas_must_be_a_whole_number(bad):
    with pytest.raises(nl.ConfigError, match="whole number of replicas"):
        nl.Cluster.aks("kubenet").add_coredns(replicas=bad)


def test_a_full_cluster_says_which_pod_found_no_room():
    c = nl.Cluster.aks("kubenet", nodes=1, pods_per_node=10, max_pods=10)
    with pytest.raises(nl.NodeFullError, match="pod coredns-.*raise max_pods or add a node"):
        c.add_coredns()


def test_the_old_cluster_is_untouched_and_the_result_deterministic():
    base = nl.Cluster.aks("kubenet", nodes=2)
    a, b = base.add_coredns(), base.add_coredns()
    assert len(base.pods) == 0 and a == b
    assert a.kubectl_get_pods(all_namespaces=True) == b.kubectl_get_pods(all_namespaces=True)


def test_another_cluster_name_gives_other_pod_suffixes_but_the_same_template_hash():
    a = nl.Cluster.aks("kubenet").add_coredns()
    b = nl.Cluster.aks("kubenet", name="other").add_coredns()
    assert set(a.pods) != set(b.pods)
    assert {n.rsplit("-", 1)[0] for n in a.pods} == {n.rsplit("-", 1)[0] for n in b.pods} == {
        "kube-system/coredns-6445b85ff"}
