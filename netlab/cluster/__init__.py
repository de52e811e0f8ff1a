"""The cluster facade: the one object a learner builds, changes and asks.

Owns :class:`Cluster` (persistent maps of nodes, pods and Services; every change returns a new
value), its views by node, pod and Service, the Azure route tables it implies (:mod:`.core`), and
``cluster.run``: any view by the command a learner would type (:mod:`.commands`).
"""

from .core import (  # noqa: F401 - netlab.cluster.<name> stays the public path
    Cluster,
    NodesView,
    PodsView,
    ServicesView,
    NodeView,
    PodView,
)
