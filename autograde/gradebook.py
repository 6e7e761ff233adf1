"""The gradebook: nbgrader's own `nbgrader.api.Gradebook`, SQLite by default, any SQLAlchemy URL.

`sync` writes result files into it: the assignment's structure (grade cells with points from the
SOURCE notebook), students, submissions and a fractional `auto_score` per grade cell. A submission
that needs a look is flagged. Sync is idempotent, so rerunning it after an interrupted batch, or
over the results of several shards, leaves one consistent gradebook.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import warnings

import nbformat
from nbgrader.api import Gradebook, MissingEntry

from autograde import cells
from autograde.course import Course


def _driver(url: str) -> str:
    """postgresql://... means psycopg (3) to SQLAlchemy 2.1; fall back to psycopg2 if that is what's here."""
    if url.startswith("postgresql://") and importlib.util.find_spec("psycopg") is None \
            and importlib.util.find_spec("psycopg2") is not None:
        return "postgresql+psycopg2://" + url[len("postgresql://"):]
    return url


def open_gradebook(url: str, course: Course) -> Gradebook:
    """nbgrader runs the `alembic` command it installs: make sure this interpreter's bin is on PATH."""
    bin_dir = os.path.dirname(sys.executable)
    if bin_dir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")
    return Gradebook(_driver(url), course_id=course.course_id)


def _ensure_assignment(gb: Gradebook, course: Course, name: str) -> None:
    source = nbformat.read(course.source(name), as_version=4)
    gb.update_or_create_assignment(name)
    gb.update_or_create_notebook(name, name)
    for cell in source.cells:
        gid = cells.grade_id(cell)
        if cells.is_test(cell):
            gb.update_or_create_grade_cell(gid, name, name, max_score=cells.points(cell),
                                           cell_type="code")
        elif cells.is_solution(cell):
            gb.update_or_create_solution_cell(gid, name, name)


def _write(gb: Gradebook, result: dict) -> None:
    name, student = result["assignment"], result["student"]
    gb.update_or_create_student(student)
    try:
        gb.find_submission(name, student)
    except MissingEntry:
        with warnings.catch_warnings():          # nbgrader's add_submission warns by design
            warnings.simplefilter("ignore")
            gb.add_submission(name, student)
    for test in result["tests"]:
        grade = gb.find_grade(test["id"], name, name, student)
        grade.auto_score = test["score"]
        grade.needs_manual_grade = False
    notebook = gb.find_submission_notebook(name, name, student)
    notebook.flagged = bool(result["needs_look"])
    gb.db.commit()


def sync(course: Course, results: list[dict], url: str | None = None) -> None:
    """Write results into the gradebook (idempotent)."""
    if not results:
        return
    course.work.mkdir(parents=True, exist_ok=True)
    with open_gradebook(url or course.gradebook_url, course) as gb:
        for name in sorted({r["assignment"] for r in results}):
            _ensure_assignment(gb, course, name)
        for result in results:
            if result["student"] != "__reference__":
                _write(gb, result)


def scores(course: Course, assignment: str, url: str | None = None) -> dict:
    """{student: {grade id: auto score}} as stored (for tests and the export)."""
    out = {}
    with open_gradebook(url or course.gradebook_url, course) as gb:
        for sub in gb.assignment_submissions(assignment):
            for nb in sub.notebooks:
                out[sub.student.id] = {g.name: g.auto_score for g in nb.grades}
    return out
