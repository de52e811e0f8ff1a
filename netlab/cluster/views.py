"""The cluster's views by node, pod and Service: what ``c.nodes[0]``, ``c.pods["web-0"]`` and
``c.services["web"]`` give, each with the text the real tools print there (``ip``, ``bridge``,
``iptables-save``, ``ipvsadm``, ``nft``, ``crictl``...).

A view holds its cluster and one node or pod; it reads the cluster through its public methods
and builds nothing itself.

Example:
    >>> import netlab as nl
    >>> c = nl.Cluster.aks("kubenet", nodes=2).add_pod("web-0")
    >>> c.nodes[0], c.pods["web-0"]
    (<Node aks-nodepool1-87544974-vmss000000 10.224.0.4, pods 10.244.0.0/24, 1 pod(s)>, <Pod default/web-0 10.244.0.2 on aks-nodepool1-87544974-vmss000000>)
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..cni import dataplane as cni
from ..errors import ConfigError, NotFoundError, did_you_mean
from ..k8s import services
from ..model.types import Node, Plugin, Pod
from ..model.netfilter import format_save
from ..model.routing import format_ip_route
from ..text.formats import ToolText, format_ip_addr

if TYPE_CHECKING:
    from ..cni import runtime
    from .core import Cluster


class NodesView(Sequence):
    """The nodes of a cluster: ``c.nodes[0]``, ``c.nodes["aks-...-vmss000001"]``, ``len(c.nodes)``."""

    def __init__(self, cluster: Cluster) -> None:
        self._c = cluster

    def __len__(self) -> int:
        return self._c.node_count

    def __getitem__(self, key):  # type: ignore[override]
        if isinstance(key, slice):
            return [self[i] for i in range(*key.indices(len(self)))]
        if isinstance(key, int) and not isinstance(key, bool) and key < 0:
            if key < -len(self):
                raise NotFoundError(f"there is no node {key}: this cluster has {len(self)} node(s); count from the "
                                    f"end with -1 to -{len(self)}")
            key += len(self)
        return NodeView(self._c, self._c.node_record(key))

    def __iter__(self) -> Iterator["NodeView"]:
        for i in range(len(self)):
            yield NodeView(self._c, self._c.node_record(i))

    def __repr__(self) -> str:
        return f"<{len(self)} nodes: {', '.join(n.name for n in self[:3])}{', ...' if len(self) > 3 else ''}>"


class PodsView(Mapping):
    """The pods of a cluster by name: ``c.pods["web-0"]`` or ``c.pods["kube-system/coredns-0"]``."""

    def __init__(self, cluster: Cluster) -> None:
        self._c = cluster

    def __getitem__(self, name: str) -> "PodView":
        return PodView(self._c, self._c.pod_record(name))

    def __contains__(self, name: object) -> bool:  # `"web-0" in c.pods` answers, never raises
        return isinstance(name, str) and name in set(self)

    def get(self, name: str, default: Any = None) -> Any:
        return self[name] if name in self else default

    def __iter__(self) -> Iterator[str]:
        for ns, name in self._c.pod_keys():
            yield name if ns == "default" else f"{ns}/{name}"

    def __len__(self) -> int:
        return self._c.pod_count()

    def __repr__(self) -> str:
        names = list(self)
        return f"<{len(names)} pods: {', '.join(names[:5])}{', ...' if len(names) > 5 else ''}>"


class ServicesView(Mapping):
    """The Services of a cluster by name: ``c.services["web"]``, ``c.services["kube-system/kube-dns"]``."""

    def __init__(self, cluster: Cluster) -> None:
        self._c = cluster

    def __getitem__(self, name: str) -> "services.ServiceView":
        return services.ServiceView(self._c, self._c.service_record(name))

    def __contains__(self, name: object) -> bool:  # `"web" in c.services` answers, never raises
        return isinstance(name, str) and name in set(self)

    def get(self, name: str, default: Any = None) -> Any:
        return self[name] if name in self else default

    def __iter__(self) -> Iterator[str]:
        for ns, name in (e.key for e in self._c.service_records()):
            yield name if ns == "default" else f"{ns}/{name}"

    def __len__(self) -> int:
        return len(self._c.service_records())

    def __repr__(self) -> str:
        return f"<{len(self)} Services: {', '.join(self)}>"


class NodeView:
    """One node of a cluster, with the text views its own tools would print."""

    def __init__(self, cluster: Cluster, node: Node) -> None:
        self._c, self.node = cluster, node

    name = property(lambda self: self.node.name)
    ip = property(lambda self: self.node.ip)
    index = property(lambda self: self.node.index)
    pod_cidr = property(lambda self: self.node.pod_cidr, doc="The node's /24 (kubenet, overlay), if any.")

    @property
    def pods(self) -> list["PodView"]:
        return [PodView(self._c, p) for p in self._c.pods_on(self.node.index)]

    @property
    def dataplane(self) -> cni.NodeDataplane:
        return self._c.node_dataplane(self.node.index)

    @property
    def interfaces(self):
        return self.dataplane.interfaces

    @property
    def routes(self):
        return self.dataplane.routes

    def ip_route(self) -> str:
        """``ip route`` on the node."""
        return ToolText(format_ip_route(self.routes))

    def ip_addr(self, dev: str | None = None) -> str:
        """``ip addr`` on the node (in IPVS mode with the dummy ``kube-ipvs0`` holding every Service address);
        ``dev="cbr0"`` is ``ip addr show dev cbr0``."""
        uplink = "azure0" if self.dataplane.bridge == "azure0" else "eth0"
        interfaces = self._c.node_interfaces(self.index)
        if dev is not None:
            chosen = tuple(i for i in interfaces if i.name == dev)
            if not chosen:
                raise NotFoundError(f'Device "{dev}" does not exist on node {self.name}.'
                                    + did_you_mean(dev, [i.name for i in interfaces]))
            interfaces = chosen
        return ToolText(format_ip_addr(interfaces, metric_on=uplink))

    def ip_link(self, dev: str | None = None, details: bool = False, master: str | None = None) -> str:
        """``ip link show`` on the node; ``details=True`` is ``ip -d link show``; ``dev="cbr0"`` is
        ``ip link show dev cbr0``; ``master="cbr0"`` is ``ip link show master cbr0`` (the bridge's ports).

        With details, kubenet's ``cbr0`` shows ``promiscuity 1`` (AKS's ``promiscMode: true``) and
        each pod's port ``bridge_slave ... hairpin off`` (``hairpinMode: false``; see
        :mod:`netlab.model.images`). Details need ``dev`` or ``master``: netlab does not model the Azure
        NIC driver's details for ``eth0``.

        >>> import netlab as nl
        >>> c = nl.Cluster.aks("kubenet").add_pod("web-0")
        >>> print(c.nodes[0].ip_link("cbr0"))
        3: cbr0: <BROADCAST,MULTICAST,PROMISC,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP mode DEFAULT group default qlen 1000
            link/ether 32:f6:1f:31:10:8c brd ff:ff:ff:ff:ff:ff
        >>> "hairpin off" in c.nodes[0].ip_link(master="cbr0", details=True)
        True
        """
        interfaces = self.interfaces
        names = [i.name for i in interfaces]
        for what, value in (("dev", dev), ("master", master)):
            if value is not None and value not in names:
                raise NotFoundError(f'Device "{value}" does not exist on node {self.name}.' + did_you_mean(str(value), names))
        if dev is not None:
            interfaces = tuple(i for i in interfaces if i.name == dev)
        if master is not None:
            interfaces = tuple(i for i in interfaces if i.master == master)
        if details and any(i.kind == "ether" for i in interfaces):
            bridge = self.dataplane.bridge
            hint = (f"node.ip_link({bridge!r}, details=True) or node.ip_link(master={bridge!r}, details=True)"
                    if bridge else "node.ip_link('lo', details=True)")
            raise ConfigError(f"ip -d link prints eth0's driver details (Azure's hv_netvsc NIC), which netlab does "
                              f"not model; name an interface it does: {hint}")
        return ToolText(cni.format_ip_link(interfaces, details=details, node_interfaces=self.interfaces))

    def bridge_link(self, details: bool = False) -> str:
        """``bridge link show`` on the node: every bridge port (``details=True``: ``bridge -d link show``,
        the only form that prints a port's ``hairpin`` flag).

        >>> import netlab as nl
        >>> print(nl.Cluster.aks("kubenet").add_pod("web-0").nodes[0].bridge_link())
        4: veth3b2c3b2c@eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 master cbr0 state forwarding priority 32 cost 2
        """
        return ToolText(cni.format_bridge_link(self.interfaces, details=details))

    def ebtables(self) -> str:
        """``ebtables -t filter -L`` on the node: on kubenet, AKS's ``AKS-DEDUP-PROMISC`` chain, which drops
        the duplicate frames the promiscuous ``cbr0`` produces (:func:`netlab.cni.dedup_rules`).

        netlab models ebtables for kubenet (AKS's rule) and ``none`` (Docker adds none); Azure CNI's
        own ebtables rules (bridge mode) are not modelled.
        """
        plugin = self._c.config.plugin
        if plugin not in (Plugin.KUBENET, Plugin.NONE):
            return ToolText(f"(ebtables -t filter -L: netlab models ebtables only for kubenet's promiscuous cbr0 "
                            f"(AKS's dedup rule); this cluster uses {plugin.value})")
        return ToolText(cni.format_ebtables(self.dataplane.bridge_rules))

    def iptables_nat(self) -> str:
        """The node's own nat rules that decide SNAT of pod traffic leaving the node (ip-masq-agent's,
        or Docker's for plugin ``none``), as ``iptables-save -t nat`` prints them."""
        return ToolText("\n".join(format_save(r) for r in self.dataplane.nat))

    def iptables_save(self) -> str:
        """``iptables-save`` on the node: kube-proxy's rules (in the modes that use iptables) and the
        node's own nat rules (ip-masq-agent), as the kernel prints them back."""
        from ..kubeproxy.modes import record

        text = record(self._c.proxy_mode).save(self._c.node_proxy(self.index).extra, self.dataplane.nat)
        return ToolText(text.rstrip("\n"))

    def _mode_view(self, view: str) -> str:
        """A view only one proxy mode has (the registry says which), or why this node has none."""
        from ..kubeproxy.modes import mode_with_view, record

        current = record(self._c.proxy_mode)
        if view not in current.views:
            owner = mode_with_view(view)
            return ToolText(f"({owner.views[view].tool}: kube-proxy on this node runs in {current.name} mode, not "
                            f"{owner.name} mode; cluster.with_proxy_mode({owner.name!r}) shows it)")
        return ToolText(current.render(self._c.node_proxy(self.index).extra, current.views[view].form).rstrip("\n"))

    def ipvsadm(self) -> str:
        """``ipvsadm -Ln`` on the node (IPVS mode: one virtual server per Service address and port)."""
        return self._mode_view("ipvsadm")

    def ipset_list(self) -> str:
        """The ipsets kube-proxy keeps in IPVS mode."""
        return self._mode_view("ipset_list")

    def nft_list(self) -> str:
        """``nft list table ip kube-proxy`` on the node (nftables mode)."""
        return self._mode_view("nft_list")

    @property
    def sandboxes(self) -> list["runtime.Sandbox"]:
        """The node's pod sandboxes (one pause container per pod), newest first, as ``crictl pods`` lists them."""
        return [self._c.sandbox(p) for p in sorted(self._c.pods_on(self.index), key=lambda p: -p.seq)]

    def crictl_pods(self) -> str:
        """``crictl pods`` on the node: one pod sandbox per pod, newest first.

        Each sandbox is a pause container holding the pod's network namespace (:mod:`netlab.cni.runtime`);
        ``CREATED`` matches the pods' ``AGE`` in :meth:`Cluster.kubectl_get_pods`.

        >>> import netlab as nl
        >>> c = nl.Cluster.aks("kubenet").add_pod("web-0").add_pod("api-0")
        >>> print(c.nodes[0].crictl_pods())
        POD ID              CREATED              STATE               NAME                NAMESPACE           ATTEMPT             RUNTIME
        88293d147b572       About a minute ago   Ready               api-0               default             0                   (default)
        9b86cc4521762       2 minutes ago        Ready               web-0               default             0                   (default)
        """
        from ..cni import runtime

        return ToolText(runtime.format_crictl_pods(self.sandboxes))

    def crictl_ps(self) -> str:
        """``crictl ps`` on the node: the running app containers, newest first.

        The pause containers are not listed (``crictl pods`` shows them as sandboxes); ``POD ID``
        names the sandbox whose network namespace each container joined.

        >>> import netlab as nl
        >>> c = nl.Cluster.aks("kubenet").add_pod("web-0", containers=[nl.Container("nginx", ports=[80]),
        ...                                                           nl.Container("log-shipper")])
        >>> print(c.nodes[0].crictl_ps())
        CONTAINER           IMAGE               CREATED              STATE               NAME                ATTEMPT             POD ID              POD                 NAMESPACE
        6855fd9e4f8b7       cf6356a4be5cc       About a minute ago   Running             log-shipper         0                   9b86cc4521762       web-0               default
        24cb096711349       3ba4dd6a43799       About a minute ago   Running             nginx               0                   9b86cc4521762       web-0               default
        """
        from ..cni import runtime

        age = self._c.pod_age
        pods = sorted(self._c.pods_on(self.index), key=lambda p: -p.seq)
        return ToolText(runtime.format_crictl_ps([c for p in pods for c in runtime.containers_of(p, age(p))]))

    def kube_proxy_ports(self) -> str:
        """Userspace mode: the port kube-proxy's process listens on for each Service port."""
        return self._mode_view("kube_proxy_ports")

    def __repr__(self) -> str:
        extra = f", pods {self.pod_cidr}" if self.pod_cidr else ""
        return f"<Node {self.name} {self.ip}{extra}, {len(self.node.pods)} pod(s)>"


class PodView:
    """One pod of a cluster, with the text views ``kubectl exec <pod> -- ...`` would print."""

    def __init__(self, cluster: Cluster, pod: Pod) -> None:
        self._c, self.pod = cluster, pod

    name = property(lambda self: self.pod.name)
    namespace = property(lambda self: self.pod.namespace)
    ip = property(lambda self: self.pod.ip)
    containers = property(lambda self: self.pod.containers)
    labels = property(lambda self: self.pod.label_map)

    @property
    def node(self) -> NodeView:
        return NodeView(self._c, self._c.node_record(self.pod.node))

    @property
    def dataplane(self) -> cni.PodDataplane:
        return self._c.pod_dataplane(self.pod)

    @property
    def interfaces(self):
        return self.dataplane.interfaces

    @property
    def routes(self):
        return self.dataplane.routes

    def ip_route(self) -> str:
        """``ip route`` inside the pod's network namespace."""
        return ToolText(format_ip_route(self.routes))

    def ip_addr(self) -> str:
        """``ip addr`` inside the pod's network namespace."""
        return ToolText(format_ip_addr(self.interfaces))

    @property
    def sandbox(self) -> "runtime.Sandbox":
        """The pod's sandbox: the pause container that holds its network namespace (:mod:`netlab.cni.runtime`).

        >>> import netlab as nl
        >>> c = nl.Cluster.aks("kubenet").add_pod("web-0")
        >>> sb = c.pods["web-0"].sandbox
        >>> sb.short_id, sb.image, sb.netns
        ('9b86cc4521762', 'mcr.microsoft.com/oss/kubernetes/pause:3.6', 'cni-6620d18f-b440-71c7-c942-5bb48df99dcf')
        """
        return self._c.sandbox(self.pod)

    def __repr__(self) -> str:
        return f"<Pod {self.namespace}/{self.name} {self.ip} on {self._c.node_record(self.pod.node).name}>"
