"""The CNI plugins: how each plugin wires pods into a node.

Owns the node and pod dataplanes (interfaces, veth pairs, bridges, routes, the node's own NAT and
bridge rules) for kubenet, Azure CNI (transparent and bridge mode), Azure CNI Overlay and no plugin
(:mod:`.dataplane`), and the container runtime's view of pods: sandboxes and containers as
``crictl`` lists them (:mod:`.runtime`).
"""

from .dataplane import (  # noqa: F401 - netlab.cni.<name> stays the public path
    WIRESERVER,
    IMDS,
    LINK_GATEWAY,
    LOOPBACK,
    AZURE_HOST_VETH_MAC,
    BridgeRule,
    NodeDataplane,
    PodDataplane,
    bridge_name,
    routed_pods,
    host_veth_name,
    pod_slot,
    host_veth_ifindex,
    pod_eth0_ifindex,
    subnet_gateway,
    non_masquerade_cidrs,
    MASQ_AGENT_CHAIN,
    nat_rules,
    DEDUP_CHAIN,
    port_hairpin,
    dedup_rules,
    node_dataplane,
    pod_dataplane,
    VETH_QUEUES,
    bridge_id,
    gc_timer,
    format_ip_link,
    format_bridge_link,
    format_ebtables,
)
