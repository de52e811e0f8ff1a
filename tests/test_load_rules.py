"""Pasted rules (netlab.kubeproxy.loaded): read, print back, explain and trace a real node's iptables-save or nft list."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from netlab import kubeproxy as kp
from netlab.errors import ConfigError, NetlabError
from netlab.kubeproxy.flow import Branch, Flow, FlowVerdict, NotModelled
from netlab.kubeproxy.loaded import RulesParseError, Unmodelled, load_rules
from netlab.model.netfilter import IPSet, Rule, format_save, net

NODE_IP = "10.224.0.4"
CFG = kp.ProxyConfig(node_name="node-a", node_ips=[NODE_IP], cluster_cidr="10.244.0.0/16")


def svc(name, **spec):
    status = spec.pop("status", None)
    obj = {"kind": "Service", "metadata": {"name": name, "namespace": "shop"}, "spec": spec}
    if status:
        obj["status"] = status
    return obj


def slice_for(name, addresses=("10.244.1.8", "10.244.2.9", "10.244.3.4"), port=8080):
    return {"kind": "EndpointSlice",
            "metadata": {"name": f"{name}-1", "namespace": "shop", "labels": {"kubernetes.io/service-name": name}},
            "addressType": "IPv4",
            "endpoints": [{"addresses": [a], "nodeName": "node-a" if i == 0 else "node-b"}
                          for i, a in enumerate(addresses)],
            "ports": [{"name": "", "port": port, "protocol": "TCP"}]}


SERVICES = [
    svc("web", clusterIP="10.0.0.12", ports=[{"port": 80}]),
    svc("np", type="NodePort", clusterIP="10.0.0.13", ports=[{"port": 80, "nodePort": 30080}]),
    svc("npl", type="NodePort", clusterIP="10.0.0.14", externalTrafficPolicy="Local",
        ports=[{"port": 80, "nodePort": 30081}]),
    svc("lb", type="LoadBalancer", clusterIP="10.0.0.15", ports=[{"port": 80, "nodePort": 30082}],
        status={"loadBalancer": {"ingress": [{"ip": "20.1.2.3"}]}}),
    svc("aff", clusterIP="10.0.0.16", sessionAffinity="ClientIP", ports=[{"port": 80}]),
    svc("empty", clusterIP="10.0.0.17", ports=[{"port": 80}]),
]
SLICES = [slice_for(s["metadata"]["name"]) for s in SERVICES if s["metadata"]["name"] != "empty"]

#: (source, destination, port): ClusterIP, NodePort (Cluster and Local), LB IP, no endpoints, outside, the node.
FLOWS = [
    ("10.244.1.5", "10.0.0.12", 80),
    ("203.0.113.9", NODE_IP, 30080),
    ("203.0.113.9", NODE_IP, 30081),
    ("203.0.113.9", "20.1.2.3", 80),
    ("10.244.1.5", "10.0.0.16", 80),
    ("10.244.1.5", "10.0.0.17", 80),
    ("10.244.1.5", "8.8.8.8", 443),
    (NODE_IP, "10.0.0.13", 80),
    ("203.0.113.9", "10.0.0.12", 81),
]


def same_fate(expected: Flow, got: Flow) -> None:
    assert got.verdict is expected.verdict
    assert got.endpoints == expected.endpoints
    assert [b.probability for b in got.branches] == pytest.approx([b.probability for b in expected.branches])
    assert [(b.verdict, b.endpoint, b.masquerade, len(b.lines), b.hooks) for b in got.branches] == \
        [(b.verdict, b.endpoint, b.masquerade, len(b.lines), b.hooks) for b in expected.branches]
    assert math.isclose(sum(b.probability for b in got.branches), 1.0)


# ----------------------------------------------------------------------------- (a) netlab's own dumps

@pytest.mark.parametrize("mode,form", [("iptables", "save"), ("ipvs", "iptables"), ("userspace", "iptables"),
                                       ("nftables", "list")])
def test_every_printed_dump_reads_back_and_prints_the_same_text(mode, form):
    text = kp.render(mode, SERVICES, SLICES, CFG, form=form)
    loaded = load_rules(text)
    assert str(loaded) == text
    assert loaded.not_modelled == ()  # netlab models all it writes


def test_each_rule_prints_back_as_format_save_prints_the_rule_it_came_from():
    rules = [r for r in kp.rules("iptables", SERVICES, SLICES, CFG)]
    loaded = load_rules(kp.render("iptables", SERVICES, SLICES, CFG, form="save"))
    by_table = {t: sorted(format_save(r) for r in rules if r.table == t) for t in ("filter", "nat")}
    for table in ("filter", "nat"):
        assert sorted(r.printed() for r in loaded.rules if r.table == table) == by_table[table]


@pytest.mark.parametrize("mode,form", [("iptables", "save"), ("nftables", "list")])
@pytest.mark.parametrize("flow", FLOWS, ids=lambda f: f"{f[0]}->{f[1]}:{f[2]}")
def test_a_trace_through_the_pasted_rules_ends_as_trace_flow_does(mode, form, flow):
    source, destination, port = flow
    loaded = load_rules(kp.render(mode, SERVICES, SLICES, CFG, form=form))
    expected = kp.trace_flow(mode, SERVICES, SLICES, CFG, source=source, destination=destination, port=port)
    same_fate(expected, loaded.trace(source, destination, port, node_ips=[NODE_IP]))


def test_the_verdicts_are_the_ones_each_case_teaches():
    loaded = load_rules(kp.render("iptables", SERVICES, SLICES, CFG, form="save"))
    cluster_ip = loaded.trace("10.244.1.5", "10.0.0.12", 80, node_ips=[NODE_IP])
    assert cluster_ip.verdict is FlowVerdict.DNAT
    assert cluster_ip.endpoints == ("10.244.1.8:8080", "10.244.2.9:8080", "10.244.3.4:8080")
    assert [b.probability for b in cluster_ip.branches] == pytest.approx([1 / 3] * 3)
    assert loaded.trace("10.244.1.5", "10.0.0.17", 80, node_ips=[NODE_IP]).verdict is FlowVerdict.REJECT
    assert loaded.trace("10.244.1.5", "8.8.8.8", 443, node_ips=[NODE_IP]).verdict is FlowVerdict.ACCEPT
    node_port = loaded.trace("203.0.113.9", NODE_IP, 30080, node_ips=[NODE_IP])
    assert node_port.verdict is FlowVerdict.DNAT and node_port.masquerade


def test_a_cluster_nodes_iptables_save_reads_back_with_its_other_rules():
    import netlab as nl

    c = nl.scenarios.shop()
    text = c.run("iptables-save", on=0)
    loaded = load_rules(text)
    assert str(loaded) == text + "\n"  # cluster.run drops the last newline
    assert "not kube-proxy's (ip-masq-agent, as on AKS and GKE)" in loaded.explain()
    web = c.services["web"]
    flow = loaded.trace("10.244.1.9", str(web.cluster_ip), 80, node_ips=[str(c.nodes[0].ip)])
    assert flow.verdict is FlowVerdict.DNAT and len(flow.endpoints) == 2


def test_without_node_addresses_the_trace_says_the_node_is_a_stranger():
    loaded = load_rules(kp.render("iptables", SERVICES, SLICES, CFG, form="save"))
    flow = loaded.trace("203.0.113.9", NODE_IP, 30080)
    assert flow.verdict is FlowVerdict.ACCEPT  # the NodePort is not seen as the node's
    assert "no node address given" in flow.notes[0] and "note: no node address" in str(flow)


def test_nodeport_addresses_and_the_nft_nodeport_set_give_the_node_addresses():
    cfg = kp.ProxyConfig(node_name="node-a", node_ips=[NODE_IP], cluster_cidr="10.244.0.0/16",
                         nodeport_addresses=["10.224.0.0/16"])
    loaded = load_rules(kp.render("iptables", SERVICES, SLICES, cfg, form="save"))
    assert [str(a) for a in loaded.node_ips()] == [NODE_IP]
    assert loaded.trace("203.0.113.9", NODE_IP, 30080).verdict is FlowVerdict.DNAT
    nft = load_rules(kp.render("nftables", SERVICES, SLICES, CFG, form="list"))
    assert [str(a) for a in nft.node_ips()] == [NODE_IP]


@given(endpoints=st.integers(0, 5), node_port=st.booleans(), local=st.booleans(),
       source=st.sampled_from(["10.244.1.5", "203.0.113.9", NODE_IP]), mode=st.sampled_from(["iptables", "nftables"]))
def test_any_service_reads_back_and_traces_as_trace_flow(endpoints, node_port, local, source, mode):
    spec = {"clusterIP": "10.0.0.50", "ports": [{"port": 80, **({"nodePort": 30500} if node_port else {})}]}
    if node_port:
        spec.update(type="NodePort", externalTrafficPolicy="Local" if local else "Cluster")
    services = [svc("s", **spec)]
    slices = [slice_for("s", tuple(f"10.244.{i}.7" for i in range(1, endpoints + 1)))] if endpoints else []
    text = kp.render(mode, services, slices, CFG, form="save" if mode == "iptables" else "list")
    loaded = load_rules(text)
    assert str(loaded) == text
    for destination, port in (("10.0.0.50", 80), (NODE_IP, 30500)):
        expected = kp.trace_flow(mode, services, slices, CFG, source=source, destination=destination, port=port)
        same_fate(expected, loaded.trace(source, destination, port, node_ips=[NODE_IP]))


# ----------------------------------------------------------------------------- (b) other software's chains

DOCKER_HOST = """\
# Generated by iptables-save v1.8.7 on Tue Mar  5 10:00:00 2024
*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
:DOCKER - [0:0]
:DOCKER-ISOLATION-STAGE-1 - [0:0]
:DOCKER-ISOLATION-STAGE-2 - [0:0]
:DOCKER-USER - [0:0]
:KUBE-FIREWALL - [0:0]
:KUBE-FORWARD - [0:0]
:KUBE-KUBELET-CANARY - [0:0]
-A INPUT -j KUBE-FIREWALL
-A FORWARD -m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD
-A FORWARD -j DOCKER-USER
-A FORWARD -j DOCKER-ISOLATION-STAGE-1
-A FORWARD -o docker0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A FORWARD -o docker0 -j DOCKER
-A FORWARD -i docker0 ! -o docker0 -j ACCEPT
-A FORWARD -i docker0 -o docker0 -j ACCEPT
-A OUTPUT -j KUBE-FIREWALL
-A DOCKER -d 172.17.0.2/32 ! -i docker0 -o docker0 -p tcp -m tcp --dport 80 -j ACCEPT
-A DOCKER-ISOLATION-STAGE-1 -i docker0 ! -o docker0 -j DOCKER-ISOLATION-STAGE-2
-A DOCKER-ISOLATION-STAGE-1 -j RETURN
-A DOCKER-ISOLATION-STAGE-2 -o docker0 -j DROP
-A DOCKER-ISOLATION-STAGE-2 -j RETURN
-A DOCKER-USER -j RETURN
-A KUBE-FIREWALL ! -s 127.0.0.0/8 -d 127.0.0.0/8 -m comment --comment "block incoming localnet connections" -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP
-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP
-A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark 0x4000/0x4000 -j ACCEPT
-A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
COMMIT
# Completed on Tue Mar  5 10:00:00 2024
# Generated by iptables-save v1.8.7 on Tue Mar  5 10:00:00 2024
*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:DOCKER - [0:0]
:KUBE-MARK-MASQ - [0:0]
:KUBE-NODEPORTS - [0:0]
:KUBE-POSTROUTING - [0:0]
:KUBE-SEP-QA4PSDNF5R2OJOPA - [0:0]
:KUBE-SERVICES - [0:0]
:KUBE-SVC-CDGGSHYLG3RE2FKL - [0:0]
-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER
-A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-A OUTPUT ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j DOCKER
-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING
-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE
-A POSTROUTING -s 172.17.0.2/32 -d 172.17.0.2/32 -p tcp -m tcp --dport 80 -j MASQUERADE
-A DOCKER -i docker0 -j RETURN
-A DOCKER ! -i docker0 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 172.17.0.2:80
-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000
-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN
-A KUBE-POSTROUTING -j MARK --set-xmark 0x4000/0x0
-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully
-A KUBE-SEP-QA4PSDNF5R2OJOPA -s 10.244.0.2/32 -m comment --comment "default/web:http" -j KUBE-MARK-MASQ
-A KUBE-SEP-QA4PSDNF5R2OJOPA -p tcp -m comment --comment "default/web:http" -m tcp -j DNAT --to-destination 10.244.0.2:8080
-A KUBE-SERVICES -d 10.0.169.187/32 -p tcp -m comment --comment "default/web:http cluster IP" -m tcp --dport 80 -j KUBE-SVC-CDGGSHYLG3RE2FKL
-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS
-A KUBE-SVC-CDGGSHYLG3RE2FKL ! -s 10.244.0.0/16 -d 10.0.169.187/32 -p tcp -m comment --comment "default/web:http cluster IP" -m tcp --dport 80 -j KUBE-MARK-MASQ
-A KUBE-SVC-CDGGSHYLG3RE2FKL -m comment --comment "default/web:http -> 10.244.0.2:8080" -j KUBE-SEP-QA4PSDNF5R2OJOPA
COMMIT
# Completed on Tue Mar  5 10:00:00 2024
"""

CALICO_NODE = """\
# Warning: iptables-legacy tables present, use iptables-legacy-save to see them
# Generated by iptables-nft-save v1.8.10 (nf_tables) on Thu Jan 11 09:30:02 2024
*raw
:PREROUTING ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:cali-PREROUTING - [0:0]
:cali-from-host-endpoint - [0:0]
:cali-rpf-skip - [0:0]
-A PREROUTING -m comment --comment "cali:6gwbT8clXdHdC1b1" -j cali-PREROUTING
-A cali-PREROUTING -m comment --comment "cali:XFX5xbM8B9qR10JG" -j MARK --set-xmark 0x0/0xf0000
-A cali-PREROUTING -i cali+ -m comment --comment "cali:EWMPb0zVROM-woQp" -j MARK --set-xmark 0x40000/0x40000
-A cali-PREROUTING -m comment --comment "cali:PWuxTAIaFCtsg5Qa" -m mark --mark 0x40000/0x40000 -j cali-rpf-skip
-A cali-PREROUTING -m comment --comment "cali:fSSbGND7dgyemWU7" -m mark --mark 0x40000/0x40000 -m rpfilter --validmark --invert -j DROP
-A cali-PREROUTING -m comment --comment "cali:ImU0-4Rl2WoOI9Ou" -m mark --mark 0x0/0x40000 -j cali-from-host-endpoint
-A cali-PREROUTING -m comment --comment "cali:lV4V2MPoMBf0hl9T" -m mark --mark 0x10000/0x10000 -j ACCEPT
COMMIT
# Completed on Thu Jan 11 09:30:02 2024
# Generated by iptables-nft-save v1.8.10 (nf_tables) on Thu Jan 11 09:30:02 2024
*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:KUBE-FORWARD - [0:0]
:cali-FORWARD - [0:0]
:cali-INPUT - [0:0]
:cali-from-hep-forward - [0:0]
-A INPUT -m comment --comment "cali:Cz_u1IQiXIMmKD4c" -j cali-INPUT
-A FORWARD -m comment --comment "cali:wUHhoiAYhphO9Mso" -j cali-FORWARD
-A FORWARD -m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD
-A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark 0x4000/0x4000 -j ACCEPT
-A cali-FORWARD -m comment --comment "cali:vjrMJCRpqwy5oRoX" -j MARK --set-xmark 0x0/0xe0000
-A cali-FORWARD -m comment --comment "cali:A_sPAO0mcxbT9mOV" -m mark --mark 0x0/0x10000 -j cali-from-hep-forward
-A cali-INPUT -p ipencap -m comment --comment "cali:PajejrV4aFdkZojI" -m comment --comment "Allow IPIP packets from Calico hosts" -m set --match-set cali40all-hosts-net src -m addrtype --dst-type LOCAL -j ACCEPT
-A cali-INPUT -p tcp -m comment --comment "cali:3bB5lWBrFNfAHmYH" -m multiport --dports 179,5473 -j ACCEPT
COMMIT
# Completed on Thu Jan 11 09:30:02 2024
# Generated by iptables-nft-save v1.8.10 (nf_tables) on Thu Jan 11 09:30:02 2024
*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:KUBE-MARK-MASQ - [0:0]
:KUBE-POSTROUTING - [0:0]
:KUBE-SERVICES - [0:0]
:cali-POSTROUTING - [0:0]
:cali-nat-outgoing - [0:0]
-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-A POSTROUTING -m comment --comment "cali:O3lYWMrLQYEMJtB5" -j cali-POSTROUTING
-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING
-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000
-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN
-A KUBE-POSTROUTING -j MARK --set-xmark 0x4000/0x0
-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully
-A KUBE-SERVICES -d 10.96.0.1/32 -p tcp -m comment --comment "default/kubernetes:https cluster IP" -m tcp --dport 443 -j KUBE-MARK-MASQ
-A cali-POSTROUTING -m comment --comment "cali:nYKhEzDlr11Jccal" -j cali-nat-outgoing
-A cali-nat-outgoing -m comment --comment "cali:flqWnvo8yq4ULQLa" -m set --match-set cali40masq-ipam-pools src -m set ! --match-set cali40all-ipam-pools dst -j MASQUERADE --random-fully
COMMIT
# Completed on Thu Jan 11 09:30:02 2024
"""


@pytest.mark.parametrize("text", [DOCKER_HOST, CALICO_NODE], ids=["docker", "calico"])
def test_a_foreign_dump_prints_back_as_pasted(text):
    assert str(load_rules(text)) == text


def test_the_docker_dumps_kube_chains_are_named_by_their_hash():
    assert kp.chain_name("KUBE-SVC", "default/web:http", "tcp") == "KUBE-SVC-CDGGSHYLG3RE2FKL"
    assert kp.endpoint_chain_name("default/web:http", "tcp", "10.244.0.2:8080") == "KUBE-SEP-QA4PSDNF5R2OJOPA"


def test_explain_names_each_chains_owner_and_service_port():
    rows = {tuple(line.split()[:2]): line for line in load_rules(DOCKER_HOST).explain().splitlines()[2:]}
    assert rows[("filter", "FORWARD")].split()[2] == "7"
    assert "(policy DROP)" in rows[("filter", "FORWARD")]
    assert "not kube-proxy's (Docker)" in rows[("filter", "DOCKER-ISOLATION-STAGE-1")]
    assert "not kube-proxy's (Docker)" in rows[("nat", "DOCKER")]
    assert "kubelet: empty canary" in rows[("filter", "KUBE-KUBELET-CANARY")]
    svc_row, sep_row = rows[("nat", "KUBE-SVC-CDGGSHYLG3RE2FKL")], rows[("nat", "KUBE-SEP-QA4PSDNF5R2OJOPA")]
    assert "  default/web:http (tcp)  " in svc_row and svc_row.split()[-1] == "comments"
    assert "  default/web:http (tcp) -> 10.244.0.2:8080  " in sep_row and sep_row.split()[-1] == "comments"
    calico = load_rules(CALICO_NODE).explain()
    cali = next(line for line in calico.splitlines() if line.split()[:2] == ["raw", "cali-PREROUTING"])
    assert cali.split()[2] == "6" and cali.endswith("not kube-proxy's (Calico)")


def test_explain_golden_text():
    text = ("*nat\n:PREROUTING ACCEPT [0:0]\n:KUBE-SVC-CDGGSHYLG3RE2FKL - [0:0]\n:DOCKER - [0:0]\n"
            "-A KUBE-SVC-CDGGSHYLG3RE2FKL -m comment --comment \"default/web:http -> 10.244.0.2:8080\" -j DOCKER\n"
            "COMMIT\n")
    assert load_rules(text).explain() == (
        "TABLE    CHAIN                      RULES    ROLE                                                           "
        "SERVICE PORT / ENDPOINT    MATCHED BY\n"
        "-------  -------------------------  -------  -------------------------------------------------------------  "
        "-------------------------  ------------\n"
        "nat      PREROUTING                 0        hook: every packet that arrives, before routing\n"
        "nat      KUBE-SVC-CDGGSHYLG3RE2FKL  1        kube-proxy: a Service port picks an endpoint (Cluster policy)  "
        "default/web:http (tcp)     comments\n"
        "nat      DOCKER                     0        not kube-proxy's (Docker)")


def test_explain_matches_hashes_to_the_objects_given():
    loaded = load_rules(kp.render("iptables", SERVICES, SLICES, CFG, form="save"))
    svc_chain = kp.chain_name("KUBE-SVC", "shop/web", "tcp")
    sep_chain = kp.endpoint_chain_name("shop/web", "tcp", "10.244.2.9:8080")
    rows = {line.split()[1]: line for line in loaded.explain({"items": SERVICES + SLICES}).splitlines()[2:]}
    assert "  shop/web (tcp)  " in rows[svc_chain] and rows[svc_chain].split()[-1] == "objects"
    assert "shop/web (tcp) -> 10.244.2.9:8080" in rows[sep_chain] and rows[sep_chain].split()[-1] == "objects"
    # A comment that names another Service port than the chain's hash is caught.
    lying = load_rules("*nat\n:KUBE-SVC-CDGGSHYLG3RE2FKL - [0:0]\n"
                       "-A KUBE-SVC-CDGGSHYLG3RE2FKL -m comment --comment \"default/api:http cluster IP\"\nCOMMIT\n")
    assert lying.explain().splitlines()[-1].endswith("default/api:http           comment, hash differs")


def test_a_docker_published_port_is_traced_through_dockers_chains():
    flow = load_rules(DOCKER_HOST).trace("203.0.113.9", "10.0.0.4", 8080, node_ips=["10.0.0.4"],
                                         out_interface="docker0")
    assert (flow.verdict, flow.endpoints, flow.masquerade) == (FlowVerdict.DNAT, ("172.17.0.2:80",), False)
    assert "-A DOCKER ! -i docker0 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 172.17.0.2:80" \
        in flow.branches[0].lines
    assert flow.branches[0].hooks == ("nat PREROUTING", "filter FORWARD", "nat POSTROUTING")


def test_dockers_forward_drop_policy_drops_unmarked_pod_traffic_to_a_service():
    loaded = load_rules(DOCKER_HOST)
    from_pod = loaded.trace("10.244.1.5", "10.0.169.187", 80, node_ips=["10.0.0.4"])
    assert from_pod.verdict is FlowVerdict.DROP  # FORWARD's policy: nothing accepted it
    from_outside = loaded.trace("203.0.113.9", "10.0.169.187", 80, node_ips=["10.0.0.4"])
    assert from_outside.verdict is FlowVerdict.DNAT and from_outside.masquerade  # KUBE-FORWARD accepts the mark


def test_a_not_modelled_match_stops_the_trace_at_its_rule_with_its_line():
    loaded = load_rules(CALICO_NODE)
    line = next(i for i, text in enumerate(CALICO_NODE.splitlines(), 1) if "rpfilter" in text)
    flow = loaded.trace("192.168.1.5", "10.96.0.1", 443, node_ips=["10.0.0.4"], in_interface="cali1234")
    assert flow.verdict is FlowVerdict.NOT_MODELLED
    stop = flow.branches[0].not_modelled
    assert stop == flow.not_modelled[0]
    assert (stop.line, stop.parts, stop.where) == (line, ("-m rpfilter --validmark --invert",), "raw cali-PREROUTING")
    assert str(stop) == ("not modelled: line 13: -A cali-PREROUTING -m comment --comment \"cali:fSSbGND7dgyemWU7\" "
                         "-m mark --mark 0x40000/0x40000 -m rpfilter --validmark --invert -j DROP")
    assert flow.branches[0].lines[-1] == stop.text
    assert str(stop) in str(flow)


def test_a_rule_whose_modelled_matches_fail_is_passed_without_guessing():
    # From eth0 the mark is not 0x40000: the rpfilter rule cannot match, whatever rpfilter says; the walk
    # goes on, and stops next at Calico's ipset rule in nat POSTROUTING.
    flow = load_rules(CALICO_NODE).trace("203.0.113.9", "10.96.0.1", 443, node_ips=["10.0.0.4"])
    assert flow.verdict is FlowVerdict.NOT_MODELLED
    assert flow.not_modelled[0].where == "nat cali-nat-outgoing"
    assert flow.branches[0].hooks[:2] == ("raw PREROUTING", "nat PREROUTING")
    assert not any("rpfilter" in line for line in flow.branches[0].lines)


def test_an_ipset_not_in_the_dump_stops_the_trace_until_it_is_given():
    loaded = load_rules(CALICO_NODE)
    stopped = loaded.trace("192.168.1.5", "8.8.8.8", 443, node_ips=["10.0.0.4"])
    assert stopped.verdict is FlowVerdict.NOT_MODELLED
    assert "cali-nat-outgoing" in stopped.not_modelled[0].text
    pools = [IPSet("cali40masq-ipam-pools", "hash:net", [(net("192.168.0.0/16"),)]),
             IPSet("cali40all-ipam-pools", "hash:net", [(net("192.168.0.0/16"),)])]
    masqueraded = loaded.trace("192.168.1.5", "8.8.8.8", 443, node_ips=["10.0.0.4"], ipsets=pools)
    assert masqueraded.verdict is FlowVerdict.ACCEPT and masqueraded.masquerade
    assert not loaded.trace("10.1.1.1", "8.8.8.8", 443, node_ips=["10.0.0.4"], ipsets=pools).masquerade
    from_outside = loaded.trace("203.0.113.9", "10.96.0.1", 443, node_ips=["10.0.0.4"], ipsets=pools)
    assert from_outside.verdict is FlowVerdict.ACCEPT and from_outside.masquerade  # KUBE-POSTROUTING's, by the mark


def test_unmodelled_matches_and_targets_are_kept_and_listed():
    loaded = load_rules(CALICO_NODE + "*mangle\n:PREROUTING ACCEPT [0:0]\n"
                        "-A PREROUTING -p tcp -m tcp --dport 80 -m string --string \"GET /\" --algo bm -j CT --notrack\n"
                        "-A PREROUTING -m connlimit --connlimit-above 10 -j TPROXY --on-port 9000\nCOMMIT\n")
    parts = {r.line: r.not_modelled for r in loaded.not_modelled}
    assert parts[13] == ("-m rpfilter --validmark --invert",)
    assert ('-m string --string "GET /" --algo bm', "-j CT --notrack") in parts.values()
    assert ("-m connlimit --connlimit-above 10", "-j TPROXY --on-port 9000") in parts.values()
    rule = next(r for r in loaded.rules if "multiport" in r.text).rule
    assert isinstance(rule, Rule) and Unmodelled(("-m", "multiport", "--dports", "179,5473")) in rule.matches
    assert str(loaded).endswith('-A PREROUTING -p tcp -m tcp --dport 80 -m string --string "GET /" --algo bm '
                                "-j CT --notrack\n-A PREROUTING -m connlimit --connlimit-above 10 "
                                "-j TPROXY --on-port 9000\nCOMMIT\n")


def test_counters_of_iptables_save_c_are_kept():
    text = ("*filter\n:INPUT ACCEPT [1204:98012]\n:KUBE-FIREWALL - [0:0]\n"
            "[1204:98012] -A INPUT -j KUBE-FIREWALL\n[0:0] -A KUBE-FIREWALL ! -s 127.0.0.0/8 -d 127.0.0.0/8 "
            "-m comment --comment \"block incoming localnet connections\" -m conntrack ! --ctstate "
            "RELATED,ESTABLISHED,DNAT -j DROP\nCOMMIT\n")
    loaded = load_rules(text)
    assert str(loaded) == text and loaded.rules[0].counters == "[1204:98012]"
    assert load_rules(text).trace("203.0.113.9", "127.0.0.1", 22).verdict is FlowVerdict.DROP


# ----------------------------------------------------------------------------- nft list ruleset

RULESET = """\
table inet filter {
	chain input {
		type filter hook input priority filter; policy accept;
		tcp dport 22 counter packets 0 bytes 0 accept
	}
}
table ip kube-proxy {
	comment "rules for kube-proxy"
	chain nat-prerouting {
		type nat hook prerouting priority dstnat; policy accept;
		ip daddr 10.0.0.12 tcp dport 80 counter dnat to 10.244.1.8:8080
		ip daddr 10.0.0.13 meta l4proto tcp dnat to 10.244.2.9:8080 comment "shop/np"
	}
}
"""


def test_nft_ruleset_keeps_other_tables_and_unmodelled_statements():
    loaded = load_rules(RULESET)
    assert [(t.family, t.name) for t in loaded.nft_tables] == [("inet", "filter"), ("ip", "kube-proxy")]
    assert str(loaded) == RULESET
    assert [(r.line, r.not_modelled) for r in loaded.not_modelled] == [(11, ("tcp dport 80 counter dnat to 10.244.1.8:8080",))]
    stopped = loaded.trace("10.244.1.5", "10.0.0.12", 80, node_ips=[NODE_IP])
    assert stopped.verdict is FlowVerdict.NOT_MODELLED
    assert str(stopped.not_modelled[0]) == "not modelled: line 11: ip daddr 10.0.0.12 tcp dport 80 counter dnat to 10.244.1.8:8080"
    assert "not walked: table inet filter" in stopped.notes[0]
    passed = loaded.trace("10.244.1.5", "10.0.0.13", 80, node_ips=[NODE_IP])
    assert passed.endpoints == ("10.244.2.9:8080",)
    assert loaded.explain().splitlines()[2].split()[:3] == ["inet", "filter", "(table)"]


# ----------------------------------------------------------------------------- (c) parse errors

@pytest.mark.parametrize("text,message", [
    ("*nat\n:KUBE-SERVICES - [0:0]\n-A KUBE-SERVICES -j\nCOMMIT\n",
     'line 3: "-A KUBE-SERVICES -j" : -j needs a target'),
    ("*nat\n:PREROUTING ACCEPT [0:0]\n-A KUBE-SERVICES -j ACCEPT\nCOMMIT\n",
     'line 3: "-A KUBE-SERVICES -j ACCEPT" : table nat declares no chain KUBE-SERVICES'),
    ("# Generated by iptables-save\n-A INPUT -j ACCEPT\n", 'line 2: "-A INPUT -j ACCEPT" : a line outside a table'),
    ("*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -j ACCEPT\n", 'line 1: "*filter" : this table has no COMMIT'),
    ("*filter\n:INPUT ACCEPT [0:0]\n*nat\nCOMMIT\n", 'line 3: "*nat" : table filter (line 1) has no COMMIT'),
    ("*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -x eth0 -j ACCEPT\nCOMMIT\n",
     'line 3: "-A INPUT -x eth0 -j ACCEPT" : -x is not an option iptables-save prints'),
    ("*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -m comment --comment \"open -j ACCEPT\nCOMMIT\n",
     "line 3: ", ),
    ("*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -j KUBE-NOPE\nCOMMIT\n",
     "-j KUBE-NOPE: table filter declares no chain KUBE-NOPE, and iptables has no such target"),
    ("*filter\n:INPUT - [0:0]\nCOMMIT\n", "INPUT is a built-in chain of table filter: its policy is ACCEPT or DROP"),
    ("*filter\n:KUBE-X ACCEPT [0:0]\nCOMMIT\n", "KUBE-X is not a built-in chain of table filter, so its policy is '-'"),
    ("*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -s 10.0.0.300 -j DROP\nCOMMIT\n", "line 3: "),
    ("*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -j ACCEPT --now\nCOMMIT\n", "-j ACCEPT takes no options"),
    ("*broute\nCOMMIT\n", "iptables has no table 'broute'"),
    ("", "no table found"),
    ("table ip t {\n\tchain c {\n\t\tjump nowhere\n\t}\n}\n", 'line 3: "jump nowhere" : no chain nowhere in table ip t'),
    ("table ip t {\n\tchain c {\n\t\taccept\n\t}\n", "is never closed"),
    ("table ip t {\n\tgadget g {\n\t}\n}\n", "expected 'set NAME {'"),
])
def test_a_malformed_paste_names_the_line_and_what_was_expected(text, message):
    with pytest.raises(RulesParseError) as err:
        load_rules(text)
    assert message in str(err.value)
    assert isinstance(err.value, ConfigError) and isinstance(err.value, NetlabError)


def test_flow_without_the_new_fields_still_builds():
    branch = Branch(1.0, None, False, (), FlowVerdict.ACCEPT)
    flow = Flow(kp.api.ProxyConfig(node_name="n", node_ips=["10.0.0.4"]).node_ips[0], net("10.0.0.5/32")[0], 80,
                "tcp", (branch,))
    assert flow.notes == () and flow.not_modelled == () and branch.not_modelled is None
    assert str(NotModelled(3, "-A X -m bpf --bytecode 1 -j DROP")) == "not modelled: line 3: -A X -m bpf --bytecode 1 -j DROP"


def test_an_nft_base_chain_with_policy_drop_stops_the_walk_at_its_end():
    text = ("table ip t {\n\tchain input {\n\t\ttype filter hook input priority filter; policy drop;\n"
            "\t\tip saddr 10.0.0.0/8 accept\n\t}\n}\n")
    loaded = load_rules(text)
    assert str(loaded) == text  # printed as pasted: the model's chains have no policy
    assert loaded.trace("10.1.2.3", NODE_IP, 22, node_ips=[NODE_IP]).verdict is FlowVerdict.ACCEPT
    stopped = loaded.trace("203.0.113.9", NODE_IP, 22, node_ips=[NODE_IP])
    assert stopped.verdict is FlowVerdict.NOT_MODELLED and stopped.not_modelled[0].parts == ("policy drop",)


def test_a_file_path_is_read_like_apply_and_from_kubectl_read_theirs(tmp_path):
    import pathlib

    from netlab import course

    path = tmp_path / "node.txt"
    path.write_bytes(course.shipped_data("node-iptables-save.txt"))
    text = path.read_text()
    assert load_rules(str(path)).text() == load_rules(pathlib.Path(path)).text() == load_rules(text).text()
    with pytest.raises(NetlabError, match="looks like a file's name, but it cannot be read"):
        load_rules(str(tmp_path / "missing.txt"))
