"""How fast the explorer answers, measured side by side with a floor in one run.

Each explorer action is timed from the click (a control's value set, a button clicked, as a
learner does) to its updated output: the model change and the picture the browser receives
(the diagram's HTML in the explorer's widget). The floor is what one ordinary chart costs:
a 1000 x 400 px matplotlib figure with 60 short labels, rendered to PNG.

Goals: the median action at most half the floor on a 3-node and on a 9-node cluster, and a step
of the step-through at most a tenth of the floor. This machine is shared and noisy, so every
figure is a ratio to the floor measured in the same run.

Run: python bench/bench_widgets.py [--repeat N]
"""

from __future__ import annotations

import argparse
import io
import statistics
import time

import netlab as nl


def floor_png() -> None:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 4), dpi=100)
    ax = fig.subplots()
    for k in range(60):
        ax.text((k % 10) / 10, (k // 10) / 6, f"label {k}", fontsize=9)
    fig.savefig(io.BytesIO(), format="png", dpi=100)


def explorer(nodes: int):
    c = nl.Cluster.aks("kubenet", nodes=nodes)
    for i in range(nodes):
        c = c.add_pod(f"web-{i}", node=i, labels={"app": "web"}, containers=[nl.Container("nginx", ports=[80])])
    c = c.add_pod("client", node=0).add_service("web", selector={"app": "web"}, ports=[80])
    return nl.explore(c)


def actions(ex, k: int):
    """One of each explorer action, as (name, the learner's click); k makes names unique per repeat."""
    c = ex.controls

    def add_pod():
        c["pod_name"].value, c["pod_node"].value = f"extra-{k}", 0
        c["add_pod"].click()

    def add_service():
        c["svc_name"].value, c["svc_app"].value = f"svc-{k}", "web"
        c["add_service"].click()

    def trace():
        c["src"].value, c["dst"].value, c["port"].value = "client", "web", 80
        c["go"].click()

    def plugin():
        c["plugin"].value = "azure-cni" if c["plugin"].value == "kubenet" else "kubenet"

    def mode():
        c["proxy_mode"].value = "nftables" if c["proxy_mode"].value == "iptables" else "iptables"

    return [("add node", lambda: (c["add_node"].click(), c["undo"].click())), ("add pod", add_pod),
            ("add Service", add_service), ("switch plugin", plugin), ("switch proxy mode", mode), ("trace", trace)]


def timed(fn, ex=None) -> float:
    t0 = time.perf_counter()
    fn()
    took = time.perf_counter() - t0
    if ex is not None:  # a refused action would be fast and prove nothing
        assert "#1b7837" in ex.message.value, ex.message.value
    return took


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()
    floor_png()  # warm matplotlib once
    floors, rows = [], {}
    for nodes in (3, 9):
        ex = explorer(nodes)
        for k in range(args.repeat):
            floors.append(timed(floor_png))
            for name, act in actions(ex, k):
                if name == "add node":
                    # Add node, then Undo, so the cluster keeps its size: time the add alone
                    c = ex.controls
                    rows.setdefault((nodes, name), []).append(timed(c["add_node"].click, ex))
                    c["undo"].click()
                    continue
                rows.setdefault((nodes, name), []).append(timed(act, ex))
        # a step: the step-through of the explorer's last trace, Next clicked
        ex.controls["src"].value, ex.controls["dst"].value = "client", "web"
        ex.controls["go"].click()
        ex.controls["step"].value = True
        stepper = ex.stepper
        for _ in range(args.repeat * 3):
            if stepper.step == stepper.steps:
                stepper.step = 1
            rows.setdefault((nodes, "step"), []).append(timed(stepper.next.click))
    floor = statistics.median(floors)
    print(f"floor: a 1000x400 px matplotlib figure with 60 labels to PNG: {floor * 1000:.1f} ms (median of {len(floors)})")
    for nodes in (3, 9):
        acts = {name: statistics.median(v) for (n, name), v in rows.items() if n == nodes and name != "step"}
        median_action = statistics.median(acts.values())
        step = statistics.median(rows[(nodes, "step")])
        print(f"\n{nodes} nodes:")
        for name, t in acts.items():
            print(f"  {name:18} {t * 1000:7.1f} ms = {t / floor:5.2f} x the floor")
        print(f"  median action      {median_action * 1000:7.1f} ms = {median_action / floor:5.2f} x the floor (goal <= 0.5)")
        print(f"  step               {step * 1000:7.2f} ms = {step / floor:5.3f} x the floor (goal <= 0.1)")


if __name__ == "__main__":
    main()
