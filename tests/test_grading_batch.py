"""End-to-end grading of the toy assignment: sample submissions, forgeries and tampering with exact
expected scores, links in submission folders, determinism, a worker lost mid-batch, resuming after a
kill, shards and their merge, gradebook, feedback and CSV export. None of these submissions harms
the machine it runs on; the hostile ones (bombs, escapes) are in test_grading_adversarial.py and run
only inside the sandbox.
"""

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import adversarial  # noqa: E402
import pytest
import toycourse  # noqa: E402

from autograde import cli
from autograde.build import samples
from autograde.config import ROOT, Course
from autograde.grade import batch, sandbox
from autograde.results import class_report, export, feedback, gradebook, intake

pytestmark = pytest.mark.slow

SANDBOXED = sandbox.mode() != "none"
# softmax is worth 2, scaled_sum 1, scaled_linear 2: a broken softmax cell leaves 3 of 5.
WRONG = 3
EXPECTED = {
    "correct": 5, "untouched": 0, "partly_wrong": 2 * 2 / 3 + 3, "infinite_loop": 3,
    # a visible check that fails, or is rebound to a no-op, changes nothing in the hidden score
    "bypass_check": 2 * 2 / 3 + 3,
    # the verdict cannot be forged from inside the student's interpreter (softmax is wrong in all)
    "patch_allclose": WRONG, "patch_grading": WRONG, "forge_record": WRONG,
    "print_passed": WRONG, "rigged_eq": WRONG, "hidden_check_library": WRONG,
    # links from the record folder to planted (correct) records: refused, so the forger loses
    # every record a link replaced (5 if the grader followed them)
    "swap_records_dir": 0, "link_record_files": 0,
    "patch_builtins": 0,                    # patched all/any break IPython itself: no gain
    # tampering with the notebook changes nothing; lost metadata costs nothing
    "deleted_tests": 5, "edited_tests": WRONG, "changed_points": 5, "duplicated_cells": 5,
    "stripped_metadata": 5, "stripped_metadata_and_ids": 5,
    # crashes are charged to the cell that broke them
    "sleep_forever": 3, "sys_exit": 3, "os_exit": 3, "not_a_notebook": 0,
    # warnings on stderr never zero a correct answer; the private /tmp is writable
    "stderr_warnings": 5, "uses_tempfile": 5,
    # links beside or instead of the notebook are never followed
    "shadow_link": 5,
}
BENIGN = set(EXPECTED) - {"shadow_link"}
NEEDS_LOOK = {"infinite_loop", "sleep_forever", "os_exit", "not_a_notebook", "deleted_tests",
              "edited_tests", "changed_points", "duplicated_cells", "stripped_metadata",
              "stripped_metadata_and_ids", "shadow_link",
              # refused records are tampering: listed under "needs a look" (issue 20, item 7)
              "swap_records_dir", "link_record_files"}


def submissions(course: Course, folder: Path, names=None) -> list:
    notebooks = {k: v for k, v in adversarial.corpus(course, folder.parent).items()
                 if k in (names or BENIGN)}
    paths = samples.write(notebooks, folder, "toy")
    if names is None:                       # links beside, or instead of, the notebook
        shadow = folder / "shadow_link"
        shadow.mkdir()
        (shadow / "toy.ipynb").write_text(paths["correct"].read_text())
        secret = folder.parent / "instructor-secret.txt"       # stands for /etc/shadow
        secret.write_text("SECRET-root-hash\n")
        secret.chmod(0o600)
        (shadow / "shadow.txt").symlink_to(secret)
        (shadow / "data.csv").write_text("a,b\n1,2\n")
        (folder / "notebook_link").mkdir()
        (folder / "notebook_link" / "toy.ipynb").symlink_to(course.source("toy"))
    report = intake.IntakeReport()
    found = intake.find(folder, ["toy"], report)
    if names is None:
        assert any("notebook_link" in e and "symbolic link" in e for e in report.errors), report.errors
    return found


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
    assert got == {name: round(score, 6) for name, score in EXPECTED.items()}
    print(f"graded {len(results)} toy submissions in {seconds:.0f} s")


def test_failures_are_graded_listed_and_explained(graded):
    _, results, _ = graded
    flagged = {name for name, r in results.items() if r["needs_look"]}
    assert flagged == NEEDS_LOOK
    assert "ran past its time limit" in " ".join(results["sleep_forever"]["tests"][0]["lines"])
    assert "crashed the Python kernel" in " ".join(results["os_exit"]["tests"][0]["lines"])
    assert results["infinite_loop"]["tests"][0]["lines"]            # never a silent 0
    assert any("lost their nbgrader metadata and were matched by cell id" in n
               for n in results["stripped_metadata"]["needs_look"])
    assert any("matched by position and content" in n
               for n in results["stripped_metadata_and_ids"]["needs_look"])


def test_links_in_a_submission_folder_are_never_followed(graded):
    course, results, _ = graded
    notes = " ".join(results["shadow_link"]["needs_look"])
    assert "'shadow.txt'" in notes and "symbolic link" in notes and "data.csv" not in notes
    page = feedback.write_all(course, [results["shadow_link"]], course.work / "fb")[0].read_text()
    assert "SECRET" not in page                       # the linked file was never read
    assert "notebook_link" not in results        # reported by find (see submissions), never read


def test_visible_checks_report_without_costing_points(graded):
    _, results, _ = graded
    honest = {t["id"]: t for t in results["partly_wrong"]["tests"]}
    assert "visible check: AssertionError: softmax is not stable" in " ".join(honest["test_softmax"]["lines"])
    assert honest["test_softmax"]["score"] == pytest.approx(4 / 3)
    wrong = {t["id"]: t for t in results["print_passed"]["tests"]}
    assert "visible check" in " ".join(wrong["test_scaled_sum"]["lines"])   # it leans on softmax
    assert wrong["test_scaled_sum"]["score"] == 1                          # scaled_sum is right
    assert [t["score"] for t in results["bypass_check"]["tests"]] == \
        [t["score"] for t in results["partly_wrong"]["tests"]]


def test_hints_name_the_mistake_but_never_the_hidden_source(graded):
    course, results, _ = graded
    lines = " ".join(results["partly_wrong"]["tests"][0]["lines"])
    assert "2/3 checks passed" in lines and "subtract the max first" in lines
    pages = feedback.write_all(course, list(results.values()), course.work / "feedback")
    for page in pages:
        text = page.read_text()
        assert "HIDDEN TESTS" not in text and 'hidden_check("toy.' not in text
        assert "Traceback" not in text


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
    page = class_report.write(course, course.work / "report.html").read_text()
    assert "no max-subtraction" in page and "Needs a look" in page and "<img" in page


def test_a_lost_worker_costs_nothing_and_one_that_dies_twice_is_flagged(graded, tmp_path,
                                                                         monkeypatch):
    course = toycourse.make_course(tmp_path, share_reference_with=graded[0])
    subs = submissions(course, tmp_path / "inbox", ["correct", "partly_wrong", "untouched"])
    monkeypatch.setenv(batch.FAULT_ENV, "correct:once,partly_wrong")   # killed once; every time
    new = batch.grade_all(course, subs, workers=2, limits=toycourse.LIMITS, progress=False)
    got = {r["student"]: r for r in new}
    assert sorted(got) == ["correct", "partly_wrong", "untouched"]      # the batch finished
    assert got["correct"]["score"] == 5 and not got["correct"]["needs_look"]     # regraded
    assert got["untouched"]["score"] == 0
    assert got["partly_wrong"]["score"] == 0
    assert "died twice" in got["partly_wrong"]["needs_look"][0]
    gradebook.sync(course, new)
    assert set(gradebook.scores(course, "toy")) == set(got)


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
    subs = intake.find(course.work.parent / "inbox", ["toy"])
    parts = [batch.shard(subs, f"{i}/3") for i in range(3)]
    assert sorted(s.student for p in parts for s in p) == sorted(s.student for s in subs)
    assert all(parts)
    merged = Course(solutions=course.solutions, notebooks=course.notebooks, work=tmp_path)
    assert cli.main(_cli(merged, "merge", str(course.work))[3:]) == 0
    assert gradebook.scores(merged, "toy") == gradebook.scores(course, "toy")
    # merge carries what feedback, report and export read: results and graded notebooks
    assert {r["student"] for r in batch.load_results(merged, "toy")} == set(results)
    pages = feedback.write_all(merged, batch.load_results(merged, "toy"), tmp_path / "fb")
    assert len(pages) == len(results)
    correct = next(p for p in pages if p.parent.parent.name == "correct")
    assert "<pre class='out'>the end" in correct.read_text()     # the executed notebook's output
    assert "no max-subtraction" in class_report.write(merged, tmp_path / "report.html").read_text()


def test_postgresql_gradebook(graded):
    url = os.environ.get("AUTOGRADE_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("set AUTOGRADE_TEST_POSTGRES_URL (.ci/run starts a server and sets it)")
    course, results, _ = graded
    gradebook.sync(course, list(results.values()), url=url)
    gradebook.sync(course, list(results.values()), url=url)        # idempotent
    assert gradebook.scores(course, "toy", url=url) == gradebook.scores(course, "toy")
