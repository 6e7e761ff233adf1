"""`python -m autograde`: the instructor's one command line.

    python -m autograde quiz [--check]           # the quiz answer keys -> the quiz files
    python -m autograde notebooks [--check]      # solutions/<name>/<name>.py -> <name>.ipynb
    python -m autograde release                  # solutions/<name>/ -> notebooks/<name>/
    python -m autograde new NAME                 # scaffold a new assignment
    python -m autograde audit [--check]          # docs/GRADING.md's requirements table
    python -m autograde summary [--out DIR]      # printable quiz-review pages
    python -m autograde publish DIR [--assignments a,b]   # the student course (a git repository)
    python -m autograde release --check          # exit 1 if notebooks/ is stale
    python -m autograde grade FOLDER_OR_ZIP [-a lora] [--workers N] [--shard i/n] [--force]
    python -m autograde merge WORK_DIR...        # shard results -> one gradebook
    python -m autograde feedback | export [--lms moodle] [--roster CSV] | report
    python -m autograde gradescope -a lora       # Gradescope autograder zip
    python -m autograde cluster-certs DIR        # a CA and the Dask cluster's TLS certificates
    python -m autograde similarity -a lora [FOLDER] [--against DIR]   # class integrity report
    python -m autograde demo [--all]             # the main job: release, grade samples, report
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from autograde.build import (
    audit,
    authoring,
    publish,
    quiz_authoring,
    release,
    samples,
    scaffold,
    student_course,
    summary,
)
from autograde.config import ROOT, Course
from autograde.grade import batch, cluster, sandbox
from autograde.grade.sandbox import Limits
from autograde.result import SubmissionResult
from autograde.results import (
    class_report,
    export,
    feedback,
    gradebook,
    gradescope,
    intake,
    nbgrader_dirs,
    similarity,
    similarity_page,
)


def _course(args) -> Course:
    if args.course:                           # another course directory (an instructor's copy)
        base = Path(args.course).resolve()
        args.solutions = args.solutions or str(base / "solutions")
        args.notebooks = args.notebooks or str(base / "notebooks")
        args.work = args.work or str(base / ".grading")
    return Course.from_env(solutions=args.solutions, notebooks=args.notebooks, work=args.work,
                           db_url=args.db)


def _print_table(results: list[SubmissionResult]) -> None:
    """One table per assignment: a column per test cell (source order), a row per student."""
    for name in sorted({r.assignment for r in results}):
        rows = sorted((r for r in results if r.assignment == name), key=lambda r: r.student)
        tests = list(dict.fromkeys(t.id for r in rows for t in r.tests))
        width = max([len(r.student) for r in rows] + [10])
        print(f"\n{name}\n{'student':<{width}}  " + "  ".join(f"{t[:14]:>14}" for t in tests) +
              f"  {'total':>11}  {'isolation':<20}  needs a look")
        for r in rows:
            by_id = {t.id: t for t in r.tests}
            cols = [f"{by_id[t].score:.2f}/{by_id[t].points:g}" if t in by_id else ""
                    for t in tests]
            look = "; ".join(r.needs_look)[:60]
            print(f"{r.student:<{width}}  " + "  ".join(f"{c:>14}" for c in cols) +
                  f"  {r.score:>5.2f}/{r.max_score:<5g}  "
                  f"{sandbox.summary(r.isolation):<20}  {look}")


def cmd_quiz(args) -> int:
    return quiz_authoring.update(args.check)


def cmd_notebooks(args) -> int:
    return authoring.update(args.files, args.check)


def cmd_audit(args) -> int:
    return audit.update(args.check)


def cmd_summary(args) -> int:
    for path in summary.build(args.out):
        print(f"wrote {path}")
    return 0


def cmd_release(args) -> int:
    course = _course(args)
    if args.check:
        stale = release.stale(course)
        if stale:
            print("stale release (run `python -m autograde release`):", *stale, file=sys.stderr)
        return 1 if stale else 0
    for path in release.release(course, args.assignment or None):
        print(f"wrote {path}")
    return 0


def _limits(args) -> Limits:
    overrides = {"memory_mb": args.memory_mb, "cell_cpu_min_s": args.cell_timeout}
    return Limits(**{k: v for k, v in overrides.items() if v})


def _grade(course: Course, source: Path, assignments: list[str], args) -> list[SubmissionResult]:
    """Sort the source into submitted/ (autograde/results/intake.py), grade, then autograded/ and gradebook."""
    sandbox.allow_unsandboxed(args.allow_unsandboxed)
    security = None
    if args.scheduler:
        security = cluster.connect(args.scheduler, Path(args.cluster_certs) if args.cluster_certs
                                   else course.work_folder.cluster_certs(), args.insecure_cluster)
    warning = sandbox.isolation_warning()
    if warning:
        print("\n" + "!" * 78 + f"\n{warning}\n" + "!" * 78 + "\n", file=sys.stderr)
    report = intake.IntakeReport()
    caps = intake.ZipCaps(**{k: v for k, v in (("entry_mb", args.max_entry_mb), ("total_mb", args.max_zip_mb),
                                               ("entries", args.max_zip_entries)) if v})
    collected = intake.collect(source, assignments, nbgrader_dirs.submitted_root(course),
                               course.assignments(), report, caps)
    report.print()
    subs = batch.shard(collected, args.shard)
    new = batch.grade_all(course, subs, args.workers, _limits(args), force=args.force,
                          warm=not args.cold, scheduler=args.scheduler, security=security)
    done = {(s.assignment, s.student) for s in subs}
    results = [r for r in batch.load_results(course) if (r.assignment, r.student) in done]
    notes = gradebook.record(course, results)     # main process only, idempotent: safe to rerun
    print(f"graded {len(new)} new, {len(results) - len(new)} already graded; "
          f"gradebook: {course.gradebook_url}")
    for note in notes:
        print(f"note: {note}")
    args.input_errors = report.errors
    return results


def cmd_grade(args) -> int:
    course = _course(args)
    try:
        results = _grade(course, Path(args.folder), args.assignment or course.assignments(), args)
    except (intake.NothingFound, sandbox.SandboxRefused, cluster.ClusterRefused) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    _print_table(results)
    _print_needs_look(results)
    if args.input_errors:
        print(f"\n{len(args.input_errors)} inputs were not graded (listed above as 'not graded')",
              file=sys.stderr)
        return 1
    return 0


def cmd_cluster_certs(args) -> int:
    paths = cluster.make_certs(Path(args.folder), args.host or [])
    folder = Path(args.folder)
    print(f"wrote a CA and scheduler, worker and client certificates in {folder} (0700; keys 0600):")
    for role, (cert, key) in paths.items():
        print(f"  {role:9} {cert.name}  {key.name}")
    print("start the cluster with them (docs/GRADING.md, 'A cluster'): the scheduler with "
          "scheduler.pem, each worker with worker.pem, and grade with --scheduler tls://HOST:8786 "
          f"--cluster-certs {folder}. Keep ca-key.pem private: whoever holds it can join the cluster.")
    return 0


def _print_needs_look(results: list[SubmissionResult]) -> None:
    look = [r for r in results if r.needs_look]
    if look:
        print(f"\nNeeds a look ({len(look)}):")
        for r in look:
            print(f"  {r.assignment}/{r.student}: " + "; ".join(r.needs_look))


def cmd_merge(args) -> int:
    course = _course(args)
    results = batch.merge(course, [Path(d).resolve() for d in args.dirs])
    for note in gradebook.record(course, results):
        print(f"note: {note}")
    print(f"merged {len(results)} results into {course.work} and {course.gradebook_url}")
    return 0


def cmd_feedback(args) -> int:
    course = _course(args)
    results = [r for r in batch.load_results(course) if not args.assignment
               or r.assignment in args.assignment]
    paths = feedback.write_all(course, results, Path(args.out) if args.out else None)
    where = args.out or nbgrader_dirs.root(course) / "feedback"
    print(f"wrote {len(paths)} feedback pages under {where}/ (<student>/<assignment>/<assignment>.html)")
    return 0


def cmd_export(args) -> int:
    course = _course(args)
    roster = Path(args.roster) if args.roster else None
    args.out = args.out or str(nbgrader_dirs.root(course) / "grades.csv")
    try:
        points = {k: float(v) for k, v in (p.split("=", 1) for p in args.points or [])}
        if args.lms == "moodle":
            names = args.assignment or course.graded_assignments()
            paths, notes = [], []
            for name in names:
                p, n = export.moodle(course, Path(args.out), name, roster, points=points)
                paths += p
                notes += n
        else:
            columns = dict(c.split("=", 1) for c in args.column or [])
            paths, notes = export.canvas(course, Path(args.out), roster, columns,
                                         assignments=args.assignment, points=points)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    for note in notes:
        print(f"note: {note}")
    for path in dict.fromkeys(paths):
        print(f"wrote {path}")
    return 0


def cmd_report(args) -> int:
    path = class_report.write(_course(args), Path(args.out))
    print(f"wrote {path}")
    return 0


def cmd_publish(args) -> int:
    names = [n.strip() for n in args.assignments.split(",") if n.strip()] if args.assignments else None
    try:
        committed, found = publish.publish(Path(args.folder).resolve(), _course(args), names,
                                           args.repository)
    except student_course.RepositoryNotSet as e:
        print(f"NOT published: {e}", file=sys.stderr)
        return 2
    if found:
        print("NOT published: the student course would give answers away:", *found, sep="\n  ",
              file=sys.stderr)
        return 1
    print(f"{'published a new commit in' if committed else 'nothing changed in'} {args.folder}")
    return 0


def cmd_gradescope(args) -> int:
    course = _course(args)
    for name in args.assignment:
        out = Path(args.out) if args.out else nbgrader_dirs.root(course) / f"gradescope-{name}.zip"
        print(f"wrote {gradescope.build(course, name, out, args.visibility, args.torch_index, args.allow_unsandboxed)}"
              " (upload it as the assignment's autograder: Configure Autograder > Zip file; base image "
              f"{gradescope.BASE_IMAGE} or later)")
    return 0


def cmd_similarity(args) -> int:
    course = _course(args)
    folder = Path(args.folder) if args.folder else None
    against = Path(args.against) if args.against else None
    status = 0
    for name in args.assignment:
        try:
            result = similarity.run(course, name, folder, against)
        except intake.NothingFound as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        result.report.print()
        path, page = similarity_page.write(course, result)
        print(f"{name}: {len(result.students)} submissions, {result.n_pairs} pairs, "
              f"{result.considered} scored (sharing a fingerprint the class does not), {len(result.pairs)} above "
              f"{similarity.FLOOR}, {len(result.flagged())} flagged\nwrote {path}\nwrote {page}")
        if result.flagged():
            print(f"\nNeeds a look ({len(result.flagged())} pairs; similarity is a reason to look, "
                  "never a verdict):")
            for p in result.flagged():
                which = ", ".join(f"{r['exercise']} {r['score']:.2f}" for r in p["exercises"] if r["flagged"])
                print(f"  {name}: {p['a']} and {p['b']}: {p['score']:.2f} ({which})")
        status = status or (1 if result.report.errors else 0)
    return status


def cmd_new(args) -> int:
    for path in scaffold.new(args.name, _course(args)):
        print(f"wrote {path}")
    print(f"next: edit solutions/{args.name}/{args.name}.py and the files beside it, then "
          "`make notebooks` and `make test` (docs/CONVENTIONS.md, 'Add a notebook')")
    return 0


def cmd_samples(args) -> int:
    course = _course(args)
    for name in args.assignment or course.graded_assignments():
        for path in samples.write_samples(course, name, Path(args.folder)).values():
            print(f"wrote {path}")
    return 0


def cmd_demo(args) -> int:
    start = time.monotonic()
    course = _course(args)
    names = course.graded_assignments() if args.all else (args.assignment or ["lora"])
    print("1. release:", *(release.release(course) or ["notebooks/ already up to date"]))
    inbox = course.work_folder.demo_inbox()
    for name in names:
        samples.write_samples(course, name, inbox)
    print(f"2. sample submissions ({', '.join(names)}): {inbox}")
    args.force = True
    results = _grade(course, inbox, names, args)
    print("\n3. grades")
    _print_table(results)
    _print_needs_look(results)
    fb = feedback.write_all(course, results, Path(args.out_feedback) if args.out_feedback else None)
    csv_paths = export.export(course, Path(args.out_csv))
    page = class_report.write(course, Path(args.out_report))
    print(f"\n4. feedback: {len(fb)} pages (e.g. {fb[0]})")
    print(f"   gradebook CSV (Canvas layout): {csv_paths[0]}; per question: {csv_paths[1]}")
    print(f"   instructor report: {page}")
    print("\n5. open the notebooks: `make lab` (or `jupyter lab notebooks/`); the instructor "
          f"versions are in {course.solutions}/.")
    print(f"\ndemo finished in {time.monotonic() - start:.0f} s")
    return 0


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m autograde", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--course", help="an nbgrader course directory (solutions/, notebooks/, .grading/ "
                                     "in it; default: this repository)")
    ap.add_argument("--solutions", help="source notebooks folder (default: solutions/)")
    ap.add_argument("--notebooks", help="release folder (default: notebooks/)")
    ap.add_argument("--work", help="grading work folder (default: .grading/)")
    ap.add_argument("--db", help="gradebook SQLAlchemy URL (default: SQLite in the work folder)")
    sub = ap.add_subparsers(dest="command", required=True)

    def grading_options(p):
        p.add_argument("-a", "--assignment", action="append", help="assignment name (repeatable)")
        p.add_argument("--workers", type=int, default=os.cpu_count(), help="default: one per core")
        p.add_argument("--shard", help="i/n: grade only shard i (0-based) of n")
        p.add_argument("--scheduler", help="tls://HOST:PORT of a Dask scheduler: grade on its "
                                           "workers (docs/GRADING.md)")
        p.add_argument("--cluster-certs", help="the folder `cluster-certs` wrote (default: "
                                               ".grading/cluster)")
        p.add_argument("--insecure-cluster", action="store_true",
                       help="accept a tcp:// scheduler with no authentication (anyone who reaches "
                            "it can run code on the workers and change grades)")
        p.add_argument("--allow-unsandboxed", action="store_true",
                       help="where no sandbox works, run student code WITHOUT isolation (every "
                            "result says so); default: refuse to grade")
        p.add_argument("--cold", action="store_true",
                       help="start every kernel cold (default: fork them from a warm zygote per "
                            "worker where the sandbox allows it)")
        p.add_argument("--force", action="store_true", help="regrade submissions already graded")
        p.add_argument("--memory-mb", type=int, help="memory limit per submission")
        p.add_argument("--cell-timeout", type=float, help="minimum CPU seconds per cell")
        p.add_argument("--max-entry-mb", type=int, help="an LMS zip's largest entry (default 200)")
        p.add_argument("--max-zip-mb", type=int, help="bytes read from one LMS zip (default 4096)")
        p.add_argument("--max-zip-entries", type=int, help="entries of one LMS zip (default 20000)")

    p = sub.add_parser("quiz", help="the quiz answer keys -> the self-check bank, the practice quiz's "
                                    "source and its cases' KINDS table")
    p.add_argument("--check", action="store_true", help="exit 1 if a generated file is stale")
    p.set_defaults(func=cmd_quiz)
    p = sub.add_parser("notebooks", help="percent sources solutions/<name>/<name>.py -> source "
                                         "notebooks, and README's table of notebooks")
    p.add_argument("files", nargs="*", type=Path, help="default: every solutions/<name>/<name>.py")
    p.add_argument("--check", action="store_true", help="exit 1 if a notebook is stale")
    p.set_defaults(func=cmd_notebooks)
    p = sub.add_parser("audit", help="docs/GRADING.md's table: what each hidden case output checks")
    p.add_argument("--check", action="store_true",
                   help="exit 1 if the table is stale or an output has no requirement")
    p.set_defaults(func=cmd_audit)
    p = sub.add_parser("summary", help="printable quiz-review summaries, one HTML page per part")
    p.add_argument("--out", type=Path, default=ROOT / "build" / "summary")
    p.set_defaults(func=cmd_summary)
    p = sub.add_parser("release", help="build notebooks/ from solutions/")
    p.add_argument("-a", "--assignment", action="append")
    p.add_argument("--check", action="store_true", help="exit 1 if notebooks/ is stale")
    p.set_defaults(func=cmd_release)
    p = sub.add_parser("new", help="scaffold a new assignment that passes the tests as generated")
    p.add_argument("name")
    p.set_defaults(func=cmd_new)
    p = sub.add_parser("publish", help="write the student course (no answers) into FOLDER, a git "
                                       "repository, one commit per change")
    p.add_argument("folder")
    p.add_argument("--assignments", help="comma-separated: only the assignments released so far")
    p.add_argument("--repository", help="owner/name of the student repository (default: "
                                        "nbgrader_config.py's StudentCourse.repository)")
    p.set_defaults(func=cmd_publish)
    p = sub.add_parser("grade", help="grade FOLDER/<student>/<notebook>.ipynb or an LMS zip")
    p.add_argument("folder")
    grading_options(p)
    p.set_defaults(func=cmd_grade)
    p = sub.add_parser("merge", help="merge result folders of shards into the gradebook")
    p.add_argument("dirs", nargs="+", help="work folders of the shards")
    p.set_defaults(func=cmd_merge)
    p = sub.add_parser("feedback", help="an HTML page per student, where release_feedback finds it")
    p.add_argument("-a", "--assignment", action="append")
    p.add_argument("--out", help="another folder (default: the course's feedback/, nbgrader's)")
    p.set_defaults(func=cmd_feedback)
    p = sub.add_parser("export", help="grades for Canvas's or Moodle's importer + per question")
    p.add_argument("--out", help="default: grades.csv in the course directory")
    p.add_argument("--lms", choices=["canvas", "moodle"], default="canvas")
    p.add_argument("--roster", help="Canvas's gradebook export, or Moodle's grading worksheet")
    p.add_argument("--column", action="append", help="NAME='Title (id)': Canvas's column of NAME")
    p.add_argument("--points", action="append",
                   help="NAME=P: the LMS's points possible for NAME where no roster says it; totals "
                        "are rescaled to it")
    p.add_argument("-a", "--assignment", action="append")
    p.set_defaults(func=cmd_export)
    p = sub.add_parser("report", help="HTML analytics: score distribution, pass rates, mistakes")
    p.add_argument("--out", default=str(ROOT / "feedback" / "report.html"))
    p.set_defaults(func=cmd_report)
    p = sub.add_parser("gradescope", help="a Gradescope autograder zip (setup.sh, run_autograder)")
    p.add_argument("-a", "--assignment", action="append", required=True)
    p.add_argument("--out", help="default: gradescope-NAME.zip")
    p.add_argument("--visibility", default="visible",
                   choices=["visible", "hidden", "after_due_date", "after_published"],
                   help="when students see the score and each test's result (default: visible)")
    p.add_argument("--torch-index", default="https://download.pytorch.org/whl/cpu",
                   help="where setup.sh takes torch from (default: PyTorch's CPU index)")
    p.add_argument("--allow-unsandboxed", action="store_true",
                   help="where Gradescope's container allows no sandbox, run student code as root "
                        "anyway (every result says so); without it such a submission is not graded")
    p.set_defaults(func=cmd_gradescope)
    p = sub.add_parser("cluster-certs", help="a CA and TLS certificates for the Dask cluster, in FOLDER")
    p.add_argument("folder", help="a private folder of the instructor's (made 0700)")
    p.add_argument("--host", action="append", help="the scheduler's host name or address (repeatable)")
    p.set_defaults(func=cmd_cluster_certs)
    p = sub.add_parser("similarity", help="class integrity report: pairs of submissions too alike "
                                          "to be independent (JSON and HTML in <work>/similarity/)")
    p.add_argument("folder", nargs="?", help="the class: default nbgrader's submitted/; or any folder "
                                             "or LMS zip that `grade` takes")
    p.add_argument("-a", "--assignment", action="append", required=True)
    p.add_argument("--against", help="an archive: earlier terms' submissions, other courses' "
                                     "published solutions (.ipynb, .py, .md)")
    p.set_defaults(func=cmd_similarity)
    p = sub.add_parser("samples", help="write the demo's sample submissions to FOLDER")
    p.add_argument("folder")
    p.add_argument("-a", "--assignment", action="append")
    p.set_defaults(func=cmd_samples)
    p = sub.add_parser("demo", help="release, grade the sample submissions, feedback, CSV")
    grading_options(p)
    p.add_argument("--all", action="store_true", help="every assignment, not only lora")
    p.add_argument("--out-feedback", help="default: the course's feedback/ (nbgrader's layout)")
    p.add_argument("--out-csv", default=str(ROOT / "grades.csv"))
    p.add_argument("--out-report", default=str(ROOT / "feedback" / "report.html"))
    p.set_defaults(func=cmd_demo)
    return ap


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    return args.func(args)
