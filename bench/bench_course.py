"""Numbers an instructor plans a class with: install size, memory per student, time to first output.

Builds the course's environment as a hub image (docs/hub/Dockerfile) or Binder builds it: a fresh
virtual environment with binder/requirements.txt's pins, nbgitpuller, and netlab installed from a
wheel built from this checkout. Then, in that environment, with no checkout on the path, it prints

* the install: time, size on disk of the environment, size of the wheel, the largest packages;
* memory: each notebook run top to bottom in its own fresh kernel (as JupyterLab runs it), the
  kernel's peak resident memory; the sum if a student keeps every notebook open; one kernel that
  runs every notebook's cells in sequence (the most a single kernel grows to); the JupyterLab
  server's resident memory once it answers;
* start-up: seconds from starting JupyterLab until it answers, and from starting a kernel on
  notebook 01 until its first output (the first cell that prints or draws), cold (the page cache
  dropped first, as on a freshly started hub pod; needs root, else said) and warm (the median of
  three runs right after).

Needs PyPI (pip installs the pinned list). Run: python bench/bench_course.py [--warm-runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from environments import hub_image, hub_image_extras, run, size_mb  # noqa: E402

# Run inside the course environment: each notebook in its own kernel, then all of them in one kernel.
_MEMORY = r"""
import json, sys
import nbclient, nbformat
from netlab import course
from netlab.course.hub import _PEAK, run_notebook

names = [n for n in course.notebooks()]
each = {n: run_notebook(n) for n in names}
# One kernel running every notebook's cells, in course order, in the copied course folder.
merged = nbformat.v4.new_notebook()
for n in names:
    merged.cells.extend(nbformat.reads(course.shipped(n).decode(), as_version=4).cells)
merged.cells.append(nbformat.v4.new_code_cell(_PEAK))
nbclient.NotebookClient(merged, timeout=900, kernel_name="python3",
                        resources={"metadata": {"path": sys.argv[1]}}).execute()
one = int(merged.cells[-1].outputs[0]["text"].strip())
print(json.dumps({"each": each, "one_kernel_mb": one}))
"""

_FIRST = r"""
import json
from netlab.course.hub import run_notebook
print(json.dumps(run_notebook("01")))
"""


def _drop_caches() -> bool:
    try:
        subprocess.run(["sync"], check=False)
        pathlib.Path("/proc/sys/vm/drop_caches").write_text("3\n")
        return True
    except OSError:
        return False


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rss_mb(pid: int) -> float:
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _server(python: str, folder: pathlib.Path, env: dict[str, str]) -> tuple[float, float]:
    """Start JupyterLab on ``folder``; seconds until /api/status answers, and the server's RSS (MB) then."""
    port = _free_port()
    start = time.perf_counter()
    proc = subprocess.Popen([python, "-m", "jupyterlab", "--no-browser", f"--port={port}", "--ServerApp.token=",
                             "--ServerApp.password=", "--ServerApp.ip=127.0.0.1",
                             *(["--allow-root"] if os.geteuid() == 0 else [])],
                            cwd=folder, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/lab", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                if proc.poll() is not None or time.perf_counter() - start > 120:
                    raise RuntimeError("JupyterLab did not start") from None
                time.sleep(0.05)
        seconds = time.perf_counter() - start
        time.sleep(1.0)
        return seconds, _rss_mb(proc.pid)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _singleuser(python: str, folder: pathlib.Path, env: dict[str, str]) -> float:
    """``jupyterhub-singleuser`` (what a hub starts) against a stub hub API; its RSS (MB) once it answers."""
    import http.server
    import threading

    class Hub(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the stub answers every API call as a hub would its version check
            body = json.dumps({"version": "stub"}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    hub = http.server.HTTPServer(("127.0.0.1", 0), Hub)
    threading.Thread(target=hub.serve_forever, daemon=True).start()
    port = _free_port()
    user = {"JUPYTERHUB_API_TOKEN": "t", "JUPYTERHUB_API_URL": f"http://127.0.0.1:{hub.server_port}/hub/api",
            "JUPYTERHUB_USER": "student", "JUPYTERHUB_SERVICE_PREFIX": "/user/student/",
            "JUPYTERHUB_SERVICE_URL": f"http://127.0.0.1:{port}/user/student/", "JUPYTERHUB_BASE_URL": "/",
            "JUPYTERHUB_CLIENT_ID": "jupyterhub-user-student",
            "JUPYTERHUB_OAUTH_CALLBACK_URL": "/user/student/oauth_callback"}
    single = str(pathlib.Path(python).parent / "jupyterhub-singleuser")
    proc = subprocess.Popen([single, *(["--allow-root"] if os.geteuid() == 0 else [])], cwd=folder,
                            env={**env, **user}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        start = time.perf_counter()
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/user/student/api", timeout=2):
                    break
            except OSError:
                if proc.poll() is not None or time.perf_counter() - start > 120:
                    raise RuntimeError("jupyterhub-singleuser did not start") from None
                time.sleep(0.05)
        time.sleep(1.0)
        return _rss_mb(proc.pid)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        hub.shutdown()


def _largest(venv: pathlib.Path, top: int = 6) -> list[tuple[str, float]]:
    site = next(venv.glob("lib/python3*/site-packages"))
    sizes = [(p.name, size_mb(p)) for p in site.iterdir() if p.is_dir() and not p.name.endswith((".dist-info", "__pycache__"))]
    share = venv / "share" / "jupyter"
    if share.is_dir():
        sizes.append(("share/jupyter (JupyterLab's front end)", size_mb(share)))
    return sorted(sizes, key=lambda s: -s[1])[:top]


def main() -> int:
    args = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    args.add_argument("--warm-runs", type=int, default=3)
    opts = args.parse_args()
    with tempfile.TemporaryDirectory(prefix="netlab-bench-course-") as scratch:
        tmp = pathlib.Path(scratch)
        python, env, wheel, install_s = hub_image(tmp)
        venv = pathlib.Path(python).parent.parent
        work = tmp / "work"
        work.mkdir()
        run([python, "-m", "netlab.course", "--dir", "course", "--dry-run"], cwd=work, env=env)
        course = work / "course"

        print(f"Course environment ({sys.version.split()[0]}, binder/requirements.txt + "
              f"{' '.join(hub_image_extras())} + netlab's wheel)")
        print(f"  install: {install_s:.0f} s from PyPI; on disk {size_mb(venv):.0f} MB; "
              f"wheel {wheel.stat().st_size / 1e6:.2f} MB")
        print("  largest: " + ", ".join(f"{name} {mb:.0f} MB" for name, mb in _largest(venv)))

        memory = json.loads(run([python, "-c", _MEMORY, str(course)], cwd=course, env=env).stdout.strip().splitlines()[-1])
        each = memory["each"]
        failed = {n: r["error"] for n, r in each.items() if r["error"]}
        if failed:
            print(f"  notebooks failed: {failed}")
            return 1
        peaks = {n: r["peak_mb"] for n, r in each.items()}
        print("Memory (peak resident, MB)")
        print("  each notebook in its own kernel: " + ", ".join(f"{n.split('-')[0]} {mb}" for n, mb in peaks.items()))
        print(f"  largest kernel: {max(peaks.values())} MB ({max(peaks, key=peaks.get)}); every notebook open at "
              f"once: {sum(peaks.values())} MB; one kernel running all {len(peaks)} notebooks: "
              f"{memory['one_kernel_mb']} MB")

        cold = _drop_caches()
        server_cold, rss_cold = _server(python, course, env)
        _drop_caches()
        first_cold = json.loads(run([python, "-c", _FIRST], cwd=course, env=env).stdout.strip().splitlines()[-1])
        servers, firsts, rss = [], [], []
        for _ in range(opts.warm_runs):
            s, r = _server(python, course, env)
            servers.append(s)
            rss.append(r)
            firsts.append(json.loads(run([python, "-c", _FIRST], cwd=course, env=env).stdout.strip().splitlines()[-1]))
        print(f"  JupyterLab server once it answers: {rss_cold:.0f} MB cold, {statistics.median(rss):.0f} MB warm; "
              f"jupyterhub-singleuser (a hub's server): {_singleuser(python, course, env):.0f} MB")
        print("Start-up (seconds)" + ("" if cold else " (page cache not dropped: not root, so 'cold' is only first)"))
        print(f"  JupyterLab answers: cold {server_cold:.1f}, warm {statistics.median(servers):.1f}")
        print(f"  notebook 01, kernel start to first output: cold {first_cold['first_output']:.1f}, warm "
              f"{statistics.median(f['first_output'] for f in firsts):.1f}; whole notebook: cold "
              f"{first_cold['seconds']:.1f}, warm {statistics.median(f['seconds'] for f in firsts):.1f}")
        print(f"  machine: {os.cpu_count()} CPUs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
