"""Where an assignment's files live. Tests point these at tests/fixtures/toy; defaults are the repo's.

Environment variables (the CLI's --solutions/--notebooks/--work/--db override them):
COURSE_SOLUTIONS_DIR, COURSE_NOTEBOOKS_DIR, COURSE_GRADING_DIR, COURSE_GRADEBOOK_URL.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

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
        return sorted(p.stem for p in self.solutions.glob("*.ipynb"))

    def graded_assignments(self) -> list[str]:
        """The assignments with at least one test cell worth points (not the reading-only ones)."""
        import nbformat

        from autograde import cells

        def graded(name):
            nb = nbformat.read(self.source(name), as_version=4)
            return any(cells.points(c) > 0 for c in cells.test_cells(nb))
        return [name for name in self.assignments() if graded(name)]

    def source(self, assignment: str) -> Path:
        return self.solutions / f"{assignment}.ipynb"

    def release(self, assignment: str) -> Path:
        return self.notebooks / f"{assignment}.ipynb"
