"""Sample submissions, built from the source notebook and its release so they never go stale.

`write_samples` writes FOLDER/<student>/<assignment>.ipynb for the demo: `correct` (the release with
the reference answers typed in), `untouched` (the release as handed out), `partly_wrong` (one
known mistake, see wrong_submission) and `infinite_loop` (the first answer loops forever).

The adversarial corpus (tampering, forged verdicts, limits, sandbox escapes) is test material:
tests/fixtures/toy/adversarial.py builds it from these samples.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import nbformat

from autograde import cells, spec
from autograde.build.release import release_notebook
from autograde.config import Course

MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION")

# A partly wrong submission: each assignment's mistakes module names one known mistake as
# WRONG_SUBMISSION = (solution cell grade id, text in the reference, what a student wrote instead).
def wrong_submission(assignment: str, course: Course | None = None):
    module = spec.mistakes_module(assignment, course)
    return getattr(module, "WRONG_SUBMISSION", (None, None, None))


def _solution_sources(source_nb) -> dict:
    return {cells.grade_id(c): "\n".join(line for line in c.source.splitlines()
                                         if line.strip() not in MARKERS)
            for c in source_nb.cells if cells.is_solution(c)}


def correct(source_nb, release_nb):
    nb, answers = copy.deepcopy(release_nb), _solution_sources(source_nb)
    for cell in nb.cells:
        if cells.is_solution(cell):
            cell.source = answers[cells.grade_id(cell)]
    return nb


def edit(nb, grade_id: str, change):
    """A copy of nb whose cell `grade_id` has source change(source)."""
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        if cells.grade_id(cell) == grade_id:
            cell.source = change(cell.source)
    return nb


def first_solution(nb) -> str:
    return next(cells.grade_id(c) for c in nb.cells if cells.is_solution(c))


def partly_wrong(source_nb, release_nb, assignment: str, course: Course | None = None):
    """The correct submission with one known mistake (or, failing that, the last answer missing)."""
    nb = correct(source_nb, release_nb)
    cell_id, right, wrong = wrong_submission(assignment, course)
    answers = _solution_sources(source_nb)
    if cell_id in answers and right in answers[cell_id]:
        return edit(nb, cell_id, lambda s: s.replace(right, wrong))
    stubs = {cells.grade_id(c): c.source for c in release_nb.cells if cells.is_solution(c)}
    last = list(stubs)[-1]
    return edit(nb, last, lambda s: stubs[last])


def infinite_loop(source_nb, release_nb):
    nb = correct(source_nb, release_nb)
    return edit(nb, first_solution(nb), lambda s: "while True:\n    pass\n" + s)


def demo_samples(source_nb, assignment: str, course: Course | None = None) -> dict:
    release_nb = release_notebook(source_nb)
    return {"correct": correct(source_nb, release_nb), "untouched": release_nb,
            "partly_wrong": partly_wrong(source_nb, release_nb, assignment, course),
            "infinite_loop": infinite_loop(source_nb, release_nb)}


def write(notebooks: dict, folder: Path, assignment: str) -> dict:
    """FOLDER/<student>/<assignment>.ipynb for each {student: notebook}; returns the paths."""
    paths = {}
    for student, nb in notebooks.items():
        path = folder / student / f"{assignment}.ipynb"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(nb if isinstance(nb, str) else json.dumps(nb, indent=1))   # as is: no id fixes
        paths[student] = path
    return paths


def write_samples(course: Course, assignment: str, folder: Path) -> dict:
    source_nb = nbformat.read(course.source(assignment), as_version=4)
    return write(demo_samples(source_nb, assignment, course), folder, assignment)
