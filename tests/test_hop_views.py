"""Every hop names a line a learner can print: ``cluster.run(hop.decided_by.command, on=hop.decided_by.on)``
shows it verbatim, for every plugin, CNI mode and proxy mode and a catalogue of flows (pod to pod, to
Services of each type, to nodes, to hosts, from hosts, replies); so do every matched rule and every
conntrack entry a hop cites."""

import pytest

import netlab as nl
from netlab.errors import CommandError, NetlabError

WEB = [nl.Container("web", ports=[8080])]
VARIANTS = [("kubenet", "transparent"), ("azure-cni", "transparent"), ("azure-cni", "bridge"),
            ("azure-cni-overlay", "transparent"), ("none", "transparent")]
MODES = ["iptables", "nftables", "ipvs", "userspace"]
NODE0, NODE1 = "aks-nodepool1-87544974-vmss000000", "aks-nodepool1-87544974-vmss000001"
FLOWS = [
    ("client", "web-0", 8080), ("client", "web-1", 8080), ("client", "web-0", 80),  # pods; a closed port
    ("client", "web", None), ("client", "web", 81), ("client", "empty", None), ("client", "sticky", None),
    ("web-1", "web", None),  # a pod through its own Service, maybe to itself
    ("client", "web-np", None), (NODE0, "web-0", 8080), ("vnet-vm", f"{NODE1}:30080", None),
    ("internet", "web-lb", None), ("internet", "LB-IP", None), ("vnet-vm", "LB-IP", None), ("client", NODE1, 22), ("client", "localhost", 80), ("client", "client", 80),
    ("client", "internet", 443), ("client", "vnet-vm", 22), ("client", "peered-vm", 22),
    ("client", "onprem-host", 22), ("vnet-vm", "web-0", 8080), ("peered-vm", "web-0", 8080),
    ("onprem-host", "web-0", 8080), ("internet", "web-0", 8080), ("client", "kube-system/kube-dns", 53),
]


def cluster(plugin: str, cni_mode: str, mode: str) -> nl.Cluster:
    kw = {"cni_mode": cni_mode} if plugin == "azure-cni" else {}
    web = {"app": "web"}
    return (nl.Cluster.aks(plugin, nodes=2, **kw)
            .add_pod("web-0", node=1, labels=web, containers=WEB)
            .add_pod("web-1", node=0, labels=web, containers=WEB)
            .add_pod("client", node=0, containers=[nl.Container("c", ports=[80])])
            .add_service("web", ports=[{"port": 80, "targetPort": 8080}], selector=web)
            .add_service("web-np", ports=[{"port": 80, "targetPort": 8080, "nodePort": 30080}], selector=web,
                         type="NodePort")
            .add_service("web-lb", ports=[{"port": 80, "targetPort": 8080}], selector=web, type="LoadBalancer")
            .add_service("empty", ports=[80], selector={"app": "none"})
            .add_service("sticky", ports=[{"port": 80, "targetPort": 8080}], selector=web,
                         session_affinity="ClientIP")
            .with_proxy_mode(mode))


def printed(c: nl.Cluster, line, t) -> bool:
    """The line is one the command prints: a whole line, or (nft) one element of a set or map, which nft
    prints several to a line."""
    out = c.run(line.command, on=line.on, after=t)
    if line.text.strip() in [x.strip() for x in out.splitlines()]:
        return True
    return line.command.startswith("nft ") and any(
        line.text in x and (x.rstrip().endswith((line.text + ",", line.text + " }", line.text)))
        for x in out.splitlines())


def cited(c: nl.Cluster, t):
    """Every line the trace and its reply cite: (hop, what, Line)."""
    for h in t.hops + (t.reply.hops if t.reply else ()):
        yield h, "decided_by", h.decided_by
        for r in h.rules:
            yield h, "rule", r
        if h.conntrack is not None:
            yield h, "conntrack", h.conntrack.line


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("plugin, cni_mode", VARIANTS)
def test_every_line_a_hop_cites_is_printed_by_its_command(plugin, cni_mode, mode):
    c = cluster(plugin, cni_mode, mode)
    checked = 0
    for src, dst, port in FLOWS:
        if dst == "LB-IP":
            dst = str(c.services["web-lb"].load_balancer_ip)
        for seed in (0, 1):
            for all_hooks in (False, True):
                t = c.trace(src, dst, port=port, protocol="udp" if port == 53 else "tcp", seed=seed,
                            all_hooks=all_hooks)
                for h, what, line in cited(c, t):
                    assert line.text.strip(), (src, dst, str(h.place), what)
                    assert printed(c, line, t), (src, dst, str(h.place), what, line)
                    checked += 1
    assert checked > 400


def test_hops_carry_data_not_prose():
    c = cluster("kubenet", "transparent", "iptables")
    t = c.trace("client", "web", endpoint="10.244.1.2:8080")
    kinds = [h.place.kind for h in t.hops]
    assert kinds[0] == "pod" and "vnet" in kinds and kinds[-1] == "pod"
    dnat = next(h for h in t.hops if h.nat)
    assert dnat.hook == "PREROUTING" and dnat.in_interface == "cbr0" and dnat.in_port.startswith("veth")
    assert dnat.interface == f"PREROUTING, in cbr0 (from its port {dnat.in_port})"
    assert all(h.in_interface is None or " " not in h.in_interface for t_ in (t, t.reply) for h in t_.hops)
    assert dnat.nat[0].kind == "DNAT" and str(dnat.nat[0].before[0]) == str(c.services["web"].cluster_ip)
    assert dnat.before.dst != dnat.packet.dst and str(dnat.packet.dst) == "10.244.1.2"
    assert dnat.conntrack.created and dnat.conntrack.line.command == "conntrack -L"
    assert t.endpoint == "10.244.1.2:8080" and not t.masqueraded
    back = [h for h in t.reply.hops if h.conntrack is not None]
    assert back and not back[0].conntrack.created and back[0].nat[0].kind == "un-DNAT"
    internet = c.trace("client", "internet", port=443)
    assert internet.masqueraded and [m[0] for m in internet.masquerade] == [NODE0, "azure"]


def test_conntrack_lists_the_connection_as_the_tool_prints_it():
    c = cluster("kubenet", "transparent", "iptables")
    t = c.trace("client", "web", endpoint="10.244.1.2:8080")
    out = c.run("conntrack -L", on=NODE0, after=t).splitlines()
    assert out[-1] == "conntrack v1.4.8 (conntrack-tools): 1 flow entries have been shown."
    entry = out[0]
    assert entry.startswith("tcp      6 431999 ESTABLISHED src=10.244.0.3 dst=")
    assert " src=10.244.1.2 dst=10.244.0.3 sport=8080 " in entry and entry.endswith("[ASSURED] mark=0 use=1")
    refused = c.trace("client", "web-0", port=80)
    assert refused.verdict is nl.Verdict.REFUSED and refused.reply is None
    with pytest.raises(CommandError, match="trace one first"):
        c.run("conntrack -L", on=NODE0)


def test_local_tables_as_the_kernel_keeps_them():
    c = cluster("kubenet", "transparent", "iptables")
    assert c.run("ip route show table local", on="client").splitlines() == [
        "local 10.244.0.3 dev eth0 proto kernel scope host src 10.244.0.3",
        "broadcast 10.244.0.255 dev eth0 proto kernel scope link src 10.244.0.3",
        "local 127.0.0.0/8 dev lo proto kernel scope host src 127.0.0.1",
        "local 127.0.0.1 dev lo proto kernel scope host src 127.0.0.1",
        "broadcast 127.255.255.255 dev lo proto kernel scope link src 127.0.0.1",
    ]
    node = c.run("ip route show table local", on=0).splitlines()
    assert node[:4] == [
        "local 10.224.0.4 dev eth0 proto kernel scope host src 10.224.0.4",
        "broadcast 10.224.255.255 dev eth0 proto kernel scope link src 10.224.0.4",
        "local 10.244.0.1 dev cbr0 proto kernel scope host src 10.244.0.1",
        "broadcast 10.244.0.255 dev cbr0 proto kernel scope link src 10.244.0.1",
    ]
    ipvs = c.with_proxy_mode("ipvs").run("ip route show table local", on=0)
    assert f"local {c.services['web'].cluster_ip} dev kube-ipvs0 proto kernel scope host" in ipvs


@pytest.mark.parametrize("command, on", [
    ("ip a", "client"), ("ip r", 0), ("ip neigh", 0), ("ip neigh", "client"), ("bridge fdb show", 0),
    ("iptables-save", 0), ("iptables -t nat -S", 0), ("iptables-save -t nat", 0), ("crictl pods", 0),
    ("kubectl get pods -o wide", None), ("kubectl get svc -A", None), ("kubectl get endpointslices", None),
    ("az network route-table route list -o table", None), ("az network lb rule list", None),
    ("az network lb probe list -o table", None), ("az network lb outbound-rule list -o table", None),
    ("az network nic show-effective-route-table -o table", 0), ("ip route", "internet"),
    ("ip route", "onprem-router"), ("ss -ltunp", 0),
])
def test_the_commands_a_learner_types_print_text(command, on):
    out = cluster("kubenet", "transparent", "iptables").run(command, on=on)
    assert out.strip() and not out.startswith("(")


def test_iptables_s_is_the_rules_without_counters_and_chains_as_n():
    c = cluster("kubenet", "transparent", "iptables")
    s = c.run("iptables -t nat -S", on=0).splitlines()
    assert s[:4] == ["-P PREROUTING ACCEPT", "-P INPUT ACCEPT", "-P OUTPUT ACCEPT", "-P POSTROUTING ACCEPT"]
    assert "-N KUBE-SERVICES" in s and all(line.startswith(("-P ", "-N ", "-A ")) for line in s)
    save = c.run("iptables-save", on=0).splitlines()
    assert [line for line in s if line.startswith("-A ")] == [
        line for line in save[save.index("*nat"):] if line.startswith("-A ")][:len([x for x in s if x.startswith("-A")])]


def test_an_unknown_command_teaches_what_there_is():
    c = cluster("kubenet", "transparent", "iptables")
    with pytest.raises(CommandError) as err:
        c.run("ip rout", on="client")
    assert "Did you mean 'ip route'?" in str(err.value) and "ip route show table local" in str(err.value)
    with pytest.raises(CommandError, match="It runs on a node"):
        c.run("iptables-save", on="client")
    with pytest.raises(NetlabError, match="no node, pod or host"):
        c.run("ip route", on="nowhere")
    with pytest.raises(CommandError, match="give the command"):
        c.run("", on=0)
    assert nl.cluster.commands.supported(c, "client") == ["ip addr", "ip neigh", "ip route", "ip route show table local"]


def test_views_that_are_not_in_this_mode_say_so():
    c = cluster("kubenet", "transparent", "iptables")
    assert "not ipvs mode" in c.run("ipvsadm -Ln", on=0)
