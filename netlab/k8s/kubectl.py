"""A real AKS cluster read from ``kubectl get nodes,pods,services,endpointslices -A -o json``.

:func:`read` turns that JSON (a ``List`` whose ``items`` are Node, Pod, Service and EndpointSlice
objects) into what :meth:`netlab.Cluster.from_kubectl` builds a cluster from: the plugin, the
ranges, each node's name, address and pod CIDR, each pod's address, labels and container ports,
each Service's ClusterIP, ports and NodePorts, as the cluster has them. Everything it has to
assume, because the objects do not say it, is listed (:attr:`Imported.assumptions`) and shown by
``cluster.describe()``.

How the plugin is told (AKS labels every node):

* ``kubernetes.azure.com/azure-cni-overlay: "true"`` (or ``kubernetes.azure.com/podnetwork-type:
  overlay``): Azure CNI Overlay;
* ``kubernetes.azure.com/network-plugin``: ``kubenet``, ``azure`` (Azure CNI, pods in the node
  subnet) or ``none``;
* without those labels: nodes with ``spec.podCIDR`` and pods inside it are kubenet; pods in the
  nodes' subnet are Azure CNI.

Pods on the host network (kube-proxy, the CNI's daemons: their address is their node's) and pods
with no address yet (Pending) are left out and listed.

Taught in ``notebooks/09-your-own-cluster.ipynb``.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import ManifestError
from ..model import images
from ..model.types import Container, ContainerPort, Plugin

AKS_SUBNET = ipaddress.IPv4Network("10.224.0.0/16")
AKS_VNET = ipaddress.IPv4Network("10.224.0.0/12")
AKS_SERVICES = ipaddress.IPv4Network("10.0.0.0/16")
AKS_PODS = ipaddress.IPv4Network("10.244.0.0/16")


@dataclass(frozen=True, slots=True)
class Imported:
    """What a real cluster's objects say, ready to build a netlab cluster from."""

    plugin: Plugin
    settings: dict[str, Any]  # Cluster.aks keywords: name, resource_group, location, ranges, max_pods, node_image
    node_pool: str
    nodes: tuple[tuple[str, ipaddress.IPv4Address, ipaddress.IPv4Network | None], ...]  # by address
    pods: tuple[tuple[str, str, int, ipaddress.IPv4Address, tuple[Container, ...], tuple[tuple[str, str], ...]], ...]
    services: tuple[dict[str, Any], ...]  # add_service keywords, name and namespace included
    assumptions: tuple[str, ...]


def _items(data: Any) -> list[Mapping[str, Any]]:
    if isinstance(data, (str, bytes)):
        try:
            data = json.loads(data)
        except json.JSONDecodeError as err:
            raise ManifestError(f"from_kubectl: the text is not JSON (line {err.lineno}, column {err.colno}: "
                                f"{err.msg}); give the output of `kubectl get nodes,pods,services,endpointslices "
                                "-A -o json`") from None
    if isinstance(data, Mapping) and "items" in data:
        return list(data["items"] or ())
    if isinstance(data, list):
        return list(data)
    raise ManifestError("from_kubectl: expected a List with items (the output of `kubectl get nodes,pods,services,"
                        "endpointslices -A -o json`)")


def _net_around(addresses: list[ipaddress.IPv4Address], default: ipaddress.IPv4Network, prefix: int = 16
                ) -> ipaddress.IPv4Network:
    """``default`` when it holds every address, else the ``/prefix`` (or wider) block that does."""
    if all(a in default for a in addresses):
        return default
    net = ipaddress.IPv4Network((int(addresses[0]), prefix), strict=False)
    while not all(a in net for a in addresses):
        net = net.supernet()
    return net


def _image(node: Mapping[str, Any]) -> tuple[str, str | None]:
    os_image = ((node.get("status") or {}).get("nodeInfo") or {}).get("osImage", "")
    for needle, name in (("24.04", "ubuntu-24.04"), ("22.04", "ubuntu-22.04"), ("Azure Linux", "azurelinux-3"),
                         ("Mariner", "azurelinux-3")):
        if needle in os_image:
            return name, None
    return images.DEFAULT_IMAGE, f"node image: {os_image or 'not given'}; netlab takes {images.DEFAULT_IMAGE}"


def _containers(pod: Mapping[str, Any]) -> tuple[Container, ...]:
    out = []
    for c in (pod.get("spec") or {}).get("containers") or ():
        ports = [ContainerPort(p["containerPort"], p.get("name"), p.get("protocol", "TCP"))
                 for p in c.get("ports") or () if "containerPort" in p]
        out.append(Container(c["name"], ports=ports))
    return tuple(out) or (Container("app"),)


def read(data: Any) -> Imported:
    """Read the objects (JSON text, or the parsed dict) into an :class:`Imported`."""
    items = _items(data)
    by_kind: dict[str, list[Mapping[str, Any]]] = {}
    for item in items:
        if isinstance(item, Mapping):
            by_kind.setdefault(str(item.get("kind")), []).append(item)
    nodes = by_kind.get("Node", [])
    if not nodes:
        raise ManifestError("from_kubectl: the objects hold no Node: run `kubectl get nodes,pods,services,"
                            "endpointslices -A -o json` (nodes first) and give its whole output")
    assumptions: list[str] = []
    rows = []
    for node in nodes:
        name = node["metadata"]["name"]
        addrs = [a["address"] for a in (node.get("status") or {}).get("addresses") or () if a.get("type") == "InternalIP"]
        if not addrs:
            raise ManifestError(f"from_kubectl: node {name} has no InternalIP in status.addresses")
        cidr = (node.get("spec") or {}).get("podCIDR")
        rows.append((name, ipaddress.IPv4Address(addrs[0]), ipaddress.IPv4Network(cidr) if cidr else None, node))
    rows.sort(key=lambda r: int(r[1]))
    labels = rows[0][3]["metadata"].get("labels") or {}
    node_ips = [r[1] for r in rows]
    pod_items = by_kind.get("Pod", [])
    live, skipped_host, skipped_pending = [], [], []
    for pod in pod_items:
        spec, status = pod.get("spec") or {}, pod.get("status") or {}
        key = f"{pod['metadata'].get('namespace', 'default')}/{pod['metadata']['name']}"
        if spec.get("hostNetwork"):
            skipped_host.append(key)
        elif not status.get("podIP"):
            skipped_pending.append(key)
        else:
            live.append(pod)
    pod_ips = [ipaddress.IPv4Address(p["status"]["podIP"]) for p in live]

    # the plugin
    plugin_label = labels.get("kubernetes.azure.com/network-plugin")
    if labels.get("kubernetes.azure.com/azure-cni-overlay") == "true" or \
            labels.get("kubernetes.azure.com/podnetwork-type") == "overlay":
        plugin = Plugin.AZURE_CNI_OVERLAY
    elif plugin_label in ("kubenet", "azure", "none"):
        plugin = {"kubenet": Plugin.KUBENET, "azure": Plugin.AZURE_CNI, "none": Plugin.NONE}[plugin_label]
    else:
        subnet_guess = _net_around(node_ips, AKS_SUBNET)
        plugin = Plugin.AZURE_CNI if pod_ips and all(ip in subnet_guess for ip in pod_ips) else Plugin.KUBENET
        assumptions.append(f"plugin: the nodes carry no kubernetes.azure.com/network-plugin label; netlab took "
                           f"{plugin.value} from where the pods' addresses are")

    # names: MC_<resource group>_<cluster>_<location>
    mc = labels.get("kubernetes.azure.com/cluster", "")
    parts = mc.split("_")
    settings: dict[str, Any] = {}
    if len(parts) >= 4 and parts[0] == "MC":
        settings.update(resource_group="_".join(parts[1:-2]), name=parts[-2], location=parts[-1])
    else:
        assumptions.append("cluster name, resource group and location: not in the node labels "
                           "(kubernetes.azure.com/cluster); netlab took netlab, netlab-rg, westeurope")
    pool = labels.get("kubernetes.azure.com/agentpool") or labels.get("agentpool") or "nodepool1"

    # ranges
    subnet = _net_around(node_ips + (pod_ips if plugin is Plugin.AZURE_CNI else []), AKS_SUBNET)
    settings["subnet_cidr"] = str(subnet)
    settings["vnet_cidr"] = str(AKS_VNET if subnet.subnet_of(AKS_VNET) else subnet)
    assumptions.append(f"node subnet {subnet} and VNet {settings['vnet_cidr']}: the smallest AKS-like ranges holding "
                       "the nodes' addresses (the objects do not give them)")
    if plugin in (Plugin.KUBENET, Plugin.AZURE_CNI_OVERLAY):
        cidrs = [r[2] for r in rows if r[2] is not None]
        if not cidrs:
            raise ManifestError(f"from_kubectl: a {plugin.value} cluster's nodes have spec.podCIDR, but these have "
                                "none; give `kubectl get nodes -o json` from the cluster itself")
        pod_cidr = _net_around([c.network_address for c in cidrs] + [c.broadcast_address for c in cidrs], AKS_PODS)
        settings["pod_cidr"] = str(pod_cidr)
        assumptions.append(f"pod CIDR {pod_cidr}: the smallest range holding every node's podCIDR")
    services = by_kind.get("Service", [])
    svc_ips = {(s["metadata"].get("namespace"), s["metadata"]["name"]): (s.get("spec") or {}).get("clusterIP")
               for s in services}
    first = svc_ips.get(("default", "kubernetes"))
    dns = svc_ips.get(("kube-system", "kube-dns"))
    known = [ipaddress.IPv4Address(ip) for ip in svc_ips.values() if ip and ip != "None"]
    service_cidr = _net_around(known or [AKS_SERVICES.network_address + 1], AKS_SERVICES)
    if first and ipaddress.IPv4Address(first) != service_cidr.network_address + 1:
        service_cidr = ipaddress.IPv4Network((int(ipaddress.IPv4Address(first)) - 1, service_cidr.prefixlen),
                                             strict=False)
    settings["service_cidr"] = str(service_cidr)
    if dns:
        settings["dns_service_ip"] = dns
    assumptions.append(f"service CIDR {service_cidr}: the AKS-sized range holding every ClusterIP")
    caps = {int((r[3].get("status") or {}).get("capacity", {}).get("pods", 0) or 0) for r in rows} - {0}
    if caps:
        settings["max_pods"] = max(caps)
    image, note = _image(rows[0][3])
    settings["node_image"] = image
    if note:
        assumptions.append(note)
    if plugin is Plugin.AZURE_CNI:
        assumptions.append("Azure CNI mode: transparent (AKS's default); the objects do not say")

    # pods
    index = {r[0]: i for i, r in enumerate(rows)}
    pods = []
    for pod in sorted(live, key=lambda p: (p["metadata"].get("creationTimestamp", ""), p["metadata"]["name"])):
        meta = pod["metadata"]
        where = (pod.get("spec") or {}).get("nodeName")
        if where not in index:
            skipped_pending.append(f"{meta.get('namespace', 'default')}/{meta['name']}")
            continue
        pods.append((meta.get("namespace", "default"), meta["name"], index[where],
                     ipaddress.IPv4Address(pod["status"]["podIP"]), _containers(pod),
                     tuple(sorted((meta.get("labels") or {}).items()))))
    if skipped_host:
        assumptions.append(f"{len(skipped_host)} pod(s) on the host network share their node's address and are not "
                           f"drawn as pods: {', '.join(sorted(skipped_host)[:4])}{' ...' if len(skipped_host) > 4 else ''}")
    if skipped_pending:
        assumptions.append(f"{len(skipped_pending)} pod(s) with no address or node yet are left out: "
                           f"{', '.join(sorted(skipped_pending)[:4])}{' ...' if len(skipped_pending) > 4 else ''}")

    # Services (kubernetes and kube-dns are every cluster's own)
    out_svcs = []
    skipped_svc = []
    for s in sorted(services, key=lambda s: (s["metadata"].get("namespace", ""), s["metadata"]["name"])):
        meta, spec = s["metadata"], s.get("spec") or {}
        key = (meta.get("namespace", "default"), meta["name"])
        if key in (("default", "kubernetes"), ("kube-system", "kube-dns")):
            continue
        stype = spec.get("type", "ClusterIP")
        if stype == "ExternalName" or spec.get("clusterIP") in (None, "None"):
            skipped_svc.append(f"{key[0]}/{key[1]}")
            continue
        ports = [{k: p[k] for k in ("name", "port", "targetPort", "protocol", "nodePort") if k in p}
                 for p in spec.get("ports") or ()]
        timeout = ((spec.get("sessionAffinityConfig") or {}).get("clientIP") or {}).get("timeoutSeconds")
        out_svcs.append(dict(
            name=key[1], namespace=key[0], selector=spec.get("selector"), ports=ports, type=stype,
            cluster_ip=spec["clusterIP"], external_traffic_policy=spec.get("externalTrafficPolicy") if stype != "ClusterIP" else None,
            internal_traffic_policy=spec.get("internalTrafficPolicy", "Cluster"),
            session_affinity=spec.get("sessionAffinity", "None"),
            session_affinity_timeout=timeout if spec.get("sessionAffinity") == "ClientIP" else None,
            load_balancer_source_ranges=spec.get("loadBalancerSourceRanges"), external_ips=spec.get("externalIPs")))
    if skipped_svc:
        assumptions.append(f"headless and ExternalName Services have no virtual IP and are left out: "
                           f"{', '.join(skipped_svc)}")
    if any(s["type"] == "LoadBalancer" for s in out_svcs):
        assumptions.append("load balancer public IPs: allocated by netlab (203.0.113.0/24), not the cluster's")
    assumptions.append("kube-proxy mode: iptables (AKS's default); the objects do not say")
    assumptions.append("endpoints: from each Service's selector and the pods read here, every pod taken as ready")
    return Imported(plugin, settings, pool, tuple((r[0], r[1], r[2]) for r in rows), tuple(pods), tuple(out_svcs),
                    tuple(assumptions))


def objects(cluster: Any) -> dict[str, Any]:
    """The cluster as ``kubectl get nodes,pods,services,endpointslices -A -o json`` prints it
    (the fields :func:`read` uses, and the labels AKS puts on nodes), plus kube-proxy's pods on
    the host network, as every AKS node runs one.

    >>> import netlab as nl
    >>> data = objects(nl.Cluster.aks("azure-cni-overlay", nodes=2).add_pod("web-0"))
    >>> [i["kind"] for i in data["items"]].count("Node"), read(data).plugin
    (2, <Plugin.AZURE_CNI_OVERLAY: 'azure-cni-overlay'>)
    """
    from ..model import naming
    from . import manifests

    cfg = cluster.config
    plugin_label = {Plugin.KUBENET: "kubenet", Plugin.AZURE_CNI: "azure", Plugin.AZURE_CNI_OVERLAY: "azure",
                    Plugin.NONE: "none"}[cfg.plugin]
    os_image = {"ubuntu-24.04": "Ubuntu 24.04.3 LTS", "ubuntu-22.04": "Ubuntu 22.04.5 LTS",
                "azurelinux-3": "Microsoft Azure Linux 3.0"}.get(cfg.node_image, cfg.node_image)
    items: list[dict[str, Any]] = []
    for node in cluster.node_records():
        labels = {"agentpool": cfg.node_pool, "kubernetes.azure.com/agentpool": cfg.node_pool,
                  "kubernetes.azure.com/cluster": naming.node_resource_group(cfg.name, cfg.resource_group, cfg.location),
                  "kubernetes.azure.com/network-plugin": plugin_label, "kubernetes.io/hostname": node.name,
                  "kubernetes.io/os": "linux"}
        if cfg.plugin is Plugin.AZURE_CNI_OVERLAY:
            labels["kubernetes.azure.com/azure-cni-overlay"] = "true"
            labels["kubernetes.azure.com/podnetwork-type"] = "overlay"
        spec: dict[str, Any] = {"providerID": f"azure:///subscriptions/.../virtualMachines/{node.index}"}
        if node.pod_cidr is not None and cfg.plugin in (Plugin.KUBENET, Plugin.AZURE_CNI_OVERLAY):
            spec.update(podCIDR=str(node.pod_cidr), podCIDRs=[str(node.pod_cidr)])
        items.append({"apiVersion": "v1", "kind": "Node", "metadata": {"name": node.name, "labels": labels},
                      "spec": spec,
                      "status": {"addresses": [{"type": "InternalIP", "address": str(node.ip)},
                                               {"type": "Hostname", "address": node.name}],
                                 "capacity": {"pods": str(cfg.max_pods)},
                                 "nodeInfo": {"osImage": os_image, "kubeProxyVersion": "", "kernelVersion": ""}}})
    for node in cluster.node_records():  # kube-proxy: a DaemonSet on the host network
        name = f"kube-proxy-{naming.random_suffix(cfg.name, 'kube-proxy', node.name)}"
        items.append({"apiVersion": "v1", "kind": "Pod",
                      "metadata": {"name": name, "namespace": "kube-system", "labels": {"component": "kube-proxy"}},
                      "spec": {"hostNetwork": True, "nodeName": node.name,
                               "containers": [{"name": "kube-proxy", "image": "mcr.microsoft.com/oss/kubernetes/kube-proxy"}]},
                      "status": {"phase": "Running", "hostIP": str(node.ip), "podIP": str(node.ip)}})
    for pod in cluster.pod_records():
        item = manifests.pod_manifest(cluster, pod)
        item["metadata"]["creationTimestamp"] = f"2026-12-01T10:{pod.seq // 60 % 60:02d}:{pod.seq % 60:02d}Z"
        node = cluster.node_record(pod.node)
        item["status"] = {"phase": "Running", "hostIP": str(node.ip), "podIP": str(pod.ip),
                          "podIPs": [{"ip": str(pod.ip)}]}
        items.append(item)
    items.extend(cluster.api_objects()["items"])
    return {"apiVersion": "v1", "kind": "List", "items": items, "metadata": {"resourceVersion": ""}}
