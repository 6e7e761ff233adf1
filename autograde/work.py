"""The grading work folder (the course's `work`, .grading/ by default): what lives where in it, and
the one way anything is written there (atomically: a reader, or a resumed run, sees the old file
or the new one, never half of one).

    results/<assignment>/<student>.json    a SubmissionResult (autograde/result.py), tagged with the
                                           submission's sha256: a rerun skips what is graded
    runs/<assignment>/<student>/graded.ipynb   the notebook as it was executed (feedback, autograded/)
    reference/<assignment>-<fingerprint>.pt    the reference's and the named mistakes' outputs
    reference/<assignment>-<fingerprint>.calibration.json   the reference's CPU time per cell
    reference/<assignment>/__reference__.ipynb the reference answers, graded to calibrate
    similarity/<assignment>.json, .html    `python -m autograde similarity`
    demo-submissions/                      the demo's sample submissions (`python -m autograde demo`)
    cluster/                               a Dask cluster's certificates (`cluster-certs`)
    gradebook.db                           the gradebook (SQLite, unless COURSE_GRADEBOOK_URL)

The reference is graded as the student REFERENCE, whose result is never a student's.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from autograde.result import SubmissionResult

REFERENCE = "__reference__"           # the student the reference answers are graded as
GRADED_NOTEBOOK = "graded.ipynb"      # in a submission's run folder


def write_atomic(path: Path, data: str | bytes | Callable[[Path], None]) -> Path:
    """Write text, bytes, or what `data(tmp_path)` writes, to `path` atomically (a temporary file
    beside it, then a rename); the folder is made if need be."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    if isinstance(data, str):
        tmp.write_text(data)
    elif isinstance(data, bytes):
        tmp.write_bytes(data)
    else:
        data(tmp)
    tmp.replace(path)
    return path


def write_json(path: Path, data) -> Path:
    """A JSON file as the work folder keeps them (indented, keys sorted), atomically."""
    return write_atomic(path, json.dumps(data, indent=1, sort_keys=True))


@dataclass(frozen=True)
class WorkFolder:
    """The paths of one work folder, and its results."""

    root: Path

    # ------------------------------------------------------------ where things are
    def result_file(self, assignment: str, student: str) -> Path:
        return self.root / "results" / assignment / f"{student}.json"

    def run_folder(self, assignment: str, student: str) -> Path:
        """A submission's own folder: its executed notebook."""
        return self.root / "runs" / assignment / student

    def graded_notebook(self, assignment: str, student: str) -> Path:
        return self.run_folder(assignment, student) / GRADED_NOTEBOOK

    def reference_file(self, assignment: str, fingerprint: str, suffix: str = ".pt") -> Path:
        """The reference's outputs (.pt) or its calibration (.calibration.json) for a version of
        the assignment's files (build/reference.py's fingerprint)."""
        return self.root / "reference" / f"{assignment}-{fingerprint}{suffix}"

    def reference_submissions(self) -> Path:
        """Where the reference answers are written as a submission to calibrate."""
        return self.root / "reference"

    def similarity_file(self, assignment: str, suffix: str = ".json") -> Path:
        return self.root / "similarity" / f"{assignment}{suffix}"

    def demo_inbox(self) -> Path:
        return self.root / "demo-submissions"

    def cluster_certs(self) -> Path:
        """The Dask cluster's certificates (`python -m autograde cluster-certs`), by default."""
        return self.root / "cluster"

    def gradebook_file(self) -> Path:
        return self.root / "gradebook.db"

    # ------------------------------------------------------------ results
    def save(self, result: SubmissionResult) -> Path:
        return write_json(self.result_file(result.assignment, result.student), result.to_json())

    def load_one(self, assignment: str, student: str) -> SubmissionResult | None:
        """The student's result, or None where there is none (or only a file that is not one)."""
        try:
            return SubmissionResult.from_json(
                json.loads(self.result_file(assignment, student).read_text()))
        except (OSError, ValueError, TypeError, KeyError):
            return None

    def load(self, assignment: str | None = None) -> list[SubmissionResult]:
        """Every result of the assignment (all without one), the reference's included."""
        pattern = f"{assignment or '*'}/*.json"
        return [SubmissionResult.from_json(json.loads(p.read_text()))
                for p in sorted((self.root / "results").glob(pattern))]

    def write_graded(self, assignment: str, student: str, text: str | bytes | Path) -> Path:
        """A submission's executed notebook (its text, or a file to copy) into its run folder."""
        if isinstance(text, Path):
            text = text.read_bytes()
        return write_atomic(self.graded_notebook(assignment, student), text)

    def merge(self, others: list[Path]) -> list[SubmissionResult]:
        """Bring other work folders' results (shards') into this one: every result file and the
        graded notebook beside it, the newest grading of a submission winning; returns them."""
        merged: dict = {}
        for other in map(WorkFolder, others):
            for path in sorted((other.root / "results").glob("*/*.json")):
                result = SubmissionResult.from_json(json.loads(path.read_text()))
                key = (result.assignment, result.student)
                if key in merged and merged[key][0].stat().st_mtime >= path.stat().st_mtime:
                    continue
                merged[key] = (path, other, result)
        for (assignment, student), (path, other, result) in merged.items():
            graded = other.graded_notebook(assignment, student)
            here = self.graded_notebook(assignment, student)
            if graded.exists() and graded.resolve() != here.resolve():
                self.write_graded(assignment, student, graded)
            if path.resolve() != self.result_file(assignment, student).resolve():
                self.save(result)
        return [result for _, _, result in merged.values()]
