"""Grading on a Dask cluster: `python -m autograde grade FOLDER --scheduler tcp://HOST:8786`.

Dask (`distributed`) runs on a laptop (`dask scheduler` + `dask worker`), on Slurm
(dask-jobqueue's SLURMCluster), on Kubernetes (dask-kubernetes, the Dask Helm chart) and on cloud
clusters; docs/GRADING.md shows each. Each submission is one task:

- the main process reads the submission (notebook and the plain files beside it, never through a
  link) and sends its bytes, so workers need no access to the inbox;
- a worker needs the instructor's course checkout at the same path (a shared filesystem, or the
  same image) and grades in its own sandbox, with its own sandbox uid (`sandbox.claim_slot`:
  distinct per worker process on a machine) and, where the sandbox allows, its own warm zygote;
- the result comes back to the main process with the graded notebook, and is written atomically
  there as with local workers, so the batch stays resumable and exactly-once;
- a worker lost mid-batch costs nothing: the scheduler reruns its tasks on other workers; a task
  whose workers keep dying (Dask's `allowed_failures`) is recorded as graded with zero points and
  "needs a look", so the batch still finishes.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from autograde.config import Course
from autograde.grade import one_submission, sandbox, warm_kernels
from autograde.grade.sandbox import Limits

_STATE: dict = {}                 # per worker process: launcher, contexts


def payload(sub, course: Course, limits: Limits, cell_cpu: dict, warm: bool) -> dict:
    """What a worker needs to grade one submission, the files read here without following links."""
    files = {sub.path.name: one_submission.read_plain(sub.path, one_submission.MAX_NOTEBOOK_BYTES)}
    notes = []
    for entry in sorted(os.scandir(sub.path.parent), key=lambda e: e.name):
        if entry.name == sub.path.name or entry.name.endswith(".ipynb") or \
                entry.is_dir(follow_symlinks=False):
            continue
        try:
            files[entry.name] = one_submission.read_plain(Path(entry.path), one_submission.MAX_DATA_FILE_BYTES)
        except one_submission.Unsafe as err:
            notes.append(f"the file {entry.name!r} next to your notebook was not used: {err}")
    return {"course": course, "assignment": sub.assignment, "student": sub.student,
            "notebook": sub.path.name, "files": files, "notes": notes, "limits": limits,
            "cell_cpu": cell_cpu, "warm": warm}


def grade_task(job: dict) -> dict:
    """On a Dask worker: grade one submission; {"result", "graded": the executed notebook}."""
    course, name = job["course"], job["assignment"]
    slot = sandbox.claim_slot()
    if "launcher" not in _STATE:
        _STATE["launcher"] = warm_kernels.launcher(course, slot, job["limits"], job["warm"])
    contexts = _STATE.setdefault("contexts", {})
    if name not in contexts:
        contexts[name] = one_submission.load_context(course, name, job["cell_cpu"])
    with tempfile.TemporaryDirectory(prefix="autograde-task-") as tmp:
        inbox, private = Path(tmp) / "submission", Path(tmp) / "private"
        inbox.mkdir()
        for file_name, data in job["files"].items():
            (inbox / file_name).write_bytes(data)
        result = one_submission.grade_submission(contexts[name], job["student"], inbox / job["notebook"],
                                        private, slot, job["limits"], _STATE["launcher"])
        graded = private / "graded.ipynb"
        text = graded.read_text() if graded.exists() else None
    result["tampering"] = job["notes"] + result.get("tampering", [])
    result["needs_look"] = job["notes"] + result.get("needs_look", [])
    return {"result": result, "graded": text}


class DaskPool:
    """The same interface as batch.LocalPool, on the workers of a Dask scheduler."""

    def __init__(self, address: str, course: Course, limits: Limits, cell_cpu: dict,
                 warm: bool = True):
        from distributed import Client
        self.client = Client(address, timeout="30s")
        self.course, self.limits, self.cell_cpu, self.warm = course, limits, cell_cpu, warm

    def describe(self) -> str:
        workers = self.client.scheduler_info().get("workers", {})
        hosts = {w.get("host") for w in workers.values()}
        return f"{len(workers)} Dask workers on {len(hosts)} machine(s)"

    def run(self, todo: list, contexts: dict):
        from distributed import as_completed
        from distributed.client import FutureCancelledError
        futures = {}
        for sub in todo:
            job = payload(sub, self.course, self.limits, self.cell_cpu[sub.assignment], self.warm)
            future = self.client.submit(grade_task, job, pure=False,
                                        key=f"grade-{sub.assignment}-{sub.student}-{os.urandom(4).hex()}")
            futures[future] = sub
        for future in as_completed(futures):
            sub = futures[future]
            try:
                out = future.result()
            except (Exception, FutureCancelledError) as err:   # KilledWorker: died too often
                yield sub, one_submission.died_result(contexts[sub.assignment], sub,
                                                  f"the cluster could not grade this submission "
                                                  f"({type(err).__name__}: {err})"[:400])
                continue
            if out["graded"] is not None:
                path = one_submission.private_dir(self.course, sub) / "graded.ipynb"
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(out["graded"])
            yield sub, out["result"]

    def close(self) -> None:
        self.client.close()
