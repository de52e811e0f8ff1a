"""The course on a JupyterHub: the nbgitpuller link, what a pull does to a student's work, and the check.

The merge rules that ``docs/teaching.md`` promises are exercised here with nbgitpuller's own puller
(``GitPuller``, the code behind every link click), on a local repository standing for the course's.
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import urllib.parse

import pytest

import netlab as nl
from netlab.course import hub

ROOT = pathlib.Path(__file__).resolve().parent.parent


def _query(link: str) -> dict[str, str]:
    parts = urllib.parse.urlsplit(link)
    return {k: v[0] for k, v in urllib.parse.parse_qs(parts.query, strict_parsing=True).items()}


def test_the_link_opens_notebook_00_of_the_course_in_the_students_home():
    link = hub.pull_link("https://hub.example.edu", "spring-2027")
    assert link.startswith("https://hub.example.edu/hub/user-redirect/git-pull?")
    assert _query(link) == {"repo": "https://github.com/k8s-netlab/netlab", "branch": "spring-2027",
                            "urlpath": "lab/tree/netlab/notebooks/00-start-here.ipynb"}


def test_the_default_repository_is_the_one_pyproject_names():
    import tomllib

    urls = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["urls"]
    assert hub.REPOSITORY == urls["Repository"]


@pytest.mark.parametrize("kwargs, expected", [
    ({"hub": "https://example.edu/jupyter/"}, ("https://example.edu/jupyter/hub/user-redirect/git-pull", {})),
    ({"hub": "https://h.edu", "repository": "https://git.example.edu/course/netlab.git"},
     ("https://h.edu/hub/user-redirect/git-pull", {"targetpath": "netlab",
                                                   "urlpath": "lab/tree/netlab/notebooks/00-start-here.ipynb"})),
    ({"hub": "https://h.edu", "folder": "k8s", "notebook": "07"},
     ("https://h.edu/hub/user-redirect/git-pull", {"targetpath": "k8s",
                                                   "urlpath": "lab/tree/k8s/notebooks/07-services.ipynb"})),
])
def test_the_link_for_a_hub_under_a_path_a_fork_and_another_folder(kwargs, expected):
    link = hub.pull_link(**{"branch": "spring", **kwargs})
    base, fields = expected
    assert link.split("?")[0] == base
    assert fields.items() <= _query(link).items()


@pytest.mark.parametrize("kwargs, message", [
    ({"hub": "hub.example.edu"}, "give the hub's address as you open it in a browser"),
    ({"hub": "https://hub.example.edu/hub/home"}, "without /hub/... or /user/NAME .*: https://hub.example.edu$"),
    ({"hub": "https://h.edu/user/ann/lab"}, "without /hub/... or /user/NAME"),
    ({"hub": "https://h.edu", "repository": "github.com/k8s-netlab/netlab"}, "give the address git clones"),
    ({"hub": "https://h.edu", "branch": "--upload-pack=x"}, "give a branch name"),
    ({"hub": "https://h.edu", "folder": "../etc"}, "give one folder name"),
    ({"hub": "https://h.edu", "branch": "v0.1.0"}, "looks like a tag: .* git branch spring-2027 v0.1.0"),
    ({"hub": "https://h.edu", "branch": "1.2"}, "looks like a tag"),
])
def test_a_wrong_link_argument_is_refused_with_the_fix(kwargs, message):
    with pytest.raises(nl.ConfigError, match=message):
        hub.pull_link(**{"branch": "spring", **kwargs})


def test_the_link_names_a_notebook_the_course_has():
    with pytest.raises(nl.NotFoundError, match="there is no course notebook '42'"):
        hub.pull_link("https://h.edu", "spring", notebook="42")


# ------------------------------------------------------------------ what a second click does to a student's work

def _git(cwd, *args):
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


def _notebook(*lines: str) -> str:
    return json.dumps({"cells": [{"cell_type": "markdown", "source": line} for line in lines]}, indent=1) + "\n"


@pytest.fixture
def course_repo(tmp_path, monkeypatch):
    for key in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{key}_NAME", "instructor")
        monkeypatch.setenv(f"GIT_{key}_EMAIL", "instructor@example.edu")
    monkeypatch.setenv("HOME", str(tmp_path))  # no user git config gets in the way
    upstream = tmp_path / "upstream"
    (upstream / "notebooks").mkdir(parents=True)
    _git(upstream, "init", "-q", "-b", "main")
    (upstream / "notebooks" / "01.ipynb").write_text(_notebook("intro", "exercise", "a", "b", "c", "d", "e", "end"))
    (upstream / "notebooks" / "02.ipynb").write_text(_notebook("two"))
    (upstream / "notebooks" / "03.ipynb").write_text(_notebook("three"))
    (upstream / "notebooks" / "05.ipynb").write_text(_notebook("five"))
    _git(upstream, "add", "-A")
    _git(upstream, "commit", "-q", "-m", "course")
    return upstream


def _pull(upstream, home):
    gitpuller = pytest.importorskip("nbgitpuller.pull")
    for _line in gitpuller.GitPuller(f"file://{upstream}", str(home / "netlab"), branch="main").pull():
        pass


def test_nbgitpuller_keeps_the_students_work_and_brings_the_instructors_changes(course_repo, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    _pull(course_repo, home)  # the first click: a clone
    mine = home / "netlab" / "notebooks"
    assert (mine / "01.ipynb").read_text() == (course_repo / "notebooks" / "01.ipynb").read_text()

    # The student works: answers the exercise in 01, deletes 02 by mistake, saves a file called 04.
    (mine / "01.ipynb").write_text(_notebook("intro", "my answer", "a", "b", "c", "d", "e", "end"))
    (mine / "02.ipynb").unlink()
    (mine / "04.ipynb").write_text(_notebook("my own notes"))
    (mine / "05.ipynb").write_text(_notebook("five, with my answer"))
    # The instructor changes the same cell of 01 and another one, changes 03 and adds a notebook 04.
    up = course_repo / "notebooks"
    (up / "01.ipynb").write_text(_notebook("intro", "exercise (fixed)", "a", "b", "c", "d", "e", "end, updated"))
    (up / "03.ipynb").write_text(_notebook("three, updated"))
    (up / "04.ipynb").write_text(_notebook("four"))
    _git(course_repo, "add", "-A")
    _git(course_repo, "commit", "-q", "-m", "week 2")

    _pull(course_repo, home)  # the next click
    cells = [c["source"] for c in json.loads((mine / "01.ipynb").read_text())["cells"]]
    assert cells[1] == "my answer"          # the same cell changed on both sides: the student's wins
    assert cells[-1] == "end, updated"      # a cell only the instructor changed: merged in
    assert (mine / "02.ipynb").read_text() == _notebook("two")            # deleted by the student: back
    assert (mine / "03.ipynb").read_text() == _notebook("three, updated")  # untouched by the student: updated
    assert (mine / "04.ipynb").read_text() == _notebook("four")           # the instructor's new notebook
    assert (mine / "05.ipynb").read_text() == _notebook("five, with my answer")  # changed only by the student
    renamed = [p for p in mine.glob("04__*.ipynb")]
    assert len(renamed) == 1 and renamed[0].read_text() == _notebook("my own notes")  # the student's, renamed


# ------------------------------------------------------------------ python -m netlab.course check

def test_check_passes_here_and_runs_a_notebook_in_a_kernel():
    report = hub.check("00")
    assert report.ok, str(report)
    text = str(report)
    assert "widgets' front end @jupyter-widgets/jupyterlab-manager" in text
    ran = [f for f in report.findings if f.what.startswith("notebook 00-start-here.ipynb ran in kernel 'python3'")]
    assert ran and "the kernel peaked at" in ran[0].what and text.endswith("Everything the course needs is here.")
    for name in ("networkx", "matplotlib", "ipywidgets", "PyYAML", "jupyterlab", "ipykernel"):
        assert any(f.what.startswith(f"{name} ") and f.status == "ok" for f in report.findings), name


def test_check_names_what_is_missing_and_how_to_add_it(monkeypatch):
    import jupyter_core.paths

    monkeypatch.setattr(jupyter_core.paths, "jupyter_path", lambda *a: [])
    real = hub._requirements
    monkeypatch.setattr(hub, "_requirements", lambda extra: real(extra) + ([] if extra else ["no-such-dist"]))
    report = hub.check()
    assert not report.ok
    missing = {f.what.split(":")[0]: f for f in report.missing}
    assert set(missing) == {"no-such-dist", "widgets' front end", "notebook 01"}
    assert "pip install -r binder/requirements.txt" in missing["no-such-dist"].fix
    assert "jupyterlab_widgets==3.0.17" in missing["widgets' front end"].fix
    assert "not run, because of what is missing above" in missing["notebook 01"].what
    assert str(report).endswith("3 thing(s) missing: no-such-dist; widgets' front end; notebook 01")


def test_check_reports_a_kernel_that_cannot_import_netlab():
    report = hub.check("00", kernel="no-such-kernel")
    assert not report.ok
    (failed,) = report.missing
    assert failed.what.startswith("notebook 00-start-here.ipynb did not run in kernel 'no-such-kernel'")
    assert "python -m ipykernel install --user --name no-such-kernel" in failed.fix


def test_the_widget_pin_in_the_fix_is_binders():
    pins = (ROOT / "binder" / "requirements.txt").read_text()
    assert "jupyterlab_widgets==3.0.17" in pins


def test_reset_in_a_pulled_clone_takes_the_notebook_from_the_instructors_branch(tmp_path, monkeypatch):
    # A hub's students have the course as a clone of the instructor's branch: the notebook to go back to
    # is the branch's (with the instructor's fixes), not the older copy inside the installed package.
    for key in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{key}_NAME", "instructor")
        monkeypatch.setenv(f"GIT_{key}_EMAIL", "instructor@example.edu")
    monkeypatch.setenv("HOME", str(tmp_path))
    upstream = tmp_path / "upstream"
    (upstream / "notebooks").mkdir(parents=True)
    _git(upstream, "init", "-q", "-b", "spring")
    (upstream / "notebooks" / "07-services.ipynb").write_text(_notebook("services, as the branch has it"))
    _git(upstream, "add", "-A")
    _git(upstream, "commit", "-q", "-m", "course")
    home = tmp_path / "home"
    home.mkdir()
    gitpuller = pytest.importorskip("nbgitpuller.pull")
    for _line in gitpuller.GitPuller(f"file://{upstream}", str(home / "netlab"), branch="spring").pull():
        pass
    mine = home / "netlab" / "notebooks" / "07-services.ipynb"
    mine.write_text(_notebook("broken"))
    done = nl.course.reset("07", folder=mine.parent)
    assert mine.read_text() == _notebook("services, as the branch has it")
    assert done.kept.read_text() == _notebook("broken")
    assert str(done).startswith("Restored 07-services.ipynb as in the course's branch origin/spring (")
    assert str(nl.course.reset("07", folder=mine.parent)) == (
        "07-services.ipynb is already as in the course's branch origin/spring: nothing to do.")
