"""Feedback pages and quiz summaries a student would rather read: a summary table first, then the
notebook rendered (markdown, math as MathML made here, no CDN; highlighted code), each test cell's
verdict beside it; never a hidden test, a traceback, or HTML a student's code printed. The browser
test opens a feedback page and a summary page in headless Chromium and checks the math is typeset
(MathML elements laid out with a size), with no request leaving the page.

Pages that cannot run anything a student wrote: each attack of tests/pages.py (issue 20: HTML in
\\text{...}, a PNG whose data closes its attribute, unescaped text/latex, \\href{javascript:...},
a \\style overlay, the renderer's own placeholder, and every other MIME type) leaves nothing active
on the page; every page the project writes carries the Content-Security-Policy; a notebook that
cannot be rendered costs only its own page. tests/test_browser.py shows the same in Chromium."""

import copy
import glob
import json
import re
from pathlib import Path

import nbformat
import pages
import pytest

from autograde import cells
from autograde import notebook_html as nh
from autograde.build import samples
from autograde.build.release import release_notebook
from autograde.config import ROOT, Course
from autograde.results import class_report, feedback

SHOTS = ROOT / ".grading" / "screenshots"


def lora_page(tmp_path: Path | None = None) -> str:
    """The LoRA notebook as a partly wrong student's, with a result as the grader writes it."""
    course = Course()
    source = nbformat.read(course.source("lora"), as_version=4)
    release = release_notebook(source)
    graded = copy.deepcopy(source)                      # executed notebooks keep hidden tests
    student = samples.correct(source, release)
    answers = {cells.grade_id(c): c.source for c in student.cells if cells.is_solution(c)}
    for cell in graded.cells:
        if cells.is_solution(cell):
            cell.source = answers[cells.grade_id(cell)]
    code = [c for c in graded.cells if c.cell_type == "code" and not cells.is_test(c)]
    code[-1].outputs = [
        nbformat.v4.new_output("error", ename="ValueError", evalue="shapes differ",
                               traceback=["Traceback (most recent call last)", "  File secret.py"]),
        nbformat.v4.new_output("display_data", data={"text/html": "<script>alert(1)</script>",
                                                     "text/plain": "<b>printed by the student</b>"})]
    tests = [c for c in source.cells if cells.is_test(c)]
    result = {"student": "12400", "assignment": "lora", "score": 4.5, "max_score": 8.0,
              "problems": [], "tampering": [], "needs_look": [],
              "tests": [{"id": cells.grade_id(t), "points": cells.points(t),
                         "score": cells.points(t), "passed": 4, "total": 4, "lines": [],
                         "mistakes": []} for t in tests]}
    result["tests"][0].update(score=1.5, passed=2, lines=[
        "hidden test lora.forward: 2/4 checks passed",
        "  output['y'] differs: max |diff| 0.3 (atol 1e-05) -- the update is scaled by alpha / r",
        "  looks like a known mistake: your update is scaled by alpha, not alpha / r"],
        mistakes=["scale_alpha"])
    result["tests"][-1].update(score=None, manual=True)
    page = feedback.feedback_page(result, graded, release, {cells.grade_id(tests[1]): {"manual": 1.0}},
                           {"name": "smithjane", "lms": "canvas", "late": True})
    if tmp_path is not None:
        (tmp_path / "feedback.html").write_text(page)
    return page


def test_summary_first_then_the_rendered_notebook_with_verdicts_beside_the_tests():
    page = lora_page()
    summary, notebook = page.split("<h2>Your notebook</h2>")
    assert '<table class="summary">' in summary
    assert '<th scope="col">what went wrong</th><th scope="col">where</th>' in summary
    first = re.search(r'<tr class="part">.*?</tr>', summary, re.S).group(0)
    assert "1.50 / 3" in first and "looks like a known mistake: your update is scaled by alpha" in first
    assert "your cell 'lora_linear'" in first and 'href="#cell-test_lora_linear"' in first
    assert "set by your instructor" in summary and "pending" in summary
    merge = re.search(r'<tr[^>]*><td><a href="#cell-test_lora_merge".*?</tr>', summary, re.S)[0]
    assert "your cell 'lora_linear'" in merge              # a second test of the same exercise
    assert "smithjane (12400)" in page and "Handed in late (canvas says so)" in page
    assert notebook.count("<math") > 20                           # the notebook's formulas
    assert 'class="verdict part"' in notebook and 'id="cell-test_lora_linear"' in notebook
    assert "<span class=\"k\">class</span>" in notebook           # highlighted code
    assert "$" not in re.sub(r"<pre.*?</pre>|<code.*?</code>", "", notebook, flags=re.S)


def test_no_hidden_test_no_traceback_no_student_html():
    page = lora_page()
    assert "BEGIN HIDDEN TESTS" not in page and "hidden_check(" not in page
    assert "Traceback" not in page and "secret.py" not in page
    assert "ValueError: shapes differ" in page
    assert "<script>" not in page and "&lt;b&gt;printed by the student&lt;/b&gt;" in page
    assert "cdn" not in page.lower() and "<script" not in page
    assert not re.search(r"https?:", page.split("<body>")[0])       # nothing loads from anywhere


def test_every_formula_of_every_notebook_becomes_mathml():
    errors, count = nh.MathErrors(), 0
    for path in sorted(glob.glob(str(ROOT / "solutions" / "*" / "*.ipynb"))):
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type == "markdown":
                out = nh.markdown(cell.source, errors=errors)
                count += out.count("<math")
                stray = re.sub(r"<pre.*?</pre>|<code.*?</code>", "", out, flags=re.S)
                assert "$" not in stray, (path, cell.source[:200])
    assert count > 400 and list(errors) == []


def test_markdown_keeps_code_spans_and_escaped_dollars():
    out = nh.markdown("costs `$x$` and \\$5; $\\alpha / r$ scales $$\\Delta W = B A$$")
    assert "<code>$x$</code>" in out and "$5" in out
    assert out.count("<math") == 2 and 'display="block"' in out


@pytest.mark.browser
@pytest.mark.slow
def test_math_is_typeset_in_a_browser_on_a_feedback_page_and_a_summary_page(tmp_path):
    from test_browser import CHROMIUM_FLAGS, find_or_install_chromium
    sync_api = pytest.importorskip("playwright.sync_api")
    browser, why = find_or_install_chromium()
    if browser is None:
        pytest.skip(why)
    from autograde.build import summary
    lora_page(tmp_path)
    [summary_page, *_] = summary.build(tmp_path / "summary")
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=browser, headless=True, args=CHROMIUM_FLAGS)
        page = b.new_page(viewport={"width": 1300, "height": 1000})
        requests = []
        page.on("request", lambda r: requests.append(r.url))
        for name, path in (("feedback", tmp_path / "feedback.html"), ("summary", summary_page)):
            page.goto(path.as_uri())
            sizes = page.eval_on_selector_all(
                "math", "els => els.map(e => [e.getBoundingClientRect().width, "
                        "e.getBoundingClientRect().height, e.namespaceURI])")
            assert len(sizes) > 5, name
            assert all(w > 0 and h > 0 and ns == "http://www.w3.org/1998/Math/MathML"
                       for w, h, ns in sizes), (name, sizes[:5])
            # laid out as mathematics: a fraction stacks its numerator over its denominator, so
            # it is taller than its numerator (as plain inline text it would be as tall)
            ratios = page.eval_on_selector_all("math mfrac", "els => els.map(e => "
                                               "e.getBoundingClientRect().height / "
                                               "e.firstElementChild.getBoundingClientRect().height)")
            assert ratios and max(ratios) > 1.6, (name, ratios[:5])
            page.screenshot(path=str(SHOTS / f"{name}_page.png"), full_page=False)
            first_math = page.locator("math").first
            first_math.scroll_into_view_if_needed()
            page.screenshot(path=str(SHOTS / f"{name}_math.png"))
        b.close()
    assert all(u.startswith(("file:", "data:")) for u in requests), requests


# ----------------------------------------------------------------------------- hostile students
def one_attack(name: str) -> str:
    """A feedback page whose notebook is the release with one attack cell added."""
    source = nbformat.read(Course().source("lora"), as_version=4)
    release = release_notebook(source)
    nb = copy.deepcopy(release)
    nb.cells.append(pages.attacks()[name])
    return feedback.feedback_page(pages.graded_result("hostile", source), nb, release, {},
                           {"name": pages.HOSTILE_NAME, "lms": pages.HOSTILE_NAME})


@pytest.mark.parametrize("attack", sorted(pages.attacks()))
def test_no_attack_leaves_anything_active_on_the_page(attack):
    page = one_attack(attack)
    assert pages.audit(page) == []
    assert pages.policy(page).startswith("default-src 'none'; style-src 'sha256-")


def test_what_the_attacks_become():
    text_math = one_attack("img_in_text_math")           # the student's text, shown as text
    assert "<mtext>&lt;img/src='x'/onerror='void(document.title=/PWNED/.source)'&gt;</mtext>" in text_math
    href = one_attack("href_math").replace("&nbsp;", " ")  # the formula stays, the link goes
    assert "click to see your grade" in href and "javascript" not in href
    overlay = one_attack("style_overlay_math").replace("&nbsp;", " ")
    assert "Score: 8.00 / 8" in overlay and "position:fixed" not in overlay
    png = one_attack("png_closes_src")                     # not an image: not shown as one
    assert "iVBORw0KGgo=" not in png and "<pre class=\"out\">&lt;Figure&gt;</pre>" in png
    placeholder = one_attack("placeholder")                # plain text, next to a real formula
    assert "MATHPLACEHOLDER0X and MATHPLACEHOLDER7X, \ufffd0\ufffd and <math" in placeholder
    js = one_attack("javascript_output")
    assert "<pre class=\"out\">js</pre>" in js
    name = one_attack("error_and_stream")
    assert "feedback for &lt;img/src='x'/onerror=" in name


def test_a_notebook_that_cannot_be_rendered_costs_only_its_own_page(tmp_path, capsys):
    course = pages.demo_class(tmp_path / "work")
    graded = course.work / "runs" / "lora" / "partly_wrong" / "graded.ipynb"
    graded.write_text(graded.read_text()[:5000])          # cut short, as a full disk leaves it
    results = [json.loads((course.work / "results" / "lora" / f"{s}.json").read_text())
               for s in ("correct", "partly_wrong", "untouched")]
    first, broken, last = (p.read_text() for p in feedback.write_all(course, results, tmp_path / "fb"))
    assert "<math" in first and "<math" in last                  # full pages on either side
    assert "Score: " in broken and "what went wrong" in broken and "could not be shown" in broken
    assert pages.audit(broken) == [] and pages.policy(broken)
    assert "partly_wrong/lora: the notebook could not be rendered" in capsys.readouterr().err


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    return tmp_path_factory.mktemp("pages")


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(pages.PAGES))
def test_every_page_has_lang_the_policy_and_nothing_active(written, name):
    (written / name).mkdir()
    page = pages.PAGES[name](written / name).read_text()
    assert page.startswith("<!doctype html><html lang='en'><head><meta charset='utf-8'>")
    assert pages.policy(page) == ("default-src 'none'; style-src " + pages.policy(page).split(
        "style-src ")[1]) and "script-src" not in page and "'unsafe-inline'" not in page
    assert pages.audit(page) == []


def test_the_report_lists_tampering_and_shows_it_under_needs_a_look(tmp_path):
    page = class_report.write(pages.demo_class(tmp_path / "work"), tmp_path / "report.html").read_text()
    tampering = re.search(r"<h3>Tampering refused by the grader \(1\)</h3><ul>(.*?)</ul>", page)[1]
    look = re.search(r"<h3>Needs a look \(2\)</h3><ul>(.*?)</ul>", page)[1]
    note = "records/&lt;img/src='x'/onerror='void(document.title=/PWNED/.source)'&gt;.pt: a symbolic link"
    assert "<b>hostile</b>" in tampering and note in tampering and note in look
    assert "<b>infinite_loop</b>: your cell 'lora_linear' ran past its time limit" in look
    alts = re.findall(r'<img alt="([^"]+)" src="data:image/png;base64,', page)
    assert alts[0].startswith("Histogram of the scores of 5 submissions, from 0 to 8 points: median")
    assert "test_lora_linear 40% (2 of 5)" in alts[1] and "scale_alpha: 1 submission" in alts[2]
    assert pages.audit(page) == [] and pages.policy(page) and "<html lang='en'>" in page
