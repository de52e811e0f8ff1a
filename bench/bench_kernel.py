"""The kernel check's costs: realising clusters, and netlab's rendering against the kernel's loading.

Prints

* build and teardown time of a realised cluster (:func:`netlab.linux.realise`) for 2 nodes
  x 2 pods and 10 nodes x 10 pods (probe servers included, links waited for);
* for 10,000 Services x 3 endpoints, the time netlab takes to render kube-proxy's
  ``iptables-restore`` input (``kubeproxy.render("iptables", ..., form="restore")``), the
  time ``iptables-restore`` takes to load it into a fresh network namespace, and their
  ratio (the target is below 0.5: rendering must not be the slow part). The same for
  nftables mode (``nft -f`` of the transaction) when netlab renders it.

Needs root, iproute2, iptables and nftables (it creates and removes its own namespaces,
named ``nl<6 hex>-...``). Run: python bench/bench_kernel.py [--services N] [--endpoints K]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import time

import netlab as nl
from netlab import kubeproxy as kp
from netlab.linux import netns as linux
from netlab.kubeproxy.cost import _objects


def cluster(nodes: int, pods: int) -> nl.Cluster:
    c = nl.Cluster.aks("kubenet", nodes=nodes)
    web = [nl.Container("nginx", ports=[8080])]
    for n in range(nodes):
        for k in range(pods):
            c = c.add_pod(f"web-{n}-{k}", node=n, labels={"app": "web"}, containers=web)
    return c.add_service("web", selector={"app": "web"}, ports=[{"port": 80, "targetPort": 8080}], type="NodePort")


def build_teardown(nodes: int, pods: int, repeat: int) -> tuple[float, float]:
    builds, teardowns = [], []
    c = cluster(nodes, pods)
    for _ in range(repeat):
        lab = linux.realise(c)
        with lab:
            pass
        builds.append(lab.build_seconds)
        teardowns.append(lab.teardown_seconds)
    return statistics.median(builds), statistics.median(teardowns)


def load_seconds(argv: list[str], text: str) -> float:
    """Time ``argv`` (run inside a fresh namespace) reading ``text``; the namespace is removed after."""
    ns = f"{linux.new_prefix()}-chk"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        t0 = time.perf_counter()
        r = subprocess.run(["ip", "netns", "exec", ns, *argv], input=text, capture_output=True, text=True)
        took = time.perf_counter() - t0
        if r.returncode != 0:
            raise SystemExit(f"{' '.join(argv)} failed: {r.stderr[:500]}")
        return took
    finally:
        subprocess.run(["ip", "netns", "del", ns], check=False)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--services", type=int, default=10_000)
    ap.add_argument("--endpoints", type=int, default=3)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    linux.require("nftables" if "nftables" in kp.api.PROXY_MODES else "iptables")

    print("realised clusters (kubenet, probe servers on), median of", args.repeat)
    for nodes, pods in ((2, 2), (10, 10)):
        build, down = build_teardown(nodes, pods, args.repeat)
        print(f"  {nodes:2} nodes x {pods:2} pods: build {build:6.2f} s   teardown {down:5.2f} s")

    svcs, slices = _objects(args.services, args.endpoints)
    parsed_svcs = [kp.parse_service(s) for s in svcs]
    parsed_slices = [kp.parse_endpoint_slice(s) for s in slices]
    cfg = kp.ProxyConfig(node_name="node-0", node_ips=["10.224.0.4"], cluster_cidr="10.244.0.0/16")
    jobs = [("iptables", "restore", ["iptables-restore"])]
    if "nftables" in kp.api.PROXY_MODES:
        jobs.append(("nftables", "transaction", ["nft", "-f", "-"]))
    print(f"{args.services:,} Services x {args.endpoints} endpoints: netlab renders, the kernel loads "
          f"(median of {args.repeat})")
    for mode, form, argv in jobs:
        renders, loads = [], []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            text = kp.render(mode, parsed_svcs, parsed_slices, cfg, form=form)
            renders.append(time.perf_counter() - t0)
            loads.append(load_seconds(argv, text))
        r, lo = statistics.median(renders), statistics.median(loads)
        print(f"  {mode:9} render {r:6.2f} s   {' '.join(argv):18} {lo:6.2f} s   "
              f"render/load {r / lo:5.2f}  (target < 0.5)   {text.count(chr(10)):,} lines")


if __name__ == "__main__":
    main()
