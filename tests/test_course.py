"""nl.course.reset: a notebook back as shipped, and nothing the learner wrote is lost."""

from __future__ import annotations

import pathlib

import pytest

import netlab as nl
from netlab import course

ROOT = pathlib.Path(__file__).resolve().parent.parent


def test_the_course_lists_every_notebook_in_order():
    names = course.notebooks()
    assert names[0] == "00-start-here.ipynb" and names[1] == "01-single-pod.ipynb"
    assert list(names) == sorted(names) and all(n.endswith(".ipynb") for n in names)


@pytest.mark.parametrize("spelling", ["01", "1", 1, "01-single-pod", "01-single-pod.ipynb"])
def test_a_notebook_is_named_by_its_number_or_its_name(spelling, tmp_path):
    assert course.reset(spelling, folder=tmp_path).restored == tmp_path / "01-single-pod.ipynb"


def test_reset_restores_the_shipped_bytes_and_keeps_the_learners_version(tmp_path):
    mine = tmp_path / "02-multiple-pods.ipynb"
    mine.write_text('{"my": "work"}')
    first = course.reset("02", folder=tmp_path)
    assert mine.read_bytes() == course.shipped("02")
    assert first.kept == tmp_path / "02-multiple-pods.my-copy.ipynb"
    assert first.kept.read_text() == '{"my": "work"}'
    assert "Your version is kept as 02-multiple-pods.my-copy.ipynb" in str(first)
    assert "File > Reload Notebook from Disk" in str(first)
    # Broken again and reset again: the first copy stays, the second gets the next number.
    mine.write_text('{"my": "second try"}')
    second = course.reset("02", folder=tmp_path)
    assert second.kept == tmp_path / "02-multiple-pods.my-copy-2.ipynb"
    assert first.kept.read_text() == '{"my": "work"}' and second.kept.read_text() == '{"my": "second try"}'


def test_reset_of_an_unchanged_notebook_changes_nothing(tmp_path):
    course.reset("03", folder=tmp_path)
    again = course.reset("03", folder=tmp_path)
    assert not again.changed and again.kept is None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["03-multiple-nodes.ipynb"]
    assert str(again) == "03-multiple-nodes.ipynb is already as shipped: nothing to do."


def test_reset_finds_the_notebooks_folder_from_the_repository_root(tmp_path, monkeypatch):
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "notebooks" / "04-kubenet-routing.ipynb").write_text("{}")
    monkeypatch.chdir(tmp_path)
    done = course.reset("04")
    assert done.restored == tmp_path / "notebooks" / "04-kubenet-routing.ipynb"
    assert done.kept.parent == tmp_path / "notebooks"


def test_shipped_is_the_committed_notebook_in_a_checkout():
    # An editable install has no packaged copy: HEAD's version is the shipped one.
    import subprocess

    head = subprocess.run(["git", "-C", str(ROOT), "show", "HEAD:notebooks/00-start-here.ipynb"],
                          capture_output=True, check=True).stdout
    assert course.shipped("00") == head


def test_an_installed_package_ships_its_own_copies(tmp_path, monkeypatch):
    packaged = tmp_path / "packaged"
    packaged.mkdir()
    (packaged / "00-start-here.ipynb").write_text('{"shipped": 0}')
    (packaged / "01-single-pod.ipynb").write_text('{"shipped": 1}')
    monkeypatch.setattr(course, "_packaged", lambda: packaged)
    assert course.notebooks() == ("00-start-here.ipynb", "01-single-pod.ipynb")
    work = tmp_path / "work"
    work.mkdir()
    course.reset("01", folder=work)
    assert (work / "01-single-pod.ipynb").read_text() == '{"shipped": 1}'


@pytest.mark.parametrize("bad, message", [
    ("99", "there is no course notebook '99': give its number or its name"),
    ("01-single-pot", "Did you mean '01-single-pod'?"),
])
def test_an_unknown_notebook_is_refused_with_the_choices(bad, message, tmp_path):
    with pytest.raises(nl.NotFoundError, match=message.replace("?", r"\?")):
        course.reset(bad, folder=tmp_path)


def test_a_missing_folder_is_refused_and_nothing_is_written(tmp_path):
    with pytest.raises(nl.NotFoundError, match="there is no folder .* to restore 01-single-pod.ipynb into"):
        course.reset("01", folder=tmp_path / "nowhere")
    assert not (tmp_path / "nowhere").exists()


def test_the_wheel_carries_the_notebooks_as_package_data():
    import tomllib

    tool = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert tool["package-dir"]["netlab.course.notebooks"] == "notebooks"
    packages = {str(p.parent.relative_to(ROOT)).replace("/", ".") for p in (ROOT / "netlab").rglob("__init__.py")}
    assert packages <= set(tool["packages"]), f"pyproject.toml's packages miss {packages - set(tool['packages'])}"


def test_without_git_the_names_are_still_listed_and_reset_explains(tmp_path, monkeypatch):
    # A checkout downloaded as a ZIP has no .git: notebook 00's listing cell must still run.
    def no_git(*args):
        raise nl.EnvironmentUnavailableError("netlab is not installed with its notebooks ... git cannot read them")

    monkeypatch.setattr(course, "_git", no_git)
    assert "01-single-pod.ipynb" in course.notebooks()
    with pytest.raises(nl.EnvironmentUnavailableError, match="git cannot read them"):
        course.reset("01", folder=tmp_path)
    assert not list(tmp_path.iterdir())
