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
                 rec.iptables_save):
        assert callable(getattr(module, name)), f"{rec.module}.{name}"
    for view in rec.views.values():
        assert view.form in rec.forms
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
        assert (rules == ()) == (not modes.record(mode).iptables_rules)
    assert [m for m in modes.PROXY_MODES if not modes.record(m).iptables_rules] == ["nftables"]


def test_a_node_view_of_another_mode_says_which_mode_shows_it():
    c = nl.Cluster.aks("kubenet").add_pod("web-0")
    assert c.nodes[0].ipvsadm() == ("(ipvsadm -Ln: kube-proxy on this node runs in iptables mode, not ipvs mode; "
                                    "cluster.with_proxy_mode('ipvs') shows it)")
    assert c.nodes[0].kube_proxy_ports().startswith("(kube-proxy's proxy ports: kube-proxy on this node runs in "
                                                    "iptables mode, not userspace mode")
    for mode, rec in modes.MODES.items():
        node = c.with_proxy_mode(mode).nodes[0]
        for method, view in rec.views.items():
            shown = rec.render(c.with_proxy_mode(mode).node_proxy(0).extra, view.form).rstrip("\n")
            assert getattr(node, method)() == shown
            if view.command is not None:
                assert c.with_proxy_mode(mode).run(view.command, on=node.name) == shown


@pytest.mark.parametrize("mode", modes.PROXY_MODES)
def test_affinity_entries_name_the_unknown_endpoint_in_every_mode(mode):
    built = modes.engine_for(mode, [SVC], [EPS], CFG)
    assert built.affinity_entries("10.244.0.5", ["10.244.1.9:8080"])
    with pytest.raises(nl.NotFoundError, match=r"affinity endpoint '10.244.1.9:8081' is not .*from .*\. Did you mean '10.244.1.9:8080'\?"):
        built.affinity_entries("10.244.0.5", ["10.244.1.9:8081"])


# The registry's views reach the learner through cluster.run and the kernel check through
# netlab.linux.proxy_rules; pinned text, so a wrong record (a wrong form, a swapped printer) fails.
def _web():
    return (nl.Cluster.aks("kubenet", nodes=2)
            .add_pod("web-0", labels={"app": "web"}, containers=[nl.Container("w", ports=[80])])
            .add_service("web", selector={"app": "web"}, ports=[80]))


@pytest.mark.parametrize("mode, command, first_lines", [
    ("ipvs", "ipvsadm -Ln", ["IP Virtual Server version 1.2.1 (size=4096)", "Prot LocalAddress:Port Scheduler Flags",
                             "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn",
                             "TCP  10.0.0.1:443 rr"]),
    ("ipvs", "ipset list", ["create KUBE-LOOP-BACK hash:ip,port,ip family inet hashsize 1024 maxelem 65536 "
                            "bucketsize 12 initval 0x3fe31004", "add KUBE-LOOP-BACK 10.244.0.2,tcp:80,10.244.0.2"]),
    ("nftables", "nft list table ip kube-proxy", ["table ip kube-proxy {", '\tcomment "rules for kube-proxy"']),
])
def test_cluster_run_prints_each_modes_view_through_the_registry(mode, command, first_lines):
    out = _web().with_proxy_mode(mode).run(command, on=0)
    assert out.splitlines()[:len(first_lines)] == first_lines


def test_userspace_proxy_ports_and_the_kernel_checks_nft_input_come_from_the_registry():
    from netlab.linux import netns

    c = _web()
    assert c.with_proxy_mode("userspace").nodes[0].kube_proxy_ports().splitlines()[:2] == [
        "SERVICE PORT                  PROTOCOL  PROXY SOCKET   PORTALS          ENDPOINTS",
        "default/kubernetes:https      TCP       0.0.0.0:58227  10.0.0.1:443     203.0.113.100:443"]
    assert netns.proxy_rules(c, 0)[1] is None  # iptables mode writes no nftables
    assert netns.proxy_rules(c.with_proxy_mode("nftables"), 0)[1].splitlines()[0] == \
        'add table ip kube-proxy { comment "rules for kube-proxy" ; }'


def test_the_kernel_settings_a_mode_sets_reach_the_realised_node():
    # iptables mode answers NodePorts on 127.0.0.1 (the default) and sets route_localnet for it; nftables
    # mode does not (it never answers on localhost), and nothing outside the mode's module says which.
    from netlab import linux

    c = _web().add_service("np", selector={"app": "web"}, ports=[80], type="NodePort")
    for mode, want in (("iptables", {"net.ipv4.conf.all.route_localnet": "1"}), ("nftables", {})):
        cm = c.with_proxy_mode(mode)
        assert dict(cm.node_proxy(0).sysctls) == want
        node_sysctls = [" ".join(cmd.argv) for cmd in linux.plan(cm).commands() if cmd.what.startswith("sysctls of node")]
        assert len(node_sysctls) == 2
        assert all(("route_localnet" in argv) == bool(want) for argv in node_sysctls)
