"""Speed goals of the model, measured side by side in one run.

The machine is shared and noisy, so every goal is a ratio of two timings taken in the
same run, or a time from ``python -X importtime`` in a fresh interpreter:

* the first trace after ``add_service`` and after ``add_pod`` on 2,000 Azure CNI nodes x
  30 pods with 10 Services, as a multiple of a warm trace on the same cluster
  (goal: at most 20x);
* a warm cross-node pod trace on 2 and on 400 kubenet nodes (goal: under 1 ms each,
  ratio 400 / 2 at most 1.5);
* ``import netlab``: cumulative microseconds from ``python -X importtime`` (goal: at most
  0.2 s), and which kube-proxy mode modules the import loads (goal: none).

Run: python bench/bench_speed.py [--repeat N]
"""

from __future__ import annotations

import argparse
import gc
import statistics
import subprocess
import sys
import time

import netlab as nl

MODE_MODULES = ("netlab.kubeproxy.iptables", "netlab.kubeproxy.ipvs", "netlab.kubeproxy.nftables",
                "netlab.kubeproxy.userspace", "netlab.kubeproxy.nft")


from bench_model import timed as median_time  # noqa: E402 - the median of repeated runs, as bench_model times


def big_cluster() -> "nl.Cluster":
    c = nl.Cluster.aks("azure-cni", nodes=2000, pods_per_node=30, max_pods=32)
    for i in range(10):
        c = c.add_service(f"svc-{i}", selector={"app": f"app-{i}"}, ports=[80])
    return c.add_pod("client", node=0).add_pod("server", node=1, labels={"app": "app-0"},
                                                 containers=[nl.Container("web", ports=[80])])


def first_after_change(repeat: int) -> None:
    base = big_cluster()
    base.trace("client", "server", port=80)
    warm = median_time(lambda: base.trace("client", "server", port=80), max(repeat * 20, 50))
    firsts = {}
    for what, change in (
        ("add_service", lambda i: base.add_service(f"extra-{i}", selector={"app": "none"}, ports=[80])),
        ("add_pod", lambda i: base.add_pod(f"extra-{i}", node=5, labels={"app": "app-3"})),
    ):
        times = []
        for i in range(max(repeat, 3)):  # at least three: one garbage collection can land in a single run
            fresh = change(i)
            gc.collect()
            gc.disable()
            try:
                t0 = time.perf_counter()
                fresh.trace("client", "server", port=80)
                times.append(time.perf_counter() - t0)
            finally:
                gc.enable()
        firsts[what] = statistics.median(times)
    print(f"2,000 nodes x 30 pods, 10 Services: warm trace {warm * 1e3:8.2f} ms")
    for what, t in firsts.items():
        print(f"  first trace after {what:<11} {t * 1e3:8.2f} ms = {t / warm:7.1f}x a warm trace (goal <= 20x)")


def warm_trace(repeat: int) -> None:
    results = {}
    clusters = {}
    for nodes in (2, 400):
        c = nl.Cluster.aks("kubenet", nodes=nodes, pod_cidr="10.240.0.0/12")
        c = c.add_pod("web-0", node=0).add_pod("api-0", node=1, containers=[nl.Container("api", ports=[8080])])
        c.trace("web-0", "api-0", port=8080)
        clusters[nodes] = c
        results[nodes] = []
    n = max(repeat * 200, 500)
    for _ in range(5):  # interleave so noise hits both sizes alike
        for nodes, c in clusters.items():
            results[nodes].append(median_time(lambda c=c: c.trace("web-0", "api-0", port=8080), n // 5))
    t2, t400 = statistics.median(results[2]), statistics.median(results[400])
    print(f"warm cross-node pod trace, kubenet:   2 nodes {t2 * 1e6:7.1f} us, 400 nodes {t400 * 1e6:7.1f} us "
          f"(goal < 1,000 us); ratio 400/2 {t400 / t2:5.2f} (goal <= 1.5)")


def import_time(repeat: int) -> None:
    totals, loaded = [], set()
    for _ in range(max(repeat, 3)):
        out = subprocess.run([sys.executable, "-X", "importtime", "-c", "import netlab"],
                             capture_output=True, text=True, check=True).stderr
        for line in out.splitlines():
            parts = [p.strip() for p in line.split("|")]
            if len(parts) == 3 and parts[2] in MODE_MODULES:
                loaded.add(parts[2])
            if len(parts) == 3 and parts[2] == "netlab":
                totals.append(int(parts[1]))
    print(f"import netlab: {statistics.median(totals) / 1e6:.3f} s cumulative (median of {len(totals)}, goal <= 0.2 s); "
          f"kube-proxy mode modules loaded: {', '.join(sorted(loaded)) or 'none'}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    import_time(args.repeat)
    warm_trace(args.repeat)
    first_after_change(args.repeat)


if __name__ == "__main__":
    main()
