"""The course beyond one Binder: a JupyterHub's link that pulls it, and a check of an environment before class.

:func:`pull_link` builds the nbgitpuller link an instructor posts: the first click clones the
course's repository into the student's home on the hub and opens notebook 00; later clicks pull the
instructor's updates without losing the student's work (``docs/teaching.md`` gives the merge
rules). :func:`check` is what an instructor runs in a hub's user image, or on a laptop, before
class: it imports what the course needs, looks for the widgets' front end, executes one notebook in
a real kernel and prints what is missing and how to add it.

>>> print(pull_link("https://hub.example.edu", "spring-2027"))  # doctest: +NORMALIZE_WHITESPACE
https://hub.example.edu/hub/user-redirect/git-pull?repo=https%3A%2F%2Fgithub.com%2Fk8s-netlab%2Fnetlab&branch=spring-2027&urlpath=lab%2Ftree%2Fnetlab%2Fnotebooks%2F00-start-here.ipynb
"""

from __future__ import annotations

import importlib
import importlib.metadata
import pathlib
import re
import sys
import tempfile
import time
import urllib.parse
from dataclasses import dataclass

from ..errors import ConfigError

#: The course's repository (pyproject.toml's ``[project.urls] Repository``; a fork changes both).
REPOSITORY = "https://github.com/k8s-netlab/netlab"

_BRANCH = re.compile(r"[A-Za-z0-9._/-]+")
_TAG = re.compile(r"v?\d+(\.\d+)+([.-]?(a|b|rc|post|dev)\d*)?")


def pull_link(hub: str, branch: str, repository: str = REPOSITORY, notebook: str = "00",
              folder: str | None = None) -> str:
    """The nbgitpuller link that puts the course in each student's home on ``hub`` and opens ``notebook``.

    Args:
        hub: the hub's address, such as ``https://hub.example.edu`` (a hub served under a path,
            such as ``https://example.edu/jupyter``, works too).
        repository: the git repository to pull (a fork, for a class with its own changes).
        branch: the branch to pull, one you control (such as ``spring-2027``, made from the tag you
            teach). A branch, not a tag: nbgitpuller clones a tag, but every later click fails.
        notebook: the notebook (in ``notebooks/``) that opens after the pull: its number or name.
        folder: the folder in the student's home; by default the repository's name (``netlab``).

    The hub needs nbgitpuller in its user image (``docs/teaching.md``, "Your own JupyterHub").

    >>> link = pull_link("https://hub.example.edu/", "spring-2027", notebook="01", folder="k8s-course")
    >>> urllib.parse.parse_qs(urllib.parse.urlsplit(link).query)["urlpath"]
    ['lab/tree/k8s-course/notebooks/01-single-pod.ipynb']
    """
    parts = urllib.parse.urlsplit(str(hub).strip())
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise ConfigError(f"hub {hub!r}: give the hub's address as you open it in a browser, such as "
                          "https://hub.example.edu (no query string, no /hub/... page)")
    base = urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))
    if re.search(r"/hub(/|$)|/user/", parts.path):
        own = urllib.parse.urlunsplit((parts.scheme, parts.netloc, re.split(r"/hub(?:/|$)|/user/", parts.path)[0],
                                       "", ""))
        raise ConfigError(f"hub {hub!r}: give the hub's own address, without /hub/... or /user/NAME (the link adds "
                          f"/hub/user-redirect/git-pull itself): {own}")
    repo = str(repository).strip().rstrip("/")
    if not re.match(r"(https?|git|ssh)://|git@", repo):
        raise ConfigError(f"repository {repository!r}: give the address git clones, such as {REPOSITORY}")
    if not _BRANCH.fullmatch(str(branch)) or branch.startswith(("-", "/")) or ".." in branch:
        raise ConfigError(f"branch {branch!r}: give a branch name, such as spring-2027")
    if _TAG.fullmatch(branch):
        raise ConfigError(f"branch {branch!r} looks like a tag: nbgitpuller clones a tag on the first click, but "
                          "every later click fails (a tag has no new commits to merge). Make a branch from it and "
                          f"give that: git branch spring-2027 {branch} && git push origin spring-2027")
    from . import _name

    name = _name(notebook)
    target = folder or repo.removesuffix(".git").rsplit("/", 1)[-1]
    if not target or "/" in target or target in (".", ".."):
        raise ConfigError(f"folder {folder!r}: give one folder name in the student's home, such as netlab")
    fields = {"repo": repo, "branch": branch, "urlpath": f"lab/tree/{target}/notebooks/{name}"}
    if target != repo.rsplit("/", 1)[-1]:  # nbgitpuller's own default folder is the URL's last part, .git and all
        fields["targetpath"] = target
    query = urllib.parse.urlencode(fields, quote_via=urllib.parse.quote, safe="")
    return f"{base}/hub/user-redirect/git-pull?{query}"


# ---------------------------------------------------------------------------------------------- the check

@dataclass(frozen=True, slots=True)
class Finding:
    """One line of :func:`check`: ``status`` is ``ok``, ``MISSING`` (the course cannot run), ``optional`` or ``info``."""

    status: str
    what: str
    fix: str = ""

    def __str__(self) -> str:
        return f"  {self.status:<9}{self.what}" + (f"\n  {'':<9}fix: {self.fix}" if self.fix else "")


@dataclass(frozen=True, slots=True)
class CheckReport:
    """Everything :func:`check` found; ``ok`` is False when anything the course needs is missing."""

    findings: tuple[Finding, ...]

    @property
    def missing(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.status == "MISSING")

    @property
    def ok(self) -> bool:
        return not self.missing

    def __str__(self) -> str:
        head = f"netlab course check: Python {sys.version.split()[0]} at {sys.prefix}"
        tail = ("Everything the course needs is here." if self.ok else
                f"{len(self.missing)} thing(s) missing: " + "; ".join(f.what.split(":")[0] for f in self.missing))
        return "\n".join([head, *map(str, self.findings), tail])

    __repr__ = __str__


def _requirements(extra: str | None) -> list[str]:
    """Distribution names netlab requires (``extra=None``) or adds with an extra, from its installed metadata."""
    names = []
    for req in importlib.metadata.requires("k8s-netlab") or []:
        name, _, marker = req.partition(";")
        wanted = f'extra == "{extra}"' in marker if extra else "extra" not in marker
        if wanted:
            names.append(re.split(r"[<>=!~ \[(]", name.strip(), maxsplit=1)[0])
    return names


_MODULE = {"pyyaml": "yaml", "rpds-py": "rpds", "jupyterlab-widgets": "jupyterlab_widgets"}


def _distribution(name: str) -> Finding:
    module = _MODULE.get(name.lower(), name.lower().replace("-", "_"))
    try:
        importlib.import_module(module)
        return Finding("ok", f"{name} {importlib.metadata.version(name)}")
    except Exception as err:  # noqa: BLE001 - a broken install raises anything; the check reports it
        return Finding("MISSING", f"{name}: cannot import {module} ({type(err).__name__}: {err})",
                       f"python -m pip install -r binder/requirements.txt (the pinned list), or "
                       f"python -m pip install '{name}'")


def _widget_front_end() -> Finding:
    try:
        from jupyter_core.paths import jupyter_path
    except ImportError:
        return Finding("MISSING", "widgets' front end: jupyter_core is not installed (JupyterLab is missing)",
                       "python -m pip install -r binder/requirements.txt")
    for folder in jupyter_path("labextensions"):
        package = pathlib.Path(folder) / "@jupyter-widgets" / "jupyterlab-manager" / "package.json"
        if package.is_file():
            return Finding("ok", f"widgets' front end @jupyter-widgets/jupyterlab-manager in {package.parent.parent.parent}")
    return Finding("MISSING", "widgets' front end: no @jupyter-widgets/jupyterlab-manager in JupyterLab's "
                   "extension folders (the explorers would show as text, not as controls)",
                   "python -m pip install jupyterlab_widgets==3.0.17 (binder/requirements.txt's pin), "
                   "in the environment that runs JupyterLab, then restart it")


# The kernel's peak resident memory in MB: Linux's VmHWM (this process image's own high-water mark;
# ru_maxrss would also count the process the kernel was forked from), else ru_maxrss (KB; bytes on macOS).
_PEAK = ("import resource, sys\n"
         "try:\n"
         "    peak = next(int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmHWM:')) // 1024\n"
         "except (OSError, StopIteration):\n"
         "    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
         "    peak = peak // (1 << 20) if sys.platform == 'darwin' else peak // 1024\n"
         "print(peak)")


def run_notebook(name: str, kernel: str = "python3", timeout: int = 600) -> dict:
    """Execute a course notebook, as shipped, in a fresh kernel in a scratch folder; say how it went.

    Returns a dict: ``seconds`` (whole run), ``first_output`` (seconds from the kernel's start to the
    first cell that printed or drew something), ``peak_mb`` (the kernel's peak resident memory),
    ``error`` (the last line of the error, or ``""``).
    """
    import nbclient
    import nbformat

    from . import _name, data_files, shipped, shipped_data

    name = _name(name)
    with tempfile.TemporaryDirectory(prefix="netlab-check-") as scratch:
        folder = pathlib.Path(scratch)
        (folder / "data").mkdir()
        for data in data_files():
            (folder / "data" / data).write_bytes(shipped_data(data))
        nb = nbformat.reads(shipped(name).decode(), as_version=4)
        nb.cells.append(nbformat.v4.new_code_cell(_PEAK))
        client = nbclient.NotebookClient(nb, timeout=timeout, kernel_name=kernel,
                                         resources={"metadata": {"path": str(folder)}})
        first: list[float] = []
        start = time.perf_counter()

        def on_complete(cell, cell_index, execute_reply):  # nbclient's hook: the cell's outputs are in
            if not first and cell.get("outputs") and cell_index < len(nb.cells) - 1:
                first.append(time.perf_counter() - start)

        client.on_cell_executed = on_complete
        error = ""
        try:
            client.execute()
        except Exception as err:  # noqa: BLE001 - a missing kernel or a failing cell: report, do not crash
            text = re.sub(r"\x1b\[[0-9;]*m", "", str(err))  # the kernel colours its tracebacks
            lines = [line for line in text.strip().splitlines() if line.strip()]
            error = lines[-1] if lines else type(err).__name__
        seconds = time.perf_counter() - start
        peak = None
        outputs = nb.cells[-1].get("outputs") or []
        if not error and outputs and outputs[0].get("text", "").strip().isdigit():
            peak = int(outputs[0]["text"].strip())
    return {"seconds": round(seconds, 2), "first_output": round(first[0], 2) if first else None,
            "peak_mb": peak, "error": error}


def _memory_limit() -> int | None:
    """The memory this container may use, in bytes, from its cgroup (a hub's per-user limit), if any."""
    for path, unlimited in (("/sys/fs/cgroup/memory.max", "max"),
                            ("/sys/fs/cgroup/memory/memory.limit_in_bytes", None)):
        try:
            text = pathlib.Path(path).read_text().strip()
        except OSError:
            continue
        if text == unlimited or not text.isdigit() or int(text) >= 1 << 60:
            return None
        return int(text)
    return None


def check(notebook: str = "01", kernel: str = "python3") -> CheckReport:
    """Check this environment for the course: imports, the widgets' front end, one notebook run in a kernel.

    Run it in a hub's user image (``python -m netlab.course check``) or on a laptop before class.
    """
    from . import _checkout, _name, _packaged, data_files, notebooks, version

    findings = []
    python_ok = sys.version_info >= (3, 10)
    findings.append(Finding("ok" if python_ok else "MISSING",
                            f"Python {sys.version.split()[0]} (the course needs 3.10 or newer)",
                            "" if python_ok else "use an image or environment with Python 3.10 or newer "
                                                 "(binder/runtime.txt names the one the course is tested on)"))
    where = ("inside the package" if _packaged() is not None else
             f"from the source folder {_checkout()} (an editable install, or a clone in the current folder: to "
             "check the installed package, run the check from another folder, such as your home)")
    findings.append(Finding("ok", f"netlab {version()}: {len(notebooks())} notebooks and "
                                  f"{len(data_files())} data files, {where}"))
    for name in [*_requirements(None), *_requirements("lab"), "jupyterlab_widgets", "nbclient"]:
        findings.append(_distribution(name))
    findings.append(_widget_front_end())
    try:
        import nbgitpuller  # noqa: F401

        findings.append(Finding("optional", f"nbgitpuller {importlib.metadata.version('nbgitpuller')} "
                                            "(pull links on a JupyterHub work)"))
    except ImportError:
        findings.append(Finding("optional", "nbgitpuller is not installed: needed only for pull links on a "
                                            "JupyterHub (python -m pip install nbgitpuller)"))
    if any(f.status == "MISSING" for f in findings):
        findings.append(Finding("MISSING", f"notebook {notebook}: not run, because of what is missing above"))
        return CheckReport(tuple(findings))
    ran = run_notebook(notebook, kernel=kernel)
    name = _name(notebook)
    if ran["error"]:
        findings.append(Finding("MISSING", f"notebook {name} did not run in kernel {kernel!r}: {ran['error']}",
                                "if the kernel is missing: python -m ipykernel install --user --name "
                                f"{kernel}; if netlab is missing in the kernel, install it in the kernel's "
                                "environment"))
    else:
        findings.append(Finding("ok", f"notebook {name} ran in kernel {kernel!r} in {ran['seconds']:.1f} s "
                                      f"(first output after {ran['first_output']:.1f} s; the kernel peaked at "
                                      f"{ran['peak_mb']} MB)"))
    limit = _memory_limit()
    findings.append(Finding("info", f"memory limit of this environment: {limit / 2**30:.1f} GiB" if limit else
                            "memory limit of this environment: none set (what a student uses: "
                            f"{REPOSITORY}/blob/main/docs/teaching.md#planning-numbers)"))
    return CheckReport(tuple(findings))

