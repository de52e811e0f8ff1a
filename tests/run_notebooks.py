"""Execute course notebooks as a learner's JupyterLab does, and report each one's time as JSON.

    python tests/run_notebooks.py NOTEBOOK_DIR [NAME ...]

Each notebook runs in a fresh kernel whose working directory is the notebook's folder (as on
Binder and in JupyterLab), top to bottom. The script needs only nbclient, which comes with
JupyterLab, so it runs in the environment under test (the Binder simulation runs it with the
simulated environment's own Python). The exit status is 1 if a cell raised; stdout is one JSON
object: {"python": sys.prefix, "seconds": {name: s}, "errors": {name: message}}.
"""

from __future__ import annotations

import json
import pathlib
import sys
import time

import nbclient
import nbformat


def run(folder: pathlib.Path, names: list[str]) -> dict:
    seconds: dict[str, float] = {}
    errors: dict[str, str] = {}
    for name in names:
        nb = nbformat.read(folder / name, as_version=4)
        client = nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                                         resources={"metadata": {"path": str(folder)}})
        start = time.perf_counter()
        try:
            client.execute()
        except nbclient.exceptions.CellExecutionError as err:
            errors[name] = str(err)[-3000:]
        seconds[name] = round(time.perf_counter() - start, 2)
    return {"python": sys.prefix, "seconds": seconds, "errors": errors}


def main(argv: list[str]) -> int:
    folder = pathlib.Path(argv[0]).resolve()
    names = argv[1:] or sorted(p.name for p in folder.glob("[0-9][0-9]-*.ipynb") if ".my-copy" not in p.name)
    report = run(folder, names)
    print(json.dumps(report))
    return 1 if report["errors"] else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
