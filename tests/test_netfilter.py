"""The generic iptables rule data, its two printed forms, and the one-packet evaluator."""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netlab.errors import AddressError, ConfigError, NetlabError
from netlab.model.netfilter import (
    AddrType,
    Comment,
    Conntrack,
    Context,
    Destination,
    InInterface,
    IPSet,
    Mark,
    MatchModule,
    NfAcct,
    Packet,
    PhysDev,
    PortOption,
    Protocol,
    Recent,
    Rule,
    Ruleset,
    SetMatch,
    Source,
    Statistic,
    Verdict,
    evaluate,
    format_restore,
    format_save,
    go_hex,
    ip,
    kernel_probability,
    net,
)

POD = "10.244.1.5"
VIP = "10.0.0.12"


def tcp(src=POD, dst=VIP, dport=80, **kw):
    return Packet(src, dst, 40000, dport, "tcp", **kw)


# ---- printing ------------------------------------------------------------------------


def test_restore_form_keeps_the_writers_argument_order():
    rule = Rule("nat", "KUBE-SERVICES",
                (Comment("ns1/svc1:p80 cluster IP"), MatchModule("tcp"), Protocol("tcp"),
                 Destination(ip("172.30.0.41")), PortOption("dport", 80)), "KUBE-SVC-XPGD46QRK7WJZT7O")
    assert format_restore(rule) == (
        '-A KUBE-SERVICES -m comment --comment "ns1/svc1:p80 cluster IP" -m tcp -p tcp '
        "-d 172.30.0.41 --dport 80 -j KUBE-SVC-XPGD46QRK7WJZT7O"
    )
    assert rule.line == format_restore(rule)


def test_save_form_puts_addresses_with_prefix_then_protocol_then_modules():
    rule = Rule("nat", "KUBE-SERVICES",
                (Comment("X cluster IP"), MatchModule("tcp"), Protocol("tcp"),
                 Destination(ip("10.96.0.1")), PortOption("dport", 443)), "KUBE-SVC-X")
    assert format_save(rule) == (
        '-A KUBE-SERVICES -d 10.96.0.1/32 -p tcp -m comment --comment "X cluster IP" -m tcp --dport 443 -j KUBE-SVC-X'
    )


def test_save_form_prints_negated_source_before_destination():
    rule = Rule("nat", "KUBE-SVC-X",
                (Comment("c"), MatchModule("tcp"), Protocol("tcp"), Destination(ip("10.96.0.1")),
                 PortOption("dport", 443), Source(net("10.244.0.0/16"), negate=True)), "KUBE-MARK-MASQ")
    assert format_save(rule).startswith("-A KUBE-SVC-X ! -s 10.244.0.0/16 -d 10.96.0.1/32 -p tcp")


def test_comment_is_bare_in_restore_form_without_spaces_and_always_quoted_in_save_form():
    rule = Rule("nat", "KUBE-SEP-X", (Comment("ns/svc:p"), Source(ip("10.244.0.9"))), "KUBE-MARK-MASQ")
    assert format_restore(rule) == "-A KUBE-SEP-X -m comment --comment ns/svc:p -s 10.244.0.9 -j KUBE-MARK-MASQ"
    assert format_save(rule) == '-A KUBE-SEP-X -s 10.244.0.9/32 -m comment --comment "ns/svc:p" -j KUBE-MARK-MASQ'


def test_comment_quotes_are_escaped():
    rule = Rule("filter", "X", (Comment('say "hi"'),), "ACCEPT")
    assert format_save(rule) == '-A X -m comment --comment "say \\"hi\\"" -j ACCEPT'


def test_dnat_rule_in_save_form_has_protocol_first_and_tcp_module_after_comment():
    rule = Rule("nat", "KUBE-SEP-X", (Comment("ns/svc:p"), MatchModule("tcp"), Protocol("tcp")),
                "DNAT", ("--to-destination", "10.244.2.2:53"))
    assert format_save(rule) == (
        '-A KUBE-SEP-X -p tcp -m comment --comment "ns/svc:p" -m tcp -j DNAT --to-destination 10.244.2.2:53'
    )


@pytest.mark.parametrize(
    ("args", "saved"),
    [
        (("--or-mark", "0x00004000"), "--set-xmark 0x4000/0x4000"),
        (("--xor-mark", "0x00004000"), "--set-xmark 0x4000/0x0"),
        (("--set-mark", "0x1"), "--set-xmark 0x1/0xffffffff"),
    ],
)
def test_kernel_rewrites_mark_targets_as_set_xmark(args, saved):
    assert format_save(Rule("nat", "X", (), "MARK", args)) == f"-A X -j MARK {saved}"


def test_mark_match_prints_go_padding_in_restore_and_shortest_hex_in_save():
    rule = Rule("filter", "KUBE-FORWARD", (Mark(0x4000, 0x4000),), "ACCEPT")
    assert format_restore(rule) == "-A KUBE-FORWARD -m mark --mark 0x00004000/0x00004000 -j ACCEPT"
    assert format_save(rule) == "-A KUBE-FORWARD -m mark --mark 0x4000/0x4000 -j ACCEPT"


def test_go_hex_counts_zero_padding_in_digits_not_including_the_prefix():
    assert go_hex(0x4000) == "0x00004000"
    assert go_hex(1 << 31) == "0x80000000"


def test_reject_gets_its_default_reject_with_in_save_form():
    rule = Rule("filter", "KUBE-SERVICES", (), "REJECT")
    assert format_save(rule) == "-A KUBE-SERVICES -j REJECT --reject-with icmp-port-unreachable"
    assert format_restore(rule) == "-A KUBE-SERVICES -j REJECT"


def test_recent_match_save_form_adds_mask_and_rsource_and_moves_name():
    rcheck = Rule("nat", "KUBE-SVC-X", (Recent("KUBE-SEP-A", "rcheck", 10800, reap=True),), "KUBE-SEP-A")
    assert format_restore(rcheck) == "-A KUBE-SVC-X -m recent --name KUBE-SEP-A --rcheck --seconds 10800 --reap -j KUBE-SEP-A"
    assert format_save(rcheck) == (
        "-A KUBE-SVC-X -m recent --rcheck --seconds 10800 --reap --name KUBE-SEP-A "
        "--mask 255.255.255.255 --rsource -j KUBE-SEP-A"
    )


def test_conntrack_states_print_in_the_kernel_order_in_save_form():
    rule = Rule("filter", "X", (Conntrack(("ESTABLISHED", "RELATED")),), "ACCEPT")
    assert format_save(rule) == "-A X -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT"


def test_rule_without_target_prints_no_jump():
    rule = Rule("nat", "KUBE-FW-X", (Comment("other traffic will be dropped"),))
    assert format_restore(rule) == '-A KUBE-FW-X -m comment --comment "other traffic will be dropped"'


@pytest.mark.parametrize(
    ("written", "printed"),
    [
        ("0.3333333333", "0.33333333349"),
        ("0.5000000000", "0.50000000000"),
        ("0.2000000000", "0.20000000019"),
        ("0.1000000000", "0.10000000009"),
    ],
)
def test_save_form_probability_is_the_kernels_31_bit_fixed_point_value(written, printed):
    assert "%.11f" % kernel_probability(written) == printed
    rule = Rule("nat", "X", (Statistic(written),), "Y")
    assert format_save(rule) == f"-A X -m statistic --mode random --probability {printed} -j Y"


def test_unknown_table_is_rejected_with_a_suggestion():
    with pytest.raises(ConfigError, match="Did you mean 'filter'"):
        Rule("filtr", "INPUT", (), "ACCEPT")


def test_bad_address_says_how_to_write_one():
    with pytest.raises(AddressError, match="four numbers"):
        ip("10.0.0.300")


# ---- evaluation ----------------------------------------------------------------------


def test_builtin_chain_without_rules_ends_with_policy_accept():
    (outcome,) = evaluate((), "filter", "FORWARD", tcp())
    assert outcome.verdict is Verdict.ACCEPT and outcome.rules == ()


def test_policy_can_be_drop():
    ctx = Context(policies=(("filter", "FORWARD", "DROP"),))
    assert evaluate((), "filter", "FORWARD", tcp(), ctx)[0].verdict is Verdict.DROP


def test_jump_returns_to_the_calling_chain_at_its_end():
    rules = (
        Rule("filter", "INPUT", (), "SUB"),
        Rule("filter", "SUB", (Source(ip("1.1.1.1")),), "DROP"),
        Rule("filter", "INPUT", (), "REJECT"),
    )
    (outcome,) = evaluate(rules, "filter", "INPUT", tcp())
    assert outcome.verdict is Verdict.REJECT
    assert [r.chain for r in outcome.rules] == ["INPUT", "INPUT"]


def test_return_leaves_a_user_chain_early():
    rules = (
        Rule("filter", "INPUT", (), "SUB"),
        Rule("filter", "SUB", (), "RETURN"),
        Rule("filter", "SUB", (), "DROP"),
    )
    assert evaluate(rules, "filter", "INPUT", tcp())[0].verdict is Verdict.ACCEPT


def test_goto_does_not_come_back():
    rules = (
        Rule("filter", "INPUT", (), "SUB", goto=True),
        Rule("filter", "INPUT", (), "DROP"),
    )
    assert evaluate(rules, "filter", "INPUT", tcp())[0].verdict is Verdict.ACCEPT


def test_walk_started_in_a_user_chain_can_return():
    assert evaluate((), "nat", "KUBE-SERVICES", tcp())[0].verdict is Verdict.RETURN


def test_mark_or_then_mark_match_then_xor_clears_it():
    rules = (
        Rule("nat", "POSTROUTING", (), "MARK", ("--or-mark", "0x00004000")),
        Rule("nat", "POSTROUTING", (Mark(0x4000, 0x4000, negate=True),), "RETURN"),
        Rule("nat", "POSTROUTING", (), "MARK", ("--xor-mark", "0x00004000")),
        Rule("nat", "POSTROUTING", (), "MASQUERADE"),
    )
    (o,) = evaluate(rules, "nat", "POSTROUTING", tcp(mark=0x1))
    assert o.masqueraded and o.packet.mark == 0x1 and "SNAT" in o.packet.ctstate


def test_masquerade_uses_the_given_outgoing_address():
    ctx = Context(masquerade_address=ip("10.224.0.4"))
    (o,) = evaluate((Rule("nat", "POSTROUTING", (), "MASQUERADE"),), "nat", "POSTROUTING", tcp(), ctx)
    assert o.packet.src == ip("10.224.0.4")


def test_dnat_rewrites_destination_and_sets_the_dnat_ctstate():
    rule = Rule("nat", "PREROUTING", (), "DNAT", ("--to-destination", "10.244.2.7:8080"))
    (o,) = evaluate((rule,), "nat", "PREROUTING", tcp())
    assert (o.packet.dst, o.packet.dport) == (ip("10.244.2.7"), 8080)
    assert "DNAT" in o.packet.ctstate and o.verdict is Verdict.ACCEPT
    assert o.lines == ("-A PREROUTING -j DNAT --to-destination 10.244.2.7:8080",)


def test_conntrack_negation_skips_dnated_packets():
    rule = Rule("filter", "OUTPUT", (Conntrack(("RELATED", "ESTABLISHED", "DNAT"), negate=True),), "DROP")
    assert evaluate((rule,), "filter", "OUTPUT", tcp())[0].verdict is Verdict.DROP
    dnated = tcp(ctstate=frozenset({"NEW", "DNAT"}))
    assert evaluate((rule,), "filter", "OUTPUT", dnated)[0].verdict is Verdict.ACCEPT


def test_addrtype_local_uses_the_nodes_addresses():
    ctx = Context.for_node(["10.224.0.4"])
    rule = Rule("nat", "PREROUTING", (AddrType(dst_type="LOCAL"),), "DROP")
    assert evaluate((rule,), "nat", "PREROUTING", tcp(dst="10.224.0.4"), ctx)[0].verdict is Verdict.DROP
    assert evaluate((rule,), "nat", "PREROUTING", tcp(dst="127.0.0.1"), ctx)[0].verdict is Verdict.DROP
    assert evaluate((rule,), "nat", "PREROUTING", tcp(), ctx)[0].verdict is Verdict.ACCEPT


def test_protocol_module_and_port_must_all_match():
    rule = Rule("nat", "PREROUTING", (MatchModule("udp"), Protocol("udp"), PortOption("dport", 53)), "DROP")
    assert evaluate((rule,), "nat", "PREROUTING", Packet(POD, VIP, 4000, 53, "udp"))[0].verdict is Verdict.DROP
    assert evaluate((rule,), "nat", "PREROUTING", Packet(POD, VIP, 4000, 53, "tcp"))[0].verdict is Verdict.ACCEPT


def test_statistic_match_splits_the_walk_into_both_outcomes():
    rules = (
        Rule("nat", "PREROUTING", (Statistic("0.3333333333"),), "DNAT", ("--to-destination", "10.244.0.1:80")),
        Rule("nat", "PREROUTING", (Statistic("0.5000000000"),), "DNAT", ("--to-destination", "10.244.0.2:80")),
        Rule("nat", "PREROUTING", (), "DNAT", ("--to-destination", "10.244.0.3:80")),
    )
    outcomes = evaluate(rules, "nat", "PREROUTING", tcp())
    assert sorted(str(o.packet.dst) for o in outcomes) == ["10.244.0.1", "10.244.0.2", "10.244.0.3"]
    first = next(o for o in outcomes if str(o.packet.dst) == "10.244.0.1")
    assert first.probability == pytest.approx(kernel_probability("0.3333333333"))
    assert math.isclose(sum(o.probability for o in outcomes), 1.0)


@settings(deadline=None, derandomize=True)
@given(n=st.integers(1, 40))
def test_kube_proxy_style_probabilities_always_sum_to_one(n):
    rules = tuple(
        Rule("nat", "SVC", (Statistic("%0.10f" % (1.0 / (n - i))),) if i < n - 1 else (),
             "DNAT", ("--to-destination", f"10.244.0.{i + 1}:80"))
        for i in range(n)
    )
    outcomes = evaluate(rules, "nat", "SVC", tcp())
    assert len(outcomes) == n
    assert math.isclose(sum(o.probability for o in outcomes), 1.0, rel_tol=1e-12)
    assert all(o.probability == pytest.approx(1.0 / n, rel=1e-6) for o in outcomes)


def test_recent_rcheck_matches_only_a_known_client():
    rules = (
        Rule("nat", "SVC", (Recent("KUBE-SEP-B", "rcheck", 10800, reap=True),), "DNAT",
             ("--to-destination", "10.244.0.2:80")),
        Rule("nat", "SVC", (), "DNAT", ("--to-destination", "10.244.0.1:80")),
    )
    fresh = evaluate(rules, "nat", "SVC", tcp())
    assert [str(o.packet.dst) for o in fresh] == ["10.244.0.1"]
    known = evaluate(rules, "nat", "SVC", tcp(), Context(recent=frozenset({("KUBE-SEP-B", POD)})))
    assert [str(o.packet.dst) for o in known] == ["10.244.0.2"]


def test_recent_set_records_the_client():
    rule = Rule("nat", "SEP", (Recent("KUBE-SEP-B", "set"),), "DNAT", ("--to-destination", "10.244.0.2:80"))
    (o,) = evaluate((rule,), "nat", "SEP", tcp())
    assert o.recent_set == frozenset({("KUBE-SEP-B", ip(POD))})


def test_ipset_match_uses_the_flags_to_pick_packet_fields():
    ctx = Context(ipsets=(IPSet("KUBE-CLUSTER-IP", "hash:ip,port", [(ip(VIP), ("tcp", 80))]),))
    rule = Rule("nat", "KUBE-SERVICES", (SetMatch("KUBE-CLUSTER-IP", ("dst", "dst")),), "ACCEPT")
    assert evaluate((rule,), "nat", "KUBE-SERVICES", tcp(), ctx)[0].verdict is Verdict.ACCEPT
    assert evaluate((rule,), "nat", "KUBE-SERVICES", tcp(dport=81), ctx)[0].verdict is Verdict.RETURN


def test_ipset_net_dimension_matches_by_containment():
    ctx = Context(ipsets=(IPSet("SRC", "hash:ip,port,net", [(ip("20.1.2.3"), ("tcp", 80), net("203.0.113.0/24"))]),))
    rule = Rule("filter", "FW", (SetMatch("SRC", ("dst", "dst", "src")),), "RETURN")
    hit = Packet("203.0.113.9", "20.1.2.3", 4000, 80, "tcp")
    miss = Packet("198.51.100.9", "20.1.2.3", 4000, 80, "tcp")
    rules = (rule, Rule("filter", "FW", (), "DROP"))
    assert evaluate(rules, "filter", "FW", hit, ctx)[0].verdict is Verdict.RETURN
    assert evaluate(rules, "filter", "FW", miss, ctx)[0].verdict is Verdict.DROP


def test_physdev_and_nfacct_matches():
    rule = Rule("filter", "INPUT", (PhysDev(negate=True), NfAcct("counter")), "DROP")
    assert evaluate((rule,), "filter", "INPUT", tcp())[0].verdict is Verdict.DROP
    assert evaluate((rule,), "filter", "INPUT", tcp(), Context(physdev_is_in=True))[0].verdict is Verdict.ACCEPT


def test_interface_match_needs_the_packet_to_name_its_interface():
    rule = Rule("filter", "FORWARD", (InInterface("azv+"),), "ACCEPT")
    assert evaluate((rule,), "filter", "FORWARD", tcp(in_interface="azv12ab"))[0].rules == (rule,)
    with pytest.raises(NetlabError, match="in_interface"):
        evaluate((rule,), "filter", "FORWARD", tcp())


def test_a_jump_loop_is_reported_not_followed_forever():
    rules = (Rule("filter", "INPUT", (), "A"), Rule("filter", "A", (), "B"), Rule("filter", "B", (), "A"))
    with pytest.raises(NetlabError, match="loop"):
        evaluate(rules, "filter", "INPUT", tcp())


def test_ruleset_index_can_be_reused_across_walks():
    rs = Ruleset((Rule("filter", "INPUT", (), "DROP"),))
    assert evaluate(rs, "filter", "INPUT", tcp())[0].verdict is Verdict.DROP
    assert evaluate(rs, "filter", "FORWARD", tcp())[0].verdict is Verdict.ACCEPT


def test_packet_rejects_unknown_protocols_and_ports():
    with pytest.raises(ConfigError, match="Did you mean 'tcp'"):
        Packet(POD, VIP, 1, 80, "tpc")
    with pytest.raises(ConfigError, match="0-65535"):
        Packet(POD, VIP, 1, 70000, "tcp")


def test_outcome_lines_are_the_restore_form_of_the_matched_rules():
    rule = Rule("nat", "PREROUTING", (Comment("kubernetes service portals"),), "KUBE-SERVICES")
    (o,) = evaluate((rule,), "nat", "PREROUTING", tcp())
    assert o.lines == ('-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',)
