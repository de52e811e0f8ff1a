"""Why a packet is refused or dropped is data (netlab.model.netfilter.Refusal), never the wording of a rule.

kube-proxy's rule builders mark the rules that refuse or drop for one of its reasons; the engines carry the
mark on the deciding line; the trace picks its explanation by it. Each case is traced through a Cluster in
every proxy mode where it exists, and the enum is checked on the very line the trace names.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from types import MappingProxyType

import pytest

import netlab as nl
from netlab.trace import walk as walk_module
from netlab.kubeproxy.engine import Chained, IptablesEngine, walk_node
from netlab.kubeproxy.nft import NftEngine, NftRuleset
from netlab.kubeproxy.nft import Rule as NftRule
from netlab.kubeproxy.nft import Verdict as NftVerdict
from netlab.model.netfilter import Comment, Context, Packet, Refusal, Rule, evaluate, format_restore, format_save

NO_ENDPOINTS = ("the Service has no endpoints (no ready pod matches its selector, or the pods that match declare no "
                "port of the targetPort's name), so kube-proxy REJECTs: the "
                "client gets 'connection refused' at once instead of waiting for a timeout")
NO_LOCAL = ("the Service's traffic policy is Local and this node runs none of its endpoints, so kube-proxy DROPs "
            "the packet (a load balancer's health probe keeps external traffic away from such nodes)")
INVALID_PORT = ("the address is a Service's, but no Service has this port on it: kube-proxy REJECTs new connections "
                "to any other port of a Service address, so the client gets 'connection refused' at once")
NO_ADDRESS = ("REDIRECT sends a packet to the first address of the interface it came in on, and this one has "
              "none (Azure CNI's pod veths carry no IPv4 address), so the kernel drops it")
FIREWALL = "the source is not in the Service's loadBalancerSourceRanges, so kube-proxy's firewall DROPs it"

SENTENCES = {Refusal.NO_ENDPOINTS: NO_ENDPOINTS, Refusal.NO_LOCAL_ENDPOINTS: NO_LOCAL,
             Refusal.INVALID_PORT: INVALID_PORT, Refusal.NO_REDIRECT_ADDRESS: NO_ADDRESS, Refusal.FIREWALL: FIREWALL}


@pytest.fixture(scope="module")
def shop():
    """Three kubenet nodes; web-0 on node 0, web-1 on node 1; clients on nodes 0 and 2; one Service per case."""
    c = nl.Cluster.aks("kubenet", nodes=3)
    web = [nl.Container("nginx", ports=[8080])]
    c = (c.add_pod("web-0", node=0, labels={"app": "web"}, containers=web)
          .add_pod("web-1", node=1, labels={"app": "web"}, containers=web)
          .add_pod("client", node=0).add_pod("client2", node=2))
    to_web = [{"port": 80, "targetPort": 8080}]
    c = c.add_service("web", selector={"app": "web"}, ports=to_web)
    c = c.add_service("empty", selector={"app": "nothing"}, ports=[80])
    c = c.add_service("empty-np", selector={"app": "nothing"}, ports=[80], type="NodePort")
    c = c.add_service("local-np", selector={"app": "web"}, ports=to_web, type="NodePort",
                      external_traffic_policy="Local")
    c = c.add_service("itp-local", selector={"app": "web"}, ports=to_web, internal_traffic_policy="Local")
    return c.add_service("fw", selector={"app": "web"}, ports=to_web, type="LoadBalancer",
                         load_balancer_source_ranges=["203.0.113.0/25"])  # the internet host is outside


@pytest.fixture
def passes(monkeypatch):
    """Every pass the node engines return while a trace runs (a spy on walk_node)."""
    seen: list = []

    def spy(*args, **kwargs):
        out = walk_node(*args, **kwargs)
        seen.extend(out)
        return out

    monkeypatch.setattr(walk_module, "walk_node", spy)  # the walk's own reference: the call site
    return seen


def _node_port(c, service):
    return c.services[service].ports[0].node_port


# name -> (source, destination or a function of the cluster, port)
CASES = {
    "no endpoints (ClusterIP)": ("client", lambda c: "empty", None),
    "no endpoints (NodePort)": ("vnet-vm", lambda c: f"{c.nodes[2].ip}:{_node_port(c, 'empty-np')}", None),
    "no local endpoints (externalTrafficPolicy)": (
        "vnet-vm", lambda c: f"{c.nodes[2].ip}:{_node_port(c, 'local-np')}", None),
    "no local endpoints (internalTrafficPolicy)": ("client2", lambda c: "itp-local", None),
    "a port the Service lacks": ("client", lambda c: "web", 81),
    "loadBalancerSourceRanges": ("internet", lambda c: str(c.services["fw"].load_balancer_ip), None),
}

# (mode, case) -> (verdict, the enum on the deciding line, the explanation); modes where a case is no refusal
# of kube-proxy's are left out: iptables and userspace route a port the Service lacks to Azure; userspace has
# no firewall and no Local policy; IPVS falls back to every endpoint for externalTrafficPolicy Local.
EXPECTED = {
    ("iptables", "no endpoints (ClusterIP)"): ("refused", Refusal.NO_ENDPOINTS, NO_ENDPOINTS),
    ("iptables", "no endpoints (NodePort)"): ("refused", Refusal.NO_ENDPOINTS, NO_ENDPOINTS),
    ("iptables", "no local endpoints (externalTrafficPolicy)"): ("dropped", Refusal.NO_LOCAL_ENDPOINTS, NO_LOCAL),
    ("iptables", "no local endpoints (internalTrafficPolicy)"): ("dropped", Refusal.NO_LOCAL_ENDPOINTS, NO_LOCAL),
    ("iptables", "loadBalancerSourceRanges"): ("dropped", Refusal.FIREWALL, FIREWALL),
    # IPVS refuses for an empty virtual server itself; the Local sentence says DROP, so a REJECT gets none.
    ("ipvs", "no endpoints (ClusterIP)"): ("refused", Refusal.NO_ENDPOINTS, NO_ENDPOINTS),
    ("ipvs", "no endpoints (NodePort)"): ("refused", Refusal.NO_ENDPOINTS, NO_ENDPOINTS),
    ("ipvs", "no local endpoints (internalTrafficPolicy)"): (
        "refused", Refusal.NO_LOCAL_ENDPOINTS, "the packet is refused (REJECT)"),
    ("ipvs", "a port the Service lacks"): ("refused", Refusal.INVALID_PORT, INVALID_PORT),
    ("ipvs", "loadBalancerSourceRanges"): ("dropped", Refusal.FIREWALL, FIREWALL),
    # nftables: the reject-chain rule, a no-endpoint map's element, the firewall chain's drop.
    ("nftables", "no endpoints (ClusterIP)"): ("refused", Refusal.NO_ENDPOINTS, NO_ENDPOINTS),
    ("nftables", "no endpoints (NodePort)"): ("refused", Refusal.NO_ENDPOINTS, NO_ENDPOINTS),
    ("nftables", "no local endpoints (externalTrafficPolicy)"): ("dropped", Refusal.NO_LOCAL_ENDPOINTS, NO_LOCAL),
    ("nftables", "no local endpoints (internalTrafficPolicy)"): ("dropped", Refusal.NO_LOCAL_ENDPOINTS, NO_LOCAL),
    ("nftables", "a port the Service lacks"): ("refused", Refusal.INVALID_PORT, INVALID_PORT),
    ("nftables", "loadBalancerSourceRanges"): ("dropped", Refusal.FIREWALL, FIREWALL),
}


def _deciding_line(trace, seen):
    """The engine's line the trace names as deciding its last hop, from the pass that refused or dropped."""
    text = trace.hops[-1].decided_by.text
    lines = [ps.lines[-1] for ps in seen if ps.verdict in ("DROP", "REJECT") and ps.lines and
             ps.lines[-1].text == text]
    assert lines, f"no refused or dropped pass ends with {text!r}"
    return lines[0]


@pytest.mark.parametrize("mode, case", sorted(EXPECTED))
def test_each_refusal_is_explained_by_the_enum_on_its_deciding_line(shop, passes, mode, case):
    verdict, refusal, sentence = EXPECTED[mode, case]
    src, dst, port = CASES[case]
    c = shop.with_proxy_mode(mode)
    t = c.trace(src, dst(c), port=port)
    assert t.verdict.value == verdict
    line = _deciding_line(t, passes)
    assert line.refusal is refusal
    assert t.reason == f"{sentence}. Rule: {line.text}"


def test_userspace_mode_refuses_in_the_process_and_marks_its_socket(shop, passes):
    t = shop.with_proxy_mode("userspace").trace("client", "empty")
    assert t.verdict is nl.Verdict.REFUSED and "has no endpoints" in t.reason
    proxied = [ps for ps in passes if ps.verdict == "PROXY"]
    rows = [line for ps in proxied for line in ps.lines if line.tool == "kube-proxy" and line.where.startswith("proxy")]
    assert rows and all(row.refusal is Refusal.NO_ENDPOINTS for row in rows)


def test_userspace_redirect_into_an_addressless_veth_is_marked_by_the_evaluator(passes):
    c = nl.Cluster.aks("azure-cni", nodes=2).add_pod("web-0", node=0, labels={"app": "web"},
                                                     containers=[nl.Container("nginx", ports=[8080])])
    c = c.add_pod("client", node=1).add_service("web", selector={"app": "web"},
                                                ports=[{"port": 80, "targetPort": 8080}])
    t = c.with_proxy_mode("userspace").trace("client", "web")
    assert t.verdict is nl.Verdict.DROPPED
    line = _deciding_line(t, passes)
    assert line.refusal is Refusal.NO_REDIRECT_ADDRESS and " -j REDIRECT " in line.text
    assert t.reason == f"{NO_ADDRESS}. Rule: {line.text}"
    # The same REDIRECT rule accepts where the interface has an address: the mark is the evaluator's, not the rule's.
    rule = next(r for r in c.with_proxy_mode("userspace").node_runtime(1)[0].engines[0].sync.rules
                if r.target == "REDIRECT")
    assert rule.refusal is None


# -------------------------------------------------------------------- the wording decides nothing

def _reworded(engine, comment):
    """The engine with every iptables and nft comment replaced by ``comment`` (each rule keeps its refusal)."""
    if isinstance(engine, Chained):
        return Chained(tuple(_reworded(e, comment) for e in engine.engines))
    if isinstance(engine, IptablesEngine):
        return IptablesEngine(tuple(
            dataclasses.replace(r, matches=tuple(Comment(comment) if isinstance(m, Comment) else m for m in r.matches))
            for r in engine.rules))
    if isinstance(engine, NftEngine):
        rs = engine.ruleset
        rules = {chain: tuple(r if r.comment is None else dataclasses.replace(r, comment=comment) for r in rules)
                 for chain, rules in rs.rules.items()}
        elements = {name: tuple(e if e.comment is None else dataclasses.replace(e, comment=comment) for e in held)
                    for name, held in rs.elements.items()}
        return NftEngine(NftRuleset(rs.table, rs.sets, MappingProxyType(elements), rs.chains, MappingProxyType(rules)))
    return engine


@pytest.fixture
def reworded(monkeypatch):
    """Every node's iptables rules with their comments replaced by a sentence that names another reason."""
    original = nl.Cluster.node_runtime

    def node_runtime(self, n):
        engine, ctx, route = original(self, n)
        return _reworded(engine, "default/x has no endpoints firewall"), ctx, route

    monkeypatch.setattr(nl.Cluster, "node_runtime", node_runtime)


@pytest.mark.parametrize("mode, case", [
    ("iptables", "no local endpoints (externalTrafficPolicy)"),
    ("iptables", "no local endpoints (internalTrafficPolicy)"),
    ("iptables", "loadBalancerSourceRanges"), ("iptables", "no endpoints (ClusterIP)"),
    ("nftables", "a port the Service lacks"), ("nftables", "no local endpoints (internalTrafficPolicy)"),
])
def test_a_rules_comment_does_not_change_the_explanation(shop, reworded, mode, case):
    _, _, sentence = EXPECTED[mode, case]
    src, dst, port = CASES[case]
    c = shop.with_proxy_mode(mode)
    t = c.trace(src, dst(c), port=port)
    assert 'comment "default/x has no endpoints firewall"' in t.hops[-1].decided_by.text  # the new wording...
    assert t.reason.startswith(sentence + ". Rule: ")  # ...and the reason its rule carries


def test_a_comment_that_names_a_reason_is_not_one():
    rule = Rule("filter", "KUBE-SERVICES", (Comment("shop/web has no endpoints"),), "REJECT")
    marked = dataclasses.replace(rule, matches=(Comment("anything at all"),), refusal=Refusal.NO_ENDPOINTS)
    packet = Packet("10.244.0.9", "10.0.0.12", 40000, 80, "tcp")
    assert [o.refusal for o in evaluate((rule,), "filter", "KUBE-SERVICES", packet)] == [None]
    assert [o.refusal for o in evaluate((marked,), "filter", "KUBE-SERVICES", packet)] == [Refusal.NO_ENDPOINTS]
    route = lambda p: (False, "eth0", None)  # noqa: E731
    for rules, want in (((rule,), None), ((marked,), Refusal.NO_ENDPOINTS)):
        eng = IptablesEngine((Rule("filter", "FORWARD", (), "KUBE-SERVICES"), *rules))
        (ps,) = walk_node(eng, dataclasses.replace(packet, in_interface="eth0"), Context(), route, from_node=False)
        assert ps.verdict == "REJECT" and ps.lines[-1].refusal is want


# -------------------------------------------------------------------- the enum is beside the text, not in it

def test_the_refusal_changes_no_rule_text_equality_or_repr():
    plain = Rule("filter", "KUBE-PROXY-FIREWALL", (Comment("ns/fw traffic not accepted by KUBE-FW-X"),), "DROP")
    marked = dataclasses.replace(plain, refusal=Refusal.FIREWALL)
    assert marked == plain and hash(marked) == hash(plain) and repr(marked) == repr(plain)
    assert (format_save(marked), format_restore(marked)) == (format_save(plain), format_restore(plain))
    nft_plain = NftRule("cluster-ips-check", (NftVerdict("reject"),), comment="Reject traffic")
    nft_marked = dataclasses.replace(nft_plain, refusal=Refusal.INVALID_PORT)
    assert nft_marked == nft_plain and repr(nft_marked) == repr(nft_plain)
    assert (nft_marked.text(), nft_marked.listed()) == (nft_plain.text(), nft_plain.listed())


def test_redirect_without_an_address_drops_with_its_reason():
    rule = Rule("nat", "PREROUTING", (), "REDIRECT", ("--to-ports", "34934"))
    ctx = Context.for_node(["10.224.0.4"], interface_addresses=(("eth0", ipaddress.ip_address("10.224.0.4")),))
    packet = Packet("10.224.0.9", "10.0.0.12", 40000, 80, "tcp", in_interface="azv1234")
    (o,) = evaluate((rule,), "nat", "PREROUTING", packet, ctx)
    assert o.verdict.value == "DROP" and o.refusal is Refusal.NO_REDIRECT_ADDRESS and o.rules == (rule,)
