"""The instructor's guide (docs/teaching.md) must say what the notebooks do.

The guide is checked against the notebooks as they are in the repository, so a changed notebook
breaks a test here instead of leaving the guide wrong:

* every solution block runs, on its own, and its ``assert``s hold;
* every "Change it and re-run" bullet and every "Try it yourself" section has one solution, and
  every solution has its bullet or section;
* every self-check in the notebooks is in the key, in the section where the notebook asks it, with
  answers ``nl.quiz.check`` accepts (and the right answers the key says it rejects still rejected);
* every Predict prompt is in the key, with answers that a stored output after the prompt shows (in
  the prompt's own section, before the next heading) and that no stored output above it shows: a
  prediction is made before its answer is printed;
* the 90-minute path adds up and names headings that exist; the Binder, reset, pitfall and run-time
  facts hold.

Notebooks numbered 90 and above (the glossary) are reference, not lessons: they have no objectives,
no place in the core path and no exercises, but they are in the run-time table.
"""

from __future__ import annotations

import html
import json
import pathlib
import re

import pytest

import netlab as nl

ROOT = pathlib.Path(__file__).resolve().parent.parent
GUIDE = ROOT / "docs" / "teaching.md"
NOTEBOOKS = ROOT / "notebooks"
NAMES = sorted(p.name for p in NOTEBOOKS.glob("[0-9][0-9]-*.ipynb") if ".my-copy" not in p.name)
NUMBERS = [name[:2] for name in NAMES]
LESSONS = [number for number in NUMBERS if int(number) < 90]  # 90 and above: reference (the glossary)

_BLOCK = re.compile(r"<!-- (solution|example): ([a-z0-9-]+) -->\n```python\n(.*?)\n```", re.S)
_PREDICT = re.compile(r"\*\*Predict\b")
_BULLET = re.compile(r"^[*-] ")


# ------------------------------------------------------------------ reading the guide and notebooks
def _guide() -> str:
    return GUIDE.read_text(encoding="utf-8")


def _section(title: str) -> str:
    """The guide's text under ``## title``, up to the next ``## `` heading."""
    text = _guide()
    m = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    assert m, f"docs/teaching.md has no section '## {title}'"
    return m.group(1)


def _table_rows(text: str) -> list[list[str]]:
    """The body rows of the markdown tables in ``text``, as lists of stripped cells."""
    rows = []
    for line in text.splitlines():
        if not line.startswith("|") or re.match(r"^\|[\s:|-]+\|$", line):
            continue
        rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    return rows


def _code_spans(cell: str) -> list[str]:
    return re.findall(r"`([^`]+)`", cell)


def _plain(text: str) -> str:
    """Text without markdown backticks and bold, with runs of whitespace as one space."""
    return re.sub(r"\s+", " ", text.replace("`", "").replace("**", "")).strip()


def _md_plain(text: str) -> str:
    """Markdown as it reads: links (the glossary links) as their text, then as ``_plain``."""
    return _plain(re.sub(r"\[([^\]]+)\]\([^)\s]*\)", r"\1", text))


def _shows(value: str, text: str) -> bool:
    """True if ``value`` stands in ``text`` as a whole: not inside a longer address, number or word."""
    return re.search(rf"(?<![\w.]){re.escape(_plain(value))}(?!\.?\w)", text) is not None


def _notebook(number: str) -> dict:
    (name,) = [n for n in NAMES if n.startswith(number + "-")]
    return json.loads((NOTEBOOKS / name).read_text(encoding="utf-8"))


def _source(cell: dict) -> str:
    return "".join(cell["source"])


def _output_text(cell: dict) -> str:
    """Everything a code cell's stored outputs show as text: streams, plain text and HTML without tags."""
    parts = []
    for out in cell.get("outputs", []):
        if out["output_type"] == "stream":
            parts.append("".join(out["text"]))
        elif out["output_type"] in ("execute_result", "display_data"):
            data = out.get("data", {})
            if "text/plain" in data:
                parts.append("".join(data["text/plain"]))
            if "text/html" in data:
                parts.append(html.unescape(re.sub(r"<[^>]+>", " ", "".join(data["text/html"]))))
        elif out["output_type"] == "error":
            parts.append(f"{out['ename']}: {out['evalue']}")
    return _plain("\n".join(parts))


def _markdown_lines(number: str) -> list[str]:
    return [line for cell in _notebook(number)["cells"] if cell["cell_type"] == "markdown"
            for line in _source(cell).splitlines()]


def _heading(line: str) -> str:
    """A ``## `` heading as the guide names it: without backticks, links and double quotes."""
    return _md_plain(line[3:]).replace('"', "")


def _headings(number: str) -> list[str]:
    """The notebook's ``## `` headings."""
    return [_heading(line) for line in _markdown_lines(number) if line.startswith("## ")]


def _change_bullets(number: str) -> int:
    """Top-level bullets under the notebook's "Change it and re-run" heading(s)."""
    count, inside = 0, False
    for line in _markdown_lines(number):
        if line.startswith("#"):
            inside = line.strip() == "## Change it and re-run"
        elif inside and _BULLET.match(line):
            count += 1
    return count


def _blocks() -> dict[str, str]:
    found: dict[str, str] = {}
    for _kind, name, code in _BLOCK.findall(_guide()):
        assert name not in found, f"docs/teaching.md: two blocks are marked {name!r}"
        found[name] = code
    return found


def _prompts() -> list[tuple[str, int, str]]:
    """Every Predict prompt: (notebook number, cell index, text). Notebook 00 only explains the word."""
    prompts = []
    for number in NUMBERS:
        if number == "00":
            continue
        for i, cell in enumerate(_notebook(number)["cells"]):
            if cell["cell_type"] == "markdown" and _PREDICT.search(_source(cell)):
                prompts.append((number, i, _md_plain(_source(cell))))
    return prompts


def _outputs_around(number: str, index: int) -> tuple[list[str], list[str]]:
    """The stored outputs of the code cells above cell ``index``, and of those after it up to the
    next heading (the cells that answer a prompt in that cell)."""
    cells = _notebook(number)["cells"]
    above = [_output_text(cell) for cell in cells[:index] if cell["cell_type"] == "code"]
    after = []
    for cell in cells[index + 1:]:
        if cell["cell_type"] == "markdown" and re.search(r"^#", _source(cell), re.M):
            break
        if cell["cell_type"] == "code":
            after.append(_output_text(cell))
    return above, after


def _quiz_uses() -> dict[str, list[tuple[str, str]]]:
    """Self-check id -> where the notebooks ask it: (notebook number, the ``## `` heading above the
    cell, or "top of notebook")."""
    uses: dict[str, list[tuple[str, str]]] = {}
    for number in NUMBERS:
        heading = "top of notebook"
        for cell in _notebook(number)["cells"]:
            if cell["cell_type"] == "markdown":
                for line in _source(cell).splitlines():
                    if line.startswith("## "):
                        heading = _heading(line)
            elif cell["cell_type"] == "code":
                for qid in re.findall(r"""nl\.quiz\.check\(\s*["']([^"']+)["']""", _source(cell)):
                    uses.setdefault(qid, []).append((number, heading))
    return uses


def _quiz_ids() -> set[str]:
    return set(_quiz_uses())


def _quiz_key() -> dict[str, tuple[list[str], list[str]]]:
    """Self-check id -> (accepted answers, right answers the check rejects), from the guide's table."""
    key = {}
    for row in _table_rows(_section("Answer key: self-checks")):
        if not row[0].startswith("`"):
            continue  # the header row
        assert len(row) == 5, f"self-check key row needs 5 cells: {row}"
        (qid,) = _code_spans(row[0])
        assert qid not in key, f"self-check {qid} is twice in the key"
        key[qid] = (_code_spans(row[2]), _code_spans(row[3]))
    return key


def _quiz_places() -> dict[str, str]:
    """Self-check id -> the key's "notebook, section" cell."""
    return {_code_spans(row[0])[0]: row[1] for row in _table_rows(_section("Answer key: self-checks"))
            if row[0].startswith("`")}


def _predict_key() -> list[tuple[str, str, list[str], str]]:
    """(notebook number, quoted prompt words, answers, why) per row of the guide's Predict table."""
    rows = []
    for row in _table_rows(_section("Answer key: Predict prompts")):
        if not re.fullmatch(r"\d\d", row[0]):
            continue  # the header row
        assert len(row) == 4, f"Predict key row needs 4 cells: {row}"
        quoted = re.findall(r'"([^"]+)"', row[1])
        assert len(quoted) == 1, f"Predict key row must quote the prompt once: {row[1]}"
        rows.append((row[0], _md_plain(quoted[0]), _code_spans(row[2]), row[3]))
    return rows


def _core_path() -> list[list[str]]:
    section = _section("The 90-minute core path")
    return [row for row in _table_rows(section) if re.fullmatch(r"\d+", row[0])]


# ------------------------------------------------------------------ solutions
BLOCKS = _blocks()


@pytest.mark.parametrize("name", sorted(BLOCKS))
def test_every_solution_block_runs_on_its_own_and_its_asserts_hold(name, tmp_path, monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    code = BLOCKS[name]
    assert "import netlab as nl" in code, f"block {name} must import netlab itself (a fresh namespace)"
    assert "assert " in code, f"block {name} must check its expected result with assert"
    monkeypatch.chdir(tmp_path)  # a block must not depend on, or write to, the checkout
    exec(compile(code, f"docs/teaching.md [{name}]", "exec"), {"__name__": "__teaching__"})


def test_every_change_it_bullet_and_try_it_section_has_exactly_one_solution():
    expected = set()
    for number in NUMBERS:
        expected.update(f"{number}-change-{k}" for k in range(1, _change_bullets(number) + 1))
        if "Try it yourself" in _headings(number):
            expected.add(f"{number}-try")
    assert sum(_change_bullets(n) for n in NUMBERS) > 0, "no 'Change it and re-run' bullets found"
    marked = {name for kind, name, _ in _BLOCK.findall(_guide()) if kind == "solution"}
    assert marked == expected, (
        f"solutions missing for {sorted(expected - marked)}; solutions for items the notebooks no longer "
        f"have: {sorted(marked - expected)}")


def test_the_change_it_count_sees_bullets_across_cells_and_stops_at_the_next_heading():
    # 01 has its two bullets in two markdown cells with code between them; 04 has its heading after
    # another heading in the same cell; 08 has another section with bullets of its own after it
    # ("Optional: the fine print"). All must count right, or the check above would pass vacuously.
    assert _change_bullets("01") == 2
    assert _change_bullets("04") == 2
    assert _change_bullets("08") == 2


# ------------------------------------------------------------------ self-checks
def test_every_self_check_in_the_notebooks_is_in_the_key_and_nothing_else():
    used, key = _quiz_ids(), _quiz_key()
    assert used, "no nl.quiz.check(...) cells found in the notebooks"
    assert set(key) == used, (f"self-checks missing from the key: {sorted(used - set(key))}; "
                              f"in the key but in no notebook: {sorted(set(key) - used)}")


def test_the_key_names_the_notebook_and_section_where_each_self_check_is_asked():
    places, uses = _quiz_places(), _quiz_uses()
    for qid, where in uses.items():
        assert len(where) == 1, f"self-check {qid} is asked {len(where)} times: {where}"
        (number, heading), place = where[0], places.get(qid, "")
        assert place.startswith(f"{number},"), f"the key puts {qid} in {place!r}; notebook {number} asks it"
        named = re.findall(r'"([^"]+)"', place)
        if heading == "top of notebook":
            assert not named and "top of notebook" in place, (
                f"{qid} is asked at the top of notebook {number}, not in {place!r}")
        else:
            assert len(named) == 1 and heading.startswith(_md_plain(named[0])), (
                f"{qid} is asked under the heading {heading!r} of notebook {number}, not in {place!r}")


@pytest.mark.parametrize("qid", sorted(_quiz_key()))
def test_the_key_answers_are_accepted_and_the_noted_rejections_still_happen(qid):
    accepted, rejected = _quiz_key()[qid]
    assert accepted, f"the key gives no accepted answer for {qid}"
    for answer in accepted:
        feedback = nl.quiz.check(qid, answer)
        assert feedback.correct is True, f"{qid}: the key's answer {answer!r} is rejected: {feedback}"
    for answer in rejected:
        assert nl.quiz.check(qid, answer).correct is False, (
            f"{qid} now accepts {answer!r}: move it to the 'accepted' column of docs/teaching.md")


# ------------------------------------------------------------------ Predict prompts
def test_every_predict_prompt_has_exactly_one_key_row_and_every_row_a_prompt():
    prompts, key = _prompts(), _predict_key()
    assert prompts, "no Predict prompts found in the notebooks"
    for number, index, text in prompts:
        rows = [quote for n, quote, _, _ in key if n == number and quote in text]
        assert len(rows) == 1, f"notebook {number}, cell {index}: {len(rows)} key rows for the prompt {text!r}"
    for number, quote, _, _ in key:
        hits = [i for n, i, text in prompts if n == number and quote in text]
        assert len(hits) == 1, f"key row {number} {quote!r} matches {len(hits)} Predict prompts"


_PREDICT_IDS = [f"{row[0]}: {row[1][:32]}" for row in _predict_key()]


@pytest.mark.parametrize("number,quote,answers,why", _predict_key(), ids=_PREDICT_IDS)
def test_the_predicted_value_appears_in_an_output_after_the_prompt(number, quote, answers, why):
    assert answers, f"key row {number} {quote!r} gives no answer in backticks"
    (index,) = [i for n, i, text in _prompts() if n == number and quote in text]
    _, after = _outputs_around(number, index)
    for answer in answers:
        assert any(_shows(answer, out) for out in after), (
            f"notebook {number}: the key says the output after {quote!r} shows {answer!r}, but no stored "
            "output between the prompt and the next heading does")


@pytest.mark.parametrize("number,quote,answers,why", _predict_key(), ids=_PREDICT_IDS)
def test_the_predicted_value_is_in_no_output_above_the_prompt(number, quote, answers, why):
    # A prediction is made before the answer is printed: no stored output above the prompt may show
    # it, anywhere in the notebook. There is no allowance for "cover the output above": move the cell.
    (index,) = [i for n, i, text in _prompts() if n == number and quote in text]
    above, _ = _outputs_around(number, index)
    for answer in answers:
        shown = [i for i, out in enumerate(above) if _shows(answer, out)]
        assert not shown, (
            f"notebook {number}: the answer {answer!r} to the Predict prompt {quote!r} is already printed "
            f"by code cell(s) {shown} above it (counting code cells from 0)")
    assert "above the prompt" not in why, f"key row {number} {quote!r} still excuses an answer printed above"


# ------------------------------------------------------------------ facts the guide quotes
def test_the_first_cell_of_notebook_00_prints_what_the_guide_says():
    first = next(c for c in _notebook("00")["cells"] if c["cell_type"] == "code")
    quoted = re.findall(r"`(delivered to pod world[^`]*)`", _guide())
    assert len(quoted) >= 2, "the guide quotes the first cell's output in the objectives and in 'Before class'"
    for text in quoted:
        assert text in _output_text(first), f"notebook 00's first cell does not print {text!r}"


def test_the_key_says_which_self_checks_come_pre_filled():
    rows = {(_code_spans(row[0]) or [""])[0]: row[1] for row in _table_rows(_section("Answer key: self-checks"))}
    for number in NUMBERS:
        for cell in _notebook(number)["cells"]:
            m = re.search(r"""nl\.quiz\.check\(\s*["']([^"']+)["']\s*,\s*(\w+|None)""", _source(cell))
            if cell["cell_type"] != "code" or not m:
                continue
            qid, arg = m.groups()
            given = re.search(rf"^{arg}\s*=\s*(.+?)\s*(#|$)", _source(cell), re.M) if arg != "None" else None
            prefilled = given is not None and given.group(1) != "None"
            assert prefilled == ("pre-filled" in rows[qid]), (
                f"self-check {qid} is {'' if prefilled else 'not '}pre-filled in notebook {number}; "
                "the key must say so")


def test_the_chain_of_names_the_pitfalls_give_for_07_is_how_07_builds_its_clusters():
    pitfalls = _section("Common pitfalls")
    paragraph = pitfalls[pitfalls.index("**Cells run out of order.**"):].split("\n\n")[0]
    chain = re.findall(r"`(cluster_\w+)`", paragraph)
    assert len(chain) >= 3, f"the pitfall names no chain of 07's clusters: {paragraph!r}"
    code = "\n".join(_source(c) for c in _notebook("07")["cells"] if c["cell_type"] == "code")
    built = re.findall(r"^(cluster\w*) = (cluster\w*)\.", code, re.M)
    for before, after in zip(chain, chain[1:]):
        assert (after, before) in built, f"notebook 07 does not build {after} from {before}: {built}"


# ------------------------------------------------------------------ the plan and the objectives
def test_the_core_path_adds_up_to_90_minutes_and_covers_every_notebook():
    rows = _core_path()
    assert sum(int(row[0]) for row in rows) == 90
    assert [row[1] for row in rows] == LESSONS


def test_the_core_path_names_every_heading_of_every_notebook_and_only_real_ones():
    for row in _core_path():
        number, named = row[1], [_md_plain(q) for cell in row[2:] for q in re.findall(r'"([^"]+)"', cell)]
        headings = _headings(number)
        for name in named:
            assert any(h.startswith(name) for h in headings), (
                f"the core path names {name!r}, which is no heading of notebook {number}: {headings}")
        for heading in headings:
            assert any(heading.startswith(name) for name in named), (
                f"notebook {number} has a section {heading!r} that the core path neither teaches nor skips")


def test_learning_objectives_are_three_to_five_per_notebook():
    section = _section("Learning objectives")
    parts = re.split(r"^### (\d\d) ", section, flags=re.M)[1:]
    found = dict(zip(parts[::2], parts[1::2]))
    assert sorted(found) == LESSONS
    for number, text in found.items():
        count = sum(1 for line in text.splitlines() if line.startswith("- "))
        assert 3 <= count <= 5, f"notebook {number} has {count} learning objectives"


# ------------------------------------------------------------------ Binder and reset
def test_the_binder_links_point_at_this_repository_its_tag_and_an_existing_notebook():
    section = _section("Running a class on Binder")
    found = re.search(r'^Repository = "([^"]+)"', (ROOT / "pyproject.toml").read_text(), re.M)
    assert found, "pyproject.toml names no Repository under [project.urls]"
    repo = found.group(1)
    assert f"`{repo}`" in section
    owner_name = repo.removeprefix("https://github.com/")
    links = re.findall(rf"https://mybinder\.org/v2/gh/{re.escape(owner_name)}/([^?\s]+)\?urlpath=lab/tree/(\S+)",
                       section)
    assert {ref for ref, _ in links} == {"<ref>", f"v{nl.__version__}"}
    for _, path in links:
        assert (ROOT / path).exists(), path


def test_reset_keeps_copies_under_the_names_the_guide_gives(tmp_path):
    section = _section("Running a class on Binder")
    assert "`01-single-pod.my-copy.ipynb`" in section and "`01-single-pod.my-copy-2.ipynb`" in section
    target = tmp_path / "01-single-pod.ipynb"
    nl.course.reset("01", folder=tmp_path)
    shipped = target.read_bytes()
    for n in (1, 2):
        target.write_text('{"broken": %d}' % n)
        result = nl.course.reset("01", folder=tmp_path)
        assert target.read_bytes() == shipped
        assert result.kept.name == ("01-single-pod.my-copy.ipynb" if n == 1 else "01-single-pod.my-copy-2.ipynb")
    assert "nothing to do" in str(nl.course.reset("01", folder=tmp_path))


def test_the_run_time_table_has_a_measured_time_for_every_notebook_and_no_placeholder():
    text = _section("Running a class on Binder")
    table = text[text.index("### Measured run times"):]
    table = table[:table.index("\n### ")] if "\n### " in table else table
    rows = [row for row in _table_rows(table) if row[0].startswith("`")]
    assert [row[0].strip("`") for row in rows] == [name.removesuffix(".ipynb") for name in NAMES]
    seconds = []
    for row in rows:
        assert re.fullmatch(r"\d+(\.\d+)?", row[1]) and float(row[1]) > 0, f"no measured time for {row[0]}: {row}"
        seconds.append(float(row[1]))
    (total,) = [row for row in _table_rows(table) if row[0].startswith("all")]
    assert float(total[1]) == pytest.approx(sum(seconds)), f"the total {total[1]} is not the sum {sum(seconds):.1f}"
    assert "TBD" not in _guide(), "docs/teaching.md still has a TBD placeholder"
