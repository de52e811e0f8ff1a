"""The cost of each proxy mode, counted on rules netlab really renders and evaluates."""

import pytest

import netlab as nl
from netlab.kubeproxy.cost import PUBLISHED, cost_table, proxy_cost


def test_iptables_rules_written_grow_linearly_with_services():
    a, b, c = (proxy_cost("iptables", n, 3).rules_written for n in (10, 20, 40))
    assert b - a == (c - b) / 2  # the same number of rules per added Service
    assert (b - a) / 10 == 11  # KUBE-SERVICES, KUBE-SVC masquerade, 3 x (SVC rule + SEP masq + SEP DNAT)


def test_iptables_packet_cost_grows_with_the_position_in_kube_services():
    small, large = proxy_cost("iptables", 50, 3), proxy_cost("iptables", 500, 3)
    assert large.worst_traversed - small.worst_traversed == 450
    assert large.rules_traversed > 4 * small.rules_traversed


def test_more_endpoints_cost_more_rules_but_not_more_dispatch():
    few, many = proxy_cost("iptables", 20, 2), proxy_cost("iptables", 20, 20)
    assert many.rules_written > few.rules_written
    assert many.worst_traversed - few.worst_traversed <= 20


def test_published_figures_say_whether_they_are_verified():
    assert any(verified for _, _, verified in PUBLISHED) and any(not v for _, _, v in PUBLISHED)


def test_cost_table_covers_modes_and_sizes():
    rows = cost_table(("iptables",), (10, 30))
    assert [(r.mode, r.services) for r in rows] == [("iptables", 10), ("iptables", 30)]


def test_bad_sizes_are_explained():
    with pytest.raises(nl.ConfigError, match="1 to 50,000"):
        proxy_cost("iptables", 0)


# ------------------------------------------------------------------ one Service changes (a partial sync)
from netlab import kubeproxy as kp  # noqa: E402
from netlab.kubeproxy.cost import sync_text, written_lines  # noqa: E402

IPTABLES_UPDATE = """\
# iptables-restore --noflush --counters: a partial sync after bench/svc-00001's endpoints changed (KEP-3453)
*filter
:KUBE-SERVICES - [0:0]
:KUBE-EXTERNAL-SERVICES - [0:0]
:KUBE-FORWARD - [0:0]
:KUBE-NODEPORTS - [0:0]
:KUBE-PROXY-FIREWALL - [0:0]
:KUBE-FIREWALL - [0:0]
-A KUBE-FIREWALL -m comment --comment "block incoming localnet connections" -d 127.0.0.0/8 ! -s 127.0.0.0/8 \
-m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP
-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP
-A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark 0x00004000/0x00004000 -j ACCEPT
-A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate \
RELATED,ESTABLISHED -j ACCEPT
COMMIT
*nat
:KUBE-SERVICES - [0:0]
:KUBE-NODEPORTS - [0:0]
:KUBE-POSTROUTING - [0:0]
:KUBE-MARK-MASQ - [0:0]
:KUBE-SVC-GC4BT7UWOVIMHD3X - [0:0]
:KUBE-SEP-QYZQ46UWVDZ2U5CX - [0:0]
:KUBE-SEP-U574PP7HHHLUVIEB - [0:0]
-A KUBE-POSTROUTING -m mark ! --mark 0x00004000/0x00004000 -j RETURN
-A KUBE-POSTROUTING -j MARK --xor-mark 0x00004000
-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully
-A KUBE-MARK-MASQ -j MARK --or-mark 0x00004000
-A KUBE-SERVICES -m comment --comment "bench/svc-00000 cluster IP" -m tcp -p tcp -d 10.0.1.1 --dport 80 \
-j KUBE-SVC-BNMQGSCILM6LLFW3
-A KUBE-SERVICES -m comment --comment "bench/svc-00001 cluster IP" -m tcp -p tcp -d 10.0.1.2 --dport 80 \
-j KUBE-SVC-GC4BT7UWOVIMHD3X
-A KUBE-SVC-GC4BT7UWOVIMHD3X -m comment --comment "bench/svc-00001 cluster IP" -m tcp -p tcp -d 10.0.1.2 \
--dport 80 ! -s 10.244.0.0/16 -j KUBE-MARK-MASQ
-A KUBE-SVC-GC4BT7UWOVIMHD3X -m comment --comment "bench/svc-00001 -> 10.244.250.2:8080" -j KUBE-SEP-QYZQ46UWVDZ2U5CX
-A KUBE-SEP-QYZQ46UWVDZ2U5CX -m comment --comment bench/svc-00001 -s 10.244.250.2 -j KUBE-MARK-MASQ
-A KUBE-SEP-QYZQ46UWVDZ2U5CX -m comment --comment bench/svc-00001 -m tcp -p tcp -j DNAT \
--to-destination 10.244.250.2:8080
-X KUBE-SEP-U574PP7HHHLUVIEB
-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" \
-m addrtype --dst-type LOCAL -j KUBE-NODEPORTS
COMMIT"""

NFT_UPDATE = """\
# nft -f -: the transaction of a partial sync after bench/svc-00001's endpoints changed
add chain ip kube-proxy endpoint-6A6KSRP2-bench/svc-00001/tcp/__10.244.250.2/8080
flush chain ip kube-proxy endpoint-6A6KSRP2-bench/svc-00001/tcp/__10.244.250.2/8080
add chain ip kube-proxy service-DCVDQ442-bench/svc-00001/tcp/
flush chain ip kube-proxy service-DCVDQ442-bench/svc-00001/tcp/
add rule ip kube-proxy service-DCVDQ442-bench/svc-00001/tcp/ ip daddr 10.0.1.2 ip saddr != 10.244.0.0/16 \
jump mark-for-masquerade
add rule ip kube-proxy service-DCVDQ442-bench/svc-00001/tcp/ numgen random mod 1 vmap \
{ 0 : goto endpoint-6A6KSRP2-bench/svc-00001/tcp/__10.244.250.2/8080 }
add rule ip kube-proxy endpoint-6A6KSRP2-bench/svc-00001/tcp/__10.244.250.2/8080 ip saddr 10.244.250.2 \
jump mark-for-masquerade
add rule ip kube-proxy endpoint-6A6KSRP2-bench/svc-00001/tcp/__10.244.250.2/8080 meta l4proto tcp \
dnat to 10.244.250.2:8080
flush chain ip kube-proxy endpoint-W57KENYR-bench/svc-00001/tcp/__10.244.2.2/8080
# a second later, in a transaction of its own (kernels before 6.2 need the delay):
delete chain ip kube-proxy endpoint-W57KENYR-bench/svc-00001/tcp/__10.244.2.2/8080"""

IPVS_UPDATE_TAIL = """\
# ipset: only the entries that changed (syncIPSetEntries deletes, then adds)
del KUBE-LOOP-BACK 10.244.2.2,tcp:8080,10.244.2.2
add KUBE-LOOP-BACK 10.244.250.2,tcp:8080,10.244.250.2
# ipvsadm-restore syntax: only the real servers (and virtual servers) that changed (syncEndpoint adds, then deletes)
-a -t 10.0.1.2:80 -r 10.244.250.2:8080 -m -w 1
-d -t 10.0.1.2:80 -r 10.244.2.2:8080"""


def test_iptables_partial_sync_keeps_top_level_chains_and_only_the_changed_services_chains():
    assert sync_text("iptables", 2, 1, update=True) == IPTABLES_UPDATE


def test_nftables_partial_sync_writes_only_the_changed_services_chains():
    assert sync_text("nftables", 2, 1, update=True) == NFT_UPDATE


def test_ipvs_partial_sync_changes_one_real_server_and_its_set_entry():
    assert sync_text("ipvs", 2, 1, update=True).endswith(IPVS_UPDATE_TAIL)  # endpoint 0 is on this node: a loop-back entry


def test_the_stale_endpoint_chain_is_the_one_of_the_replaced_endpoint():
    old = kp.endpoint_chain_name(kp.service_port_name("bench", "svc-00001"), "tcp", "10.244.2.2:8080")
    text = sync_text("iptables", 2, 1, update=True)
    assert f":{old} - [0:0]" in text and f"-X {old}" in text


def test_iptables_update_still_writes_every_services_kube_services_rule():
    for n in (10, 40):
        text = sync_text("iptables", n, 3, update=True)
        nat = text.split("*nat")[1]
        assert sum(line.startswith("-A KUBE-SERVICES ") for line in nat.splitlines()) == n + 1  # + the NodePort jump
        services = set(__import__("re").findall(r"bench/svc-\d+", text))
        assert len(services) == n
        per_service = [line for line in nat.splitlines() if line.startswith(("-A KUBE-SVC-", "-A KUBE-SEP-"))]
        assert per_service and all(f"bench/svc-{n // 2:05d}" in line for line in per_service)


def test_iptables_update_grows_by_one_line_per_service_and_nftables_and_ipvs_updates_do_not():
    def update(mode, n):
        return proxy_cost(mode, n, 3).update_written

    assert update("iptables", 20) - update("iptables", 10) == 10
    assert update("iptables", 40) - update("iptables", 20) == 20
    for mode in ("nftables", "ipvs"):
        assert update(mode, 10) == update(mode, 40) == update(mode, 250)
    assert update("userspace", 40) == 0  # endpoints live in kube-proxy's memory


@pytest.mark.parametrize("mode", ["iptables", "nftables", "ipvs", "userspace"])
def test_both_counts_are_the_written_lines_of_the_printed_syncs(mode):
    c = proxy_cost(mode, 30, 3)
    assert c.rules_written == written_lines(sync_text(mode, 30, 3))
    assert c.update_written == written_lines(sync_text(mode, 30, 3, update=True))
    assert c.update_written < c.rules_written


def test_ipvs_full_sync_counts_its_iptables_rules_set_entries_and_servers():
    svcs, slices = __import__("netlab.kubeproxy.cost", fromlist=["_objects"])._objects(20, 3)
    cfg = kp.ProxyConfig(node_name="node-0", node_ips=["10.224.0.4"], cluster_cidr="10.244.0.0/16")
    restore = written_lines(kp.render("ipvs", svcs, slices, cfg, form="restore", with_jumps=False))
    entries = sum(line.startswith("add ") for line in kp.render("ipvs", svcs, slices, cfg, form="ipset").splitlines())
    servers = len(kp.render("ipvs", svcs, slices, cfg, form="ipvsadm").splitlines()) - 3  # minus the header
    assert (restore, entries, servers) == (20, 20 * 3, 20 * (1 + 3))  # fixed rules; ClusterIP, kube-ipvs0, loop-back
    assert proxy_cost("ipvs", 20, 3).rules_written == restore + entries + servers


def test_sync_text_checks_its_arguments():
    with pytest.raises(nl.ConfigError, match="1 to 1,000"):
        sync_text("nftables", 10, 0, update=True)
    with pytest.raises(nl.ConfigError):
        sync_text("nft", 10)
