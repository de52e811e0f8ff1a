"""README is the first thing a newcomer reads: its two commands must stay true."""

import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parent.parent


def test_ci_runs_the_test_command_from_readme():
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"<!-- test-command -->\n```bash\n(.+?)\n```\n<!-- /test-command -->", readme, re.S)
    assert block and block.group(1) == 'python -m pip install -e ".[test]" && python -m pytest'
    ci = (ROOT / ".ci/run").read_text()
    assert "<!-- test-command -->" in ci and 'bash -c "$cmd"' in ci


def test_readme_course_command_opens_an_existing_notebook():
    readme = (ROOT / "README.md").read_text()
    m = re.search(r'python -m pip install -e "\.\[lab\]" && python -m jupyterlab (\S+)', readme)
    assert m and (ROOT / m.group(1)).exists()


def test_every_notebook_is_listed_in_readme():
    readme = (ROOT / "README.md").read_text()
    for nb in sorted((ROOT / "notebooks").glob("*.ipynb")):
        assert f"`{nb.name}`" in readme
