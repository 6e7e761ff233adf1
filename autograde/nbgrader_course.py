"""The course as an nbgrader course directory: what `python -m autograde grade` leaves so that stock
nbgrader (the formgrader, `nbgrader export`, `release_feedback`) sees every graded submission.

The course root is the folder above `solutions/` (the repository root, with nbgrader_config.py);
its folders are nbgrader's CourseDirectory's, read from that config:

    submitted/<student>/<assignment>/   the submission, timestamp.txt, lms.json (autograde/lms.py)
    autograded/<student>/<assignment>/  the executed notebook, each test cell's verdict as an output
    feedback/<student>/<assignment>/    <assignment>.html, with timestamp.txt and
                                        submission_secret.txt beside it (release_feedback needs them)

The formgrader shows a submission as graded when its autograded/ folder exists and the gradebook's
timestamp equals submitted/'s timestamp.txt (nbgrader.apps.api.get_autograded_students):
gradebook.sync writes that timestamp. The executed notebook keeps the sha256 of the submission it
came from, so a regrade can tell a changed submission from the same one graded again.

HideTestsInFeedback is the preprocessor nbgrader_config.py gives stock `nbgrader generate_feedback`.
"""

from __future__ import annotations

import copy
import os
import shutil
from datetime import datetime, timezone
from pathlib import Path

import nbformat
from nbgrader.coursedir import CourseDirectory
from nbgrader.preprocessors import ClearHiddenTests, NbGraderPreprocessor
from nbgrader.utils import parse_utc
from traitlets.config import Config
from traitlets.config.loader import PyFileConfigLoader

from autograde import cells, lms
from autograde.course import Course

VERDICT = "autograde_verdict"          # metadata key of the verdict output a test cell gets


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


def write_autograded(course: Course, result: dict, work: Path | None = None) -> Path | None:
    """autograded/<student>/<assignment>/: submitted/'s files, and the executed notebook with each
    test cell's verdict added as an output. Returns the notebook (None if it was never executed)."""
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
                shutil.copyfile(extra, target / extra.name)
    nb = nbformat.read(graded, as_version=4)
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
    none, autograde/lms.py) the feedback's timestamp.txt is the time the page was written."""
    target = folder(course, "feedback", student, assignment)
    target.mkdir(parents=True, exist_ok=True)
    source = folder(course, "submitted", student, assignment)
    if source.is_dir():
        lms.nbgrader_sidecars(source, None)
    for name in ("timestamp.txt", "submission_secret.txt"):
        if (source / name).exists():
            shutil.copyfile(source / name, target / name)
    if not (target / "timestamp.txt").exists():
        (target / "timestamp.txt").write_text(lms.stamp(datetime.now(timezone.utc)))
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
