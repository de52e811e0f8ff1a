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


def _python_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.+?)\n```", text, re.S)


def test_every_python_sample_in_readme_runs_as_written(tmp_path, monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    blocks = _python_blocks((ROOT / "README.md").read_text())
    assert blocks, "README shows the API with at least one Python sample"
    monkeypatch.chdir(tmp_path)  # a sample must not depend on being run from the checkout
    for block in blocks:
        exec(compile(block, "README.md", "exec"), {"__name__": "__readme__"})


def test_readme_sets_up_a_virtual_environment_before_the_two_commands():
    readme = (ROOT / "README.md").read_text()
    venv = readme.index("python3 -m venv .venv")
    assert venv < readme.index('python -m pip install -e ".[lab]"') < readme.index("<!-- test-command -->")
    assert "source .venv/bin/activate" in readme and r".venv\Scripts\Activate.ps1" in readme


def test_license_file_matches_pyproject():
    import tomllib

    license_ = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["license"]
    assert license_ == {"text": "MIT"}
    assert (ROOT / "LICENSE").read_text().startswith("MIT License\n")
