"""kube-proxy's chain names: sha256 + base32, first 16 characters (facts sheet section 1.7)."""

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netlab.errors import ConfigError
from netlab.kubeproxy import naming


@pytest.mark.parametrize(
    ("service_port", "protocol", "expected"),
    [
        ("ns1/svc1:p80", "tcp", "XPGD46QRK7WJZT7O"),
        ("ns2/svc2:p80", "tcp", "GNZBNJ2PO5MGZ6GT"),
        ("ns5/svc5:p80", "tcp", "NUKIZ6OKUXPJNT4C"),
        ("default/kubernetes:https", "tcp", "NPX46M4PTMTKRN6Y"),
        ("kube-system/kube-dns:dns", "udp", "TCOU7JCQXEZGVUNU"),
    ],
)
def test_service_chain_hash_matches_the_worked_examples(service_port, protocol, expected):
    assert naming.port_proto_hash(service_port, protocol) == expected
    assert naming.chain_name("KUBE-SVC", service_port, protocol) == f"KUBE-SVC-{expected}"


def test_endpoint_chain_hash_matches_the_worked_example():
    assert naming.endpoint_chain_name("ns1/svc1:p80", "tcp", "10.180.0.1:80") == "KUBE-SEP-SXIVWICOYRO3J4NJ"


def test_svc_svl_ext_and_fw_chains_share_one_hash():
    names = [naming.chain_name(p, "ns1/svc1:p80", "tcp") for p in naming.SERVICE_CHAIN_PREFIXES]
    assert names == [
        "KUBE-SVC-XPGD46QRK7WJZT7O",
        "KUBE-SVL-XPGD46QRK7WJZT7O",
        "KUBE-EXT-XPGD46QRK7WJZT7O",
        "KUBE-FW-XPGD46QRK7WJZT7O",
    ]


def test_service_port_name_drops_the_colon_when_the_port_has_no_name():
    assert naming.service_port_name("ns1", "svc1") == "ns1/svc1"
    assert naming.service_port_name("ns1", "svc1", "p80") == "ns1/svc1:p80"


def test_protocol_is_lowered_before_hashing():
    assert naming.port_proto_hash("ns1/svc1:p80", "TCP") == naming.port_proto_hash("ns1/svc1:p80", "tcp")


def test_protocol_is_part_of_the_hash():
    assert naming.port_proto_hash("ns/dns:dns", "udp") != naming.port_proto_hash("ns/dns:dns", "tcp")


def test_ipv6_endpoints_are_bracketed_like_net_joinhostport():
    assert naming.join_host_port("fd00::1", 53) == "[fd00::1]:53"
    assert naming.join_host_port("10.0.0.1", 53) == "10.0.0.1:53"


def test_unknown_chain_prefix_is_rejected_with_a_suggestion():
    with pytest.raises(ConfigError, match="KUBE-SVC.*Did you mean 'KUBE-SVC'"):
        naming.chain_name("KUBE-SVCX", "ns/a", "tcp")


_names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=63)


@settings(deadline=None, derandomize=True)
@given(ns=_names, name=_names, port=st.one_of(st.just(""), _names), proto=st.sampled_from(["tcp", "udp", "sctp"]))
def test_every_chain_name_fits_iptables_28_character_limit(ns, name, port, proto):
    spn = naming.service_port_name(ns, name, port)
    for prefix in naming.SERVICE_CHAIN_PREFIXES:
        chain = naming.chain_name(prefix, spn, proto)
        assert len(chain) <= naming.MAX_CHAIN_NAME
        assert re.fullmatch(r"KUBE-(SVC|SVL|EXT|FW)-[A-Z2-7]{16}", chain)
    sep = naming.endpoint_chain_name(spn, proto, "10.244.1.5:8080")
    assert len(sep) <= naming.MAX_CHAIN_NAME
    assert re.fullmatch(r"KUBE-SEP-[A-Z2-7]{16}", sep)


@settings(deadline=None, derandomize=True)
@given(a=st.integers(0, 255), b=st.integers(0, 255), port=st.integers(1, 65535))
def test_different_endpoints_get_different_chains(a, b, port):
    one = naming.endpoint_chain_name("ns/web:http", "tcp", f"10.244.{a}.{b}:{port}")
    other = naming.endpoint_chain_name("ns/web:http", "tcp", f"10.244.{a}.{b}:{port % 65535 + 1}")
    assert one != other
