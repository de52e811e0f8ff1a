"""The check against the Linux kernel: a cluster realised in network namespaces.

Owns realising a cluster with ``ip``, ``iptables-restore`` and ``nft`` (:mod:`.netns`), the
comparison of the model's traces with what the kernel does (:mod:`.agreement`) and the probe that
answers connections inside the namespaces (:mod:`.probe`). Run ``python -m netlab.linux check``.
"""

from .netns import Flow, KernelError, LinuxCluster, Observation, cleanup, kernel_support, plan, realise

__all__ = ["Flow", "KernelError", "LinuxCluster", "Observation", "cleanup", "kernel_support", "plan", "realise"]
