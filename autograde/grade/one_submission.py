"""Grading one submission: read it safely, restore it, execute it in a sandbox, judge its records.

A test cell scores points * (passed (case, seed) checks) / (all its checks), from its hidden cases
alone: its visible checks are feedback (a failure is reported, it costs nothing). A test cell
without hidden checks (discouraged) scores its points when its visible part runs without error, as
in nbgrader. A manually graded answer counts its points in the maximum and stays pending (score
None) until a person grades it in the formgrader.
Whatever happens, the result is a graded submission: a crash or a limit is charged to the cells it
broke, said in a feedback line, and listed for the instructor under "needs a look".
"""

from __future__ import annotations

import hashlib
import os
import stat
import time
import traceback
import warnings
from dataclasses import dataclass
from pathlib import Path

import nbformat

from autograde import cells
from autograde.build import reference, release, samples
from autograde.config import Course
from autograde.grade import folders, records, restore, sandbox, verdict
from autograde.grade.execute import HIDDEN_SUFFIX, REASONS, Execution, execute
from autograde.grade.sandbox import Limits
from autograde.grade.warm_kernels import Cold
from autograde.result import SubmissionResult, TestResult
from autograde.work import GRADED_NOTEBOOK, REFERENCE

UNSANDBOXED = "student code ran WITHOUT a sandbox"     # the first words of that needs-a-look line
MAX_NOTEBOOK_BYTES = 64 * 2**20
MAX_DATA_FILE_BYTES = 50 * 2**20


@dataclass
class Context:
    """What grading one assignment needs, computed once per class in the main process."""

    course: Course
    name: str
    source_nb: nbformat.NotebookNode
    release_nb: nbformat.NotebookNode
    reference: dict                   # case_id -> reference and mistake outputs
    cell_cpu: dict                    # cell id (or id#hidden) -> the reference's CPU seconds

    @property
    def max_score(self) -> float:
        return sum(cells.points(c) for c in cells.graded_cells(self.source_nb))


def load_context(course: Course, name: str, cell_cpu: dict | None = None) -> Context:
    source_nb = nbformat.read(course.source(name), as_version=4)
    return Context(course, name, source_nb, release.release_notebook(source_nb),
                   reference.reference_outputs(course, name), cell_cpu or {})


# ---------------------------------------------------------------- reading a submission safely
class Unsafe(Exception):
    """A submission path that is not a plain file (a link, a FIFO, ...) or is too large."""


def read_plain(path: Path, limit: int) -> bytes:
    """The bytes of a regular file, opened without following a link (O_NOFOLLOW)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as err:
        raise Unsafe(f"{path.name} is a symbolic link or cannot be opened") from err
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise Unsafe(f"{path.name} is not a regular file")
        if st.st_size > limit:
            raise Unsafe(f"{path.name} is larger than {limit // 2**20} MB")
        chunks = []
        while chunk := os.read(fd, 2**20):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def sha256(path: Path) -> str:
    try:
        return hashlib.sha256(read_plain(path, MAX_NOTEBOOK_BYTES)).hexdigest()
    except Unsafe:
        return "unsafe:" + hashlib.sha256(str(path).encode()).hexdigest()


def copy_data_files(notebook: Path, folder: Path) -> tuple[list[str], list[str]]:
    """Copy the plain files beside the notebook into the sandbox folder (created there, never
    through a link); links and other special files are never followed, only reported.
    Returns (the names copied, notes)."""
    names, notes = [], []
    with folders.opened(folder) as folder_fd:
        for entry in sorted(os.scandir(notebook.parent), key=lambda e: e.name):
            if entry.name == notebook.name or entry.name.endswith(".ipynb") or entry.is_dir(
                    follow_symlinks=False):
                continue
            try:
                data = read_plain(Path(entry.path), MAX_DATA_FILE_BYTES)
            except Unsafe as err:
                notes.append(f"the file {entry.name!r} next to your notebook was not used: {err}")
                continue
            try:
                folders.write_file(folder_fd, entry.name, data)
            except OSError as err:
                notes.append(f"the file {entry.name!r} next to your notebook was not used: {err}")
                continue
            names.append(entry.name)
    return names, notes


# ---------------------------------------------------------------- scoring
def score_test(cell, run, broken: dict, owners: list, ctx: Context) -> TestResult:
    points, calls = cells.points(cell), cells.hidden_calls(cell)
    lines = [f"your cell '{o}' {REASONS[broken[o]]}" for o in owners if o in broken]
    if run.status in REASONS:
        lines.append(f"the visible checks of this cell {REASONS[run.status]}")
    if run.error:
        lines.append(f"visible check: {run.error}" if calls else
                     f"the test cell stopped with {run.error}")
    if run.hidden_status in REASONS:
        lines.append(f"the hidden tests of this cell {REASONS[run.hidden_status]}")
    verdicts = [verdict.judge(cid, records.outputs_by_seed(run.records[cid]) if cid in run.records
                              else None, ctx.reference[cid], ctx.course) for cid, _ in calls]
    for v in verdicts:
        lines += v.lines()
    passed, total = sum(v.passed for v in verdicts), sum(v.total for v in verdicts)
    if calls:
        score = points * passed / total
    else:
        passed, total = int(run.status == "ok"), 1
        score = points * passed
    return TestResult(cells.grade_id(cell), points, round(score, 6), passed, total, lines,
                      [v.mistake.name for v in verdicts if v.mistake])


def score_manual(cell) -> TestResult:
    return TestResult(cells.grade_id(cell), cells.points(cell), None, manual=True, lines=[
        "graded by hand: your instructor's score appears once it is given"])


def score(nb, execution: Execution, ctx: Context) -> list[TestResult]:
    runs = {c.key: c for c in execution.cells}
    broken = {c.key: c.status for c in execution.cells if c.status in REASONS}
    owners = cells.exercises(nb)
    return [score_manual(cell) if cells.is_manual(cell) else
            score_test(cell, runs[cells.grade_id(cell)], broken,
                       owners.get(cells.grade_id(cell), []), ctx)
            for cell in cells.graded_cells(nb)]


def _zero(ctx: Context, why: str) -> list[TestResult]:
    return [score_manual(c) if cells.is_manual(c) else
            TestResult(cells.grade_id(c), cells.points(c), 0.0, 0, 1, [why])
            for c in cells.graded_cells(ctx.source_nb)]


def total(tests: list[TestResult]) -> float:
    """The autograded score so far (manual answers still pending count nothing)."""
    return round(sum(t.score or 0.0 for t in tests), 6)


# ---------------------------------------------------------------- one submission
def _run(ctx: Context, notebook: Path, private: Path, slot: int, limits: Limits,
         launcher, solutions: Path | None = None, cases: Path | None = None) -> dict:
    solutions = solutions or ctx.course.solutions
    cases = cases or ctx.course.cases_file(ctx.name)
    try:
        data = read_plain(notebook, MAX_NOTEBOOK_BYTES)
    except Unsafe as err:
        return {"tests": _zero(ctx, f"your notebook was not graded: {err}"),
                "needs_look": [f"the submitted notebook is not a plain file: {err}"]}
    try:
        with warnings.catch_warnings():          # duplicate cell ids are restore's business
            warnings.simplefilter("ignore")
            submitted = nbformat.reads(data.decode("utf-8"), as_version=4)
    except Exception as err:
        return {"tests": _zero(ctx, f"your notebook could not be read ({type(err).__name__})"),
                "needs_look": ["the notebook could not be read"]}
    nb, tampering = restore.restore(ctx.source_nb, submitted, ctx.release_nb)
    folder = launcher.make_folder(limits)
    try:
        names, notes = copy_data_files(notebook, folder)
        notes += sandbox.prepare_folder(folder, slot, names)
        execution = execute(nb, folder, private, slot, limits, ctx.cell_cpu, solutions,
                            [cases], launcher)
    finally:
        launcher.remove_folder(folder)
        if sandbox.mode() == "user":          # what the uid left where everyone can write
            folders.remove_owned_by(sandbox.sandbox_uid(slot))
    nbformat.write(nb, private / GRADED_NOTEBOOK)
    problems = execution.problems()
    t0 = time.monotonic()
    tests = score(nb, execution, ctx)
    forged = execution.tampering + records.refusals(execution.cells)
    isolation = execution.isolation or sandbox.describe(sandbox.mode(), None, launcher.warm, slot, limits)
    unsafe = [f"{UNSANDBOXED} ({isolation['means']})"] if isolation["mode"] == "unsandboxed" else []
    return {"tests": tests, "tampering": tampering + notes + forged,
            "timing": _timing(nb, execution, time.monotonic() - t0),
            "problems": problems, "restarts": execution.restarts, "isolation": isolation,
            "needs_look": unsafe + problems + tampering + notes + forged,
            "cells": [{"key": c.key, "status": c.status, "cpu_s": round(c.cpu_s, 3),
                       "hidden_status": c.hidden_status, "hidden_cpu_s": round(c.hidden_cpu_s, 3)}
                      for c in execution.cells]}


def _timing(nb, execution: Execution, verdict_s: float) -> dict:
    """Where a submission's wall time went: starting kernels, the environment and setup cells
    (imports), the other cells (the student's code and the checks), the verdict."""
    by_index = {c.index: c for c in execution.cells}
    first_code = next((i for i, c in enumerate(nb.cells) if c.cell_type == "code"), None)
    imports = sum(r.wall_s for i, r in by_index.items()
                  if i == first_code or cells.is_setup(nb.cells[i]))
    total = sum(r.wall_s for r in execution.cells)
    return {"start_s": round(execution.start_s, 3), "imports_s": round(imports, 3),
            "cells_s": round(total - imports, 3), "verdict_s": round(verdict_s, 3),
            "stop_s": round(execution.stop_s, 3),
            "start_parts": {k: round(v, 4) for k, v in execution.start_parts.items()}}


def grade_submission(ctx: Context, student: str, notebook: Path, private: Path, slot: int = 0,
                     limits: Limits = Limits(), launcher=None,
                     stage: Path | None = None) -> SubmissionResult:
    """Grade one notebook; never raises (a grader error is itself a result that needs a look),
    except SandboxRefused: where no sandbox may run student code, nothing is graded.

    `launcher` starts the kernels: warm_kernels.Cold() (default) or a worker's Warm zygote.
    `stage`: where sandbox.stage_cases copied the cases ("user" mode; None: the course's own)."""
    start = time.monotonic()
    private.mkdir(parents=True, exist_ok=True)
    launcher = launcher or Cold()
    sandbox.require()
    solutions = stage if stage is not None else None
    cases = stage / ctx.name / "cases.py" if stage is not None else None
    try:
        body = _run(ctx, notebook, private, slot, limits, launcher, solutions, cases)
    except sandbox.SandboxRefused:
        raise
    except Exception:
        body = {"tests": _zero(ctx, "the grader failed on this submission; your instructor will look"),
                "needs_look": ["grader error: " + traceback.format_exc(limit=3)[-800:]]}
    body = {"isolation": sandbox.describe(sandbox.mode(), None, launcher.warm, slot, limits), **body}
    return SubmissionResult(student, ctx.name, total(body["tests"]), ctx.max_score,
                            submission_sha256=sha256(notebook),
                            seconds=round(time.monotonic() - start, 2), sandbox=sandbox.mode(),
                            sandboxed=sandbox.mode() in sandbox.SANDBOXED, **body)


def died_result(ctx: Context, sub, why: str) -> SubmissionResult:
    """The result of a submission that killed the grader's worker twice: graded, flagged."""
    tests = _zero(ctx, "the grader could not finish this submission; your instructor will "
                  "look at it")
    return SubmissionResult(sub.student, sub.assignment, total(tests), ctx.max_score, tests,
                            submission_sha256=sha256(sub.path), sandbox=sandbox.mode(),
                            sandboxed=sandbox.mode() in sandbox.SANDBOXED, problems=[why],
                            needs_look=[why], cells=[])


def measure_reference(course: Course, name: str, limits: Limits, stage: Path | None = None) -> dict:
    """Grade the reference answers as a submission, in the sandbox: full marks expected; returns
    their CPU time per cell (and hidden step), which sets the cells' limits (batch.calibrate)."""
    if stage is None and sandbox.mode() == "user":     # the kernel may not read solutions/
        stage = sandbox.stage_cases([course.cases_file(name)])[0]
        try:
            return measure_reference(course, name, limits, stage)
        finally:
            sandbox.remove_base(stage)
    ctx, work = load_context(course, name), course.work_folder
    generous = Limits(**{**limits.__dict__, "cell_cpu_min_s": 600.0, "submission_wall_s": 1800.0})
    notebook = samples.write({REFERENCE: samples.correct(ctx.source_nb, ctx.release_nb)},
                             work.reference_submissions(), name)[REFERENCE]
    result = grade_submission(ctx, REFERENCE, notebook, work.run_folder(name, REFERENCE),
                              sandbox.claim_slot(), generous, stage=stage)
    looks = [n for n in result.needs_look if not n.startswith(UNSANDBOXED)]
    if result.score != result.autograded_max or looks:
        lost = [f"{t.id}: {' | '.join(t.lines[:3])}" for t in result.tests
                if t.score is not None and t.score < t.points][:3]
        raise RuntimeError(f"the reference of {name} scores {result.score}/{result.autograded_max} "
                           f"when graded ({looks or 'no limit broken'}); lost points: "
                           f"{lost}; the executed notebook is {work.graded_notebook(name, REFERENCE)}. "
                           "Fix the source notebook, or the grading environment if it cannot import torch")
    return cell_cpu(result, ctx.source_nb)


def cell_cpu(result: SubmissionResult, source_nb) -> dict:
    """Calibration: {cell id: CPU seconds, cell id#hidden: CPU seconds} of a graded reference."""
    by_key = {c["key"]: c for c in result.cells or []}
    out = {}
    for cell in source_nb.cells:
        run = by_key.get(cells.key(cell))
        if run is not None:
            out[cell.get("id")] = run["cpu_s"]
            out[f"{cell.get('id')}{HIDDEN_SUFFIX}"] = run.get("hidden_cpu_s", 0.0)
    return out
