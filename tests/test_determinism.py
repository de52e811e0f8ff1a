"""Same description, same text: across processes too, whatever Python's hash seed.

nbval compares the notebooks' stored outputs with a fresh run in a new kernel, so every name,
address, rule and trace must come out the same in another process. One process cannot show a
dependence on set or dict order that varies with ``PYTHONHASHSEED``; two processes with different
seeds can.
"""

from __future__ import annotations

import hashlib
import os
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent

SCRIPT = r'''
import netlab as nl
web = [nl.Container("nginx", ports=[nl.ContainerPort(8080, name="http")])]
c = (nl.Cluster.aks("kubenet", nodes=3)
     .add_pod("web-0", node=0, labels={"app": "web"}, containers=web)
     .add_pod("web-1", node=1, labels={"app": "web"}, containers=web)
     .add_pod("client", node=0)
     .add_service("web", selector={"app": "web"}, ports=[{"name": "http", "port": 80, "targetPort": "http"}])
     .add_service("shop", selector={"app": "web"}, ports=[80], type="LoadBalancer",
                  external_traffic_policy="Local")
     .add_coredns())
out = [c.kubectl_get_pods(all_namespaces=True), c.kubectl_get_svc(all_namespaces=True),
       c.kubectl_get_endpointslices(all_namespaces=True), c.describe(), c.azure_route_table(),
       c.nodes[0].ip_addr(), c.nodes[0].ip_route(), c.nodes[0].crictl_ps(),
       c.trace("client", "web").text(rules=True), str(c.trace("internet", str(c.services["shop"].load_balancer_ip))),
       str(c.trace("web-0", "internet", port=443).reply)]
for mode in ("iptables", "nftables", "ipvs", "userspace"):
    m = c.with_proxy_mode(mode)
    out += [m.nodes[0].iptables_save(), m.trace("client", "web", seed=3).text(rules=True)]
out += [c.with_proxy_mode("nftables").nodes[1].nft_list(), c.with_proxy_mode("ipvs").nodes[2].ipvsadm(),
        str(c.with_plugin("azure-cni").trace("client", "web-1")), str(nl.compare_plugins(nodes=20))]
t = c.trace("internet", str(c.services["shop"].load_balancer_ip))
s = nl.step_through(t)
s.step = 3
out += [nl.draw_cluster(c, trace=t).svg, s.picture.value, s.detail.value, c.graph().edges(data=True)]
print("\n=====\n".join(str(o) for o in out))
'''


def _run(seed: str) -> str:
    env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env,
                          timeout=300, check=False, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_every_view_and_trace_is_the_same_under_two_hash_seeds():
    a, b = _run("0"), _run("4242")
    assert len(a) > 20_000  # the views really were printed
    if a != b:
        first = next(i for i, (x, y) in enumerate(zip(a.splitlines(), b.splitlines())) if x != y)
        raise AssertionError(f"line {first} differs between hash seeds:\n{a.splitlines()[first]}\n"
                             f"{b.splitlines()[first]}")
    assert hashlib.sha256(a.encode()).hexdigest() == hashlib.sha256(b.encode()).hexdigest()
