"""The course out of an installed wheel, with no checkout: what a student who pip-installs netlab, and a hub's image, get.

The simulation builds the wheel (``pip wheel``) from a copy of the repository, installs it (not
editable) in a fresh virtual environment set up as ``docs/hub/Dockerfile`` sets up a hub's user
image (the same pins: ``binder/requirements.txt`` and the Dockerfile's nbgitpuller), then works only
in an empty folder with nothing of the checkout on the path: ``python -m netlab.course check``,
``python -m netlab.course --dir course`` (copy out), and every notebook executed there.

It needs PyPI, as a hub's image build does, and takes about a minute and a half; deselect it with
``-m "not wheel"``. The static checks need nothing and always run.
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import socket
import subprocess
import sys
import time
import urllib.request
import zipfile

import pytest
from environments import DOCKERFILE, ROOT, hub_image, hub_image_extras, run, run_notebooks, size_mb

def test_the_hub_image_installs_binders_pins_and_netlab_as_a_wheel():
    text = DOCKERFILE.read_text()
    python = (ROOT / "binder" / "runtime.txt").read_text().strip().removeprefix("python-")
    assert re.search(rf"^FROM python:{re.escape(python)}-slim$", text, re.M), \
        "the hub image's Python is Binder's (binder/runtime.txt)"
    assert "COPY binder/requirements.txt /tmp/netlab/requirements.txt" in text
    extra = hub_image_extras()
    assert extra and all(re.fullmatch(r"[A-Za-z0-9_.-]+==\d+(\.\d+)+", e) for e in extra), extra
    assert {e.split("==")[0] for e in extra} == {"nbgitpuller", "jupyterhub"}
    assert "apt-get install -y --no-install-recommends git" in text, "nbgitpuller needs git in the image"
    assert "pip wheel --no-cache-dir --no-deps" in text and "pip install --no-cache-dir --no-deps" in text
    assert "python -m pip check" in text and "useradd --create-home --uid 1000 --gid 100" in text
    assert "USER jovyan" in text and "RUN python -m netlab.course check" in text
    assert 'ENTRYPOINT ["tini", "--"]' in text and "ENV HOME=/home/jovyan" in text


def test_the_build_context_leaves_out_what_the_tests_leave_out():
    ignored = {line for line in (ROOT / ".dockerignore").read_text().splitlines() if line and not line.startswith("#")}
    for pattern in (".git", ".venv", "**/.hypothesis", "build", "dist", "*.egg-info"):
        assert pattern in ignored, pattern


def test_the_hub_config_sets_what_a_lecture_hall_needs():
    config = (ROOT / "docs" / "hub" / "config.yaml").read_text()
    for setting in ("defaultUrl: /lab", "concurrentSpawnLimit:", "guarantee: 512M", "limit: 1280M", "capacity: 1Gi"):
        assert setting in config, setting


@pytest.mark.wheel
def test_an_installed_wheel_gives_the_whole_course_without_a_checkout(tmp_path):
    if f"python-{sys.version_info.major}.{sys.version_info.minor}" != (ROOT / "binder" / "runtime.txt").read_text().strip():
        pytest.skip("the hub image runs binder/runtime.txt's Python; this interpreter is another")
    python, env, wheel, install_s = hub_image(tmp_path)  # the checkout's copy is gone from here on
    venv = pathlib.Path(python).parent.parent
    inside = zipfile.ZipFile(wheel).namelist()
    notebooks = sorted(p.name for p in (ROOT / "notebooks").glob("[0-9][0-9]-*.ipynb") if ".my-copy" not in p.name)
    data = sorted(p.name for p in (ROOT / "notebooks" / "data").iterdir())
    assert {f"netlab/course/notebooks/{n}" for n in notebooks} <= set(inside), "the wheel misses notebooks"
    assert {f"netlab/course/notebooks/data/{n}" for n in data} <= set(inside), "the wheel misses notebook data"
    run([python, "-m", "pip", "check"], env=env)  # as the image's build does: nothing missing or conflicting
    hub = run([str(venv / "bin" / "jupyterhub-singleuser"), "--version"], env=env)
    assert hub.stdout.strip() == next(e for e in hub_image_extras() if e.startswith("jupyterhub==")).split("==")[1]

    work = tmp_path / "work"
    work.mkdir()
    where = run([python, "-c", "import netlab, sys; print(netlab.__file__); print(sys.path)"], cwd=work, env=env)
    assert where.stdout.startswith(str(venv / "lib")), where.stdout
    checked = run([python, "-m", "netlab.course", "check"], cwd=work, env=env)
    assert "inside the package" in checked.stdout and checked.stdout.rstrip().endswith(
        "Everything the course needs is here."), checked.stdout
    opened = run([python, "-m", "netlab.course", "--dir", "course", "--dry-run", "--no-browser"], cwd=work, env=env)
    course = work / "course"
    assert sorted(p.name for p in course.glob("*.ipynb")) == notebooks
    assert sorted(p.name for p in (course / "data").iterdir()) == data
    assert f"cd {course} && {python} -m jupyterlab --no-browser 00-start-here.ipynb" in opened.stdout
    link = run([str(venv / "bin" / "k8s-netlab"), "course", "link", "https://hub.example.edu",
                "--branch", "spring-2027"], cwd=work, env=env)
    assert link.stdout.startswith("https://hub.example.edu/hub/user-redirect/git-pull?repo=")

    # And for real: the same command starts JupyterLab, whose root is the course folder.
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    server = subprocess.Popen([python, "-m", "netlab.course", "--dir", "course", "--no-browser", f"--port={port}",
                               "--ServerApp.token=t", "--ServerApp.ip=127.0.0.1",
                               *(["--allow-root"] if os.geteuid() == 0 else [])],
                              cwd=work, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        listing, deadline = None, time.monotonic() + 120
        while listing is None and time.monotonic() < deadline and server.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/contents?token=t", timeout=5) as answer:
                    listing = json.load(answer)
            except OSError:
                time.sleep(0.2)
    finally:
        server.terminate()
        said = server.communicate(timeout=60)[0]
    assert listing is not None, f"JupyterLab did not answer:\n{said[-3000:]}"
    assert {"00-start-here.ipynb", "09-your-own-cluster.ipynb", "data"} <= {i["name"] for i in listing["content"]}
    assert "0 file(s) added" in said  # the second copy found everything in place

    report = run_notebooks(python, course, env)
    assert report["python"] == str(venv) and sorted(report["seconds"]) == notebooks
    print(f"\nwheel in a hub-like environment: install {install_s:.0f} s, environment {size_mb(venv):.0f} MB, "
          f"wheel {wheel.stat().st_size / 1e6:.1f} MB; notebooks {sum(report['seconds'].values()):.0f} s")


def test_the_guide_shows_the_hub_config_as_it_is():
    import yaml

    guide = (ROOT / "docs" / "teaching.md").read_text()
    section = guide[guide.index("### 2. The hub's settings"):guide.index("### 3. The link")]
    shown = yaml.safe_load(re.search(r"```yaml\n(.+?)```", section, re.S).group(1))
    assert shown == yaml.safe_load((ROOT / "docs" / "hub" / "config.yaml").read_text())
