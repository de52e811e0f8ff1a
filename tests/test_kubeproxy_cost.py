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
