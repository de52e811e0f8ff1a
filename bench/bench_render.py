"""How long kube-proxy's rules take netlab to render, at 10,000 Services x 3 endpoints.

Prints, per mode and form, the time to render and the number of lines written. Modes
are measured one after the other in the same run. Run: python bench/bench_render.py
[--services N] [--endpoints K] [--repeat R]
"""

from __future__ import annotations

import argparse
import statistics
import time

from netlab import kubeproxy as kp
from netlab.kubeproxy.cost import _objects


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--services", type=int, default=10_000)
    ap.add_argument("--endpoints", type=int, default=3)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    svcs, slices = _objects(args.services, args.endpoints)
    parsed_svcs = [kp.parse_service(s) for s in svcs]
    parsed_slices = [kp.parse_endpoint_slice(s) for s in slices]
    cfg = kp.ProxyConfig(node_name="node-0", node_ips=["10.224.0.4"], cluster_cidr="10.244.0.0/16")
    jobs = [("iptables", "restore"), ("iptables", "save")]
    for mode, forms in (("nftables", ("transaction",)), ("ipvs", ("ipvsadm", "iptables"))):
        if mode in kp.api.PROXY_MODES:
            jobs += [(mode, f) for f in forms]
    print(f"{args.services:,} Services x {args.endpoints} endpoints (median of {args.repeat})")
    for mode, form in jobs:
        times, text = [], ""
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            text = kp.render(mode, parsed_svcs, parsed_slices, cfg, form=form)
            times.append(time.perf_counter() - t0)
        lines = text.count("\n")
        print(f"  {mode:9} {form:12} {statistics.median(times):7.2f} s  {lines:9,} lines  "
              f"{len(text) / 2**20:6.1f} MiB")


if __name__ == "__main__":
    main()
