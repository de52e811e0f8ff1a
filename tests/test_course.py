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


# ------------------------------------------------------------------ the whole course copied out (copy_to)

def _everything():
    return [*course.notebooks(), *(f"data/{n}" for n in course.data_files())]


def test_copy_to_puts_every_notebook_and_data_file_as_shipped(tmp_path):
    done = course.copy_to(tmp_path / "course")
    assert sorted(done.added) == sorted(_everything())
    for name in course.notebooks():
        assert (tmp_path / "course" / name).read_bytes() == course.shipped(name)
    for name in course.data_files():
        assert (tmp_path / "course" / "data" / name).read_bytes() == course.shipped_data(name)
    again = course.copy_to(tmp_path / "course")
    assert sorted(again.unchanged) == sorted(_everything()) and not (again.added or again.kept or again.yours)


def test_copy_to_never_overwrites_what_the_learner_changed(tmp_path):
    folder = tmp_path / "course"
    course.copy_to(folder)
    (folder / "03-multiple-nodes.ipynb").write_text('{"my": "work"}')
    (folder / "data" / "shop.yaml").write_text("my: manifest\n")
    (folder / "05-azure-cni.ipynb").unlink()  # deleted by mistake: comes back
    done = course.copy_to(folder)
    assert set(done.yours) == {"03-multiple-nodes.ipynb", "data/shop.yaml"}
    assert done.added == ("05-azure-cni.ipynb",)
    assert (folder / "03-multiple-nodes.ipynb").read_text() == '{"my": "work"}'
    assert (folder / "data" / "shop.yaml").read_text() == "my: manifest\n"
    assert not list(folder.glob("*.my-copy*"))
    assert "Changed by you, kept as they are" in str(done) and "03-multiple-nodes.ipynb" in str(done)
    assert "python -m netlab.course reset NN in a terminal, nl.course.reset('NN') in a notebook" in str(done)


def _pretend_older_version(folder, name, old):
    """The folder as an earlier netlab left it: ``name`` held ``old`` and the record says so."""
    import json

    (folder / name).write_bytes(old)
    record = json.loads((folder / course.RECORD).read_text())
    record["files"][name] = course._digest(old)
    (folder / course.RECORD).write_text(json.dumps(record))


def test_copy_to_after_an_upgrade_updates_untouched_files_and_keeps_changed_ones_beside(tmp_path):
    folder = tmp_path / "course"
    course.copy_to(folder)
    _pretend_older_version(folder, "02-multiple-pods.ipynb", b'{"version": "older"}')   # untouched since
    _pretend_older_version(folder, "04-kubenet-routing.ipynb", b'{"version": "older"}')
    (folder / "04-kubenet-routing.ipynb").write_text('{"version": "older", "my": "work"}')  # and changed
    done = course.copy_to(folder)
    assert done.updated == ("02-multiple-pods.ipynb",)
    assert done.kept == (("04-kubenet-routing.ipynb", "04-kubenet-routing.my-copy.ipynb"),)
    assert (folder / "02-multiple-pods.ipynb").read_bytes() == course.shipped("02")
    assert (folder / "04-kubenet-routing.ipynb").read_bytes() == course.shipped("04")
    assert (folder / "04-kubenet-routing.my-copy.ipynb").read_text() == '{"version": "older", "my": "work"}'
    assert "yours is kept as 04-kubenet-routing.my-copy.ipynb" in str(done)


def test_a_folder_made_another_way_keeps_every_differing_file_beside_the_shipped_one(tmp_path):
    (tmp_path / "01-single-pod.ipynb").write_text("{}")  # no record: whose change it is, nobody knows
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "shop.yaml").write_text("mine: true\n")
    done = course.copy_to(tmp_path)
    assert dict(done.kept) == {"01-single-pod.ipynb": "01-single-pod.my-copy.ipynb",
                               "data/shop.yaml": "data/shop.my-copy.yaml"}
    assert (tmp_path / "data" / "shop.my-copy.yaml").read_text() == "mine: true\n"


def test_reset_in_a_copied_folder_records_the_shipped_notebook(tmp_path):
    course.copy_to(tmp_path)
    (tmp_path / "06-comparison.ipynb").write_text("{}")
    course.reset("06", folder=tmp_path)
    done = course.copy_to(tmp_path)  # the reset notebook is as shipped again: nothing to keep or leave
    assert "06-comparison.ipynb" in done.unchanged and not done.kept and not done.yours


def test_copy_to_refuses_a_file_where_the_folder_should_be(tmp_path):
    (tmp_path / "course").write_text("not a folder")
    with pytest.raises(nl.NotFoundError, match="is a file, not a folder"):
        course.copy_to(tmp_path / "course")


# ------------------------------------------------------------------ python -m netlab.course

def test_python_m_netlab_course_copies_and_prints_how_jupyterlab_starts(tmp_path, capsys):
    from netlab.course.__main__ import main

    assert main(["--dir", str(tmp_path / "c"), "--dry-run", "--no-browser"]) == 0
    out = capsys.readouterr().out
    assert out.rstrip().endswith("-m jupyterlab --no-browser 00-start-here.ipynb")
    assert (tmp_path / "c" / "09-your-own-cluster.ipynb").exists()
    (tmp_path / "c" / "01-single-pod.ipynb").write_text("{}")
    assert main(["reset", "01", "--dir", str(tmp_path / "c")]) == 0
    assert "Your version is kept as 01-single-pod.my-copy.ipynb" in capsys.readouterr().out
    assert main(["copy", "--dir", str(tmp_path / "c")]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"The course is in {tmp_path / 'c'}: 0 file(s) added") and "jupyterlab" not in out


def test_python_m_netlab_course_refuses_bad_input_with_status_2(tmp_path, capsys):
    from netlab.course.__main__ import main

    assert main(["reset", "1x", "--dir", str(tmp_path)]) == 2
    assert "there is no course notebook '1x'" in capsys.readouterr().err
    assert main(["link", "hub.example.edu", "--branch", "spring"]) == 2
    assert "give the hub's address as you open it in a browser" in capsys.readouterr().err
    assert main(["open", "--port", "eighty"]) == 2
    assert main(["link", "https://hub.example.edu"]) == 2  # a branch must be chosen
    assert "the following arguments are required: --branch" in capsys.readouterr().err


def test_run_again_from_inside_the_course_it_uses_that_folder_and_nests_nothing(tmp_path, monkeypatch, capsys):
    from netlab.course.__main__ import main

    monkeypatch.chdir(tmp_path)
    assert main(["copy"]) == 0
    course_dir = tmp_path / "netlab-course"
    assert (course_dir / course.RECORD).is_file()
    monkeypatch.chdir(course_dir)  # where the printed command takes the learner
    (course_dir / "01-single-pod.ipynb").write_text("{}")
    capsys.readouterr()
    assert main(["--dry-run"]) == 0
    assert capsys.readouterr().out.startswith(f"The course is in {course_dir}: 0 file(s) added")
    assert not (course_dir / "netlab-course").exists()
    assert main(["reset", "01"]) == 0  # the notebook is here: no --dir needed
    assert (course_dir / "01-single-pod.my-copy.ipynb").read_text() == "{}"
    monkeypatch.chdir(tmp_path)  # and from the folder above, reset finds netlab-course/
    (course_dir / "02-multiple-pods.ipynb").write_text("{}")
    assert main(["reset", "02"]) == 0
    assert (course_dir / "02-multiple-pods.my-copy.ipynb").exists()


def test_open_as_root_says_how_instead_of_jupyterlabs_refusal(tmp_path, monkeypatch, capsys):
    from netlab.course import __main__ as cli

    monkeypatch.setattr(cli.os, "geteuid", lambda: 0, raising=False)
    monkeypatch.setattr(cli.os, "name", "posix")
    real = cli.subprocess.Popen

    def popen(command, *args, **kwargs):  # git (the shipped notebooks, in a checkout) may run; JupyterLab must not
        assert "jupyterlab" not in command, "JupyterLab must not start"
        return real(command, *args, **kwargs)

    monkeypatch.setattr(cli.subprocess, "Popen", popen)
    assert cli.main(["--dir", str(tmp_path / "c"), "--no-browser"]) == 2
    err = capsys.readouterr().err
    assert "you are root, and JupyterLab refuses to run as root" in err and "--allow-root" in err


def test_reset_from_a_hub_home_finds_the_notebook_in_the_pulled_clone(tmp_path, monkeypatch):
    clone = tmp_path / "netlab" / "notebooks"  # where nbgitpuller's link puts the course in a student's home
    clone.mkdir(parents=True)
    (clone / "07-services.ipynb").write_text("{}")
    monkeypatch.chdir(tmp_path)  # a hub terminal opens in the home folder
    done = course.reset("07")
    assert done.restored == clone / "07-services.ipynb" and not (tmp_path / "07-services.ipynb").exists()
