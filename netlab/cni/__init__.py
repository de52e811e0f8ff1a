"""The CNI plugins: how each plugin wires pods into a node.

Owns the node and pod dataplanes (interfaces, veth pairs, bridges, routes, the node's own NAT and
bridge rules) for kubenet, Azure CNI (transparent and bridge mode), Azure CNI Overlay and no plugin
(:mod:`.dataplane`), and the container runtime's view of pods: sandboxes and containers as
``crictl`` lists them (:mod:`.runtime`).
"""

from .dataplane import NodeDataplane, PodDataplane, node_dataplane, pod_dataplane

__all__ = ["NodeDataplane", "PodDataplane", "node_dataplane", "pod_dataplane"]
