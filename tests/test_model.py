"""The model's values: containers, ports, enums."""

import dataclasses

import pytest

import netlab as nl
from netlab.model.types import Plugin, ProxyMode


def test_container_ports_take_numbers_or_container_ports():
    c = nl.Container("web", ports=[80, nl.ContainerPort(443, name="https")])
    assert [(p.port, p.name, p.protocol) for p in c.ports] == [(80, None, "TCP"), (443, "https", "TCP")]


def test_protocols_are_normalised_to_upper_case():
    assert nl.ContainerPort(53, protocol="udp").protocol == "UDP"


def test_values_are_immutable():
    c = nl.Container("web", ports=[80])
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.name = "other"


def test_enums_print_their_value():
    assert str(Plugin.AZURE_CNI) == "azure-cni" and str(ProxyMode.NFTABLES) == "nftables"


@pytest.mark.parametrize("port", [0, 65536, "80", True])
def test_a_port_is_a_number_from_1_to_65535(port):
    with pytest.raises(nl.ConfigError, match="1 to 65535"):
        nl.ContainerPort(port)
