"""Grading a class: submissions found, sharded, graded in parallel, resumable.

- One worker process per core; each grades one submission at a time in a fresh sandboxed kernel.
- A worker that dies (killed, out of memory, a crash in the grader) costs only the submission it
  held: a fresh worker takes its place, the submission is graded once more, and if that kills its
  worker too it is recorded as graded with zero points and "needs a look". The batch always
  finishes with every submission graded or flagged.
- Each result is a JSON file written atomically by the main process under
  `<work>/results/<assignment>/<student>.json`, tagged with the submission's sha256. A rerun skips
  submissions whose result matches, so an interrupted batch, run again, grades every submission
  exactly once. Only the main process writes the gradebook, from the result files
  (gradebook.sync), so the database is never half-written by a worker.
- `--shard i/n` grades the submissions whose student id hashes to i (0 <= i < n); shards that write
  to one shared work folder (or folders merged later with `python -m autograde merge`) give one
  gradebook.
- Before the batch, the reference runs once in the same sandbox: it must get full marks, and its
  CPU time per cell sets the cells' time limits.
- Nothing is graded where no sandbox can run student code (`sandbox.require`: SandboxRefused, with
  what to do), unless the instructor allowed unsandboxed grading in so many words.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import multiprocessing.connection
import os
import zlib
from dataclasses import dataclass
from pathlib import Path

from tqdm.auto import tqdm

from autograde.build import reference
from autograde.config import Course
from autograde.grade import cluster, one_submission, sandbox, warm_kernels
from autograde.grade.sandbox import Limits


@dataclass(frozen=True)
class Submission:
    """A notebook to grade: what intake (autograde/results/intake.py) finds in LMS zips, student
    folders and nbgrader's submitted/."""

    student: str                     # the key: LMS user id, else the folder (hub user) name
    assignment: str
    path: Path
    name: str = ""                   # display name as the LMS gave it
    lms: str = ""                    # "canvas", "moodle" or ""
    late: bool = False               # Canvas's _LATE_


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


def is_done(course: Course, sub: Submission) -> bool:
    path = result_path(course, sub)
    try:
        return json.loads(path.read_text())["submission_sha256"] == one_submission.sha256(sub.path)
    except (OSError, ValueError, KeyError):
        return False


def load_results(course: Course, assignment: str | None = None) -> list[dict]:
    pattern = f"{assignment or '*'}/*.json"
    return [json.loads(p.read_text()) for p in sorted((course.work / "results").glob(pattern))]


def merge(course: Course, works: list[Path]) -> list[dict]:
    """Bring shards' work folders into this course's: every result file and the graded notebook
    beside it (what feedback, report and export read), newest grading first; returns the results."""
    merged = {}
    for work in works:
        for path in sorted((work / "results").glob("*/*.json")):
            result = json.loads(path.read_text())
            key = (result["assignment"], result["student"])
            if key in merged and merged[key][0].stat().st_mtime >= path.stat().st_mtime:
                continue
            merged[key] = (path, work, result)
    for (assignment, student), (path, work, result) in merged.items():
        graded = work / "runs" / assignment / student / "graded.ipynb"
        if graded.exists():
            target = course.work / "runs" / assignment / student / "graded.ipynb"
            target.parent.mkdir(parents=True, exist_ok=True)
            if graded.resolve() != target.resolve():
                tmp = target.with_name(f".graded.{os.getpid()}.tmp")
                tmp.write_bytes(graded.read_bytes())
                tmp.replace(target)
        if path.resolve() != (course.work / "results" / assignment / f"{student}.json").resolve():
            one_submission.write_json(course.work / "results" / assignment / f"{student}.json", result)
    return [result for _, _, result in merged.values()]


# ---------------------------------------------------------------- calibration
autograded_max = one_submission.autograded_max


def calibrate(course: Course, name: str, limits: Limits, stage: Path | None = None,
              measurer=None) -> dict:
    """The reference's CPU time per cell (and hidden step), cached per source version; measured by
    `measurer` (default: here, one_submission.measure_reference; a Dask pool measures on a worker)."""
    cache = course.work / "reference" / f"{name}-{reference.fingerprint(course, name)}.calibration.json"
    if cache.exists():
        return json.loads(cache.read_text())
    cpu = (measurer or one_submission.measure_reference)(course, name, limits, stage)
    one_submission.write_json(cache, cpu)
    return cpu


# ---------------------------------------------------------------- workers
# Fault injection for the tests: "alice,bob:once" kills the worker that picks alice's submission,
# every time, and the first worker that picks bob's.
FAULT_ENV = "AUTOGRADE_FAULT_KILL_WORKER"


def _injected_fault(course: Course, sub: Submission) -> None:
    for item in filter(None, os.environ.get(FAULT_ENV, "").split(",")):
        student, _, when = item.partition(":")
        if student != sub.student:
            continue
        marker = course.work / f".fault-{student}"
        if when == "once" and marker.exists():
            return
        marker.touch()
        os._exit(9)


def _worker(conn, course: Course, limits: Limits, contexts: dict, kernels, stage) -> None:
    """A worker process: grade each submission it is sent, send back its result."""
    sandbox.forget_inherited_slot()
    slot = sandbox.claim_slot()          # distinct from every other grading process here
    while True:
        sub = conn.recv()
        if sub is None:
            return
        _injected_fault(course, sub)
        conn.send(one_submission.grade_submission(contexts[sub.assignment], sub.student, sub.path,
                                                   one_submission.private_dir(course, sub), slot, limits,
                                                   kernels, stage))


class LocalPool:
    """`workers` processes on this machine, each with its own slot (sandbox.claim_slot: its
    sandbox uid) and its own kernel launcher. Workers are forked from the grader (Linux), so they
    start with its imports and its grading contexts; elsewhere they are spawned."""

    RETRIES = 1

    def __init__(self, course: Course, limits: Limits, contexts: dict, kernels: list,
                 stage: Path | None = None):
        self.course, self.limits, self.contexts, self.kernels = course, limits, contexts, kernels
        self.stage = stage
        methods = mp.get_all_start_methods()
        self.ctx = mp.get_context("fork" if "fork" in methods else "spawn")
        self.workers = [self._start(i) for i in range(len(kernels))]

    def _start(self, index: int):
        parent, child = self.ctx.Pipe()
        proc = self.ctx.Process(target=_worker, args=(child, self.course, self.limits,
                                                      self.contexts, self.kernels[index], self.stage),
                                daemon=True)
        proc.start()
        child.close()
        return {"proc": proc, "conn": parent, "sub": None, "index": index}

    def run(self, todo: list[Submission], contexts: dict):
        """Yield a result for every submission of `todo`, whatever happens to the workers."""
        queue, attempts = list(reversed(todo)), {}
        while queue or any(w["sub"] for w in self.workers):
            for w in self.workers:
                if w["sub"] is None and queue:
                    w["sub"] = queue.pop()
                    attempts[w["sub"]] = attempts.get(w["sub"], 0) + 1
                    w["conn"].send(w["sub"])
            busy = [w for w in self.workers if w["sub"]]
            ready = mp.connection.wait([w["conn"] for w in busy] + [w["proc"].sentinel for w in busy])
            for i, w in enumerate(self.workers):
                if w["sub"] is None:
                    continue
                if w["conn"] in ready:
                    try:
                        result = w["conn"].recv()
                    except (EOFError, OSError):
                        result = None
                        w["proc"].join(timeout=10)          # it is exiting: let it finish
                    if result is not None:
                        sub, w["sub"] = w["sub"], None
                        yield sub, result
                        continue
                if not w["proc"].is_alive():
                    sub, w["sub"] = w["sub"], None
                    code = w["proc"].exitcode
                    w["conn"].close()
                    kernels = self.kernels[w["index"]]      # it may have died mid-conversation
                    kernels.close()
                    if kernels.warm:
                        kernels.start()
                    self.workers[i] = self._start(w["index"])
                    if attempts[sub] <= self.RETRIES:
                        queue.append(sub)
                    else:
                        why = (f"the grader's worker died twice while grading this submission "
                               f"(exit code {code}): graded as zero, please look at it")
                        yield sub, one_submission.died_result(contexts[sub.assignment], sub, why)

    def close(self) -> None:
        for w in self.workers:
            try:
                w["conn"].send(None)
            except OSError:
                pass
        for w in self.workers:
            w["proc"].join(timeout=10)
            if w["proc"].is_alive():
                w["proc"].kill()
        for kernels in self.kernels:
            kernels.close()


def grade_all(course: Course, submissions: list[Submission], workers: int | None = None,
              limits: Limits = Limits(), force: bool = False, progress: bool = True,
              on_result=None, warm: bool = True, scheduler: str | None = None,
              security=None, protect=()) -> list[dict]:
    """Grade the submissions not graded yet (all with force); returns the new results.

    `warm`: fork kernels from a zygote per worker (warm_kernels.py). `scheduler`: a Dask
    scheduler's address: grade on its workers (cluster.py), not locally; `security`: its TLS
    certificates (cluster.security), required for anything but an explicitly insecure tcp://.
    `protect`: more folders the student's uid must not write ("user" mode; e.g. Gradescope's
    results folder). Raises sandbox.SandboxRefused where no sandbox may run student code."""
    if scheduler and security is None:
        security = cluster.connect(scheduler)   # refuses tcp:// (and tls:// without certificates)
    todo = [s for s in submissions if force or not is_done(course, s)]
    if not todo:
        return []
    if not scheduler:
        sandbox.require(course, protect)
    sandbox.sweep_folders()
    names = sorted({s.assignment for s in todo})
    stage = None
    if not scheduler:       # zygotes first: they import while the grader calibrates
        stage = sandbox.stage_cases(warm_kernels.cases_files(course))[0]
        count = max(1, min(workers or os.cpu_count() or 1, len(todo)))
        kernels = [warm_kernels.launcher(course, i, limits, warm) for i in range(count)]
    try:
        if scheduler:
            pool = cluster.DaskPool(scheduler, course, limits, {}, warm, security)
            cell_cpu = {name: calibrate(course, name, limits, measurer=pool.measure) for name in names}
        else:
            cell_cpu = {name: calibrate(course, name, limits, stage) for name in names}
        contexts = {name: one_submission.load_context(course, name, cell_cpu[name]) for name in names}
    except BaseException:
        for k in ([] if scheduler else kernels):
            k.close()
        if scheduler:
            pool.close()
        if stage is not None:
            sandbox.remove_base(stage)
        raise
    if scheduler:
        pool.start(cell_cpu)
        where = pool.describe()
    else:
        pool = LocalPool(course, limits, contexts, kernels, stage)
        where = f"{len(kernels)} workers" + (", warm kernels" if kernels[0].warm else "")
    results = []
    try:
        bar = tqdm(total=len(todo), desc=f"grading on {where}", unit="nb", disable=not progress)
        for sub, result in pool.run(todo, contexts):
            one_submission.write_json(result_path(course, sub), result)
            results.append(result)
            bar.update()
            if on_result:
                on_result(result)
        bar.close()
    finally:
        pool.close()
        if stage is not None:
            sandbox.remove_base(stage)
    return results
