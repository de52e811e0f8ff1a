"""A real cluster in: ``Cluster.from_kubectl`` reads ``kubectl get nodes,pods,services,endpointslices -A -o json``."""

import copy
import ipaddress
import json

import pytest

import netlab as nl
from netlab.k8s import kubectl

SHOP = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: shop}
spec:
  replicas: 3
  selector: {matchLabels: {app: shop}}
  template:
    metadata: {labels: {app: shop}}
    spec: {containers: [{name: web, image: nginx, ports: [{containerPort: 8080, name: http}]}]}
---
apiVersion: v1
kind: Service
metadata: {name: shop}
spec: {type: NodePort, selector: {app: shop}, ports: [{name: http, port: 80, targetPort: http}]}
---
apiVersion: v1
kind: Pod
metadata: {name: client}
spec: {containers: [{name: curl}]}
"""


def pods_of(c):
    return sorted((p.key, p.node, p.ip, p.labels, p.containers) for p in c.pod_records())


@pytest.mark.parametrize("plugin", ["kubenet", "azure-cni", "azure-cni-overlay"])
def test_a_cluster_read_back_from_its_objects_has_the_same_pods_services_and_traces(plugin):
    c = nl.Cluster.aks(plugin, nodes=3).apply(SHOP)
    back = nl.Cluster.from_kubectl(json.dumps(kubectl.objects(c)))
    assert back.plugin is c.plugin and [n.name for n in back.nodes] == [n.name for n in c.nodes]
    assert [n.ip for n in back.nodes] == [n.ip for n in c.nodes]
    assert pods_of(back) == pods_of(c)
    assert back.services["shop"].ports[0].node_port == c.services["shop"].ports[0].node_port
    assert back.services["shop"].cluster_ip == c.services["shop"].cluster_ip
    for dst, port in (("shop", 80), (f"{c.nodes[2].ip}", c.services["shop"].ports[0].node_port)):
        assert back.trace("client", dst, port=port).text() == c.trace("client", dst, port=port).text()
    assert back.run("ip route", on=1) == c.run("ip route", on=1)


def _irregular():
    """A kubenet cluster as it looks after scaling: node addresses with gaps, pod CIDRs handed out
    in another order, a cluster of another name."""
    c = nl.Cluster.aks("kubenet", nodes=3).apply(SHOP)
    data = copy.deepcopy(kubectl.objects(c))
    node_ip = {"aks-nodepool1-87544974-vmss000000": "10.224.0.4", "aks-nodepool1-87544974-vmss000001": "10.224.0.9",
               "aks-nodepool1-87544974-vmss000002": "10.224.0.12"}
    cidr = {"aks-nodepool1-87544974-vmss000000": 2, "aks-nodepool1-87544974-vmss000001": 0,
            "aks-nodepool1-87544974-vmss000002": 1}
    for item in data["items"]:
        if item["kind"] == "Node":
            name = item["metadata"]["name"]
            item["metadata"]["labels"]["kubernetes.azure.com/cluster"] = "MC_shop-rg_shop_northeurope"
            item["status"]["addresses"][0]["address"] = node_ip[name]
            item["spec"]["podCIDR"] = f"10.244.{cidr[name]}.0/24"
        elif item["kind"] == "Pod":
            node = item["spec"]["nodeName"]
            if item["spec"].get("hostNetwork"):
                item["status"]["podIP"] = node_ip[node]
            else:
                last = item["status"]["podIP"].rsplit(".", 1)[1]
                item["status"]["podIP"] = f"10.244.{cidr[node]}.{last}"
        elif item["kind"] == "EndpointSlice":
            item["endpoints"] = []  # as kube-proxy would see them makes no difference: netlab recomputes them
    return data


def test_a_real_clusters_addresses_are_kept_even_where_they_follow_no_pattern():
    c = nl.Cluster.from_kubectl(_irregular())
    assert [str(n.ip) for n in c.nodes] == ["10.224.0.4", "10.224.0.9", "10.224.0.12"]
    assert [str(n.pod_cidr) for n in c.nodes] == ["10.244.2.0/24", "10.244.0.0/24", "10.244.1.0/24"]
    assert c.config.name == "shop" and c.config.resource_group == "shop-rg" and c.config.location == "northeurope"
    table = c.azure_route_table()
    assert "10.244.2.0/24" in table and "10.224.0.4" in table and "10.224.0.9" in table
    client = c.pod_record("client")
    other = next(p for p in c.pod_records() if p.node != client.node and p.name.startswith("shop-"))
    t = c.trace("client", other.name, port=8080)
    assert t.verdict is nl.Verdict.DELIVERED
    assert str(c.nodes[other.node].ip) in t.text()  # the UDR's next hop is the real node address
    svc = c.trace("client", "shop", port=80, endpoint=f"{other.ip}:8080")
    assert svc.verdict is nl.Verdict.DELIVERED
    node_port = c.services["shop"].ports[0].node_port
    assert c.trace("client", "10.224.0.9", port=node_port).verdict is nl.Verdict.DELIVERED
    new = c.add_pod("debug", node=1)
    assert str(new.pods["debug"].ip).startswith("10.244.0.") and new.pods["debug"].ip not in \
        {p.ip for p in c.pod_records()}


def test_describe_lists_what_had_to_be_assumed():
    text = nl.Cluster.from_kubectl(_irregular()).describe()
    assert "Read from a real cluster (Cluster.from_kubectl); assumed, as the objects do not say:" in text
    assert "3 pod(s) on the host network share their node's address and are not drawn as pods: kube-system/kube-proxy-" \
        in text
    assert "kube-proxy mode: iptables (AKS's default)" in text
    assert "node subnet 10.224.0.0/16" in text


def test_the_plugin_is_told_from_the_node_labels_or_else_from_the_addresses():
    data = kubectl.objects(nl.Cluster.aks("azure-cni", nodes=2).add_pod("a"))
    for item in data["items"]:
        if item["kind"] == "Node":
            del item["metadata"]["labels"]["kubernetes.azure.com/network-plugin"]
    c = nl.Cluster.from_kubectl(data)
    assert c.plugin is nl.Plugin.AZURE_CNI
    assert any("netlab took azure-cni from where the pods' addresses are" in n for n in c.config.notes)


def test_a_file_path_is_read_too(tmp_path):
    path = tmp_path / "cluster.json"
    path.write_text(json.dumps(_irregular()))
    assert pods_of(nl.Cluster.from_kubectl(str(path))) == pods_of(nl.Cluster.from_kubectl(path))


@pytest.mark.parametrize("data, message", [
    ("{not json", "from_kubectl: the text is not JSON (line 1, column 2"),
    ({"kind": "List", "items": []}, "the objects hold no Node"),
    ("[1, 2]", "the objects hold no Node"),
    ({"kind": "Pod"}, "expected a List with items"),
])
def test_bad_input_is_refused_with_a_message_that_says_what_to_give(data, message):
    with pytest.raises(nl.NetlabError, match=message.replace("(", r"\(")):
        nl.Cluster.from_kubectl(data)


def test_objects_that_disagree_are_refused():
    data = _irregular()
    pod = next(i for i in data["items"] if i["kind"] == "Pod" and i["metadata"]["name"] == "client")
    pod["status"]["podIP"] = str(ipaddress.IPv4Address("10.244.9.9"))
    with pytest.raises(nl.ConfigError, match="outside its node .* pod CIDR"):
        nl.Cluster.from_kubectl(data)


def test_notebook_09s_data_files_are_what_their_generator_makes():
    import notebook_data

    for name, make in notebook_data.FILES.items():
        assert (notebook_data.DATA / name).read_text(encoding="utf-8") == make(), (
            f"notebooks/data/{name} is stale: run python tests/notebook_data.py")
