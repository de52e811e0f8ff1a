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
