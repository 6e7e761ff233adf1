"""Grading throughput: our grader against plain, sequential `nbgrader autograde`, same submissions.

    python benchmarks/grading_throughput.py [--assignment toy|lora] [--students 12] [--workers N]

Builds N submissions from the assignment's sample generator (correct, partly wrong, untouched, in
turn), grades them once with one `nbgrader autograde` call (nbgrader's own sequential loop, its
default preprocessors, hidden tests checked in-process; cells tagged skip-grading removed, since
nbgrader would run them) and once with `python -m autograde grade`
(a worker per core, sandboxed kernels, the verdict outside the kernel), and prints submissions per
minute for both and the ratio. The one-off reference calibration of our grader is timed apart.
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

from autograde import authoring, batch, cells, release, samples  # noqa: E402
from autograde.course import Course  # noqa: E402
import nbformat  # noqa: E402


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


def measure(assignment: str = "lora", students: int = 12, workers: int | None = None) -> dict:
    """Seconds for our grader and for sequential `nbgrader autograde` on the same submissions."""
    workers = workers or os.cpu_count()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        course = make_course(tmp, assignment)
        inbox = tmp / "inbox"
        make_submissions(course, assignment, students, inbox)
        subs = batch.find(inbox, [assignment])

        start = time.monotonic()
        batch.calibrate(course, assignment, batch.Limits())
        calibration = time.monotonic() - start
        start = time.monotonic()
        batch.grade_all(course, subs, workers, force=True, progress=False)
        ours = time.monotonic() - start

        theirs = time_nbgrader(course, assignment, inbox, tmp)
    return {"assignment": assignment, "n": len(subs), "workers": workers, "ours": ours,
            "theirs": theirs, "calibration": calibration}


def run() -> list[dict]:
    """For `python -m benchmarks`: the LoRA assignment, 12 submissions."""
    m = measure("lora", 12)
    per_min = lambda s: 60 * m["n"] / s  # noqa: E731
    from autograde.sandbox import isolation_warning
    isolation = "sandboxed" if isolation_warning() is None else "NOT sandboxed: no bwrap or not root"
    return [{"figure": f"grading {m['n']} LoRA submissions: `python -m autograde grade` "
                       f"({m['workers']} workers, {isolation}) vs sequential `nbgrader autograde`",
             "value": f"{per_min(m['ours']):.1f} vs {per_min(m['theirs']):.1f} per minute "
                      f"({m['theirs'] / m['ours']:.2f}x; + {m['calibration']:.0f} s one-off calibration)",
             "lecture": "a class of 200 graded within minutes on one machine"}]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--assignment", default="toy")
    ap.add_argument("--students", type=int, default=12)
    ap.add_argument("--workers", type=int, default=os.cpu_count())
    args = ap.parse_args()
    m = measure(args.assignment, args.students, args.workers)
    n, ours, theirs = m["n"], m["ours"], m["theirs"]
    print(f"{n} submissions of '{args.assignment}' on {os.cpu_count()} cores")
    print(f"  nbgrader autograde (sequential): {theirs:7.1f} s  {60 * n / theirs:6.1f} per minute")
    print(f"  python -m autograde grade ({args.workers} workers): {ours:7.1f} s  {60 * n / ours:6.1f} per minute"
          f"  (+ {m['calibration']:.1f} s one-off reference calibration)")
    print(f"  throughput ratio (ours / nbgrader): {theirs / ours:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
