"""The model against the real kernel: clusters realised in network namespaces (root only).

Every test here creates its own namespaces (``nl<6 hex>-...``) and removes them (the read-only
route-table tests share one realisation per plugin variant). Without
root, Linux, iproute2, iptables, nftables or br_netfilter the module is skipped with the
reason. The bugs the kernel found are fixed and each has a test here; the one open question
(Azure CNI bridge mode, see docs/kernel-check.md) has a strict-xfail test; the scenario and
random-flow tests fail only on a disagreement no known difference explains. The random-flow test runs a
fixed sample of the 200 random flows that covers every plugin variant and kind of flow; the full run is
``python -m netlab.linux check``. Taught in docs/kernel-check.md.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

import netlab as nl

pytestmark = pytest.mark.kernel

from netlab.linux import netns as linux  # noqa: E402 - after the marker, so the skip reason is the first thing read

_missing = linux.missing_requirements("nftables")
if _missing:
    pytest.skip("the kernel check needs " + "; ".join(_missing) + " (the model tests still run)",
                allow_module_level=True)

from netlab.linux import agreement as lc  # noqa: E402
from netlab.linux.netns import Flow  # noqa: E402
from netlab.trace import names  # noqa: E402

MODES = ["iptables", "nftables"]


def _sh(*argv: str) -> str:
    return subprocess.run(list(argv), capture_output=True, text=True).stdout


def _host_state() -> dict[str, str]:
    """What a realisation must leave exactly as it was: the host's routes, rules, links, firewall, sysctls."""
    counters = re.compile(r"\[\d+:\d+\]|counter packets \d+ bytes \d+")
    state = {
        "ip route": _sh("ip", "route", "show", "table", "all"),
        "ip rule": _sh("ip", "rule"),
        "ip link": "\n".join(sorted(line.split()[0] for line in _sh("ip", "-br", "link").splitlines())),
        "iptables-save": counters.sub("", "\n".join(line for line in _sh("iptables-save").splitlines()
                                                     if not line.startswith("#"))),
        "nft list ruleset": counters.sub("", _sh("nft", "list", "ruleset")),
        "ip netns": "\n".join(ns for ns in linux.list_netns() if not linux.NETNS_PATTERN.match(ns)),
    }
    for key in ("net/ipv4/ip_forward", "net/bridge/bridge-nf-call-iptables", "net/ipv4/icmp_ratelimit",
                "net/ipv4/conf/all/route_localnet", "net/ipv4/conf/all/send_redirects"):
        with open(f"/proc/sys/{key}") as fh:
            state[key] = fh.read()
    return state


@pytest.fixture
def kubenet2():
    web = [nl.Container("nginx", ports=[8080])]
    c = (nl.Cluster.aks("kubenet", nodes=2)
         .add_pod("web-0", node=0, labels={"app": "web"}, containers=web)
         .add_pod("client", node=0, containers=[nl.Container("shell", ports=[7000])])
         .add_pod("api-0", node=1, containers=[nl.Container("api", ports=[9000])]))
    return c.add_service("web", selector={"app": "web"}, ports=[{"port": 80, "targetPort": 8080}], type="NodePort")


# ------------------------------------------------------------------ the environment
def test_kernel_support_names_what_is_missing_ipvs_included():
    support = linux.kernel_support()
    for feature in ("statistic", "recent", "comment", "addrtype", "conntrack", "MASQUERADE --random-fully"):
        assert support[feature][0], f"{feature}: {support[feature][1]}"
    ok, why = support["ipvs"]
    if not ok:
        assert "IPVS" in why and "ip_vs" in why
    with pytest.raises(nl.EnvironmentUnavailableError, match="IPVS mode is not realised") as refused:
        linux.require("ipvs")
    assert (why in str(refused.value)) == (not ok)  # what this kernel lacks, when it lacks something


def test_userspace_mode_is_refused_with_the_version_that_removed_it():
    with pytest.raises(nl.EnvironmentUnavailableError, match="1.26"):
        linux.require("userspace")


# ------------------------------------------------------------------ safety
def test_the_hosts_routes_rules_links_and_firewall_are_untouched(kubenet2):
    before = _host_state()
    with linux.realise(kubenet2.with_proxy_mode("nftables")) as lab:
        lab.probe([Flow("client", "web"), Flow("client", "internet", port=443)])
        during = linux.list_netns()
    after = _host_state()
    assert after == before
    assert any(ns.startswith(lab.prefix + "-") for ns in during)
    assert not [ns for ns in linux.list_netns() if ns.startswith(lab.prefix + "-")]


def test_an_exception_in_the_with_block_still_removes_everything(kubenet2):
    with pytest.raises(RuntimeError):
        with linux.realise(kubenet2) as lab:
            raise RuntimeError("boom")
    assert not [ns for ns in linux.list_netns() if ns.startswith(lab.prefix + "-")]
    assert all(p.poll() is not None for p in lab._procs)


_HOLD = """
import sys, time
import netlab as nl
from netlab import linux
c = nl.Cluster.aks("kubenet", nodes=2).add_pod("a", containers=[nl.Container("x", [80])])
with linux.realise(c, prefix=sys.argv[1], server_seconds=60):
    print("up", flush=True)
    time.sleep(60)
"""


def _hold(prefix: str) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", _HOLD, prefix], stdout=subprocess.PIPE, text=True,
                            cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    assert proc.stdout is not None and proc.stdout.readline().strip() == "up"
    return proc


def _ours(prefix: str) -> list[str]:
    return [ns for ns in linux.list_netns() if ns.startswith(prefix + "-")]


def test_sigterm_removes_everything():
    prefix = linux.new_prefix()
    proc = _hold(prefix)
    assert _ours(prefix)
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=30)
    assert not _ours(prefix)


def test_cleanup_command_removes_what_a_killed_run_left():
    prefix = linux.new_prefix()
    proc = _hold(prefix)
    proc.kill()  # SIGKILL: no handler runs, the namespaces stay
    proc.wait(timeout=10)
    left = _ours(prefix)
    assert len(left) >= 5
    out = subprocess.run([sys.executable, "-m", "netlab.linux", "cleanup", "--prefix", prefix],
                         capture_output=True, text=True, check=True).stdout
    assert f"removed {len(left)} namespace(s)" in out
    assert not _ours(prefix)


# ------------------------------------------------------------------ the realisation is the model's
@pytest.fixture(scope="module")
def two_nodes():
    """``two_nodes(variant)``: pod ``a`` on node 0 and ``b`` on node 1, realised without probe servers once
    per plugin variant for the tests that only read its tables (nothing sends traffic through it)."""
    labs: dict[str, tuple[nl.Cluster, linux.LinuxCluster]] = {}

    def get(variant: str):
        if variant not in labs:
            c = lc.with_variant(nl.Cluster.aks("kubenet", nodes=2).add_pod("a").add_pod("b", node=1), variant)
            lab = linux.realise(c, servers=False)
            lab.start()
            labs[variant] = (c, lab)
        return labs[variant]

    try:
        yield get
    finally:
        for _, lab in labs.values():
            lab.close()


@pytest.mark.parametrize("variant", lc.VARIANTS)
def test_ip_route_in_a_node_and_a_pod_prints_as_the_model_prints_it(two_nodes, variant):
    c, lab = two_nodes(variant)
    for what, model in ((0, c.nodes[0].ip_route()), ("a", c.pods["a"].ip_route())):
        kernel = "\n".join(line.rstrip() for line in lab.ip_route(what).splitlines())
        assert kernel == model


@pytest.mark.parametrize("variant", lc.VARIANTS)
def test_the_local_routing_table_prints_as_the_model_prints_it(two_nodes, variant):
    """``ip route show table local``: the table every 'local ...' line a trace cites comes from."""
    c, lab = two_nodes(variant)
    for what, on in ((0, 0), (1, 1), ("a", "a")):
        kernel = "\n".join(line.rstrip() for line in lab.run(what, "ip", "route", "show", "table", "local").splitlines())
        assert kernel == c.run("ip route show table local", on=on), (variant, what)


def test_the_bridge_forwarding_database_after_traffic_is_the_models():
    """``bridge fdb show br cbr0`` once the pods have talked: the MACs cbr0 learned on each port (the lines a
    trace's bridge hops cite), the ports' own addresses and the multicast groups. The kernel dumps its hash
    table in its own order, so the entries are compared as a set."""
    web = [nl.Container("w", ports=[80])]
    c = nl.Cluster.aks("kubenet", nodes=1).add_pod("a", containers=web).add_pod("b", containers=web)
    with linux.realise(c) as lab:
        assert [o.status for o in lab.probe([linux.Flow("a", "b", 80), linux.Flow("b", "a", 80)])] == ["answered"] * 2
        kernel = {line.strip() for line in lab.run(0, "bridge", "fdb", "show", "br", "cbr0").splitlines()}
    model = c.run("bridge fdb show br cbr0", on=0).splitlines()
    assert kernel == set(model) and len(model) == len(kernel)
    hop = next(h for h in c.trace("a", "b").hops if h.decided_by.command == "bridge fdb show br cbr0")
    assert hop.decided_by.text in kernel


@pytest.mark.parametrize("variant", lc.VARIANTS)
def test_interfaces_have_the_models_names_macs_addresses_and_masters(variant):
    import json

    c = lc.with_variant(nl.Cluster.aks("kubenet", nodes=1).add_pod("a").add_pod("b"), variant)
    with linux.realise(c, servers=False) as lab:
        for what, model in ((0, c.nodes[0].interfaces), ("a", c.pods["a"].interfaces)):
            kernel = {i["ifname"]: i for i in json.loads(lab.run(what, "ip", "-j", "addr"))}
            for f in model:
                k = kernel[f.name]
                assert k["address"] == f.mac, f.name
                assert k.get("master") == f.master, f.name
                got = sorted(f"{a['local']}/{a['prefixlen']}" for a in k["addr_info"] if a["family"] == "inet")
                assert got == sorted(str(a) for a in f.addresses), f.name


@pytest.mark.parametrize("mode", MODES)
def test_the_kernel_prints_back_the_rules_the_model_says_it_holds(kubenet2, mode):
    c = kubenet2.with_proxy_mode(mode)
    counters = re.compile(r"\[\d+:\d+\]")
    with linux.realise(c, servers=False) as lab:
        for n in range(c.node_count):
            kernel = [counters.sub("[0:0]", line) for line in lab.iptables_save(n).splitlines() if not line.startswith("#")]
            model = [line for line in c.nodes[n].iptables_save().splitlines() if not line.startswith("#")]
            assert kernel == model
            if mode == "nftables":
                kernel_nft = lab.run(n, "nft", "list", "table", "ip", "kube-proxy").rstrip("\n")
                assert kernel_nft == c.nodes[n].nft_list().rstrip("\n")


# ------------------------------------------------------------------ flows: model and kernel agree
def test_a_service_without_endpoints_is_refused_at_once(kubenet2):
    c = kubenet2.add_service("nobody", selector={"app": "nothing"}, ports=[80])
    with linux.realise(c) as lab:
        (obs,) = lab.probe([Flow("client", "nobody")], timeout=2)
    assert obs.status == "refused"  # not "timeout": the REJECT's ICMP came back
    assert lc.compare(c, obs).agreed


def test_localhost_is_reached_from_127_0_0_1(kubenet2):
    with linux.realise(kubenet2) as lab:
        (k,) = lab.check([Flow("client", "localhost", port=7000)])
    assert k.kernel.peer[0] == "127.0.0.1"
    assert k.agreed, str(k)


def _check_all(cases: list[lc.Case], workers: int = 4) -> lc.Report:
    """``lc.check_case`` for every case, ``workers`` of them realised at a time.

    Each case has its own namespaces (its own run prefix) and its own probe server, so cases do not
    see each other; running a few at once overlaps the second each flow the kernel does not answer
    waits for (most of a case's time) without shortening that wait."""
    report = lc.Report()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for checks in pool.map(lc.check_case, cases):
            report.checks.extend(checks)
    return report


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("variant", lc.VARIANTS)
def test_every_notebook_and_service_scenario_agrees_with_the_kernel(variant, mode):
    report = _check_all(lc.scenarios(variant, mode))
    assert len(report.checks) >= 50
    assert not report.unexplained(), report.table()


def _kind(peer: names.Peer) -> str:
    if peer.kind is names.Kind.SERVICE:
        return f"Service by {peer.frontend.value}"
    return peer.kind.value


def _features(case: lc.Case) -> set[tuple[str, ...]]:
    """What a random case exercises: its plugin variant; per flow, the kinds of source and destination (a
    Service by how it is reached) with the protocol, the destination's kind with the outcome the model
    predicts (answered, refused, no answer), a NodePort's or load balancer's traffic policy, and which
    system Service is called."""
    c = case.cluster
    out = {("plugin variant", lc.variant_of(c))}
    for f in case.flows:
        src, dst = names.source(c, f.src), names.destination(c, f.dst)
        out.add(("flow", _kind(src), _kind(dst), f.protocol))
        out.add(("outcome", _kind(dst), lc.predicted_outcome(f.trace(c))))
        if dst.service is not None:
            spec = dst.service.spec
            if dst.frontend is not names.Frontend.CLUSTER_IP:
                out.add(("traffic policy", _kind(dst), spec.external_traffic_policy.value))
            if spec.name in ("kubernetes", "kube-dns"):
                out.add(("system Service", spec.name))
    return out


def _sample(cases: list[lc.Case]) -> tuple[list[lc.Case], set, set]:
    """The fewest whole random clusters, picked greedily in a fixed order, that exercise every feature
    (:func:`_features`) the full run exercises: ``(sample, features of the sample, features of all)``."""
    features = {case.name: _features(case) for case in cases}
    everything = set().union(*features.values())
    left, picked = set(everything), []
    while left:
        best = max(cases, key=lambda case: len(features[case.name] & left))  # the first of equals: deterministic
        picked.append(best)
        left -= features[best.name]
    return picked, set().union(*(features[case.name] for case in picked)), everything


@pytest.mark.parametrize("mode", MODES)
def test_a_sample_of_the_200_random_flows_covering_every_kind_agrees_with_the_kernel(mode):
    """The 200 random flows of ``python -m netlab.linux check`` (seed 0), sampled: the random clusters that
    together cover every plugin variant and every kind of flow of the full run (about 80 flows on 8 of its
    20 clusters). The full 200-flow run per mode is ``python -m netlab.linux check --random 200``
    (docs/kernel-check.md gives its last result)."""
    cases = lc.random_cases(seed=0, flows_total=200, mode=mode)
    sample, covered, everything = _sample(cases)
    assert covered == everything
    assert {lc.variant_of(case.cluster) for case in sample} == set(lc.VARIANTS)
    report = _check_all(sample)
    assert len(report.checks) == sum(len(case.flows) for case in sample) >= 50
    assert not report.unexplained(), report.table()
    print(f"{len(sample)} of {len(cases)} random clusters, {len(everything)} features\n" + report.table(details=False))


# ------------------------------------------------------------------ what the kernel found (two bugs, now fixed; one open)
def _one(c, flow):
    with linux.realise(c) as lab:
        (k,) = lab.check([flow], timeout=1.5)
    return k


@pytest.mark.parametrize("variant", ["kubenet", "none"])
def test_a_node_reaching_a_pod_on_its_bridge_is_seen_from_the_bridge_address(kubenet2, variant):
    c = lc.with_variant(kubenet2, variant)
    k = _one(c, Flow(c.nodes[0].name, "web-0", port=8080))
    assert k.agreed, str(k)


@pytest.mark.parametrize("variant", ["kubenet", "none", "azure-cni-bridge"])
def test_a_services_reply_switched_on_the_clients_bridge_is_un_dnatted(kubenet2, variant):
    c = lc.with_variant(kubenet2, variant)  # web-0, the only endpoint, shares node 0 with the client
    k = _one(c, Flow("client", "web"))
    assert k.kernel.answered
    assert k.agreed, str(k)


@pytest.mark.xfail(strict=True, reason=str(lc.KNOWN_DIFFERENCES["bridged-dnat-hairpin"]))
def test_bridge_mode_nodeport_to_a_pod_on_another_node(kubenet2):
    c = lc.with_variant(kubenet2, "azure-cni-bridge")
    port = c.services["web"].ports[0].node_port
    k = _one(c, Flow("vnet-vm", f"{c.nodes[1].ip}:{port}"))  # web-0, the only endpoint, is on node 0
    assert k.agreed, str(k)
