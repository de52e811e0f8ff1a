"""The cluster value: immutable changes, deterministic addressing, and the kubectl / az views."""

import ipaddress

import pytest

import netlab as nl


def test_add_pod_returns_a_new_cluster_and_keeps_the_old():
    c0 = nl.Cluster.aks("kubenet", nodes=2)
    c1 = c0.add_pod("web-0", node=1)
    assert len(c0.pods) == 0 and len(c1.pods) == 1
    assert c1.pods["web-0"].node.index == 1


def test_kubenet_gives_each_node_its_own_24_in_order():
    c = nl.Cluster.aks("kubenet", nodes=3)
    assert [str(n.pod_cidr) for n in c.nodes] == ["10.244.0.0/24", "10.244.1.0/24", "10.244.2.0/24"]
    assert [str(n.ip) for n in c.nodes] == ["10.224.0.4", "10.224.0.5", "10.224.0.6"]


def test_azure_cni_nodes_reserve_max_pods_addresses_each():
    c = nl.Cluster.aks("azure-cni", nodes=3)
    assert [str(n.ip) for n in c.nodes] == ["10.224.0.4", "10.224.0.35", "10.224.0.66"]
    c = c.add_pod("a", node=1)
    assert str(c.pods["a"].ip) == "10.224.0.36"


def test_kubenet_pods_take_the_next_address_round_robin_not_a_freed_one(kubenet2):
    c = kubenet2.remove_pod("web-0")
    assert str(c.pods["web-1"].ip) == "10.244.0.3"
    c = c.add_pod("web-2", node=0)
    assert str(c.pods["web-2"].ip) == "10.244.0.4"  # host-local goes on after .3; web-0's .2 waits for the wrap


def test_same_description_gives_same_names_and_addresses(kubenet2):
    again = (
        nl.Cluster.aks("kubenet", nodes=2)
        .add_pod("web-0", node=0, labels={"app": "web"},
                 containers=[nl.Container("nginx", ports=[80]), nl.Container("log-shipper")])
        .add_pod("web-1", node=0, labels={"app": "web"}, containers=[nl.Container("nginx", ports=[80])])
        .add_pod("api-0", node=1, labels={"app": "api"}, containers=[nl.Container("api", ports=[8080])])
    )
    assert again == kubenet2
    assert again.nodes[0].ip_addr() == kubenet2.nodes[0].ip_addr()


def test_with_plugin_keeps_workloads_and_readdresses(kubenet2):
    a = kubenet2.with_plugin("azure-cni")
    assert sorted(a.pods) == sorted(kubenet2.pods)
    assert a.pods["api-0"].node.index == 1
    assert a.pods["web-0"].ip in ipaddress.IPv4Network("10.224.0.0/16")
    assert a.config.pod_cidr is None and a.config.max_pods == 30
    back = a.with_plugin("kubenet")
    assert back.pods["web-0"].ip == kubenet2.pods["web-0"].ip


def test_with_plugin_keeps_pod_cidr_and_service_settings():
    c = nl.Cluster.aks("kubenet", pod_cidr="10.100.0.0/16", service_cidr="10.1.0.0/16", dns_service_ip="10.1.0.10")
    o = c.with_plugin("azure-cni-overlay")
    assert str(o.config.pod_cidr) == "10.100.0.0/16" and str(o.config.dns_service_ip) == "10.1.0.10"


def test_nodes_by_name_and_index(kubenet2):
    name = kubenet2.nodes[1].name
    assert kubenet2.nodes[name].index == 1
    assert kubenet2.nodes[-1].index == 1
    assert len(kubenet2.nodes) == 2


def test_node_names_follow_aks_scale_set_naming():
    c = nl.Cluster.aks("kubenet", nodes=12)
    assert c.nodes[10].name.endswith("-vmss00000a")
    assert c.nodes[0].name.startswith("aks-nodepool1-")


def test_kubectl_get_pods_wide_golden(kubenet2):
    n0, n1 = kubenet2.nodes[0].name, kubenet2.nodes[1].name
    assert kubenet2.kubectl_get_pods() == "\n".join([
        "NAME    READY   STATUS    RESTARTS   AGE   IP           NODE                                NOMINATED NODE   READINESS GATES",
        f"api-0   1/1     Running   0          1m    10.244.1.2   {n1}   <none>           <none>",
        f"web-0   2/2     Running   0          3m    10.244.0.2   {n0}   <none>           <none>",
        f"web-1   1/1     Running   0          2m    10.244.0.3   {n0}   <none>           <none>",
    ])


def test_kubectl_all_namespaces_adds_namespace_column(kubenet2):
    text = kubenet2.add_pod("coredns-0", namespace="kube-system").kubectl_get_pods(all_namespaces=True)
    assert text.splitlines()[0].startswith("NAMESPACE     NAME        READY")
    assert text.splitlines()[4].startswith("kube-system   coredns-0   1/1")


def test_kubectl_empty_namespace():
    assert nl.Cluster.aks().kubectl_get_pods() == "No resources found in default namespace."


def test_azure_route_table_golden(kubenet2):
    n0, n1 = kubenet2.nodes[0].name, kubenet2.nodes[1].name
    rg = "MC_netlab-rg_netlab_westeurope"
    assert kubenet2.azure_route_table() == "\n".join([
        "AddressPrefix    HasBgpOverride    Name                               NextHopIpAddress    NextHopType       ProvisioningState    ResourceGroup",
        "---------------  ----------------  ---------------------------------  ------------------  ----------------  -------------------  ------------------------------",
        f"10.244.0.0/24    False             {n0}  10.224.0.4          VirtualAppliance  Succeeded            {rg}",
        f"10.244.1.0/24    False             {n1}  10.224.0.5          VirtualAppliance  Succeeded            {rg}",
    ])


@pytest.mark.parametrize("plugin", ["azure-cni", "azure-cni-overlay", "none"])
def test_only_kubenet_has_a_route_table(plugin):
    c = nl.Cluster.aks(plugin, nodes=2)
    assert c.route_table() == ()
    assert "no route table" in c.azure_route_table()


def test_effective_routes_mark_shadowed_default_as_invalid():
    text = nl.Cluster.aks("kubenet").effective_routes()
    assert "VirtualNetworkGateway  Active   192.168.0.0/16    VirtualNetworkGateway" in text
    assert "Default                Invalid  192.168.0.0/16    None" in text


def test_bulk_build_fills_nodes():
    c = nl.Cluster.aks("azure-cni", nodes=3, pods_per_node=30)
    assert len(c.pods) == 90
    assert str(c.pods["pod-2-29"].ip) == "10.224.0.96"


def test_bulk_pods_per_node_above_max_pods():
    with pytest.raises(nl.NodeFullError, match="pods_per_node=40 is more than max_pods=30"):
        nl.Cluster.aks("azure-cni", nodes=1, pods_per_node=40)


def test_default_subnet_widens_for_5000_azure_cni_nodes_with_a_note():
    c = nl.Cluster.aks("azure-cni", nodes=5000, pods_per_node=30)
    assert str(c.config.subnet_cidr) == "10.224.0.0/14"
    assert "widened" in c.config.notes[0]
    assert len(c.pods) == 150_000


def test_adding_a_pod_shares_structure_with_the_old_cluster():
    big = nl.Cluster.aks("kubenet", nodes=200, pods_per_node=10)
    bigger = big.add_pod("extra", node=5)
    assert bigger._nodes[6] is big._nodes[6]  # untouched nodes are shared, not copied
    assert bigger._pods[("default", "pod-7-3")] is big._pods[("default", "pod-7-3")]


def test_owners_finds_pods_nodes_by_address(kubenet2):
    (p,) = kubenet2.owners(ipaddress.IPv4Address("10.244.1.2"))
    assert p.name == "api-0"
    (n,) = kubenet2.owners(ipaddress.IPv4Address("10.224.0.5"))
    assert n.index == 1
    assert kubenet2.owners(ipaddress.IPv4Address("10.244.7.9")) == ()


def test_repr_is_a_summary(kubenet2):
    assert repr(kubenet2) == ("<Cluster kubenet: 2 node(s), 3 pod(s); subnet 10.224.0.0/16, pod CIDR 10.244.0.0/16, "
                              "service CIDR 10.0.0.0/16>")


def test_membership_and_get_answer_for_unknown_names_instead_of_raising(kubenet2):
    c = kubenet2.add_service("web", selector={"app": "web"}, ports=[80])
    assert "web-0" in c.pods and "nope" not in c.pods and 42 not in c.pods
    assert "web" in c.services and "kube-system/kube-dns" in c.services and "10.0.0.1" not in c.services
    assert c.pods.get("nope") is None and c.services.get("nope", "none") == "none"
    assert c.pods.get("web-0").ip == c.pods["web-0"].ip


# The label index behind pods_selected (and so every EndpointSlice) must always equal a scan of
# every pod, through any sequence of adds and removes, plugin switches and rebuilds.
from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_ops = st.lists(st.tuples(st.sampled_from(["add", "add", "remove", "plugin"]), st.integers(0, 7),
                          st.sampled_from(["web", "db"]), st.sampled_from(["default", "shop"]),
                          st.booleans()), max_size=25)


@given(_ops)
def test_pods_selected_equals_a_scan_of_every_pod(ops):
    c = nl.Cluster.aks("kubenet", nodes=2)
    for op, i, app, ns, tier in ops:
        name = f"p-{i}"
        exists = (ns, name) in {(p.namespace, p.name) for p in c.pods.values()}
        if op == "add" and not exists:
            labels = {"app": app, **({"tier": "front"} if tier else {})}
            c = c.add_pod(name, node=i % 2, labels=labels, namespace=ns)
        elif op == "remove" and exists:
            c = c.remove_pod(name, namespace=ns)
        elif op == "plugin":
            c = c.with_plugin("azure-cni" if c.plugin.value == "kubenet" else "kubenet")
        for sel_ns in ("default", "shop"):
            for selector in ([("app", "web")], [("app", "db"), ("tier", "front")], [("tier", "front")], []):
                scan = sorted((p for p in c.pods.values() if p.namespace == sel_ns and selector
                               and all(dict(p.labels).get(k) == v for k, v in selector)),
                              key=lambda p: (int(p.ip), p.name))
                assert [(p.namespace, p.name) for p in c.pods_selected(sel_ns, selector)] == \
                    [(p.namespace, p.name) for p in scan]


def test_a_range_netlab_widened_is_recomputed_on_a_plugin_switch_and_a_chosen_one_is_kept():
    wide = nl.Cluster.aks("azure-cni", nodes=3000)  # 3,000 x 31 addresses do not fit the default /16
    assert wide.config.widened == {"subnet_cidr"} and str(wide.config.subnet_cidr) == "10.224.0.0/15"
    assert str(wide.with_plugin("azure-cni-overlay").config.subnet_cidr) == "10.224.0.0/16"
    chosen = nl.Cluster.aks("azure-cni", nodes=2, subnet_cidr="10.225.0.0/16")
    assert chosen.config.widened == frozenset()
    assert str(chosen.with_plugin("kubenet").config.subnet_cidr) == "10.225.0.0/16"
    pods = nl.Cluster.aks("kubenet", nodes=300)  # 300 /24s do not fit the default /16 pod CIDR
    assert pods.config.widened == {"pod_cidr"} and str(pods.config.pod_cidr) == "10.244.0.0/15"


def test_a_plugin_switch_keeps_each_pods_age_and_a_round_trip_gives_the_same_cluster(kubenet2):
    c = kubenet2.add_pod("late", node=0)
    switched = c.with_plugin("azure-cni")
    assert [(p.name, p.seq) for p in switched.pod_records()] == [(p.name, p.seq) for p in c.pod_records()]
    ages = lambda x: [line.split()[4] for line in x.kubectl_get_pods().splitlines()[1:]]  # noqa: E731
    assert ages(switched) == ages(c)
    assert switched.with_plugin("kubenet") == c
    assert c.with_plugin("kubenet") == c


def test_kubectl_get_prints_the_selector_and_the_pods_ip_only_with_o_wide():
    # Real kubectl: `get svc` has no SELECTOR column and `get pods` no IP or NODE; `-o wide` adds them.
    c = (nl.Cluster.aks("kubenet", nodes=1)
         .add_pod("w", node=0, labels={"app": "w"}, containers=[nl.Container("n", ports=[80])])
         .add_service("w", selector={"app": "w"}, ports=[80]))
    assert c.run("kubectl get svc").splitlines()[0].split() == ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP",
                                                                "PORT(S)", "AGE"]
    for wide in ("kubectl get svc -o wide", "kubectl get services -owide", "kubectl get service --output=wide"):
        assert c.run(wide).splitlines()[0].split()[-1] == "SELECTOR"
        assert c.run(wide).splitlines()[-1].split()[-1] == "app=w"
    assert c.run("kubectl get po") == "NAME   READY   STATUS    RESTARTS   AGE\nw      1/1     Running   0          1m"
    assert c.run("kubectl get pods -A").splitlines()[0].split() == ["NAMESPACE", "NAME", "READY", "STATUS",
                                                                    "RESTARTS", "AGE"]
    assert c.run("kubectl get pods -o wide") == c.kubectl_get_pods()
    assert "IP" in c.run("kubectl get pod --output wide").splitlines()[0].split()
    assert c.run("kubectl get endpointslice") == c.kubectl_get_endpointslices()
