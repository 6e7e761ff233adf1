"""The package as a person uses it: JupyterLab in a real headless Chromium; nbgrader's formgrader.

A JupyterLab server is started on 127.0.0.1 (a free port, a random token) with the Python that runs
the tests; Chromium is driven through Playwright (no browser download: Debian's `chromium`, found on
PATH or installed here with apt-get when we are root). The test opens a notebook made of the LoRA
student notebook's own cells (environment cell, setup cell, a completed LoRALinear, its visible
check, the lora_parameter_count exercise, the rank plot + slider cell), then, like a student:

* types the answer of the `lora_count` exercise into its cell and runs all cells from the Run menu;
* checks the environment report ("Environment OK."), the visible checks' "✓" lines, the matplotlib
  figure (an <img> that decoded), and that the ipywidgets slider reacts when moved with the keyboard
  (the text next to it changes from r = 4 to r = 8, which needs the kernel round trip);
* opens /formgrader as the instructor and checks the assignment list shows the course's assignment.

And as a hostile student would attack the instructor and classmates (issue 20; the attacks are in
tests/pages.py, each sets the page title to PWNED if it runs):

* every page the project writes for a class with a hostile student (feedback pages, the class
  report, the quiz summaries) is opened as written and again with its Content-Security-Policy
  switched off (so the sanitizer alone must hold): no script runs, no dialog opens, no element
  carries a handler or a javascript: link, nothing is drawn over the page; the same notebook
  rendered by nbconvert's stock HTML exporter does run the payloads (the control);
* the similar-submissions page shows a hostile pair's copied code (a comment and a string that close
  the code box and open an image with a handler), written answer (a script) and an archived file
  named as an image with a handler, side by side and as text, with its policy on and off: none of
  it runs; the same bytes written raw into a page do run (the control);
* the formgrader, run with the repository's nbgrader_config.py, shows the hostile submission that
  `grade` recorded (autograde.results.gradebook.record, which writes autograded/ through
  autograde.results.nbgrader_dirs.inert): no script runs; the same submission's notebook copied there
  as the student left it does run one (the control); a .html file handed in beside the notebook is
  served only as text.

Screenshots go to .grading/screenshots/ (gitignored), with the server's log (lab.log). Runs in about
a minute; marked `browser` and `slow` (`make test-browser` runs only this file).
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import nbformat
import pages
import pytest

from autograde.build import samples
from autograde.config import ROOT, Course
from autograde.results import gradebook

SHOTS = ROOT / ".grading" / "screenshots"
BROWSER_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--disable-dev-shm-usage"]
TIMEOUT_MS = 90_000          # one wait in the page (kernel start + running every cell)
LORA_COUNT_ANSWER = ("def lora_parameter_count(d, k, r, n_matrices, n_layers):\n"
                     "return n_layers * n_matrices * r * (d + k)")   # the editor indents line 2

pytestmark = [pytest.mark.browser, pytest.mark.slow]


# ----------------------------------------------------------------------------- the browser
def find_or_install_chromium() -> tuple[str | None, str]:
    """(path to a Chromium, '') or (None, why not). COURSE_BROWSER=/path overrides the search."""
    explicit = os.environ.get("COURSE_BROWSER")
    if explicit:
        return (explicit, "") if Path(explicit).exists() else (None, f"COURSE_BROWSER={explicit} "
                                                                      "does not exist")
    for name in BROWSER_NAMES:
        if shutil.which(name):
            return shutil.which(name), ""
    if not shutil.which("apt-get"):
        return None, "no Chromium on PATH and no apt-get to install one (install chromium)"
    if hasattr(os, "geteuid") and os.geteuid() != 0:
        return None, "no Chromium on PATH; `apt-get install -y chromium` needs root"
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    install = ["apt-get", "install", "-y", "-qq", "chromium"]
    if subprocess.run(install, env=env, capture_output=True).returncode != 0:
        subprocess.run(["apt-get", "update", "-qq"], env=env, capture_output=True)
        done = subprocess.run(install, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            return None, f"apt-get install chromium failed: {done.stderr.strip()[-300:]}"
    path = shutil.which("chromium")
    return (path, "") if path else (None, "apt-get installed chromium but it is not on PATH")


# ----------------------------------------------------------------------------- the notebook
def _code(cells, pred):
    return next(c for c in cells if c.cell_type == "code" and pred(c))


def _grade_id(cell):
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def browser_notebook() -> nbformat.NotebookNode:
    """The LoRA student notebook's own cells: no training, so it runs in seconds in the browser."""
    release = nbformat.read(ROOT / "notebooks" / "lora" / "lora.ipynb", as_version=4).cells
    solution = nbformat.read(ROOT / "solutions" / "lora" / "lora.ipynb", as_version=4).cells
    answer = _code(solution, lambda c: _grade_id(c) == "lora_linear").source
    answer = re.sub(r"^\s*### (BEGIN|END) SOLUTION\n", "", answer, flags=re.M)
    lora_linear = _code(release, lambda c: _grade_id(c) == "lora_linear")
    lora_linear.source = answer                                 # a student's completed exercise 1
    demo_values = nbformat.v4.new_code_cell(
        "# Illustrative results (the browser test trains nothing): rank -> (accuracy, trainable)\n"
        "RANKS = [1, 2, 4, 8, 16]\n"
        "results = {r: (0.80 + 0.02 * i, 1024 * r + 260) for i, r in enumerate(RANKS)}\n"
        "full_acc, full_trainable = 0.92, 210_000")
    cells = [
        nbformat.v4.new_markdown_cell("# Browser check: cells of the LoRA notebook"),
        release[next(i for i, c in enumerate(release) if c.cell_type == "code")],  # environment
        _code(release, lambda c: "setup" in c.metadata.get("tags", [])),
        lora_linear,
        _code(release, lambda c: _grade_id(c) == "test_lora_linear"),
        _code(release, lambda c: _grade_id(c) == "test_lora_merge"),
        _code(release, lambda c: _grade_id(c) == "lora_count"),       # the stub: typed below
        _code(release, lambda c: _grade_id(c) == "test_lora_count"),
        demo_values,
        _code(release, lambda c: "widgets.rank_slider(" in c.source),  # the plot + slider cell
    ]
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata = nbformat.read(ROOT / "notebooks" / "lora" / "lora.ipynb", as_version=4).metadata
    return nb


def write_course(root: Path) -> None:
    """The server's folder: the notebook above, and an nbgrader course with the LoRA assignment,
    configured by the repository's own nbgrader_config.py, with the hostile submissions."""
    nbformat.write(browser_notebook(), root / "browser_check.ipynb")
    (root / "solutions" / "lora").mkdir(parents=True)
    shutil.copy(ROOT / "solutions" / "lora" / "lora.ipynb", root / "solutions" / "lora" / "lora.ipynb")
    (root / "exchange").mkdir()
    (root / "nbgrader_config.py").write_text((ROOT / "nbgrader_config.py").read_text()
                                             + f"\nc.Exchange.root = {str(root / 'exchange')!r}\n")
    hostile_submissions(root)


def hostile_submissions(root: Path) -> None:
    """Two graded submissions of the hostile notebook: `hostile` recorded as `grade` records it
    (autograded/ written by write_autograded), `as_handed_in` the control, its autograded notebook
    the executed notebook as the student left it. The hostile one handed in notes.html beside it."""
    course = Course(solutions=root / "solutions", notebooks=root / "notebooks", work=root / ".grading")
    source = nbformat.read(course.source("lora"), as_version=4)
    correct = samples.demo_samples(source, "lora", Course())["correct"]
    graded = pages.executed(source, pages.hostile_notebook(correct))
    results = []
    for student in ("hostile", "as_handed_in"):
        run = course.work / "runs" / "lora" / student
        run.mkdir(parents=True)
        nbformat.write(graded, run / "graded.ipynb")
        submitted = root / "submitted" / student / "lora"
        submitted.mkdir(parents=True)
        (submitted / "timestamp.txt").write_text("2026-01-05 10:00:00.000000 UTC")
        results.append(dict(pages.graded_result("hostile", source), student=student))
    (root / "submitted" / "hostile" / "lora" / "notes.html").write_text(f"<script>{pages.JS}</script>")
    gradebook.record(course, results)
    nbformat.write(graded, root / "autograded" / "as_handed_in" / "lora" / "lora.ipynb")


def submission_id(root: Path, student: str) -> str:
    course = Course(solutions=root / "solutions", work=root / ".grading")
    with gradebook.open_gradebook(course.gradebook_url, course) as gb:
        return gb.find_submission_notebook("lora", "lora", student).id


def lab_settings(folder: Path) -> None:
    """User settings: no news pop-up over the page, every cell kept in the DOM (no windowing)."""
    files = {"apputils-extension/notification": '{"fetchNews": "false", "checkForUpdates": false}',
             "notebook-extension/tracker": '{"windowingMode": "none"}'}
    for name, text in files.items():
        path = folder / "@jupyterlab" / f"{name}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


# ----------------------------------------------------------------------------- the server
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def chromium():
    """Playwright's sync API and the browser's path; the reason to skip when there is none."""
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="the Python package playwright is not installed "
                                      "(pip install playwright; no browser download needed)")
    path, why = find_or_install_chromium()
    if path is None:
        pytest.skip(f"no browser can be had: {why}")
    return sync_api, path


@pytest.fixture(scope="module")
def lab(chromium, tmp_path_factory):
    """A JupyterLab server on 127.0.0.1 (a free port, a token), started with this Python."""
    tmp = tmp_path_factory.mktemp("lab")
    root, settings = tmp / "course", tmp / "settings"
    root.mkdir()
    write_course(root)
    lab_settings(settings)
    SHOTS.mkdir(parents=True, exist_ok=True)
    port, token = free_port(), secrets.token_hex(16)
    env = {k: v for k, v in os.environ.items() if not k.startswith("COURSE_")}   # the course's own gradebook
    env.update(JUPYTER_CONFIG_DIR=str(tmp / "config"), JUPYTER_DATA_DIR=str(tmp / "data"),
               JUPYTER_RUNTIME_DIR=str(tmp / "runtime"), IPYTHONDIR=str(tmp / "ipython"),
               PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])),
               # nbgrader runs the `alembic` command (gradebook) from PATH: the venv's bin first
               PATH=os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]))
    log = open(SHOTS / "lab.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--allow-root",
         "--ip=127.0.0.1", f"--port={port}", "--ServerApp.port_retries=0",
         f"--ServerApp.root_dir={root}", f"--IdentityProvider.token={token}",
         f"--LabApp.user_settings_dir={settings}", f"--LabApp.workspaces_dir={tmp / 'ws'}"],
        cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=5)
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"JupyterLab did not start; see {SHOTS / 'lab.log'}")
                time.sleep(0.3)
        yield {"base": base, "token": token, "root": root}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.fixture(scope="module")
def playwright(chromium):
    """Playwright's one driver of this module (its sync API cannot be started twice at once)."""
    with chromium[0].sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def page(chromium, playwright, lab, tmp_path_factory):
    """A fresh headless Chromium (a new profile) driven by Playwright."""
    ctx = playwright.chromium.launch_persistent_context(
        str(tmp_path_factory.mktemp("profile")), executable_path=chromium[1], headless=True,
        args=CHROMIUM_FLAGS, viewport={"width": 1400, "height": 1000})
    ctx.set_default_timeout(TIMEOUT_MS)
    yield ctx.new_page()
    ctx.close()


def shot(target, name: str) -> Path:
    path = SHOTS / f"{name}.png"
    target.screenshot(path=str(path))
    return path


@contextlib.contextmanager
def shot_on_failure(page, name: str):
    """A failing step leaves FAILED_<name>.png: what the page showed when the test gave up."""
    try:
        yield
    except BaseException:
        try:
            shot(page, f"FAILED_{name}")
        except Exception:  # the browser itself is gone: nothing to show
            pass
        raise


# ----------------------------------------------------------------------------- the tests
def test_student_notebook_runs_and_renders_in_jupyterlab(lab, page):
    with shot_on_failure(page, "notebook"):
        student_session(lab, page)


def test_formgrader_loads_for_the_instructor(lab, page):
    with shot_on_failure(page, "formgrader"):
        page.goto(f"{lab['base']}/formgrader?token={lab['token']}")
        page.get_by_text("Manage Assignments").first.wait_for()
        page.locator("table").get_by_text("lora", exact=True).first.wait_for()  # the assignment
        shot(page, "07_formgrader")


def student_session(lab, page):
    """What a student does: open the notebook, type an answer, Run All, look, move the slider."""
    page.goto(f"{lab['base']}/lab/tree/browser_check.ipynb?token={lab['token']}")
    page.wait_for_selector(".jp-Notebook .jp-Cell")
    page.get_by_text(re.compile(r"Python 3 \(ipykernel\) \| Idle")).wait_for()  # kernel ready
    cells = page.locator(".jp-Notebook .jp-Cell")
    env_cell, check_cell, merge_cell, count_cell, count_test, plot_cell = (
        cells.nth(i) for i in (1, 4, 5, 6, 7, 9))

    # The student types the lora_count answer into the exercise cell (replacing the stub).
    count_cell.locator(".cm-content").click()
    page.keyboard.press("Control+A")
    page.keyboard.type(LORA_COUNT_ANSWER)
    assert "return n_layers * n_matrices" in count_cell.locator(".cm-content").inner_text()
    shot(count_cell, "02_exercise_typed")

    # Run > Run All Cells, as in the menu bar.
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()

    slider = plot_cell.locator(".widget-slider .noUi-handle")
    slider.wait_for()                                       # the last cell displays its widget
    plot_cell.locator(".jp-OutputArea-output img").first.wait_for()   # ... and then its figure
    page.wait_for_function("""() => [...document.querySelectorAll('.jp-Notebook .jp-InputPrompt')]
        .every(p => !p.innerText.includes('*'))""")         # no cell still running: no [*]
    stderr = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
    for text in stderr.all_inner_texts():                   # exceptions render as stderr
        assert "Traceback" not in text and "Error" not in text, f"a cell failed: {text[:2000]}"

    env_text = env_cell.locator(".jp-OutputArea").inner_text()
    assert "Environment OK." in env_text and "FAIL" not in env_text, env_text
    shot(env_cell, "01_environment_check")

    check_text = check_cell.locator(".jp-OutputArea").inner_text()
    assert check_text.count("\u2713") >= 3, check_text               # one ✓ per property
    assert "\u2713" in merge_cell.locator(".jp-OutputArea").inner_text()
    assert "\u2713 RoBERTa-base" in count_test.locator(".jp-OutputArea").inner_text()
    shot(check_cell, "03_visible_check")
    shot(count_test, "04_typed_exercise_check")

    img = plot_cell.locator(".jp-OutputArea-output img").first
    assert img.get_attribute("src").startswith("data:image/png")
    assert img.evaluate("i => i.complete && i.naturalWidth > 300 && i.naturalHeight > 100")

    readout = plot_cell.locator(".widget-html-content")
    assert "r = 4" in readout.inner_text(), readout.inner_text()      # the middle rank
    plot_cell.scroll_into_view_if_needed()
    shot(plot_cell, "05_figure_and_slider_before")
    slider.focus()
    page.keyboard.press("ArrowRight")                                 # moved with the keyboard
    page.wait_for_function(
        "el => el.innerText.includes('r = 8')", arg=readout.element_handle(), timeout=30_000)
    assert "8,452 trainable" in readout.inner_text()                 # results[8] from the kernel
    shot(plot_cell, "06_slider_after_move")
    shot(page, "00_jupyterlab_page")



# ----------------------------------------------------------------------------- hostile students
# In the page, what could have run or covered something: handlers, javascript: links, active
# elements, anything drawn fixed over the page (within `scope`, the student's part of the page).
ACTIVE_IN_PAGE = """scope => {
  const found = [];
  for (const e of document.querySelector(scope).querySelectorAll('*')) {
    for (const a of e.attributes) {
      if (a.name.startsWith('on')) found.push(`${e.localName} ${a.name}`);
      if (/^\\s*(javascript|vbscript):/i.test(a.value)) found.push(`${e.localName} ${a.name}=${a.value}`);
    }
    if (['script', 'iframe', 'object', 'embed', 'svg'].includes(e.localName)) found.push(e.localName);
    if (getComputedStyle(e).position === 'fixed') found.push(`${e.localName} position:fixed`);
  }
  return found;
}"""


def visit(page, url: str, scope: str) -> dict:
    """Open url, let every image fail to load and every link that stays on the page be clicked;
    what ran and what is there."""
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(url)
    page.wait_for_load_state("load")
    page.wait_for_timeout(500)                      # failed images fire their onerror after load
    found = page.evaluate(ACTIVE_IN_PAGE, scope)
    page.evaluate("""scope => document.querySelectorAll(scope + ' a[href]').forEach(a => {
        if (/^\\s*(#|[a-z]+script:)/i.test(a.getAttribute('href'))) a.click(); })""", scope)
    page.wait_for_timeout(200)
    return {"title": page.title(), "dialogs": dialogs, "active": found}


@pytest.fixture(scope="module")
def written_pages(tmp_path_factory) -> dict:
    """Every page of tests/pages.py, and the hostile notebook as nbconvert's stock exporter renders it."""
    from nbconvert import HTMLExporter
    root = tmp_path_factory.mktemp("pages")
    out = {}
    for name, build in pages.PAGES.items():
        (root / name).mkdir()
        out[name] = build(root / name)
    graded = nbformat.read(root / "work" / "runs" / "lora" / "hostile" / "graded.ipynb", as_version=4)
    stock, _ = HTMLExporter(template_name="classic").from_notebook_node(graded)
    out["control"] = root / "stock_nbconvert.html"
    out["control"].write_text(stock)
    return out


def test_no_script_runs_in_any_page_of_a_hostile_class(chromium, playwright, written_pages):
    seen = {}
    browser = playwright.chromium.launch(executable_path=chromium[1], headless=True, args=CHROMIUM_FLAGS)
    for csp in ("as written", "policy off"):
        context = browser.new_context(bypass_csp=csp == "policy off")
        for name, path in written_pages.items():
            seen[name, csp] = visit(context.new_page(), path.as_uri(), "body")
        context.close()
    browser.close()
    control = seen["control", "as written"]
    assert control["title"] == "PWNED" and control["active"], control   # the payloads are live
    for (name, csp), got in seen.items():
        if name != "control":
            assert got == {"title": got["title"], "dialogs": [], "active": []}, (name, csp, got)
            assert got["title"] != "PWNED", (name, csp)


def test_the_similarity_page_shows_a_hostile_pair_side_by_side_as_text_and_runs_none_of_it(
        chromium, playwright, written_pages, tmp_path):
    raw = tmp_path / "raw.html"                    # the control: the same bytes, not escaped
    raw.write_text(f"<!doctype html><title>raw</title><pre>{pages.HOSTILE_CODE}</pre>"
                   f"<div>{pages.HOSTILE_TEXT}</div><h4>{pages.HOSTILE_FILE}</h4>")
    browser = playwright.chromium.launch(executable_path=chromium[1], headless=True, args=CHROMIUM_FLAGS)
    for csp in ("as written", "policy off"):
        context = browser.new_context(bypass_csp=csp == "policy off", viewport={"width": 1300, "height": 900})
        page = context.new_page()
        got = visit(page, written_pages["similarity_practice_quiz"].as_uri(), "body")
        assert got == {"title": "Similar submissions: practice_quiz", "dialogs": [], "active": []}, (csp, got)
        pair = page.locator("section.pair", has=page.get_by_role("heading", name="mal and mia"))
        sides = pair.locator(".side")
        assert sides.count() == 2                                     # the code and the written answer
        shown = " ".join(sides.all_inner_texts())
        for line in pages.HOSTILE_CODE.splitlines()[::4] + [pages.HOSTILE_TEXT[:80]]:
            assert line in shown, (csp, line)                         # there, as text
        assert "archive: " + pages.HOSTILE_FILE in page.inner_text("body")
        left, right = (box.bounding_box() for box in sides.first.locator(":scope > div").all())
        assert right["x"] >= left["x"] + left["width"] and abs(right["y"] - left["y"]) < 1   # side by side
        context.close()
    control = visit(browser.new_page(), raw.as_uri(), "body")
    browser.close()
    assert control["title"] == "PWNED", control                       # the payloads are live


def test_no_script_runs_in_the_formgrader_view_of_a_hostile_submission(lab, page):
    root, base, token = lab["root"], lab["base"], lab["token"]
    url = f"{base}/formgrader/submissions/{{}}/?token={token}"
    with shot_on_failure(page, "formgrader_hostile"):
        handed_in = visit(page, url.format(submission_id(root, "as_handed_in")), "#notebook-container")
        assert handed_in["title"] == "PWNED"                  # the control: the payloads are live
        graded = visit(page, url.format(submission_id(root, "hostile")), "#notebook-container")
        page.get_by_text("an answer cell with a forged grade id").first.wait_for()
        shot(page, "08_formgrader_hostile_submission")
    assert graded == {"title": "lora", "dialogs": [], "active": []}, graded
    files = f"{base}/formgrader/submissions/{submission_id(root, 'hostile')}"
    with pytest.raises(urllib.error.HTTPError):                # never served as a page ...
        urllib.request.urlopen(f"{files}/notes.html?token={token}", timeout=10)
    served = urllib.request.urlopen(f"{files}/notes.html.txt?token={token}", timeout=10)
    assert served.headers["Content-Type"].startswith("text/plain")   # ... only as its text
