"""How notebook 09's data files (``notebooks/data/``) are made, so a test can check they still are.

``python tests/notebook_data.py`` writes them again.

* ``shop.yaml`` is written by hand (a Deployment, its Service and a client pod);
* ``aks-cluster.json``: ``kubectl get nodes,pods,services,endpointslices -A -o json`` of an AKS kubenet
  cluster named ``shop`` after it was scaled: node addresses with gaps, pod CIDRs handed out in another
  order than the nodes' names, kube-proxy on the host network, CoreDNS, the shop;
* ``node-iptables-save.txt`` and ``node-objects.json``: ``iptables-save`` on a node of a kubeadm-like
  cluster (node ``worker-1`` at ``192.168.56.11``, pods in ``10.244.0.0/16``, Services in
  ``10.96.0.0/12``), and the Services and EndpointSlices kube-proxy wrote it from.
"""

from __future__ import annotations

import copy
import json
import pathlib

import netlab as nl
from netlab import kubeproxy as kp
from netlab.k8s import kubectl

DATA = pathlib.Path(__file__).resolve().parent.parent / "notebooks" / "data"

NODE_IPS = {0: "10.224.0.4", 1: "10.224.0.9", 2: "10.224.0.12"}
POD_CIDR_OF = {0: 2, 1: 0, 2: 1}  # node index -> the /24 the node IPAM controller gave it


def aks_cluster() -> dict:
    c = (nl.Cluster.aks("kubenet", nodes=3, name="shop", resource_group="shop-rg", location="northeurope")
         .apply(DATA / "shop.yaml").add_coredns())
    data = copy.deepcopy(kubectl.objects(c))
    names = {n.name: n.index for n in c.node_records()}
    for item in data["items"]:
        if item["kind"] == "Node":
            n = names[item["metadata"]["name"]]
            item["status"]["addresses"][0]["address"] = NODE_IPS[n]
            item["spec"]["podCIDR"] = f"10.244.{POD_CIDR_OF[n]}.0/24"
            item["spec"]["podCIDRs"] = [item["spec"]["podCIDR"]]
        elif item["kind"] == "Pod":
            n = names[item["spec"]["nodeName"]]
            item["status"]["hostIP"] = NODE_IPS[n]
            if item["spec"].get("hostNetwork"):
                item["status"]["podIP"] = NODE_IPS[n]
            else:
                last = item["status"]["podIP"].rsplit(".", 1)[1]
                item["status"]["podIP"] = f"10.244.{POD_CIDR_OF[n]}.{last}"
            item["status"]["podIPs"] = [{"ip": item["status"]["podIP"]}]
        elif item["kind"] == "EndpointSlice":
            for ep in item.get("endpoints") or ():
                node = ep.get("nodeName")
                if node in names:
                    last = ep["addresses"][0].rsplit(".", 1)[1]
                    ep["addresses"] = [f"10.244.{POD_CIDR_OF[names[node]]}.{last}"]
    return data


def _svc(ns, name, ip, ports, type_="ClusterIP"):
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": ns},
            "spec": {"type": type_, "clusterIP": ip, "clusterIPs": [ip], "ports": ports}}


def _slice(ns, service, suffix, port_name, port, addresses, protocol="TCP"):
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
            "metadata": {"name": f"{service}-{suffix}", "namespace": ns,
                         "labels": {"kubernetes.io/service-name": service}},
            "ports": [{"name": port_name, "port": port, "protocol": protocol}],
            "endpoints": [{"addresses": [a], "conditions": {"ready": True}, "nodeName": node}
                          for a, node in addresses]}


def node_objects() -> dict:
    items = [
        _svc("default", "kubernetes", "10.96.0.1", [{"name": "https", "port": 443, "protocol": "TCP",
                                                     "targetPort": 6443}]),
        _slice("default", "kubernetes", "", "https", 6443, [("192.168.56.10", None)]),
        _svc("kube-system", "kube-dns", "10.96.0.10", [
            {"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53},
            {"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": 53}]),
        _slice("kube-system", "kube-dns", "x7k2p", "dns", 53, [("10.244.0.2", "control-plane"),
                                                               ("10.244.0.3", "control-plane")], "UDP"),
        _slice("kube-system", "kube-dns", "q9d4s", "dns-tcp", 53, [("10.244.0.2", "control-plane"),
                                                                   ("10.244.0.3", "control-plane")]),
        _svc("shop", "web", "10.96.120.15", [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": "http",
                                              "nodePort": 30080}], "NodePort"),
        _slice("shop", "web", "m5v8c", "http", 8080, [("10.244.1.5", "worker-1"), ("10.244.2.7", "worker-2")]),
    ]
    for item in items:
        if item["kind"] == "EndpointSlice" and item["metadata"]["name"].endswith("-"):
            item["metadata"]["name"] = item["metadata"]["name"].rstrip("-")
    return {"apiVersion": "v1", "kind": "List", "items": items}


def node_rules() -> str:
    cfg = kp.ProxyConfig(node_name="worker-1", node_ips=["192.168.56.11"], cluster_cidr="10.244.0.0/16")
    items = node_objects()["items"]
    services = [i for i in items if i["kind"] == "Service"]
    slices = [i for i in items if i["kind"] == "EndpointSlice"]
    return kp.render("iptables", services, slices, cfg, form="save")


FILES = {
    "aks-cluster.json": lambda: json.dumps(aks_cluster(), indent=1) + "\n",
    "node-objects.json": lambda: json.dumps(node_objects(), indent=1) + "\n",
    "node-iptables-save.txt": node_rules,
}


if __name__ == "__main__":
    for name, make in FILES.items():
        (DATA / name).write_text(make(), encoding="utf-8")
        print("wrote", DATA / name)
