"""End-to-end grading of the toy assignment: sample submissions and the adversarial corpus of issue 3
with exact expected scores, determinism, resuming after a kill, shards and their merge, gradebook,
feedback and CSV export.
"""

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from autograde import batch, cli, export, feedback, gradebook, report, samples, sandbox
from autograde.course import ROOT, Course

sys.path.insert(0, str(Path(__file__).parent / "fixtures" / "toy"))
import toycourse  # noqa: E402

pytestmark = pytest.mark.slow

SANDBOXED = sandbox.isolation_warning() is None
# softmax is worth 2, scaled_sum 1, scaled_linear 2: a broken softmax cell leaves 3 of 5.
EXPECTED = {
    "correct": 5, "untouched": 0, "partly_wrong": 2 * 2 / 3 + 3, "infinite_loop": 3,
    # the verdict cannot be forged from inside the student's interpreter
    "patch_allclose": 3, "patch_builtins": 0,     # (patched all/any also break IPython itself) "patch_grading": 0, "forge_record": 0,
    "print_passed": 3, "rigged_eq": 3, "hidden_check_library": 3,
    # tampering with the notebook changes nothing
    "deleted_tests": 5, "edited_tests": 3, "changed_points": 5, "duplicated_cells": 5,
    # limits and crashes are charged to the cell that broke them
    "sleep_forever": 3, "memory_bomb": 3, "fork_bomb": 3, "sys_exit": 3, "os_exit": 3,
    "kernel_crash": 3, "not_a_notebook": 0,
    # warnings on stderr never zero a correct answer
    "stderr_warnings": 5,
    # the sandbox: no solutions to read, nowhere to write, no network
    "read_instructor_files": 3, "write_outside": 5, "network": 5,
}
NEEDS_LOOK = {"infinite_loop", "sleep_forever", "memory_bomb", "fork_bomb", "os_exit",
              "kernel_crash", "not_a_notebook", "deleted_tests", "edited_tests",
              "changed_points", "duplicated_cells"}


def submissions(course: Course, folder: Path, names=None) -> list:
    src = nbformat.read(course.source("toy"), as_version=4)
    notebooks = {**samples.demo_samples(src, "toy", course), **samples.adversarial(src)}
    notebooks = {k: v for k, v in notebooks.items() if names is None or k in names}
    samples.write(notebooks, folder, "toy")
    return batch.find(folder, ["toy"])


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = tmp_path_factory.mktemp("toybatch")
    course = toycourse.make_course(root)
    subs = submissions(course, root / "inbox")
    start = time.monotonic()
    batch.grade_all(course, subs, workers=2, limits=toycourse.LIMITS, progress=False)
    seconds = time.monotonic() - start
    results = {r["student"]: r for r in batch.load_results(course, "toy")}
    gradebook.sync(course, list(results.values()))
    return course, results, seconds


def test_every_submission_gets_its_expected_score(graded):
    _, results, seconds = graded
    got = {name: results[name]["score"] for name in EXPECTED}
    want = {name: round(score, 6) for name, score in EXPECTED.items()}
    if not SANDBOXED:
        want["read_instructor_files"] = 5               # without bwrap the solutions are readable
    assert got == want
    print(f"graded {len(results)} toy submissions in {seconds:.0f} s")


def test_failures_are_graded_listed_and_explained(graded):
    _, results, _ = graded
    flagged = {name for name, r in results.items() if r["needs_look"]}
    assert flagged == NEEDS_LOOK
    assert "ran past its time limit" in " ".join(results["sleep_forever"]["tests"][0]["lines"])
    assert "crashed the Python kernel" in " ".join(results["os_exit"]["tests"][0]["lines"])
    assert "fork bomb" in " ".join(results["fork_bomb"]["problems"])
    for name in ("memory_bomb", "kernel_crash", "infinite_loop"):
        assert results[name]["tests"][0]["lines"], name           # never a silent 0


def test_hints_name_the_mistake_but_never_the_hidden_source(graded):
    course, results, _ = graded
    lines = " ".join(results["partly_wrong"]["tests"][0]["lines"])
    assert "2/3 checks passed" in lines and "subtract the max first" in lines
    pages = feedback.write_all(course, list(results.values()), course.work / "feedback")
    for page in pages:
        text = page.read_text()
        assert "HIDDEN TESTS" not in text and 'hidden_check("toy.' not in text
        assert "Traceback" not in text


def test_sandbox_blocks_reads_writes_and_network(graded):
    if not SANDBOXED:
        pytest.skip(sandbox.isolation_warning())
    course, results, _ = graded

    def outputs(student):
        nb = nbformat.read(course.work / "runs" / "toy" / student / "graded.ipynb", as_version=4)
        return " ".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)

    assert "NOTHING FOUND" in outputs("read_instructor_files")
    assert "grader not importable" in outputs("read_instructor_files")
    assert "WROTE" not in outputs("write_outside") and not Path("/work/main/ESCAPED").exists()
    assert "NETWORK BLOCKED" in outputs("network")


def test_gradebook_feedback_export_and_report(graded):
    course, results, _ = graded
    stored = gradebook.scores(course, "toy")
    assert set(stored) == set(results)
    for student, r in results.items():
        assert stored[student] == {t["id"]: pytest.approx(t["score"]) for t in r["tests"]}
    grades, per_question = export.export(course, course.work / "grades.csv")
    rows = list(csv.reader(grades.open()))
    assert rows[0][:5] == export.CANVAS and rows[1][0] == "Points Possible" and rows[1][5] == "5"
    assert {r[0]: r[5] for r in rows[2:]}["partly_wrong"] == "4.33"
    flagged = {r[0] for r in csv.reader(per_question.open()) if r[5] == "yes"}
    assert flagged == NEEDS_LOOK
    page = report.write(course, course.work / "report.html").read_text()
    assert "no max-subtraction" in page and "Needs a look" in page and "<img" in page


def test_grading_twice_gives_identical_scores(graded, tmp_path):
    course, results, _ = graded
    again = toycourse.make_course(tmp_path, share_reference_with=course)
    names = ["correct", "partly_wrong", "rigged_eq", "os_exit"]
    batch.grade_all(again, submissions(again, tmp_path / "inbox", names), workers=2,
                    limits=toycourse.LIMITS, progress=False)
    second = {r["student"]: r for r in batch.load_results(again, "toy")}
    for name in names:
        assert second[name]["tests"] == results[name]["tests"], name


def _cli(course: Course, *args) -> list:
    return [sys.executable, "-m", "autograde", "--solutions", str(course.solutions),
            "--notebooks", str(course.notebooks), "--work", str(course.work), *args]


def test_killed_batch_resumes_and_grades_each_submission_once(graded, tmp_path):
    course = toycourse.make_course(tmp_path, share_reference_with=graded[0])
    names = ["correct", "untouched", "partly_wrong", "rigged_eq"]
    subs = submissions(course, tmp_path / "inbox", names)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = _cli(course, "grade", str(tmp_path / "inbox"), "-a", "toy", "--workers", "2",
               "--cell-timeout", "3")
    proc = subprocess.Popen(cmd, env=env, start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    results_dir = course.work / "results" / "toy"
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and not list(results_dir.glob("*.json")):
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)                 # the whole batch dies at once
    proc.wait()
    done_before = {p.name for p in results_dir.glob("*.json")}
    assert 1 <= len(done_before) < len(subs)
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300).stdout
    assert f"graded {len(subs) - len(done_before)} new, {len(done_before)} already graded" in out
    assert len(list(results_dir.glob("*.json"))) == len(subs)
    assert set(gradebook.scores(course, "toy")) == set(names)
    assert batch.grade_all(course, subs, progress=False) == []        # nothing left to grade


def test_shards_partition_the_class_and_merge_into_one_gradebook(graded, tmp_path):
    course, results, _ = graded
    subs = batch.find(course.work.parent / "inbox", ["toy"])
    parts = [batch.shard(subs, f"{i}/3") for i in range(3)]
    assert sorted(s.student for p in parts for s in p) == sorted(s.student for s in subs)
    assert all(parts)
    merged = Course(solutions=course.solutions, notebooks=course.notebooks, work=tmp_path)
    assert cli.main(_cli(merged, "merge", str(course.work))[3:]) == 0
    assert gradebook.scores(merged, "toy") == gradebook.scores(course, "toy")


def test_postgresql_gradebook(graded):
    url = os.environ.get("AUTOGRADE_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("set AUTOGRADE_TEST_POSTGRES_URL (.ci/run starts a server and sets it)")
    course, results, _ = graded
    gradebook.sync(course, list(results.values()), url=url)
    gradebook.sync(course, list(results.values()), url=url)        # idempotent
    assert gradebook.scores(course, "toy", url=url) == gradebook.scores(course, "toy")
