"""kube-proxy iptables mode: the rules it writes and the two texts (facts sheet sections 1.1-1.9)."""

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netlab import kubeproxy as kp
from netlab.kubeproxy import iptables
from netlab.model.netfilter import BUILTIN_CHAINS, BUILTIN_TARGETS

CFG = kp.ProxyConfig(node_name="node-a", node_ips=["10.224.0.4"], cluster_cidr="10.244.0.0/16")


def svc(name, ns="default", **spec):
    status = spec.pop("status", None)
    obj = {"kind": "Service", "metadata": {"name": name, "namespace": ns}, "spec": spec}
    if status:
        obj["status"] = status
    return obj


def eps(service, endpoints, port=8080, port_name="", ns="default", name=None, protocol="TCP"):
    return {
        "kind": "EndpointSlice",
        "metadata": {"name": name or f"{service}-x1", "namespace": ns, "labels": {"kubernetes.io/service-name": service}},
        "addressType": "IPv4",
        "endpoints": [
            {"addresses": [a], "nodeName": n, **({"conditions": c} if c else {})}
            for a, n, c in ((e + (None,))[:3] if isinstance(e, tuple) else (e, "node-b", None) for e in endpoints)
        ],
        "ports": [{"name": port_name, "port": port, "protocol": protocol}],
    }


def lines(mode_text):
    return mode_text.splitlines()


def restore(services, slices, cfg=CFG):
    return kp.render("iptables", services, slices, cfg, with_jumps=False)


def save(services, slices, cfg=CFG):
    return kp.render("iptables", services, slices, cfg, form="save")


# ---- golden texts --------------------------------------------------------------------

# A ClusterIP Service with two endpoints and a NodePort Service with externalTrafficPolicy
# Local, one endpoint on this node. Hashes (sha256/base32, facts 1.7) computed with
#   base64.b32encode(hashlib.sha256(s.encode()).digest()).decode()[:16]
GOLDEN_SERVICES = [
    svc("web", clusterIP="10.0.0.12", ports=[{"name": "http", "port": 80, "targetPort": 8080}]),
    svc("shop", type="NodePort", clusterIP="10.0.0.20", externalTrafficPolicy="Local",
        ports=[{"port": 80, "targetPort": 8080, "nodePort": 30080}]),
]
GOLDEN_SLICES = [
    eps("web", [("10.244.1.5", "node-a"), ("10.244.2.7", "node-b")], port_name="http"),
    eps("shop", [("10.244.1.8", "node-a"), ("10.244.2.9", "node-b")]),
]
S = "PFINMTQ5Y2TT4XZK"  # "default/shop" + "tcp"
S1 = "OPOCFOAYX7SDUAP3"  # + "10.244.1.8:8080"
S2 = "3Z2HZDE2HGAUR3A4"  # + "10.244.2.9:8080"
W = "CDGGSHYLG3RE2FKL"  # "default/web:http" + "tcp"
W1 = "AFGSLHOD2HFNCBX4"  # + "10.244.1.5:8080"
W2 = "2RIJ5GIYXEFH6G4D"  # + "10.244.2.7:8080"

GOLDEN_RESTORE = f"""\
*filter
:KUBE-SERVICES - [0:0]
:KUBE-EXTERNAL-SERVICES - [0:0]
:KUBE-FORWARD - [0:0]
:KUBE-NODEPORTS - [0:0]
:KUBE-PROXY-FIREWALL - [0:0]
:KUBE-FIREWALL - [0:0]
-A KUBE-FIREWALL -m comment --comment "block incoming localnet connections" -d 127.0.0.0/8 ! -s 127.0.0.0/8 -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP
-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP
-A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark 0x00004000/0x00004000 -j ACCEPT
-A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
COMMIT
*nat
:KUBE-SERVICES - [0:0]
:KUBE-NODEPORTS - [0:0]
:KUBE-POSTROUTING - [0:0]
:KUBE-MARK-MASQ - [0:0]
:KUBE-EXT-{S} - [0:0]
:KUBE-SVC-{S} - [0:0]
:KUBE-SVL-{S} - [0:0]
:KUBE-SEP-{S1} - [0:0]
:KUBE-SEP-{S2} - [0:0]
:KUBE-SVC-{W} - [0:0]
:KUBE-SEP-{W1} - [0:0]
:KUBE-SEP-{W2} - [0:0]
-A KUBE-POSTROUTING -m mark ! --mark 0x00004000/0x00004000 -j RETURN
-A KUBE-POSTROUTING -j MARK --xor-mark 0x00004000
-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully
-A KUBE-MARK-MASQ -j MARK --or-mark 0x00004000
-A KUBE-SERVICES -m comment --comment "default/shop cluster IP" -m tcp -p tcp -d 10.0.0.20 --dport 80 -j KUBE-SVC-{S}
-A KUBE-NODEPORTS -m comment --comment default/shop -m tcp -p tcp --dport 30080 -j KUBE-EXT-{S}
-A KUBE-SVC-{S} -m comment --comment "default/shop cluster IP" -m tcp -p tcp -d 10.0.0.20 --dport 80 ! -s 10.244.0.0/16 -j KUBE-MARK-MASQ
-A KUBE-EXT-{S} -m comment --comment "pod traffic for default/shop external destinations" -s 10.244.0.0/16 -j KUBE-SVC-{S}
-A KUBE-EXT-{S} -m comment --comment "masquerade LOCAL traffic for default/shop external destinations" -m addrtype --src-type LOCAL -j KUBE-MARK-MASQ
-A KUBE-EXT-{S} -m comment --comment "route LOCAL traffic for default/shop external destinations" -m addrtype --src-type LOCAL -j KUBE-SVC-{S}
-A KUBE-EXT-{S} -j KUBE-SVL-{S}
-A KUBE-SVC-{S} -m comment --comment "default/shop -> 10.244.1.8:8080" -m statistic --mode random --probability 0.5000000000 -j KUBE-SEP-{S1}
-A KUBE-SVC-{S} -m comment --comment "default/shop -> 10.244.2.9:8080" -j KUBE-SEP-{S2}
-A KUBE-SVL-{S} -m comment --comment "default/shop -> 10.244.1.8:8080" -j KUBE-SEP-{S1}
-A KUBE-SEP-{S1} -m comment --comment default/shop -s 10.244.1.8 -j KUBE-MARK-MASQ
-A KUBE-SEP-{S1} -m comment --comment default/shop -m tcp -p tcp -j DNAT --to-destination 10.244.1.8:8080
-A KUBE-SEP-{S2} -m comment --comment default/shop -s 10.244.2.9 -j KUBE-MARK-MASQ
-A KUBE-SEP-{S2} -m comment --comment default/shop -m tcp -p tcp -j DNAT --to-destination 10.244.2.9:8080
-A KUBE-SERVICES -m comment --comment "default/web:http cluster IP" -m tcp -p tcp -d 10.0.0.12 --dport 80 -j KUBE-SVC-{W}
-A KUBE-SVC-{W} -m comment --comment "default/web:http cluster IP" -m tcp -p tcp -d 10.0.0.12 --dport 80 ! -s 10.244.0.0/16 -j KUBE-MARK-MASQ
-A KUBE-SVC-{W} -m comment --comment "default/web:http -> 10.244.1.5:8080" -m statistic --mode random --probability 0.5000000000 -j KUBE-SEP-{W1}
-A KUBE-SVC-{W} -m comment --comment "default/web:http -> 10.244.2.7:8080" -j KUBE-SEP-{W2}
-A KUBE-SEP-{W1} -m comment --comment default/web:http -s 10.244.1.5 -j KUBE-MARK-MASQ
-A KUBE-SEP-{W1} -m comment --comment default/web:http -m tcp -p tcp -j DNAT --to-destination 10.244.1.5:8080
-A KUBE-SEP-{W2} -m comment --comment default/web:http -s 10.244.2.7 -j KUBE-MARK-MASQ
-A KUBE-SEP-{W2} -m comment --comment default/web:http -m tcp -p tcp -j DNAT --to-destination 10.244.2.7:8080
-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS
COMMIT
"""

_DATE = "Mon Jan  6 12:00:00 2025"
GOLDEN_SAVE = f"""\
# Generated by iptables-save v1.8.9 (nf_tables) on {_DATE}
*mangle
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:KUBE-KUBELET-CANARY - [0:0]
:KUBE-PROXY-CANARY - [0:0]
COMMIT
# Completed on {_DATE}
# Generated by iptables-save v1.8.9 (nf_tables) on {_DATE}
*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:KUBE-EXTERNAL-SERVICES - [0:0]
:KUBE-FIREWALL - [0:0]
:KUBE-FORWARD - [0:0]
:KUBE-KUBELET-CANARY - [0:0]
:KUBE-NODEPORTS - [0:0]
:KUBE-PROXY-CANARY - [0:0]
:KUBE-PROXY-FIREWALL - [0:0]
:KUBE-SERVICES - [0:0]
-A INPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL
-A INPUT -m comment --comment "kubernetes health check service ports" -j KUBE-NODEPORTS
-A INPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes externally-visible service portals" -j KUBE-EXTERNAL-SERVICES
-A INPUT -j KUBE-FIREWALL
-A FORWARD -m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL
-A FORWARD -m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD
-A FORWARD -m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-A FORWARD -m conntrack --ctstate NEW -m comment --comment "kubernetes externally-visible service portals" -j KUBE-EXTERNAL-SERVICES
-A OUTPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL
-A OUTPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-A OUTPUT -j KUBE-FIREWALL
-A KUBE-FIREWALL ! -s 127.0.0.0/8 -d 127.0.0.0/8 -m comment --comment "block incoming localnet connections" -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP
-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP
-A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark 0x4000/0x4000 -j ACCEPT
-A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
COMMIT
# Completed on {_DATE}
# Generated by iptables-save v1.8.9 (nf_tables) on {_DATE}
*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:KUBE-EXT-{S} - [0:0]
:KUBE-KUBELET-CANARY - [0:0]
:KUBE-MARK-MASQ - [0:0]
:KUBE-NODEPORTS - [0:0]
:KUBE-POSTROUTING - [0:0]
:KUBE-PROXY-CANARY - [0:0]
:KUBE-SEP-{W2} - [0:0]
:KUBE-SEP-{S2} - [0:0]
:KUBE-SEP-{W1} - [0:0]
:KUBE-SEP-{S1} - [0:0]
:KUBE-SERVICES - [0:0]
:KUBE-SVC-{W} - [0:0]
:KUBE-SVC-{S} - [0:0]
:KUBE-SVL-{S} - [0:0]
-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING
-A KUBE-EXT-{S} -s 10.244.0.0/16 -m comment --comment "pod traffic for default/shop external destinations" -j KUBE-SVC-{S}
-A KUBE-EXT-{S} -m comment --comment "masquerade LOCAL traffic for default/shop external destinations" -m addrtype --src-type LOCAL -j KUBE-MARK-MASQ
-A KUBE-EXT-{S} -m comment --comment "route LOCAL traffic for default/shop external destinations" -m addrtype --src-type LOCAL -j KUBE-SVC-{S}
-A KUBE-EXT-{S} -j KUBE-SVL-{S}
-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000
-A KUBE-NODEPORTS -p tcp -m comment --comment "default/shop" -m tcp --dport 30080 -j KUBE-EXT-{S}
-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN
-A KUBE-POSTROUTING -j MARK --set-xmark 0x4000/0x0
-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully
-A KUBE-SEP-{W2} -s 10.244.2.7/32 -m comment --comment "default/web:http" -j KUBE-MARK-MASQ
-A KUBE-SEP-{W2} -p tcp -m comment --comment "default/web:http" -m tcp -j DNAT --to-destination 10.244.2.7:8080
-A KUBE-SEP-{S2} -s 10.244.2.9/32 -m comment --comment "default/shop" -j KUBE-MARK-MASQ
-A KUBE-SEP-{S2} -p tcp -m comment --comment "default/shop" -m tcp -j DNAT --to-destination 10.244.2.9:8080
-A KUBE-SEP-{W1} -s 10.244.1.5/32 -m comment --comment "default/web:http" -j KUBE-MARK-MASQ
-A KUBE-SEP-{W1} -p tcp -m comment --comment "default/web:http" -m tcp -j DNAT --to-destination 10.244.1.5:8080
-A KUBE-SEP-{S1} -s 10.244.1.8/32 -m comment --comment "default/shop" -j KUBE-MARK-MASQ
-A KUBE-SEP-{S1} -p tcp -m comment --comment "default/shop" -m tcp -j DNAT --to-destination 10.244.1.8:8080
-A KUBE-SERVICES -d 10.0.0.20/32 -p tcp -m comment --comment "default/shop cluster IP" -m tcp --dport 80 -j KUBE-SVC-{S}
-A KUBE-SERVICES -d 10.0.0.12/32 -p tcp -m comment --comment "default/web:http cluster IP" -m tcp --dport 80 -j KUBE-SVC-{W}
-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS
-A KUBE-SVC-{W} ! -s 10.244.0.0/16 -d 10.0.0.12/32 -p tcp -m comment --comment "default/web:http cluster IP" -m tcp --dport 80 -j KUBE-MARK-MASQ
-A KUBE-SVC-{W} -m comment --comment "default/web:http -> 10.244.1.5:8080" -m statistic --mode random --probability 0.50000000000 -j KUBE-SEP-{W1}
-A KUBE-SVC-{W} -m comment --comment "default/web:http -> 10.244.2.7:8080" -j KUBE-SEP-{W2}
-A KUBE-SVC-{S} ! -s 10.244.0.0/16 -d 10.0.0.20/32 -p tcp -m comment --comment "default/shop cluster IP" -m tcp --dport 80 -j KUBE-MARK-MASQ
-A KUBE-SVC-{S} -m comment --comment "default/shop -> 10.244.1.8:8080" -m statistic --mode random --probability 0.50000000000 -j KUBE-SEP-{S1}
-A KUBE-SVC-{S} -m comment --comment "default/shop -> 10.244.2.9:8080" -j KUBE-SEP-{S2}
-A KUBE-SVL-{S} -m comment --comment "default/shop -> 10.244.1.8:8080" -j KUBE-SEP-{S1}
COMMIT
# Completed on {_DATE}
"""


def test_restore_text_matches_the_hand_written_golden_text():
    assert restore(GOLDEN_SERVICES, GOLDEN_SLICES) == GOLDEN_RESTORE


def test_save_text_matches_the_hand_written_golden_text():
    assert save(GOLDEN_SERVICES, GOLDEN_SLICES) == GOLDEN_SAVE


def test_jump_comment_lines_are_the_only_difference_between_the_two_restore_variants():
    with_jumps = kp.render("iptables", GOLDEN_SERVICES, GOLDEN_SLICES, CFG)
    assert "\n".join(l for l in lines(with_jumps) if not l.startswith("#")) + "\n" == GOLDEN_RESTORE
    jumps = [l[2:] for l in lines(with_jumps) if l.startswith("# -A ")]
    assert jumps[0] == (
        '-A INPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL'
    )
    assert '-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES' in jumps


def test_jump_rules_are_in_the_data_in_their_kernel_order():
    data = kp.rules("iptables", [], [], CFG)
    chain = [r.target for r in data if (r.table, r.chain) == ("filter", "INPUT")]
    assert chain == ["KUBE-PROXY-FIREWALL", "KUBE-NODEPORTS", "KUBE-EXTERNAL-SERVICES", "KUBE-FIREWALL"]
    chain = [r.target for r in data if (r.table, r.chain) == ("filter", "FORWARD")]
    assert chain == ["KUBE-PROXY-FIREWALL", "KUBE-FORWARD", "KUBE-SERVICES", "KUBE-EXTERNAL-SERVICES"]
    chain = [r.target for r in data if (r.table, r.chain) == ("filter", "OUTPUT")]
    assert chain == ["KUBE-PROXY-FIREWALL", "KUBE-SERVICES", "KUBE-FIREWALL"]
    assert [(r.chain, r.target) for r in data if r.table == "nat" and r.chain in BUILTIN_CHAINS["nat"]] == [
        ("PREROUTING", "KUBE-SERVICES"), ("OUTPUT", "KUBE-SERVICES"), ("POSTROUTING", "KUBE-POSTROUTING")]


def test_rendering_is_deterministic_and_ignores_input_order():
    services = list(reversed(GOLDEN_SERVICES))
    assert restore(services, list(reversed(GOLDEN_SLICES))) == GOLDEN_RESTORE


# ---- probabilities -------------------------------------------------------------------


@pytest.mark.parametrize(("n", "text"), [(1, "1.0000000000"), (2, "0.5000000000"), (10, "0.1000000000"),
                                         (100000, "0.0000100000"), (100001, "0.0000099999")])
def test_probability_is_go_percent_0_10f_of_one_over_n(n, text):
    assert iptables.probability(n) == text


def three_endpoint_rules():
    web = [svc("web", clusterIP="10.0.0.12", ports=[{"port": 80}])]
    slices = [eps("web", ["10.244.1.1", "10.244.1.2", "10.244.1.3"])]
    return [l for l in lines(restore(web, slices)) if l.startswith("-A KUBE-SVC-") and "->" in l], web, slices


def test_endpoint_rules_use_one_over_n_minus_i():
    svc_rules, _, _ = three_endpoint_rules()
    assert [re.search(r"--probability (\S+)", l).group(1) if "--probability" in l else None for l in svc_rules] == [
        "0.3333333333", "0.5000000000", None]


def test_last_endpoint_rule_has_no_statistic_match():
    svc_rules, _, _ = three_endpoint_rules()
    assert "-m statistic" not in svc_rules[-1]
    assert svc_rules[-1].endswith("-j " + kp.endpoint_chain_name("default/web", "tcp", "10.244.1.3:8080"))


def test_save_form_prints_the_kernels_probabilities():
    _, web, slices = three_endpoint_rules()
    printed = re.findall(r"--probability (\S+)", save(web, slices))
    assert printed == ["0.33333333349", "0.50000000000"]


def test_endpoints_are_in_ip_port_string_order():
    web = [svc("web", clusterIP="10.0.0.12", ports=[{"port": 80}])]
    text = restore(web, [eps("web", ["10.244.1.9", "10.244.1.10"])])
    order = re.findall(r'"default/web -> (\S+)"', text)
    assert order == ["10.244.1.10:8080", "10.244.1.9:8080"]


# ---- fixed rules and settings ---------------------------------------------------------


def test_masquerade_mark_follows_the_masquerade_bit():
    cfg = kp.ProxyConfig(node_name="node-a", node_ips=["10.224.0.4"], masquerade_bit=0)
    text = restore([], [], cfg)
    assert "-A KUBE-MARK-MASQ -j MARK --or-mark 0x00000001" in text
    assert "-A KUBE-MARK-MASQ -j MARK --set-xmark 0x1/0x1" in save([], [], cfg)


def test_no_random_fully_when_iptables_lacks_it():
    cfg = kp.ProxyConfig(node_name="node-a", node_ips=["10.224.0.4"], random_fully=False)
    assert '-j MASQUERADE\n' in restore([], [], cfg)


def test_invalid_drop_rule_is_left_out_when_conntrack_is_liberal():
    cfg = kp.ProxyConfig(node_name="node-a", node_ips=["10.224.0.4"], conntrack_tcp_be_liberal=True)
    assert "INVALID" not in restore([], [], cfg)
    assert "-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP" in restore([], [], CFG)


def test_without_localhost_nodeports_kube_proxy_writes_no_firewall_rule_and_skips_loopback():
    cfg = kp.ProxyConfig(node_name="node-a", node_ips=["10.224.0.4"], localhost_nodeports=False)
    text = restore([], [], cfg)
    assert "KUBE-FIREWALL" not in text
    assert ('-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule '
            'in this chain" -m addrtype --dst-type LOCAL ! -d 127.0.0.0/8 -j KUBE-NODEPORTS') in text
    # kubelet's copy of the rule is still in the kernel.
    assert any(r.chain == "KUBE-FIREWALL" and r.target == "DROP" for r in kp.rules("iptables", [], [], cfg))


def test_nodeport_addresses_give_one_last_rule_per_node_address():
    cfg = kp.ProxyConfig(node_name="node-a", node_ips=["10.224.0.4", "192.168.5.4"], nodeport_addresses=["10.224.0.0/16"])
    last = [l for l in lines(restore([], [], cfg)) if "nodeports; NOTE" in l]
    assert last == ['-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last '
                    'rule in this chain" -d 10.224.0.4 -j KUBE-NODEPORTS']


def test_masquerade_all_marks_every_cluster_ip_packet():
    cfg = kp.ProxyConfig(node_name="node-a", node_ips=["10.224.0.4"], masquerade_all=True, cluster_cidr="10.244.0.0/16")
    text = restore(GOLDEN_SERVICES[:1], GOLDEN_SLICES[:1], cfg)
    assert (f'-A KUBE-SVC-{W} -m comment --comment "default/web:http cluster IP" -m tcp -p tcp -d 10.0.0.12 '
            "--dport 80 -j KUBE-MARK-MASQ") in text


def test_without_a_local_detector_there_is_no_cluster_ip_masquerade_and_no_pod_short_circuit():
    cfg = kp.ProxyConfig(node_name="node-a", node_ips=["10.224.0.4"])
    text = restore(GOLDEN_SERVICES, GOLDEN_SLICES, cfg)
    assert "KUBE-MARK-MASQ" not in "\n".join(l for l in lines(text) if l.startswith("-A KUBE-SVC-"))
    assert "pod traffic for" not in text
    assert "masquerade LOCAL traffic for default/shop" in text


# ---- per-service templates -------------------------------------------------------------


def test_service_without_endpoints_gets_reject_rules_in_filter_and_no_nat_chains():
    lb = svc("lb", type="LoadBalancer", clusterIP="10.0.0.30", externalIPs=["192.168.99.11"],
             ports=[{"name": "p80", "port": 80, "nodePort": 30001}],
             status={"loadBalancer": {"ingress": [{"ip": "1.2.3.4"}]}})
    text = restore([lb], [])
    assert [l for l in lines(text) if "has no endpoints" in l] == [
        '-A KUBE-SERVICES -m comment --comment "default/lb:p80 has no endpoints" -m tcp -p tcp -d 10.0.0.30 --dport 80 -j REJECT',
        '-A KUBE-EXTERNAL-SERVICES -m comment --comment "default/lb:p80 has no endpoints" -m tcp -p tcp -d 192.168.99.11 --dport 80 -j REJECT',
        '-A KUBE-EXTERNAL-SERVICES -m comment --comment "default/lb:p80 has no endpoints" -m tcp -p tcp -d 1.2.3.4 --dport 80 -j REJECT',
        '-A KUBE-EXTERNAL-SERVICES -m comment --comment "default/lb:p80 has no endpoints" -m addrtype --dst-type LOCAL -m tcp -p tcp --dport 30001 -j REJECT',
    ]
    assert not re.search(r"KUBE-(SVC|SVL|EXT|FW|SEP)-", text)


def test_external_local_policy_without_local_endpoints_drops_external_traffic_but_keeps_the_ext_chain():
    lb = svc("lb", type="LoadBalancer", clusterIP="10.0.0.30", externalTrafficPolicy="Local", healthCheckNodePort=30000,
             ports=[{"name": "p80", "port": 80, "nodePort": 30001}], status={"loadBalancer": {"ingress": [{"ip": "1.2.3.4"}]}})
    text = restore([lb], [eps("lb", ["10.244.2.2"], port_name="p80")])
    ext = kp.chain_name("KUBE-EXT", "default/lb:p80", "tcp")
    assert [l for l in lines(text) if "no local endpoints" in l] == [
        '-A KUBE-EXTERNAL-SERVICES -m comment --comment "default/lb:p80 has no local endpoints" -m tcp -p tcp -d 1.2.3.4 --dport 80 -j DROP',
        '-A KUBE-EXTERNAL-SERVICES -m comment --comment "default/lb:p80 has no local endpoints" -m addrtype --dst-type LOCAL -m tcp -p tcp --dport 30001 -j DROP',
    ]
    assert f":{ext} - [0:0]" in text and f"-A {ext} -j KUBE-SVL" not in text
    assert '-A KUBE-NODEPORTS -m comment --comment "default/lb:p80 health check node port" -m tcp -p tcp --dport 30000 -j ACCEPT' in text


def test_internal_local_policy_captures_to_the_svl_chain_or_drops_without_local_endpoints():
    web = svc("web", clusterIP="10.0.0.12", internalTrafficPolicy="Local", ports=[{"port": 80}])
    svl = kp.chain_name("KUBE-SVL", "default/web", "tcp")
    local = restore([web], [eps("web", [("10.244.1.5", "node-a"), ("10.244.2.5", "node-b")])])
    assert f'-A KUBE-SERVICES -m comment --comment "default/web cluster IP" -m tcp -p tcp -d 10.0.0.12 --dport 80 -j {svl}' in local
    assert "10.244.2.5" not in local
    remote = restore([web], [eps("web", ["10.244.2.5"])])
    assert ('-A KUBE-SERVICES -m comment --comment "default/web has no local endpoints" -m tcp -p tcp -d 10.0.0.12 '
            "--dport 80 -j DROP") in remote


def test_load_balancer_source_ranges_use_a_fw_chain_and_the_proxy_firewall():
    lb = svc("lb", type="LoadBalancer", clusterIP="10.0.0.30", loadBalancerSourceRanges=[" 203.0.113.0/25", "10.224.0.0/16"],
             ports=[{"name": "p80", "port": 80, "nodePort": 30002}], status={"loadBalancer": {"ingress": [{"ip": "5.6.7.8"}]}})
    text = restore([lb], [eps("lb", ["10.244.2.3"], port_name="p80")])
    fw = kp.chain_name("KUBE-FW", "default/lb:p80", "tcp")
    ext = kp.chain_name("KUBE-EXT", "default/lb:p80", "tcp")
    assert [l for l in lines(text) if l.startswith(f"-A {fw}")] == [
        f'-A {fw} -m comment --comment "default/lb:p80 loadbalancer IP" -s 203.0.113.0/25 -j {ext}',
        f'-A {fw} -m comment --comment "default/lb:p80 loadbalancer IP" -s 10.224.0.0/16 -j {ext}',
        f'-A {fw} -m comment --comment "default/lb:p80 loadbalancer IP" -s 5.6.7.8 -j {ext}',
        f'-A {fw} -m comment --comment "other traffic to default/lb:p80 will be dropped by KUBE-PROXY-FIREWALL"',
    ]
    assert (f'-A KUBE-PROXY-FIREWALL -m comment --comment "default/lb:p80 traffic not accepted by {fw}" '
            "-m tcp -p tcp -d 5.6.7.8 --dport 80 -j DROP") in text
    assert f'-A KUBE-SERVICES -m comment --comment "default/lb:p80 loadbalancer IP" -m tcp -p tcp -d 5.6.7.8 --dport 80 -j {fw}' in text
    assert f"-A KUBE-NODEPORTS -m comment --comment default/lb:p80 -m tcp -p tcp --dport 30002 -j {ext}" in text


def test_external_ip_is_captured_to_the_ext_chain_which_masquerades_with_cluster_policy():
    web = svc("web", clusterIP="10.0.0.12", externalIPs=["192.168.99.33"], ports=[{"port": 80}])
    text = restore([web], [eps("web", ["10.244.2.5"])])
    ext = kp.chain_name("KUBE-EXT", "default/web", "tcp")
    assert f'-A KUBE-SERVICES -m comment --comment "default/web external IP" -m tcp -p tcp -d 192.168.99.33 --dport 80 -j {ext}' in text
    assert f'-A {ext} -m comment --comment "masquerade traffic for default/web external destinations" -j KUBE-MARK-MASQ' in text


def test_client_ip_affinity_checks_recent_lists_before_the_random_choice():
    web = svc("web", clusterIP="10.0.0.12", sessionAffinity="ClientIP",
              sessionAffinityConfig={"clientIP": {"timeoutSeconds": 600}}, ports=[{"port": 80}])
    text = restore([web], [eps("web", ["10.244.1.1", "10.244.1.2"])])
    svc_chain = kp.chain_name("KUBE-SVC", "default/web", "tcp")
    sep1 = kp.endpoint_chain_name("default/web", "tcp", "10.244.1.1:8080")
    body = [l for l in lines(text) if l.startswith(f"-A {svc_chain} ") and "->" in l]
    assert body[0] == (f'-A {svc_chain} -m comment --comment "default/web -> 10.244.1.1:8080" -m recent '
                       f"--name {sep1} --rcheck --seconds 600 --reap -j {sep1}")
    assert "--rcheck" in body[1] and "statistic" in body[2] and "statistic" not in body[3]
    assert (f"-A {sep1} -m comment --comment default/web -m recent --name {sep1} --set -m tcp -p tcp "
            "-j DNAT --to-destination 10.244.1.1:8080") in text


def test_udp_service_uses_the_udp_match():
    dns = svc("kube-dns", ns="kube-system", clusterIP="10.0.0.10", ports=[{"name": "dns", "port": 53, "protocol": "UDP"}])
    slices = [eps("kube-dns", ["10.244.0.3"], ns="kube-system", port=53, port_name="dns", protocol="UDP")]
    text = restore([dns], slices)
    assert ('-A KUBE-SERVICES -m comment --comment "kube-system/kube-dns:dns cluster IP" -m udp -p udp -d 10.0.0.10 '
            "--dport 53 -j KUBE-SVC-TCOU7JCQXEZGVUNU") in text


def test_large_cluster_mode_drops_per_endpoint_comments_above_1000_endpoints():
    def cluster(n):
        web = svc("web", clusterIP="10.0.0.12", ports=[{"port": 80}])
        return [web], [eps("web", [f"10.244.{i // 250}.{i % 250 + 1}" for i in range(n)])]

    small = kp.rules("iptables", *cluster(1000), CFG)
    big = kp.rules("iptables", *cluster(1001), CFG)

    def commented(rules):
        return [r for r in rules if r.chain.startswith(("KUBE-SEP-", "KUBE-SVC-")) and r.matches
                and type(r.matches[0]).__name__ == "Comment" and "->" not in r.matches[0].text
                and "cluster IP" not in r.matches[0].text]
    assert len(commented(small)) == 2000
    assert commented(big) == []
    assert any("cluster IP" in l for l in (r.line for r in big if r.chain.startswith("KUBE-SVC-")))
    assert not any("->" in r.line for r in big)


# ---- properties over random clusters ---------------------------------------------------


@st.composite
def clusters(draw):
    n_services = draw(st.integers(1, 4))
    services, slices = [], []
    for i in range(n_services):
        kind = draw(st.sampled_from(["ClusterIP", "NodePort", "LoadBalancer"]))
        spec = {"type": kind, "clusterIP": f"10.0.1.{i + 1}",
                "ports": [{"name": "p", "port": 80, **({"nodePort": 30000 + i} if kind != "ClusterIP" else {})}]}
        if kind != "ClusterIP":
            spec["externalTrafficPolicy"] = draw(st.sampled_from(["Cluster", "Local"]))
        if draw(st.booleans()):
            spec["internalTrafficPolicy"] = "Local"
        if draw(st.booleans()):
            spec["sessionAffinity"] = "ClientIP"
        status = None
        if kind == "LoadBalancer":
            status = {"loadBalancer": {"ingress": [{"ip": f"20.0.0.{i + 1}"}]}}
            if draw(st.booleans()):
                spec["loadBalancerSourceRanges"] = ["203.0.113.0/24"]
        services.append(svc(f"s{i}", status=status, **spec))
        n_eps = draw(st.integers(0, 5))
        endpoints = [(f"10.244.{i}.{j + 1}", draw(st.sampled_from(["node-a", "node-b"])),
                      draw(st.sampled_from([None, {"ready": False, "serving": True, "terminating": True}])))
                     for j in range(n_eps)]
        slices.append(eps(f"s{i}", endpoints, port_name="p"))
    return services, slices


@settings(max_examples=60, deadline=None, derandomize=True)
@given(clusters())
def test_every_jump_target_is_a_declared_chain_and_every_declared_chain_has_rules(cluster):
    services, slices = cluster
    sync = iptables.build(services, slices, CFG)
    for table in (sync.filter, sync.nat):
        declared = set(table.chains)
        assert len(declared) == len(table.chains), "a chain line is written twice"
        used = {r.chain for r in table.rules}
        assert used <= declared
        for r in table.rules:
            assert r.target is None or r.target in BUILTIN_TARGETS or r.target in declared
        for chain in declared - set(iptables.FILTER_CHAINS) - set(iptables.NAT_CHAINS) - {"KUBE-FIREWALL"}:
            assert chain in used, f"{chain} is declared but empty"
            assert len(chain) <= 28


@settings(max_examples=30, deadline=None, derandomize=True)
@given(clusters(), st.randoms(use_true_random=False))
def test_output_does_not_depend_on_the_order_objects_are_given_in(cluster, rnd):
    services, slices = cluster
    shuffled_services, shuffled_slices = services[:], slices[:]
    rnd.shuffle(shuffled_services)
    rnd.shuffle(shuffled_slices)
    assert restore(services, slices) == restore(shuffled_services, shuffled_slices)


@settings(max_examples=30, deadline=None, derandomize=True)
@given(clusters())
def test_save_form_has_the_same_rules_as_the_data(cluster):
    services, slices = cluster
    text = save(services, slices)
    data = kp.rules("iptables", services, slices, CFG)
    assert sum(1 for l in lines(text) if l.startswith("-A ")) == len(data)
    assert text.count("*mangle") == text.count("*filter") == text.count("*nat") == 1
    assert "0x00004000" not in text


def test_unknown_form_is_rejected_with_a_suggestion():
    with pytest.raises(kp.api.ConfigError, match="Did you mean 'save'"):
        kp.render("iptables", [], [], CFG, form="saved")
