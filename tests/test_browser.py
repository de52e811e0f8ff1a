"""The course as a learner meets it: every notebook run in JupyterLab, in a real Chromium.

nbval (the ``--nbval`` run) proves each cell gives the expected text; it never renders anything.
This test starts JupyterLab on a temporary copy of ``notebooks/`` (outputs stripped, so everything
on screen comes from this run), opens each notebook in Debian's Chromium through playwright,
runs it with Run > Run All Cells and then looks at the page: no exception anywhere, every widget
drawn as a widget (not as ``VBox(children=...)`` text), and the explorer redraws its diagram when
its "Add node" button is clicked.

The first notebook opens from its URL, as the Binder link opens notebook 00 (JupyterLab loads in a
fresh page); each next one opens in the same JupyterLab, as a learner goes on through the course,
after the one before was closed and its kernel shut down. After a failure the next notebook
starts from a fresh page again.

On a failure the notebook's screenshot, the browser console and the server log are written to
``tests/.artifacts/browser/`` and the assertion message gives the paths. Per-notebook times are
printed (``-n 0 -s`` shows them: pytest-xdist's workers keep what tests print), with notes that do
not fail the test: stderr that is no exception, JavaScript errors in the console, images that did
not load.

Needs ``/usr/bin/chromium`` (Debian's package; playwright's own browser download is never used);
without it the module is skipped with the reason. The ``playwright`` package and JupyterLab come
with the test extra (``pip install -e ".[test]"``)::

    python -m pytest tests/test_browser.py -m browser -n 0 -s
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium" if os.access("/usr/bin/chromium", os.X_OK) else shutil.which("chromium")
if CHROMIUM is None:
    pytest.skip("the browser test needs Debian's Chromium (apt-get install chromium): "
                "no /usr/bin/chromium and no chromium on PATH", allow_module_level=True)

from playwright import sync_api  # noqa: E402 - after the Chromium check, so its skip reason comes first

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(p.name for p in (REPO / "notebooks").glob("*.ipynb"))
ARTIFACTS = REPO / "tests" / ".artifacts" / "browser"
TOKEN = "netlab-browser-test"

# Bounds (seconds). Generous: a cold kernel imports matplotlib, CI machines are slow, and a hang
# must end as a failure with a screenshot rather than as a stuck CI job.
SERVER_START_S = 90
PAGE_LOAD_S = 90
KERNEL_IDLE_S = 90
RUN_START_S = 30
RUN_ALL_S = 300
WIDGET_RENDER_S = 60
CLICK_REDRAW_S = 60

# Chromium without these keeps calling Google services (component updates, safe browsing, sync,
# QUIC probes); on a closed network that is a stream of failed connections. The resolver rule
# makes every other host fail at once (00's Binder badge is an external image) instead of waiting
# for a DNS timeout; `--no-sandbox` because CI runs as root.
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
]
VIEWPORT = {"width": 1400, "height": 900}

# JupyterLab user settings for the run: never fetch news or ask about it (a toast would cover the
# page and the feed is on the internet), and never autosave (the copy is thrown away anyway, and
# a save in the middle of a run is one more thing happening on the page).
LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false",
                                                                         "checkForUpdates": False},
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
}

TIMES: dict[str, dict[str, float]] = {}


# --------------------------------------------------------------------------- JupyterLab server
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _strip_outputs(src: Path, dst: Path) -> None:
    """Copy a notebook without outputs, counts and saved widget state: what the page shows after
    the run can then only come from this run (a stale saved PNG or widget state could hide a
    widget that no longer renders)."""
    nb = json.loads(src.read_text(encoding="utf-8"))
    nb.get("metadata", {}).pop("widgets", None)
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
    dst.write_text(json.dumps(nb, indent=1), encoding="utf-8")


class Lab:
    """A JupyterLab server in its own temporary directories; ``url(path)`` adds the token."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.root = home / "notebooks"
        self.runtime = home / "runtime"
        self.log_path = home / "jupyterlab.log"
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def url(self, path: str) -> str:
        sep = "&" if "?" in path else "?"
        return f"{self.base}{path}{sep}token={TOKEN}"

    def api(self, method: str, path: str) -> object:
        req = urllib.request.Request(self.base + path, method=method,
                                     headers={"Authorization": f"token {TOKEN}"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            body = resp.read()
        return json.loads(body) if body else None

    def start(self) -> None:
        self.root.mkdir(parents=True)
        for name in NOTEBOOKS:
            _strip_outputs(REPO / "notebooks" / name, self.root / name)
        shutil.copytree(REPO / "notebooks" / "data", self.root / "data")  # what notebook 09 reads
        settings = self.home / "user-settings"
        for rel, values in LAB_SETTINGS.items():
            (settings / rel).parent.mkdir(parents=True, exist_ok=True)
            (settings / rel).write_text(json.dumps(values), encoding="utf-8")

        env = dict(os.environ)
        # Own config/runtime/IPython dirs: the developer's ~/.jupyter settings and workspaces
        # neither change the test nor get changed by it.
        env.update(JUPYTER_CONFIG_DIR=str(self.home / "config"), JUPYTER_RUNTIME_DIR=str(self.runtime),
                   IPYTHONDIR=str(self.home / "ipython"))
        # The kernel imports this checkout's netlab, as the pytest run does (pythonpath = ["."]).
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
        env.pop("MPLBACKEND", None)  # a learner's kernel uses the inline backend
        cmd = [
            sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root",
            "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={self.port}", "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={TOKEN}", f"--ServerApp.root_dir={self.root}",
            "--ServerApp.terminals_enabled=False",
            # Nothing that reaches the internet: no news feed (None, not "", turns it off),
            # no update check, no PyPI-backed extension manager.
            "--LabApp.news_url=None",
            "--LabApp.check_for_updates_class=jupyterlab.handlers.announcements.NeverCheckForUpdate",
            "--LabApp.extension_manager=readonly",
            # window.jupyterapp: the test opens and closes notebooks through JupyterLab's own commands.
            "--LabApp.expose_app_in_browser=True",
            f"--LabApp.user_settings_dir={settings}", f"--LabApp.workspaces_dir={self.home / 'workspaces'}",
        ]
        log = self.log_path.open("wb")
        # Own session: the server can be signalled without touching pytest's process group.
        self.proc = subprocess.Popen(cmd, cwd=self.home, env=env, stdin=subprocess.DEVNULL,
                                     stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        deadline = time.monotonic() + SERVER_START_S
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"JupyterLab exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                self.api("GET", "/api/status")
                self.api("GET", "/lab/api/settings")  # the lab extension is loaded, not just the server
                return
            except (OSError, ValueError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"JupyterLab did not answer within {SERVER_START_S} s:\n{self.log_tail()}")
            time.sleep(0.25)

    def wait_for_connected_kernel(self, timeout_s: float) -> None:
        """Until the server has an idle kernel with the page's websocket connected to it: the
        page's own status can say idle before its kernel connection is made, and Run All in
        that moment runs nothing."""
        deadline = time.monotonic() + timeout_s
        kernels: object = None
        while time.monotonic() < deadline:
            kernels = self.api("GET", "/api/kernels")
            if any(k["connections"] >= 1 and k["execution_state"] == "idle" for k in kernels):
                return
            time.sleep(0.1)
        raise RuntimeError(f"no idle kernel with a connection within {timeout_s} s: {kernels}")

    def shutdown_kernels(self) -> None:
        """Stop every session and kernel (one notebook's kernel must not eat the next one's CPU)."""
        try:
            for session in self.api("GET", "/api/sessions"):
                self.api("DELETE", f"/api/sessions/{session['id']}")
            for kernel in self.api("GET", "/api/kernels"):
                self.api("DELETE", f"/api/kernels/{kernel['id']}")
        except (OSError, ValueError):
            pass  # the server is gone already: stop() deals with what is left

    def stop(self) -> None:
        if self.proc is None:
            return
        self.shutdown_kernels()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # a clean stop also shuts down any kernel left
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        # Kernels run in sessions of their own, so a killed server can leave them behind. Ours
        # are the processes whose command line names our private runtime dir (connection file).
        for pid in _pids_mentioning(str(self.runtime)):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no server log)"


def _pids_mentioning(text: str) -> list[int]:
    """Processes whose command line contains ``text`` (here: this run's private runtime dir)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if text in cmdline:
                pids.append(int(entry.name))
    return pids


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    server = Lab(tmp_path_factory.mktemp("jupyterlab"))
    started = time.monotonic()
    try:
        server.start()
        TIMES["(server start)"] = {"total": time.monotonic() - started}
        yield server
    finally:
        server.stop()


class Tab:
    """The browser page the notebooks open in, with what its console said since the current notebook opened.

    ``fresh`` is set when the next notebook must open in a new page (at the start, and after a
    failure, which may leave a dialog or a half-closed notebook behind)."""

    def __init__(self, context) -> None:
        self.context = context
        self.page = None
        self.console: list[str] = []
        self.fresh = True

    def new_page(self):
        if self.page is not None:
            self.page.close()
        self.page = page = self.context.new_page()
        page.on("console", lambda m: self.console.append(f"[{m.type}] {m.text}"))
        page.on("pageerror", lambda e: self.console.append(f"[pageerror] {e}"))
        page.on("requestfailed", lambda r: self.console.append(f"[requestfailed] {r.url} {r.failure}"))
        self.fresh = False
        return page


@pytest.fixture(scope="module")
def browser(lab):
    started = time.monotonic()
    with sync_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
                                      timeout=60_000)
        # One context for all notebooks: JupyterLab's scripts are downloaded once and cached.
        context = chromium.new_context(viewport=VIEWPORT)
        context.set_default_timeout(60_000)
        try:
            yield Tab(context)
        finally:
            context.close()
            chromium.close()
    _print_times(time.monotonic() - started)
    _print_server_memory(lab)


def _print_server_memory(lab) -> None:
    """The JupyterLab server's resident memory now and at its peak, after a browser ran every notebook through it
    (docs/teaching.md's planning numbers: what a hub's per-student limit must hold beside the kernels)."""
    try:
        status = Path(f"/proc/{lab.proc.pid}/status").read_text()
    except (OSError, AttributeError):
        return
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    mb = {k: int(fields[k].split()[0]) / 1024 for k in ("VmRSS", "VmHWM") if k in fields}
    print(f"\nJupyterLab server after the browser ran the notebooks: {mb.get('VmRSS', 0):.0f} MB resident, "
          f"peak {mb.get('VmHWM', 0):.0f} MB")


def _print_times(browser_s: float) -> None:
    print("\nbrowser test times (s):")
    for name, t in TIMES.items():
        print(f"  {name:34s} " + "  ".join(f"{k} {v:6.1f}" for k, v in t.items()))
    total = sum(t["total"] for t in TIMES.values())
    print(f"  {'total':34s} {total:6.1f} (browser session {browser_s:.1f})")


# --------------------------------------------------------------------------- what the page shows
# Each helper below runs in the page and reads the DOM of the one open notebook.
_STATE_JS = """
() => {
  const panel = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
  if (!panel) return null;
  const status = panel.querySelector('.jp-Notebook-ExecutionIndicator')?.getAttribute('data-status');
  const prompts = [];
  for (const cell of panel.querySelectorAll('.jp-Notebook .jp-CodeCell')) {
    // An empty code cell is never sent to the kernel and keeps an empty prompt.
    if (!(cell.querySelector('.cm-content')?.textContent || '').trim()) continue;
    prompts.push((cell.querySelector('.jp-InputPrompt')?.textContent || '').trim());
  }
  // Exceptions as _problems_in_outputs sees them (a SyntaxError has no "Traceback" line).
  const errors = [...panel.querySelectorAll('.jp-OutputArea-output')].filter(o => {
    const text = o.innerText || '';
    return text.includes('Traceback (most recent call last)')
        || (o.getAttribute('data-mime-type') === 'application/vnd.jupyter.stderr'
            && /Traceback|^(\\w+\\.)*\\w*(Error|Exception|Interrupt)\\b(:|$)/m.test(text));
  }).length;
  return {status, prompts, errors};
}
"""

# Open a notebook in the JupyterLab already on the page, as a double click in the file browser does.
_OPEN_JS = """async (path) => {
  const app = window.jupyterapp;
  await app.restored;
  await app.commands.execute('docmanager:open', {path, factory: 'Notebook'});
}"""

# Close every document without the "save your changes?" dialog (the copy is thrown away); the
# kernels are shut down through the server afterwards.
_CLOSE_ALL_JS = """() => {
  for (const widget of Array.from(window.jupyterapp.shell.widgets('main'))) {
    if (widget.context) widget.context.model.dirty = false;
    widget.close();
  }
}"""

# The indicator says "idle" even before the notebook has a kernel ("No Kernel" in the toolbar):
# only a named kernel that is idle is ready to run cells.
_KERNEL_READY_JS = """() => {
  const panel = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
  const name = (panel?.querySelector('.jp-Toolbar-kernelName')?.textContent || '').trim();
  const status = panel?.querySelector('.jp-Notebook-ExecutionIndicator')?.getAttribute('data-status');
  return !!name && name !== 'No Kernel' && status === 'idle';
}"""

# Started = some cell is queued, running or done.
_RUN_STARTED_JS = "() => (" + _STATE_JS + ")()?.prompts.some(p => p !== '[ ]:')"

# Done = kernel idle, no cell queued or running ([*]), and either every cell numbered or an
# exception shown (Run All stops at an exception: the cells after it stay unnumbered).
_RUN_DONE_JS = "() => { const s = (" + _STATE_JS + """)();
  return !!s && s.status === 'idle' && !s.prompts.some(p => p.includes('*'))
      && (s.prompts.every(p => /^\\[\\d+\\]:$/.test(p)) || s.errors > 0); }"""

# A cell's own outputs (not those nested in an Output widget, which are part of the widget).
# A widget view carries no data-mime-type: it is recognised by the widget DOM inside it.
TOP_OUTPUTS = ".jp-Cell-outputArea > .jp-OutputArea-child > .jp-OutputArea-output"

_OUTPUTS_JS = """
() => [...document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell')]
  .map((cell, index) => ({
    index,
    prompt: (cell.querySelector('.jp-InputPrompt')?.textContent || '').trim(),
    outputs: [...cell.querySelectorAll('""" + TOP_OUTPUTS + """')]
      .map(o => ({
        mime: o.getAttribute('data-mime-type') || '',
        text: (o.innerText || '').slice(0, 4000),
        widgets: o.querySelectorAll('.jupyter-widgets').length,
      })),
  }))
"""

# Images that should have loaded but did not (external ones cannot load on a closed network, so
# only same-origin, data: and attachment: images count). A note, not a failure: JupyterLab does
# not render an SVG cell attachment, for instance, which no kernel output would show.
_BROKEN_IMAGES_JS = """
() => [...document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook img')]
  .filter(img => img.complete && img.naturalWidth === 0)
  .filter(img => { const src = img.getAttribute('src') || '';
                   return !/^https?:/.test(src) || src.startsWith(location.origin); })
  .map(img => `alt=${JSON.stringify(img.alt)} src=${JSON.stringify((img.getAttribute('src') || '').slice(0, 80))}`)
"""

STDERR_MIME = "application/vnd.jupyter.stderr"
# How a widget that failed to render shows up as text (a widget's repr, or jupyterlab_widgets'
# placeholders for a view it could not, or not yet, create).
WIDGET_AS_TEXT = re.compile(r"\b\w*Box\(children=|\bButton\(description=|\bOutput\((layout|outputs)=|"
                            r"Error displaying widget|Loading widget\.\.\.|Could not create a view")
# A Python exception as the kernel shows it: a traceback, or the final "SomeError: message" line
# of a SyntaxError (which has no "Traceback" header) in the error output (stderr mime type).
EXCEPTION_LINE = re.compile(r"^(\w+\.)*\w*(Error|Exception|Interrupt)\b(:|$)", re.M)


def _problems_in_outputs(cells: list[dict], expected_cells: int, explorer_cells: int
                         ) -> tuple[list[str], list[str]]:
    """(problems, notes): exceptions and widgets shown as text are problems; other stderr is a note.

    stdout is never an error: cells print ``NetlabError: ...`` messages on purpose."""
    problems, notes = [], []
    if len(cells) != expected_cells:  # the selectors no longer fit JupyterLab's DOM: check nothing silently
        return [f"found {len(cells)} cells on the page, the notebook has {expected_cells}"], notes
    unnumbered = [c["index"] for c in cells if c["prompt"] and not re.fullmatch(r"\[\d+\]:", c["prompt"])]
    if unnumbered:
        problems.append(f"cells not run (prompt not [n]): {unnumbered}")
    widget_views = 0
    for cell in cells:
        where = f"cell {cell['index']} {cell['prompt']}"
        for out in cell["outputs"]:
            text = out["text"]
            if out["mime"] == STDERR_MIME:
                if "Traceback" in text or EXCEPTION_LINE.search(text):
                    problems.append(f"{where}: exception:\n{text[:1500]}")
                else:
                    notes.append(f"{where}: stderr: {text[:300]!r}")
            elif "Traceback (most recent call last)" in text:
                problems.append(f"{where}: a traceback in the output:\n{text[:1500]}")
            if WIDGET_AS_TEXT.search(text):
                problems.append(f"{where}: a widget shown as text, not drawn: {text[:300]!r}")
            if out["widgets"]:
                widget_views += 1
    if widget_views < explorer_cells:
        problems.append(f"{explorer_cells} cell(s) call nl.explore(...) but only {widget_views} widget "
                        f"view(s) rendered")
    return problems, notes


def _cell_counts(path: Path) -> tuple[int, int, int]:
    """(cells, code cells with code, cells that show an explorer: ``explore(`` on a line that is
    no comment). Read from the served copy: others may edit notebooks/ while the test runs."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    code = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]
    explorers = sum(1 for src in code if re.search(r"^[^#\n]*\bexplore\(", src, re.M))
    return len(nb["cells"]), sum(1 for src in code if src.strip()), explorers


def _widgets_settled_js(expected: int) -> str:
    """At least ``expected`` widget views drawn (they are created asynchronously, after the cell's
    prompt has its number), or a widget already shown as text (no use waiting); and no
    "Loading widget..." placeholder left."""
    return f"""() => {{
      const outs = [...document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) {TOP_OUTPUTS}')];
      const texts = outs.map(o => o.innerText || '');
      const asText = texts.some(t => /Box\\(children=|Error displaying widget|Could not create a view/.test(t));
      return !texts.some(t => t.includes('Loading widget'))
          && (asText || outs.filter(o => o.querySelector('.jupyter-widgets')).length >= {expected});
    }}"""


def _click_add_node(page, problems: list[str], notes: list[str] | None = None) -> None:
    """Click each explorer's "Add node" and wait until its diagram (an inline SVG in an HTML widget) changes."""
    # The button's accessible name starts with its Font Awesome icon, so match the visible text.
    add_node = page.locator("button.widget-button").filter(has_text=re.compile(r"^\s*Add node\s*$"))
    explorers = page.locator(f".jp-NotebookPanel:not(.lm-mod-hidden) {TOP_OUTPUTS}").filter(has=add_node)
    if explorers.count() == 0:
        problems.append('no explorer with an "Add node" button on the page')
        return
    for i in range(explorers.count()):
        explorer = explorers.nth(i)
        drawing = explorer.locator("svg[id^='nl-']").first
        try:
            drawing.wait_for(state="attached", timeout=WIDGET_RENDER_S * 1000)
        except sync_api.TimeoutError:
            problems.append(f"explorer {i}: no diagram in the explorer")
            continue
        before = drawing.get_attribute("id")  # a hash of the drawing: another cluster, another id
        button = explorer.locator(add_node)
        button.scroll_into_view_if_needed()
        clicked = time.monotonic()
        button.click()
        # Wait for a drawing with another id, or for the explorer's message line to turn red
        # (#b2182b: the change was refused, nothing to wait for).
        refused = "span[style*='#b2182b']"
        try:
            page.wait_for_function(
                "([el, before, refused]) => { const svg = el.querySelector(\"svg[id^='nl-']\");"
                " return (!!svg && svg.id !== before) || !!el.querySelector(refused); }",
                arg=[explorer.element_handle(), before, refused], timeout=CLICK_REDRAW_S * 1000, polling=50)
        except sync_api.TimeoutError:
            problems.append(f'explorer {i}: the diagram did not change within {CLICK_REDRAW_S} s '
                            f'after clicking "Add node"')
            continue
        if notes is not None:  # the -s report: click to new drawing in the browser (polled every 50 ms)
            notes.append(f"explorer {i}: Add node -> new drawing on screen in {time.monotonic() - clicked:.2f} s")
        if explorer.locator(refused).count():
            problems.append(f'explorer {i}: "Add node" was refused: '
                            f'{explorer.locator(refused).first.inner_text()!r}')


# Every diagram as the browser lays it out: each text's height on screen, and any two texts whose boxes overlap.
_DIAGRAMS_JS = """() => {
  const out = [];
  for (const svg of document.querySelectorAll(".jp-NotebookPanel:not(.lm-mod-hidden) svg[id^='nl-']")) {
    const shown = svg.getBoundingClientRect().width;
    if (!shown) continue;  // a drawing not laid out (a hidden tab)
    const scale = shown / svg.viewBox.baseVal.width;
    const texts = [...svg.querySelectorAll('text')].filter(t => t.firstChild && t.firstChild.textContent.trim());
    const boxes = texts.map(t => [t.firstChild.textContent, t.getBBox(), parseFloat(t.getAttribute('font-size'))]);
    const small = boxes.filter(([s, b, size]) => size * scale < 11).map(([s, b, size]) => s);
    const overlaps = [];
    for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) {
      const [s1, a] = boxes[i], [s2, b] = boxes[j];
      if (a.x < b.x + b.width - 0.5 && b.x < a.x + a.width - 0.5 && a.y < b.y + b.height - 2 && b.y < a.y + a.height - 2)
        overlaps.push(`${s1} / ${s2}`);
    }
    out.push({id: svg.id, shown: Math.round(shown), scale, small, overlaps});
  }
  return out; }"""


def _diagram_problems(page) -> list[str]:
    """Every diagram shown at its width on this page: no text under 11 px, no two texts overlapping."""
    found = []
    for d in page.evaluate(_DIAGRAMS_JS):
        if d["small"]:
            found.append(f"diagram {d['id']} shown {d['shown']} px wide: texts under 11 px: {d['small'][:3]}")
        if d["overlaps"]:
            found.append(f"diagram {d['id']}: overlapping texts {d['overlaps'][:3]}")
    return found


def _save_artifacts(page, name: str, console: list[str], lab: Lab) -> list[Path]:
    """The whole notebook as screenshot(s) (the page itself never scrolls, the notebook panel
    does: the viewport is made as tall as the notebook, in slices if it is very tall), the
    browser console and the server log."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    stem = Path(name).stem
    saved = []
    log = ARTIFACTS / f"{stem}.console.log"
    log.write_text("\n".join(console) + "\n", encoding="utf-8")
    saved.append(log)
    server_log = ARTIFACTS / f"{stem}.jupyterlab.log"
    server_log.write_text(lab.log_tail(lines=400) + "\n", encoding="utf-8")
    saved.append(server_log)
    try:
        scroller = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-WindowedPanel-outer").first
        total = scroller.evaluate("el => el.scrollHeight")
        visible = scroller.evaluate("el => el.clientHeight")
        chrome = VIEWPORT["height"] - visible  # menus, toolbar, status bar around the notebook
        slice_h = 12_000  # well under Chromium's 16384 px texture limit
        page.set_viewport_size({"width": VIEWPORT["width"], "height": min(total, slice_h) + chrome})
        for part, top in enumerate(range(0, max(total, 1), slice_h), start=1):
            scroller.evaluate("(el, top) => { el.scrollTop = top; }", top)
            page.wait_for_timeout(300)  # let the browser paint the cells it just scrolled to
            shot = ARTIFACTS / (f"{stem}.png" if total <= slice_h else f"{stem}.{part}.png")
            page.screenshot(path=str(shot))
            saved.append(shot)
    except sync_api.Error as exc:  # a crashed page: still try a plain screenshot
        console.append(f"(tall screenshot failed: {exc})")
        try:
            shot = ARTIFACTS / f"{stem}.png"
            page.screenshot(path=str(shot))
            saved.append(shot)
        except sync_api.Error:
            pass
        log.write_text("\n".join(console) + "\n", encoding="utf-8")
    return saved


# --------------------------------------------------------------------------- the test
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs_in_jupyterlab(name, lab, browser):
    stem = Path(name).stem
    for old in ARTIFACTS.glob(f"{stem}.*"):  # no stale evidence from an earlier failing run
        old.unlink()
    cell_count, code_cells, explorer_cells = _cell_counts(lab.root / name)
    times: dict[str, float] = {}
    console = browser.console
    console.clear()
    problems: list[str] = []
    notes: list[str] = []
    started = time.monotonic()
    fresh = browser.fresh
    page = browser.new_page() if fresh else browser.page
    try:
        if fresh:
            # ?reset: a fresh workspace, so only this notebook opens (not the ones opened before).
            page.goto(lab.url(f"/lab/tree/{name}?reset"), timeout=PAGE_LOAD_S * 1000)
        else:
            page.evaluate(_OPEN_JS, name)
        page.locator(".jp-NotebookPanel .jp-Notebook .jp-Cell").first.wait_for(timeout=PAGE_LOAD_S * 1000)
        page.wait_for_function(_KERNEL_READY_JS, timeout=KERNEL_IDLE_S * 1000, polling=100)
        lab.wait_for_connected_kernel(KERNEL_IDLE_S)
        times["open"] = time.monotonic() - started

        t = time.monotonic()
        page.get_by_role("menuitem", name="Run", exact=True).click()
        page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
        try:
            # Fail in seconds, not after RUN_ALL_S, if the click started nothing (a notebook of
            # text alone, like a glossary, has nothing to start).
            if code_cells:
                page.wait_for_function(_RUN_STARTED_JS, timeout=RUN_START_S * 1000, polling=100)
        except sync_api.TimeoutError:
            problems.append(f"Run > Run All Cells started no cell within {RUN_START_S} s")
            raise
        try:
            page.wait_for_function(_RUN_DONE_JS, timeout=RUN_ALL_S * 1000, polling=250)
        except sync_api.TimeoutError:
            state = page.evaluate(_STATE_JS)
            problems.append(f"Run All Cells did not finish within {RUN_ALL_S} s: kernel "
                            f"{state and state['status']}, prompts {state and state['prompts']}")
        times["run"] = time.monotonic() - t

        t = time.monotonic()
        state = page.evaluate(_STATE_JS) or {"errors": 0, "prompts": []}
        # Widget views appear asynchronously after their cell's number: wait for them, unless an
        # exception stopped the run before the explorers (then report at once).
        ran_all = all(re.fullmatch(r"\[\d+\]:", p) for p in state["prompts"])
        if not problems and ran_all and not state["errors"]:
            try:
                page.wait_for_function(_widgets_settled_js(explorer_cells), timeout=WIDGET_RENDER_S * 1000,
                                       polling=250)
            except sync_api.TimeoutError:
                pass  # reported below, cell by cell, from what the page shows now
        found, notes = _problems_in_outputs(page.evaluate(_OUTPUTS_JS), cell_count,
                                            explorer_cells if ran_all else 0)
        problems += found
        # JavaScript errors are not the course's outputs, but worth a line in the -s report.
        notes += [line for line in console if line.startswith(("[error]", "[pageerror]"))]
        notes += [f"image not shown: {img}" for img in page.evaluate(_BROKEN_IMAGES_JS)]
        problems += _diagram_problems(page)
        if not problems and explorer_cells:
            _click_add_node(page, problems, notes)
        times["check"] = time.monotonic() - t
    except (sync_api.Error, RuntimeError, OSError) as exc:  # a timeout, a crashed page or server: keep evidence
        if not problems:
            problems.append(f"{type(exc).__name__}: {exc}")
    finally:
        times["total"] = time.monotonic() - started
        TIMES[name] = times
        print(f"\n{name}: " + ", ".join(f"{k} {v:.1f} s" for k, v in times.items())
              + "".join(f"\n  note: {n}" for n in notes))
    try:
        if problems:
            browser.fresh = True
            saved = _save_artifacts(page, name, console, lab)
            pytest.fail(f"{name} in JupyterLab/Chromium:\n- " + "\n- ".join(problems)
                        + "\nscreenshot, browser console and server log:\n  "
                        + "\n  ".join(str(p) for p in saved), pytrace=False)
    finally:
        _close_notebook(browser)
        lab.shutdown_kernels()


def _close_notebook(browser: Tab) -> None:
    """Close the notebook in the page (the next one opens alone); if that fails, the next loads a fresh page."""
    if browser.fresh:
        return
    try:
        browser.page.evaluate(_CLOSE_ALL_JS)
        browser.page.wait_for_function("() => !document.querySelector('.jp-NotebookPanel')",
                                       timeout=PAGE_LOAD_S * 1000, polling=100)
    except sync_api.Error:
        browser.fresh = True
