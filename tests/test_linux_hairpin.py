"""A pod reaching itself through its own Service on kubenet: netlab.model.images against the running kernel.

AKS's kubenet bridge is promiscuous with hairpin off on every port (Azure/AKS issue 5669,
Azure/AgentBaker pull request 8426). The kernel tests realise a one-node kubenet cluster (pod
``web-0`` behind Service ``web``) in network namespaces, connect from ``web-0`` to the Service's
ClusterIP with hairpin off and on, in iptables and nftables modes, and assert what
``images.self_hairpin`` predicts for the node image whose kernel matches the running one
(``images.matching_image()``): the test is the agreement check between the model and the kernel.
They also check that the kernel prints the bridge as the model's views print it. The plan tests
need no kernel.

Measured on Linux 6.18 (matches ubuntu-24.04): hairpin off 0/3 connected in both modes (each
probe times out); hairpin on 3/3 connected, the pod seeing its own connection come from cbr0's
address 10.244.0.1 (kube-proxy masquerades a pod's connection to itself).
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor

import pytest

from netlab.cni import dataplane as cni
from netlab.model import images
from netlab.linux import netns as linux

_missing = linux.missing_requirements("nftables")
_image = images.matching_image()
needs_kernel = pytest.mark.skipif(bool(_missing), reason="the kernel check needs " + "; ".join(_missing)
                                  + " (the model tests still run)")
MODES = ("iptables", "nftables")


def _expected(hairpin_mode: bool) -> bool:
    if _image is None:
        pytest.skip(f"no node image's kernel is known to behave like this one: {linux.self_hairpin_support()[1]}")
    return images.self_hairpin(_image, hairpin_mode=hairpin_mode, promisc=True)[0]


# ------------------------------------------------------------------ the plan (no kernel needed)
@pytest.mark.parametrize("on", [False, True])
def test_the_plan_sets_cbr0_promiscuous_and_each_ports_hairpin_as_the_model_has_it(on):
    c = linux.hairpin_cluster("iptables", hairpin_mode=on)
    text = "".join(cmd.stdin for cmd in linux.plan(c, prefix="nl00abcd").commands())
    assert "link set cbr0 promisc on" in text
    port = cni.host_veth_name(c.config, c.pods["web-0"].pod)
    assert f"link set {port} type bridge_slave hairpin {'on' if on else 'off'}" in text
    assert f"hairpin {'off' if on else 'on'}" not in text


def test_the_plan_keeps_hairpin_on_for_docker0_and_azure0_ports():
    import netlab as nl

    for c in (nl.Cluster.aks("none").add_pod("a"), nl.Cluster.aks("azure-cni", cni_mode="bridge").add_pod("a")):
        text = "".join(cmd.stdin for cmd in linux.plan(c, prefix="nl00abcd").commands())
        assert re.search(r"link set \S+ type bridge_slave hairpin on", text)


def test_the_plan_loads_the_dedup_chain_when_ebtables_is_there_and_says_so_when_not():
    c = linux.hairpin_cluster()
    with_it = linux.plan(c, prefix="nl00abcd", ebtables=True)
    script = [cmd for cmd in with_it.commands() if "ebtables" in " ".join(cmd.argv)]
    assert len(script) == 1 and not with_it.notes
    cmds = script[0].argv[-1].split(" && ")
    assert cmds[0] == "ebtables -t filter -N AKS-DEDUP-PROMISC"
    assert cmds[-1] == "ebtables -t filter -A OUTPUT -j AKS-DEDUP-PROMISC"
    without = linux.plan(c, prefix="nl00abcd", ebtables=False)
    assert not [cmd for cmd in without.commands() if "ebtables" in " ".join(cmd.argv)]
    assert "AKS-DEDUP-PROMISC" in without.notes[0] and "ebtables-nft" in without.notes[0]


def test_the_support_line_names_the_image_the_kernel_matches():
    ok, why = linux.self_hairpin_support("6.8.0-1021-azure")
    assert ok and "ubuntu-24.04" in why and "dropped" in why
    ok, why = linux.self_hairpin_support("6.6.64.2-1.azl3")
    assert ok and "azurelinux-3" in why and "is connected with hairpin off" in why
    assert linux.self_hairpin_support("6.7.1")[0] is False


# ------------------------------------------------------------------ the kernel
@pytest.mark.kernel
@needs_kernel
@pytest.mark.parametrize("hairpin_mode", [False, True], ids=["hairpin-off", "hairpin-on"])
@pytest.mark.parametrize("mode", MODES)
def test_the_kernel_does_what_the_matching_image_predicts(mode, hairpin_mode):
    expected = _expected(hairpin_mode)
    results = linux.measure_self_hairpin(mode, hairpin_mode, tries=3, timeout=2.0)
    statuses = [r["status"] for r in results]
    assert statuses == (["answered"] * 3 if expected else ["timeout"] * 3), (
        f"{_image}: netlab predicts {'connected' if expected else 'a timeout'} with hairpin "
        f"{'on' if hairpin_mode else 'off'} in {mode} mode; the kernel gave {statuses}")
    if expected:
        c = linux.hairpin_cluster(mode, hairpin_mode)
        cbr0 = next(i for i in c.nodes[0].interfaces if i.name == "cbr0").addresses[0].ip
        assert {tuple(r["answer"]["local"]) for r in results} == {(str(c.pods["web-0"].ip), 80)}
        assert {r["answer"]["peer"][0] for r in results} == {str(cbr0)}  # masqueraded to the bridge's address


_TIMER = re.compile(r"(_timer) +\d+\.\d+")
_NETNS = re.compile(r"link-netns \S+")


def _same(text: str) -> str:
    """What the kernel prints, without what differs by moment or by emulation: timers, the peer
    namespace's name, iproute2's trailing spaces."""
    text = _TIMER.sub(r"\1 T", text)
    text = _NETNS.sub("link-netns NS", text)
    return "\n".join(line.rstrip() for line in text.strip().splitlines())


@pytest.mark.kernel
@needs_kernel
@pytest.mark.parametrize("hairpin_mode", [False, True], ids=["hairpin-off", "hairpin-on"])
def test_the_kernel_prints_the_bridge_as_the_models_views_do(hairpin_mode):
    c = linux.hairpin_cluster("iptables", hairpin_mode)
    node = c.nodes[0]
    with linux.realise(c, servers=False) as lab:
        assert _same(lab.run(0, "ip", "-d", "link", "show", "cbr0")) == _same(node.ip_link("cbr0", details=True))
        assert _same(lab.run(0, "ip", "-d", "link", "show", "master", "cbr0")) == _same(
            node.ip_link(master="cbr0", details=True))
        assert _same(lab.run(0, "ip", "link", "show", "cbr0")) == _same(node.ip_link("cbr0"))
        assert _same(lab.run(0, "bridge", "link", "show")) == _same(node.bridge_link())
        assert _same(lab.run(0, "bridge", "-d", "link", "show")) == _same(node.bridge_link(details=True))
        if not any("AKS-DEDUP-PROMISC" in n for n in lab.plan.notes):
            assert _same(lab.run(0, "ebtables", "-t", "filter", "-L")) == _same(node.ebtables())


@pytest.mark.kernel
@pytest.mark.parametrize("mode", ["iptables", "nftables"])
def test_the_kernel_check_agrees_on_the_self_hairpin_flows(mode):
    """The check's self-hairpin scenario on kubenet with AKS's bridge (hairpin off) and with hairpin on: a pod to
    its own Service and to its own node's NodePort time out with hairpin off on a kernel that behaves as 6.8,
    and every flow agrees with the model for the image that matches the running kernel."""
    from netlab.model import images
    from netlab.linux import netns as linux, agreement as lc

    missing = linux.missing_requirements(mode)
    if missing:
        pytest.skip("; ".join(missing))
    matching = images.matching_image()
    if matching is None:
        pytest.skip("this kernel's behaviour for a bridge hairpin is not known to netlab.model.images")
    cases = [k for k in lc.scenarios("kubenet", mode) if k.name.startswith("self-hairpin")]
    with ThreadPoolExecutor(max_workers=len(cases)) as pool:  # realised side by side: their waits for silence overlap
        results = list(pool.map(lc.check_case, cases))
    for case, checks in zip(cases, results):
        assert [c.agreed for c in checks] == [True, True, True], [str(c) for c in checks]
        hairpin_on = case.name.endswith("hairpin on")
        own = [lc.observed_outcome(c.kernel) for c in checks[:2]]
        if hairpin_on or matching.path is images.KernelPath.PASSED_UP:
            assert own == [lc.ANSWERED, lc.ANSWERED]
        else:
            assert own == [lc.SILENT, lc.SILENT]
