"""Student release: solutions/<name>/<name>.ipynb -> notebooks/<name>/<name>.ipynb through nbgrader's
preprocessors (those of `nbgrader generate_assignment`, configured by nbgrader_config.py).

Deterministic (same source, same bytes). Each solution region becomes a stub that names its
exercise, e.g. `raise NotImplementedError("Exercise lora_linear: write LoRALinear")`. The chain is
written once, as nbgrader_config.py's `GenerateAssignment.preprocessors` (with the two steps here that
name the stubs); this module runs it without the steps that need nbgrader's course directory and
database, so stock `nbgrader generate_assignment lora` writes the same release, byte for byte
(tests/test_nbgrader_course.py).
"""

from __future__ import annotations

import copy
import importlib
import re
from pathlib import Path

import nbformat
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets.config.loader import PyFileConfigLoader

from autograde import cells
from autograde.config import ROOT, Course

CONFIG = ROOT / "nbgrader_config.py"
PLACEHOLDER = "@@EXERCISE@@"
DEFINITION = re.compile(r"^\s*(?:async\s+)?(?:def|class)\s+(\w+)", re.M)
# Steps of nbgrader's chain that read or write its course directory and database, not the notebook:
# the header/footer files (none configured), the autotest templates (none used) and the gradebook's
# copy of the source cells (gradebook.py writes it when grading).
COURSE_DIRECTORY_STEPS = {"IncludeHeaderFooter", "InstantiateTests", "SaveCells"}


def nbgrader_config():
    return PyFileConfigLoader(CONFIG.name, str(CONFIG.parent)).load_config()


def _stub_message(cell_source: str, grade_id: str) -> str:
    """'Exercise <id>: write <first name the cell defines>'."""
    names = DEFINITION.findall(cell_source)
    return f"Exercise {grade_id}: write {names[0]}" if names else f"Exercise {grade_id}"


class RecordExerciseNames(NbGraderPreprocessor):
    """Before ClearSolutions: remember each solution cell's stub message (it needs the answer)."""

    def preprocess(self, nb, resources):
        resources["exercise_messages"] = {cells.grade_id(c): _stub_message(c.source, cells.grade_id(c))
                                          for c in nb.cells if cells.is_solution(c)}
        return nb, resources


class NameExerciseStubs(NbGraderPreprocessor):
    """Last: put each exercise's message into its stub's placeholder (the checksums, computed
    before, are those of the placeholder stub, as in every release so far)."""

    def preprocess(self, nb, resources):
        messages = resources.get("exercise_messages", {})
        for cell in nb.cells:
            if cells.is_solution(cell) and cells.grade_id(cell) in messages:
                cell.source = cell.source.replace(PLACEHOLDER, messages[cells.grade_id(cell)])
        return nb, resources


def chain(config) -> list[type]:
    """nbgrader_config.py's GenerateAssignment.preprocessors, imported, less COURSE_DIRECTORY_STEPS."""
    steps = []
    for dotted in config.GenerateAssignment.preprocessors:
        module, _, name = dotted.rpartition(".")
        if name not in COURSE_DIRECTORY_STEPS:
            steps.append(getattr(importlib.import_module(module), name))
    return steps


def release_notebook(source_nb) -> nbformat.NotebookNode:
    """The student version of a source notebook (a new object; the source is not changed)."""
    nb = copy.deepcopy(source_nb)
    config, resources = nbgrader_config(), {}
    for pp in chain(config):
        nb, resources = pp(config=config).preprocess(nb, resources)
    return nb


def release_json(nb) -> str:
    """A release notebook's file text, as nbformat writes it."""
    return nbformat.writes(nb) + "\n"


def release_text(course: Course, assignment: str) -> str:
    return release_json(release_notebook(nbformat.read(course.source(assignment), as_version=4)))


def stale(course: Course) -> list[str]:
    """Assignments whose notebooks/<name>.ipynb differs from what `release` would write."""
    out = []
    for name in course.assignments():
        target = course.release(name)
        if not target.exists() or target.read_text() != release_text(course, name):
            out.append(name)
    return out


def release(course: Course, assignments: list[str] | None = None) -> list[Path]:
    """Write the release of each assignment (default: all); returns the files rewritten."""
    written = []
    for name in assignments or course.assignments():
        text, target = release_text(course, name), course.release(name)
        if not target.exists() or target.read_text() != text:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
            written.append(target)
    return written
