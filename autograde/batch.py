"""Grading a class: submissions found, sharded, graded in parallel, resumable.

- One worker process per core; each grades one submission at a time in a fresh sandboxed kernel.
- Each result is a JSON file written atomically under `<work>/results/<assignment>/<student>.json`,
  tagged with the submission's sha256. A rerun skips submissions whose result matches, so an
  interrupted batch, run again, grades every submission exactly once. Only the main process writes
  the gradebook, from the result files (gradebook.sync), so the database is never half-written by
  a worker.
- `--shard i/n` grades the submissions whose student id hashes to i (0 <= i < n); shards that write
  to one shared work folder (or folders merged later with `python -m autograde merge`) give one
  gradebook.
- Before the batch, the reference runs once in the same sandbox: it must get full marks, and its
  CPU time per cell sets the cells' time limits.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import zlib
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

from tqdm.auto import tqdm

from autograde import cells, grade, lms, samples, verdict
from autograde.course import Course
from autograde.sandbox import Limits


# Finding submissions (LMS zips, student folders, nbgrader's submitted/) lives in autograde/lms.py.
Submission, find, unpack = lms.Submission, lms.find, lms.unpack


def shard(submissions: list[Submission], spec: str | None) -> list[Submission]:
    if not spec:
        return submissions
    i, n = map(int, spec.split("/"))
    if not 0 <= i < n:
        raise ValueError(f"--shard {spec}: expected i/n with 0 <= i < n")
    return [s for s in submissions if zlib.crc32(s.student.encode()) % n == i]


# ---------------------------------------------------------------- where results live
def result_path(course: Course, sub: Submission) -> Path:
    return course.work / "results" / sub.assignment / f"{sub.student}.json"


def private_dir(course: Course, sub: Submission) -> Path:
    return course.work / "runs" / sub.assignment / sub.student


def is_done(course: Course, sub: Submission) -> bool:
    path = result_path(course, sub)
    try:
        return json.loads(path.read_text())["submission_sha256"] == grade.sha256(sub.path)
    except (OSError, ValueError, KeyError):
        return False


def load_results(course: Course, assignment: str | None = None) -> list[dict]:
    pattern = f"{assignment or '*'}/*.json"
    return [json.loads(p.read_text()) for p in sorted((course.work / "results").glob(pattern))]


# ---------------------------------------------------------------- calibration
def calibrate(course: Course, name: str, limits: Limits) -> dict:
    """Grade the reference answers as a submission: full marks expected; CPU time sets cell limits."""
    cache = course.work / "reference" / f"{name}-{verdict.fingerprint(course, name)}.calibration.json"
    if cache.exists():
        return json.loads(cache.read_text())
    ctx = grade.load_context(course, name)
    generous = Limits(**{**limits.__dict__, "cell_cpu_min_s": 600.0, "submission_wall_s": 1800.0})
    private = course.work / "runs" / name / grade.REFERENCE_STUDENT
    submission = samples.write({grade.REFERENCE_STUDENT: samples.correct(ctx.source_nb, ctx.release_nb)},
                               course.work / "reference", name)[grade.REFERENCE_STUDENT]
    result = grade.grade_submission(ctx, grade.REFERENCE_STUDENT, submission, private, 0, generous)
    if result["score"] != result["max_score"] or result["needs_look"]:
        lost = [f"{t['id']}: {' | '.join(t['lines'][:2])}" for t in result["tests"]
                if t["score"] < t["points"]][:3]
        raise RuntimeError(f"the reference of {name} scores {result['score']}/{result['max_score']} "
                           f"when graded ({result['needs_look'] or 'no limit broken'}); lost points: "
                           f"{lost}; the executed notebook is {private / 'graded.ipynb'}. Fix the "
                           "source notebook, or the grading environment if it cannot import torch")
    ids = {c["key"]: c["cpu_s"] for c in result["cells"]}
    cell_cpu = {cell.get("id"): ids.get(cells.key(cell), 0.0) for cell in ctx.source_nb.cells}
    grade.write_json(cache, cell_cpu)
    return cell_cpu


# ---------------------------------------------------------------- workers
_SLOT = None
_CONTEXTS: dict = {}


def _init_worker(counter) -> None:
    global _SLOT
    with counter.get_lock():
        _SLOT = counter.value
        counter.value += 1


def _grade_one(course: Course, sub: Submission, limits: Limits, cell_cpu: dict) -> dict:
    """In a worker: grade one submission and write its result file (atomically)."""
    if sub.assignment not in _CONTEXTS:
        _CONTEXTS[sub.assignment] = grade.load_context(course, sub.assignment, cell_cpu)
    result = grade.grade_submission(_CONTEXTS[sub.assignment], sub.student, sub.path,
                                    private_dir(course, sub), _SLOT or 0, limits)
    grade.write_json(result_path(course, sub), result)
    return result


def grade_all(course: Course, submissions: list[Submission], workers: int | None = None,
              limits: Limits = Limits(), force: bool = False, progress: bool = True,
              on_result=None) -> list[dict]:
    """Grade the submissions not graded yet (all with force); returns the new results."""
    todo = [s for s in submissions if force or not is_done(course, s)]
    if not todo:
        return []
    grade.sweep_sandboxes()
    cell_cpu = {name: calibrate(course, name, limits) for name in sorted({s.assignment for s in todo})}
    workers = max(1, min(workers or os.cpu_count() or 1, len(todo)))
    results = []
    counter = mp.get_context("spawn").Value("i", 0)
    with ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn"),
                             initializer=_init_worker, initargs=(counter,)) as pool:
        futures = [pool.submit(_grade_one, course, s, limits, cell_cpu[s.assignment]) for s in todo]
        bar = tqdm(as_completed(futures), total=len(futures), desc="grading", unit="nb",
                   disable=not progress)
        for future in bar:
            result = future.result()
            results.append(result)
            if on_result:
                on_result(result)
    return results
