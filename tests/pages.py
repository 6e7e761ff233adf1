"""Every HTML page the project writes, built the way the commands build them, for the browser tests:
tests/test_browser.py (no script a student wrote runs in any of them, nor in the formgrader),
tests/test_accessibility.py (axe-core finds no WCAG 2.1 A/AA violation in any of them) and
tests/test_feedback.py (each page's markup: lang, the policy, nothing active).

The demo class is the LoRA assignment's sample submissions (autograde/samples.py: correct,
untouched, partly wrong, infinite loop) and a hostile one, each as the executed notebook and the
result the grader leaves for it (scores and verdict lines as the grader writes them; nothing is
executed here), written where `python -m autograde feedback` and `report` read them. The hostile
student's notebook holds one attack a cell: every way a student's text, output, name or file name
was seen to reach a page (issue 20), each of which sets the page title to PWNED if it runs.

The class integrity report's page (`python -m autograde similarity`) is built twice, each in a work
folder of its own: on the MoE calibration corpus of tests/fixtures/similarity (four disguised copies
side by side), and on the practice quiz's corpus with a hostile pair added whose copied code and
written answer carry the attacks a code box and a text block invite (closing the `<pre>` and
opening an image with a handler, a script), matched also in an archived file whose name is one.

`PAGES` names each page and how to build it in a folder of its own (the folders of one run share a
parent, where the demo class and the summaries are written once): one more page is one more line.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import io
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import corpus
import nbformat

from autograde import cells
from autograde.build import samples
from autograde.build.release import release_notebook
from autograde.config import ROOT, Course
from autograde.results import class_report, feedback, similarity, similarity_page

JS = "void(document.title=/PWNED/.source)"     # what every payload does if it runs (no quotes)
IMG = f"<img/src='x'/onerror='{JS}'>"           # no space: latex2mathml turns spaces into &#xA0;
STUDENTS = ("correct", "untouched", "partly_wrong", "infinite_loop", "hostile")


def figure_png() -> str:
    """A real matplotlib figure, base64 as a notebook stores it."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.plot([1, 2, 4, 8], [0.80, 0.82, 0.84, 0.86], marker="o")
    ax.set(xlabel="rank r", ylabel="accuracy")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=60)
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def display(data: dict, metadata: dict | None = None) -> nbformat.NotebookNode:
    return nbformat.v4.new_output("display_data", data=data, metadata=metadata or {})


# ----------------------------------------------------------------------------- the attacks
def attacks() -> dict[str, nbformat.NotebookNode]:
    """{name: a cell of the hostile notebook}, each carrying one attack."""
    code = lambda *outs: nbformat.v4.new_code_cell("show()", outputs=list(outs))
    md = nbformat.v4.new_markdown_cell
    svg = f"<svg xmlns='http://www.w3.org/2000/svg' onload='{JS}'><script>{JS}</script></svg>"
    widget = {"model_id": "w1", "version_major": 2, "version_minor": 0}
    return {
        # math: HTML inside \text{...} (latex2mathml kept it as markup), links and CSS on MathML
        "img_in_text_math": md(f"My answer: $\\text{{{IMG}}}$"),
        "href_math": md(f"$\\href{{javascript:{JS}}}{{\\text{{click to see your grade}}}}$"),
        "style_overlay_math": md("$\\style{position:fixed;top:0;left:0;width:100%;height:100%;"
                                 "background:white;z-index:99}{\\text{Score: 8.00 / 8}}$"),
        # the renderer's old math placeholder (IndexError: no page for anyone after), and ours
        "placeholder": md("MATHPLACEHOLDER0X and MATHPLACEHOLDER7X, \ue0000\ue001 and $x$"),
        # raw HTML and links in markdown
        "raw_html_markdown": md(f"{IMG}<script>{JS}</script>"
                                f"<iframe srcdoc='<script>parent.{JS}</script>'></iframe>"),
        "javascript_link": md(f"[my plot](javascript:{JS}) and [more](javascript\\:{JS})"),
        "entity_link": md(f"[x](&#106;avascript:{JS})"),
        # outputs of every MIME type
        "png_closes_src": code(display({"image/png": f"iVBORw0KGgo=' onerror='{JS}' x='",
                                        "text/plain": "<Figure>"})),
        "latex_output": code(display({"text/latex": f"$\\mbox{{{IMG}}}$",
                                      "text/plain": "latex"})),
        "html_output": code(display({"text/html": f"{IMG}<script>{JS}</script>",
                                     "text/plain": "html"})),
        "markdown_output": code(display({"text/markdown": f"{IMG} "
                                                          f"[a](javascript:{JS})",
                                         "text/plain": "markdown"})),
        "javascript_output": code(display({"application/javascript": JS, "text/plain": "js"})),
        "svg_output": code(display({"image/svg+xml": svg})),
        "widget_output": code(display({"application/vnd.jupyter.widget-view+json": widget,
                                       "text/plain": "IntSlider()"})),
        "image_metadata": code(display({"image/png": figure_png(), "text/plain": "<Figure>"},
                                       {"image/png": {"width": f"1 onerror={JS}"}})),
        "error_and_stream": code(
            nbformat.v4.new_output("stream", name="stdout", text=f"<script>{JS}</script>\n"),
            nbformat.v4.new_output("error", ename="ValueError", evalue=IMG,
                                   traceback=[IMG])),
    }


def hostile_notebook(answers_nb) -> nbformat.NotebookNode:
    """The correct submission with every attack appended, a grade id that closes its attribute,
    an attachment that is not an image, and widget state that renders HTML."""
    nb = copy.deepcopy(answers_nb)
    nb.cells.extend(attacks().values())
    bad_id = nbformat.v4.new_markdown_cell("an answer cell with a forged grade id")
    bad_id.metadata["nbgrader"] = {"grade_id": f"x\">{IMG}", "grade": False,
                                   "solution": True, "locked": False, "schema_version": 3}
    attached = nbformat.v4.new_markdown_cell("![plot](attachment:plot.png)")
    attached.attachments = {"plot.png": {"image/png": f"AAAA\" onerror=\"{JS}", "image/svg+xml":
                                         base64.b64encode(b"<svg onload='x'/>").decode()}}
    nb.cells.extend([bad_id, attached])
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {"w1": {
        "model_name": "HTMLModel", "model_module": "@jupyter-widgets/controls",
        "model_module_version": "2.0.0", "state": {"value": IMG}}},
        "version_major": 2, "version_minor": 0}}
    return nb


HOSTILE_NAME = IMG
HOSTILE_NOTE = f"records/{IMG}.pt: a symbolic link, refused"


# ----------------------------------------------------------------------------- the demo class
def executed(source_nb, student_nb):
    """The executed notebook as the grader keeps it: the source's cells (hidden tests included)
    with the student's answers in the solution cells, and any cell the student added."""
    graded = copy.deepcopy(source_nb)
    answers = {cells.grade_id(c): c.source for c in student_nb.cells if cells.is_solution(c)}
    for cell in graded.cells:
        if cells.is_solution(cell):
            cell.source = answers.get(cells.grade_id(cell), cell.source)
    known = {cells.grade_id(c) for c in source_nb.cells if cells.grade_id(c)}
    graded.cells.extend(copy.deepcopy(c) for c in student_nb.cells[len(source_nb.cells):]
                        if cells.grade_id(c) not in known)
    code = [c for c in graded.cells if c.cell_type == "code" and not cells.is_test(c)]
    code[0].outputs = [nbformat.v4.new_output("stream", name="stdout", text="Environment OK.\n")]
    code[-1].outputs = [display({"image/png": figure_png(), "text/plain": "<Figure size 180x120 "
                                 "with 1 Axes>"})]
    return graded


def graded_result(student: str, source_nb) -> dict:
    tests = [c for c in source_nb.cells if cells.is_test(c)]
    result = {"student": student, "assignment": "lora", "submission_sha256": "0" * 64,
              "problems": [], "tampering": [], "needs_look": [],
              "tests": [{"id": cells.grade_id(t), "points": cells.points(t), "score": cells.points(t),
                         "passed": 4, "total": 4, "lines": [], "mistakes": []} for t in tests]}
    first = result["tests"][0]
    if student == "untouched":
        for t in result["tests"]:
            t.update(score=0.0, passed=0, lines=[f"visible check: NotImplementedError: Exercise "
                                                 f"{t['id'].removeprefix('test_')}: not written yet"])
    elif student == "partly_wrong":
        result["tests"][-1].update(score=None, manual=True)         # a written answer, pending
        first.update(score=first["points"] / 2, passed=2, mistakes=["scale_alpha"], lines=[
            "hidden test lora.forward: 2/4 checks passed",
            "  output['y'] differs: max |diff| 0.3 (atol 1e-05) -- the update is scaled by alpha / r",
            "  looks like a known mistake: your update is scaled by alpha, not alpha / r"])
    elif student == "infinite_loop":
        first.update(score=0.0, passed=0, lines=["your cell 'lora_linear' ran past its time limit"])
        result["problems"] = ["your cell 'lora_linear' ran past its time limit (12 s)"]
        result["needs_look"] = list(result["problems"])
    elif student == "hostile":
        result["tampering"] = [HOSTILE_NOTE]
        result["problems"] = [f"{HOSTILE_NAME}.ipynb: a file named so is not copied"]
        result["needs_look"] = list(result["problems"])
    result["score"] = sum(t["score"] or 0.0 for t in result["tests"])
    result["max_score"] = sum(t["points"] for t in result["tests"])
    return result


def demo_class(work: Path) -> Course:
    """The LoRA demo class and the hostile student, graded results and executed notebooks in
    work/ (results/lora/<student>.json, runs/lora/<student>/graded.ipynb), as a course to read;
    written once."""
    course = Course(solutions=ROOT / "solutions", notebooks=ROOT / "notebooks", work=work)
    if (work / "results").exists():
        return course
    source = nbformat.read(course.source("lora"), as_version=4)
    class_ = samples.demo_samples(source, "lora", course)
    class_["hostile"] = hostile_notebook(class_["correct"])
    for student in STUDENTS:
        run = work / "runs" / "lora" / student
        run.mkdir(parents=True, exist_ok=True)
        nbformat.write(executed(source, class_[student]), run / "graded.ipynb")
        path = work / "results" / "lora" / f"{student}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(graded_result(student, source)))
    return course


def feedback_page(folder: Path, student: str) -> Path:
    """One student's feedback page, as `python -m autograde feedback --out` writes it (the hostile
    student's with a hostile display name from its LMS)."""
    course = demo_class(folder.parent / "work")
    result = json.loads((course.work / "results" / "lora" / f"{student}.json").read_text())
    if student != "hostile":
        return feedback.write_all(course, [result], folder / "feedback")[0]
    source = nbformat.read(course.source("lora"), as_version=4)
    graded = nbformat.read(course.work / "runs" / "lora" / student / "graded.ipynb", as_version=4)
    page = feedback.feedback_page(result, graded, release_notebook(source), {},
                           {"name": HOSTILE_NAME, "lms": HOSTILE_NAME, "late": True})
    path = folder / "feedback" / student / "lora" / "lora.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page)
    return path


def report_page(folder: Path) -> Path:
    return class_report.write(demo_class(folder.parent / "work"), folder / "report.html")


def summary_page(folder: Path, part: int) -> Path:
    """Part `part` (1-based) of the printable quiz summaries (`make summary`), built once."""
    from autograde.build import summary
    out = folder.parent / "summary"
    if not out.exists():
        summary.build(out)
    return sorted(out.glob("*.html"))[part - 1]


# ----------------------------------------------------------------------------- the similarity page
# A hostile pair's copied answers: code whose comment and string close the code box and open an
# image with a handler, a written answer with a script and an image; an archived file named as one
# (a file name holds no slash: its handler spells PWNED with character codes).
HOSTILE_CODE = "\n".join([
    f"# </pre><img src=x onerror={JS}> 24 layers, 16 heads of 64, fp16",
    "layers, heads, head_size = 24, 16, 64",
    "batch, tokens, fp16_bytes = 4, 1024, 2",
    "keys_and_values = 2",
    f"note = '</pre><script>{JS}</script>'",
    "per_token = keys_and_values * layers * heads * head_size * fp16_bytes",
    "kv_cache_mib = per_token * batch * tokens / 2**20",
])
HOSTILE_TEXT = (
    f"A sliding window keeps only the newest keys and values <script>{JS}</script>, so memory stays "
    "flat, but once the first tokens fall out the model degrades, since attention dumps its spare "
    f"weight on them.</div><img src=x onerror={JS}> StreamingLLM pins those first tokens as sinks "
    "next to the window and keeps generating steadily, though anything in the middle of a long "
    "text is gone. H2O keeps the heavy hitters, the tokens that gathered the most attention so "
    "far, plus recent ones; it bets that past attention predicts future need and loses a token "
    "for good when that bet fails.")
HOSTILE_FILE = "<img src=x onerror=document.title=String.fromCharCode(80,87,78,69,68)>.md"


def similarity_report(folder: Path, assignment: str) -> Path:
    """The page of `python -m autograde similarity -a ASSIGNMENT CLASS [--against ARCHIVE]` on the
    calibration corpus of `assignment`; for the practice quiz with the hostile pair `mal` and `mia`
    and an archive holding their written answer under HOSTILE_FILE."""
    course = Course(solutions=ROOT / "solutions", notebooks=ROOT / "notebooks", work=folder / "work")
    source_nb = nbformat.read(course.source(assignment), as_version=4)
    nbs = corpus.notebooks(assignment, source_nb)
    archive = None
    if assignment == "practice_quiz":
        release_nb = release_notebook(source_nb)
        for student in ("mal", "mia"):
            nbs[student] = corpus.fill(release_nb, {"kv_cache_mib": HOSTILE_CODE,
                                                    "kv_cache_policies": HOSTILE_TEXT})
        archive = folder / "archive"
        archive.mkdir()
        (archive / HOSTILE_FILE).write_text(HOSTILE_TEXT)
    result = similarity.run(course, assignment, corpus.write(folder / "class", nbs, assignment), archive)
    return similarity_page.write(course, result)[1]


PAGES = {
    **{f"feedback_{s}": (lambda folder, s=s: feedback_page(folder, s)) for s in STUDENTS},
    "report": report_page,
    **{f"summary_part_{i}": (lambda folder, i=i: summary_page(folder, i)) for i in (1, 2, 3, 4)},
    **{f"similarity_{a}": (lambda folder, a=a: similarity_report(folder, a)) for a in ("moe", "practice_quiz")},
}


# ----------------------------------------------------------------------------- the audit
class _Audit(HTMLParser):
    """Everything on a page that could run, load or cover something (see `audit`)."""

    ACTIVE = {"script", "iframe", "frame", "object", "embed", "svg", "form", "input", "button",
              "link", "base", "meta", "style", "textarea", "template", "annotation-xml", "maction"}
    HEAD = {"meta", "style", "title"}         # the shell's own head

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found, self.in_body = [], False

    def handle_starttag(self, tag, attrs):
        if tag == "body":
            self.in_body = True
        if self.in_body and tag in self.ACTIVE or not self.in_body and tag not in self.HEAD | {
                "html", "head"}:
            self.found.append(f"<{tag}>")
        for name, value in attrs:
            value = (value or "").strip()
            if name.startswith("on") or name in ("style", "srcdoc", "formaction", "xlink:href"):
                self.found.append(f"<{tag} {name}>")
            elif name == "href" and not re.match(r"(https?://|mailto:|#)", value):
                self.found.append(f"<{tag} href={value[:40]!r}>")
            elif name == "src" and not (tag == "img" and _valid_image(value)):
                self.found.append(f"<{tag} src={value[:40]!r}>")


def _valid_image(src: str) -> bool:
    m = re.fullmatch(r"data:(image/(?:png|jpeg|gif));base64,([A-Za-z0-9+/]*={0,2})", src)
    if not m:
        return False
    data = base64.b64decode(m[2], validate=True)
    return data.startswith({"image/png": b"\x89PNG\r\n\x1a\n", "image/jpeg": b"\xff\xd8\xff",
                            "image/gif": b"GIF8"}[m[1]])


def audit(page: str) -> list[str]:
    """What on a page could run a script, load anything, or draw over the page: an active
    element, an event handler, a style attribute, a link that is not http(s), mailto or a
    fragment, a source that is not a real PNG, JPEG or GIF inlined. [] for a safe page."""
    parser = _Audit()
    parser.feed(page)
    return parser.found


def policy(page: str) -> str | None:
    """The page's Content-Security-Policy meta, if its style hash is the hash of its style block."""
    csp = re.search(r"<meta http-equiv='Content-Security-Policy' content=\"([^\"]+)\">", page)
    style = re.search(r"<style>(.*?)</style>", page, re.S)
    if not (csp and style):
        return None
    digest = base64.b64encode(hashlib.sha256(style[1].encode()).digest()).decode()
    return csp[1] if f"'sha256-{digest}'" in csp[1] else None
