"""Text exactly as the real tools print it: the formats shared by every layer above.

Owns the column and line formats of ``ip``, ``kubectl``, ``az`` and ``crictl`` (:mod:`.formats`)
and the node views a trace cites besides routes and rules: the local routing table, the bridge's
forwarding database, neighbours, conntrack entries, listening sockets (:mod:`.tools`).
"""
