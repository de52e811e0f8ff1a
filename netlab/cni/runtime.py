"""The container runtime on a node: pod sandboxes (pause containers) and app containers.

A pod on a real node starts as a *sandbox*. kubelet asks the runtime (containerd, through
CRI's ``RunPodSandbox``) for one; the runtime creates a network namespace, mounts it at
``/var/run/netns/cni-<uuid>``, starts the pod's infra container (the *pause* container,
whose process does nothing but sleep and so keeps the namespaces alive) and calls the CNI
plugin, which wires that namespace: ``eth0``, the pod's address, its routes. Only then does
kubelet create the app containers (``CreateContainer``) into the sandbox, and each one joins
the sandbox's network namespace. That is why the containers of a pod share one IP address,
one set of ports and ``localhost``, and why a pod keeps its address when an app container
restarts: the namespace belongs to the pause container, not to the app.

``crictl`` shows the two lists apart: ``crictl pods`` lists the sandboxes (one per pod) and
``crictl ps`` the app containers; the pause container is in neither list as a container (CRI's
``ListContainers`` returns only what ``CreateContainer`` made), only as the sandbox.

The pause image is the one AKS configures on its nodes (containerd's ``sandbox_image`` and
kubelet's ``--pod-infra-container-image`` in AKS's node bootstrapper, AgentBaker):
``mcr.microsoft.com/oss/kubernetes/pause:3.6``, built from the same source as upstream's
``registry.k8s.io/pause``. The course's fact sheet says only that the pause container holds
the namespace; the image name comes from AgentBaker.

What netlab derives instead of observing: ids (sandbox, container, image) are hashes of the
pod's and container's names, in the real shape (64 hex digits, shown as 13); ``CREATED``
follows the cluster's clock, the same one ``kubectl get pods`` uses for ``AGE`` (one minute
per pod created since); netlab's containers name no image, so the image id hashes the
container's name. Pods netlab does not model (kube-proxy, CNI and CSI agents that every AKS
node runs) are not listed.

Example:
    >>> import netlab as nl
    >>> c = nl.Cluster.aks("kubenet").add_pod("web-0", containers=[nl.Container("nginx", ports=[80])])
    >>> sb = c.pods["web-0"].sandbox
    >>> sb.image, sb.netns_path.startswith("/var/run/netns/cni-"), sb.containers
    ('mcr.microsoft.com/oss/kubernetes/pause:3.6', True, ('nginx',))

Taught in ``notebooks/01-single-pod.ipynb`` and ``02-multiple-pods.ipynb`` (the containers of a pod share its
network namespace; "pause container" in ``90-glossary.ipynb``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..model import naming
from ..text.formats import human_duration
from ..model.types import IPv4Address, Pod
from ..model.routing import format_tabwriter

#: The pause image AKS's containerd starts for every pod sandbox (AgentBaker's ``sandbox_image``).
PAUSE_IMAGE = "mcr.microsoft.com/oss/kubernetes/pause:3.6"

#: crictl's table layout: ``newTableDisplay(20, 1, 3, ' ', 0)`` (cri-tools ``cmd/crictl/display.go``).
CRICTL_MINWIDTH, CRICTL_PADDING = 20, 3
#: ``truncatedIDLen``: crictl shows ids cut to 13 characters unless ``--no-trunc``.
TRUNCATED_ID_LEN = 13

_POD_STATE = {"SANDBOX_READY": "Ready", "SANDBOX_NOTREADY": "NotReady"}
_CONTAINER_STATE = {"CONTAINER_CREATED": "Created", "CONTAINER_RUNNING": "Running",
                    "CONTAINER_EXITED": "Exited", "CONTAINER_UNKNOWN": "Unknown"}


@dataclass(frozen=True, slots=True)
class Sandbox:
    """One pod sandbox: the pause container that holds the pod's network namespace.

    Attributes:
        id: the sandbox id (64 hex digits; ``crictl pods`` shows the first 13 as ``POD ID``).
        name, namespace: the pod's.
        node: the node it runs on.
        ip: the address the CNI plugin gave the sandbox's ``eth0`` (the pod's IP).
        image: the pause image.
        netns: the network namespace's name, ``cni-<uuid>`` (``ip netns list`` on the node;
            the same name the traces print for the pod's hops).
        containers: the app containers that join the sandbox's namespaces, in start order.
        age_minutes: minutes since the sandbox was created (the pod's ``AGE``).
        state: the CRI state, ``SANDBOX_READY``.
        attempt: how often kubelet had to recreate the sandbox (0: never).
    """

    id: str
    name: str
    namespace: str
    node: str
    ip: IPv4Address
    image: str
    netns: str
    containers: tuple[str, ...]
    age_minutes: int
    state: str = "SANDBOX_READY"
    attempt: int = 0

    @property
    def netns_path(self) -> str:
        """Where the namespace is mounted: ``/var/run/netns/<netns>`` (containerd's ``NetNSPath``)."""
        return "/var/run/netns/" + self.netns

    @property
    def short_id(self) -> str:
        """The id as crictl prints it (13 characters)."""
        return self.id[:TRUNCATED_ID_LEN]

    def __str__(self) -> str:
        joined = ", ".join(self.containers)
        return (f"pod {self.namespace}/{self.name} on {self.node}: sandbox {self.short_id} runs the pause container "
                f"({self.image}), which holds network namespace {self.netns} ({self.netns_path}, eth0 {self.ip}); "
                f"app container(s) {joined} join it, so they share its address, its ports and localhost")


@dataclass(frozen=True, slots=True)
class AppContainer:
    """One app container of a pod as the runtime lists it (``crictl ps``)."""

    id: str
    name: str
    image_id: str
    sandbox_id: str
    pod: str
    namespace: str
    age_minutes: int
    state: str = "CONTAINER_RUNNING"
    attempt: int = 0


def sandbox_of(pod: Pod, node_name: str, age_minutes: int) -> Sandbox:
    """The sandbox of ``pod``, running on ``node_name`` for ``age_minutes`` minutes.

    >>> from netlab.model import Container, Pod, IPv4Address
    >>> p = Pod("web-0", "default", 0, IPv4Address("10.244.0.2"), (Container("nginx"),))
    >>> sandbox_of(p, "aks-nodepool1-87544974-vmss000000", 2).netns == naming.netns_name("default", "web-0")
    True
    """
    return Sandbox(naming.container_id(pod.namespace, pod.name), pod.name, pod.namespace, node_name, pod.ip,
                   PAUSE_IMAGE, naming.netns_name(pod.namespace, pod.name),
                   tuple(c.name for c in pod.containers), age_minutes)


def containers_of(pod: Pod, age_minutes: int) -> tuple[AppContainer, ...]:
    """The app containers of ``pod``, newest first (kubelet starts them in the order of the pod spec).

    >>> from netlab.model import Container, Pod, IPv4Address
    >>> p = Pod("web-0", "default", 0, IPv4Address("10.244.0.2"), (Container("nginx"), Container("log-shipper")))
    >>> [c.name for c in containers_of(p, 2)]
    ['log-shipper', 'nginx']
    """
    sandbox = naming.container_id(pod.namespace, pod.name)
    return tuple(AppContainer(naming.app_container_id(pod.namespace, pod.name, c.name), c.name,
                              naming.image_id(c.name), sandbox, pod.name, pod.namespace, age_minutes)
                 for c in reversed(pod.containers))


def _truncated(id_: str, prefix: str = "") -> str:
    """crictl's ``getTruncatedID``: drop ``prefix``, keep 13 characters."""
    return id_.removeprefix(prefix)[:TRUNCATED_ID_LEN]


def format_crictl_pods(sandboxes: Sequence[Sandbox]) -> str:
    """``crictl pods``: one line per sandbox, in the order given (crictl sorts newest first).

    >>> print(format_crictl_pods([]))
    POD ID              CREATED             STATE               NAME                NAMESPACE           ATTEMPT             RUNTIME
    """
    rows = [["POD ID", "CREATED", "STATE", "NAME", "NAMESPACE", "ATTEMPT", "RUNTIME"]]
    for sb in sandboxes:
        rows.append([_truncated(sb.id), human_duration(sb.age_minutes) + " ago", _POD_STATE[sb.state], sb.name,
                     sb.namespace, str(sb.attempt), "(default)"])
    return format_tabwriter(rows, CRICTL_MINWIDTH, CRICTL_PADDING)


def format_crictl_ps(containers: Sequence[AppContainer]) -> str:
    """``crictl ps``: one line per running app container, in the order given (crictl sorts newest first).

    ``IMAGE`` is the image id without ``sha256:`` (kubelet passes the runtime the image id);
    ``POD ID`` is the sandbox's. The columns are those of current cri-tools (``NAMESPACE`` is
    the last; older crictl releases stop at ``POD``).

    >>> print(format_crictl_ps([]))
    CONTAINER           IMAGE               CREATED             STATE               NAME                ATTEMPT             POD ID              POD                 NAMESPACE
    """
    rows = [["CONTAINER", "IMAGE", "CREATED", "STATE", "NAME", "ATTEMPT", "POD ID", "POD", "NAMESPACE"]]
    for c in containers:
        rows.append([_truncated(c.id), _truncated(c.image_id, "sha256:"), human_duration(c.age_minutes) + " ago",
                     _CONTAINER_STATE[c.state], c.name, str(c.attempt), _truncated(c.sandbox_id), c.pod,
                     c.namespace])
    return format_tabwriter(rows, CRICTL_MINWIDTH, CRICTL_PADDING)
