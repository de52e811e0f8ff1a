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
"""

from __future__ import annotations

import importlib.resources
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
            f"{', '.join(repr(n.split('-', 1)[0]) for n in names)} (for example reset('01'))."
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
    """What :func:`reset` did: the notebook it restored and where the learner's version went."""

    restored: pathlib.Path
    kept: pathlib.Path | None
    changed: bool

    def __str__(self) -> str:
        name = self.restored.name
        if not self.changed:
            return f"{name} is already as shipped: nothing to do."
        told = f"Restored {name} as shipped ({self.restored.parent})."
        if self.kept is not None:
            told += f" Your version is kept as {self.kept.name}."
        return (told + f" If {name} is open in a tab, close it without saving and open it again "
                "(or choose File > Reload Notebook from Disk).")

    __repr__ = __str__


def _folder(folder: str | pathlib.Path | None, name: str) -> pathlib.Path:
    if folder is not None:
        path = pathlib.Path(folder)
        if not path.is_dir():
            raise NotFoundError(f"there is no folder {str(path)!r} to restore {name} into; give the folder "
                                "that holds your notebooks (for example folder='notebooks')")
        return path
    here = pathlib.Path.cwd()
    # A notebook's kernel runs in the notebook's folder; from the repository root, look in notebooks/.
    if not (here / name).exists() and (here / "notebooks" / name).exists():
        return here / "notebooks"
    return here


def _free(path: pathlib.Path) -> pathlib.Path:
    stem = path.name[: -len(_SUFFIX)]
    for n in range(1, 10_000):
        candidate = path.with_name(f"{stem}{_KEEP}{'' if n == 1 else f'-{n}'}{_SUFFIX}")
        if not candidate.exists():
            return candidate
    raise EnvironmentUnavailableError(f"{path.parent} already holds 9,999 copies of {path.name}; tidy it up")


def reset(notebook: str, folder: str | pathlib.Path | None = None) -> Reset:
    """Put ``notebook`` back as shipped, keeping the learner's version beside it.

    Args:
        notebook: its number (``"01"``) or name (``"01-single-pod"``).
        folder: where the learner's notebooks are; by default the current folder (a notebook's
            kernel runs in the folder of the notebook), or ``notebooks/`` below it.

    Returns:
        A :class:`Reset` that says what was restored and kept; nothing is ever deleted.
    """
    name = _name(notebook)
    original = shipped(name)
    target = _folder(folder, name) / name
    kept = None
    if target.exists():
        if target.read_bytes() == original:
            return Reset(target, None, changed=False)
        kept = _free(target)
        shutil.copy2(target, kept)
    target.write_bytes(original)
    return Reset(target, kept, changed=True)
