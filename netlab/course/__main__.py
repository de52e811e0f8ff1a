"""``python -m netlab.course``: the course out of an installed netlab (``k8s-netlab course`` is the same command).

Usage::

    python -m netlab.course [--dir DIR] [--port N] [--no-browser]   copy the course to DIR, start JupyterLab there
                                                                    (other --options go to JupyterLab)
    python -m netlab.course copy [--dir DIR]                        copy only (on a hub, where JupyterLab runs already)
    python -m netlab.course reset NOTEBOOK [--dir DIR]              one notebook back as shipped (yours kept beside it)
    python -m netlab.course check [--notebook NN]                   what this environment lacks for the course
    python -m netlab.course link HUB --branch B [--repository URL]   the nbgitpuller link for a JupyterHub

DIR is ``netlab-course`` in the current folder unless given. Copying never overwrites a file the
learner changed (``netlab.course.copy_to`` says how). Exit status: 0 done, 1 the check found
something missing, 2 bad input (the error on stderr).

Example:
    >>> main(["link", "https://hub.example.edu", "--branch", "spring-2027"])  # doctest: +ELLIPSIS
    https://hub.example.edu/hub/user-redirect/git-pull?repo=...&branch=spring-2027&urlpath=lab%2Ftree%2Fnetlab%2F...
    0
"""

from __future__ import annotations

import argparse
import os
import shlex
import signal
import subprocess
import sys
from typing import Sequence

from ..errors import NetlabError

_COMMANDS = ("open", "copy", "reset", "check", "link")
_DIR = ("the course folder (default: the current folder if the course was copied there, else ./netlab-course); "
        "a notebook you changed there is never overwritten")


def parser(prog: str = "python -m netlab.course") -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog=prog, description="The netlab course: copy it out and open it, give a "
                                  "notebook back as shipped, check an environment, build a JupyterHub link.",
                                  epilog=f"With no COMMAND: open. `{prog} open --help` lists its options "
                                         "(--dir, --port, --no-browser, --dry-run).")
    sub = top.add_subparsers(dest="command", metavar="COMMAND")
    start = sub.add_parser("open", help="copy the course to a folder and start JupyterLab there (the default)")
    start.add_argument("--dir", help=_DIR)
    start.add_argument("--port", type=int, help="JupyterLab's port")
    start.add_argument("--no-browser", action="store_true", help="do not open a browser")
    start.add_argument("--dry-run", action="store_true", help="copy the course, print the command, do not start it")
    copy = sub.add_parser("copy", help="copy the course to a folder, nothing else (on a hub, where JupyterLab "
                          "already runs)")
    copy.add_argument("--dir", help=_DIR)
    reset = sub.add_parser("reset", help="one notebook back as shipped; your version is kept beside it")
    reset.add_argument("notebook", help="its number (01) or name (01-single-pod)")
    reset.add_argument("--dir", help="the course folder (default: the current folder if it holds the notebook, "
                       "else ./netlab-course)")
    check = sub.add_parser("check", help="what this environment lacks for the course (run it in a hub image)")
    check.add_argument("--notebook", default="01", help="the notebook to execute (default 01)")
    check.add_argument("--kernel", default="python3", help="the kernel to execute it in (default python3)")
    link = sub.add_parser("link", help="the nbgitpuller link that pulls the course into each student's home on a hub")
    link.add_argument("hub", help="the hub's address, such as https://hub.example.edu")
    link.add_argument("--repository", help="the git repository (default: netlab's)")
    link.add_argument("--branch", required=True, help="the branch to pull, one you control, such as spring-2027 "
                      "(a branch, not a tag: a later click cannot pull a tag)")
    link.add_argument("--notebook", default="00", help="the notebook to open: its number or name (default 00)")
    link.add_argument("--folder", help="the folder in each student's home (default: the repository's name)")
    return top


def _open(args: argparse.Namespace) -> int:
    from . import copy_to, notebooks

    copied = copy_to(args.dir)
    print(copied)
    command = [sys.executable, "-m", "jupyterlab"]
    if args.port:
        command.append(f"--port={args.port}")
    if args.no_browser:
        command.append("--no-browser")
    command += [*args.jupyterlab, notebooks()[0]]
    shown = f"cd {shlex.quote(str(copied.folder))} && {shlex.join(command)}"
    if args.dry_run:
        print(shown)
        return 0
    if os.name == "posix" and os.geteuid() == 0 and "--allow-root" not in args.jupyterlab:
        raise NetlabError("you are root, and JupyterLab refuses to run as root: run the command as an ordinary "
                          "user, or add --allow-root (in a container, for example): "
                          f"python -m netlab.course --dir {shlex.quote(str(copied.folder))} --allow-root")
    try:
        import jupyterlab  # noqa: F401
    except ImportError:
        raise NetlabError("JupyterLab is not installed: install it with `python -m pip install 'k8s-netlab[lab]'` "
                          "and run the command again") from None
    print(f"Starting JupyterLab: {shown}  (Ctrl-C stops it; your notebooks stay in {copied.folder})")
    server = subprocess.Popen(command, cwd=copied.folder)
    # Stopping this command stops JupyterLab: Ctrl-C reaches both and ends JupyterLab without its
    # confirmation prompt, and a SIGTERM (a service manager, a test) is passed on instead of leaving
    # JupyterLab running alone.
    signal.signal(signal.SIGTERM, lambda *_: server.terminate())
    try:
        return server.wait()
    except KeyboardInterrupt:
        server.terminate()
        return server.wait()


def _copy(args: argparse.Namespace) -> int:
    from . import copy_to

    print(copy_to(args.dir))
    return 0


def _reset(args: argparse.Namespace) -> int:
    from . import reset

    print(reset(args.notebook, folder=args.dir))
    return 0


def _check(args: argparse.Namespace) -> int:
    from .hub import check

    report = check(args.notebook, kernel=args.kernel)
    print(report)
    return 0 if report.ok else 1


def _link(args: argparse.Namespace) -> int:
    from .hub import REPOSITORY, pull_link

    print(pull_link(args.hub, args.branch, repository=args.repository or REPOSITORY, notebook=args.notebook,
                    folder=args.folder))
    return 0


def main(argv: Sequence[str] | None = None, prog: str = "python -m netlab.course") -> int:
    """Run one command; return its exit status (0 done, 1 the check found something missing, 2 bad input)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or (argv[0] not in _COMMANDS and argv[0] not in ("-h", "--help")):
        argv.insert(0, "open")  # `python -m netlab.course --dir X` opens the course
    top = parser(prog)
    try:
        args, extra = top.parse_known_args(argv)
        if extra and args.command != "open":
            top.error(f"unrecognized arguments: {' '.join(extra)}")
        if any(not e.startswith("--") for e in extra):
            top.error(f"unrecognized arguments: {' '.join(extra)} (JupyterLab's own options start with --)")
        args.jupyterlab = extra  # `open` hands options it does not know to JupyterLab, e.g. --ServerApp.token=...
    except SystemExit as done:  # --help, or a usage error (argparse printed it)
        return int(done.code or 0) if done.code in (0, None) else 2
    try:
        return {"open": _open, "copy": _copy, "reset": _reset, "check": _check, "link": _link}[args.command](args)
    except NetlabError as err:
        print(f"{prog}: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
