"""Every proxy mode, traced through whole clusters: pods reach every Service that has endpoints, and the
modes agree on the verdict and the endpoint set (where they differ by design, the test says so)."""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import netlab as nl
from netlab.kubeproxy import api

MODES = [m for m in ("iptables", "nftables", "ipvs", "userspace") if m in api.PROXY_MODES]

settings.register_profile("modes", deadline=None, max_examples=25, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow])


@st.composite
def clusters_with_services(draw):
    plugin = draw(st.sampled_from(["kubenet", "azure-cni", "azure-cni-overlay"]))
    nodes = draw(st.integers(1, 3))
    c = nl.Cluster.aks(plugin, nodes=nodes)
    apps = ["a", "b", "c"]
    for i in range(draw(st.integers(1, 6))):
        app = draw(st.sampled_from(apps))
        c = c.add_pod(f"p{i}", node=draw(st.integers(0, nodes - 1)), labels={"app": app},
                      containers=[nl.Container("srv", ports=[8080])])
    for app in apps:
        kind = draw(st.sampled_from(["ClusterIP", "NodePort"]))
        c = c.add_service(f"svc-{app}", selector={"app": app}, ports=[{"port": 80, "targetPort": 8080}], type=kind)
    return c


@settings(settings.get_profile("modes"))
@given(clusters_with_services(), st.integers(0, 5))
def test_every_mode_reaches_every_service_with_endpoints_and_agrees(c, pick):
    pods = sorted(c.pods)
    src = pods[pick % len(pods)]
    for svc in ("svc-a", "svc-b", "svc-c"):
        results = {}
        for mode in MODES:
            t = c.with_proxy_mode(mode).trace(src, svc, port=80)
            results[mode] = t
            has_endpoints = bool(c.services[svc].endpoints)
            assert t.delivered == has_endpoints, (mode, svc, t.reason)
        base = results["iptables"]
        for mode, t in results.items():
            assert t.verdict == base.verdict, (mode, svc)
            assert set(t.endpoints) == set(base.endpoints), (mode, svc)
            if t.delivered and mode != "userspace" and not t.delivered_to.startswith(f"pod {src} "):
                # the endpoint sees the client pod's own address (userspace: the node's; hairpin: masqueraded)
                assert t.seen_source == c.pods[src].ip, (mode, svc)


def test_userspace_loses_the_client_address():
    c = (nl.Cluster.aks("kubenet", nodes=2)
         .add_pod("w", node=1, labels={"app": "w"}, containers=[nl.Container("srv", ports=[80])])
         .add_pod("client", node=0)
         .add_service("w", selector={"app": "w"}, ports=[80]))
    t = c.with_proxy_mode("userspace").trace("client", "w")
    assert t.delivered and t.seen_source == c.nodes[0].ip
    assert t.reply.delivered
    assert any(h.interface == "kube-proxy socket" for h in t.hops)


def test_ipvs_shows_kube_ipvs0_and_the_virtual_server():
    c = (nl.Cluster.aks("kubenet", nodes=2)
         .add_pod("w", node=1, labels={"app": "w"}, containers=[nl.Container("srv", ports=[80])])
         .add_pod("client", node=0)
         .add_service("w", selector={"app": "w"}, ports=[80])
         .with_proxy_mode("ipvs"))
    t = c.trace("client", "w")
    assert t.delivered
    assert any("dev kube-ipvs0" in h.decided_by for h in t.hops)
    ipvs_hop = next(h for h in t.hops if h.table.startswith("ipvsadm"))
    assert ipvs_hop.decided_by.strip() in c.nodes[0].ipvsadm()
    assert f"inet {c.services['w'].cluster_ip}/32 scope global kube-ipvs0" in c.nodes[0].ip_addr()


def test_views_of_other_modes_say_which_mode_runs():
    c = nl.Cluster.aks("kubenet")
    assert "runs in iptables mode, not ipvs mode" in c.nodes[0].ipvsadm()
    assert "with_proxy_mode('nftables')" in c.nodes[0].nft_list()
