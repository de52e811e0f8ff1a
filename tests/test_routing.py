"""Longest-prefix match and the iproute2 / az / kubectl text formats."""

from ipaddress import IPv4Address as A
from ipaddress import IPv4Network as N

from netlab.model.types import AzureRoute, Route
from netlab.model.routing import format_kubectl, format_route, format_table, lookup, sort_routes


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


# A long table is looked up through an index by prefix length; it must choose exactly what the
# plain scan chooses, for kernel routes (metrics) and Azure routes (User over Default, Invalid skipped).
from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from netlab.model import routing  # noqa: E402

_nets = st.builds(lambda a, n: N((a, n), strict=False), st.integers(0, 2**32 - 1),
                  st.sampled_from([0, 8, 12, 16, 23, 24, 25, 32]))
_kernel = st.builds(lambda net, dev, metric: Route(net, dev, metric=metric), _nets,
                    st.sampled_from(["eth0", "cbr0", "azure0"]), st.sampled_from([None, 0, 100, 200]))
_azure = st.builds(lambda net, src, active: AzureRoute("r", net, "VnetLocal", source=src, active=active),
                   _nets, st.sampled_from(["User", "Default"]), st.booleans())


@given(st.one_of(st.lists(_kernel, min_size=16, max_size=60), st.lists(_azure, min_size=16, max_size=60)),
       st.lists(st.integers(0, 2**32 - 1), min_size=1, max_size=20))
def test_indexed_lookup_chooses_what_the_scan_chooses(routes, addresses):
    table = tuple(routes)
    for a in addresses + [int(r.dst.network_address if isinstance(r, Route) else r.address_prefix.network_address)
                          for r in table]:
        assert lookup(table, A(a)) == routing._scan(table, A(a))


def test_a_long_table_is_indexed_once_and_not_confused_with_another():
    wide = tuple(Route(N(f"10.244.{i}.0/24"), f"n{i}") for i in range(40))
    other = tuple(Route(N(f"10.244.{i}.0/24"), f"m{i}") for i in range(40))
    assert lookup(wide, A("10.244.7.9")).dev == "n7"
    assert lookup(other, A("10.244.7.9")).dev == "m7"
    assert routing._INDEXES[id(wide)].table is wide
