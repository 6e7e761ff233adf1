"""The course as an nbgrader course directory: what `python -m autograde grade` leaves so that stock
nbgrader (the formgrader, `nbgrader export`, `release_feedback`) sees every graded submission.

The course root is the folder above `solutions/` (the repository root, with nbgrader_config.py);
its folders are nbgrader's CourseDirectory's, read from that config:

    submitted/<student>/<assignment>/   the submission, timestamp.txt, lms.json (autograde/results/intake.py)
    autograded/<student>/<assignment>/  the executed notebook, each test cell's verdict as an output
    feedback/<student>/<assignment>/    <assignment>.html, with timestamp.txt and
                                        submission_secret.txt beside it (release_feedback needs them)

The formgrader shows a submission as graded when its autograded/ folder exists and the gradebook's
timestamp equals submitted/'s timestamp.txt (nbgrader.apps.api.get_autograded_students):
gradebook.sync writes that timestamp. The executed notebook keeps the sha256 of the submission it
came from, so a regrade can tell a changed submission from the same one graded again.

HideTestsInFeedback is the preprocessor nbgrader_config.py gives stock `nbgrader generate_feedback`.

The formgrader renders autograded/ notebooks in the instructor's Jupyter server, whose API runs
code: its HTML exporter passes markdown cells' HTML through unsanitized (nbgrader's formgrade
template), its MathJax obeys `\\href` and `\\style`, and it serves the folder's other files from the
same origin. So `write_autograded` writes an inert notebook (`inert`): no markup can be formed in
any markdown, raw or LaTeX text, text/html outputs are sanitized (autograde/safe_html.py), images
must be real PNG, JPEG or GIF, every other output (JavaScript, widgets, SVG, ...) and all output
metadata are dropped with a note, and only grade ids nbgrader itself accepts are kept. A file
handed in beside the notebook keeps its name only if the browser cannot run it (`INERT_FILES`).
"""

from __future__ import annotations

import copy
import os
import re
import shutil
import uuid
from datetime import datetime, timezone
from pathlib import Path

import nbformat
from nbgrader.coursedir import CourseDirectory
from nbgrader.preprocessors import ClearHiddenTests, NbGraderPreprocessor
from nbgrader.utils import parse_utc
from traitlets.config import Config
from traitlets.config.loader import PyFileConfigLoader

from autograde import cells, safe_html
from autograde.config import Course
from autograde.results import intake

VERDICT = "autograde_verdict"          # metadata key of the verdict output a test cell gets
GRADE_ID = re.compile(r"[a-zA-Z0-9_\-]+\Z")          # nbgrader's own rule (CheckCellMetadata)
CELL_ID = re.compile(r"[a-zA-Z0-9_\-]{1,64}\Z")       # nbformat 4.5's
# What MathJax would obey in a formgrader page: links, CSS, classes, ids, attributes, extensions.
TEX_ACTIVE = re.compile(r"\\(href|style|class|cssId|mmlToken|require|bbox|data|html|unicode)(?![A-Za-z])")
ENTITY = re.compile(r"&(?=#|[A-Za-z][A-Za-z0-9]*;)")
SCRIPT_SCHEME = re.compile(r"(?i)(?<![a-z0-9+.\-])(javascript|vbscript|livescript)(\s*\\?):")
# An attachment that is no real image becomes this empty pixel (a PNG): nbconvert's renderer fails
# the whole page on a markdown image whose attachment is missing or empty.
BLANK_PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII="
INERT_FILES = {".txt", ".csv", ".tsv", ".json", ".py", ".md", ".png", ".jpg", ".jpeg", ".gif", ".pdf"}


def root(course: Course) -> Path:
    return course.solutions.parent


def coursedir(course: Course) -> CourseDirectory:
    """nbgrader's CourseDirectory of this course: its root's nbgrader_config.py, with our folders."""
    base = root(course)
    config = Config()
    if (base / "nbgrader_config.py").exists():
        config.merge(PyFileConfigLoader("nbgrader_config.py", str(base)).load_config())
    config.CourseDirectory.root = str(base)
    config.CourseDirectory.source_directory = os.path.relpath(course.solutions, base)
    config.CourseDirectory.release_directory = os.path.relpath(course.notebooks, base)
    config.CourseDirectory.db_url = course.gradebook_url
    config.CourseDirectory.course_id = course.course_id
    return CourseDirectory(config=config)


def folder(course: Course, step: str, student: str, assignment: str) -> Path:
    """step: 'submitted', 'autograded' or 'feedback' (as nbgrader's config names them)."""
    cd = coursedir(course)
    return Path(cd.format_path(getattr(cd, f"{step}_directory"), student, assignment))


def submitted_root(course: Course) -> Path:
    return root(course) / coursedir(course).submitted_directory


def timestamp(course: Course, student: str, assignment: str) -> datetime | None:
    """submitted/<student>/<assignment>/timestamp.txt, as nbgrader's API reads it."""
    path = folder(course, "submitted", student, assignment) / "timestamp.txt"
    return parse_utc(path.read_text().strip()) if path.exists() else None


def graded_sha(course: Course, student: str, assignment: str) -> str | None:
    """The submission sha256 of the notebook now in autograded/ (None if there is none)."""
    path = folder(course, "autograded", student, assignment) / f"{assignment}.ipynb"
    try:
        return nbformat.read(path, as_version=4).metadata.get("autograde", {}).get("submission_sha256")
    except (OSError, ValueError):
        return None


def _verdict_output(test: dict) -> nbformat.NotebookNode:
    if test.get("manual"):
        head = f"to be graded by hand: {test['points']:g} points"
    else:
        head = f"autograder: {test['score']:.2f} / {test['points']:g} points"
    text = "\n".join([head] + list(test.get("lines", []))) + "\n"
    return nbformat.v4.new_output("display_data", data={"text/plain": text},
                                  metadata={VERDICT: True})


def _no_mathjax_commands(text: str) -> str:
    return TEX_ACTIVE.sub(lambda m: "\\\u2060" + m[1], text)


def inert_text(text: str) -> str:
    """Markdown, LaTeX or raw-cell text that reads the same but can form no markup: `<` becomes
    U+02C2 (a look-alike: no tag can be opened), and an invisible word joiner (U+2060) breaks every
    character reference after its `&`, every MathJax active command after its backslash (`\\href`
    shows, links nowhere) and every javascript: scheme before its colon."""
    text = text.replace("<", "\u02c2")
    text = ENTITY.sub("&\u2060", text)
    text = _no_mathjax_commands(text)
    return SCRIPT_SCHEME.sub(lambda m: m[1] + m[2].replace("\\", "") + "\u2060:", text)


def _images(bundle: dict) -> dict:
    """The PNG, JPEG and GIF entries of a MIME bundle that really are those, re-encoded."""
    out = {}
    for mime in safe_html.SIGNATURES:
        src = safe_html.image_src(mime, bundle[mime]) if isinstance(bundle.get(mime), str) else None
        if src:
            out[mime] = src.split(",", 1)[1]
    return out


def _inert_data(data: dict) -> dict:
    kept = {k: v for k, v in data.items() if k == "text/plain"} | _images(data)
    if isinstance(data.get("text/html"), str):
        kept["text/html"] = _no_mathjax_commands(safe_html.clean(data["text/html"]))
    for mime in ("text/markdown", "text/latex"):
        if isinstance(data.get(mime), str):
            kept[mime] = inert_text(data[mime])
    dropped = sorted(set(data) - set(kept))
    if dropped:
        note = f"(removed by the grader, it could run code in the formgrader: {', '.join(dropped)})"
        kept["text/plain"] = (str(kept["text/plain"]) + "\n" if "text/plain" in kept else "") + note
    return kept


def _inert_output(out: dict) -> dict:
    out = copy.deepcopy(out)
    if out.get("output_type") in ("display_data", "execute_result"):
        out["data"] = _inert_data(out.get("data", {}))
        out["metadata"] = {VERDICT: True} if out.get("metadata", {}).get(VERDICT) else {}
        if out["output_type"] == "execute_result" and not isinstance(out.get("execution_count"), int):
            out["execution_count"] = None
    return out


def inert(nb, instructors: set[str] = frozenset()) -> nbformat.NotebookNode:
    """A copy of a graded notebook that nbgrader's formgrader (and `generate_feedback`) can render
    without running anything a student wrote, whatever its exporter's settings. A text cell whose
    source is one of `instructors` (the source notebook's own text cells) is kept as it is."""
    nb = copy.deepcopy(nb)
    nb.metadata.pop("widgets", None)                  # widget state: the widget manager renders HTML
    for cell in nb.cells:
        if not CELL_ID.match(str(cell.get("id", ""))):
            cell["id"] = uuid.uuid4().hex[:8]
        grading = cell.get("metadata", {}).get("nbgrader")
        if grading is not None and not (isinstance(grading, dict)
                                        and GRADE_ID.match(str(grading.get("grade_id", "")))):
            del cell.metadata["nbgrader"]                # the formgrader writes grade ids unescaped
        if cell.cell_type == "code":
            cell.outputs = [_inert_output(o) for o in cell.get("outputs", [])]
            if not isinstance(cell.get("execution_count"), int):
                cell.execution_count = None
        elif cell.source not in instructors:
            cell.source = inert_text(cell.source)
            if "attachments" in cell:
                cell.attachments = {name: _images(bundle) if isinstance(bundle, dict) and _images(bundle)
                                    else {"image/png": BLANK_PNG} for name, bundle in cell.attachments.items()}
    return nb


def write_autograded(course: Course, result: dict, work: Path | None = None) -> Path | None:
    """autograded/<student>/<assignment>/: submitted/'s files, and the executed notebook, made inert
    (see `inert`), with each test cell's verdict added as an output. Returns the notebook (None if
    it was never executed). A file the browser could run (.html, .svg, ...) gets `.txt` added."""
    student, name = result["student"], result["assignment"]
    graded = (work or course.work) / "runs" / name / student / "graded.ipynb"
    if not graded.exists():
        return None
    source, target = folder(course, "submitted", student, name), folder(course, "autograded", student, name)
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    if source.is_dir():
        for extra in source.iterdir():
            if extra.is_file() and extra.suffix != ".ipynb":
                inert_name = extra.name if extra.suffix.lower() in INERT_FILES else extra.name + ".txt"
                shutil.copyfile(extra, target / inert_name)
    texts = {c.source for c in nbformat.read(course.source(name), as_version=4).cells
             if c.cell_type != "code"}
    nb = inert(nbformat.read(graded, as_version=4), texts)
    tests = {t["id"]: t for t in result["tests"]}
    for cell in nb.cells:
        gid = cells.grade_id(cell)
        if gid in tests and cell.cell_type == "code":
            cell.outputs = [o for o in cell.get("outputs", []) if not o.get("metadata", {}).get(VERDICT)]
            cell.outputs.append(_verdict_output(tests[gid]))
    nb.metadata["autograde"] = {"submission_sha256": result["submission_sha256"],
                                "score": result["score"], "max_score": result["max_score"]}
    path = target / f"{name}.ipynb"
    nbformat.write(nb, path)
    return path


def write_feedback(course: Course, student: str, assignment: str, page: str) -> Path:
    """feedback/<student>/<assignment>/<assignment>.html, with submitted/'s timestamp and secret.

    Stock `nbgrader release_feedback` reads both beside every page and stops at the first page
    without them, so every submission gets them whatever its way in: a submission that did not
    come through the exchange (an LMS zip, a folder) gets a fresh secret in submitted/ (as `nbgrader
    submit` makes one), and where its submission time is unknown (Canvas's and Moodle's zips hold
    none, autograde/results/intake.py) the feedback's timestamp.txt is the time the page was written."""
    target = folder(course, "feedback", student, assignment)
    target.mkdir(parents=True, exist_ok=True)
    source = folder(course, "submitted", student, assignment)
    if source.is_dir():
        intake.nbgrader_sidecars(source, None)
    for name in ("timestamp.txt", "submission_secret.txt"):
        if (source / name).exists():
            shutil.copyfile(source / name, target / name)
    if not (target / "timestamp.txt").exists():
        (target / "timestamp.txt").write_text(intake.stamp(datetime.now(timezone.utc)))
    path = target / f"{assignment}.html"
    path.write_text(page)
    return path


class HideTestsInFeedback(NbGraderPreprocessor):
    """For stock `nbgrader generate_feedback`: hidden tests cleared (cell sources and any output
    that quotes them), error outputs cut to their exception's name and message, no traceback."""

    def preprocess(self, nb, resources):
        nb = copy.deepcopy(nb)
        hidden = [cells.HIDDEN.search(c.source).group(1) for c in nb.cells
                  if c.cell_type == "code" and cells.HIDDEN.search(c.source)]
        nb, resources = ClearHiddenTests().preprocess(nb, resources)
        for cell in nb.cells:
            if cell.cell_type != "code":
                continue
            for out in cell.get("outputs", []):
                if out.get("output_type") == "error":
                    out["traceback"] = [f"{out.get('ename', 'Error')}: {out.get('evalue', '')}"]
                elif out.get("output_type") == "stream" and any(
                        line.strip() and line.strip() in out.get("text", "")
                        for region in hidden for line in region.splitlines()):
                    out["text"] = "(output of the hidden tests removed)\n"
        return nb, resources
