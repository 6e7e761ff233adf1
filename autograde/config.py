"""Where an assignment's files live. Tests point these at tests/fixtures/toy; defaults are the repo's.

One folder an assignment, in nbgrader's layout (nbgrader_config.py at the repository root):

    solutions/<name>/<name>.py       the percent source (edited by hand)
    solutions/<name>/<name>.ipynb    the nbgrader source notebook (generated from it)
    solutions/<name>/cases.py        hidden cases (the only file of the folder a sandbox sees)
    solutions/<name>/mistakes.py     named mistakes and the demo's wrong submission (grader only)
    solutions/<name>/test_<name>.py  the reference against independent implementations (pytest)
    notebooks/<name>/<name>.ipynb    the student release (generated)

Environment variables (the CLI's --solutions/--notebooks/--work/--db override them):
COURSE_SOLUTIONS_DIR, COURSE_NOTEBOOKS_DIR, COURSE_GRADING_DIR, COURSE_GRADEBOOK_URL.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import nbformat

from autograde import cells

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Course:
    solutions: Path = ROOT / "solutions"      # instructor source notebooks (nbgrader format)
    notebooks: Path = ROOT / "notebooks"      # the student release
    work: Path = ROOT / ".grading"            # per-submission results, reference cache, sandboxes
    db_url: str = ""                          # SQLAlchemy URL; default SQLite in `work`
    course_id: str = "model-efficiency"

    @classmethod
    def from_env(cls, **overrides) -> "Course":
        env = {"solutions": "COURSE_SOLUTIONS_DIR", "notebooks": "COURSE_NOTEBOOKS_DIR",
               "work": "COURSE_GRADING_DIR", "db_url": "COURSE_GRADEBOOK_URL"}
        values = {k: os.environ[v] for k, v in env.items() if os.environ.get(v)}
        values.update({k: v for k, v in overrides.items() if v})
        for key in ("solutions", "notebooks", "work"):
            if key in values:
                values[key] = Path(values[key]).resolve()
        return cls(**values)

    @property
    def gradebook_url(self) -> str:
        return self.db_url or f"sqlite:///{self.work / 'gradebook.db'}"

    def assignments(self) -> list[str]:
        return sorted(p.stem for p in self.solutions.glob("*/*.ipynb") if p.stem == p.parent.name)

    def graded_assignments(self) -> list[str]:
        """The assignments with at least one test cell worth points (not the reading-only ones)."""
        def graded(name):
            nb = nbformat.read(self.source(name), as_version=4)
            return any(cells.points(c) > 0 for c in cells.test_cells(nb))
        return [name for name in self.assignments() if graded(name)]

    def folder(self, assignment: str) -> Path:
        return self.solutions / assignment

    def source(self, assignment: str) -> Path:
        return self.folder(assignment) / f"{assignment}.ipynb"

    def cases_file(self, assignment: str) -> Path:
        return self.folder(assignment) / "cases.py"

    def mistakes_file(self, assignment: str) -> Path:
        return self.folder(assignment) / "mistakes.py"

    def release(self, assignment: str) -> Path:
        return self.notebooks / assignment / f"{assignment}.ipynb"
