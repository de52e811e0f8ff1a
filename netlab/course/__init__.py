"""The course itself: its notebooks as shipped, and getting one back after an experiment went wrong.

A learner who has broken a notebook runs, from any notebook (notebook 00 shows it)::

    nl.course.reset("01")

and gets ``01-single-pod.ipynb`` back exactly as shipped. Nothing the learner wrote is
deleted: their version is kept beside it as ``01-single-pod.my-copy.ipynb`` (then
``.my-copy-2``, ``.my-copy-3``, ...).

Where the shipped copy comes from:

* an installed netlab (``pip install .``, as Binder's ``postBuild`` does) carries the
  notebooks inside the package, in ``netlab/course/notebooks/``;
* an editable install in a git checkout (README's local path) has no packaged copy, so
  the shipped version is the one committed at ``HEAD`` (``git show HEAD:notebooks/...``).

Example:
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> print(reset("01", folder=folder))  # doctest: +ELLIPSIS
    Restored 01-single-pod.ipynb as shipped (...).
    >>> _ = (folder / "01-single-pod.ipynb").write_text("{}")  # a broken notebook
    >>> result = reset("01", folder=folder)
    >>> result.kept.name
    '01-single-pod.my-copy.ipynb'
    >>> (folder / "01-single-pod.ipynb").read_bytes() == shipped("01")
    True

The whole course, out of an installed netlab (``pip install k8s-netlab``, no checkout needed)::

    python -m netlab.course --dir my-course     # copy the notebooks and their data, start JupyterLab
    python -m netlab.course check               # what a hub image or a laptop is missing, if anything

:func:`copy_to` never overwrites a file the learner changed: run it again (after an upgrade, say)
and a changed notebook is either left alone (nothing new to bring) or kept beside the new
version under another name. :mod:`netlab.course.hub` builds the link that pulls the course into
every student's home on a JupyterHub, and checks an environment before class.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.resources
import json
import pathlib
import shutil
import subprocess
from dataclasses import dataclass

from ..errors import EnvironmentUnavailableError, NotFoundError, did_you_mean

_SUFFIX = ".ipynb"
_KEEP = ".my-copy"


def _packaged() -> pathlib.Path | None:
    """The notebooks inside an installed (non-editable) package, if there are any."""
    folder = importlib.resources.files(__name__) / "notebooks"
    if folder.is_dir() and any(p.name.endswith(_SUFFIX) for p in folder.iterdir()):
        return pathlib.Path(str(folder))
    return None


def _checkout() -> pathlib.Path:
    """The repository root of an editable install (the folder that holds ``netlab/``)."""
    return pathlib.Path(__file__).resolve().parent.parent.parent


def _git(*args: str) -> bytes:
    root = _checkout()
    try:
        done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise EnvironmentUnavailableError(
            "netlab is not installed with its notebooks (an editable install) and git could not be run to "
            f"read them from the checkout ({err}); reinstall with `python -m pip install .` from the "
            "repository, or download the notebook again from the repository's page") from err
    if done.returncode != 0:
        raise EnvironmentUnavailableError(
            f"netlab is not installed with its notebooks (an editable install in {root}) and git cannot read "
            f"them from the checkout: {done.stderr.decode(errors='replace').strip()}; reinstall with "
            "`python -m pip install .` from the repository, or download the notebook again from the "
            "repository's page")
    return done.stdout


def notebooks() -> tuple[str, ...]:
    """The course's notebook file names, in order.

    >>> notebooks()[0]
    '00-start-here.ipynb'
    """
    packaged = _packaged()
    if packaged is not None:
        return tuple(sorted(p.name for p in packaged.iterdir() if p.name.endswith(_SUFFIX)))
    try:
        listed = _git("ls-tree", "--name-only", "HEAD", "notebooks/").decode().split()
    except EnvironmentUnavailableError:
        # A checkout without git (a downloaded ZIP): the names are still known from the folder, even
        # though no shipped copy can be read back (reset says so when asked).
        listed = [p.name for p in (_checkout() / "notebooks").glob(f"*{_SUFFIX}") if _KEEP not in p.name]
    return tuple(sorted(pathlib.PurePosixPath(p).name for p in listed if p.endswith(_SUFFIX)))


def _name(notebook: str) -> str:
    """``"01"``, ``"01-single-pod"`` or ``"01-single-pod.ipynb"`` -> ``"01-single-pod.ipynb"``."""
    names = notebooks()
    wanted = str(notebook).strip()
    wanted = wanted[: -len(_SUFFIX)] if wanted.endswith(_SUFFIX) else wanted
    wanted = wanted.zfill(2) if wanted.isdigit() else wanted  # reset(1) and reset("1") mean "01"
    matches = [n for n in names if n[: -len(_SUFFIX)] == wanted or n.split("-", 1)[0] == wanted]
    if len(matches) != 1:
        raise NotFoundError(
            f"there is no course notebook {notebook!r}: give its number or its name, one of "
            f"{', '.join(repr(n.split('-', 1)[0]) for n in names)} (for example 01)."
            f"{did_you_mean(wanted, [n[: -len(_SUFFIX)] for n in names])}")
    return matches[0]


def shipped(notebook: str) -> bytes:
    """The notebook's bytes as shipped with this version of netlab.

    >>> shipped("00-start-here").startswith(b"{")
    True
    """
    name = _name(notebook)
    packaged = _packaged()
    if packaged is not None:
        return (packaged / name).read_bytes()
    return _git("show", f"HEAD:notebooks/{name}")


def data_files() -> tuple[str, ...]:
    """The files the notebooks read, in ``data/`` beside them (notebook 09's manifests and dumps).

    >>> "shop.yaml" in data_files()
    True
    """
    packaged = _packaged()
    if packaged is not None:
        folder = packaged / "data"
        return tuple(sorted(p.name for p in folder.iterdir() if p.is_file())) if folder.is_dir() else ()
    try:
        listed = _git("ls-tree", "--name-only", "HEAD", "notebooks/data/").decode().split()
    except EnvironmentUnavailableError:
        listed = [p.name for p in (_checkout() / "notebooks" / "data").glob("*") if p.is_file()]
    return tuple(sorted(pathlib.PurePosixPath(p).name for p in listed))


def shipped_data(name: str) -> bytes:
    """A data file's bytes as shipped with this version of netlab."""
    if name not in data_files():
        raise NotFoundError(f"there is no course data file {name!r}: the files are {', '.join(data_files())}")
    packaged = _packaged()
    if packaged is not None:
        return (packaged / "data" / name).read_bytes()
    return _git("show", f"HEAD:notebooks/data/{name}")


@dataclass(frozen=True, slots=True)
class Reset:
    """What :func:`reset` did: the notebook it restored, from where, and where the learner's version went."""

    restored: pathlib.Path
    kept: pathlib.Path | None
    changed: bool
    source: str = "as shipped"

    def __str__(self) -> str:
        name = self.restored.name
        if not self.changed:
            return f"{name} is already {self.source}: nothing to do."
        told = f"Restored {name} {self.source} ({self.restored.parent})."
        if self.kept is not None:
            told += f" Your version is kept as {self.kept.name}."
        return (told + f" If {name} is open in a tab, close it without saving and open it again "
                "(or choose File > Reload Notebook from Disk).")

    __repr__ = __str__


def _from_branch(folder: pathlib.Path, name: str) -> tuple[bytes, str] | None:
    """The notebook as the course's git branch has it, when ``folder`` is in a clone of the course.

    On a JupyterHub, nbgitpuller's link clones the instructor's branch into the student's home: the
    notebook to go back to is the branch's (as last pulled, ``@{upstream}``), which may be newer than
    the copy inside the installed package (or than ``HEAD``, which holds nbgitpuller's commits of the
    student's work). A clone without an upstream branch keeps the ``HEAD`` rule of :func:`shipped`.
    """
    def git(*args: str) -> bytes | None:
        try:
            done = subprocess.run(["git", "-C", str(folder), *args], capture_output=True, timeout=30, check=False)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return done.stdout if done.returncode == 0 else None

    if git("rev-parse", "--show-toplevel") is None:
        return None
    upstream = git("rev-parse", "--abbrev-ref", "--symbolic-full-name", "@{upstream}")
    data = git("show", f"@{{upstream}}:./{name}") if upstream else None
    if upstream is None or data is None:
        return None
    return data, f"as in the course's branch {upstream.decode().strip()}"


def _folder(folder: str | pathlib.Path | None, name: str) -> pathlib.Path:
    if folder is not None:
        path = pathlib.Path(folder)
        if not path.is_dir():
            raise NotFoundError(f"there is no folder {str(path)!r} to restore {name} into; give the folder "
                                "that holds your notebooks (in a notebook: folder='netlab-course'; in a terminal: --dir netlab-course)")
        return path
    here = pathlib.Path.cwd()
    # A notebook's kernel runs in the notebook's folder; from the repository root, look in notebooks/;
    # from the folder above a course copied out by copy_to, in netlab-course/; from a hub home, in the clone.
    if not (here / name).exists():
        for below in ("notebooks", DEFAULT_FOLDER, "netlab/notebooks"):  # the last: a hub's nbgitpuller clone
            if (here / below / name).exists():
                return here / below
    return here


def _free(path: pathlib.Path) -> pathlib.Path:
    """The first unused ``NAME.my-copy.EXT``, ``NAME.my-copy-2.EXT``, ... beside ``path``."""
    stem, suffix = path.stem, path.suffix
    for n in range(1, 10_000):
        candidate = path.with_name(f"{stem}{_KEEP}{'' if n == 1 else f'-{n}'}{suffix}")
        if not candidate.exists():
            return candidate
    raise EnvironmentUnavailableError(f"{path.parent} already holds 9,999 copies of {path.name}; tidy it up")


#: The file, in a course folder, that records what :func:`copy_to` wrote there (JupyterLab hides it).
RECORD = ".netlab-course.json"

#: Where :func:`copy_to` and ``python -m netlab.course`` put the course unless told otherwise.
DEFAULT_FOLDER = "netlab-course"


def course_folder(folder: str | pathlib.Path | None = None) -> pathlib.Path:
    """``folder`` if given; else the current folder if it is a copied-out course (it holds the record), else
    ``netlab-course`` below it. So the command run again from inside the course does not nest a second copy."""
    if folder is not None:
        return pathlib.Path(folder)
    here = pathlib.Path.cwd()
    return here if (here / RECORD).is_file() else here / DEFAULT_FOLDER


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _read_record(folder: pathlib.Path) -> dict[str, str]:
    try:
        files = json.loads((folder / RECORD).read_text()).get("files", {})
    except (OSError, ValueError, AttributeError):
        return {}  # no record (a folder of notebooks made another way) or a damaged one: assume nothing
    return {str(k): str(v) for k, v in files.items()} if isinstance(files, dict) else {}


def version() -> str:
    """The installed netlab's version (its distribution ``k8s-netlab``), or ``"not installed"`` in a bare checkout."""
    try:
        return importlib.metadata.version("k8s-netlab")
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _write_record(folder: pathlib.Path, files: dict[str, str]) -> None:
    (folder / RECORD).write_text(json.dumps({"netlab": version(), "files": dict(sorted(files.items()))},
                                            indent=1) + "\n")


@dataclass(frozen=True, slots=True)
class Copied:
    """What :func:`copy_to` did, file by file (paths relative to :attr:`folder`).

    * ``added``: were not there, now are as shipped (a deleted notebook comes back this way);
    * ``updated``: were as an earlier netlab shipped them and unchanged by the learner, now as this one ships them;
    * ``unchanged``: already as shipped;
    * ``yours``: changed by the learner and left exactly as they are (this netlab brings nothing new for them);
    * ``kept``: changed by the learner *and* shipped anew: the learner's version moved beside it, as
      ``(file, kept-as)`` pairs, and the new version put in its place.
    """

    folder: pathlib.Path
    added: tuple[str, ...] = ()
    updated: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()
    yours: tuple[str, ...] = ()
    kept: tuple[tuple[str, str], ...] = ()

    def __str__(self) -> str:
        lines = [f"The course is in {self.folder}: {len(self.added)} file(s) added, {len(self.updated)} updated, "
                 f"{len(self.unchanged)} already as shipped, {len(self.yours)} changed by you and left as they are, "
                 f"{len(self.kept)} changed by you and kept beside the shipped version."]
        if self.yours:
            lines.append("Changed by you, kept as they are (to get the shipped one back, keeping yours beside it: "
                         "python -m netlab.course reset NN in a terminal, nl.course.reset('NN') in a notebook): "
                         + ", ".join(self.yours))
        for name, kept in self.kept:
            lines.append(f"{name}: differs from what this netlab ships; yours is kept as {kept}, the shipped one "
                         "is in its place")
        return "\n".join(lines)

    __repr__ = __str__


def _course_files() -> list[tuple[str, bytes]]:
    """Every file of the course as (path relative to the course folder, shipped bytes), notebooks first."""
    return ([(name, shipped(name)) for name in notebooks()]
            + [(f"data/{name}", shipped_data(name)) for name in data_files()])


def copy_to(folder: str | pathlib.Path | None = None) -> Copied:
    """Copy the course (every notebook and the ``data/`` files they read) into ``folder``, keeping the learner's work.

    Safe to run again, for example after upgrading netlab: a file the learner never changed is
    brought up to date, a file the learner changed is never overwritten (it stays as it is, or,
    when this netlab ships a new version of it, it is kept beside the new one as
    ``NAME.my-copy.ipynb``). ``folder/.netlab-course.json`` records what was copied, which is
    how a learner's change is told from an older shipped version.

    >>> import tempfile
    >>> folder = pathlib.Path(tempfile.mkdtemp()) / "course"
    >>> first = copy_to(folder)
    >>> len(first.added) == len(notebooks()) + len(data_files())
    True
    >>> _ = (folder / "03-multiple-nodes.ipynb").write_text("{}")   # the learner's work
    >>> again = copy_to(folder)
    >>> again.yours, again.added
    (('03-multiple-nodes.ipynb',), ())
    """
    root = course_folder(folder)
    if root.exists() and not root.is_dir():
        raise NotFoundError(f"{str(root)!r} is a file, not a folder: give a folder for the course "
                            "(for example --dir netlab-course)")
    record = _read_record(root)
    files = _course_files()
    (root / "data").mkdir(parents=True, exist_ok=True)
    done: dict[str, list] = {"added": [], "updated": [], "unchanged": [], "yours": [], "kept": []}
    written: dict[str, str] = dict(record)
    for rel, original in files:
        target = root / rel
        new = _digest(original)
        if not target.exists():
            target.write_bytes(original)
            done["added"].append(rel)
        else:
            current = _digest(target.read_bytes())
            if current == new:
                done["unchanged"].append(rel)
            elif record.get(rel) == current:  # as an earlier netlab shipped it, untouched since
                target.write_bytes(original)
                done["updated"].append(rel)
            elif record.get(rel) == new:  # the learner changed it and there is nothing new: leave it be
                done["yours"].append(rel)
            else:  # changed by the learner and shipped anew (or of unknown origin): keep both
                kept = _free(target)
                shutil.copy2(target, kept)
                target.write_bytes(original)
                done["kept"].append((rel, str(kept.relative_to(root))))
        written[rel] = new
    _write_record(root, written)
    return Copied(root.resolve(), **{k: tuple(v) for k, v in done.items()})


def reset(notebook: str, folder: str | pathlib.Path | None = None) -> Reset:
    """Put ``notebook`` back as shipped, keeping the learner's version beside it.

    In a clone of the course's git branch (what a JupyterHub's nbgitpuller link makes in each
    student's home), "as shipped" is as the branch has it, which carries the instructor's fixes.

    Args:
        notebook: its number (``"01"``) or name (``"01-single-pod"``).
        folder: where the learner's notebooks are; by default the current folder (a notebook's
            kernel runs in the folder of the notebook), or ``notebooks/`` below it.

    Returns:
        A :class:`Reset` that says what was restored and kept; nothing is ever deleted.
    """
    name = _name(notebook)
    where = _folder(folder, name)
    original, source = _from_branch(where, name) or (shipped(name), "as shipped")
    target = where / name
    kept = None
    if target.exists():
        if target.read_bytes() == original:
            return Reset(target, None, changed=False, source=source)
        kept = _free(target)
        shutil.copy2(target, kept)
    target.write_bytes(original)
    record = _read_record(target.parent)
    if record:  # a folder made by copy_to: it now holds this notebook as shipped
        _write_record(target.parent, {**record, name: _digest(original)})
    return Reset(target, kept, changed=True, source=source)


from . import hub  # noqa: E402  (nl.course.hub.pull_link, nl.course.hub.check: the course beyond one Binder)
