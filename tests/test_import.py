"""`import netlab` stays light: no matplotlib, no ipywidgets until a view asks for them."""

import subprocess
import sys


def test_import_netlab_does_not_import_matplotlib_or_ipywidgets():
    code = (
        "import sys, netlab as nl\n"
        "c = nl.Cluster.aks('kubenet', nodes=2).add_pod('a').add_pod('b', node=1)\n"
        "str(c.trace('a', 'b')); nl.compare_plugins(10)\n"
        "heavy = [m for m in ('matplotlib', 'ipywidgets', 'networkx') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_import_netlab_builds_no_proxy_mode_until_one_is_used():
    code = (
        "import sys, netlab as nl\n"
        "modes = ('iptables', 'nftables', 'ipvs', 'userspace')\n"
        "before = [m for m in modes if 'netlab.kubeproxy.' + m in sys.modules]\n"
        "c = nl.Cluster.aks('kubenet', nodes=2).add_pod('a').add_pod('b', node=1)\n"
        "c.trace('a', 'b')\n"
        "after = [m for m in modes if 'netlab.kubeproxy.' + m in sys.modules]\n"
        "print(before, after)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[] ['iptables']"  # the trace used the default mode, and only it
