"""Shared by the tests: the plugin list and a way to switch a cluster to each."""

PLUGINS = ["kubenet", "azure-cni", "azure-cni-bridge", "azure-cni-overlay", "none"]


def with_plugin(cluster, plugin):
    """The cluster under ``plugin``; ``azure-cni-bridge`` is Azure CNI in bridge mode."""
    if plugin == "azure-cni-bridge":
        return cluster.with_plugin("azure-cni", cni_mode="bridge")
    return cluster.with_plugin(plugin)
