"""The cluster's topology as a networkx graph: what is wired to what.

:func:`topology` (``cluster.graph()``) returns an undirected :class:`networkx.MultiGraph`
whose nodes are network namespaces, interfaces, the Azure VNet and the hosts around the
cluster, and whose edges are the wires between them. It is what the diagram
(:mod:`netlab.views.diagram`) lays out, and a learner can query it with networkx itself::

    g = cluster.graph()
    nx.shortest_path(g, "pod default/web-0", "host internet")   # the wires a packet can cross
    list(g.neighbors("node aks-...-vmss000000 cbr0"))            # the bridge and its ports

Node keys are words a learner can type: ``node NAME`` (a node's root namespace), ``pod
NS/NAME`` (a pod's namespace), ``node NAME DEV`` and ``pod NS/NAME DEV`` (an interface),
``vnet`` and ``host NAME``. Every node has a ``kind``: ``node``, ``pod``, ``interface``,
``bridge``, ``vnet`` or ``host``; namespaces and interfaces carry their addresses.

Edges have a ``kind`` too:

* ``has``: a namespace and one of its interfaces that route (not a bridge's port: a packet
  reaches the namespace through the port's bridge); ``routes`` lists the namespace's routes
  out of that interface, as ``ip route`` prints them;
* ``veth``: the two ends of a veth pair (a pod's ``eth0`` and its host end);
* ``port``: a bridge and an interface enslaved to it (``master``);
* ``nic``: a node's ``eth0`` and the VNet; ``routes`` lists the Azure route table's rows
  whose next hop is that node (kubenet's UDR), as ``az network route-table route list`` prints them;
* ``network``: the VNet and a host around it (the internet, a peered VNet, on-premises).

networkx is imported on first use only, so ``import netlab`` stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..azure.network import hosts
from ..model.routing import format_route

if TYPE_CHECKING:
    from .core import Cluster


def node_key(name: str) -> str:
    return f"node {name}"


def pod_key(namespace: str, name: str) -> str:
    return f"pod {namespace}/{name}"


def interface_key(owner: str, dev: str) -> str:
    return f"{owner} {dev}"


def topology(cluster: "Cluster") -> Any:
    """The cluster's wiring as a :class:`networkx.MultiGraph` (see the module's docstring).

    Example:
        >>> import networkx as nx, netlab as nl
        >>> c = nl.Cluster.aks("kubenet", nodes=1).add_pod("web-0")
        >>> g = c.graph()
        >>> nx.shortest_path(g, "pod default/web-0", "vnet")  # doctest: +NORMALIZE_WHITESPACE
        ['pod default/web-0', 'pod default/web-0 eth0', 'node aks-nodepool1-87544974-vmss000000 veth3b2c3b2c',
         'node aks-nodepool1-87544974-vmss000000 cbr0', 'node aks-nodepool1-87544974-vmss000000',
         'node aks-nodepool1-87544974-vmss000000 eth0', 'vnet']
    """
    import networkx as nx

    g = nx.MultiGraph(name=cluster.config.name, plugin=cluster.config.plugin.value)
    cfg = cluster.config
    g.add_node("vnet", kind="vnet", cidr=str(cfg.vnet_cidr), subnet=str(cfg.subnet_cidr))
    udr: dict[str, list[str]] = {}
    for route in cluster.route_table():
        udr.setdefault(str(route.next_hop_ip), []).append(cluster.route_table_line(route))

    for i in range(cluster.node_count):
        view = cluster.nodes[i]
        owner = node_key(view.name)
        dp = cluster.node_dataplane(i)
        g.add_node(owner, kind="node", index=i, name=view.name, ip=str(view.ip),
                   pod_cidr=None if view.pod_cidr is None else str(view.pod_cidr), proxy_mode=cfg.proxy_mode.value)
        _add_interfaces(g, owner, dp.interfaces, dp.routes)
        if any(f.name == "eth0" for f in dp.interfaces):
            g.add_edge(interface_key(owner, "eth0"), "vnet", kind="nic", routes=tuple(udr.get(str(view.ip), ())))
        for pod in cluster.pods_on(i):
            pkey = pod_key(pod.namespace, pod.name)
            pdp = cluster.pod_dataplane(pod)
            g.add_node(pkey, kind="pod", namespace=pod.namespace, name=pod.name, node=view.name, ip=str(pod.ip),
                       containers=tuple(c.name for c in pod.containers), labels=dict(pod.labels))
            _add_interfaces(g, pkey, pdp.interfaces, pdp.routes)
            g.add_edge(interface_key(pkey, "eth0"), interface_key(owner, pdp.host_if), kind="veth")
    for host in hosts(cfg).values():
        g.add_node(f"host {host.name}", kind="host", ip=str(host.ip), place=host.place)
        g.add_edge("vnet", f"host {host.name}", kind="network")
    return g


def _add_interfaces(g: Any, owner: str, interfaces: Any, routes: Any) -> None:
    for f in interfaces:
        if f.kind == "loopback":
            continue
        key = interface_key(owner, f.name)
        g.add_node(key, kind="bridge" if f.kind == "bridge" else "interface", owner=owner, name=f.name,
                   link=f.kind, mac=f.mac, addresses=tuple(str(a) for a in f.addresses))
        if f.master is None:
            g.add_edge(owner, key, kind="has", routes=tuple(format_route(r) for r in routes if r.dev == f.name))
    for f in interfaces:
        if f.master is not None:
            g.add_edge(interface_key(owner, f.name), interface_key(owner, f.master), kind="port")
