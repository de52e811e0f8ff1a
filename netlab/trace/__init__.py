"""Packet traces: where a packet goes, hop by hop, and which route or rule decided each hop.

Owns the destination grammar and the hosts around the cluster (:mod:`.names`: ``svc:web``,
``pod:web-0``, ``node:30080``, "internet", "peered-vm" read into a typed :class:`~.names.Peer`)
and the walk through pods, nodes, kube-proxy's rules and Azure, with replies, connections and the
explanations of refused and dropped packets (:mod:`.walk`).
"""

from .walk import (  # noqa: F401 - netlab.trace.<name> stays the public path
    OUTBOUND_PUBLIC_IP,
    OUTBOUND_RULE_NAME,
    LOOPBACK_NET,
    LOOPBACK_LOCAL_ROUTE,
    LOCAL_TABLE,
    NFT_LIST,
    SS_LISTEN,
    Header,
    Place,
    Line,
    Nat,
    Conntrack,
    Hop,
    Trace,
    EFFECTIVE_ROUTES,
    ROUTE_TABLE,
    LB_RULES,
    LB_OUTBOUND,
    NODE_POD_CIDRS,
    ServiceTarget,
    trace,
    conntrack_entries,
)
