"""``k8s-netlab``: the console command, driven as a learner would type it."""

import json
import re
import shutil
import subprocess
import sys

import pytest

import netlab as nl
from netlab import cli
from netlab.k8s import kubectl

SHOP = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: shop}
spec:
  replicas: 2
  selector: {matchLabels: {app: shop}}
  template:
    metadata: {labels: {app: shop}}
    spec: {containers: [{name: web, image: nginx, ports: [{containerPort: 80, name: http}]}]}
---
apiVersion: v1
kind: Service
metadata: {name: shop}
spec: {selector: {app: shop}, ports: [{name: http, port: 80, targetPort: http}]}
---
apiVersion: v1
kind: Pod
metadata: {name: client}
spec: {containers: [{name: curl}]}
"""


@pytest.fixture
def shop(tmp_path):
    path = tmp_path / "shop.yaml"
    path.write_text(SHOP)
    return str(path)


def test_trace_prints_the_hops_and_exits_0_when_delivered(shop, capsys):
    assert cli.main(["trace", shop, "--from", "client", "--to", "shop"]) == 0
    out = capsys.readouterr().out
    want = nl.Cluster.aks("kubenet", nodes=2).apply(SHOP).trace("client", "shop", port=80).text()
    want = cli._as_options(want)
    assert out == want + "\n"


def test_trace_exits_1_when_the_packet_is_not_delivered(shop, capsys):
    assert cli.main(["trace", shop, "--from", "client", "--to", "shop", "--port", "81"]) == 1
    out = capsys.readouterr().out
    assert "verdict: dropped" in out and "No rule matched this port (the Service does not have" in out
    assert cli.main(["trace", shop, "--from", "client", "--to", "internet", "--port", "443", "--plugin", "none"]) == 0


def test_trace_json_is_the_trace_as_data(shop, capsys):
    assert cli.main(["trace", shop, "--from", "client", "--to", "shop", "--json", "--plugin", "azure-cni",
                     "--nodes", "3", "--proxy-mode", "nftables"]) == 0
    data = json.loads(capsys.readouterr().out)
    want = nl.Cluster.aks("azure-cni", nodes=3).apply(SHOP).with_proxy_mode("nftables").trace("client", "shop", port=80)
    assert data == json.loads(json.dumps(want.as_dict()))
    assert data["verdict"] == "delivered" and data["hops"][0]["place"]["name"] == "default/client"


def test_run_prints_what_the_tool_prints(shop, capsys):
    assert cli.main(["run", shop, "ip route", "--on", "client"]) == 0
    c = nl.Cluster.aks("kubenet", nodes=2).apply(SHOP)
    assert capsys.readouterr().out == c.run("ip route", on="client") + "\n"


def test_a_real_clusters_objects_are_read_as_they_are(tmp_path, capsys):
    c = nl.Cluster.aks("azure-cni-overlay", nodes=2).apply(SHOP)
    path = tmp_path / "cluster.json"
    path.write_text(json.dumps(kubectl.objects(c)))
    assert cli.main(["trace", str(path), "--from", "client", "--to", "shop"]) == 0
    assert capsys.readouterr().out == cli._as_options(c.trace("client", "shop", port=80).text()) + "\n"
    assert cli.main(["trace", str(path), "--from", "client", "--to", "shop", "--plugin", "kubenet"]) == 2
    assert "its plugin and nodes are its own; leave out --plugin and --nodes" in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["trace", "nope.yaml", "--from", "a", "--to", "b"], "k8s-netlab: cannot read nope.yaml"),
    (["trace", "SHOP", "--from", "client"], "the following arguments are required: --to"),
    (["trace", "SHOP", "--from", "client", "--to", "shopp"], "unknown destination 'shopp'"),
    (["trace", "SHOP", "--from", "client", "--to", "shop", "--plugin", "flannel"], "flannel"),
    (["trace", "SHOP", "--from", "client", "--to", "shop", "--port", "http"], "invalid int value: 'http'"),
    (["run", "SHOP", "ip rout", "--on", "client"], "ip rout"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
    ([], "usage: k8s-netlab"),
])
def test_bad_input_exits_2_with_the_error_on_stderr(argv, message, shop, capsys):
    argv = [shop if a == "SHOP" else a for a in argv]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


def test_a_bad_manifest_exits_2_and_names_the_field(tmp_path, capsys):
    path = tmp_path / "bad.yaml"
    path.write_text(SHOP.replace("replicas: 2", "replicas: -2"))
    assert cli.main(["trace", str(path), "--from", "client", "--to", "shop"]) == 2
    assert "spec.replicas: Invalid value: -2: must be greater than or equal to 0" in capsys.readouterr().err


def test_course_copies_the_notebooks_and_keeps_a_learners_own(tmp_path, capsys):
    folder = tmp_path / "course"
    assert cli.main(["course", "--dir", str(folder), "--dry-run", "--no-browser", "--port", "8899"]) == 0
    out = capsys.readouterr().out
    names = nl.course.notebooks()
    assert sorted(p.name for p in folder.glob("*.ipynb")) == sorted(names)
    assert sorted(p.name for p in (folder / "data").iterdir()) == sorted(nl.course.data_files())
    assert (folder / "data" / "shop.yaml").read_bytes() == nl.course.shipped_data("shop.yaml")
    assert f"{len(names) + len(nl.course.data_files())} file(s) added" in out
    assert out.rstrip().endswith(f"-m jupyterlab --port=8899 --no-browser {names[0]}")
    assert f"cd {folder.resolve()} && " in out
    (folder / names[1]).write_text("{}")  # the learner's work
    assert cli.main(["course", "--dir", str(folder), "--dry-run"]) == 0
    assert (folder / names[1]).read_text() == "{}"
    assert f"0 file(s) added" in capsys.readouterr().out


def test_course_subcommands_are_python_m_netlab_courses(tmp_path, capsys):
    assert cli.main(["course", "link", "https://hub.example.edu", "--branch", "spring"]) == 0
    assert "&branch=spring&" in capsys.readouterr().out
    assert cli.main(["course", "reset", "99", "--dir", str(tmp_path)]) == 2
    assert capsys.readouterr().err.startswith("k8s-netlab course: there is no course notebook '99'")


def test_the_console_command_is_installed_with_the_package(shop):
    exe = shutil.which("k8s-netlab")
    if exe is None:
        pytest.skip("k8s-netlab is not on PATH: the package is not installed in this environment")
    done = subprocess.run([exe, "trace", shop, "--from", "client", "--to", "shop", "--port", "81"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stderr
    done = subprocess.run([exe, "trace", shop, "--from", "client"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "--to" in done.stderr
    done = subprocess.run([sys.executable, "-m", "netlab.cli", "--help"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "k8s-netlab" in done.stdout


def test_explain_names_the_chains_and_traces_through_a_nodes_rules(capsys):
    data = nl.course.shipped_data
    import tempfile, pathlib

    folder = pathlib.Path(tempfile.mkdtemp())
    for name in ("node-iptables-save.txt", "node-objects.json"):
        (folder / name).write_bytes(data(name))
    rules, objects = str(folder / "node-iptables-save.txt"), str(folder / "node-objects.json")
    assert cli.main(["explain", rules, "--objects", objects]) == 0
    out = capsys.readouterr().out
    assert "KUBE-SVC-67NZLRHBNDSAWJRO" in out and "shop/web:http (tcp)" in out
    assert cli.main(["explain", rules, "--trace", "10.244.1.9", "10.96.120.15", "80", "--node-ip", "192.168.56.11"]) == 0
    out = capsys.readouterr().out
    assert "DNAT to 10.244.1.5:8080" in out and "-j DNAT --to-destination 10.244.2.7:8080" in out
    assert cli.main(["explain", rules, "--trace", "10.244.1.9", "10.96.0.99", "80", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["verdict"] == "ACCEPT"
    assert cli.main(["explain", rules, "--trace", "10.244.1.9", "10.96.120.15", "http"]) == 2
    assert "the port is a number" in capsys.readouterr().err
    (folder / "bad.txt").write_text("*nat\n-A NOPE -j ACCEPT\nCOMMIT\n")
    assert cli.main(["explain", str(folder / "bad.txt")]) == 2
    assert "line 2" in capsys.readouterr().err


def test_run_takes_a_node_by_its_index_and_names_the_file_in_errors(shop, tmp_path, capsys):
    assert cli.main(["run", shop, "ip route", "--on", "0"]) == 0
    assert capsys.readouterr().out.startswith("default via 10.224.0.1 dev eth0")
    bad = tmp_path / "typo.yaml"
    bad.write_text(SHOP.replace("replicas: 2", "replicass: 2"))
    assert cli.main(["run", str(bad), "ip route", "--on", "0"]) == 2
    assert f"{bad}, document 1 (Deployment default/shop)" in capsys.readouterr().err


def test_explain_reads_only_services_and_slices_from_a_fuller_dump_and_refuses_broken_json(tmp_path, capsys):
    rules = tmp_path / "rules.txt"
    rules.write_bytes(nl.course.shipped_data("node-iptables-save.txt"))
    full = tmp_path / "cluster.json"
    full.write_bytes(nl.course.shipped_data("aks-cluster.json"))
    assert cli.main(["explain", str(rules), "--objects", str(full)]) == 0
    capsys.readouterr()
    broken = tmp_path / "broken.json"
    broken.write_text('{"items": [')
    assert cli.main(["explain", str(rules), "--objects", str(broken)]) == 2
    err = capsys.readouterr().err
    assert f"--objects {broken}: not JSON" in err and "Traceback" not in err


def test_the_command_line_names_its_options_not_python(shop, capsys):
    python_spellings = (".text(", ".reply", "endpoint=", "seed=", "node_ips=")
    assert cli.main(["trace", shop, "--from", "client", "--to", "shop"]) == 0
    out = capsys.readouterr().out
    assert "(--rules lists them)" in out and "--reply shows them" in out and "--endpoint ADDRESS:PORT" in out
    assert not [s for s in python_spellings if s in out]
    assert cli.main(["trace", shop, "--from", "client", "--to", "shop", "--reply", "--rules"]) == 0
    out = capsys.readouterr().out
    assert "\nthe reply:\n" in out and "matched" in out and not [s for s in python_spellings if s in out]
    other = re.search(r"other branches: (\S+):\d+ \(", " ".join(out.split())).group(1)
    port = re.search(rf"other branches: {re.escape(other)}:(\d+)", " ".join(out.split())).group(1)
    assert cli.main(["trace", shop, "--from", "client", "--to", "shop", "--endpoint", f"{other}:{port}"]) == 0
    assert f"({other})" in [line for line in capsys.readouterr().out.splitlines() if line.startswith("verdict:")][0]


def test_a_folded_hint_is_spelled_whole_on_the_next_line():
    text = "      why      picked x (choose with endpoint=... or\n               seed=...)"
    assert cli._as_options(text) == ("      why      picked x \n               (choose with --endpoint ADDRESS:PORT or "
                                     "--seed N)")
