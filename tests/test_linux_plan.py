"""The pure parts of the kernel check, tested everywhere (no root, no namespaces, no traffic).

Names, the command plan a realisation would run, the environment messages, the probe's
answer format and the comparison of a model trace with a kernel observation.
"""

from __future__ import annotations

import ipaddress

import pytest

import netlab as nl
from netlab.linux import netns as linux, agreement as lc, probe as linux_probe
from netlab.linux.netns import Flow, Observation
from netlab.trace import names

PREFIX = "nl00abcd"


def _cluster(variant="kubenet", mode="iptables"):
    web = [nl.Container("nginx", ports=[8080])]
    c = (nl.Cluster.aks("kubenet", nodes=2)
         .add_pod("web-0", node=0, labels={"app": "web"}, containers=web)
         .add_pod("client", node=0)
         .add_pod("api-0", node=1, containers=[nl.Container("api", ports=[9000])]))
    c = lc.with_variant(c, variant)
    c = c.add_service("web", selector={"app": "web"}, ports=[{"port": 80, "targetPort": 8080}], type="LoadBalancer")
    return c.with_proxy_mode(mode)


# ------------------------------------------------------------------ names
def test_run_prefixes_are_nl_and_six_hex_digits_and_differ():
    prefixes = {linux.new_prefix() for _ in range(20)}
    assert len(prefixes) == 20 and all(linux.PREFIX_PATTERN.match(p) for p in prefixes)


def test_namespace_names_follow_one_scheme():
    assert linux.node_netns(PREFIX, 3) == "nl00abcd-n3"
    assert linux.pod_netns(PREFIX, 1, 0) == "nl00abcd-p1-0"
    assert linux.host_netns(PREFIX, "internet") == "nl00abcd-inet"
    assert linux.vnet_netns(PREFIX) == "nl00abcd-vnet"


@pytest.mark.parametrize("name", ["nl00abcd-n0", "nl00abcd-p12-3", "nl00abcd-vnet", "nl00abcd-onprem", "nlffffff-chk"])
def test_cleanup_pattern_matches_what_a_run_creates(name):
    assert linux.NETNS_PATTERN.match(name)


@pytest.mark.parametrize("name", ["cni-6620d18f-b440-71c7-c942-5bb48df99dcf", "nl00abc-n0", "nl00abcd-x",
                                  "nl00abcd-n0-extra", "docker", "nl00ABCD-n0"])
def test_cleanup_pattern_leaves_every_other_namespace_alone(name):
    assert not linux.NETNS_PATTERN.match(name)


def test_a_prefix_that_is_not_a_run_prefix_is_refused():
    with pytest.raises(nl.NetlabError, match="'nl' and 6 hex digits"):
        linux.plan(_cluster(), prefix="mine")
    with pytest.raises(nl.NetlabError):
        linux.cleanup(prefix="x")


# ------------------------------------------------------------------ the plan
@pytest.mark.parametrize("variant", lc.VARIANTS)
def test_every_command_acts_inside_a_namespace_of_the_run(variant):
    p = linux.plan(_cluster(variant), prefix=PREFIX)
    mine = set(p.namespaces)
    for cmd in p.commands():
        if cmd.netns is None:
            assert cmd.argv == ("ip", "-batch", "-")
            assert all(line.split()[:2] == ["netns", "add"] and line.split()[2] in mine
                       for line in cmd.stdin.splitlines())
        else:
            assert cmd.netns in mine
            assert cmd.argv[:3] in (("ip", "-n", cmd.netns), ("ip", "netns", "exec")), cmd.argv
            if cmd.argv[:3] == ("ip", "netns", "exec"):
                assert cmd.argv[3] == cmd.netns
            for line in cmd.stdin.splitlines():
                assert not line.startswith("netns"), "namespaces are created in one place only"
                for word in line.split():
                    if word.startswith("nl") and "-" in word and word[:8] == PREFIX:
                        assert word in mine


def test_interface_names_fit_in_15_characters_and_come_from_the_model():
    for variant in lc.VARIANTS:
        c = _cluster(variant)
        p = linux.plan(c, prefix=PREFIX)
        text = "\n".join(cmd.stdin for cmd in p.commands())
        for n in range(c.node_count):
            for f in c.node_dataplane(n).interfaces:
                assert len(f.name) <= 15
                if f.kind == "veth":
                    assert f"link add {f.name} type veth peer name eth0 netns" in text


def _node_batch(p, n=0):
    return next(cmd.stdin for cmd in p.commands() if cmd.netns == linux.node_netns(PREFIX, n)
                and cmd.argv[:2] == ("ip", "-n"))


def _pod_batch(p, key):
    return next(cmd.stdin for cmd in p.commands() if cmd.netns == p.pods[key] and cmd.argv[:2] == ("ip", "-n"))


def _vnet_batch(p):
    return next(cmd.stdin for cmd in p.commands() if cmd.netns == linux.vnet_netns(PREFIX) and cmd.argv[:2] == ("ip", "-n"))


def test_kubenet_nodes_get_cbr0_with_hairpin_ports_and_the_vnet_gets_the_route_table():
    c = _cluster("kubenet")
    p = linux.plan(c, prefix=PREFIX)
    node = _node_batch(p)
    assert "link add cbr0 type bridge" in node and "link set cbr0 promisc on" in node
    veth = c.pod_dataplane(c.pods_on(0)[0]).host_if
    assert f"link set {veth} type bridge_slave hairpin off" in node  # AKS's hairpinMode: false
    vnet = _vnet_batch(p)
    for r in c.route_table():
        assert f"route add {r.address_prefix} via {r.next_hop_ip}" in vnet
    assert "rule add iif n0 lookup 100" in vnet


def test_transparent_pods_get_the_link_local_gateway_as_a_permanent_neighbour():
    c = _cluster("azure-cni")
    p = linux.plan(c, prefix=PREFIX)
    pod = _pod_batch(p, ("default", "web-0"))
    assert "neigh add 169.254.1.1 lladdr aa:aa:aa:aa:aa:aa dev eth0 nud permanent" in pod
    assert "noprefixroute" in pod  # Azure CNI deletes the subnet route in the pod
    sysctl = next(cmd for cmd in p.commands() if cmd.netns == linux.node_netns(PREFIX, 0) and "sh" in cmd.argv)
    assert "proxy_arp" in sysctl.argv[-1] and "ip_forward" in sysctl.argv[-1]
    vnet = _vnet_batch(p)
    web0 = c.pods["web-0"]
    assert f"route add {web0.ip}/32 via {c.nodes[0].ip} dev n0" in vnet  # native delivery


def test_bridge_mode_enslaves_eth0_to_azure0():
    p = linux.plan(_cluster("azure-cni-bridge"), prefix=PREFIX)
    node = _node_batch(p)
    assert "link add azure0 type bridge" in node and "link set eth0 master azure0" in node


def test_overlay_routes_each_nodes_pod_24_to_the_node_for_node_links_only():
    c = _cluster("azure-cni-overlay")
    vnet = _vnet_batch(linux.plan(c, prefix=PREFIX))
    assert f"route add {c.nodes[1].pod_cidr} via {c.nodes[1].ip} dev n1 table 100" in vnet


def test_routes_keep_the_models_proto_scope_src_and_metric():
    r = nl.Cluster.aks("kubenet").nodes[0].routes[0]
    assert linux._route_cmd(r) == "route add default via 10.224.0.1 dev eth0 proto dhcp src 10.224.0.4 metric 100"
    azv = [r for r in nl.Cluster.aks("azure-cni").add_pod("a").nodes[0].routes if r.dev.startswith("azv")][0]
    assert linux._route_cmd(azv).endswith("proto static scope global")


def test_node_rules_are_the_models_iptables_save():
    c = _cluster()
    save, nft = linux.proxy_rules(c, 0)
    assert save == c.nodes[0].iptables_save() + "\n" and nft is None
    p = linux.plan(c, prefix=PREFIX)
    restore = [cmd for cmd in p.commands() if cmd.argv[-1:] == ("iptables-restore",)
               and cmd.netns == linux.node_netns(PREFIX, 0)]
    assert restore[0].stdin == save


def test_nftables_nodes_also_get_kube_proxys_transaction():
    _, nft = linux.proxy_rules(_cluster(mode="nftables"), 0)
    assert nft.startswith("add table ip kube-proxy")


def test_probe_servers_listen_on_what_each_pod_declares():
    p = linux.plan(_cluster(), prefix=PREFIX)
    assert p.servers[p.pods[("default", "web-0")]] == ("pod:default/web-0", (8080,), ())
    assert p.servers[linux.node_netns(PREFIX, 1)] == ("node:1", linux.NODE_PORTS, ())


def test_the_api_servers_public_address_sits_on_the_internet_host():
    c = _cluster()
    inet = next(cmd.stdin for cmd in linux.plan(c, prefix=PREFIX).commands()
                if cmd.netns == linux.host_netns(PREFIX, "internet"))
    assert "addr add 203.0.113.100/32 dev eth0" in inet


# ------------------------------------------------------------------ the environment
def test_without_root_the_error_names_root_and_binder(monkeypatch):
    monkeypatch.setattr(linux.sys, "platform", "linux")
    monkeypatch.setattr(linux.os, "geteuid", lambda: 1000)
    with pytest.raises(nl.EnvironmentUnavailableError, match=r"root .*Binder"):
        linux.require()


def test_a_missing_command_is_named_with_its_package(monkeypatch):
    monkeypatch.setattr(linux.sys, "platform", "linux")
    monkeypatch.setattr(linux, "_netns_works", lambda: True)
    monkeypatch.setattr(linux.shutil, "which", lambda cmd: None if cmd == "nft" else "/usr/sbin/" + cmd)
    assert any("'nft' (package nftables)" in m for m in linux.missing_requirements("nftables"))


def test_not_linux_is_said_plainly(monkeypatch):
    monkeypatch.setattr(linux.sys, "platform", "darwin")
    with pytest.raises(nl.EnvironmentUnavailableError, match="Linux"):
        linux.require()


# ------------------------------------------------------------------ probes
def test_the_answer_line_round_trips():
    line = linux_probe.answer_line("node:1", ("10.224.0.5", 10250), ("10.244.0.2", 20001))
    assert linux_probe.parse_answer(line) == {"name": "node:1", "local": ["10.224.0.5", 10250],
                                              "peer": ["10.244.0.2", 20001]}
    assert linux_probe.parse_answer("garbage") is None


def test_a_batch_is_bounded():
    with pytest.raises(ValueError, match="at most"):
        linux_probe.run_batch([{}] * (linux_probe.MAX_BATCH + 1))


# ------------------------------------------------------------------ comparing
def _obs(flow, status, answerer=None, local=None, peer=None, lb_node=None):
    return Observation(flow, "nl00abcd-x", ("0.0.0.0", 0), status, answerer, local, peer, lb_node)


def test_same_answerer_and_source_agree():
    c = _cluster()
    t = c.trace("client", "api-0", port=9000)
    k = lc.compare(c, _obs(Flow("client", "api-0", port=9000), "answered", "pod:default/api-0",
                           (str(c.pods["api-0"].ip), 9000), (str(t.seen_source), 20001)))
    assert k.agreed and not k.reasons


def test_another_source_address_is_a_disagreement_with_the_reason():
    c = _cluster()
    k = lc.compare(c, _obs(Flow("client", "api-0", port=9000), "answered", "pod:default/api-0",
                           (str(c.pods["api-0"].ip), 9000), ("10.224.0.4", 20001)))
    assert not k.agreed and k.reasons[0].startswith("source seen: the model predicts 10.244.0.3")


def test_a_backend_outside_the_models_endpoints_is_a_disagreement():
    c = _cluster()
    k = lc.compare(c, _obs(Flow("client", "web"), "answered", "pod:default/api-0",
                           (str(c.pods["api-0"].ip), 9000), ("10.244.0.3", 20001)))
    assert not k.agreed and "not among the model's endpoints" in k.reasons[0]


def test_refused_and_silence_are_different_outcomes():
    c = _cluster().add_service("nobody", selector={"app": "nothing"}, ports=[80])
    flow = Flow("client", "nobody")
    assert lc.predicted_outcome(flow.trace(c)) == lc.REFUSED
    assert lc.compare(c, _obs(flow, "refused")).agreed
    k = lc.compare(c, _obs(flow, "timeout"))
    assert not k.agreed and "the model predicts refused" in k.reasons[0]


def test_a_pod_without_a_listener_is_predicted_to_refuse():
    c = _cluster()
    assert lc.predicted_outcome(c.trace("web-0", "client", port=7777)) == lc.REFUSED


def test_a_node_reaching_a_pod_on_its_bridge_is_seen_from_the_bridge_address():
    # the kernel found this: Linux picks the preferred source of the route (cbr0's 10.244.0.1)
    c = _cluster()
    node = c.nodes[0]
    k = lc.compare(c, _obs(Flow(node.name, "web-0", port=8080), "answered", "pod:default/web-0",
                           (str(c.pods["web-0"].ip), 8080), (str(node.pod_cidr.network_address + 1), 20001)))
    assert k.agreed, str(k)


# ------------------------------------------------------------------ scenarios and random flows
def test_scenarios_cover_every_plugin_with_the_notebooks_flows():
    for variant in lc.VARIANTS:
        cases = {case.name: case for case in lc.scenarios(variant)}
        assert {"01-single-pod", "03-multiple-nodes", "05-azure-cni", "07-services", "services"} <= set(cases)
        assert lc.variant_of(cases["services"].cluster) == variant
        notes = " ".join(f.note for f in cases["services"].flows)
        for what in ("ClusterIP from a pod", "ClusterIP from a node", "Cluster policy", "Local policy",
                     "hairpin", "without endpoints", "across nodes", "LoadBalancer"):
            assert what in notes


def test_random_cases_are_deterministic_and_reach_200_flows():
    a = lc.random_cases(seed=7, flows_total=200)
    b = lc.random_cases(seed=7, flows_total=200)
    assert [c.flows for c in a] == [c.flows for c in b]
    assert sum(len(c.flows) for c in a) >= 200
    assert {lc.variant_of(c.cluster) for c in a} == set(lc.VARIANTS)
    for case in a:
        for f in case.flows:
            f.trace(case.cluster)  # every flow is one the model can trace
            ipaddress.IPv4Address(str(names.destination(case.cluster, f.dst).address))
