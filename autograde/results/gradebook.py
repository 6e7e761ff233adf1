"""The gradebook: nbgrader's own `nbgrader.api.Gradebook`, SQLite by default, any SQLAlchemy URL.

`record` is what `python -m autograde grade` calls after a batch: the autograded notebooks
(autograde/results/nbgrader_dirs.py), then `sync`, which writes the results into the database the
formgrader reads: the assignment's cells (nbgrader's own SaveCells on the SOURCE notebook: grade,
solution and source cells, as `nbgrader generate_assignment` records them), each student (display
name and LMS id from lms.json), the submission with submitted/'s timestamp, a fractional
`auto_score` per test cell, and a flag on a submission that needs a look. Sync is idempotent, so
rerunning it after an interrupted batch, or over the results of several shards, leaves one
consistent gradebook.

Scores set by hand in the formgrader (`manual_score`) are never overwritten: a regrade keeps them,
and says so for each one, with the autograder's new score and whether the submission changed since
(nbgrader's `score` takes the manual score where there is one, and so does `export`). A test cell
graded by hand (a result entry with "manual": True) needs a manual grade until one is set.
"""

from __future__ import annotations

import copy
import importlib.util
import os
import sys
import warnings

import nbformat
from nbgrader.api import Gradebook, MissingEntry
from nbgrader.preprocessors import ComputeChecksums, SaveCells

from autograde.config import Course
from autograde.results import intake, nbgrader_dirs


def _driver(url: str) -> str:
    """postgresql://... means psycopg (3) to SQLAlchemy 2.1; fall back to psycopg2 if that is what's here."""
    if url.startswith("postgresql://") and importlib.util.find_spec("psycopg") is None \
            and importlib.util.find_spec("psycopg2") is not None:
        return "postgresql+psycopg2://" + url[len("postgresql://"):]
    return url


def _path_for_alembic() -> None:
    """nbgrader runs the `alembic` command it installs: make sure this interpreter's bin is on PATH."""
    bin_dir = os.path.dirname(sys.executable)
    if bin_dir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")


def open_gradebook(url: str, course: Course) -> Gradebook:
    _path_for_alembic()
    return Gradebook(_driver(url), course_id=course.course_id)


def _ensure_assignment(gb: Gradebook, course: Course, name: str, url: str, notes: list) -> None:
    """The assignment's cells as `nbgrader generate_assignment` records them (SaveCells)."""
    gb.update_or_create_assignment(name)
    nb = copy.deepcopy(nbformat.read(course.source(name), as_version=4))
    nb, _ = ComputeChecksums().preprocess(nb, {})
    resources = {"nbgrader": {"notebook": name, "assignment": name, "db_url": _driver(url)}}
    try:
        SaveCells().preprocess(nb, resources)
    except RuntimeError as err:            # the source's cells changed after submissions were stored
        notes.append(f"{name}: the gradebook keeps its earlier cells ({err}); "
                     "remove the assignment's submissions with `nbgrader db assignment remove` to "
                     "record the new ones")


def _write(gb: Gradebook, course: Course, result: dict, previous: str | None, notes: list) -> None:
    name, student = result["assignment"], result["student"]
    meta = intake.meta(nbgrader_dirs.folder(course, "submitted", student, name))
    info = {}                             # never blank a name set with `nbgrader db student add`
    if meta.get("lms"):
        info = {"last_name": meta.get("name") or None, "lms_user_id": student}
    gb.update_or_create_student(student, **info)
    stamp = nbgrader_dirs.timestamp(course, student, name)
    try:
        submission = gb.find_submission(name, student)
        submission.timestamp = stamp
    except MissingEntry:
        with warnings.catch_warnings():          # nbgrader's add_submission warns by design
            warnings.simplefilter("ignore")
            gb.add_submission(name, student, **({"timestamp": stamp} if stamp else {}))
    changed = previous is not None and previous != result["submission_sha256"]
    for test in result["tests"]:
        try:
            grade = gb.find_grade(test["id"], name, name, student)
        except MissingEntry:
            notes.append(f"{student}/{name}: test cell {test['id']} is not in the gradebook's "
                         "cells; its score is in the result file only")
            continue
        where = f"{student}/{name} {test['id']}"
        since = "; the submission changed since: check it" if changed else ""
        if test.get("manual") or test.get("score") is None:
            grade.auto_score = None
            grade.needs_manual_grade = grade.manual_score is None
            if grade.manual_score is not None and changed:
                notes.append(f"{where}: kept the score graded by hand, {grade.manual_score:g}{since}")
            continue
        grade.auto_score = test["score"]
        grade.needs_manual_grade = False
        if grade.manual_score is not None:
            notes.append(f"{where}: kept the score set in the formgrader, {grade.manual_score:g} of "
                         f"{test['points']:g} (the autograder gives {test['score']:.2f}){since}")
    notebook = gb.find_submission_notebook(name, name, student)
    notebook.flagged = bool(result["needs_look"])
    gb.db.commit()


def sync(course: Course, results: list[dict], url: str | None = None,
         previous: dict | None = None) -> list[str]:
    """Write results into the gradebook (idempotent); returns notes on manual scores kept.
    previous: {(assignment, student): sha256 of the submission graded before}, where known."""
    notes: list[str] = []
    results = [r for r in results if r["student"] != "__reference__"]
    if not results:
        return notes
    course.work.mkdir(parents=True, exist_ok=True)
    url = url or course.gradebook_url
    with open_gradebook(url, course) as gb:
        for name in sorted({r["assignment"] for r in results}):
            _ensure_assignment(gb, course, name, url, notes)
        for result in results:
            key = (result["assignment"], result["student"])
            _write(gb, course, result, (previous or {}).get(key), notes)
    return notes


def record(course: Course, results: list[dict], work=None, url: str | None = None) -> list[str]:
    """After grading: autograded/ notebooks, then the gradebook. Returns the notes of sync."""
    results = [r for r in results if r["student"] != "__reference__"]
    previous = {(r["assignment"], r["student"]): nbgrader_dirs.graded_sha(course, r["student"],
                                                                            r["assignment"])
                for r in results}
    for result in results:
        nbgrader_dirs.write_autograded(course, result, work)
    return sync(course, results, url, previous)


def scores(course: Course, assignment: str, url: str | None = None) -> dict:
    """{student: {grade id: auto score}} as stored (for tests and the export)."""
    out = {}
    with open_gradebook(url or course.gradebook_url, course) as gb:
        for sub in gb.assignment_submissions(assignment):
            for nb in sub.notebooks:
                out[sub.student.id] = {g.name: g.auto_score for g in nb.grades}
    return out


def grades(course: Course, url: str | None = None) -> dict:
    """{(assignment, student): {grade id: {auto, manual, score, max, pending}}}: what the formgrader
    shows, manual scores included (feedback and export read this)."""
    out = {}
    with open_gradebook(url or course.gradebook_url, course) as gb:
        for assignment in gb.assignments:
            for sub in gb.assignment_submissions(assignment.name):
                for nb in sub.notebooks:
                    out[assignment.name, sub.student.id] = {
                        g.name: {"auto": g.auto_score, "manual": g.manual_score, "score": g.score,
                                 "max": g.max_score, "pending": bool(g.needs_manual_grade)}
                        for g in nb.grades}
    return out
