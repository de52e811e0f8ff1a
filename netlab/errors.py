"""One error hierarchy for everything a learner can get wrong.

Every message names the rule that was broken and how to fix it, in the style of
CPython's :mod:`ipaddress` errors. Widgets catch :class:`NetlabError` and show the
message; the last valid cluster stays on screen because every operation returns a
new value and never changes the old one.

Example:
    >>> import netlab as nl
    >>> try:
    ...     nl.Cluster.aks(plugin="kubenet", max_pods=5)
    ... except nl.NetlabError as err:
    ...     print(type(err).__name__)
    ConfigError
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class NetlabError(Exception):
    """Base class of every error netlab raises on purpose."""


class AddressError(NetlabError, ValueError):
    """A malformed IP address or CIDR block."""


class RangeConflictError(NetlabError, ValueError):
    """Two address ranges overlap, or a range Azure forbids is used."""


class ConfigError(NetlabError, ValueError):
    """A setting outside what AKS or Kubernetes accepts."""


class CapacityError(NetlabError):
    """Something ran out: addresses, routes, node slots."""


class SubnetExhaustedError(CapacityError):
    """Azure CNI: the node subnet cannot hold the nodes and their pre-allocated pod addresses."""


class NodeFullError(CapacityError):
    """A node has handed out every pod address it has."""


class RouteLimitError(CapacityError):
    """kubenet needs one Azure route per node; a route table holds at most 400."""


class NotFoundError(NetlabError, LookupError):
    """An unknown node, pod, Service or address."""


class DuplicateError(NetlabError, ValueError):
    """A name that must be unique is already taken.

    In a notebook this is nearly always a cell run twice that rebinds the name it builds
    from (``cluster = cluster.add_pod(...)``), so the message says so. ``rule`` is the
    message without that hint, for places where no cell was run (the explorer's buttons).
    """

    def __init__(self, rule: str, rerun: str = "") -> None:
        self.rule = rule
        super().__init__(f"{rule}. {rerun}" if rerun else rule)

    @classmethod
    def rerun(cls, rule: str, call: str, what: str, new: str = "bigger") -> "DuplicateError":
        """The error for ``cluster.<call>`` adding ``what`` a second time, with the re-run hint.

        >>> print(DuplicateError.rerun("pod web-0 already exists", "add_pod('web-0', ...)", "the pod"))
        pod web-0 already exists. Did you run this cell twice? A cell such as `cluster = cluster.add_pod('web-0', ...)` adds the pod again to the cluster it made the first time; build from a value the cell does not rebind instead (`bigger = cluster.add_pod('web-0', ...)`)
        """
        return cls(rule, f"Did you run this cell twice? A cell such as `cluster = cluster.{call}` adds {what} again "
                         "to the cluster it made the first time; build from a value the cell does not rebind "
                         f"instead (`{new} = cluster.{call}`)")


class PortConflictError(NetlabError, ValueError):
    """Two containers of one pod listen on the same port (they share one network namespace)."""


class ServiceError(NetlabError, ValueError):
    """A Service, port or EndpointSlice that the API server would reject."""


class ManifestError(ConfigError):
    """A manifest ``Cluster.apply`` cannot read or that the API server would refuse: malformed YAML,
    an unknown field, an invalid value. The message names the source, the document's number and
    the field's path, as ``kubectl apply`` does."""


class CommandError(NetlabError, LookupError):
    """A command netlab does not print (``cluster.run``), or one run where it cannot run."""


class EnvironmentUnavailableError(NetlabError):
    """The machine lacks what a feature needs (root, a kernel module, a command)."""


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """Return ``" Did you mean 'x'?"`` for the closest choice, or ``""`` if none is close.

    >>> did_you_mean("web-o", ["web-0", "api-0"])
    " Did you mean 'web-0'?"
    >>> did_you_mean("zzz", ["web-0"])
    ''
    """
    close = difflib.get_close_matches(str(name), [str(c) for c in choices], n=1, cutoff=0.6)
    return f" Did you mean {close[0]!r}?" if close else ""
