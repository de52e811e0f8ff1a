"""The cluster facade: the one object a learner builds, changes and asks.

Owns :class:`Cluster` (persistent maps of nodes, pods and Services; every change returns a new
value; :mod:`.core`), its views by node, pod and Service with the text the real tools print there
(:mod:`.views`), and ``cluster.run``: any view by the command a learner would type
(:mod:`.commands`).
"""

from .core import Cluster
from .views import NodesView, NodeView, PodsView, PodView, ServicesView

__all__ = ["Cluster", "NodeView", "NodesView", "PodView", "PodsView", "ServicesView"]
