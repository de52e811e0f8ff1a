"""The check against the Linux kernel: a cluster realised in network namespaces.

Owns realising a cluster with ``ip``, ``iptables-restore`` and ``nft`` (:mod:`.netns`), the
comparison of the model's traces with what the kernel does (:mod:`.agreement`) and the probe that
answers connections inside the namespaces (:mod:`.probe`). Run ``python -m netlab.linux check``.
"""

from .netns import (  # noqa: F401 - netlab.linux.<name> stays the public path
    NETNS_PATTERN,
    PREFIX_PATTERN,
    PROBE,
    AZURE_FABRIC_MAC,
    UDR_TABLE,
    LB_TABLE_BASE,
    LB_MARK_BASE,
    NODE_PORTS,
    HOST_PORTS,
    COMMAND_TIMEOUT,
    KernelError,
    new_prefix,
    node_netns,
    pod_netns,
    HOST_NETNS,
    host_netns,
    vnet_netns,
    vnet_link,
    EBTABLES_HINT,
    missing_requirements,
    require,
    kernel_support,
    self_hairpin_support,
    hairpin_cluster,
    measure_self_hairpin,
    Command,
    Plan,
    pods_by_key,
    proxy_rules,
    plan,
    list_netns,
    cleanup,
    Flow,
    Observation,
    resolve_destination,
    lb_node_of,
    LinuxCluster,
    realise,
    main,
)
