"""The vocabulary of netlab: frozen values and closed sets.

Glossary (the words are Kubernetes', Linux's and Azure's own):

* **VNet / subnet**: the Azure virtual network and the subnet the node NICs sit in.
  Azure keeps the first four and the last address of every subnet for itself.
* **pod CIDR**: the private range pods take addresses from (kubenet, overlay). Each
  node owns one ``/24`` of it (``node.pod_cidr``).
* **service CIDR**: the virtual range ClusterIPs come from; ``10.0.0.1`` is the
  ``kubernetes`` Service and the DNS service IP (``10.0.0.10``) is ``kube-dns``.
* **network namespace**: a pod's own copy of the network stack. All containers of a
  pod share it, so they share one IP address, one port space and ``localhost``.
* **veth pair**: a virtual cable with two ends; one end is ``eth0`` inside the pod,
  the other lives on the node (``veth...`` on a bridge, or ``azv...`` with a route).
* **bridge**: a virtual switch on the node (``cbr0`` for kubenet, ``azure0`` for Azure
  CNI bridge mode, ``docker0`` for a stand-alone container host).
* **route table (UDR)**: an Azure user-defined route table; kubenet needs one route
  per node so the VNet knows which node holds which pod ``/24``.

Everything here is immutable: a change returns a new value. Address fields hold
:mod:`ipaddress` objects, never strings.

Example:
    >>> Container("nginx", ports=[80]).ports[0].port
    80
"""

from __future__ import annotations

import enum
import ipaddress
from dataclasses import dataclass, field
from typing import Union

from ..errors import ConfigError, PortConflictError

IPv4Address = ipaddress.IPv4Address
IPv4Network = ipaddress.IPv4Network
IPv4Interface = ipaddress.IPv4Interface


class Plugin(str, enum.Enum):
    """The network plugin: how pods get addresses and how packets cross nodes.

    ``NONE`` is the document's section 03, *no cluster network at all*: every node wires its
    pods the way a stand-alone Docker host does (bridge ``docker0``, range ``172.17.0.0/16`` on
    every node, MASQUERADE out), so that a learner sees why pods on different nodes cannot talk.
    It is not AKS's ``--network-plugin none``, which means "bring your own CNI": AKS installs no
    plugin, and the nodes stay ``NotReady`` until you install one (Cilium, Calico, ...).
    """

    NONE = "none"
    KUBENET = "kubenet"
    AZURE_CNI = "azure-cni"
    AZURE_CNI_OVERLAY = "azure-cni-overlay"

    def __str__(self) -> str:
        return self.value


class CniMode(str, enum.Enum):
    """Azure CNI's two ways of wiring a pod on the node."""

    TRANSPARENT = "transparent"
    BRIDGE = "bridge"

    def __str__(self) -> str:
        return self.value


class ProxyMode(str, enum.Enum):
    """How kube-proxy implements Services on each node.

    ``userspace`` was removed in Kubernetes 1.26, ``nftables`` is GA since 1.33 and
    ``ipvs`` is deprecated since 1.35; ``iptables`` is still the default on Linux.
    """

    USERSPACE = "userspace"
    IPTABLES = "iptables"
    IPVS = "ipvs"
    NFTABLES = "nftables"

    def __str__(self) -> str:
        return self.value


class Verdict(str, enum.Enum):
    """How a traced packet ended."""

    DELIVERED = "delivered"
    REFUSED = "refused"  # the sender is told at once: a TCP reset from a closed port, a REJECT rule
    DROPPED = "dropped"
    MISDELIVERED = "delivered to the wrong pod"

    def __str__(self) -> str:
        return self.value


_PROTOCOLS = ("TCP", "UDP", "SCTP")
_NAME = __import__("re").compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_PORT_NAME = __import__("re").compile(r"^(?=.*[a-z])[a-z0-9]([-a-z0-9]{0,13}[a-z0-9])?$")


@dataclass(frozen=True, slots=True)
class ContainerPort:
    """A port a container listens on (``containerPort`` in a pod spec)."""

    port: int
    name: str | None = None
    protocol: str = "TCP"

    def __post_init__(self) -> None:
        if not isinstance(self.port, int) or isinstance(self.port, bool) or not 1 <= self.port <= 65535:
            raise ConfigError(
                f"containerPort {self.port!r} is not a port: a port is a whole number from 1 to 65535"
            )
        if self.name is not None and (not isinstance(self.name, str) or not _PORT_NAME.match(self.name)):
            raise ConfigError(
                f"port name {self.name!r} is not valid: a port name (IANA_SVC_NAME) has at most 15 lowercase "
                "letters, digits and '-', with at least one letter, such as 'http'"
            )
        proto = str(self.protocol).upper()
        if proto not in _PROTOCOLS:
            raise ConfigError(
                f"protocol {self.protocol!r} is not one Kubernetes knows: use TCP, UDP or SCTP"
            )
        object.__setattr__(self, "protocol", proto)


PortLike = Union[int, ContainerPort]


@dataclass(frozen=True, slots=True)
class Container:
    """One container of a pod. All containers of a pod share its network namespace.

    Args:
        name: the container name.
        ports: ports it listens on, as numbers or :class:`ContainerPort`.
    """

    name: str
    ports: tuple[ContainerPort, ...] = ()

    def __init__(self, name: str, ports: "tuple[PortLike, ...] | list[PortLike]" = ()) -> None:
        if not isinstance(name, str) or not _NAME.match(name):
            raise ConfigError(f"container name {name!r} is not valid: lowercase letters, digits and '-', starting and "
                              "ending with a letter or digit, such as Container('nginx')")
        if isinstance(ports, (int, ContainerPort)):
            ports = [ports]
        if not isinstance(ports, (list, tuple)):
            raise ConfigError(f"container {name}: ports is a list of numbers or nl.ContainerPort(...), not {ports!r}")
        norm = tuple(p if isinstance(p, ContainerPort) else ContainerPort(p) for p in ports)
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "ports", norm)


def check_pod_ports(pod_name: str, containers: tuple[Container, ...]) -> None:
    """Two containers of one pod cannot listen on the same port and protocol.

    >>> check_pod_ports("web-0", (Container("a", [80]), Container("b", [80])))
    Traceback (most recent call last):
    ...
    netlab.errors.PortConflictError: pod web-0: containers 'a' and 'b' both listen on TCP port 80, but containers of one pod share one network namespace (one IP address, one set of ports); give one of them another port
    """
    seen: dict[tuple[int, str], str] = {}
    names: set[str] = set()
    for c in containers:
        if c.name in names:
            raise ConfigError(
                f"pod {pod_name}: two containers are named {c.name!r}; container names in a pod must be unique"
            )
        names.add(c.name)
        for p in c.ports:
            key = (p.port, p.protocol)
            if key in seen and seen[key] != c.name:
                raise PortConflictError(
                    f"pod {pod_name}: containers {seen[key]!r} and {c.name!r} both listen on "
                    f"{p.protocol} port {p.port}, but containers of one pod share one network "
                    "namespace (one IP address, one set of ports); give one of them another port"
                )
            seen[key] = c.name


@dataclass(frozen=True, slots=True)
class Pod:
    """A pod as scheduled: its node and the address the plugin gave it."""

    name: str
    namespace: str
    node: int
    ip: IPv4Address
    containers: tuple[Container, ...]
    labels: tuple[tuple[str, str], ...] = ()
    seq: int = 0

    @property
    def key(self) -> tuple[str, str]:
        return (self.namespace, self.name)

    @property
    def label_map(self) -> dict[str, str]:
        return dict(self.labels)


@dataclass(frozen=True, slots=True)
class Node:
    """A node (an Azure VM scale-set instance) and what the plugin reserved for it.

    ``pod_cidr`` is the node's ``/24`` (kubenet, overlay) or the docker bridge range
    (``none``); ``pod_range`` is the first address and count it pre-allocated in the
    subnet (Azure CNI). ``pods`` are the keys of its pods, oldest first.
    ``last_reserved`` is the allocation slot handed out last (-1: none yet): kubenet's
    ``host-local`` IPAM keeps it on the node and goes on from there (round-robin).
    """

    index: int
    name: str
    ip: IPv4Address
    pod_cidr: IPv4Network | None = None
    pod_range: tuple[IPv4Address, int] | None = None
    pods: tuple[tuple[str, str], ...] = ()
    last_reserved: int = -1


@dataclass(frozen=True, slots=True)
class ClusterConfig:
    """The cluster-wide settings, as ``az aks create`` takes them.

    ``node_image`` names the nodes' OS image (:mod:`netlab.model.images`); ``hairpin_mode`` is the
    kubenet bridge's CNI setting (``hairpinMode``: AKS writes ``false``; ``True`` is the fix
    AgentBaker pull request 8426 proposes).
    """

    name: str
    plugin: Plugin
    vnet_cidr: IPv4Network
    subnet_cidr: IPv4Network
    pod_cidr: IPv4Network | None
    service_cidr: IPv4Network
    dns_service_ip: IPv4Address
    max_pods: int
    cni_mode: CniMode = CniMode.TRANSPARENT
    proxy_mode: ProxyMode = ProxyMode.IPTABLES
    node_pool: str = "nodepool1"
    resource_group: str = "netlab-rg"
    location: str = "westeurope"
    docker_bridge_cidr: IPv4Interface = IPv4Interface("172.17.0.1/16")
    peered_cidr: IPv4Network = IPv4Network("172.16.0.0/16")
    onprem_cidr: IPv4Network = IPv4Network("192.168.0.0/16")
    node_image: str = "ubuntu-24.04"  # netlab.model.images: the OS and kernel every node boots
    hairpin_mode: bool = False  # kubenet's cbr0 ports: AKS writes "hairpinMode": false
    notes: tuple[str, ...] = field(default=(), compare=False)
    # Ranges netlab chose wider than AKS's default to fit the nodes (the notes say so to the learner);
    # a plugin switch recomputes them instead of keeping them.
    widened: frozenset[str] = field(default=frozenset(), compare=False)  # 'subnet_cidr', 'pod_cidr'
    # Read from a real cluster (Cluster.from_kubectl): node and pod addresses are the cluster's, not
    # netlab's arithmetic, so lookups by address go through an index instead.
    imported: bool = False


@dataclass(frozen=True, slots=True)
class Interface:
    """A network interface as ``ip addr`` shows it."""

    ifindex: int
    name: str
    kind: str  # loopback, ether, bridge, veth
    mac: str
    addresses: tuple[IPv4Interface, ...] = ()
    master: str | None = None
    peer_ifindex: int | None = None
    peer_netns: str | None = None  # the namespace holding the other end of a veth
    mtu: int = 1500
    promisc: bool = False
    multicast: bool = True  # Azure CNI's pod end is created without MULTICAST
    broadcast: bool = True  # print ``brd`` on the inet line (Azure CNI and cbr0 set none)
    qlen: int | None = 1000  # None: txqueuelen 0, which ``ip addr`` does not print
    hairpin: bool | None = None  # a bridge port's hairpin flag; None: not a bridge port


@dataclass(frozen=True, slots=True)
class Route:
    """One line of a Linux routing table (``ip route``)."""

    dst: IPv4Network
    dev: str
    via: IPv4Address | None = None
    proto: str | None = None
    scope: str | None = None
    src: IPv4Address | None = None
    metric: int | None = None

    def __str__(self) -> str:
        from .routing import format_route

        return format_route(self)


@dataclass(frozen=True, slots=True)
class AzureRoute:
    """One route of an Azure route table (UDR) or one effective system route of the VNet."""

    name: str
    address_prefix: IPv4Network
    next_hop_type: str  # VirtualAppliance, VnetLocal, Internet, VNetPeering, VirtualNetworkGateway, None
    next_hop_ip: IPv4Address | None = None
    source: str = "User"  # User (a route table), Default (Azure's system routes), VirtualNetworkGateway
    active: bool = True  # False: shadowed by a route with the same prefix ("Invalid" in Azure's table)
