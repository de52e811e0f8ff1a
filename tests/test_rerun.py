"""Re-run any cell: a learner runs a cell again, or goes back up after Run All, and gets the same output.

For every notebook, in one kernel started in ``notebooks/`` as JupyterLab starts it:

1. top to bottom, every code cell runs twice in a row (a learner pressing Shift+Enter on the cell
   they just ran, or re-running it after changing nothing); the second run must raise nothing and
   print exactly what the first printed;
2. then, after that whole run, every code cell runs once more from the bottom up (a learner
   scrolling back to a cell after Run All), again with the same output: a later cell that
   rebinds a name an earlier cell uses (``t = ...`` in a loop) shows up here.

Outputs are compared whole (text, HTML and images) after removing what differs by design between
two runs: execution counts and the ids of widget models.
"""

from __future__ import annotations

import copy
import pathlib
import re

import nbclient
import nbformat
import pytest

NOTEBOOKS = pathlib.Path(__file__).resolve().parent.parent / "notebooks"
NAMES = sorted(p.name for p in NOTEBOOKS.glob("[0-9][0-9]-*.ipynb") if ".my-copy" not in p.name)
_ID = re.compile(r"\b[0-9a-f]{32}\b")


def _normalised(outputs: list) -> list:
    out: list[dict] = []
    for o in copy.deepcopy([dict(o) for o in outputs]):
        # The kernel may send one print in several stream messages (how it splits them depends on timing):
        # the notebook shows them as one text, so compare them as one.
        if out and o.get("output_type") == "stream" and out[-1].get("output_type") == "stream" \
                and out[-1].get("name") == o.get("name"):
            out[-1]["text"] = out[-1]["text"] + o["text"]
            continue
        out.append(o)
    for o in out:
        o.pop("execution_count", None)
        o.get("metadata", {}).pop("execution", None)
    return [_ID.sub("<model-id>", repr(o)) for o in out]


def _summary(outputs: list) -> str:
    # Images are long base64 strings that say nothing to a reader: show their size instead.
    text = re.sub(r"'image/png': '([^']*)'", lambda m: f"'image/png': <{len(m.group(1))} base64 chars>",
                  "\n".join(outputs))
    return text[:1500] + (" ..." if len(text) > 1500 else "")


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_every_cell_runs_again_with_the_same_output(name):
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                                     resources={"metadata": {"path": str(NOTEBOOKS)}})
    code = [(i, c) for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    first: dict[int, list] = {}
    with client.setup_kernel():
        for index, cell in code:
            client.execute_cell(cell, index)
            first[index] = _normalised(cell.outputs)
            client.execute_cell(cell, index)  # raises CellExecutionError if the second run fails
            again = _normalised(cell.outputs)
            assert again == first[index], (
                f"{name}, cell {index}: running it twice in a row changed its output\n"
                f"first:\n{_summary(first[index])}\nsecond:\n{_summary(again)}")
        for index, cell in reversed(code):
            client.execute_cell(cell, index)
            again = _normalised(cell.outputs)
            assert again == first[index], (
                f"{name}, cell {index}: running it again after the cells below it ran changed its output "
                f"(a later cell rebinds a name it uses?)\nfirst:\n{_summary(first[index])}\n"
                f"again:\n{_summary(again)}")
