"""Build and trace speed of the cluster model.

Prints, measured side by side in one run (the machine is shared, so ratios are the
figures to trust, not absolute times):

* build time of 5,000 nodes x 30 pods (Azure CNI) and 400 nodes x 110 pods (kubenet);
* the ratio of build time at 5,000 nodes to 500 nodes (10x the work; target <= 11x);
* the ratio of adding 1,000 pods one by one to a 5,000-node and to a 500-node
  cluster (persistent maps: close to 1x, not 10x);
* the median time of one cross-node trace (target under 1 ms), warm and cold.

Run: python bench/bench_model.py [--repeat N]
"""

from __future__ import annotations

import argparse
import statistics
import time

import netlab as nl


def timed(fn, repeat):
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return statistics.median(out)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    r = args.repeat

    cni_5000 = lambda: nl.Cluster.aks("azure-cni", nodes=5000, pods_per_node=30)  # noqa: E731
    cni_500 = lambda: nl.Cluster.aks("azure-cni", nodes=500, pods_per_node=30)  # noqa: E731
    kubenet_400 = lambda: nl.Cluster.aks("kubenet", nodes=400, pods_per_node=110, pod_cidr="10.244.0.0/15")  # noqa: E731

    # interleave the two sizes so machine noise hits both alike
    small, large = [], []
    for _ in range(r):
        small.append(timed(cni_500, 1))
        large.append(timed(cni_5000, 1))
    t_small, t_large = statistics.median(small), statistics.median(large)
    t_kubenet = timed(kubenet_400, r)
    print(f"build azure-cni 5,000 nodes x 30 pods (150,000 pods): {t_large * 1000:8.1f} ms")
    print(f"build kubenet     400 nodes x 110 pods (44,000 pods): {t_kubenet * 1000:8.1f} ms")
    print(f"build azure-cni   500 nodes x 30 pods  (15,000 pods): {t_small * 1000:8.1f} ms")
    print(f"ratio 5,000 / 500 nodes (10x the work, target <= 11x): {t_large / t_small:6.2f}x")

    base_small = nl.Cluster.aks("kubenet", nodes=250, pods_per_node=0)
    base_large = nl.Cluster.aks("azure-cni", nodes=5000, pods_per_node=20)
    base_small2 = nl.Cluster.aks("azure-cni", nodes=500, pods_per_node=20)

    def add_many(c):
        def run():
            x = c
            for i in range(1000):
                x = x.add_pod(f"extra-{i}", node=i % 250)
        return run

    a_small, a_large = [], []
    for _ in range(r):
        a_small.append(timed(add_many(base_small2), 1))
        a_large.append(timed(add_many(base_large), 1))
    print(f"add_pod x1000 on 500 nodes: {statistics.median(a_small) * 1000:8.1f} ms; on 5,000 nodes: "
          f"{statistics.median(a_large) * 1000:8.1f} ms; ratio {statistics.median(a_large) / statistics.median(a_small):5.2f}x")

    c = nl.Cluster.aks("kubenet", nodes=2).add_pod("web-0", node=0).add_pod("api-0", node=1)
    c.trace("web-0", "api-0")
    n = 2000
    warm = []
    for _ in range(n):
        t0 = time.perf_counter()
        c.trace("web-0", "api-0", port=8080)
        warm.append(time.perf_counter() - t0)
    def cold(base):
        out = []
        for _ in range(100):
            fresh = base.add_pod("web-0", node=0).add_pod("api-0", node=1)
            t0 = time.perf_counter()
            fresh.trace("web-0", "api-0", port=8080)
            out.append(time.perf_counter() - t0)
        return statistics.median(out) * 1e6

    print(f"cross-node trace (kubenet, 2 nodes), median of {n}: {statistics.median(warm) * 1e6:7.1f} us "
          f"(target < 1,000 us)")
    print(f"first trace of a new cluster value (builds and caches the views it reads): "
          f"{cold(nl.Cluster.aks('kubenet', nodes=2)):7.1f} us with 2 nodes, "
          f"{cold(base_small):7.1f} us with 250 nodes (formats the 250-row route table once)")
    del base_small


if __name__ == "__main__":
    main()
