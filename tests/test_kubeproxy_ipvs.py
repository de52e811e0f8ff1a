"""kube-proxy IPVS mode: virtual servers, ipsets, iptables rules and packets (facts sheet section 2)."""

import ipaddress
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netlab import kubeproxy as kp
from netlab.errors import ConfigError, NetlabError, NotFoundError
from netlab.kubeproxy import ipvs
from netlab.kubeproxy.engine import walk_node
from netlab.model.netfilter import Context, Packet

NODE_IP = "10.224.0.4"
CFG = kp.ProxyConfig(node_name="node-a", node_ips=[NODE_IP], cluster_cidr="10.244.0.0/16")
NO_DETECTOR = kp.ProxyConfig(node_name="node-a", node_ips=[NODE_IP])


def svc(name, ns="default", **spec):
    status = spec.pop("status", None)
    obj = {"kind": "Service", "metadata": {"name": name, "namespace": ns}, "spec": spec}
    if status:
        obj["status"] = status
    return obj


def eps(service, endpoints, port, port_name="", ns="default", protocol="TCP", name=None, **conditions):
    return {
        "kind": "EndpointSlice",
        "metadata": {"name": name or f"{service}-x1", "namespace": ns,
                     "labels": {"kubernetes.io/service-name": service}},
        "addressType": "IPv4",
        "endpoints": [{"addresses": [a], **({"nodeName": n} if n else {}),
                       **({"conditions": conditions} if conditions else {})} for a, n in endpoints],
        "ports": [{"name": port_name, "port": port, "protocol": protocol}],
    }


# ---- golden texts ----------------------------------------------------------------------

# The API server (ClientIP affinity, as clusters create it), cluster DNS on UDP and TCP,
# and a NodePort Service with externalTrafficPolicy Local, one endpoint on this node.
GOLDEN_SERVICES = [
    svc("kubernetes", clusterIP="10.0.0.1", sessionAffinity="ClientIP",
        ports=[{"name": "https", "port": 443, "targetPort": 6443}]),
    svc("kube-dns", "kube-system", clusterIP="10.0.0.10",
        ports=[{"name": "dns", "port": 53, "protocol": "UDP"}, {"name": "dns-tcp", "port": 53, "protocol": "TCP"}]),
    svc("web", "shop", type="NodePort", clusterIP="10.0.0.20", externalTrafficPolicy="Local",
        ports=[{"port": 80, "targetPort": 8080, "nodePort": 30080}]),
]
DNS_PODS = [("10.244.1.5", "node-a"), ("10.244.2.7", "node-b")]
GOLDEN_SLICES = [
    eps("kubernetes", [("192.168.0.1", None)], 6443, "https"),
    eps("kube-dns", DNS_PODS, 53, "dns", "kube-system", "UDP"),
    eps("kube-dns", DNS_PODS, 53, "dns-tcp", "kube-system", "TCP", name="kube-dns-x2"),
    eps("web", [("10.244.1.8", "node-a"), ("10.244.2.9", "node-b")], 8080, "", "shop"),
]

# Written by hand from ipvsadm's printf formats: "%s  %s" + " %s" (+ " persistent %u") for a
# service, "  -> %-28s %-7s %-6d %-10u %-10u" for a destination (so every destination line
# ends with nine spaces after its last 0). Sorted by protocol (TCP 6 < UDP 17), address, port.
DEST_TAIL = "Masq    1      0          0         "
GOLDEN_IPVSADM = "\n".join([
    "IP Virtual Server version 1.2.1 (size=4096)",
    "Prot LocalAddress:Port Scheduler Flags",
    "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn",
    "TCP  10.0.0.1:443 rr persistent 10800",
    "  -> 192.168.0.1:6443             " + DEST_TAIL,
    "TCP  10.0.0.10:53 rr",
    "  -> 10.244.1.5:53                " + DEST_TAIL,
    "  -> 10.244.2.7:53                " + DEST_TAIL,
    "TCP  10.0.0.20:80 rr",
    "  -> 10.244.1.8:8080              " + DEST_TAIL,
    "  -> 10.244.2.9:8080              " + DEST_TAIL,
    "TCP  10.224.0.4:30080 rr",
    "  -> 10.244.1.8:8080              " + DEST_TAIL,
    "UDP  10.0.0.10:53 rr",
    "  -> 10.244.1.5:53                " + DEST_TAIL,
    "  -> 10.244.2.7:53                " + DEST_TAIL,
]) + "\n"


def test_ipvsadm_prints_the_golden_text_for_a_small_cluster():
    assert kp.render("ipvs", GOLDEN_SERVICES, GOLDEN_SLICES, CFG) == GOLDEN_IPVSADM


def test_ipvsadm_destination_columns_line_up_with_its_title():
    text = kp.render("ipvs", GOLDEN_SERVICES, GOLDEN_SLICES, CFG, form="ipvsadm").splitlines()
    title = text[2]
    for line in (l for l in text if l.startswith("  -> ") and l != title):
        for column in ("Forward", "Weight", "ActiveConn", "InActConn"):
            assert line[title.index(column) - 1] == " " and line[title.index(column)] != " "
        assert len(line) == title.index("InActConn") + 10  # %-10u pads the last column too


GOLDEN_IPSET = """\
create KUBE-LOOP-BACK hash:ip,port,ip family inet hashsize 1024 maxelem 65536 bucketsize 12 initval 0x3fe31004
add KUBE-LOOP-BACK 10.244.1.5,tcp:53,10.244.1.5
add KUBE-LOOP-BACK 10.244.1.5,udp:53,10.244.1.5
add KUBE-LOOP-BACK 10.244.1.8,tcp:8080,10.244.1.8
create KUBE-CLUSTER-IP hash:ip,port family inet hashsize 1024 maxelem 65536 bucketsize 12 initval 0x06f03586
add KUBE-CLUSTER-IP 10.0.0.1,tcp:443
add KUBE-CLUSTER-IP 10.0.0.10,tcp:53
add KUBE-CLUSTER-IP 10.0.0.10,udp:53
add KUBE-CLUSTER-IP 10.0.0.20,tcp:80
create KUBE-EXTERNAL-IP hash:ip,port family inet hashsize 1024 maxelem 65536 bucketsize 12 initval 0xaff8dd4e
create KUBE-EXTERNAL-IP-LOCAL hash:ip,port family inet hashsize 1024 maxelem 65536 bucketsize 12 initval 0x6591feef
create KUBE-LOAD-BALANCER hash:ip,port family inet hashsize 1024 maxelem 65536 bucketsize 12 initval 0xb79c51c6
create KUBE-LOAD-BALANCER-FW hash:ip,port family inet hashsize 1024 maxelem 65536 bucketsize 12 initval 0x53c3794a
create KUBE-LOAD-BALANCER-LOCAL hash:ip,port family inet hashsize 1024 maxelem 65536 bucketsize 12 initval 0x4515a755
create KUBE-LOAD-BALANCER-SOURCE-IP hash:ip,port,ip family inet hashsize 1024 maxelem 65536 bucketsize 12 initval 0x964923d6
create KUBE-LOAD-BALANCER-SOURCE-CIDR hash:ip,port,net family inet hashsize 1024 maxelem 65536 bucketsize 12 initval 0x59e6551f
create KUBE-NODE-PORT-TCP bitmap:port range 0-65535
add KUBE-NODE-PORT-TCP 30080
create KUBE-NODE-PORT-LOCAL-TCP bitmap:port range 0-65535
add KUBE-NODE-PORT-LOCAL-TCP 30080
create KUBE-NODE-PORT-UDP bitmap:port range 0-65535
create KUBE-NODE-PORT-LOCAL-UDP bitmap:port range 0-65535
create KUBE-NODE-PORT-SCTP-HASH hash:ip,port family inet hashsize 1024 maxelem 65536 bucketsize 12 initval 0xed5ea7e3
create KUBE-NODE-PORT-LOCAL-SCTP-HASH hash:ip,port family inet hashsize 1024 maxelem 65536 bucketsize 12 initval 0x06fae47d
create KUBE-HEALTH-CHECK-NODE-PORT bitmap:port range 0-65535
create KUBE-IPVS-IPS hash:ip family inet hashsize 1024 maxelem 65536 bucketsize 12 initval 0xa148be9e
add KUBE-IPVS-IPS 10.0.0.1
add KUBE-IPVS-IPS 10.0.0.10
add KUBE-IPVS-IPS 10.0.0.20
"""


def test_ipset_save_prints_every_set_with_its_members():
    assert kp.render("ipvs", GOLDEN_SERVICES, GOLDEN_SLICES, CFG, form="ipset") == GOLDEN_IPSET


def test_ipset_initval_is_the_crc32_of_the_set_name():
    import zlib

    for line in GOLDEN_IPSET.splitlines():
        if line.startswith("create") and "initval" in line:
            name = line.split()[1]
            assert line.endswith(f"initval 0x{zlib.crc32(name.encode()):08x}")


GOLDEN_RESTORE = """\
*nat
:KUBE-SERVICES - [0:0]
:KUBE-POSTROUTING - [0:0]
:KUBE-NODE-PORT - [0:0]
:KUBE-LOAD-BALANCER - [0:0]
:KUBE-MARK-MASQ - [0:0]
-A KUBE-SERVICES -s 127.0.0.0/8 -j RETURN
-A KUBE-POSTROUTING -m comment --comment "Kubernetes endpoints dst ip:port, source ip for solving hairpin purpose" -m set --match-set KUBE-LOOP-BACK dst,dst,src -j MASQUERADE
-A KUBE-NODE-PORT -p tcp -m comment --comment "Kubernetes nodeport TCP port with externalTrafficPolicy=local" -m set --match-set KUBE-NODE-PORT-LOCAL-TCP dst -j RETURN
-A KUBE-NODE-PORT -p tcp -m comment --comment "Kubernetes nodeport TCP port for masquerade purpose" -m set --match-set KUBE-NODE-PORT-TCP dst -j KUBE-MARK-MASQ
-A KUBE-SERVICES -m comment --comment "Kubernetes service cluster ip + port for masquerade purpose" -m set --match-set KUBE-CLUSTER-IP dst,dst ! -s 10.244.0.0/16 -j KUBE-MARK-MASQ
-A KUBE-SERVICES -m addrtype --dst-type LOCAL -j KUBE-NODE-PORT
-A KUBE-LOAD-BALANCER -j KUBE-MARK-MASQ
-A KUBE-SERVICES -m set --match-set KUBE-CLUSTER-IP dst,dst -j ACCEPT
-A KUBE-POSTROUTING -m mark ! --mark 0x00004000/0x00004000 -j RETURN
-A KUBE-POSTROUTING -j MARK --xor-mark 0x00004000
-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully
-A KUBE-MARK-MASQ -j MARK --or-mark 0x00004000
COMMIT
*filter
:KUBE-FORWARD - [0:0]
:KUBE-NODE-PORT - [0:0]
:KUBE-PROXY-FIREWALL - [0:0]
:KUBE-SOURCE-RANGES-FIREWALL - [0:0]
:KUBE-IPVS-FILTER - [0:0]
:KUBE-IPVS-OUT-FILTER - [0:0]
-A KUBE-SOURCE-RANGES-FIREWALL -j DROP
-A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark 0x00004000/0x00004000 -j ACCEPT
-A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A KUBE-NODE-PORT -m comment --comment "Kubernetes health check node port" -m set --match-set KUBE-HEALTH-CHECK-NODE-PORT dst -j ACCEPT
-A KUBE-IPVS-FILTER -m set --match-set KUBE-LOAD-BALANCER dst,dst -j RETURN
-A KUBE-IPVS-FILTER -m set --match-set KUBE-CLUSTER-IP dst,dst -j RETURN
-A KUBE-IPVS-FILTER -m set --match-set KUBE-EXTERNAL-IP dst,dst -j RETURN
-A KUBE-IPVS-FILTER -m set --match-set KUBE-EXTERNAL-IP-LOCAL dst,dst -j RETURN
-A KUBE-IPVS-FILTER -m set --match-set KUBE-HEALTH-CHECK-NODE-PORT dst -j RETURN
-A KUBE-IPVS-FILTER -m conntrack --ctstate NEW -m set --match-set KUBE-IPVS-IPS dst -j REJECT
COMMIT
"""


def test_restore_input_is_written_nat_first_in_write_iptables_rules_order():
    text = kp.render("ipvs", GOLDEN_SERVICES, GOLDEN_SLICES, CFG, form="restore", with_jumps=False)
    assert text == GOLDEN_RESTORE


def test_save_form_prints_the_kernel_form_of_the_same_rules():
    text = kp.render("ipvs", GOLDEN_SERVICES, GOLDEN_SLICES, CFG, form="iptables")
    lines = text.splitlines()
    assert lines[0] == "# Generated by iptables-save v1.8.9 (nf_tables) on Mon Jan  6 12:00:00 2025"
    assert ("-A KUBE-SERVICES ! -s 10.244.0.0/16 -m comment --comment \"Kubernetes service cluster ip + port "
            "for masquerade purpose\" -m set --match-set KUBE-CLUSTER-IP dst,dst -j KUBE-MARK-MASQ") in lines
    assert "-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000" in lines
    assert ("-A KUBE-IPVS-FILTER -m conntrack --ctstate NEW -m set --match-set KUBE-IPVS-IPS dst "
            "-j REJECT --reject-with icmp-port-unreachable") in lines
    assert "KUBE-PROXY-CANARY" not in text  # only the iptables proxier watches a canary
    assert text.count(":KUBE-KUBELET-CANARY - [0:0]") == 3
    # Jumps from built-in chains: the last prepended comes first, kubelet's KUBE-FIREWALL last.
    assert [l for l in lines if l.startswith("-A FORWARD")] == [
        '-A FORWARD -m comment --comment "kube-proxy firewall rules" -j KUBE-PROXY-FIREWALL',
        '-A FORWARD -m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD',
    ]
    assert [l for l in lines if l.startswith("-A OUTPUT")] == [
        '-A OUTPUT -m comment --comment "kubernetes ipvs access filter" -j KUBE-IPVS-OUT-FILTER',
        "-A OUTPUT -j KUBE-FIREWALL",
        '-A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
    ]


def test_restore_lists_the_jump_rules_as_comments_by_default():
    text = kp.render("ipvs", GOLDEN_SERVICES, GOLDEN_SLICES, CFG, form="restore")
    assert '# -A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES' in text
    assert text.index("*nat") < text.index("*filter")


# ---- what the sync holds ---------------------------------------------------------------

LB_RANGES = svc("lbr", "shop", type="LoadBalancer", clusterIP="10.0.0.19", loadBalancerSourceRanges=["203.0.113.0/24"],
                ports=[{"port": 80, "nodePort": 30084}], status={"loadBalancer": {"ingress": [{"ip": "20.1.2.5"}]}})
THREE = [("10.244.1.8", "node-a"), ("10.244.2.9", "node-b"), ("10.244.3.4", "node-c")]


def test_every_cluster_ip_external_ip_and_lb_ip_is_bound_to_kube_ipvs0():
    ext = svc("ext", clusterIP="10.0.0.30", externalIPs=["192.168.99.33", NODE_IP], ports=[{"port": 80}])
    sync = ipvs.build([ext, LB_RANGES], [], CFG)
    # Sorted by namespace/name: default/ext, then shop/lbr. The node's own IP is never re-bound.
    assert ipvs.ipvs_addresses(sync) == tuple(
        ipaddress.ip_address(a) for a in ("10.0.0.30", "192.168.99.33", "10.0.0.19", "20.1.2.5"))
    assert {e for (e,) in sync.ipset("KUBE-IPVS-IPS").entries} == set(ipvs.ipvs_addresses(sync))
    assert ipvs.DUMMY_DEVICE == "kube-ipvs0"


def test_a_virtual_server_exists_for_every_address_and_node_ip_of_a_service_port():
    cfg = kp.ProxyConfig(node_name="node-a", node_ips=[NODE_IP, "10.224.1.4"], cluster_cidr="10.244.0.0/16")
    sync = ipvs.build([LB_RANGES], [eps("lbr", THREE, 8080, ns="shop")], cfg)
    assert [(vs.kind, str(vs.address), vs.port) for vs in sync.virtual_servers] == [
        ("cluster IP", "10.0.0.19", 80), ("load balancer IP", "20.1.2.5", 80),
        ("node port", NODE_IP, 30084), ("node port", "10.224.1.4", 30084)]
    assert all(len(vs.real_servers) == 3 and vs.scheduler == "rr" for vs in sync.virtual_servers)


def test_nodeport_addresses_limit_the_nodeport_virtual_servers_and_never_use_loopback():
    cfg = kp.ProxyConfig(node_name="node-a", node_ips=[NODE_IP, "10.224.1.4"],
                         nodeport_addresses=["10.224.1.0/24", "127.0.0.0/8"])
    sync = ipvs.build([LB_RANGES], [], cfg)
    assert [str(vs.address) for vs in sync.virtual_servers if vs.kind == "node port"] == ["10.224.1.4"]


def test_local_policy_virtual_servers_hold_only_local_endpoints_and_the_cluster_ip_all():
    local = svc("npl", type="NodePort", clusterIP="10.0.0.14", externalTrafficPolicy="Local",
                ports=[{"port": 80, "nodePort": 30081}])
    sync = ipvs.build([local], [eps("npl", THREE, 8080)], CFG)
    by_kind = {vs.kind: [rs.endpoint for rs in vs.real_servers] for vs in sync.virtual_servers}
    assert by_kind == {"cluster IP": ["10.244.1.8:8080", "10.244.2.9:8080", "10.244.3.4:8080"],
                       "node port": ["10.244.1.8:8080"]}


def test_local_policy_without_local_endpoints_falls_back_to_every_endpoint():
    local = svc("npl", type="NodePort", clusterIP="10.0.0.14", externalTrafficPolicy="Local",
                ports=[{"port": 80, "nodePort": 30081}])
    sync = ipvs.build([local], [eps("npl", THREE[1:], 8080)], CFG)
    node_port = next(vs for vs in sync.virtual_servers if vs.kind == "node port")
    assert [rs.endpoint for rs in node_port.real_servers] == ["10.244.2.9:8080", "10.244.3.4:8080"]


def test_client_ip_affinity_makes_every_virtual_server_of_the_port_persistent():
    sticky = svc("sticky", type="NodePort", clusterIP="10.0.0.20", sessionAffinity="ClientIP",
                 sessionAffinityConfig={"clientIP": {"timeoutSeconds": 600}}, ports=[{"port": 80, "nodePort": 30090}])
    sync = ipvs.build([sticky], [], CFG)
    assert [vs.line() for vs in sync.virtual_servers] == [
        "TCP  10.0.0.20:80 rr persistent 600", "TCP  10.224.0.4:30090 rr persistent 600"]


def test_scheduler_comes_from_the_config_and_mh_shows_its_port_hash_flag():
    web = svc("web", clusterIP="10.0.0.12", ports=[{"port": 80}])
    for name, line in (("wrr", "TCP  10.0.0.12:80 wrr"), ("mh", "TCP  10.0.0.12:80 mh (mh-port)"), ("", "TCP  10.0.0.12:80 rr")):
        cfg = kp.ProxyConfig(node_name="n", node_ips=[NODE_IP], ipvs_scheduler=name)
        assert ipvs.build([web], [], cfg).virtual_servers[0].line() == line


def test_unknown_scheduler_is_refused_with_the_closest_name():
    with pytest.raises(ConfigError, match="Did you mean 'rr'"):
        kp.ProxyConfig(node_name="n", node_ips=[NODE_IP], ipvs_scheduler="rrr")
    with pytest.raises(ConfigError, match="ipvs_strict_arp"):
        kp.ProxyConfig(node_name="n", node_ips=[NODE_IP], ipvs_strict_arp="yes")


def test_sysctls_follow_the_kernel_version_and_strict_arp():
    plain = [s.key for s in ipvs.sysctls(CFG)]
    assert plain == ["net/ipv4/vs/conntrack", "net/ipv4/vs/expire_nodest_conn",
                     "net/ipv4/vs/expire_quiescent_template", "net/ipv4/ip_forward"]
    old = [s.key for s in ipvs.sysctls(CFG, kernel=(4, 19))]
    assert "net/ipv4/vs/conn_reuse_mode" in old
    strict = kp.ProxyConfig(node_name="n", node_ips=[NODE_IP], ipvs_strict_arp=True)
    assert [str(s) for s in ipvs.sysctls(strict)][-2:] == ["net.ipv4.conf.all.arp_ignore = 1",
                                                           "net.ipv4.conf.all.arp_announce = 2"]


def test_loop_back_set_holds_every_local_endpoint_even_not_ready_ones():
    web = svc("web", clusterIP="10.0.0.12", ports=[{"port": 80}])
    sync = ipvs.build([web], [eps("web", [("10.244.1.8", "node-a"), ("10.244.2.9", "node-b")], 8080, ready=False)], CFG)
    assert ipvs._ipset_member("hash:ip,port,ip", next(iter(sync.ipset("KUBE-LOOP-BACK").entries))) == \
        "10.244.1.8,tcp:8080,10.244.1.8"


def test_source_ranges_fill_the_cidr_set_and_block_node_access_when_the_node_is_outside():
    sync = ipvs.build([LB_RANGES], [], CFG)
    text = ipvs.render_ipset(sync)
    assert "add KUBE-LOAD-BALANCER-SOURCE-CIDR 20.1.2.5,tcp:80,203.0.113.0/24" in text
    assert "add KUBE-LOAD-BALANCER-FW 20.1.2.5,tcp:80" in text
    save = ipvs.render_save(sync)
    assert "-A KUBE-IPVS-OUT-FILTER -s 20.1.2.5/32 -m ipvs --vproto 6 --vaddr 20.1.2.5 --vport 80 -j DROP" in save
    inside = kp.ProxyConfig(node_name="node-a", node_ips=["203.0.113.50"])
    sync = ipvs.build([LB_RANGES], [], inside)
    assert "add KUBE-LOAD-BALANCER-SOURCE-IP 20.1.2.5,tcp:80,20.1.2.5" in ipvs.render_ipset(sync)
    assert "KUBE-IPVS-OUT-FILTER -s" not in ipvs.render_save(sync)


def test_sctp_node_ports_use_the_hash_set_with_each_node_ip():
    sctp = svc("sig", type="NodePort", clusterIP="10.0.0.40", ports=[{"port": 3868, "protocol": "SCTP", "nodePort": 30868}])
    sync = ipvs.build([sctp], [], CFG)
    assert "add KUBE-NODE-PORT-SCTP-HASH 10.224.0.4,sctp:30868" in ipvs.render_ipset(sync)
    assert ("-A KUBE-NODE-PORT -p sctp -m comment --comment \"Kubernetes nodeport SCTP port for masquerade purpose "
            "with type 'hash ip:port'\" -m set --match-set KUBE-NODE-PORT-SCTP-HASH dst,dst -j KUBE-MARK-MASQ") \
        in ipvs.render_restore(sync)
    assert "SCTP  10.0.0.40:3868 rr" in ipvs.render_ipvsadm(sync)


def test_masquerade_all_and_no_detector_change_the_cluster_ip_rule():
    web = svc("web", clusterIP="10.0.0.12", ports=[{"port": 80}])
    every = kp.ProxyConfig(node_name="n", node_ips=[NODE_IP], masquerade_all=True)
    assert "--match-set KUBE-CLUSTER-IP dst,dst -j KUBE-MARK-MASQ" in ipvs.render_restore(ipvs.build([web], [], every))
    assert "--match-set KUBE-CLUSTER-IP src,dst -j KUBE-MARK-MASQ" in ipvs.render_restore(ipvs.build([web], [], NO_DETECTOR))


def test_external_ips_get_a_masquerade_rule_and_two_accept_rules():
    ext = svc("ext", clusterIP="10.0.0.30", externalIPs=["192.168.99.33"], ports=[{"port": 80}])
    text = ipvs.render_restore(ipvs.build([ext], [], CFG), with_jumps=False)
    head = '-A KUBE-SERVICES -m comment --comment "Kubernetes service external ip + port for masquerade and filter purpose" -m set --match-set KUBE-EXTERNAL-IP dst,dst'
    assert [l for l in text.splitlines() if l.startswith(head)] == [
        head + " -j KUBE-MARK-MASQ",
        head + " -m physdev ! --physdev-is-in -m addrtype ! --src-type LOCAL -j ACCEPT",
        head + " -m addrtype --dst-type LOCAL -j ACCEPT",
    ]


def test_service_without_node_ips_for_node_ports_skips_its_health_check_too():
    lbl = svc("lbl", type="LoadBalancer", clusterIP="10.0.0.16", externalTrafficPolicy="Local", healthCheckNodePort=32000,
              ports=[{"port": 80, "nodePort": 30083}], status={"loadBalancer": {"ingress": [{"ip": "20.1.2.4"}]}})
    assert ipvs.build([lbl], [], CFG).ipset("KUBE-HEALTH-CHECK-NODE-PORT").entries == {(32000,)}
    nowhere = kp.ProxyConfig(node_name="n", node_ips=[NODE_IP], nodeport_addresses=["127.0.0.0/8"])
    assert not ipvs.build([lbl], [], nowhere).ipset("KUBE-HEALTH-CHECK-NODE-PORT").entries


def test_unknown_ipset_name_is_reported_with_a_suggestion():
    with pytest.raises(NotFoundError, match="Did you mean 'KUBE-CLUSTER-IP'"):
        ipvs.build([], [], CFG).ipset("KUBE-CLUSTER-IPS")


# ---- ipvsadm's sort --------------------------------------------------------------------


def _vs(address, port=80, proto="tcp"):
    return ipvs.VirtualServer(proto, ipaddress.ip_address(address), port, "rr")


def test_ipvsadm_sorts_addresses_as_signed_differences_so_far_addresses_wrap():
    # ipvs_cmp_services subtracts the addresses into an int: 168.63.0.1 - 10.0.0.12 overflows.
    order = ipvs._ipvsadm_sort([_vs("10.0.0.12"), _vs("168.63.0.1"), _vs("10.224.0.4")],
                               ipvs._service_key, ipvs._cmp_services)
    assert [str(v.address) for v in order] == ["168.63.0.1", "10.0.0.12", "10.224.0.4"]


def test_ipvsadm_sort_puts_tcp_before_udp_and_orders_ports():
    order = ipvs._ipvsadm_sort([_vs("10.0.0.10", 53, "udp"), _vs("10.0.0.10", 53), _vs("10.0.0.1", 443),
                                _vs("10.0.0.10", 9153)], ipvs._service_key, ipvs._cmp_services)
    assert [v.line() for v in order] == ["TCP  10.0.0.1:443 rr", "TCP  10.0.0.10:53 rr", "TCP  10.0.0.10:9153 rr",
                                         "UDP  10.0.0.10:53 rr"]


def test_when_addresses_span_half_the_space_glibc_merge_sort_decides_and_input_order_matters():
    a, b, c = _vs("10.0.0.1"), _vs("100.0.0.1"), _vs("200.0.0.1")  # not transitive: 10<100<200<10
    sort = lambda items: [str(v.address) for v in ipvs._ipvsadm_sort(items, ipvs._service_key, ipvs._cmp_services)]
    assert sort([a, b, c]) == ["10.0.0.1", "100.0.0.1", "200.0.0.1"]
    assert sort([c, b, a]) == ["200.0.0.1", "10.0.0.1", "100.0.0.1"]


@settings(max_examples=60, deadline=None, derandomize=True)
@given(st.lists(st.integers(0, 2**32 - 1), min_size=1, max_size=30, unique=True))
def test_fast_sort_agrees_with_the_merge_sort_whenever_the_comparison_is_consistent(addresses):
    items = [_vs(str(ipaddress.IPv4Address(a))) for a in addresses]
    fast = ipvs._ipvsadm_sort(items, ipvs._service_key, ipvs._cmp_services)
    slow = tuple(ipvs._msort(list(items), [ipvs._service_key(v) for v in items], ipvs._cmp_services))
    if ipvs._rotation(addresses) is not None:  # otherwise the fast path is the merge sort itself
        assert fast == slow


# ---- packets ---------------------------------------------------------------------------

POD = "10.244.1.5"
OUTSIDE = "203.0.113.9"
OFF_CLUSTER = "192.168.7.7"
LOCAL_EP = "10.244.1.8:8080"
REMOTE_EPS = ("10.244.2.9:8080", "10.244.3.4:8080")
ALL_EPS = tuple(sorted((LOCAL_EP, *REMOTE_EPS)))


def shop(name, **spec):
    return svc(name, "shop", **spec)


def slice_for(name, endpoints=THREE, port=8080, protocol="TCP", **conditions):
    return eps(name, endpoints, port, ns="shop", protocol=protocol, **conditions)


CLUSTER_IP = shop("web", clusterIP="10.0.0.12", ports=[{"port": 80}])
NODE_PORT = shop("np", type="NodePort", clusterIP="10.0.0.13", ports=[{"port": 80, "nodePort": 30080}])
NODE_PORT_LOCAL = shop("npl", type="NodePort", clusterIP="10.0.0.14", externalTrafficPolicy="Local",
                       ports=[{"port": 80, "nodePort": 30081}])
LB = shop("lb", type="LoadBalancer", clusterIP="10.0.0.15", ports=[{"port": 80, "nodePort": 30082}],
          status={"loadBalancer": {"ingress": [{"ip": "20.1.2.3"}]}})
LB_LOCAL = shop("lbl", type="LoadBalancer", clusterIP="10.0.0.16", externalTrafficPolicy="Local",
                healthCheckNodePort=32000, ports=[{"port": 80, "nodePort": 30083}],
                status={"loadBalancer": {"ingress": [{"ip": "20.1.2.4"}]}})
SERVICES = [CLUSTER_IP, NODE_PORT, NODE_PORT_LOCAL, LB, LB_LOCAL]
SLICES = [slice_for(s["metadata"]["name"]) for s in SERVICES]


def trace(source, destination, port, services=SERVICES, slices=SLICES, cfg=CFG, mode="ipvs", **kw):
    flow = kp.trace_flow(mode, services, slices, cfg, source=source, destination=destination, port=port, **kw)
    assert math.isclose(sum(b.probability for b in flow.branches), 1.0)
    return flow


def both(source, destination, port, **kw):
    return trace(source, destination, port, mode="ipvs", **kw), trace(source, destination, port, mode="iptables", **kw)


def test_pod_to_cluster_ip_reaches_every_endpoint_round_robin_without_masquerade():
    flow = trace(POD, "10.0.0.12", 80)
    assert (flow.verdict, flow.endpoints, flow.masquerade) == ("DNAT", ALL_EPS, False)
    assert all(b.probability == pytest.approx(1 / 3) for b in flow.branches)
    assert flow.branches[0].hooks == ("nat PREROUTING", "filter INPUT", "nat POSTROUTING")


def test_ipvs_step_carries_the_ipvsadm_service_and_destination_lines():
    from netlab.kubeproxy.modes import engine_for

    built = engine_for("ipvs", SERVICES, SLICES, CFG)
    ctx = Context.for_node(CFG.node_ips, extra_local=built.local_addresses, ipsets=built.ipsets)
    steps = built.engine.run("INPUT", Packet(POD, "10.0.0.12", 40000, 80, "tcp"), ctx)
    assert [s.verdict for s in steps] == ["IPVS"] * 3
    first = steps[0]
    ipvsadm = [l for l in first.lines if l.tool == "ipvsadm"]
    assert [(l.where, l.text) for l in ipvsadm] == [
        ("TCP  10.0.0.12:80", "TCP  10.0.0.12:80 rr"),
        ("TCP  10.0.0.12:80", "  -> 10.244.1.8:8080              Masq    1      0          0")]
    assert first.note == "IPVS virtual server TCP  10.0.0.12:80 -> real server 10.244.1.8:8080 (scheduler rr, Masq)"
    assert (str(first.packet.dst), first.packet.dport, "DNAT" in first.packet.ctstate) == ("10.244.1.8", 8080, True)
    # After IPVS, ip_vs_nat_xmit sends the packet through LOCAL_OUT: filter OUTPUT sees it.
    assert [l.where for l in first.lines if l.tool == "iptables"][-2:] == ["filter OUTPUT", "filter OUTPUT"]


def test_node_to_cluster_ip_is_scheduled_at_local_out_and_masqueraded_with_a_detector():
    flow = trace(NODE_IP, "10.0.0.12", 80)
    assert (flow.verdict, flow.endpoints, flow.masquerade) == ("DNAT", ALL_EPS, True)
    assert flow.branches[0].hooks == ("nat OUTPUT", "filter OUTPUT", "nat POSTROUTING")


def test_node_and_off_cluster_sources_are_masqueraded_only_with_a_detector():
    assert trace(NODE_IP, "10.0.0.12", 80, cfg=NO_DETECTOR).masquerade is False
    assert trace(OFF_CLUSTER, "10.0.0.12", 80).masquerade is True
    assert trace(OFF_CLUSTER, "10.0.0.12", 80, cfg=NO_DETECTOR).masquerade is False


def test_without_a_detector_node_traffic_from_a_vip_source_is_masqueraded():
    # The local route to a VIP has "src <VIP>", so a node process that binds nothing uses
    # the VIP as source: KUBE-CLUSTER-IP "src,dst" (source VIP, destination port) catches it.
    flow = trace("10.0.0.13", "10.0.0.13", 80, cfg=NO_DETECTOR)
    assert flow.masquerade is True
    assert any("--match-set KUBE-CLUSTER-IP src,dst -j KUBE-MARK-MASQ" in l for l in flow.branches[0].lines)
    assert trace(NODE_IP, "10.0.0.13", 80, cfg=NO_DETECTOR).masquerade is False


def test_masquerade_all_masquerades_pod_traffic_too():
    cfg = kp.ProxyConfig(node_name="node-a", node_ips=[NODE_IP], cluster_cidr="10.244.0.0/16", masquerade_all=True)
    assert trace(POD, "10.0.0.12", 80, cfg=cfg).masquerade is True


def test_hairpin_through_the_vip_is_masqueraded_by_the_loop_back_set():
    flow = trace("10.244.1.8", "10.0.0.12", 80)
    by_endpoint = {b.endpoint: b.masquerade for b in flow.branches}
    assert by_endpoint == {LOCAL_EP: True, REMOTE_EPS[0]: False, REMOTE_EPS[1]: False}
    hairpin = next(b for b in flow.branches if b.endpoint == LOCAL_EP)
    assert any("--match-set KUBE-LOOP-BACK dst,dst,src -j MASQUERADE" in l for l in hairpin.lines)


def test_virtual_server_without_real_servers_answers_port_unreachable():
    flow = trace(POD, "10.0.0.12", 80, slices=[])
    assert (flow.verdict, flow.endpoints) == ("REJECT", ())
    assert flow.branches[0].lines[-1] == "TCP  10.0.0.12:80 rr"
    assert flow.branches[0].hooks == ("nat PREROUTING", "filter INPUT")
    assert trace(NODE_IP, "10.0.0.12", 80, slices=[]).verdict == "REJECT"
    assert trace(OUTSIDE, "20.1.2.3", 80, services=[LB], slices=[]).verdict == "REJECT"
    assert trace(OUTSIDE, NODE_IP, 30082, services=[LB], slices=[]).verdict == "REJECT"


def test_cluster_ip_on_a_port_that_is_no_service_port_is_rejected_by_kube_ipvs_filter():
    flow = trace(POD, "10.0.0.12", 8443)
    assert flow.verdict == "REJECT"
    assert flow.branches[0].lines[-1].endswith("-m set --match-set KUBE-IPVS-IPS dst -j REJECT")
    assert trace(POD, "10.0.0.12", 8443, mode="iptables").verdict == "ACCEPT"  # iptables mode routes it on


def test_not_ready_endpoints_are_not_real_servers_but_serving_terminating_ones_are_when_none_is_ready():
    slices = [slice_for("web", endpoints=(("10.244.2.9", "node-b"),)),
              {**slice_for("web", endpoints=(("10.244.3.4", "node-c"),), ready=False),
               "metadata": {"name": "web-2", "namespace": "shop", "labels": {"kubernetes.io/service-name": "web"}}}]
    assert trace(POD, "10.0.0.12", 80, services=[CLUSTER_IP], slices=slices).endpoints == ("10.244.2.9:8080",)
    terminating = [slice_for("web", endpoints=(("10.244.2.9", "node-b"),), ready=False, serving=True, terminating=True)]
    assert trace(POD, "10.0.0.12", 80, services=[CLUSTER_IP], slices=terminating).endpoints == ("10.244.2.9:8080",)


def test_external_to_node_port_with_cluster_policy_is_masqueraded_to_any_endpoint():
    flow = trace(OUTSIDE, NODE_IP, 30080)
    assert (flow.verdict, flow.endpoints, flow.masquerade) == ("DNAT", ALL_EPS, True)
    assert any("KUBE-NODE-PORT-TCP dst -j KUBE-MARK-MASQ" in l for l in flow.branches[0].lines)


def test_external_to_node_port_with_local_policy_keeps_the_source_and_stays_local():
    flow = trace(OUTSIDE, NODE_IP, 30081)
    assert (flow.verdict, flow.endpoints, flow.masquerade) == ("DNAT", (LOCAL_EP,), False)
    assert any("KUBE-NODE-PORT-LOCAL-TCP dst -j RETURN" in l for l in flow.branches[0].lines)


def test_external_to_load_balancer_cluster_and_local_policies():
    assert (trace(OUTSIDE, "20.1.2.3", 80).endpoints, trace(OUTSIDE, "20.1.2.3", 80).masquerade) == (ALL_EPS, True)
    local = trace(OUTSIDE, "20.1.2.4", 80)
    assert (local.endpoints, local.masquerade) == ((LOCAL_EP,), False)


def test_external_ip_with_cluster_policy_is_masqueraded():
    ext = shop("ext", clusterIP="10.0.0.18", externalIPs=["192.168.99.33"], ports=[{"port": 80}])
    flow = trace(OUTSIDE, "192.168.99.33", 80, services=[ext], slices=[slice_for("ext")])
    assert (flow.verdict, flow.endpoints, flow.masquerade) == ("DNAT", ALL_EPS, True)


def test_health_check_node_port_is_accepted_in_filter():
    flow = trace(OUTSIDE, NODE_IP, 32000)
    assert flow.verdict == "ACCEPT"
    assert flow.branches[0].lines[-1].endswith("--match-set KUBE-HEALTH-CHECK-NODE-PORT dst -j ACCEPT")


def test_allowed_source_range_reaches_the_endpoints_and_others_are_dropped():
    assert trace(OUTSIDE, "20.1.2.5", 80, services=[LB_RANGES], slices=[slice_for("lbr")]).endpoints == ALL_EPS
    flow = trace("198.51.100.7", "20.1.2.5", 80, services=[LB_RANGES], slices=[slice_for("lbr")])
    assert (flow.verdict, flow.endpoints) == ("DROP", ())
    assert flow.branches[0].lines[-1] == "-A KUBE-SOURCE-RANGES-FIREWALL -j DROP"
    assert trace("198.51.100.7", NODE_IP, 30084, services=[LB_RANGES], slices=[slice_for("lbr")]).verdict == "DNAT"


def test_node_using_the_lb_vip_as_source_is_dropped_by_kube_ipvs_out_filter():
    flow = trace("20.1.2.5", "20.1.2.5", 80, services=[LB_RANGES], slices=[slice_for("lbr")])
    assert flow.verdict == "DROP"
    assert flow.branches[0].lines[-1] == \
        "-A KUBE-IPVS-OUT-FILTER -s 20.1.2.5 -m ipvs --vaddr 20.1.2.5 --vproto tcp --vport 80 -j DROP"
    # The rule is for that virtual server only: the same source to another port is not dropped.
    other = shop("other", type="LoadBalancer", clusterIP="10.0.0.21", ports=[{"port": 443, "nodePort": 30443}],
                 status={"loadBalancer": {"ingress": [{"ip": "20.1.2.5"}]}})
    flow = trace("20.1.2.5", "20.1.2.5", 443, services=[LB_RANGES, other], slices=[slice_for("lbr"), slice_for("other")])
    assert flow.verdict == "DNAT"


def test_fresh_client_with_client_ip_affinity_is_load_balanced_and_a_known_one_is_not():
    sticky = shop("sticky", clusterIP="10.0.0.20", sessionAffinity="ClientIP", ports=[{"port": 80}])
    fresh = trace(POD, "10.0.0.20", 80, services=[sticky], slices=[slice_for("sticky")])
    assert fresh.endpoints == ALL_EPS and len(fresh.branches) == 3
    known = trace(POD, "10.0.0.20", 80, services=[sticky], slices=[slice_for("sticky")], affinity=REMOTE_EPS[1])
    assert [(b.endpoint, b.probability) for b in known.branches] == [(REMOTE_EPS[1], 1.0)]
    assert "TCP  10.0.0.20:80 rr persistent 10800" in known.branches[0].lines
    with pytest.raises(NotFoundError, match="10.244.9.9:8080"):
        trace(POD, "10.0.0.20", 80, services=[sticky], slices=[slice_for("sticky")], affinity="10.244.9.9:8080")


def test_traffic_to_a_non_service_address_is_left_alone_and_udp_matches_udp_only():
    assert trace(POD, "10.244.2.9", 8080).verdict == "ACCEPT"
    dns = shop("dns", clusterIP="10.0.0.10", ports=[{"port": 53, "protocol": "UDP"}])
    dns_slice = slice_for("dns", port=53, protocol="UDP")
    assert trace(POD, "10.0.0.10", 53, services=[dns], slices=[dns_slice], protocol="udp").verdict == "DNAT"
    assert trace(POD, "10.0.0.10", 53, services=[dns], slices=[dns_slice], protocol="tcp").verdict == "REJECT"


def test_endpoint_on_the_node_itself_is_delivered_after_ipvs():
    api = svc("kubernetes", clusterIP="10.0.0.1", ports=[{"name": "https", "port": 443}])
    host = eps("kubernetes", [(NODE_IP, "node-a")], 6443, "https")
    flow = trace(POD, "10.0.0.1", 443, services=[api], slices=[host])
    assert flow.endpoints == (f"{NODE_IP}:6443",)
    assert flow.branches[0].hooks == ("nat PREROUTING", "filter INPUT", "filter INPUT")


def test_every_traced_line_can_be_found_in_the_printed_texts():
    printed = {l.removeprefix("# ") for l in kp.render("ipvs", SERVICES, SLICES, CFG, form="restore").splitlines()}
    printed |= {l.rstrip() for l in kp.render("ipvs", SERVICES, SLICES, CFG).splitlines()}
    for source, destination, port in [(POD, "10.0.0.12", 80), (NODE_IP, NODE_IP, 30081), (OUTSIDE, "20.1.2.4", 80),
                                      ("10.244.1.8", "10.0.0.12", 80), (POD, "10.0.0.12", 81)]:
        for branch in trace(source, destination, port).branches:
            assert set(branch.lines) <= printed


# ---- where IPVS mode truly differs from iptables mode ---------------------------------


def test_difference_pod_to_local_policy_node_port_gets_local_endpoints_only():
    ipvs_flow, ipt_flow = both(POD, NODE_IP, 30081)
    assert ipt_flow.endpoints == ALL_EPS  # iptables: "pod traffic for ... external destinations" short-circuit
    assert (ipvs_flow.endpoints, ipvs_flow.masquerade) == ((LOCAL_EP,), False)


def test_difference_node_to_its_own_local_policy_node_port_is_not_masqueraded():
    ipvs_flow, ipt_flow = both(NODE_IP, NODE_IP, 30081)
    assert (ipt_flow.endpoints, ipt_flow.masquerade) == (ALL_EPS, True)
    assert (ipvs_flow.endpoints, ipvs_flow.masquerade) == ((LOCAL_EP,), False)


def test_difference_pod_to_local_policy_load_balancer_gets_local_endpoints_only():
    ipvs_flow, ipt_flow = both(POD, "20.1.2.4", 80)
    assert ipt_flow.endpoints == ALL_EPS
    assert ipvs_flow.endpoints == (LOCAL_EP,)


def test_difference_local_policy_without_local_endpoint_forwards_external_traffic_unmasqueraded():
    remote = [slice_for("npl", endpoints=THREE[1:])]
    ipvs_flow, ipt_flow = both(OUTSIDE, NODE_IP, 30081, services=[NODE_PORT_LOCAL], slices=remote)
    assert ipt_flow.verdict == "DROP"
    assert (ipvs_flow.verdict, ipvs_flow.endpoints, ipvs_flow.masquerade) == ("DNAT", REMOTE_EPS, False)


def test_difference_internal_local_policy_without_local_endpoint_is_rejected_not_dropped():
    itp = shop("itp", clusterIP="10.0.0.17", internalTrafficPolicy="Local", ports=[{"port": 80}])
    remote = [slice_for("itp", endpoints=THREE[1:])]
    ipvs_flow, ipt_flow = both(POD, "10.0.0.17", 80, services=[itp], slices=remote)
    assert (ipt_flow.verdict, ipvs_flow.verdict) == ("DROP", "REJECT")
    local = both(POD, "10.0.0.17", 80, services=[itp], slices=[slice_for("itp")])
    assert local[0].endpoints == local[1].endpoints == (LOCAL_EP,)


def test_difference_localhost_node_ports_do_not_exist_in_ipvs_mode():
    ipvs_flow, ipt_flow = both("127.0.0.1", "127.0.0.1", 30080)
    assert ipt_flow.verdict == "DNAT"
    assert ipvs_flow.verdict == "ACCEPT"  # delivered to whatever listens on 127.0.0.1:30080, usually nothing
    assert ipvs_flow.branches[0].lines[1] == "-A KUBE-SERVICES -s 127.0.0.0/8 -j RETURN"


def test_difference_affinity_is_per_virtual_server():
    sticky = shop("sticky", type="NodePort", clusterIP="10.0.0.20", sessionAffinity="ClientIP",
                  ports=[{"port": 80, "nodePort": 30090}])
    sync = ipvs.build([sticky], [slice_for("sticky")], CFG)
    assert sum(vs.persistent for vs in sync.virtual_servers) == 2  # one template table each


# ---- the engine contract ---------------------------------------------------------------


def test_walk_node_reroutes_after_ipvs_and_runs_postrouting():
    from netlab.kubeproxy.modes import engine_for

    built = engine_for("ipvs", SERVICES, SLICES, CFG)
    ctx = Context.for_node(CFG.node_ips, extra_local=built.local_addresses, ipsets=built.ipsets)
    passes = walk_node(built.engine, Packet(OUTSIDE, NODE_IP, 40000, 30080, "tcp"), ctx,
                       lambda p: (ctx.is_local(p.dst), "eth0", ipaddress.ip_address(NODE_IP)), from_node=False)
    assert {p.verdict for p in passes} == {"FORWARD"}
    assert all([h for h, _ in p.hooks] == ["PREROUTING", "INPUT", "POSTROUTING"] for p in passes)
    assert all(str(p.packet.src) == NODE_IP for p in passes)  # masqueraded to the node's address


def test_ipvs_mode_is_listed_and_renders_all_its_forms():
    assert "ipvs" in kp.modes.PROXY_MODES
    for form in ("ipvsadm", "ipset", "iptables", "restore"):
        assert kp.render("ipvs", SERVICES, SLICES, CFG, form=form).endswith("\n")
    with pytest.raises(ConfigError, match="Did you mean 'ipset'"):
        kp.render("ipvs", SERVICES, SLICES, CFG, form="ipsets")
    assert kp.rules("ipvs", [], [], CFG) == ipvs.build([], [], CFG).rules


def test_ipvs_errors_are_netlab_errors():
    with pytest.raises(NetlabError):
        ipvs.check_scheduler("round-robin")


# ---- property: IPVS and iptables agree on endpoints for pods ---------------------------


@st.composite
def random_case(draw):
    kind = draw(st.sampled_from(["ClusterIP", "NodePort", "LoadBalancer"]))
    spec = {"type": kind, "clusterIP": "10.0.0.50", "ports": [{"port": 80}]}
    if kind != "ClusterIP":
        spec["ports"][0]["nodePort"] = 30500  # externalTrafficPolicy Cluster: the modes agree
    elif draw(st.booleans()):
        spec["internalTrafficPolicy"] = "Local"
    if kind == "LoadBalancer":
        spec["status"] = {"loadBalancer": {"ingress": [{"ip": "20.9.9.9"}]}}
    if draw(st.booleans()):
        spec["sessionAffinity"] = "ClientIP"
    n = draw(st.integers(0, 8))
    nodes = draw(st.lists(st.sampled_from(["node-a", "node-b"]), min_size=n, max_size=n))
    ready = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    endpoints = [{"addresses": [f"10.244.{i % 3}.{i + 10}"], "nodeName": node, "conditions": {"ready": r}}
                 for i, (node, r) in enumerate(zip(nodes, ready))]
    slice_obj = {"metadata": {"name": "rnd-1", "namespace": "shop", "labels": {"kubernetes.io/service-name": "rnd"}},
                 "addressType": "IPv4", "endpoints": endpoints,
                 "ports": [{"name": "", "port": 8080, "protocol": "TCP"}]}
    target = draw(st.sampled_from(["cluster"] if kind == "ClusterIP" else
                                  ["cluster", "nodeport"] + (["lb"] if kind == "LoadBalancer" else [])))
    # A pod's packets are handled by its own node's kube-proxy: a source that is an endpoint
    # (hairpin) is an endpoint on this node (IPVS's KUBE-LOOP-BACK lists local endpoints only).
    local_pods = [e["addresses"][0] for e in endpoints if e["nodeName"] == "node-a"]
    source = draw(st.sampled_from([POD, "10.244.2.77", *local_pods]))
    return shop("rnd", **spec), slice_obj, target, source


@settings(max_examples=120, deadline=None, derandomize=True)
@given(random_case())
def test_ipvs_and_iptables_send_pod_traffic_to_the_same_endpoints(case):
    service, slice_obj, target, source = case
    destination, port = {"cluster": ("10.0.0.50", 80), "nodeport": (NODE_IP, 30500), "lb": ("20.9.9.9", 80)}[target]
    flows = [kp.trace_flow(m, [service], [slice_obj], CFG, source=source, destination=destination, port=port)
             for m in ("ipvs", "iptables")]
    assert flows[0].endpoints == flows[1].endpoints
    for flow in flows:
        assert math.isclose(sum(b.probability for b in flow.branches), 1.0, rel_tol=1e-9)
    if flows[0].endpoints:
        # Same masquerade decision for every endpoint (hairpin included), same chances.
        per = [{b.endpoint: (b.masquerade, round(b.probability, 6)) for b in f.branches} for f in flows]
        assert per[0] == per[1]
    else:
        assert {f.verdict.value for f in flows} <= {"REJECT", "DROP"}
