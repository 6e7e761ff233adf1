"""Grading one submission: restore it, execute it in a sandbox, judge its records, score test cells.

A test cell scores points * (passed (case, seed) checks) / (all its checks); a test cell without
hidden checks (discouraged) scores its points when it runs without error, as in nbgrader.
Whatever happens, the result is a graded submission: a crash or a limit is charged to the cells it
broke, said in a feedback line, and listed for the instructor under "needs a look".
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
import traceback
import warnings
from dataclasses import dataclass
from pathlib import Path

import nbformat

from autograde import cells, release, restore, sandbox, verdict
from autograde.course import Course
from autograde.execute import REASONS, Execution, chown_back, execute
from autograde.sandbox import Limits

REFERENCE_STUDENT = "__reference__"


@dataclass
class Context:
    """What grading one assignment needs, computed once per class in the main process."""

    course: Course
    name: str
    source_nb: nbformat.NotebookNode
    release_nb: nbformat.NotebookNode
    reference: dict                   # case_id -> reference and mistake outputs
    cell_cpu: dict                    # cell id -> the reference's CPU seconds (time limits)

    @property
    def max_score(self) -> float:
        return sum(cells.points(c) for c in cells.test_cells(self.source_nb))


def load_context(course: Course, name: str, cell_cpu: dict | None = None) -> Context:
    source_nb = nbformat.read(course.source(name), as_version=4)
    return Context(course, name, source_nb, release.release_notebook(source_nb),
                   verdict.reference_outputs(course, name), cell_cpu or {})


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ---------------------------------------------------------------- scoring
def _owners(nb) -> dict:
    """test cell grade id -> the solution cells since the previous test cell (its exercise)."""
    owners, pending = {}, []
    for cell in nb.cells:
        if cells.is_solution(cell):
            pending.append(cells.grade_id(cell))
        elif cells.is_test(cell):
            owners[cells.grade_id(cell)], pending = pending, []
    return owners


def _case_lines(v: verdict.CaseVerdict, ctx: Context) -> list[str]:
    lines = [f"hidden test {v.case_id}: {v.passed}/{v.total} checks passed"]
    lines += [f"  {h}" for h in v.hints]
    if v.mistake:
        lines.append(f"  looks like a known mistake: {verdict.mistake_hint(ctx.name, v.case_id, v.mistake, ctx.course)}")
    return lines


def score_test(cell, run, broken: dict, owners: list, ctx: Context) -> dict:
    points, calls = cells.points(cell), cells.hidden_calls(cell)
    lines = [f"your cell '{o}' {REASONS[broken[o]]}" for o in owners if o in broken]
    if run.status in REASONS:
        lines.append(f"this test cell {REASONS[run.status]}")
    if run.error:
        lines.append(f"the test cell stopped with {run.error}")
    verdicts = [verdict.judge(cid, verdict.read_record(run.records[cid]) if cid in run.records else None,
                              ctx.reference[cid], ctx.course) for cid, _ in calls]
    for v in verdicts:
        lines += _case_lines(v, ctx)
    passed, total = sum(v.passed for v in verdicts), sum(v.total for v in verdicts)
    if calls:
        score = points * passed / total
    else:
        passed, total = int(run.status == "ok"), 1
        score = points * passed
    return {"id": cells.grade_id(cell), "points": points, "score": round(score, 6),
            "passed": passed, "total": total, "lines": lines,
            "mistakes": [v.mistake for v in verdicts if v.mistake]}


def score(nb, execution: Execution, ctx: Context) -> list[dict]:
    runs = {c.key: c for c in execution.cells}
    broken = {c.key: c.status for c in execution.cells if c.status in REASONS}
    owners = _owners(nb)
    return [score_test(cell, runs[cells.grade_id(cell)], broken, owners.get(cells.grade_id(cell), []), ctx)
            for cell in cells.test_cells(nb)]


def _zero(ctx: Context, why: str) -> list[dict]:
    return [{"id": cells.grade_id(c), "points": cells.points(c), "score": 0.0, "passed": 0,
             "total": 1, "lines": [why], "mistakes": []} for c in cells.test_cells(ctx.source_nb)]


# ---------------------------------------------------------------- one submission
def _run(ctx: Context, submission: Path, private: Path, slot: int, limits: Limits) -> dict:
    try:
        with warnings.catch_warnings():          # duplicate cell ids are restore's business
            warnings.simplefilter("ignore")
            submitted = nbformat.read(submission, as_version=4)
    except Exception as err:
        return {"tests": _zero(ctx, f"your notebook could not be read ({type(err).__name__})"),
                "needs_look": ["the notebook could not be read"]}
    nb, tampering = restore.restore(ctx.source_nb, submitted, ctx.release_nb)
    folder = Path(tempfile.mkdtemp(prefix=f"ag-{os.getpid()}-", dir="/tmp"))   # short: ipc paths
    try:
        for extra in submission.parent.iterdir():                 # data files next to the notebook
            if extra.is_file() and extra.suffix != ".ipynb" and extra.stat().st_size < 50 * 2**20:
                shutil.copyfile(extra, folder / extra.name)
        execution = execute(nb, folder, private, slot, limits, ctx.cell_cpu, ctx.course.solutions,
                            [ctx.course.cases_file(ctx.name)])
    finally:
        chown_back(folder)
        shutil.rmtree(folder, ignore_errors=True)
    nbformat.write(nb, private / "graded.ipynb")
    problems = execution.problems()
    return {"tests": score(nb, execution, ctx), "tampering": tampering, "problems": problems,
            "restarts": execution.restarts, "needs_look": problems + tampering,
            "cells": [{"key": c.key, "status": c.status, "cpu_s": round(c.cpu_s, 3)}
                      for c in execution.cells]}


def grade_submission(ctx: Context, student: str, submission: Path, private: Path, slot: int = 0,
                     limits: Limits = Limits()) -> dict:
    """Grade one notebook; never raises (a grader error is itself a result that needs a look)."""
    start = time.monotonic()
    private.mkdir(parents=True, exist_ok=True)
    try:
        body = _run(ctx, submission, private, slot, limits)
    except Exception:
        body = {"tests": _zero(ctx, "the grader failed on this submission; your instructor will look"),
                "needs_look": ["grader error: " + traceback.format_exc(limit=3)[-800:]]}
    result = {"student": student, "assignment": ctx.name, "submission_sha256": sha256(submission),
              "score": round(sum(t["score"] for t in body["tests"]), 6), "max_score": ctx.max_score,
              "seconds": round(time.monotonic() - start, 2), "sandboxed": sandbox.isolation_warning() is None,
              "tampering": [], "problems": [], "needs_look": [], **body}
    return result


def sweep_sandboxes() -> None:
    """Remove sandbox folders left by graders that were killed (their pid is gone)."""
    for folder in Path("/tmp").glob("ag-*-*"):
        pid = folder.name.split("-")[1]
        if pid.isdigit() and not os.path.exists(f"/proc/{pid}"):
            chown_back(folder)
            shutil.rmtree(folder, ignore_errors=True)


def write_json(path: Path, data: dict) -> None:
    """Atomic write: a reader (or a resumed run) sees the old file or the new one, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
    tmp.replace(path)
