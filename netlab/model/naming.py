"""Every naming scheme netlab uses, one function each, all deterministic.

The same cluster description always gives the same names and MAC addresses, so
stored notebook outputs can be compared. Where the real system picks at random (a
veth name, a MAC address), netlab derives the value from a hash of a stable key
and keeps the real *shape*.

Example:
    >>> node_name("netlab", "netlab-rg", "nodepool1", 11)
    'aks-nodepool1-87544974-vmss00000b'
    >>> bridge_veth_name("default", "web-0")
    'veth3b2c3b2c'
"""

from __future__ import annotations

import hashlib

_BASE36 = "0123456789abcdefghijklmnopqrstuvwxyz"
_SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # k8s.io/apimachinery/pkg/util/rand: no vowels, no 0/1/3


def _digest(*parts: str) -> bytes:
    return hashlib.sha256("/".join(parts).encode()).digest()


def cluster_digits(cluster: str, resource_group: str) -> str:
    """The 8-digit number AKS puts in node, VNet and route-table names of one cluster."""
    return f"{int.from_bytes(_digest(resource_group, cluster)[:8], 'big') % 10**8:08d}"


def base36(n: int, width: int = 6) -> str:
    """VM scale set instance ids appear in computer names in base 36, six characters.

    >>> base36(35), base36(36)
    ('00000z', '000010')
    """
    out = ""
    while n:
        n, r = divmod(n, 36)
        out = _BASE36[r] + out
    return out.rjust(width, "0")


def node_name(cluster: str, resource_group: str, pool: str, index: int) -> str:
    """``aks-<pool>-<digits>-vmss<instance in base 36>``, as AKS names scale-set nodes."""
    return f"aks-{pool}-{cluster_digits(cluster, resource_group)}-vmss{base36(index)}"


def vnet_name(cluster: str, resource_group: str) -> str:
    """The managed VNet AKS creates in the node resource group (its own 8 digits)."""
    return f"aks-vnet-{cluster_digits(cluster + '-vnet', resource_group)}"


def route_table_name(cluster: str, resource_group: str) -> str:
    """The route table AKS creates for kubenet and attaches to the node subnet."""
    return f"aks-agentpool-{cluster_digits(cluster, resource_group)}-routetable"


def node_resource_group(cluster: str, resource_group: str, location: str) -> str:
    """``MC_<group>_<cluster>_<location>``: where AKS keeps the cluster's Azure resources."""
    return f"MC_{resource_group}_{cluster}_{location}"


def bridge_veth_name(namespace: str, pod: str) -> str:
    """Host end of a pod's veth pair for bridge-style plugins: ``veth`` + 8 hex digits.

    The CNI bridge plugin picks 4 random bytes; netlab hashes the pod's name instead.
    """
    return "veth" + _digest("veth", namespace, pod)[:4].hex()


def azure_veth_name(namespace: str, pod: str, bridge_mode: bool = False) -> str:
    """Host end of a pod's veth pair for Azure CNI: ``azv`` + 11 hex digits of a SHA-1.

    Transparent mode (and Overlay) hash ``<namespace>.<pod>``, exactly as Azure CNI
    does; bridge mode hashes ``azure<container id>eth0``, with the container id
    derived from the pod's name here.

    >>> azure_veth_name("default", "nginx")
    'azvc440f455693'
    """
    key = f"azure{container_id(namespace, pod)}eth0" if bridge_mode else f"{namespace}.{pod}"
    return "azv" + hashlib.sha1(key.encode()).hexdigest()[:11]


def container_id(namespace: str, pod: str) -> str:
    """The 64-hex-digit id of the pod's sandbox (pause) container.

    It is the ``POD ID`` ``crictl pods`` prints (first 13 digits) and the id Azure CNI bridge
    mode hashes into the host veth's name.

    >>> container_id("default", "web-0")[:13]
    '9b86cc4521762'
    """
    return _digest("sandbox", namespace, pod).hex()


def app_container_id(namespace: str, pod: str, container: str) -> str:
    """The 64-hex-digit id the runtime gives one app container of a pod (``crictl ps``'s ``CONTAINER``).

    >>> len(app_container_id("default", "web-0", "nginx"))
    64
    """
    return _digest("container", namespace, pod, container).hex()


def image_id(image: str) -> str:
    """An image's id, ``sha256:`` and 64 hex digits (what kubelet hands the runtime and ``crictl ps`` shows).

    The real id is the digest of the image's config; netlab hashes the image reference instead.

    >>> image_id("mcr.microsoft.com/oss/kubernetes/pause:3.6")[:7]
    'sha256:'
    """
    return "sha256:" + _digest("image", image).hex()


def pod_template_hash(namespace: str, deployment: str) -> str:
    """The ``pod-template-hash`` a Deployment's ReplicaSet and pods carry, in its real shape.

    Kubernetes hashes the pod template (FNV-32a), prints the number in decimal and maps each
    digit through ``rand.SafeEncodeString`` (so only ``4-9`` and ``b c d f`` appear), which
    gives names such as ``coredns-5d78c9869d``. netlab hashes the Deployment's name.

    >>> h = pod_template_hash("kube-system", "coredns")
    >>> set(h) <= set("456789bcdf") and 1 <= len(h) <= 10
    True
    """
    number = int.from_bytes(_digest("pod-template", namespace, deployment)[:4], "big")
    return "".join(_SAFE_ALPHABET[ord(d) % len(_SAFE_ALPHABET)] for d in str(number))


def template_hash(namespace: str, workload: str, template: str) -> str:
    """The hash a Deployment, StatefulSet or DaemonSet gives the pods of one pod template, in the
    shape of :func:`pod_template_hash`; ``template`` is the template as canonical JSON, so a new
    template gives a new hash (and new pod names), as a rollout does.

    >>> template_hash("default", "shop", "{}") == template_hash("default", "shop", "{}")
    True
    >>> template_hash("default", "shop", "{}") != template_hash("default", "shop", '{"a":1}')
    True
    """
    number = int.from_bytes(_digest("pod-template", namespace, workload, template)[:4], "big")
    return "".join(_SAFE_ALPHABET[ord(d) % len(_SAFE_ALPHABET)] for d in str(number))


def random_suffix(*key: str, length: int = 5) -> str:
    """``length`` characters from Kubernetes' ``utilrand`` alphabet (no vowels, no 0, 1, 3), as the
    ReplicaSet controller appends to pod names; netlab derives them from ``key``.

    >>> s = random_suffix("coredns", "0")
    >>> len(s), set(s) <= set(_SAFE_ALPHABET)
    (5, True)
    """
    h = int.from_bytes(_digest("suffix", *key)[:8], "big")
    out = ""
    for _ in range(length):
        h, r = divmod(h, len(_SAFE_ALPHABET))
        out += _SAFE_ALPHABET[r]
    return out


def _mac(prefix: bytes, seed: bytes) -> str:
    raw = prefix + seed[: 6 - len(prefix)]
    return ":".join(f"{b:02x}" for b in raw)


def nic_mac(node: str) -> str:
    """An Azure NIC's MAC: Microsoft's OUI ``00:0d:3a`` and three bytes from the node name."""
    return _mac(b"\x00\x0d\x3a", _digest("nic", node))


def virtual_mac(*key: str) -> str:
    """A MAC for a virtual interface (veth end, bridge): locally administered, unicast.

    >>> int(virtual_mac("x").split(":")[0], 16) & 0b11
    2
    """
    seed = bytearray(_digest("mac", *key)[:6])
    seed[0] = (seed[0] & 0b11111100) | 0b10
    return ":".join(f"{b:02x}" for b in seed)


def netns_name(namespace: str, pod: str) -> str:
    """The named network namespace a container runtime creates for a pod: ``cni-<uuid>``.

    containerd names it ``cni-%x-%x-%x-%x-%x`` from 16 random bytes and bind-mounts it under
    ``/var/run/netns`` (:func:`netns_path`); netlab hashes the pod's name instead.
    """
    h = _digest("netns", namespace, pod).hex()
    return f"cni-{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def netns_path(namespace: str, pod: str) -> str:
    """Where the pod's network namespace is mounted on the node (``ip netns`` lists it by name).

    >>> netns_path("default", "web-0").startswith("/var/run/netns/cni-")
    True
    """
    return "/var/run/netns/" + netns_name(namespace, pod)
