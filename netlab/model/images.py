"""Node images: the OS and kernel a node boots, and what the kernel does with a pod's packet to itself.

A pod that connects to a Service it backs can be sent to itself: kube-proxy picks one
endpoint, and that may be the calling pod. The node DNATs the packet from the ClusterIP to
the pod's own address, so on kubenet the frame has to leave ``cbr0`` by the very port it came
in on. A Linux bridge does that only for a port with ``hairpin on``. AKS writes the kubenet
bridge's CNI config with ``"promiscMode": true`` and ``"hairpinMode": false`` (and an ebtables
rule against the duplicate frames a promiscuous bridge produces, see :mod:`netlab.cni`), so
whether the connection works depends on the node's kernel:

* up to Linux 6.6 (Azure Linux 3; Ubuntu 22.04 nodes) the promiscuous bridge passes the DNATed
  frame up to IP; ``POSTROUTING`` masquerades it to ``cbr0``'s address and it comes back from
  ``cbr0``'s own MAC, which the bridge may send out of the pod's port: **connected**;
* Linux 6.8 (Ubuntu 24.04, AKS's default node OS from Kubernetes 1.35) keeps the frame on the
  bridge, which will not send it back out of the port it came in on: **the connection times
  out**. Turning hairpin mode on (``Cluster.aks(..., hairpin_mode=True)``, what AgentBaker pull
  request 8426 proposes) makes the bridge send it back: **connected** on every kernel.

Sources (recorded in ``../reference/k8s-networking-facts.md``, section "Node images and the
kubenet bridge's hairpin"):

* default OS per Kubernetes version: AKS's "upgrade OS version" page
  (learn.microsoft.com/azure/aks/upgrade-os-version): Ubuntu 22.04 for 1.25 to 1.34, Ubuntu
  24.04 from 1.35; ``--os-sku AzureLinux`` gives Azure Linux 3;
* kernels: 6.8 (Ubuntu 24.04) and 6.6 (Azure Linux 3) as reported in github.com/Azure/AKS
  issue 5669 and github.com/Azure/AgentBaker pull request 8426; 5.15 is the kernel Ubuntu
  22.04 was released with. AKS's 22.04 images may carry a newer ``-azure`` kernel (check the
  node image release notes); netlab's behaviour class for 22.04 rests on the issue's report
  that the connection works on 1.34 + Ubuntu 22.04 nodes, not on the version number;
* the behaviour per kernel: the analysis in AgentBaker pull request 8426 (open);
* measured here: ``tests/test_linux_hairpin.py`` realises a one-node kubenet cluster on the
  running kernel and checks that :func:`self_hairpin` of :func:`matching_image` predicts what
  the kernel does, with hairpin off and on, in iptables and nftables modes.

Example:
    >>> image("ubuntu-24.04").kernel_version
    '6.8'
    >>> delivered, why = self_hairpin("azurelinux-3", hairpin_mode=False, promisc=True)
    >>> delivered
    True

Not taught in a notebook yet; it belongs with Services in ``notebooks/07-services.ipynb``.
"""

from __future__ import annotations

import enum
import platform
import re
import types
from dataclasses import dataclass

from ..errors import ConfigError, did_you_mean


class KernelPath(str, enum.Enum):
    """What a kernel does with a DNATed frame that must leave the bridge by the port it came in on,
    when that port has hairpin off and the bridge is promiscuous."""

    PASSED_UP = "passed up to IP"  # Linux up to 6.6: routed, masqueraded, comes back from the bridge's MAC
    STAYS_BRIDGED = "stays on the bridge"  # Linux 6.8 and later: dropped by the bridge (no hairpin)

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True, slots=True)
class NodeImage:
    """One AKS node image: its OS, its kernel and where the numbers come from.

    ``kernel`` is ``(major, minor)``; ``kernel_source`` says where that number comes from;
    ``path`` is what the kernel does with a pod's packet to itself through its own Service
    (:class:`KernelPath`); ``default_for`` the Kubernetes versions that get this image by default.
    """

    name: str
    os: str
    os_sku: str  # az aks nodepool add --os-sku
    kernel: tuple[int, int]
    kernel_source: str
    path: KernelPath
    default_for: str = ""

    @property
    def kernel_version(self) -> str:
        return f"{self.kernel[0]}.{self.kernel[1]}"

    def __str__(self) -> str:
        return f"{self.name} ({self.os}, Linux {self.kernel_version})"


_IMAGES = (
    NodeImage("ubuntu-22.04", "Ubuntu 22.04 LTS", "Ubuntu", (5, 15),
              "the kernel Ubuntu 22.04 was released with; AKS's 22.04 images may carry a newer -azure kernel "
              "(check the node image release notes). Azure/AKS issue 5669 reports a pod reaching itself through "
              "its Service works on Kubernetes 1.34 + Ubuntu 22.04 nodes",
              KernelPath.PASSED_UP, "Kubernetes 1.25 to 1.34 (--os-sku Ubuntu)"),
    NodeImage("ubuntu-24.04", "Ubuntu 24.04 LTS", "Ubuntu", (6, 8),
              "as reported in Azure/AKS issue 5669 and Azure/AgentBaker pull request 8426",
              KernelPath.STAYS_BRIDGED, "Kubernetes 1.35 and later (--os-sku Ubuntu)"),
    NodeImage("azurelinux-3", "Azure Linux 3.0", "AzureLinux", (6, 6),
              "as reported in Azure/AgentBaker pull request 8426",
              KernelPath.PASSED_UP, "--os-sku AzureLinux"),
)

#: Every node image netlab knows, by name (read-only).
IMAGES: types.MappingProxyType[str, NodeImage] = types.MappingProxyType({i.name: i for i in _IMAGES})

#: The image :meth:`netlab.Cluster.aks` gives a cluster: AKS's default node OS for new clusters
#: (Ubuntu 24.04 from Kubernetes 1.35; netlab teaches today's Kubernetes, where IPVS is deprecated
#: (1.35) and nftables GA (1.33)).
DEFAULT_IMAGE = "ubuntu-24.04"

#: The first kernel known to keep the frame on the bridge (6.8), and the last known to pass it up (6.6).
FIRST_STAYS_BRIDGED = (6, 8)
LAST_PASSED_UP = (6, 6)


def image(name: "str | NodeImage") -> NodeImage:
    """The node image called ``name`` (``ubuntu-22.04``, ``ubuntu-24.04``, ``azurelinux-3``).

    >>> image("ubuntu-22.04").os
    'Ubuntu 22.04 LTS'
    >>> image("ubuntu-24.4")
    Traceback (most recent call last):
    ...
    netlab.errors.ConfigError: there is no node image 'ubuntu-24.4': netlab knows ubuntu-22.04, ubuntu-24.04, azurelinux-3. Did you mean 'ubuntu-24.04'?
    """
    if isinstance(name, NodeImage):
        return name
    found = IMAGES.get(name) if isinstance(name, str) else None
    if found is None:
        raise ConfigError(f"there is no node image {name!r}: netlab knows {', '.join(IMAGES)}."
                          + did_you_mean(str(name), IMAGES))
    return found


def kernel_path(kernel: tuple[int, int]) -> KernelPath | None:
    """The behaviour of a kernel version, or ``None`` between 6.6 and 6.8 (6.7: not known).

    >>> kernel_path((5, 15)), kernel_path((6, 18)), kernel_path((6, 7))
    (<KernelPath.PASSED_UP: 'passed up to IP'>, <KernelPath.STAYS_BRIDGED: 'stays on the bridge'>, None)
    """
    if tuple(kernel) <= LAST_PASSED_UP:
        return KernelPath.PASSED_UP
    if tuple(kernel) >= FIRST_STAYS_BRIDGED:
        return KernelPath.STAYS_BRIDGED
    return None


def parse_release(release: str) -> tuple[int, int]:
    """``(major, minor)`` of a kernel release string as ``uname -r`` prints it.

    >>> parse_release("6.8.0-1021-azure"), parse_release("6.18.44-fc-v1252"), parse_release("5.15.0-1079-azure")
    ((6, 8), (6, 18), (5, 15))
    """
    m = re.match(r"^\s*(\d+)\.(\d+)", str(release))
    if not m:
        raise ConfigError(f"kernel release {release!r} does not start with a version such as '6.8'")
    return int(m.group(1)), int(m.group(2))


def matching_image(release: str | None = None) -> NodeImage | None:
    """The catalogue image whose kernel behaves as the kernel ``release`` (default: this machine's,
    ``platform.release()``) does for a pod reaching itself through its Service; ``None`` if not known.

    A newer kernel matches the image with the newest kernel of the same behaviour; ``None`` for 6.7.

    >>> matching_image("6.18.44").name, matching_image("6.6.64.2-1.azl3").name, matching_image("5.15.0").name
    ('ubuntu-24.04', 'azurelinux-3', 'ubuntu-22.04')
    """
    kernel = parse_release(platform.release() if release is None else release)
    path = kernel_path(kernel)
    if path is None:
        return None
    same = [i for i in _IMAGES if i.path is path]
    exact = [i for i in same if i.kernel == kernel]
    if exact:
        return exact[0]
    older = [i for i in same if i.kernel <= kernel]
    return max(older or same, key=lambda i: i.kernel)


def self_hairpin(node_image: "str | NodeImage", hairpin_mode: bool, promisc: bool,
                 bridge: str = "cbr0") -> tuple[bool, str]:
    """Whether a pod reaches itself through a Service it backs, on a bridge, and why.

    ``hairpin_mode``: the pod's bridge port has hairpin on; ``promisc``: the bridge is promiscuous.
    Returns ``(delivered, reason)``; the reason names the bridge setting and the kernel.

    >>> self_hairpin("ubuntu-24.04", hairpin_mode=False, promisc=True)[0]
    False
    >>> print(self_hairpin("ubuntu-24.04", hairpin_mode=True, promisc=True)[1])
    the pod's port of cbr0 has hairpin on, so the bridge sends the DNATed frame back out of the port it came in on, to the pod itself (any kernel; AgentBaker pull request 8426 turns hairpin on for Ubuntu 24.04)
    """
    img = image(node_image)
    kernel = f"Linux {img.kernel_version} ({img.os})"
    if hairpin_mode:
        return True, (f"the pod's port of {bridge} has hairpin on, so the bridge sends the DNATed "
                      "frame back out of the port it came in on, to the pod itself (any kernel; AgentBaker "
                      "pull request 8426 turns hairpin on for Ubuntu 24.04)")
    if not promisc:
        return False, (f"the pod's port of {bridge} has hairpin off and {bridge} is not promiscuous, so "
                       f"nothing passes the DNATed frame up to IP on {kernel} or any kernel, and the bridge will "
                       "not send a frame back out of the port it came in on; the connection times out")
    if img.path is KernelPath.PASSED_UP:
        return True, (f"hairpin is off on {bridge}'s port, but {bridge} is promiscuous and {kernel} "
                      "passes the DNATed frame up to IP, where POSTROUTING masquerades it to "
                      f"{bridge}'s address; it comes back from {bridge}'s own MAC, which the bridge may send out "
                      "of the pod's port")
    return False, (f"hairpin is off on {bridge}'s port (AKS writes hairpinMode false) and {kernel} keeps "
                   "the DNATed frame on the bridge, which will not send a frame back out of the port it came in "
                   "on; the connection times out (Azure/AKS issue 5669; the fix, AgentBaker pull request 8426, "
                   "turns hairpin on)")
