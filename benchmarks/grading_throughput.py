"""Grading throughput: our grader against plain, sequential `nbgrader autograde`, same submissions.

    python benchmarks/grading_throughput.py [--assignment toy|lora] [--students 12] [--workers N]

Builds N submissions from the assignment's sample generator (correct, partly wrong, untouched, in
turn) and grades them, one after the other in one run: with one `nbgrader autograde` call
(nbgrader's own sequential loop, its default preprocessors, hidden tests checked in-process; cells
tagged skip-grading removed, since nbgrader would run them), and with `python -m autograde grade`
three ways (a worker per core, sandboxed kernels, the verdict outside the kernel): cold kernels,
warm kernels (forked from a zygote), and on a local Dask cluster (`dask scheduler` + `dask
worker`). It prints submissions per minute and the ratios, whether the three gave identical
results, and the median time per part of a submission (kernel start, imports, other cells,
verdict). The one-off reference calibration of our grader is timed apart.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import nbformat  # noqa: E402

from autograde import cells  # noqa: E402
from autograde.build import authoring, release, samples  # noqa: E402
from autograde.config import Course  # noqa: E402
from autograde.grade import batch  # noqa: E402
from autograde.results import intake  # noqa: E402


def make_course(tmp: Path, assignment: str) -> Course:
    course = Course(solutions=tmp / "solutions", notebooks=tmp / "notebooks", work=tmp / "work")
    source = ROOT / ("tests/fixtures/toy/solutions" if assignment == "toy" else "solutions")
    shutil.copytree(source / assignment, course.folder(assignment),
                    ignore=shutil.ignore_patterns("__pycache__"))
    if assignment == "toy":
        course.source("toy").write_text(authoring.build(course.folder("toy") / "toy.py"))
    release.release(course)
    return course


def make_submissions(course: Course, assignment: str, n: int, folder: Path) -> None:
    kinds = samples.demo_samples(nbformat.read(course.source(assignment), as_version=4), assignment,
                                 course)
    cycle = ["correct", "partly_wrong", "untouched"]
    samples.write({f"student{i:03d}": kinds[cycle[i % 3]] for i in range(n)}, folder, assignment)


def _without_skipped(src: Path, dest: Path) -> None:
    """nbgrader knows no `skip-grading` tag: drop those cells so both graders run the same code."""
    nb = nbformat.read(src, as_version=4)
    nb.cells = [c for c in nb.cells if not cells.is_skipped(c)]
    nbformat.write(nb, dest)


def time_nbgrader(course: Course, assignment: str, inbox: Path, tmp: Path) -> float:
    root = tmp / "nbgrader"
    (root / "source" / assignment).mkdir(parents=True)
    _without_skipped(course.source(assignment), root / "source" / assignment / f"{assignment}.ipynb")
    for student in sorted(inbox.iterdir()):
        dest = root / "submitted" / student.name / assignment
        dest.mkdir(parents=True)
        _without_skipped(student / f"{assignment}.ipynb", dest / f"{assignment}.ipynb")
    exe = str(Path(sys.executable).with_name("nbgrader"))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COURSE_SOLUTIONS_DIR": str(course.solutions),
           "COURSE_GRADING_DIR": str(course.work), "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    common = [f"--CourseDirectory.root={root}", "--Execute.timeout=120", "--log-level=WARN"]
    subprocess.run([exe, "generate_assignment", assignment, "--force", *common], cwd=root, env=env,
                   check=True, capture_output=True)
    start = time.monotonic()
    subprocess.run([exe, "autograde", assignment, "--force", *common], cwd=root, env=env,
                   check=True, capture_output=True)
    return time.monotonic() - start


def _breakdown(results: list[dict]) -> dict:
    """Median seconds per submission: kernel start, imports (first + setup cells), other cells,
    verdict, and the whole submission as the worker saw it."""
    import statistics
    parts = {k: statistics.median(r["timing"][k] for r in results)
             for k in ("start_s", "imports_s", "cells_s", "verdict_s")}
    parts["total_s"] = statistics.median(r["seconds"] for r in results)
    return parts


def _dask_cluster(tmp: Path, workers: int):
    """A local Dask cluster as an instructor would start one: `dask scheduler` + `dask worker`."""
    import json
    bin_dir = Path(sys.executable).parent
    info = tmp / "scheduler.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [subprocess.Popen([str(bin_dir / "dask"), "scheduler", "--host", "127.0.0.1",
                               "--port", "0", "--no-dashboard", "--scheduler-file", str(info)],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)]
    while not info.exists():
        time.sleep(0.2)
    address = json.loads(info.read_text())["address"]
    procs.append(subprocess.Popen([str(bin_dir / "dask"), "worker", address, "--nworkers",
                                   str(workers), "--nthreads", "1", "--no-dashboard",
                                   "--memory-limit", "0"], env=env, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL, start_new_session=True))
    from distributed import Client
    with Client(address) as client:
        client.wait_for_workers(workers, timeout=120)
    return address, procs


def measure(assignment: str = "lora", students: int = 12, workers: int | None = None,
            dask: bool = True) -> dict:
    """Seconds for the same submissions graded by sequential `nbgrader autograde`, by our grader
    with cold kernels, with warm kernels, and on a local Dask cluster, one after the other."""
    import signal
    workers = workers or os.cpu_count()
    out = {"assignment": assignment, "workers": workers}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        course = make_course(tmp, assignment)
        inbox = tmp / "inbox"
        make_submissions(course, assignment, students, inbox)
        subs = intake.find(inbox, [assignment])
        out["n"] = len(subs)
        start = time.monotonic()
        batch.calibrate(course, assignment, batch.Limits())
        out["calibration"] = time.monotonic() - start
        scores = {}
        runs = [("cold", {"warm": False}), ("warm", {"warm": True})]
        if dask:
            address, procs = _dask_cluster(tmp, workers)
            runs.append(("dask", {"warm": True, "scheduler": address}))
        try:
            for name, kwargs in runs:
                start = time.monotonic()
                new = batch.grade_all(course, subs, workers, force=True, progress=False, **kwargs)
                out[name] = time.monotonic() - start
                out[f"{name}_parts"] = _breakdown(new)
                scores[name] = {r["student"]: r["tests"] for r in new}
        finally:
            if dask:
                for proc in procs:
                    os.killpg(proc.pid, signal.SIGKILL)
        out["identical"] = all(scores[k] == scores["cold"] for k in scores)
        out["nbgrader"] = time_nbgrader(course, assignment, inbox, tmp)
    return out


def run() -> list[dict]:
    """For `python -m benchmarks`: the LoRA assignment, 12 submissions."""
    from autograde.grade import warm_kernels
    from autograde.grade.sandbox import isolation_warning
    m = measure("lora", 12)
    per_min = {k: 60 * m["n"] / m[k] for k in ("nbgrader", "cold", "warm", "dask")}
    isolation = "sandboxed" if isolation_warning() is None else "NOT fully sandboxed"
    rows = [{"figure": f"grading {m['n']} LoRA submissions ({m['workers']} workers, {isolation}): "
                       "sequential `nbgrader autograde` / ours cold / ours warm / local Dask cluster",
             "value": " / ".join(f"{per_min[k]:.1f}" for k in per_min) + " per minute ("
                      + ", ".join(f"{k} {per_min[k] / per_min['nbgrader']:.2f}x" for k in
                                  ("cold", "warm", "dask"))
                      + f"; + {m['calibration']:.0f} s one-off calibration; scores "
                      + ("identical" if m["identical"] else "DIFFER") + " cold/warm/Dask)",
             "lecture": "warm local grader at least 6x sequential nbgrader on 2 cores"}]
    for k in ("cold", "warm"):
        parts = m[f"{k}_parts"]
        rows.append({"figure": f"grading one LoRA submission, {k}: median seconds per part",
                     "value": f"kernel start {parts['start_s']:.2f}, imports {parts['imports_s']:.2f}, "
                              f"other cells {parts['cells_s']:.2f}, verdict {parts['verdict_s']:.2f}; "
                              f"whole submission {parts['total_s']:.2f}"
                              + ("" if warm_kernels.available() or k == "cold" else " (warm unavailable: cold)"),
                     "lecture": "-"})
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--assignment", default="toy")
    ap.add_argument("--students", type=int, default=12)
    ap.add_argument("--workers", type=int, default=os.cpu_count())
    ap.add_argument("--no-dask", action="store_true")
    args = ap.parse_args()
    m = measure(args.assignment, args.students, args.workers, not args.no_dask)
    n = m["n"]
    print(f"{n} submissions of '{args.assignment}' on {os.cpu_count()} cores, {args.workers} workers")
    for k in ("nbgrader", "cold", "warm", "dask"):
        if k in m:
            print(f"  {k:9} {m[k]:7.1f} s  {60 * n / m[k]:6.1f} per minute  "
                  f"{m['nbgrader'] / m[k]:5.2f}x nbgrader")
    for k in ("cold", "warm"):
        print(f"  {k} per submission (median s):", {p: round(v, 2) for p, v in m[f"{k}_parts"].items()})
    print(f"  scores identical cold/warm/dask: {m['identical']}; calibration {m['calibration']:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
