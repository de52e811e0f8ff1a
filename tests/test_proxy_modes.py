"""The registry of kube-proxy's modes (netlab.kubeproxy.modes) is the one place a mode is named:
every ProxyMode has a record, and render, rules, the node views and the kernel check go through it."""

import pytest

import netlab as nl
from netlab import kubeproxy as kp
from netlab.errors import ConfigError
from netlab.kubeproxy import modes
from netlab.model.types import ProxyMode

CFG = kp.ProxyConfig(node_name="node-a", node_ips=["10.224.0.4"], cluster_cidr="10.244.0.0/16")
SVC = {"metadata": {"name": "web", "namespace": "default"},
       "spec": {"clusterIP": "10.0.0.12", "ports": [{"port": 80}], "sessionAffinity": "ClientIP"}}
EPS = {"metadata": {"name": "web-1", "namespace": "default", "labels": {"kubernetes.io/service-name": "web"}},
       "addressType": "IPv4", "ports": [{"name": "", "port": 8080}],
       "endpoints": [{"addresses": ["10.244.1.9"], "nodeName": "node-b"}]}


def test_every_proxy_mode_has_one_record_and_only_those():
    assert {r.mode for r in modes.MODES.values()} == set(ProxyMode)
    assert all(name == r.mode.value for name, r in modes.MODES.items())
    assert modes.PROXY_MODES == ("iptables", "nftables", "ipvs", "userspace")


@pytest.mark.parametrize("mode", modes.PROXY_MODES)
def test_each_record_names_functions_its_module_has(mode):
    rec = modes.record(mode)
    module = rec.load()
    for name in ("build", "built_mode", *(p.function for p in rec.forms.values()),
                 *([rec.iptables_save] if rec.iptables_save else [])):
        assert callable(getattr(module, name)), f"{rec.module}.{name}"
    for form, _tool in rec.views.values():
        assert form in rec.forms
    assert rec.nft_input is None or rec.nft_input in rec.forms


@pytest.mark.parametrize("mode", modes.PROXY_MODES)
def test_render_prints_every_form_through_the_record(mode):
    rec = modes.record(mode)
    for form in rec.forms:
        assert kp.render(mode, [SVC], [EPS], CFG, form=form) == rec.render(rec.build([SVC], [EPS], CFG), form)
    assert kp.render(mode, [SVC], [EPS], CFG) == kp.render(mode, [SVC], [EPS], CFG, form=next(iter(rec.forms)))


def test_a_wrong_form_lists_the_modes_forms():
    with pytest.raises(ConfigError, match=r"ipvs mode prints form 'ipvsadm' \(ipvsadm -Ln\), 'ipset'.*not 'ipsets'\. Did you mean 'ipset'"):
        kp.render("ipvs", [SVC], [EPS], CFG, form="ipsets")


def test_a_wrong_mode_names_the_modes():
    with pytest.raises(ConfigError, match="netlab renders 'iptables', 'nftables', 'ipvs', 'userspace'"):
        modes.record("ipvsx")


def test_rules_are_empty_only_for_the_mode_that_keeps_no_iptables_rules():
    for mode in modes.PROXY_MODES:
        rules = kp.rules(mode, [SVC], [EPS], CFG)
        assert (rules == ()) == (modes.record(mode).iptables_save is None)
    assert [m for m in modes.PROXY_MODES if modes.record(m).iptables_save is None] == ["nftables"]


def test_a_node_view_of_another_mode_says_which_mode_shows_it():
    c = nl.Cluster.aks("kubenet").add_pod("web-0")
    assert c.nodes[0].ipvsadm() == ("(ipvsadm -Ln: kube-proxy on this node runs in iptables mode, not ipvs mode; "
                                    "cluster.with_proxy_mode('ipvs') shows it)")
    assert c.nodes[0].kube_proxy_ports().startswith("(kube-proxy's proxy ports: kube-proxy on this node runs in "
                                                    "iptables mode, not userspace mode")
    for mode, rec in modes.MODES.items():
        node = c.with_proxy_mode(mode).nodes[0]
        for view, (form, _tool) in rec.views.items():
            assert getattr(node, view)() == rec.render(c.with_proxy_mode(mode).node_proxy(0).extra, form).rstrip("\n")


@pytest.mark.parametrize("mode", modes.PROXY_MODES)
def test_affinity_entries_name_the_unknown_endpoint_in_every_mode(mode):
    built = modes.engine_for(mode, [SVC], [EPS], CFG)
    assert built.affinity_entries("10.244.0.5", ["10.244.1.9:8080"])
    with pytest.raises(nl.NotFoundError, match=r"affinity endpoint '10.244.1.9:8081' is not .*from .*\. Did you mean '10.244.1.9:8080'\?"):
        built.affinity_entries("10.244.0.5", ["10.244.1.9:8081"])
