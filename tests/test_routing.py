"""Longest-prefix match and the iproute2 / az / kubectl text formats."""

from ipaddress import IPv4Address as A
from ipaddress import IPv4Network as N

from netlab.model import AzureRoute, Route
from netlab.routing import format_kubectl, format_route, format_table, lookup, sort_routes


def test_longest_prefix_wins():
    table = (Route(N("0.0.0.0/0"), "eth0", via=A("10.0.0.1")), Route(N("10.244.0.0/16"), "x"),
             Route(N("10.244.1.0/24"), "y"))
    assert lookup(table, A("10.244.1.9")).dev == "y"
    assert lookup(table, A("10.244.2.9")).dev == "x"
    assert lookup(table, A("8.8.8.8")).dev == "eth0"


def test_lower_metric_wins_among_equal_prefixes():
    table = (Route(N("0.0.0.0/0"), "a", metric=200), Route(N("0.0.0.0/0"), "b", metric=100))
    assert lookup(table, A("1.1.1.1")).dev == "b"


def test_user_route_beats_system_route_and_invalid_routes_are_skipped():
    table = (AzureRoute("sys", N("10.0.0.0/8"), "None", source="Default"),
             AzureRoute("udr", N("10.0.0.0/8"), "VirtualAppliance", A("10.1.0.4")),
             AzureRoute("off", N("10.1.0.0/16"), "None", source="Default", active=False))
    assert lookup(table, A("10.1.2.3")).name == "udr"


def test_route_format_follows_iproute2_field_order():
    r = Route(N("10.224.0.0/16"), "eth0", proto="kernel", scope="link", src=A("10.224.0.4"), metric=100)
    assert format_route(r) == "10.224.0.0/16 dev eth0 proto kernel scope link src 10.224.0.4 metric 100"
    assert format_route(Route(N("10.0.0.5/32"), "azv1", proto="static")) == "10.0.0.5 dev azv1 proto static"


def test_kernel_lists_routes_by_address_then_prefix():
    rs = sort_routes([Route(N("10.244.0.0/24"), "b"), Route(N("0.0.0.0/0"), "a"), Route(N("10.244.0.0/16"), "c")])
    assert [r.dev for r in rs] == ["a", "c", "b"]


def test_az_table_format():
    assert format_table(("Name", "X"), [("abc", "1")]) == "Name    X\n------  ---\nabc     1"


def test_kubectl_columns_are_padded_by_three_with_minimum_six():
    assert format_kubectl(["NAME", "AGE"], [["dnsutils", "10m"]]) == "NAME       AGE\ndnsutils   10m"
