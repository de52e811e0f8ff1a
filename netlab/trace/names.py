"""What a source or destination text means in a cluster: one resolver for the trace, the widgets and the kernel check.

:func:`source` and :func:`destination` read the words a learner types into
``cluster.trace(src, dst)`` and return a :class:`Peer`: one end of a connection, as a
typed, frozen value (a pod, a Service and the frontend it is reached by, a node, a host
around the cluster, a bare address, or the source's own loopback), with the port the text
names. Everything that reads such a text uses these two functions, so the model's trace,
the explorer and the check against the kernel (``netlab.linux``) always mean the same
flow. (:mod:`netlab.model.naming` is the other direction: it *makes* the names a cluster has.)

The grammar, for a destination:

- ``svc:<name>`` or ``svc:<namespace>/<name>``: the Service, at its ClusterIP;
- ``pod:<name>`` or ``pod:<namespace>/<name>``: the pod, also where a Service or host has its name;
- a bare ``<name>`` or ``<namespace>/<name>``: a Service first (as DNS would answer), else
  a host around the cluster (``internet``, ``vnet-vm``, ``peered-vm``, ``onprem-host``),
  a pod, or a node;
- an IPv4 address: a Service's load balancer IP, external IP or ClusterIP, a node's
  address, or else just that address (a pod's address stays an address: the packet goes
  wherever it is routed);
- ``<any of these>:<port>``: the same with a port; on a node (by name or address) a port
  that is a Service's NodePort names that Service;
- ``localhost`` or ``127.0.0.1``: the source's own loopback.

A source is a pod (``pod:`` may be written), a node, a host, or an address: a pod's or
node's address means that pod or node; any other address is a host of the network it is
in (the VNet, the peered VNet, on premises or the internet). A source names no port.

``str(peer)`` prints the text that resolves to it again (``pod:default/web-0``,
``svc:kube-system/kube-dns``, ``aks-nodepool1-87544974-vmss000001:30080``).

Example:
    >>> import netlab as nl
    >>> from netlab.trace import names as names
    >>> c = (nl.Cluster.aks("kubenet", nodes=2).add_pod("web", labels={"app": "web"})
    ...      .add_service("web", selector={"app": "web"}, ports=[80], type="NodePort"))
    >>> names.destination(c, "web").kind, names.destination(c, "pod:web").kind
    (<Kind.SERVICE: 'Service'>, <Kind.POD: 'pod'>)
    >>> peer = names.destination(c, f"{c.nodes[1].ip}:{c.services['web'].ports[0].node_port}")
    >>> peer.via, str(peer)
    ('NodePort on aks-nodepool1-87544974-vmss000001', 'aks-nodepool1-87544974-vmss000001:31734')
    >>> names.source(c, "internet"), names.destination(c, "web")
    (<Peer host internet at 198.51.100.7>, <Peer Service svc:default/web at 10.0.169.187, cluster IP>)

Taught in ``notebooks/02-multiple-pods.ipynb`` (names and addresses) and ``07-services.ipynb``
(Services, NodePorts, load balancer IPs).
"""

from __future__ import annotations

import enum
import ipaddress
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from ..azure.network import Host, host_for_ip, hosts  # noqa: F401 - the hosts a name can be
from ..errors import ConfigError, NotFoundError, did_you_mean
from ..model.types import IPv4Address, Node, Pod

if TYPE_CHECKING:
    from ..cluster.core import Cluster
    from ..k8s.services import ServiceEntry

LOOPBACK = ipaddress.IPv4Address("127.0.0.1")
_BROADCAST = ipaddress.IPv4Address("255.255.255.255")
_LOCALHOST = ("localhost", "127.0.0.1")


# --------------------------------------------------------------------------- the value
class Kind(enum.Enum):
    """What a peer is."""

    POD = "pod"
    SERVICE = "Service"
    NODE = "node"
    HOST = "host"
    ADDRESS = "address"  # an address that names nothing more (a pod's, as a destination, or nobody's)
    LOOPBACK = "loopback"  # the source's own lo


class Frontend(enum.Enum):
    """Where a Service is reached."""

    CLUSTER_IP = "cluster IP"
    NODE_PORT = "NodePort"
    LOAD_BALANCER = "load balancer"
    EXTERNAL_IP = "external IP"


@dataclass(frozen=True, slots=True, repr=False)
class Peer:
    """One end of a connection, resolved in a cluster (not a Service's endpoint: those are backends).

    ``address`` is where the packet goes (or comes from); ``port`` the port the text named,
    if any. ``pod``, ``node``, ``host`` and ``service`` (a ``services.ServiceEntry``) hold
    what the text names; a Service reached on a node's NodePort has both ``service`` and
    ``node``.
    """

    kind: Kind
    address: IPv4Address
    port: int | None = None
    pod: Pod | None = None
    node: Node | None = None
    host: Host | None = None
    service: "ServiceEntry | None" = None
    frontend: Frontend | None = None

    @property
    def via(self) -> str:
        """How a Service is reached, in words (``"cluster IP"``, ``"NodePort on <node>"``, ...)."""
        if self.frontend is Frontend.NODE_PORT and self.node is not None:
            return f"NodePort on {self.node.name}"
        return self.frontend.value if self.frontend is not None else ""

    @property
    def name(self) -> str:
        """The text naming the peer, without its port."""
        if self.kind is Kind.POD:
            return f"pod:{self.pod.namespace}/{self.pod.name}"  # type: ignore[union-attr]
        if self.kind is Kind.SERVICE:
            if self.frontend is Frontend.CLUSTER_IP:
                return f"svc:{self.service.spec.namespace}/{self.service.spec.name}"  # type: ignore[union-attr]
            if self.frontend is Frontend.NODE_PORT:
                return self.node.name  # type: ignore[union-attr]
            return str(self.address)
        if self.kind is Kind.NODE:
            return self.node.name  # type: ignore[union-attr]
        if self.kind is Kind.HOST:
            return self.host.name  # type: ignore[union-attr]
        if self.kind is Kind.LOOPBACK:
            return "localhost"
        return str(self.address)

    def __str__(self) -> str:
        return self.name if self.port is None else f"{self.name}:{self.port}"

    def __repr__(self) -> str:
        via = f", {self.via}" if self.frontend is not None else ""
        return f"<Peer {self.kind.value} {self} at {self.address}{via}>"


# --------------------------------------------------------------------------- what the resolver reads
def _service_or_none(cluster: "Cluster", text: str) -> "ServiceEntry | None":
    ns, _, nm = text.rpartition("/") if "/" in text else ("default", "", text)
    key = nm if ns == "default" else f"{ns}/{nm}"
    view = cluster.services.get(key)
    return view.entry if view is not None else None


def _service_entries(cluster: "Cluster") -> list["ServiceEntry"]:
    views = cluster.services
    return [views[name].entry for name in views]


# --------------------------------------------------------------------------- the resolver
def source(cluster: "Cluster", text: Any) -> Peer:
    """Where a connection comes from: a pod, a node or a host (see the module's grammar).

    Raises:
        ConfigError: an address nothing sends from (loopback, a ClusterIP, ...), or one that
            more than one pod has (plugin ``none``).
        NotFoundError: a name or address that is not in the cluster, with a suggestion.
    """
    if isinstance(text, Peer):
        return text
    if isinstance(text, Pod):
        return Peer(Kind.POD, text.ip, pod=text)
    if isinstance(text, Node):
        return Peer(Kind.NODE, text.ip, node=text)
    if isinstance(text, Host):
        return Peer(Kind.HOST, text.ip, host=text)
    raw = str(text).strip()
    ip = _address(raw)
    if ip is None:
        pod_only = raw.startswith("pod:")
        return _named(cluster, raw[4:] if pod_only else raw, "source", pod_only)
    owners = cluster.owners(ip)
    if len(owners) > 1:
        where = ", ".join(f"{p.name} on {cluster.nodes[p.node].name}" for p in owners)
        raise ConfigError(
            f"address {ip} belongs to more than one pod ({where}): with plugin 'none' every "
            "node hands out the same 172.17.0.0/16 range; name the pod instead of its address"
        )
    if owners:
        return _of(owners[0], ip)
    cfg = cluster.config
    if ip.is_loopback or ip.is_unspecified or ip.is_multicast or ip == _BROADCAST:
        raise ConfigError(f"source {ip}: a loopback, unspecified, broadcast or multicast address sends no "
                          "connection; start from a pod, a node or a host such as 'internet'")
    if ip in cfg.service_cidr:
        raise ConfigError(f"source {ip} is in the service CIDR {cfg.service_cidr}: ClusterIPs are virtual, "
                          "nothing sends from them; start from a pod, a node or a host")
    if (cfg.pod_cidr is not None and ip in cfg.pod_cidr) or ip in cfg.subnet_cidr:
        raise NotFoundError(f"source {ip}: no pod or node of the cluster has this address; list the pods "
                            "with cluster.kubectl_get_pods()")
    host = host_for_ip(cluster.config, ip)
    return Peer(Kind.HOST, ip, host=host)


def destination(cluster: "Cluster", text: Any) -> Peer:
    """Where a connection goes (see the module's grammar): Services before pods of the same name.

    Raises:
        ConfigError: a port in the text outside 1-65535.
        NotFoundError: a name that is not in the cluster (``svc:`` a Service that is not), with a
            suggestion.
    """
    if isinstance(text, Peer):
        return text
    raw = str(text).strip()
    if raw in _LOCALHOST:
        return Peer(Kind.LOOPBACK, LOOPBACK)
    return _destination(cluster, raw, text)


def resolve(cluster: "Cluster", text: Any, role: str = "destination") -> Peer:
    """:func:`source` or :func:`destination`, by ``role``."""
    if role not in ("source", "destination"):
        raise ConfigError(f"role={role!r}: a peer is a 'source' or a 'destination'")
    return source(cluster, text) if role == "source" else destination(cluster, text)


def _destination(cluster: "Cluster", raw: str, text: Any) -> Peer:
    prefix = raw[:4] if raw.startswith(("svc:", "pod:")) else ""
    body = raw[len(prefix):]
    host, sep, port_text = body.rpartition(":")
    if sep and port_text.isdigit() and host:
        peer = _destination(cluster, prefix + host, text)
        port = int(port_text)
        if not 1 <= port <= 65535:
            raise ConfigError(f"{text!r} ends in port {port!r}, which is not a port: a port is a whole number from 1 "
                              "to 65535")
        if peer.kind is Kind.NODE:
            for entry in _service_entries(cluster):
                if any(p.node_port == port for p in entry.spec.ports):
                    return Peer(Kind.SERVICE, peer.address, port, node=peer.node, service=entry,
                                frontend=Frontend.NODE_PORT)
        return replace(peer, port=port)
    if prefix != "pod:":
        entry = _service_or_none(cluster, body)
        if entry is not None:
            return Peer(Kind.SERVICE, entry.cluster_ip, service=entry, frontend=Frontend.CLUSTER_IP)
        if prefix == "svc:":
            cluster.services[body]  # raises NotFoundError, with where the Service is or what was meant
    ip = _address(body)
    if ip is None:
        return _named(cluster, body, "destination", pod_only=prefix == "pod:")
    for entry in _service_entries(cluster):
        spec = entry.spec
        if ip in spec.load_balancer_ips:
            return Peer(Kind.SERVICE, ip, service=entry, frontend=Frontend.LOAD_BALANCER)
        if ip in spec.external_ips:
            return Peer(Kind.SERVICE, ip, service=entry, frontend=Frontend.EXTERNAL_IP)
        if ip == entry.cluster_ip:
            return Peer(Kind.SERVICE, ip, service=entry, frontend=Frontend.CLUSTER_IP)
    owners = cluster.owners(ip)
    if len(owners) == 1 and isinstance(owners[0], Node):
        return Peer(Kind.NODE, ip, node=owners[0])
    return Peer(Kind.ADDRESS, ip)


def _named(cluster: "Cluster", text: str, role: str, pod_only: bool = False) -> Peer:
    """A host, pod or node by name, in that order; after ``pod:``, a pod and nothing else."""
    if pod_only:
        pod = cluster.pod_record(text)  # a NotFoundError that names the pods, or where the name is
        return Peer(Kind.POD, pod.ip, pod=pod)
    named = hosts(cluster.config)
    pod = cluster.find_pod(text) if "/" not in text else None
    if text in named:
        return Peer(Kind.HOST, named[text].ip, host=named[text])
    if "/" in text:
        pod = cluster.pods[text].pod  # a namespace names a pod: raises NotFoundError with a suggestion
        return Peer(Kind.POD, pod.ip, pod=pod)
    if pod is not None:
        return Peer(Kind.POD, pod.ip, pod=pod)
    try:
        node = cluster.nodes[text].node
    except NotFoundError:
        pass
    else:
        return Peer(Kind.NODE, node.ip, node=node)
    choices = [p.rpartition("/")[2] for p in cluster.pods] if len(cluster.pods) <= 5000 else []
    choices += list(named) + [cluster.nodes[i].name for i in range(min(len(cluster.nodes), 50))]
    raise NotFoundError(
        f"unknown {role} {text!r}: give a pod name, a node name, an IP address"
        + (", a Service name ('web', 'kube-system/kube-dns') or 'node:nodePort'" if role == "destination" else "")
        + " or one of "
        f"{', '.join(named)}.{did_you_mean(text, choices)}"
    )


def _of(owner: Any, ip: IPv4Address) -> Peer:
    if isinstance(owner, Pod):
        return Peer(Kind.POD, ip, pod=owner)
    return Peer(Kind.NODE, ip, node=owner)


def _address(text: str) -> IPv4Address | None:
    try:
        return ipaddress.IPv4Address(text)
    except ValueError:
        return None
