"""Binder, simulated without Docker: build the environment from binder/ alone, then run the course in it.

repo2docker reads only ``binder/`` when that folder exists: it installs Python at the version of
``binder/runtime.txt``, then ``binder/requirements.txt``, then runs ``binder/postBuild`` from the
repository's root, and JupyterLab starts each notebook's kernel in the notebook's folder. This test
does the same in a fresh virtual environment, with a fresh HOME and no access to the checkout's
``netlab/`` from the kernel, so a missing pin or a missing install step fails here and not in class.

It needs PyPI (as Binder does) and takes about a minute (half of it pip installing); deselect it
locally with ``-m "not binder"``. The static checks below it need nothing and always run.
"""

from __future__ import annotations

import json
import pathlib
import re
import shutil
import subprocess
import sys
import time

import pytest
from environments import IGNORE, fresh_venv, run, run_notebooks, size_mb

tomllib = pytest.importorskip("tomllib")  # Python 3.11+

ROOT = pathlib.Path(__file__).resolve().parent.parent
BINDER = ROOT / "binder"
RUNTIME = (BINDER / "runtime.txt").read_text().strip()


def _pins() -> dict[str, str]:
    pins = {}
    for line in (BINDER / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            pins[_canonical(name)] = version
    return pins


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower().strip()


def _project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


# ---------------------------------------------------------------------------- static checks

def test_binder_pins_python_and_every_requirement_exactly():
    assert re.fullmatch(r"python-3\.\d+", RUNTIME), "binder/runtime.txt names one Python, such as python-3.11"
    pins = _pins()
    assert pins and all(re.fullmatch(r"\d+(\.\d+)+", v) for v in pins.values()), pins
    needed = {_canonical(re.split(r"[<>=!~ \[;]", dep, maxsplit=1)[0]) for dep in _project()["dependencies"]}
    assert needed <= set(pins), f"binder/requirements.txt misses netlab's dependencies {needed - set(pins)}"
    for server in ("jupyterlab", "ipykernel", "jupyterlab-widgets"):
        assert server in pins


def test_binder_python_is_one_that_pyproject_allows():
    minor = int(RUNTIME.split(".")[1])
    floor = int(re.search(r">=3\.(\d+)", _project()["requires-python"]).group(1))
    assert minor >= floor


def test_post_build_is_executable_and_installs_netlab_itself():
    post = BINDER / "postBuild"
    mode = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-s", "binder/postBuild"],
                          capture_output=True, text=True, check=False).stdout.split()
    assert mode and mode[0] == "100755", "binder/postBuild must be committed executable (git update-index --chmod=+x)"
    text = post.read_text()
    assert text.startswith("#!") and "pip install --no-deps" in text and re.search(r"install[^\n]* \.\s*$", text, re.M)


def test_launch_links_open_notebook_00_on_the_repository_of_pyproject():
    urls = _project()["urls"]
    repo = urls["Repository"]
    owner_name = repo.removeprefix("https://github.com/")
    link = f"https://mybinder.org/v2/gh/{owner_name}/main?urlpath=lab/tree/notebooks/00-start-here.ipynb"
    assert urls["Binder"] == link
    readme = (ROOT / "README.md").read_text()
    first = readme.split("\n## ", 1)[0]
    assert f"[![Launch the course on Binder](https://mybinder.org/badge_logo.svg)]({link})" in first
    nb00 = json.loads((ROOT / "notebooks" / "00-start-here.ipynb").read_text())
    assert any(link in "".join(c["source"]) for c in nb00["cells"] if c["cell_type"] == "markdown")


# ---------------------------------------------------------------------------- the simulation

@pytest.mark.binder
def test_binder_environment_runs_every_notebook(tmp_path):
    if f"python-{sys.version_info.major}.{sys.version_info.minor}" != RUNTIME:
        pytest.skip(f"Binder runs {RUNTIME} (binder/runtime.txt); this interpreter is {sys.version.split()[0]}")
    # The repository as repo2docker copies it into the image (without git's own folder or local debris).
    repo = tmp_path / "repo"
    shutil.copytree(ROOT, repo, ignore=IGNORE)
    start = time.perf_counter()
    python, env = fresh_venv(tmp_path)
    venv = pathlib.Path(python).parent.parent
    run([python, "-m", "pip", "install", "--no-cache-dir", "-q", "-r", "binder/requirements.txt"], cwd=repo, env=env)
    run(["./binder/postBuild"], cwd=repo, env=env)  # repo2docker runs it from the repository's root
    install_s = time.perf_counter() - start
    size = size_mb(venv)

    run([python, "-m", "pip", "check"], env=env)  # nothing netlab or JupyterLab needs is missing
    notebooks = repo / "notebooks"
    # One interpreter, started where the kernel starts: which netlab it imports, and the notebooks that
    # netlab carries as shipped (nl.course.reset works on Binder).
    where, shipped = run([python, "-c", "import netlab; print(netlab.__file__); print(' '.join(netlab.course.notebooks()))"],
                          cwd=notebooks, env=env).stdout.strip().splitlines()
    assert where.startswith(str(venv)), f"the kernel imports netlab from {where}, not from the Binder environment"
    assert shipped.split() == sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb") if ".my-copy" not in p.name)
    extensions = run([python, "-m", "jupyter", "labextension", "list"], env=env)
    assert "@jupyter-widgets/jupyterlab-manager" in extensions.stdout + extensions.stderr, "widgets would show as text"

    # run_notebooks.py in the Binder environment's interpreter, its channel waits in slices first
    # (poll_in_slices in tests/conftest.py says why: a notebook with an explorer can otherwise wait 600 s).
    report = run_notebooks(python, notebooks, env)
    assert report["python"] == str(venv)
    print(f"\nBinder simulation: install {install_s:.0f} s, environment {size:.0f} MB; notebooks (s): "
          + ", ".join(f"{k.split('-')[0]} {v}" for k, v in report["seconds"].items())
          + f"; total {sum(report['seconds'].values()):.0f} s")
