"""The reference, from the source notebook: its outputs on every hidden case, and the named mistakes'.

The reference is never a separate module: it is extracted from the source notebook (setup cells +
solution cells, exec'd here, in the instructor's process), then each hidden case runs on it with the
same seeds and the same runtime as in the student's kernel (autograde/sandboxed/recorder.py,
`run_case`). Reference outputs (and the outputs of the named mistakes in
`solutions/<assignment>/mistakes.py`) are computed once per class and cached on disk, keyed by a
fingerprint of every file they depend on; the verdict (autograde/grade/verdict.py) reads them.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import nbformat
import torch

from autograde import cells
from autograde.config import ROOT, Course
from autograde.sandboxed.recorder import run_case
from autograde.spec import load_case, load_mistakes


def reference_namespace(source_nb) -> dict:
    """Exec the setup and solution cells of the source notebook into a fresh namespace."""
    namespace = {"__name__": "reference"}
    for cell in source_nb.cells:
        if cell.cell_type == "code" and (cells.is_setup(cell) or cells.is_solution(cell)):
            exec(compile(cell.source, f"<reference {cells.grade_id(cell) or 'setup'}>", "exec"),
                 namespace)
    return namespace


def case_calls(source_nb) -> dict[str, tuple[str, dict]]:
    """{case_id: (test cell grade id, {keyword: expression})} for every hidden_check in the source."""
    calls = {}
    for cell in cells.test_cells(source_nb):
        for case_id, kwargs in cells.hidden_calls(cell):
            if case_id in calls:
                raise ValueError(f"hidden case {case_id} is used by two test cells")
            calls[case_id] = (cells.grade_id(cell), kwargs)
    return calls


def fingerprint(course: Course, assignment: str) -> str:
    files = [course.source(assignment), course.cases_file(assignment),
             course.mistakes_file(assignment), Path(__file__), ROOT / "autograde" / "grade" / "verdict.py",
             ROOT / "autograde" / "sandboxed" / "recorder.py", ROOT / "autograde" / "spec.py",
             *sorted((ROOT / "course_lib").rglob("*.py"))]     # cases build on course_lib
    digest = hashlib.sha256()
    for f in files:
        digest.update(f.read_bytes() if f.exists() else b"-")
    return digest.hexdigest()[:16]


def compute_reference(source_nb, assignment: str, course: Course | None = None) -> dict:
    """{case_id: {"reference": results, "mistakes": {name: results}}} (runs the reference here)."""
    course = course or Course.from_env()
    namespace = reference_namespace(source_nb)
    mistakes = load_mistakes(assignment, course)
    out = {}
    for case_id, (_, kwargs) in case_calls(source_nb).items():
        case = load_case(case_id, course.solutions)
        objects = {k: eval(expr, namespace) for k, expr in kwargs.items()}
        reference = run_case(case, objects)
        broken = {s: r["error"] for s, r in reference.items() if "error" in r}
        if broken:
            raise RuntimeError(f"the reference fails hidden case {case_id}: {broken}")
        variants = {m.name: run_case(case, m.make(dict(objects)))
                    for m in mistakes.get(case_id.partition(".")[2], [])}
        out[case_id] = {"reference": reference, "mistakes": variants}
    return out


def reference_outputs(course: Course, assignment: str) -> dict:
    """Cached compute_reference for the assignment (recomputed when a source file changes)."""
    cache = course.work / "reference" / f"{assignment}-{fingerprint(course, assignment)}.pt"
    if cache.exists():
        return torch.load(cache, weights_only=True)
    source_nb = nbformat.read(course.source(assignment), as_version=4)
    outputs = compute_reference(source_nb, assignment, course)
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_suffix(f".{os.getpid()}.tmp")
    torch.save(outputs, tmp)
    os.replace(tmp, cache)
    return outputs


