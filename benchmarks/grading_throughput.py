"""Grading throughput: our grader in every mode against plain, sequential `nbgrader autograde`, on the
same submissions, in one run, for every assignment's sample class.

    python benchmarks/grading_throughput.py                       # every assignment, 6 students each
    python benchmarks/grading_throughput.py --assignments lora,moe --students 12 [--workers N]
    python benchmarks/grading_throughput.py --modes warm,dask     # some modes only
    python benchmarks/grading_throughput.py --scaling 1,2,4,8,16 --assignments lora --students 96

For each assignment it builds a class from the assignment's sample generator (correct, partly wrong,
untouched, in turn) and grades it, one mode after the other:

- `nbgrader`: one `nbgrader autograde` call (nbgrader's own sequential loop, its default
  preprocessors, hidden tests checked in-process; cells tagged skip-grading removed);
- `cold`: `grade_all` with a worker per core, a fresh sandboxed kernel per submission;
- `warm`: the same with kernels forked from a zygote per worker (the default);
- `warm_nocg`: warm where no control group can be made, as in most containers: a child process in
  a mount namespace of its own with an empty tmpfs over /sys/fs/cgroup (`unshare -m`; root only);
  rlimits and the watchdog hold the limits there;
- `dask`: a local Dask cluster over mutual TLS (`dask scheduler` + `dask worker --nworkers N
  --preload autograde.grade.cluster`, started before the timing, as a cluster is before a batch).

It prints submissions per minute and the ratio to nbgrader for each mode, both over the whole run
(wall clock from the call to the last result, one-off start-up included) and in steady state
(between the first result and the last: a class of hundreds), whether every mode gave identical
scores, the median seconds per part of a submission (kernel start, imports, other cells, verdict,
stop), the warm kernel start step by step, and the 600-student estimate from each notebook's own
warm cost. The one-off reference calibration is timed apart. Quiet machine: rerun with
`nice -n -5` and nothing else running; the ratios come from one run.

`--scaling` measures warm local workers and Dask workers at each count on one many-core machine.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import nbformat  # noqa: E402

from autograde import cells  # noqa: E402
from autograde.build import release, samples  # noqa: E402
from autograde.config import Course  # noqa: E402
from autograde.grade import batch, cgroups, cluster, sandbox  # noqa: E402
from autograde.result import results_of  # noqa: E402
from autograde.results import intake  # noqa: E402

MODES = ("nbgrader", "cold", "warm", "warm_nocg", "dask")
PARTS = ("start_s", "imports_s", "cells_s", "verdict_s", "stop_s")
STUDENTS_A_TERM = 600


def make_course(tmp: Path, assignments: list[str]) -> Course:
    """A private copy of the assignments (its work folder and calibration of its own)."""
    course = Course(solutions=tmp / "solutions", notebooks=tmp / "notebooks", work=tmp / "work")
    for name in assignments:
        source = ROOT / ("tests/fixtures/toy/solutions" if name == "toy" else "solutions")
        shutil.copytree(source / name, course.folder(name), ignore=shutil.ignore_patterns("__pycache__"))
        if name == "toy":
            from autograde.build import authoring
            course.source("toy").write_text(authoring.build(course.folder("toy") / "toy.py"))
    release.release(course)
    return course


def make_submissions(course: Course, assignment: str, n: int, folder: Path) -> None:
    kinds = samples.demo_samples(nbformat.read(course.source(assignment), as_version=4), assignment,
                                 course)
    cycle = ["correct", "partly_wrong", "untouched"]
    samples.write({f"student{i:03d}": kinds[cycle[i % 3]] for i in range(n)}, folder, assignment)


# ---------------------------------------------------------------- the modes
def _without_skipped(src: Path, dest: Path) -> None:
    """nbgrader knows no `skip-grading` tag: drop those cells so both graders run the same code."""
    nb = nbformat.read(src, as_version=4)
    nb.cells = [c for c in nb.cells if not cells.is_skipped(c)]
    nbformat.write(nb, dest)


def time_nbgrader(course: Course, assignment: str, inbox: Path, tmp: Path) -> dict:
    root = tmp / f"nbgrader-{assignment}"
    (root / "source" / assignment).mkdir(parents=True)
    _without_skipped(course.source(assignment), root / "source" / assignment / f"{assignment}.ipynb")
    for student in sorted(inbox.iterdir()):
        dest = root / "submitted" / student.name / assignment
        dest.mkdir(parents=True)
        _without_skipped(student / f"{assignment}.ipynb", dest / f"{assignment}.ipynb")
    exe = str(Path(sys.executable).with_name("nbgrader"))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
           "COURSE_SOLUTIONS_DIR": str(course.solutions), "COURSE_GRADING_DIR": str(course.work),
           "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    common = [f"--CourseDirectory.root={root}", "--Execute.timeout=300", "--log-level=WARN"]
    # the course's ClearMarkScheme setting, read from nbgrader_config.py: written questions keep
    # their rubric in the locked question cell, which stock ClearMarkScheme would refuse
    enforce = release.nbgrader_config().ClearMarkScheme.get("enforce_metadata", True)
    subprocess.run([exe, "generate_assignment", assignment, "--force", *common,
                    f"--ClearMarkScheme.enforce_metadata={enforce}"], cwd=root, env=env, check=True,
                   capture_output=True)
    start = time.monotonic()
    subprocess.run([exe, "autograde", assignment, "--force", *common], cwd=root, env=env,
                   check=True, capture_output=True)
    seconds = time.monotonic() - start
    return {"seconds": seconds, "steady_s": seconds, "n": len(list(inbox.iterdir()))}


def _grade(course: Course, inbox: Path, assignment: str, workers: int, **kwargs) -> dict:
    """One timed `grade_all`: wall seconds, the steady-state span, the results."""
    subs = intake.find(inbox, [assignment])
    stamps = []
    start = time.monotonic()
    results = batch.grade_all(course, subs, workers, force=True, progress=False,
                              on_result=lambda r: stamps.append(time.monotonic()), **kwargs)
    seconds = time.monotonic() - start
    steady = (stamps[-1] - stamps[0]) * len(stamps) / max(1, len(stamps) - 1) if len(stamps) > 1 else seconds
    return {"seconds": seconds, "steady_s": steady, "n": len(subs), "results": results}


def _nocg(course: Course, inbox: Path, assignment: str, workers: int) -> dict | None:
    """Warm grading in a child whose /sys/fs/cgroup is an empty tmpfs: no control group can be
    made, as in a container. None where that cannot be arranged (not root, no `unshare`)."""
    if os.geteuid() != 0 or not shutil.which("unshare"):
        return None
    args = [sys.executable, __file__, "--part", json.dumps({
        "solutions": str(course.solutions), "notebooks": str(course.notebooks), "work": str(course.work),
        "inbox": str(inbox), "assignment": assignment, "workers": workers})]
    done = subprocess.run(["unshare", "-m", "sh", "-c", 'mount --make-rprivate / && mount -t tmpfs -o size=1m '
                           'none /sys/fs/cgroup && exec "$@"', "sh", *args], capture_output=True, text=True)
    for line in done.stdout.splitlines():
        if line.startswith("@@PART"):
            part = json.loads(line[len("@@PART"):])
            part["results"] = results_of(part["results"])
            return part
    raise RuntimeError(f"the no-cgroup run failed: {done.stderr[-2000:]}")


def _part(spec: dict) -> None:
    """In the child of _nocg: grade warm, print the outcome as one JSON line."""
    assert cgroups.unavailable() is not None, "cgroups are still visible"
    course = Course(solutions=Path(spec["solutions"]), notebooks=Path(spec["notebooks"]),
                    work=Path(spec["work"]))
    out = _grade(course, Path(spec["inbox"]), spec["assignment"], spec["workers"], warm=True)
    out["results"] = [r.to_json() for r in out["results"]]          # typed results, as JSON
    print("@@PART" + json.dumps(out))


class DaskCluster:
    """A local Dask cluster as an instructor starts one: TLS certificates, `dask scheduler`,
    `dask worker --nworkers N --preload autograde.grade.cluster` (each worker's zygote starts with
    it). Their output goes to logs beside the certificates, shown if the cluster does not come up."""

    def __init__(self, tmp: Path, workers: int, course: Course, timeout: float = 300):
        self.certs, self.procs = tmp / "certs", []
        cluster.make_certs(self.certs)
        info = tmp / f"scheduler-{workers}.json"
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
               "COURSE_SOLUTIONS_DIR": str(course.solutions),
               "COURSE_NOTEBOOKS_DIR": str(course.notebooks), "COURSE_GRADING_DIR": str(course.work)}

        def tls(role):
            ca, cert, key = cluster.cert_paths(self.certs, role)
            return ["--tls-ca-file", str(ca), "--tls-cert", str(cert), "--tls-key", str(key)]

        def start(args, log):
            self.procs.append(subprocess.Popen([sys.executable, "-m", "dask", *args], env=env,
                                               stdout=(tmp / log).open("w"), stderr=subprocess.STDOUT,
                                               start_new_session=True))
        start(["scheduler", "--host", "127.0.0.1", "--port", "0", "--protocol", "tls", *tls("scheduler"),
               "--no-dashboard", "--scheduler-file", str(info)], "scheduler.log")
        deadline = time.monotonic() + timeout
        try:
            while not info.exists():
                if time.monotonic() > deadline or self.procs[0].poll() is not None:
                    raise RuntimeError("the Dask scheduler did not start: "
                                       + (tmp / "scheduler.log").read_text()[-2000:])
                time.sleep(0.2)
            self.address = json.loads(info.read_text())["address"]
            start(["worker", self.address, *tls("worker"), "--nworkers", str(workers), "--nthreads", "1",
                   "--no-dashboard", "--memory-limit", "0", "--preload", "autograde.grade.cluster"],
                  "workers.log")
            from distributed import Client
            with Client(self.address, security=self.security(), timeout="60s") as client:
                try:
                    client.wait_for_workers(workers, timeout=timeout)
                except Exception as err:
                    raise RuntimeError(f"the Dask workers did not start ({err}): "
                                       + (tmp / "workers.log").read_text()[-2000:]) from err
                client.run(cluster.wait_ready)          # every worker's zygote has imported
        except BaseException:
            self.close()
            raise

    def security(self):
        return cluster.security(self.certs)

    def close(self) -> None:
        for proc in self.procs:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()


# ---------------------------------------------------------------- one run
def _median_parts(results: list[dict]) -> dict:
    parts = {k: statistics.median((r.timing or {}).get(k, 0.0) for r in results) for k in PARTS}
    parts["total_s"] = statistics.median(r.seconds for r in results)
    starts = [(r.timing or {}).get("start_parts", {}) for r in results if (r.timing or {}).get("start_parts")]
    if starts:
        parts["start_parts"] = {k: statistics.median(s.get(k, 0.0) for s in starts) for k in starts[0]}
    return parts


def measure(assignments: list[str], students: int = 6, workers: int | None = None,
            modes=MODES, log=print) -> dict:
    """Seconds per mode and assignment on the same submissions (see the module's docstring)."""
    workers = workers or os.cpu_count() or 1
    out = {"workers": workers, "students": students, "assignments": {}, "isolation": sandbox.mode(),
           "cgroups": cgroups.unavailable() is None}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        course = make_course(tmp, assignments)
        dask = DaskCluster(tmp, workers, course) if "dask" in modes else None
        try:
            for name in assignments:
                inbox = tmp / "inbox" / name
                make_submissions(course, name, students, inbox)
                start = time.monotonic()
                batch.calibrate(course, name, batch.Limits())
                row = {"calibration_s": time.monotonic() - start}
                for mode in modes:
                    if mode == "nbgrader":
                        got = time_nbgrader(course, name, inbox, tmp)
                    elif mode in ("cold", "warm"):
                        got = _grade(course, inbox, name, workers, warm=mode == "warm")
                    elif mode == "warm_nocg":
                        got = _nocg(course, inbox, name, workers)
                    else:
                        got = _grade(course, inbox, name, workers, scheduler=dask.address,
                                     security=dask.security())
                    if got is None:
                        continue
                    results = got.pop("results", [])
                    if results:
                        got["parts"] = _median_parts(results)
                        got["scores"] = {r.student: r.tests for r in results}
                    row[mode] = got
                    log(f"  {name:15} {mode:10} {got['seconds']:7.1f} s")
                graded = [row[m]["scores"] for m in modes if m in row and "scores" in row[m]]
                row["identical"] = all(s == graded[0] for s in graded)
                for m in modes:
                    row.get(m, {}).pop("scores", None)
                out["assignments"][name] = row
        finally:
            if dask is not None:
                dask.close()
    return out


# ---------------------------------------------------------------- the report
def per_minute(row: dict, mode: str, key: str = "seconds") -> float:
    return 60 * row[mode]["n"] / row[mode][key]


def estimate(m: dict, cores: int) -> dict:
    """A 600-student term of these notebooks on `cores` cores, from each notebook's own warm cost
    (core-seconds per submission here: workers x steady-state seconds / submissions)."""
    cost = {name: m["workers"] * row["warm"]["steady_s"] / row["warm"]["n"]
            for name, row in m["assignments"].items() if "warm" in row}
    total = sum(STUDENTS_A_TERM * c for c in cost.values())
    return {"cost_s": cost, "minutes": total / cores / 60}


def report(m: dict) -> list[str]:
    lines = [f"{m['students']} submissions per assignment, {m['workers']} workers on {os.cpu_count()} cores, "
             f"sandbox {m['isolation']} (cgroups {'writable' if m['cgroups'] else 'not writable'})",
             f"{'assignment':15} {'mode':10} {'seconds':>8} {'per min':>8} {'vs nbgrader':>11} "
             f"{'steady/min':>10} {'vs nbgrader':>11}"]
    for name, row in m["assignments"].items():
        for mode in MODES:
            if mode not in row:
                continue
            ratio = (row["nbgrader"]["seconds"] / row[mode]["seconds"]) if "nbgrader" in row else float("nan")
            steady = (row["nbgrader"]["steady_s"] / row[mode]["steady_s"]) if "nbgrader" in row else float("nan")
            lines.append(f"{name:15} {mode:10} {row[mode]['seconds']:8.1f} {per_minute(row, mode):8.1f} "
                         f"{ratio:10.2f}x {per_minute(row, mode, 'steady_s'):10.1f} {steady:10.2f}x")
        if "warm" in row and "dask" in row:
            lines.append(f"{name:15} Dask / warm {row['warm']['steady_s'] / row['dask']['steady_s']:.2f} "
                         f"(steady); warm without cgroups / nbgrader "
                         + (f"{row['nbgrader']['steady_s'] / row['warm_nocg']['steady_s']:.2f}x"
                            if "warm_nocg" in row and "nbgrader" in row else "-"))
        lines.append(f"{name:15} scores identical in every mode: {row['identical']}; "
                     f"calibration {row['calibration_s']:.1f} s")
    lines.append("median seconds per submission: " + ", ".join(PARTS) + ", whole (per worker)")
    for name, row in m["assignments"].items():
        for mode in ("cold", "warm", "warm_nocg", "dask"):
            parts = row.get(mode, {}).get("parts")
            if parts:
                lines.append(f"  {name:15} {mode:10} " + " ".join(f"{parts[k]:.3f}" for k in PARTS)
                             + f"  {parts['total_s']:.3f}")
    starts = [row["warm"]["parts"].get("start_parts", {}) for row in m["assignments"].values()
              if "warm" in row and "parts" in row["warm"]]
    if starts and starts[0]:
        lines.append("warm kernel start, median seconds: " + ", ".join(
            f"{k} {statistics.median(s.get(k, 0.0) for s in starts):.4f}" for k in starts[0]))
    if any("warm" in row for row in m["assignments"].values()):
        est = estimate(m, 2)
        lines.append(f"600 students x {len(est['cost_s'])} notebooks: "
                     + ", ".join(f"{n} {c:.2f}" for n, c in est["cost_s"].items())
                     + f" core-seconds each; {est['minutes']:.0f} min on 2 cores, "
                     f"{estimate(m, 64)['minutes']:.1f} min on 64")
    return lines


def scaling(assignment: str, students: int, counts: list[int], log=print, on_row=None) -> list[dict]:
    """Warm local workers and Dask workers at each count, the same class. A Dask cluster that does
    not come up costs only its own column (its error is kept); `on_row(rows)` after each count."""
    rows = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        course = make_course(tmp, [assignment])
        inbox = tmp / "inbox"
        make_submissions(course, assignment, students, inbox)
        batch.calibrate(course, assignment, batch.Limits())
        for n in counts:
            warm = _grade(course, inbox, assignment, n, warm=True)
            dask, error = None, ""
            if _has_dask():
                (tmp / f"dask{n}").mkdir()
                try:
                    dask_cluster = DaskCluster(tmp / f"dask{n}", n, course)
                    try:
                        dask = _grade(course, inbox, assignment, n, scheduler=dask_cluster.address,
                                      security=dask_cluster.security())
                    finally:
                        dask_cluster.close()
                except Exception as err:
                    error = f"{type(err).__name__}: {err}"[:1500]
            row = {"workers": n, "warm_s": warm["seconds"], "warm_steady_s": warm["steady_s"],
                   "dask_s": dask["seconds"] if dask else None,
                   "dask_steady_s": dask["steady_s"] if dask else None, "n": warm["n"],
                   "dask_error": error,
                   "isolation": sandbox.summary(warm["results"][0].isolation) if warm["results"] else "",
                   "identical": dask is None or {r.student: r.tests for r in warm["results"]}
                   == {r.student: r.tests for r in dask["results"]}}
            rows.append(row)
            log(f"  {n:3} workers: warm {row['warm_s']:.1f} s, Dask {row['dask_s'] or float('nan'):.1f} s "
                f"{error[:200]}")
            if on_row:
                on_row(rows)
    return rows


def _has_dask() -> bool:
    try:
        import distributed  # noqa: F401
        return True
    except ImportError:
        return False


def scaling_table(rows: list[dict], assignment: str) -> list[str]:
    base = rows[0]
    lines = [f"{rows[0]['n']} {assignment} submissions, {os.cpu_count()} cores, sandbox {sandbox.mode()}, "
             f"cgroups {'writable' if cgroups.unavailable() is None else 'not writable'}, "
             f"isolation {rows[0].get('isolation', '')}",
             "| workers | warm per min (steady) | speed-up vs 1 | efficiency | Dask per min (steady) "
             "| Dask / warm | scores identical |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        warm = 60 * r["n"] / r["warm_steady_s"]
        speed = base["warm_steady_s"] / r["warm_steady_s"]
        dask = 60 * r["n"] / r["dask_steady_s"] if r["dask_steady_s"] else float("nan")
        lines.append(f"| {r['workers']} | {warm:.1f} ({60 * r['n'] / r['warm_s']:.1f} whole run) | "
                     f"{speed:.2f}x | {speed / (r['workers'] / base['workers']):.0%} | "
                     f"{dask:.1f} ({60 * r['n'] / r['dask_s'] if r['dask_s'] else float('nan'):.1f} whole run) | "
                     f"{dask / warm:.2f} | {r['identical']} |")
    return lines


# ---------------------------------------------------------------- `python -m benchmarks`
def run() -> list[dict]:
    """For `make bench`: every graded assignment's sample class (6 students), every mode."""
    assignments = Course().graded_assignments()
    m = measure(assignments, 6, log=lambda *a: print(*a, file=sys.stderr))
    rows = []
    for name, row in m["assignments"].items():
        modes = [k for k in MODES if k in row]
        rows.append({"figure": f"grading {row['warm']['n']} {name} submissions ({m['workers']} workers, "
                               f"{m['isolation']}): " + " / ".join(modes) + " per minute, steady state",
                     "value": " / ".join(f"{per_minute(row, k, 'steady_s'):.1f}" for k in modes) + " ("
                              + ", ".join(f"{k} {row['nbgrader']['steady_s'] / row[k]['steady_s']:.2f}x"
                                          for k in modes[1:] if "nbgrader" in row)
                              + f"; scores {'identical' if row['identical'] else 'DIFFER'})",
                     "lecture": "warm >= 15x nbgrader, Dask >= 0.9x warm, warm without cgroups >= 10x"})
        parts = row["warm"].get("parts", {})
        rows.append({"figure": f"grading one {name} submission, warm: median seconds per part",
                     "value": ", ".join(f"{k[:-2]} {parts.get(k, 0):.2f}" for k in PARTS)
                              + f"; whole {parts.get('total_s', 0):.2f}", "lecture": "-"})
    est = estimate(m, 2)
    rows.append({"figure": "grading a 600-student term (every notebook, its own warm cost)",
                 "value": f"{est['minutes']:.0f} min on 2 cores, {estimate(m, 64)['minutes']:.1f} min on 64",
                 "lecture": "-"})
    print("\n".join(report(m)), file=sys.stderr)
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--assignments", default="all", help="comma-separated, or all (default)")
    ap.add_argument("--students", type=int, default=6)
    ap.add_argument("--workers", type=int, default=os.cpu_count())
    ap.add_argument("--modes", default=",".join(MODES))
    ap.add_argument("--scaling", help="worker counts, e.g. 1,2,4,8,16: warm and Dask at each")
    ap.add_argument("--json", help="also write the measurements to this file")
    ap.add_argument("--part", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.part:
        _part(json.loads(args.part))
        return 0
    names = Course().graded_assignments() if args.assignments == "all" else args.assignments.split(",")
    if args.scaling:
        def save(rows):                         # after each count: a run cut short keeps its rows
            if args.json:
                Path(args.json).write_text(json.dumps(rows, indent=1))
                Path(args.json).with_suffix(".md").write_text("\n".join(scaling_table(rows, names[0])) + "\n")
        rows = scaling(names[0], args.students, [int(n) for n in args.scaling.split(",")], on_row=save)
        lines = scaling_table(rows, names[0])
        data = rows
    else:
        data = measure(names, args.students, args.workers, args.modes.split(","))
        lines = report(data)
    print("\n".join(lines))
    if args.json:
        Path(args.json).write_text(json.dumps(data, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
