"""netlab: see and try how Kubernetes networking works.

One immutable cluster model drives the diagrams, the packet traces, the text the
real tools print and the widgets. ``import netlab`` stays light: plotting and
widgets (matplotlib, ipywidgets) load only when you use them.

Example:
    >>> import netlab as nl
    >>> c = nl.Cluster.aks(plugin="kubenet", nodes=2)
    >>> c = c.add_pod("web-0", node=0).add_pod("api-0", node=1, containers=[nl.Container("api", ports=[8080])])
    >>> c.trace("web-0", "api-0", port=8080).verdict
    <Verdict.DELIVERED: 'delivered'>
    >>> c.trace("web-0", "api-0", port=80).verdict  # nothing listens there: a TCP reset
    <Verdict.REFUSED: 'refused'>
"""

from .cluster.core import Cluster
from .errors import (
    AddressError,
    CapacityError,
    CommandError,
    ConfigError,
    DuplicateError,
    EnvironmentUnavailableError,
    ManifestError,
    NetlabError,
    NodeFullError,
    NotFoundError,
    PortConflictError,
    RangeConflictError,
    RouteLimitError,
    ServiceError,
    SubnetExhaustedError,
)
from .compare import Comparison, compare_plugins
from .model.types import CniMode, Container, ContainerPort, Plugin, Verdict
from . import course, quiz, scenarios

_LAZY = {
    "draw_cluster": ("netlab.views.diagram", "draw_cluster"),
    "draw_address_use": ("netlab.views.plot", "draw_address_use"),
    "draw_proxy_cost": ("netlab.views.plot", "draw_proxy_cost"),
    "explore": ("netlab.views.widgets", "explore"),
    "step_through": ("netlab.views.step", "step_through"),
}


def __getattr__(name: str):
    """Views that need matplotlib or ipywidgets load on first use."""
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'netlab' has no attribute {name!r}")

__version__ = "0.1.0"

__all__ = [
    "course",
    "AddressError",
    "CapacityError",
    "Cluster",
    "Comparison",
    "compare_plugins",
    "draw_address_use",
    "draw_cluster",
    "draw_proxy_cost",
    "explore",
    "step_through",
    "quiz",
    "scenarios",
    "CniMode",
    "ConfigError",
    "Container",
    "ContainerPort",
    "DuplicateError",
    "EnvironmentUnavailableError",
    "ManifestError",
    "NetlabError",
    "NodeFullError",
    "NotFoundError",
    "Plugin",
    "PortConflictError",
    "RangeConflictError",
    "RouteLimitError",
    "ServiceError",
    "CommandError",
    "SubnetExhaustedError",
    "Verdict",
]
