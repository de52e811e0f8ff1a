"""Fresh Python environments for the tests that install the course as a class gets it (Binder, a hub image, pip).

Each builds a new virtual environment with a fresh HOME and none of this process's PYTHON*,
JUPYTER* or VIRTUAL_ENV variables, so nothing from the checkout or the test runner leaks in.
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent

#: What a build copies of the repository (as repo2docker or ``docker build``'s context would, without debris).
IGNORE = shutil.ignore_patterns(".git", "__pycache__", "*.egg-info", "build", "dist", ".venv", ".artifacts",
                                ".hypothesis", "*.my-copy*", ".ipynb_checkpoints")


DOCKERFILE = ROOT / "docs" / "hub" / "Dockerfile"


def hub_image_extras() -> list[str]:
    """What the hub image's Dockerfile installs beside ``-r requirements.txt`` (exact pins, its ARG defaults filled in)."""
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    args = dict(re.findall(r"^ARG (\w+)=(\S+)$", text, re.M))
    line = next(x for x in text.splitlines() if x.startswith("RUN") and "-r /tmp/netlab/requirements.txt" in x)
    words = line.split("-r /tmp/netlab/requirements.txt", 1)[1].split("&&", 1)[0].split()
    return [re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], w) for w in words if not w.startswith("-")]


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    """Run ``cmd``; on failure, fail the test with the command's last output."""
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=1500, check=False, **kw)
    assert done.returncode == 0, f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


def size_mb(path: pathlib.Path) -> float:
    """Bytes on disk of every regular file under ``path``, in MB (10^6)."""
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink()) / 1e6


def fresh_venv(where: pathlib.Path) -> tuple[str, dict[str, str]]:
    """A new virtual environment in ``where/venv`` and a clean environment block for running in it."""
    venv, home = where / "venv", where / "home"
    home.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV", "JUPYTER", "PIP_USER"))}
    env.update(HOME=str(home), PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}", VIRTUAL_ENV=str(venv),
               PIP_DISABLE_PIP_VERSION_CHECK="1")
    run([sys.executable, "-m", "venv", str(venv)])
    return str(venv / "bin" / "python"), env


def hub_image(where: pathlib.Path) -> tuple[str, dict[str, str], pathlib.Path, float]:
    """The hub image's Python environment without Docker (docs/hub/Dockerfile's steps), in ``where``.

    A copy of the repository, Binder's pinned list and the Dockerfile's extra pins in a fresh virtual
    environment, netlab's wheel built from the copy and installed without its dependencies; then the
    copy is deleted, so nothing of the checkout remains. Returns the environment's python, its
    environment block, the wheel and the seconds the install took.
    """
    src = where / "src"
    shutil.copytree(ROOT, src, ignore=IGNORE)
    start = time.perf_counter()
    python, env = fresh_venv(where)
    run([python, "-m", "pip", "install", "--no-cache-dir", "-q", "-r", str(src / "binder" / "requirements.txt"),
         *hub_image_extras()], env=env)
    dist = where / "dist"
    run([python, "-m", "pip", "wheel", "--no-cache-dir", "--no-deps", "-q", "-w", str(dist), str(src)], env=env)
    (wheel,) = dist.glob("k8s_netlab-*.whl")
    run([python, "-m", "pip", "install", "--no-cache-dir", "--no-deps", "-q", str(wheel)], env=env)
    seconds = time.perf_counter() - start
    shutil.rmtree(src)
    return python, env, wheel, seconds


# Runs argv[1] as a script after making jupyter_client's asyncio channels wait for messages in slices of
# 0.5 s up to the same deadline (tests/conftest.py, poll_in_slices, for the why).
IN_SLICES = """
import runpy, sys, time
from queue import Empty
from jupyter_client.channels import AsyncZMQSocketChannel
whole = AsyncZMQSocketChannel.get_msg
async def get_msg(self, timeout=None):
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        left = 0.5 if deadline is None else min(0.5, max(0.0, deadline - time.monotonic()))
        try:
            return await whole(self, timeout=left)
        except Empty:
            if deadline is not None and time.monotonic() >= deadline:
                raise
AsyncZMQSocketChannel.get_msg = get_msg
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def run_notebooks(python: str, folder: pathlib.Path, env: dict[str, str], *names: str) -> dict:
    """tests/run_notebooks.py on ``folder``'s notebooks, in ``python``'s environment; its JSON report."""
    done = subprocess.run([python, "-c", IN_SLICES, str(ROOT / "tests" / "run_notebooks.py"), str(folder), *names],
                          cwd=folder, env=env, capture_output=True, text=True, timeout=1800, check=False)
    report = json.loads(done.stdout.strip().splitlines()[-1]) if done.stdout.strip() else {}
    assert done.returncode == 0 and not report.get("errors"), f"{report.get('errors')}\n{done.stderr[-3000:]}"
    return report
