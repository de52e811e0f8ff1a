"""The cluster: desired state in, dataplane out.

A :class:`Cluster` is an immutable value. ``add_pod``, ``add_node`` and
``with_plugin`` return a new cluster and leave the old one untouched, so a failed
change never loses what a learner built. Nodes and pods are kept in persistent maps
(``rpds``), so adding a pod to a 5,000-node cluster copies a few small pieces, not
the whole cluster.

Example:
    >>> import netlab as nl
    >>> c = nl.Cluster.aks(plugin="kubenet", nodes=2)
    >>> c = c.add_pod("web-0", node=0, labels={"app": "web"},
    ...               containers=[nl.Container("nginx", ports=[80])])
    >>> c.pods["web-0"].ip, c.nodes[0].pod_cidr
    (IPv4Address('10.244.0.2'), IPv4Network('10.244.0.0/24'))

Taught in ``notebooks/01-single-pod.ipynb`` onwards.

Size: the facade: every method a learner calls on a cluster lives here (building, changing, asking),
and each is a few lines handing over to the layer that owns the idea; the views by node, pod and
Service are in :mod:`.views`.
"""

from __future__ import annotations

import dataclasses
import gc
import ipaddress
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rpds import HashTrieMap, HashTrieSet

from ..azure import network as azurenet
from ..cni import dataplane as cni
from ..model import ipam, naming
from ..k8s import services
from ..errors import ConfigError, NetlabError, did_you_mean, DuplicateError, NodeFullError, NotFoundError, ServiceError
from ..text.formats import ToolText, format_pods_wide, format_route_table
from ..model.types import (
    AzureRoute,
    ClusterConfig,
    CniMode,
    Container,
    ProxyMode,
    Interface,
    IPv4Address,
    IPv4Interface,
    Node,
    Plugin,
    Pod,
    check_pod_ports,
)

from .views import NodesView, PodsView, ServicesView

if TYPE_CHECKING:
    from ..model import images
    from .. import kubeproxy as kp
    from ..cni import runtime

_DNS1123 = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
_LABEL = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
_AKS_SETTINGS = ("vnet_cidr", "subnet_cidr", "pod_cidr", "service_cidr", "dns_service_ip", "max_pods", "cni_mode",
                 "name", "resource_group", "location", "node_image", "hairpin_mode")


def _check_name(name: object, what: str) -> str:
    if not isinstance(name, str) or len(name) > 253 or not _DNS1123.match(name):
        raise ConfigError(
            f"{what} name {name!r} is not valid: Kubernetes names use lowercase letters, digits, "
            "'-' and '.', start and end with a letter or digit, and are at most 253 characters "
            "(for example 'web-0')"
        )
    return name


@dataclass
class _Derived:
    """What one cluster value has derived so far. The value never changes, so neither does
    anything here; a change makes a new cluster with nothing derived yet."""

    api: dict[str, Any] | None = None  # kubectl get svc,endpointslices -A -o json
    api_parsed: tuple[tuple, tuple] | None = None  # (Services, EndpointSlices) as kube-proxy reads them
    pod_index: dict[int, dict[IPv4Address, list[Pod]]] = field(default_factory=dict)  # node -> address -> pods
    node_dataplanes: dict[int, "cni.NodeDataplane"] = field(default_factory=dict)
    pod_dataplanes: dict[tuple[str, str], "cni.PodDataplane"] = field(default_factory=dict)
    proxies: dict[int, Any] = field(default_factory=dict)  # node -> kube-proxy's BuiltMode
    runtimes: dict[int, tuple] = field(default_factory=dict)  # node -> (engine, context, router)
    udr: tuple[AzureRoute, ...] | None = None
    udr_lines: dict[AzureRoute, str] | None = None
    vnet_routes: tuple[AzureRoute, ...] | None = None
    # id(routes) -> (text, row per route, routes): keyed by identity, since hashing hundreds of
    # routes on every lookup would cost more than the lookup; holding routes keeps the id unique
    addresses: dict[IPv4Address, list[Any]] | None = None  # imported clusters: address -> nodes and pods
    effective_tables: dict[int, tuple[str, dict[AzureRoute, str], tuple[AzureRoute, ...]]] = field(default_factory=dict)


@dataclass(frozen=True, eq=False)
class Cluster:
    """An AKS cluster as data. Build one with :meth:`Cluster.aks`."""

    config: ClusterConfig
    node_count: int
    # Persistent maps (rpds): every change shares what it does not touch. Read them through the
    # public methods below (node_record, pod_record, pod_records, service_records, pods_selected...).
    _nodes: HashTrieMap = field(repr=False)  # index -> Node
    _pods: HashTrieMap = field(repr=False)  # (namespace, name) -> Pod
    _next_seq: int = 0
    _services: HashTrieMap = field(default=HashTrieMap(), repr=False)  # (namespace, name) -> ServiceEntry
    _labels: HashTrieMap = field(default=HashTrieMap(), repr=False)  # (namespace, key, value) -> HashTrieSet of pod keys
    _workloads: HashTrieMap = field(default=HashTrieMap(), repr=False)  # (kind, namespace, name) -> manifests.Workload
    _applied: tuple[str, ...] = field(default=(), repr=False)  # what the last apply() said
    _derived: "_Derived" = field(default_factory=lambda: _Derived(), init=False, repr=False, compare=False)

    # ----------------------------------------------------------------- building
    @classmethod
    def aks(
        cls,
        plugin: "Plugin | str" = "kubenet",
        nodes: int = 1,
        pods_per_node: int = 0,
        *,
        name: str = "netlab",
        vnet_cidr: str | None = None,
        subnet_cidr: str | None = None,
        pod_cidr: str | None = None,
        service_cidr: str | None = None,
        dns_service_ip: str | None = None,
        max_pods: int | None = None,
        cni_mode: "CniMode | str" = "transparent",
        resource_group: str = "netlab-rg",
        location: str = "westeurope",
        node_image: str = "ubuntu-24.04",
        hairpin_mode: bool = False,
    ) -> "Cluster":
        """A cluster with AKS's defaults for ``plugin`` (``none``, ``kubenet``,
        ``azure-cni``, ``azure-cni-overlay``).

        ``pods_per_node`` fills every node with pods named ``pod-<node>-<n>`` (for scale
        experiments). Ranges left out take AKS's defaults: VNet ``10.224.0.0/12``, subnet
        ``10.224.0.0/16``, pod CIDR ``10.244.0.0/16``, service CIDR ``10.0.0.0/16``,
        DNS service IP ``10.0.0.10``.

        ``node_image`` is the nodes' OS image (:mod:`netlab.model.images`: ``ubuntu-24.04``, AKS's
        default from Kubernetes 1.35; ``ubuntu-22.04``; ``azurelinux-3``). ``hairpin_mode`` is
        kubenet's bridge setting: AKS writes ``False`` (``cbr0`` promiscuous, hairpin off on its
        ports); ``True`` is the fix AgentBaker pull request 8426 proposes, so a pod reaches
        itself through its own Service on Ubuntu 24.04 too.

        >>> Cluster.aks("azure-cni", nodes=2).nodes[1].ip
        IPv4Address('10.224.0.35')
        """
        if not isinstance(nodes, int) or isinstance(nodes, bool) or nodes < 1:
            raise ConfigError(f"nodes={nodes!r}: an AKS cluster needs at least one node (a whole number)")
        for what, value in (("name", name), ("resource_group", resource_group), ("location", location)):
            if not isinstance(value, str) or not value:
                raise ConfigError(f"{what}={value!r}: give a non-empty name, such as {what}='netlab'")
        if not isinstance(pods_per_node, int) or isinstance(pods_per_node, bool) or pods_per_node < 0:
            raise ConfigError(f"pods_per_node={pods_per_node!r} must be a whole number, 0 or more")
        _check_name(name, "cluster")
        cfg = ipam.make_config(
            plugin, nodes=nodes, name=name, vnet_cidr=vnet_cidr, subnet_cidr=subnet_cidr,
            pod_cidr=pod_cidr, service_cidr=service_cidr, dns_service_ip=dns_service_ip,
            max_pods=max_pods, cni_mode=cni_mode, resource_group=resource_group, location=location,
            node_image=node_image, hairpin_mode=hairpin_mode,
        )
        if pods_per_node > cfg.max_pods:
            raise NodeFullError(
                f"pods_per_node={pods_per_node} is more than max_pods={cfg.max_pods}: a node runs at "
                "most max_pods pods; raise max_pods (10-250) or lower pods_per_node"
            )
        app, labels = (Container("app"),), (("app", "bulk"),)
        placements = [
            [(("default", f"pod-{n}-{j}"), app, labels) for j in range(pods_per_node)]
            for n in range(nodes)
        ]
        return cls._build(cfg, nodes, placements)

    @classmethod
    def from_kubectl(cls, data: Any) -> "Cluster":
        """A cluster read from a real AKS cluster: the JSON of
        ``kubectl get nodes,pods,services,endpointslices -A -o json`` (text, a parsed dict, or a
        file's path).

        The plugin (kubenet, Azure CNI or Overlay) comes from the nodes' labels; node names,
        addresses and pod CIDRs, pod addresses, labels and container ports, Service ClusterIPs,
        ports and NodePorts are the cluster's own, so traces and every view use them. What netlab
        had to assume is listed by :meth:`describe`. See :mod:`netlab.k8s.kubectl`.
        """
        import pathlib

        from ..k8s import kubectl

        if isinstance(data, pathlib.Path) or (isinstance(data, str) and "\n" not in data
                                              and data.strip().endswith(".json")):
            try:
                data = pathlib.Path(data).read_text(encoding="utf-8")
            except OSError as err:
                raise ConfigError(f"from_kubectl: cannot read {data}: {err.strerror}; give the path of the JSON "
                                  "file or its text") from None
        imp = kubectl.read(data)
        n = len(imp.nodes)
        cfg = ipam.make_config(imp.plugin, nodes=n, **imp.settings)
        cfg = dataclasses.replace(cfg, node_pool=imp.node_pool, imported=True, notes=cfg.notes + imp.assumptions)
        node_map: dict[int, Node] = {}
        pods_by_node: dict[int, list] = {i: [] for i in range(n)}
        for pod in imp.pods:
            pods_by_node[pod[2]].append(pod)
        pod_map: dict[tuple[str, str], Pod] = {}
        by_label: dict[tuple[str, str, str], set] = {}
        seq = 0
        for i, (name, ip, cidr) in enumerate(imp.nodes):
            if cfg.plugin is Plugin.AZURE_CNI:
                cidr = None
            elif cfg.plugin is Plugin.NONE:
                cidr = cfg.docker_bridge_cidr.network
            keys = []
            for ns, pname, _n, pip, conts, labels in pods_by_node[i]:
                if cidr is not None and cfg.plugin is not Plugin.NONE and pip not in cidr:
                    raise ConfigError(f"from_kubectl: pod {ns}/{pname} has {pip}, outside its node {name}'s pod "
                                      f"CIDR {cidr}: the objects disagree; give one `kubectl get` output, taken at once")
                pod_map[(ns, pname)] = Pod(pname, ns, i, pip, conts, labels, seq)
                for label in labels:
                    by_label.setdefault((ns, *label), set()).add((ns, pname))
                keys.append((ns, pname))
                seq += 1
            node_map[i] = Node(i, name, ip, cidr, (ip + 1, cfg.max_pods) if cfg.plugin is Plugin.AZURE_CNI else None,
                               tuple(keys), len(keys) - 1)
        cluster = cls(cfg, n, HashTrieMap(node_map), HashTrieMap(pod_map), seq, services.default_services(cfg),
                      HashTrieMap({k: HashTrieSet(v) for k, v in by_label.items()}))
        for svc in imp.services:
            try:
                cluster = cluster.add_service(**svc)
            except NetlabError as err:
                raise ConfigError(f"from_kubectl: Service {svc['namespace']}/{svc['name']}: {err}") from None
        return cluster

    @classmethod
    def _build(cls, cfg: ClusterConfig, nodes: int, placements: Sequence[Sequence[tuple]]) -> "Cluster":
        """Allocate every node and pod in one pass (no per-pod copy of the cluster).

        Addresses are computed as integers (the same arithmetic as :func:`ipam.pod_ip`);
        the garbage collector is paused while the many small values are created, since
        none of them can form a cycle.
        """
        ipam.check_node_count(cfg, nodes)
        node_map: dict[int, Node] = {}
        pod_map: dict[tuple[str, str], Pod] = {}
        by_label: dict[tuple[str, str, str], set] = {}
        seq = 0
        addr = ipaddress.IPv4Address
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            for n in range(nodes):
                keys = []
                base = int(ipam.pod_ip(cfg, n, 0))
                for slot, place in enumerate(placements[n] if n < len(placements) else ()):
                    key, containers, labels = place[:3]
                    made = place[3] if len(place) > 3 else seq  # a rebuilt pod keeps its place in the clock
                    pod_map[key] = Pod(key[1], key[0], n, addr(base + slot), containers, labels, made)
                    for label in labels:
                        by_label.setdefault((key[0], *label), set()).add(key)
                    keys.append(key)
                    seq = max(seq, made) + 1
                node_map[n] = cls._make_node(cfg, n, tuple(keys))
            return cls(cfg, nodes, HashTrieMap(node_map), HashTrieMap(pod_map), seq,
                       services.default_services(cfg),
                       HashTrieMap({k: HashTrieSet(v) for k, v in by_label.items()}))
        finally:
            if was_enabled:
                gc.enable()

    @staticmethod
    def _make_node(cfg: ClusterConfig, n: int, pods: tuple = ()) -> Node:
        return Node(
            index=n,
            name=naming.node_name(cfg.name, cfg.resource_group, cfg.node_pool, n),
            ip=ipam.node_ip(cfg, n),
            pod_cidr=ipam.node_pod_cidr(cfg, n),
            pod_range=ipam.node_pod_range(cfg, n),
            pods=pods,
            last_reserved=len(pods) - 1,  # _build hands out slots 0, 1, 2, ... in order
        )

    def add_pod(
        self,
        name: str,
        node: "int | str" = 0,
        labels: Mapping[str, str] | None = None,
        containers: Sequence[Container] | None = None,
        namespace: str = "default",
    ) -> "Cluster":
        """A new cluster with one more pod on ``node`` (an index or a node name).

        The pod takes the address its node's IPAM hands out next: on kubenet (``host-local``)
        the one after the address it reserved last, even if a lower one is free again; under the
        other plugins the lowest free one. Containers default to one container named ``app``.
        """
        _check_name(name, "pod")
        _check_name(namespace, "namespace")
        n = self.node_index(node)
        key = (namespace, name)
        if key in self._pods:
            raise DuplicateError.rerun(
                f"pod {name} already exists in namespace {namespace}: pod names are unique within "
                "a namespace; pick another name or another namespace",
                f"add_pod({name!r}, ...)", "the pod")
        if isinstance(containers, Container):
            containers = [containers]
        if containers is not None and not isinstance(containers, (list, tuple)):
            raise ConfigError(f"pod {name}: containers must be a list of nl.Container(...), not {containers!r}")
        if labels is not None and (not isinstance(labels, Mapping) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in labels.items())):
            raise ConfigError(f"pod {name}: labels are a dict of text keys and values, such as {{'app': 'web'}}, "
                              f"not {labels!r}")
        for label, value in (labels or {}).items():
            if not _LABEL.match(label.rpartition("/")[2]) or (value and not _LABEL.match(value)):
                raise ConfigError(f"pod {name}: label {label}={value} is not valid: label keys and values use letters, "
                                  "digits, '-', '_' and '.', start and end with a letter or digit, at most 63 characters")
        conts = tuple(containers) if containers is not None else (Container("app"),)
        if not conts or not all(isinstance(c, Container) for c in conts):
            raise ConfigError(
                f"pod {name}: containers must be a non-empty list of nl.Container(...), "
                "for example [nl.Container('nginx', ports=[80])]"
            )
        check_pod_ports(name, conts)
        lab = tuple(sorted((str(k), str(v)) for k, v in (labels or {}).items()))
        old = self._nodes[n]
        used = {self._pods[k].ip for k in old.pods}
        if self.config.imported:
            slot, address = old.last_reserved + 1, self._free_address(old, name)
        else:
            slot = ipam.free_slot(self.config, n, old.name, used, name, last=old.last_reserved)
            address = ipam.pod_ip(self.config, n, slot)
        pod = Pod(name, namespace, n, address, conts, lab, self._next_seq)
        new_node = dataclasses.replace(old, pods=old.pods + (key,), last_reserved=slot)
        by_label = self._labels
        for label in lab:
            lk = (namespace, *label)
            by_label = by_label.insert(lk, by_label.get(lk, HashTrieSet()).insert(key))
        return dataclasses.replace(self, _nodes=self._nodes.insert(n, new_node),
                                   _pods=self._pods.insert(key, pod), _next_seq=self._next_seq + 1,
                                   _labels=by_label)

    def add_coredns(self, replicas: int = 2) -> "Cluster":
        """A new cluster running CoreDNS, the DNS server behind the ``kube-system/kube-dns`` Service.

        Adds the Deployment ``coredns``'s pods (``coredns-<hash>-<suffix>`` in ``kube-system``,
        label ``k8s-app=kube-dns``, container ``coredns`` on 53/UDP, 53/TCP and 9153/TCP), so the
        ``kube-dns`` EndpointSlice lists them and DNS queries to ``10.0.0.10:53`` are delivered.
        Replicas are spread as the scheduler would: fewest CoreDNS replicas, then fewest pods,
        then the lowest node index (round-robin from node 0 on an empty cluster). Clusters do not
        run CoreDNS until this is called, so the course's pod addresses stay as they are; the
        pods take addresses like any other pod. See :mod:`netlab.k8s.addons`.

        >>> c = Cluster.aks("kubenet", nodes=2).add_coredns()
        >>> print(c.kubectl_get_pods(namespace="kube-system"))
        NAME                      READY   STATUS    RESTARTS   AGE   IP           NODE                                NOMINATED NODE   READINESS GATES
        coredns-6445b85ff-88h6d   1/1     Running   0          2m    10.244.0.2   aks-nodepool1-87544974-vmss000000   <none>           <none>
        coredns-6445b85ff-xt52g   1/1     Running   0          1m    10.244.1.2   aks-nodepool1-87544974-vmss000001   <none>           <none>
        """
        from ..k8s import addons

        return addons.add_coredns(self, replicas)

    # ----------------------------------------------------------------- manifests
    def apply(self, source: Any, namespace: str = "default") -> "Cluster":
        """A new cluster with the objects of a manifest applied, as ``kubectl apply -f`` would.

        ``source`` is YAML or JSON text (several documents separated by ``---``, or a ``List``) or a
        file's path. Pods, Deployments, ReplicaSets, StatefulSets, DaemonSets and Services are built
        (their pods named and spread over the nodes as the controllers and the scheduler do);
        objects without ``metadata.namespace`` go to ``namespace``. What apply did, and every field
        netlab ignored or does not model, is in :attr:`applied`. See :mod:`netlab.k8s.manifests`.
        """
        from ..k8s import manifests

        return manifests.apply(self, source, namespace)

    @property
    def applied(self) -> str:
        """What the last :meth:`apply` said: ``kubectl apply``'s lines (``deployment.apps/shop
        created``), then the fields netlab ignored or does not model."""
        return ToolText("\n".join(self._applied) if self._applied else "nothing applied yet")

    def to_manifests(self, path: Any = None, include_system: bool = False) -> str:
        """The cluster's workloads and Services as YAML that :meth:`apply` reads back to the same
        pods and Services (written to ``path`` too, when given). AKS's own objects
        (``kube-system``, ``default/kubernetes``) are left out unless ``include_system``."""
        from ..k8s import manifests

        text = manifests.to_manifests(self, include_system)
        if path is not None:
            import pathlib

            pathlib.Path(path).write_text(text, encoding="utf-8")
        return ToolText(text)

    def workload(self, kind: str, namespace: str, name: str) -> Any:
        """The object :meth:`apply` built (a :class:`netlab.k8s.manifests.Workload`), or None."""
        return self._workloads.get((kind, namespace, name))

    def workload_records(self) -> tuple:
        """Every object :meth:`apply` built, oldest first."""
        return tuple(sorted(self._workloads.values(), key=lambda w: (w.seq, w.key)))

    def with_workload(self, workload: Any) -> "Cluster":
        """The same cluster remembering ``workload`` (used by :meth:`apply`)."""
        return dataclasses.replace(self, _workloads=self._workloads.insert(workload.key, workload))

    def with_applied(self, lines: Sequence[str]) -> "Cluster":
        """The same cluster with :attr:`applied` saying ``lines`` (used by :meth:`apply`)."""
        return dataclasses.replace(self, _applied=tuple(lines))

    def next_seq(self) -> int:
        """The creation clock: the number the next pod or object made gets."""
        return self._next_seq

    def remove_pod(self, name: str, namespace: str = "default") -> "Cluster":
        """A new cluster without the pod (its address becomes free again)."""
        pod = self.pod_record(name, namespace)
        old = self._nodes[pod.node]
        new_node = dataclasses.replace(old, pods=tuple(k for k in old.pods if k != pod.key))
        by_label = self._labels
        for label in pod.labels:
            lk = (pod.namespace, *label)
            left = by_label[lk].remove(pod.key)
            by_label = by_label.insert(lk, left) if left else by_label.remove(lk)
        return dataclasses.replace(self, _nodes=self._nodes.insert(pod.node, new_node),
                                   _pods=self._pods.remove(pod.key), _labels=by_label,
                                   _workloads=self._workloads.discard(("Pod", *pod.key)))

    def add_node(self, count: int = 1) -> "Cluster":
        """A new cluster with ``count`` more (empty) nodes."""
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            raise ConfigError(f"add_node(count={count!r}): count must be a whole number, 1 or more")
        total = self.node_count + count
        ipam.check_node_count(self.config, total)
        nodes = self._nodes
        for n in range(self.node_count, total):
            nodes = nodes.insert(n, self._make_node(self.config, n))
        return dataclasses.replace(self, node_count=total, _nodes=nodes)

    def with_plugin(self, plugin: "Plugin | str", **settings: Any) -> "Cluster":
        """The same nodes and pods under another plugin, re-addressed from scratch.

        Ranges that do not apply to the new plugin are dropped; ``settings`` override
        any :meth:`aks` keyword (``max_pods`` takes the new plugin's default unless given).
        """
        plugin = ipam.parse_plugin(plugin)
        unknown = sorted(set(settings) - set(_AKS_SETTINGS))
        if unknown:
            key = unknown[0]
            hint = (" To change the number of nodes, use .add_node(count), or start again with "
                    "Cluster.aks(plugin, nodes=...)." if key in ("nodes", "node_count", "pods_per_node") else
                    did_you_mean(key, _AKS_SETTINGS))
            raise ConfigError(f"with_plugin() does not take {key!r}: it takes the ranges and settings of "
                              f"Cluster.aks ({', '.join(_AKS_SETTINGS)}); nodes and pods stay as they are.{hint}")
        cfg = self.config
        kwargs: dict[str, Any] = dict(
            name=cfg.name, resource_group=cfg.resource_group, location=cfg.location,
            node_image=cfg.node_image, hairpin_mode=cfg.hairpin_mode and plugin is Plugin.KUBENET,
            vnet_cidr=cfg.vnet_cidr, service_cidr=cfg.service_cidr, dns_service_ip=cfg.dns_service_ip,
            cni_mode=cfg.cni_mode if plugin is Plugin.AZURE_CNI else CniMode.TRANSPARENT,
        )
        if "subnet_cidr" not in cfg.widened:
            kwargs["subnet_cidr"] = cfg.subnet_cidr
        if plugin in (Plugin.KUBENET, Plugin.AZURE_CNI_OVERLAY) and cfg.pod_cidr is not None \
                and "pod_cidr" not in cfg.widened:
            kwargs["pod_cidr"] = cfg.pod_cidr
        kwargs.update(settings)
        new_cfg = dataclasses.replace(ipam.make_config(plugin, nodes=self.node_count, **kwargs),
                                      proxy_mode=cfg.proxy_mode)
        placements = [
            [(k, self._pods[k].containers, self._pods[k].labels, self._pods[k].seq)
             for k in sorted(self._nodes[n].pods, key=lambda k: self._pods[k].seq)]
            for n in range(self.node_count)
        ]
        for n, pods in enumerate(placements):
            if len(pods) > new_cfg.max_pods:
                raise NodeFullError(
                    f"node {self._nodes[n].name} runs {len(pods)} pods, but {plugin.value} with "
                    f"max_pods={new_cfg.max_pods} gives a node only {new_cfg.max_pods}; pass a larger "
                    "max_pods or spread the pods over more nodes"
                )
        rebuilt = Cluster._build(new_cfg, self.node_count, placements)
        return dataclasses.replace(rebuilt, _services=services.rehome(self._services, cfg, new_cfg),
                                   _next_seq=self._next_seq, _workloads=self._workloads)

    # ----------------------------------------------------------------- services
    def add_service(
        self,
        name: str,
        selector: Mapping[str, str] | None = None,
        ports: Any = (80,),
        type: str = "ClusterIP",  # noqa: A002 - the API's own field name
        *,
        namespace: str = "default",
        external_traffic_policy: str | None = None,
        internal_traffic_policy: str = "Cluster",
        session_affinity: str = "None",
        session_affinity_timeout: int | None = None,
        cluster_ip: str | None = None,
        load_balancer_source_ranges: Sequence[str] | None = None,
        external_ips: Sequence[str] | None = None,
        check_named_ports: bool = True,
        **unknown: Any,
    ) -> "Cluster":
        """A new cluster with one more Service.

        ``ports`` takes numbers (``[80]``) or dicts with ``name``, ``port``, ``targetPort``
        (a number or a container port's name), ``protocol`` and ``nodePort``. The
        ClusterIP, NodePorts, the health-check node port (LoadBalancer with ``Local``
        policy) and the load balancer's public IP are allocated unless given.

        A named ``targetPort`` that none of the selected pods declares is refused, to catch the
        typo early; :meth:`apply` passes ``check_named_ports=False``, as the API server accepts such
        a Service (its pods then give it no endpoint for that port).

        >>> c = Cluster.aks("kubenet").add_service("web", selector={"app": "web"}, ports=[80], type="NodePort")
        >>> c.services["web"].ports[0].node_port
        31734
        """
        if unknown:
            # Without this, a learner's `node_port=30080` would meet Python's bare TypeError.
            import inspect


            key = sorted(unknown)[0]
            known = [k for k in inspect.signature(Cluster.add_service).parameters if k not in ("self", "unknown")]
            port_hint = (" A port's settings go in ports: ports=[{'port': 80, 'targetPort': 8080, "
                         "'nodePort': 30080}]." if key.replace("_", "").lower() in
                         ("nodeport", "targetport", "port", "protocol") else "")
            raise ServiceError(f"add_service() has no setting {key!r}.{did_you_mean(key, known)}{port_hint} "
                               f"Its settings are {', '.join(known)}")
        entry = services.new_service(
            self, name, selector, ports, type, namespace=namespace,
            external_traffic_policy=external_traffic_policy, internal_traffic_policy=internal_traffic_policy,
            session_affinity=session_affinity, session_affinity_timeout=session_affinity_timeout,
            cluster_ip=cluster_ip, load_balancer_source_ranges=load_balancer_source_ranges,
            external_ips=external_ips, check_ports=check_named_ports,
        )
        return dataclasses.replace(self, _services=self._services.insert(entry.key, entry))

    def remove_service(self, name: str, namespace: str = "default") -> "Cluster":
        """A new cluster without the Service (its ClusterIP and NodePorts become free)."""
        entry = self.service_record(name, namespace)
        return dataclasses.replace(self, _services=self._services.remove(entry.key),
                                   _workloads=self._workloads.discard(("Service", *entry.key)))

    def with_proxy_mode(self, mode: "ProxyMode | str") -> "Cluster":
        """The same cluster with kube-proxy in another mode: ``iptables`` (the default),
        ``ipvs`` (deprecated in 1.35), ``nftables`` (GA in 1.33) or ``userspace`` (removed in 1.26)."""
        try:
            mode = ProxyMode(mode)
        except ValueError:
            names = ", ".join(repr(m.value) for m in ProxyMode)
            raise ConfigError(f"kube-proxy has no mode {mode!r}: choose one of {names}"
                              + did_you_mean(str(mode), [m.value for m in ProxyMode])) from None
        return dataclasses.replace(self, config=dataclasses.replace(self.config, proxy_mode=mode))

    @property
    def proxy_mode(self) -> ProxyMode:
        return self.config.proxy_mode

    def with_node_image(self, node_image: str) -> "Cluster":
        """The same cluster on another node image (:mod:`netlab.model.images`): ``ubuntu-24.04``,
        ``ubuntu-22.04`` or ``azurelinux-3``. Addresses and names stay as they are.

        >>> Cluster.aks("kubenet").with_node_image("azurelinux-3").node_image.kernel_version
        '6.6'
        """
        from ..model import images

        name = images.image(node_image).name
        return dataclasses.replace(self, config=dataclasses.replace(self.config, node_image=name))

    def with_hairpin_mode(self, on: bool = True) -> "Cluster":
        """The same kubenet cluster with hairpin mode on (or off) on ``cbr0``'s pod ports: the fix
        AgentBaker pull request 8426 proposes (AKS writes ``hairpinMode: false``)."""
        if not isinstance(on, bool):
            raise ConfigError(f"with_hairpin_mode({on!r}): hairpin mode is on (True) or off (False)")
        if on and self.config.plugin is not Plugin.KUBENET:
            raise ConfigError(f"hairpin mode is kubenet's bridge setting (cbr0's ports), and this cluster uses "
                              f"{self.config.plugin.value}; switch with .with_plugin('kubenet', hairpin_mode=True)")
        return dataclasses.replace(self, config=dataclasses.replace(self.config, hairpin_mode=on))

    @property
    def node_image(self) -> "images.NodeImage":
        """The nodes' OS image (:class:`netlab.model.images.NodeImage`): OS, kernel and its behaviour."""
        from ..model import images

        return images.image(self.config.node_image)

    @property
    def services(self) -> "ServicesView":
        """The Services, by name (``"web"``) or ``"namespace/name"``."""
        return ServicesView(self)

    def service_record(self, name: str, namespace: str | None = None) -> "services.ServiceEntry":
        """The Service ``name`` (or ``namespace/name``) as data; a :class:`NotFoundError` that names where it is otherwise."""
        if not isinstance(name, str):
            raise NotFoundError(f"Services are looked up by name, such as 'web' or 'kube-system/kube-dns', not {name!r}")
        ns, _, nm = name.rpartition("/") if "/" in name else (namespace or "default", "", name)
        entry = self._services.get((ns, nm))
        if entry is None:
            elsewhere = [f"{k[0]}/{k[1]}" for k in self._services.keys() if k[1] == nm]
            hint = (f" It is in namespace {elsewhere[0].split('/')[0]}: write {elsewhere[0]!r}." if elsewhere else
                    did_you_mean(nm, [n for (_, n) in self._services.keys()]))
            raise NotFoundError(f"there is no Service {nm!r} in namespace {ns}.{hint} List them with "
                                "cluster.kubectl_get_svc(all_namespaces=True).")
        return entry

    def api_objects(self) -> dict[str, Any]:
        """Services and EndpointSlices as ``kubectl get svc,endpointslices -A -o json`` prints them."""
        hit = self._derived.api
        if hit is None:
            items: list[dict[str, Any]] = []
            entries = sorted(self._services.values(), key=lambda e: e.key)
            for e in entries:
                items.append(services.service_object(e))
            for e in entries:
                items.extend(services.endpoint_slices(self, e))
            hit = self._derived.api = {"apiVersion": "v1", "kind": "List", "items": items}
        return hit

    def kubectl_get_svc(self, namespace: str | None = "default", all_namespaces: bool = False,
                        wide: bool = True) -> str:
        """Services as ``kubectl get svc -o wide`` (``all_namespaces=True`` for ``-A``; ``wide=False`` for plain
        ``kubectl get svc``, which has no SELECTOR column)."""
        return ToolText(services.format_get_svc(self, namespace, all_namespaces or namespace is None, wide))

    def kubectl_get_endpointslices(self, namespace: str | None = "default", all_namespaces: bool = False) -> str:
        """EndpointSlices as ``kubectl get endpointslices``."""
        return ToolText(services.format_get_endpointslices(self, namespace, all_namespaces or namespace is None))

    def az_lb_rules(self) -> str:
        """``az network lb rule list --lb-name kubernetes -o table``: one rule per LoadBalancer Service port."""
        from ..azure import lb as azurelb

        return ToolText(azurelb.format_rules(self))

    def az_lb_probes(self) -> str:
        """``az network lb probe list --lb-name kubernetes -o table``: the health probes."""
        from ..azure import lb as azurelb

        return ToolText(azurelb.format_probes(self))

    def with_cni_mode(self, mode: "CniMode | str") -> "Cluster":
        """Azure CNI in ``transparent`` (default) or ``bridge`` mode, same addresses."""
        try:
            mode = CniMode(mode)
        except ValueError:
            raise ConfigError(f"unknown Azure CNI mode {mode!r}: choose 'transparent' or 'bridge'") from None
        if self.config.plugin is not Plugin.AZURE_CNI and mode is not CniMode.TRANSPARENT:
            raise ConfigError(f"cni_mode {mode.value!r} is an Azure CNI setting, and this cluster uses "
                              f"{self.config.plugin.value}; switch with .with_plugin('azure-cni', cni_mode='bridge')")
        return dataclasses.replace(self, config=dataclasses.replace(self.config, cni_mode=mode))

    # ----------------------------------------------------------------- lookups
    @property
    def plugin(self) -> Plugin:
        return self.config.plugin

    @property
    def nodes(self) -> "NodesView":
        """The nodes, indexable by position or by name."""
        return NodesView(self)

    @property
    def pods(self) -> "PodsView":
        """The pods, by name (``"web-0"``) or ``"namespace/name"``."""
        return PodsView(self)

    def node_index(self, node: "int | str") -> int:
        """The index of a node given by index or by name (``aks-nodepool1-...-vmss000001``)."""
        if isinstance(node, bool):
            node = str(node)
        if isinstance(node, int):
            if 0 <= node < self.node_count:
                return node
            raise NotFoundError(
                f"there is no node {node}: this cluster has {self.node_count} node(s), numbered "
                f"0 to {self.node_count - 1}; add one with .add_node()"
            )
        m = re.search(r"vmss([0-9a-z]{6})$", str(node))
        if m:
            n = int(m.group(1), 36)
            if n < self.node_count and self._nodes[n].name == node:
                return n
        names = [self._nodes[i].name for i in range(min(self.node_count, 1000))]
        shown = ", ".join(repr(n) for n in names[:3]) + (", ..." if len(names) > 3 else "")
        raise NotFoundError(f"there is no node named {node!r}.{did_you_mean(str(node), names)} This cluster's "
                            f"nodes are {shown}; give one of those names or its index, 0 to {self.node_count - 1}")

    def pod_record(self, name: str, namespace: str | None = None) -> Pod:
        """The pod ``name`` (or ``namespace/name``) as data; a :class:`NotFoundError` that names where it is otherwise."""
        if not isinstance(name, str):
            raise NotFoundError(f"pods are looked up by name, such as 'web-0' or 'kube-system/coredns-0', not {name!r}")
        ns, _, nm = name.rpartition("/") if "/" in name else (namespace or "default", "", name)
        if namespace is not None and "/" not in name:
            ns = namespace
        pod = self._pods.get((ns, nm))
        if pod is None:
            keys = list(self._pods.keys()) if len(self._pods) <= 5000 else []
            elsewhere = [f"{k[0]}/{k[1]}" for k in keys if k[1] == nm]
            hint = (f" It is in namespace {elsewhere[0].split('/')[0]}: write {elsewhere[0]!r}." if elsewhere else
                    did_you_mean(nm, [n for (_, n) in keys]))
            raise NotFoundError(f"there is no pod {nm!r} in namespace {ns}.{hint} List the pods with "
                                "cluster.kubectl_get_pods(all_namespaces=True).")
        return pod

    def node_record(self, node: "int | str") -> Node:
        """Node ``node`` (an index or a name) as data."""
        return self._nodes[self.node_index(node)]

    def node_records(self) -> tuple[Node, ...]:
        """Every node as data, by index."""
        return tuple(self._nodes[n] for n in range(self.node_count))

    def find_pod(self, name: str, namespace: str = "default") -> Pod | None:
        """The pod, or ``None`` when there is none of that name (no error)."""
        return self._pods.get((namespace, name))

    def pod_records(self) -> tuple[Pod, ...]:
        """Every pod as data, oldest first (the order they were created in)."""
        return tuple(sorted(self._pods.values(), key=lambda p: p.seq))

    def pod_count(self) -> int:
        return len(self._pods)

    def pod_keys(self) -> tuple[tuple[str, str], ...]:
        """Every pod's ``(namespace, name)``, sorted."""
        return tuple(sorted(self._pods.keys()))

    def service_records(self) -> tuple["services.ServiceEntry", ...]:
        """Every Service as data, by namespace and name."""
        return tuple(sorted(self._services.values(), key=lambda e: e.key))

    def find_service(self, name: str, namespace: str = "default") -> "services.ServiceEntry | None":
        """The Service, or ``None`` when there is none of that name (no error)."""
        return self._services.get((namespace, name))

    def pods_at(self, node: int, ip: IPv4Address) -> tuple[Pod, ...]:
        """The pods on node ``node`` that hold ``ip`` (more than one only on overlapping ``none`` bridges)."""
        return tuple(self._pod_index(node).get(ip, ()))

    def pods_on(self, node: "int | str") -> tuple[Pod, ...]:
        """The pods of one node, oldest first."""
        n = self.node_index(node)
        return tuple(self._pods[k] for k in self._nodes[n].pods)

    def pod_age(self, pod: Pod) -> int:
        """Minutes since ``pod`` was created on the cluster's clock (one minute per pod created since)."""
        return self._next_seq - pod.seq

    def sandbox(self, pod: Pod) -> "runtime.Sandbox":
        """The pod's sandbox (its pause container and network namespace) as the runtime holds it."""
        from ..cni import runtime

        return runtime.sandbox_of(pod, self._nodes[pod.node].name, self.pod_age(pod))

    def pods_selected(self, namespace: str, selector: Sequence[tuple[str, str]]) -> tuple[Pod, ...]:
        """The pods of ``namespace`` whose labels include every ``(key, value)`` of ``selector``,
        by address then name (an empty selector selects nothing, as a Service's does).

        Read from an index kept by every change, so a Service's EndpointSlice costs what it
        selects, not the number of pods in the cluster.

        >>> c = Cluster.aks("kubenet").add_pod("a", labels={"app": "web"}).add_pod("b", labels={"app": "db"})
        >>> [p.name for p in c.pods_selected("default", [("app", "web")])]
        ['a']
        """
        if not selector:
            return ()
        sets = sorted((self._labels.get((namespace, k, v), HashTrieSet()) for k, v in selector), key=len)
        keys = set(sets[0])
        for more in sets[1:]:
            keys.intersection_update(more)
        return tuple(sorted((self._pods[k] for k in keys), key=lambda p: (int(p.ip), p.name)))

    def owners(self, ip: IPv4Address) -> tuple[Any, ...]:
        """Every node or pod holding ``ip`` (more than one only for overlapping ``none`` bridges)."""
        ip = ipam.parse_address(ip, "address")
        cfg = self.config
        if cfg.imported:  # a real cluster's addresses follow no arithmetic: look them up
            return tuple(self._addresses().get(ip, ()))
        found: list[Any] = []
        if ip in cfg.subnet_cidr:
            off = int(ip) - int(cfg.subnet_cidr.network_address) - ipam.AZURE_FIRST_HOST
            step = cfg.max_pods + 1 if cfg.plugin is Plugin.AZURE_CNI else 1
            if off >= 0:
                n, r = divmod(off, step)
                if n < self.node_count:
                    if r == 0:
                        return (self._nodes[n],)
                    return tuple(p for p in self.pods_on(n) if p.ip == ip)
            return ()
        if cfg.plugin is Plugin.NONE:
            if ip in cfg.docker_bridge_cidr.network:
                for n in range(self.node_count):
                    found += [p for p in self._pod_index(n).get(ip, ())]
            return tuple(found)
        n = azurenet.overlay_node(cfg, self.node_count, ip)
        return tuple(self._pod_index(n).get(ip, ())) if n is not None else ()

    def _addresses(self) -> dict[IPv4Address, list[Any]]:
        idx = self._derived.addresses
        if idx is None:
            idx = self._derived.addresses = {}
            for node in self.node_records():
                idx.setdefault(node.ip, []).append(node)
            for pod in self.pod_records():
                idx.setdefault(pod.ip, []).append(pod)
        return idx

    def _free_address(self, node: Node, pod: str) -> IPv4Address:
        """A new pod's address on a real cluster's node: the lowest free one of its pod CIDR
        (from ``.2``), or under Azure CNI of the addresses after the node's."""
        taken = self._addresses()
        first, count = ((node.pod_cidr.network_address + 2, node.pod_cidr.num_addresses - 3)
                        if node.pod_cidr is not None else (node.ip + 1, self.config.max_pods))
        for k in range(count):
            if first + k not in taken:
                return first + k
        raise NodeFullError(f"pod {pod}: node {node.name} has no free pod address left; put the pod on another node")

    def pod_cidr_node(self, ip: IPv4Address) -> int | None:
        """The node whose pod CIDR (kubenet, Overlay) holds ``ip``, or None."""
        if not self.config.imported:
            return azurenet.overlay_node(self.config, self.node_count, ip)
        return next((n.index for n in self.node_records() if n.pod_cidr is not None and ip in n.pod_cidr), None)

    def _pod_index(self, n: int) -> dict[IPv4Address, list[Pod]]:
        idx = self._derived.pod_index.get(n)
        if idx is None:
            idx = self._derived.pod_index[n] = {}
            for p in self.pods_on(n):
                idx.setdefault(p.ip, []).append(p)
        return idx

    # ----------------------------------------------------------------- dataplane
    def node_dataplane(self, n: int) -> cni.NodeDataplane:
        dp = self._derived.node_dataplanes.get(n)
        if dp is None:
            dp = self._derived.node_dataplanes[n] = cni.node_dataplane(self.config, self._nodes[n], self.pods_on(n))
        return dp

    def pod_dataplane(self, pod: Pod) -> cni.PodDataplane:
        dp = self._derived.pod_dataplanes.get(pod.key)
        if dp is None:
            dp = self._derived.pod_dataplanes[pod.key] = cni.pod_dataplane(self.config, self._nodes[pod.node], pod)
        return dp

    # ----------------------------------------------------------------- kube-proxy on each node
    def proxy_config(self, n: "int | str") -> "kp.ProxyConfig":
        """kube-proxy's settings on node ``n``, as AKS configures them.

        ``cluster_cidr`` (the local-traffic detector, ``--detect-local-mode=ClusterCIDR``) is the
        pod CIDR for kubenet and Overlay, the node subnet for Azure CNI (whose pods live there),
        and unset for plugin ``none``.
        """
        from .. import kubeproxy as kp

        node = self._nodes[self.node_index(n)]
        cfg = self.config
        cidr = (cfg.pod_cidr if cfg.pod_cidr is not None else
                cfg.subnet_cidr if cfg.plugin is Plugin.AZURE_CNI else None)
        return kp.ProxyConfig(node_name=node.name, node_ips=[node.ip], cluster_cidr=cidr)

    def _api_parsed(self):
        hit = self._derived.api_parsed
        if hit is None:
            from ..kubeproxy import api as kapi

            items = self.api_objects()["items"]
            svcs = tuple(e.spec for e in sorted(self._services.values(), key=lambda e: e.key))
            slices = tuple(kapi.parse_endpoint_slice(i) for i in items if i["kind"] == "EndpointSlice")
            hit = self._derived.api_parsed = (svcs, slices)
        return hit

    def node_proxy(self, n: int):
        """kube-proxy's mode built for node ``n`` (its engine, rules and printed forms)."""
        hit = self._derived.proxies.get(n)
        if hit is None:
            from ..kubeproxy.modes import record

            svcs, slices = self._api_parsed()
            hit = self._derived.proxies[n] = record(self.config.proxy_mode).built(svcs, slices, self.proxy_config(n))
        return hit

    def node_runtime(self, n: int):
        """``(engine, context, router)`` of node ``n``: kube-proxy's engine, then the node's own rules."""
        hit = self._derived.runtimes.get(n)
        if hit is None:
            from ..kubeproxy.engine import IptablesEngine, chain
            from ..model.netfilter import Context
            from ..model.routing import lookup

            node = self._nodes[n]
            built = self.node_proxy(n)
            dp = self.node_dataplane(n)
            own = [a.ip for i in dp.interfaces for a in i.addresses if a.ip != node.ip]
            ctx = Context.for_node([node.ip], extra_local=(*own, *built.local_addresses), ipsets=built.ipsets,
                                   interface_addresses=tuple((i.name, i.addresses[0].ip)
                                                             for i in dp.interfaces if i.addresses))
            engine = chain(built.engine, IptablesEngine(dp.nat))
            addr_of = {i.name: i.addresses[0].ip for i in dp.interfaces if i.addresses}
            local = {node.ip, *own, *built.local_addresses}

            def route(pkt, _dp=dp, _local=local, _addr=addr_of, _node=node):
                if pkt.dst in _local or pkt.dst.is_loopback:
                    return True, None, None
                r = lookup(_dp.routes, pkt.dst)
                dev = r.dev if r is not None else "eth0"
                return False, dev, _addr.get(dev, _node.ip)

            hit = self._derived.runtimes[n] = (engine, ctx, route)
        return hit

    def graph(self) -> Any:
        """The cluster's wiring as a :class:`networkx.MultiGraph`: namespaces, interfaces, bridges, veth
        pairs, the VNet and the hosts around it, with routes as edge data (see :mod:`netlab.cluster.graph`).

        >>> import networkx as nx, netlab as nl
        >>> g = nl.Cluster.aks("kubenet", nodes=2).add_pod("web-0", node=0).add_pod("api-0", node=1).graph()
        >>> len(nx.shortest_path(g, "pod default/web-0", "pod default/api-0")) - 1  # wires crossed
        12
        """
        from .graph import topology

        return topology(self)

    def route_table(self) -> tuple[AzureRoute, ...]:
        """The Azure route table (UDR) AKS keeps for kubenet: one route per node.

        Other plugins have none: Azure CNI pods are VNet addresses, and Overlay routes
        live in Azure's own routing domain.
        """
        if self.config.plugin is not Plugin.KUBENET:
            return ()
        rt = self._derived.udr
        if rt is None:
            rt = self._derived.udr = azurenet.node_routes(self.node_records())
        return rt

    def vnet_routes(self) -> tuple[AzureRoute, ...]:
        """The effective routes of the node subnet: Azure's system routes plus the UDR."""
        hit = self._derived.vnet_routes
        if hit is None:
            hit = self._derived.vnet_routes = azurenet.vnet_routes(self.config, self.route_table())
        return hit

    # ----------------------------------------------------------------- views
    def azure_route_table(self) -> str:
        """The route table as ``az network route-table route list ... -o table`` prints it."""
        if self.config.plugin is not Plugin.KUBENET:
            return ToolText(f"(no route table: {self.config.plugin.value} needs none; "
                            "only kubenet keeps one route per node)")
        return ToolText(format_route_table(self.route_table(), naming.node_resource_group(
            self.config.name, self.config.resource_group, self.config.location)))

    def effective_routes(self) -> str:
        """The node subnet's routes as ``az network nic show-effective-route-table -o table``
        prints them for a node's NIC: Azure's system routes, then the route table's."""
        return ToolText(self._effective_table(self.vnet_routes())[0])

    def _effective_table(self, routes: tuple[AzureRoute, ...]) -> tuple[str, dict]:
        hit = self._derived.effective_tables.get(id(routes))
        if hit is None or hit[2] is not routes:
            hit = self._derived.effective_tables[id(routes)] = (*azurenet.effective_table(routes), routes)
        return hit[0], hit[1]

    def route_table_line(self, route: AzureRoute) -> str:
        """The row of :meth:`azure_route_table` that holds ``route``."""
        lines = self._derived.udr_lines
        if lines is None:
            text = self.azure_route_table().splitlines()[2:]
            lines = self._derived.udr_lines = {r: text[i] for i, r in enumerate(self.route_table())}
        return lines[route]

    def kubectl_get_pods(self, namespace: str | None = "default", all_namespaces: bool = False,
                         wide: bool = True) -> str:
        """Pods as ``kubectl get pods -o wide`` (``all_namespaces=True`` for ``-A``; ``wide=False`` for plain
        ``kubectl get pods``: NAME READY STATUS RESTARTS AGE, no IP or NODE).

        AGE is simulated: one minute per pod created after this one, plus one.
        """
        all_namespaces = all_namespaces or namespace is None
        keys = sorted(k for k in self._pods.keys() if all_namespaces or k[0] == namespace)
        if not keys:
            return ToolText(f"No resources found in {namespace} namespace." if not all_namespaces
                            else "No resources found")
        rows = []
        for k in keys:
            p = self._pods[k]
            n = len(p.containers)
            row = [p.name, f"{n}/{n}", "Running", "0", f"{self.pod_age(p)}m", str(p.ip),
                   self._nodes[p.node].name, "<none>", "<none>"]
            if all_namespaces:
                row.insert(0, p.namespace)
            rows.append(row)
        return ToolText(format_pods_wide(rows, all_namespaces, wide))

    def describe(self, max_nodes: int = 6, max_pods: int = 8) -> str:
        """The cluster in words: the text alternative to :func:`netlab.views.plot.draw_cluster`."""
        for what, value in (("max_nodes", max_nodes), ("max_pods", max_pods)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"{what}={value!r}: give a whole number, 1 or more")
        cfg = self.config
        mode = f" ({cfg.cni_mode.value} mode)" if cfg.plugin is Plugin.AZURE_CNI else ""
        head = (f"{cfg.plugin.value}{mode} cluster {cfg.name!r}: VNet {cfg.vnet_cidr}, node subnet "
                f"{cfg.subnet_cidr}" + (f", pod CIDR {cfg.pod_cidr}" if cfg.pod_cidr else "")
                + f", service CIDR {cfg.service_cidr}, max {cfg.max_pods} pods per node")
        lines = [head]
        for nv in list(self.nodes)[:max_nodes]:
            dp = nv.dataplane
            if dp.bridge and dp.bridge != "azure0":
                wiring = f"bridge {dp.bridge} {dp.interfaces[2].addresses[0]}"
            elif dp.bridge == "azure0":
                wiring = "bridge azure0 (holds the node address, eth0 enslaved)"
            else:
                wiring = "no bridge: a /32 route per pod"
            extra = f", pods from {nv.pod_cidr}" if nv.pod_cidr is not None and cfg.plugin is not Plugin.NONE else ""
            lines.append(f"node {nv.name}: eth0 {nv.ip}, {wiring}{extra}")
            pods = self.pods_on(nv.index)
            for p in pods[:max_pods]:
                veth = cni.host_veth_name(cfg, p)
                conts = ", ".join(c.name + (" (" + ", ".join(f"{q.protocol.lower()}/{q.port}" for q in c.ports) + ")"
                                            if c.ports else "") for c in p.containers)
                where = f"on {dp.bridge}" if dp.bridge else "routed"
                lines.append(f"  pod {p.namespace}/{p.name} {p.ip}: eth0 <-> {veth} ({where}); containers: {conts}")
            if len(pods) > max_pods:
                lines.append(f"  ... and {len(pods) - max_pods} more pods")
        if self.node_count > max_nodes:
            lines.append(f"... and {self.node_count - max_nodes} more nodes")
        if cfg.imported:
            lines.append("Read from a real cluster (Cluster.from_kubectl); assumed, as the objects do not say:")
            lines.extend(f"  - {note}" for note in cfg.notes)
        if cfg.plugin is Plugin.KUBENET:
            rt = self.route_table()
            shown = ", ".join(f"{r.address_prefix} -> {r.next_hop_ip}" for r in rt[:max_nodes])
            more = f", ... ({len(rt)} routes)" if len(rt) > max_nodes else ""
            lines.append(f"Azure route table {naming.route_table_name(cfg.name, cfg.resource_group)}: {shown}{more}")
        return ToolText("\n".join(lines))

    def trace(self, src: str, dst: str, port: int | None = None, protocol: str = "tcp",
              endpoint: str | None = None, seed: int = 0, all_hooks: bool = False, after: Any = None):
        """Walk one packet from ``src`` to ``dst`` (names, addresses, Services); see :func:`netlab.trace.trace`.

        ``after=earlier_trace`` traces a new connection from the same client after that one:
        ClientIP session affinity keeps it on the same endpoint.
        """
        from ..trace.walk import trace

        return trace(self, src, dst, port=port, protocol=protocol, endpoint=endpoint, seed=seed,
                     all_hooks=all_hooks, after=after)

    def run(self, command: str, on: "str | int | None" = None, after: Any = None) -> str:
        """What ``command`` prints when a learner types it ``on`` a node, in a pod or on a host
        around the cluster (``kubectl`` and ``az`` commands need no ``on``); see :mod:`netlab.cluster.commands`.

        Every hop of a trace names its deciding line with the command that prints it:
        ``cluster.run(hop.decided_by.command, on=hop.decided_by.on, after=trace)`` shows it.
        ``after`` (a trace, or several) gives ``conntrack -L`` the connections to list.
        """
        from .commands import run

        return run(self, command, on=on, after=after)

    # ----------------------------------------------------------------- tables behind the views
    def node_interfaces(self, n: int) -> tuple:
        """Node ``n``'s interfaces as the kernel has them, with the dummy interface kube-proxy's mode adds
        (IPVS: ``kube-ipvs0``, holding every Service address)."""
        interfaces = self.node_dataplane(n).interfaces
        built = self.node_proxy(n)
        if built.dummy_device is not None:
            node = self._nodes[n]
            index = max(i.ifindex for i in interfaces) + 1
            dummy = built.dummy_device
            interfaces = interfaces + (Interface(index, dummy, "dummy", naming.virtual_mac(node.name, dummy),
                                                 tuple(IPv4Interface(f"{ip}/32") for ip in built.local_addresses),
                                                 qlen=None),)
        return interfaces

    def effective_route_row(self, route: AzureRoute, routes: tuple[AzureRoute, ...]) -> str:
        """The row of the effective route table ``routes`` (as a NIC with them prints it) holding ``route``."""
        return self._effective_table(routes)[1][route]

    def effective_routes_of(self, routes: tuple[AzureRoute, ...]) -> str:
        return ToolText(self._effective_table(routes)[0])

    def node_pod_cidrs(self) -> str:
        """``kubectl get nodes -o custom-columns=NAME:...,POD-CIDR:.spec.podCIDR,INTERNAL-IP:...``: each node's
        pod range (``<none>`` where the plugin gives nodes none)."""
        from ..text.tools import node_pod_cidrs

        rows = [(nd.name, str(nd.pod_cidr) if nd.pod_cidr else "<none>", str(nd.ip))
                for nd in (self._nodes[i] for i in range(self.node_count))]
        return ToolText(node_pod_cidrs(rows))

    def node_pod_cidr_row(self, n: int) -> str:
        return self.node_pod_cidrs().splitlines()[1 + n]

    def az_lb_outbound_rules(self) -> str:
        """``az network lb outbound-rule list -g <node resource group> --lb-name kubernetes -o table``."""
        from ..azure import lb as azurelb
        from ..text.tools import outbound_rules

        rg = naming.node_resource_group(self.config.name, self.config.resource_group, self.config.location)
        return ToolText(outbound_rules(rg, azurelb.OUTBOUND_RULE, azurelb.OUTBOUND_POOL))

    def ss_listen(self, n: int) -> str:
        """``ss -ltunp`` on node ``n``: the sockets it listens on (in userspace mode, kube-proxy's proxy ports)."""
        from ..text.tools import format_ss, listening_sockets

        return ToolText(format_ss(listening_sockets(self.node_proxy(n).listening())))

    def outbound_rule_row(self) -> str:
        return self.az_lb_outbound_rules().splitlines()[2]

    def host_routes(self, host: Any) -> tuple:
        """``ip route`` of a host around the cluster (``internet``, ``vnet-vm``, ``peered-vm``,
        ``onprem-host``) or of the on-premises router (``onprem-router``)."""
        from ..trace import names
        from ..model.types import Route
        from ..text.tools import host_routes

        cfg = self.config
        if host == "onprem-router":
            lan = cfg.onprem_cidr.network_address + 1
            return (Route(ipaddress.IPv4Network("0.0.0.0/0"), "wan0", via=ipaddress.IPv4Address("192.0.2.1"),
                          proto="static"),
                    Route(cfg.vnet_cidr, "vti0", proto="static", scope="link"),
                    Route(cfg.onprem_cidr, "lan0", proto="kernel", scope="link", src=lan))
        if isinstance(host, str):
            peer = names.source(self, host)
            if peer.host is None:
                raise ConfigError(f"{host!r} is a {peer.kind.value}, not a host around the cluster: host routes are "
                                  f"those of {', '.join(names.hosts(self.config))} or onprem-router; a node's or pod's "
                                  "are its ip_route()")
            host = peer.host
        kind = host.kind
        if kind == "internet":
            return host_routes(host.ip, 24, dhcp=False)
        if kind == "onprem":
            return host_routes(host.ip, cfg.onprem_cidr.prefixlen, dhcp=False)
        if kind == "peered":
            return host_routes(host.ip, cfg.peered_cidr.prefixlen, dhcp=True)
        return host_routes(host.ip, cfg.subnet_cidr.prefixlen, dhcp=True)

    def __repr__(self) -> str:
        cfg = self.config
        pods = f", pod CIDR {cfg.pod_cidr}" if cfg.pod_cidr else ""
        mode = f" ({cfg.cni_mode.value})" if cfg.plugin is Plugin.AZURE_CNI else ""
        return (f"<Cluster {cfg.plugin.value}{mode}: {self.node_count} node(s), {len(self._pods)} pod(s); "
                f"subnet {cfg.subnet_cidr}{pods}, service CIDR {cfg.service_cidr}>")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Cluster):
            return NotImplemented
        # Everything that defines the cluster: settings (plugin, ranges, proxy mode), nodes, pods and
        # Services. The cache is derived from these and so is left out.
        return (self.config == other.config and self.node_count == other.node_count
                and self._nodes == other._nodes and self._pods == other._pods
                and self._services == other._services)

    __hash__ = None  # type: ignore[assignment]
