"""Packet traces: where a packet goes, hop by hop, and which route or rule decided each hop.

Owns the destination grammar (:mod:`.names`: ``svc:web``, ``pod:web-0``, ``node:30080``,
"internet", "peered-vm" read into a typed :class:`~.names.Peer`), what a trace is made of as data
with its text and HTML views (:mod:`.hops`), the walk through pods, nodes, kube-proxy's rules and
Azure, with replies and connections (:mod:`.walk`), and the reports of a node's hooks and the
explanations of refused and dropped packets (:mod:`.reports`).
"""

from .hops import Conntrack, Header, Hop, Line, Nat, Place, Trace
from .walk import ServiceTarget, conntrack_entries, trace

__all__ = ["Conntrack", "Header", "Hop", "Line", "Nat", "Place", "ServiceTarget", "Trace", "conntrack_entries",
           "trace"]
