"""The course is an nbgrader course directory, checked with stock nbgrader: `generate_assignment`
writes our release, `python -m autograde grade` (from a Canvas zip) leaves what the formgrader needs
to show every graded submission with its score, scores set by hand are kept, reported and exported,
and nbgrader's own `generate_feedback` shows no hidden test and no traceback."""

import copy
import csv
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest
import toycourse  # noqa: E402
from nbgrader.api import Gradebook
from nbgrader.apps import NbGraderAPI
from nbgrader.coursedir import CourseDirectory
from traitlets.config.loader import PyFileConfigLoader

from autograde.build import samples
from autograde.config import ROOT, Course
from autograde.grade import batch
from autograde.results import export, feedback, gradebook, intake, nbgrader_dirs

pytestmark = pytest.mark.slow
LIMITS = ["--cell-timeout", "3", "--memory-mb", "1536"]


def env() -> dict:
    e = {k: v for k, v in os.environ.items() if not k.startswith("COURSE_")}
    e["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), e.get("PATH", "")])
    return e


def nbgrader(root: Path, *args) -> subprocess.CompletedProcess:
    """A stock nbgrader command, run from the course root as an instructor would."""
    return subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=root, env=env(),
                          capture_output=True, text=True, timeout=300)


def autograde(root: Path, *args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "autograde", "--course", str(root), *args],
                          cwd=root, env=env(), capture_output=True, text=True, timeout=600)


def toy_root(root: Path) -> Course:
    """The toy assignment in a course directory of its own, with the repository's nbgrader_config.py."""
    toycourse.make_course(root)
    shutil.copy(ROOT / "nbgrader_config.py", root / "nbgrader_config.py")
    return Course(solutions=root / "solutions", notebooks=root / "notebooks", work=root / ".grading")


def api(root: Path) -> NbGraderAPI:
    """What the formgrader's handlers call, configured from the course's own nbgrader_config.py."""
    cfg = PyFileConfigLoader("nbgrader_config.py", str(root)).load_config()
    return NbGraderAPI(CourseDirectory(config=cfg), config=cfg)


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = tmp_path_factory.mktemp("course")
    course = toy_root(root)
    demo = samples.demo_samples(nbformat.read(course.source("toy"), as_version=4), "toy", course)
    with zipfile.ZipFile(root / "submissions.zip", "w") as zf:        # Canvas's names
        zf.writestr("smithjane_12345_900001_toy.ipynb", json.dumps(demo["correct"]))
        zf.writestr("smithjane_LATE_12399_900002_toy.ipynb", json.dumps(demo["untouched"]))
        zf.writestr("=cmd_12400_900003_toy-1.ipynb", json.dumps(demo["partly_wrong"]))
        zf.writestr("../escape_1_2_toy.ipynb", json.dumps(demo["correct"]))
    done = autograde(root, "grade", "submissions.zip", "-a", "toy", "--workers", "2", *LIMITS)
    results = {r["student"]: r for r in batch.load_results(course, "toy")}
    return root, course, done, results


def test_stock_generate_assignment_writes_our_release(tmp_path):
    course = toy_root(tmp_path)
    ours = course.release("toy").read_bytes()
    done = nbgrader(tmp_path, "generate_assignment", "toy", "--force")
    assert done.returncode == 0, done.stderr
    assert course.release("toy").read_bytes() == ours            # byte for byte, named stubs
    assert "Exercise softmax: write softmax" in ours.decode()
    listed = nbgrader(tmp_path, "db", "assignment", "list")
    assert "toy" in listed.stdout, listed.stdout + listed.stderr  # in the gradebook nbgrader reads


def test_grade_reports_what_it_did_not_take_and_exits_1(graded):
    root, _, done, results = graded
    assert done.returncode == 1, done.stdout + done.stderr
    assert "not graded: submissions.zip: entry '../escape_1_2_toy.ipynb' is a path with '..'" in done.stderr
    assert "2 students named 'smithjane' (ids 12345, 12399)" in done.stderr
    assert "graded 3 new, 0 already graded" in done.stdout
    assert sorted(results) == ["12345", "12399", "12400"]
    assert not (root.parent / "escape").exists() and not (root / "submitted" / "..").resolve().joinpath(
        "escape").exists()


def test_an_empty_source_is_an_error_that_says_what_was_expected(graded, tmp_path):
    root = graded[0]
    (tmp_path / "empty").mkdir()
    done = autograde(root, "grade", str(tmp_path / "empty"), "-a", "toy")
    assert done.returncode == 2
    assert "no submission of toy" in done.stderr and "Canvas" in done.stderr and "Moodle" in done.stderr


def test_every_graded_submission_shows_in_the_formgrader_with_its_score(graded):
    root, _, _, results = graded
    shown = {s["student"]: s for s in api(root).get_submissions("toy")}
    assert set(shown) == set(results)
    for student, result in results.items():
        assert shown[student]["autograded"] is True, student
        assert shown[student]["score"] == pytest.approx(result["score"]), student
        assert shown[student]["max_score"] == 5.0
        assert shown[student]["timestamp"] is None       # a Canvas zip holds no submission time (lms.py)
    assert shown["12399"]["last_name"] == "smithjane" and shown["12400"]["last_name"] == "=cmd"
    assert (root / "autograded" / "12400" / "toy" / "toy.ipynb").exists()
    students = nbgrader(root, "db", "student", "list").stdout
    assert all(s in students for s in results)
    nb = nbformat.read(root / "autograded" / "12400" / "toy" / "toy.ipynb", as_version=4)
    verdicts = [o["data"]["text/plain"] for c in nb.cells if c.cell_type == "code"
                for o in c.get("outputs", []) if o.get("metadata", {}).get(nbgrader_dirs.VERDICT)]
    assert "autograder: 1.33 / 2 points" in verdicts[0] and "subtract the max first" in verdicts[0]


def test_a_score_set_in_the_formgrader_is_kept_reported_exported_and_shown(graded):
    root, course, _, results = graded
    with Gradebook(course.gradebook_url, course_id=course.course_id) as gb:   # as its PUT does
        grade = gb.find_grade("test_softmax", "toy", "toy", "12400")
        grade.manual_score = 2.0
        gb.db.commit()
    notes = gradebook.record(course, list(results.values()))                 # a regrade's last step
    assert notes == ["12400/toy test_softmax: kept the score set in the formgrader, 2 of 2 "
                     "(the autograder gives 1.33)"]
    changed = dict(results["12400"], submission_sha256="0" * 64)
    assert "the submission changed since: check it" in gradebook.record(course, [changed])[0]
    gradebook.record(course, [results["12400"]])
    assert api(root).get_submission("toy", "12400")["score"] == pytest.approx(5.0)
    paths, notes = export.canvas(course, root / "grades.csv")
    rows = list(csv.reader(paths[0].open()))
    assert rows[0] == export.CANVAS + ["toy"] and rows[1][:1] == ["Points Possible"]
    by_id = {r[1]: r for r in rows[2:]}
    assert by_id["12400"] == ["'=cmd", "12400", "", "", "", "5.00"]      # escaped, ID filled
    assert by_id["12345"][5] == "5.00" and by_id["12399"][5] == "0.00"
    questions = {(r[0], r[2]): r for r in csv.reader(paths[1].open())}
    assert questions["12400", "test_softmax"][3:8] == ["2.00", "2", "", "", "manual"]
    assert questions["12399", "test_softmax"][6] == "yes"                 # _LATE_
    [page] = feedback.write_all(course, [results["12400"]])
    text = page.read_text()
    assert page == root / "feedback" / "12400" / "toy" / "toy.html"
    assert "Score: 5.00 / 5" in text and "set by your instructor" in text
    assert (page.parent / "timestamp.txt").exists()


def test_stock_generate_feedback_shows_no_hidden_test_and_no_traceback(graded):
    root, _, _, _ = graded
    done = nbgrader(root, "generate_feedback", "toy", "--force")
    assert done.returncode == 0, done.stderr
    for student in ("12345", "12399", "12400"):
        text = (root / "feedback" / student / "toy" / "toy.html").read_text()
        assert "BEGIN HIDDEN TESTS" not in text and "hidden_check(" not in text, student
        assert "Traceback (most recent call last)" not in text and "----&gt;" not in text, student
    untouched = (root / "feedback" / "12399" / "toy" / "toy.html").read_text()
    assert "NotImplementedError" in untouched                      # the error's name stays
    assert "autograder: 0.00 / 2 points" in untouched


def _with_manual_cell(course: Course) -> None:
    """The toy source with a written answer graded by hand (a markdown grade cell, 1 point)."""
    nb = nbformat.read(course.source("toy"), as_version=4)
    cell = nbformat.v4.new_markdown_cell("YOUR ANSWER HERE")
    cell.metadata["nbgrader"] = {"grade": True, "solution": True, "locked": False, "points": 1,
                                 "grade_id": "explain", "schema_version": 3}
    nb.cells.append(cell)
    nbformat.write(nb, course.source("toy"))


def test_cells_graded_by_hand_are_pending_until_graded_then_exported(tmp_path):
    course = toy_root(tmp_path)
    _with_manual_cell(course)
    result = {"student": "alice", "assignment": "toy", "submission_sha256": "a" * 64, "score": 5.0,
              "max_score": 6.0, "needs_look": [],
              "tests": [{"id": t, "points": p, "score": p, "passed": 1, "total": 1, "lines": [],
                         "mistakes": []} for t, p in (("test_softmax", 2.0), ("test_scaled_sum", 1.0),
                                                      ("test_scaled_linear", 2.0))]
              + [{"id": "explain", "points": 1.0, "score": None, "manual": True, "passed": 0,
                  "total": 0, "lines": [], "mistakes": []}]}
    samples.write({"alice": course.release("toy").read_text()}, tmp_path / "inbox", "toy")
    intake.collect(tmp_path / "inbox", ["toy"], nbgrader_dirs.submitted_root(course))
    nbgrader_dirs.folder(course, "autograded", "alice", "toy").mkdir(parents=True)
    assert gradebook.sync(course, [result]) == []
    shown = api(tmp_path).get_submission("toy", "alice")
    assert shown["needs_manual_grade"] is True and shown["max_score"] == 6.0
    paths, notes = export.canvas(course, tmp_path / "grades.csv")
    assert list(csv.reader(paths[0].open()))[2][5] == ""               # no total while pending
    assert "pending: alice/toy has cells to be graded by hand" in " ".join(notes)
    with Gradebook(course.gradebook_url, course_id=course.course_id) as gb:
        gb.find_grade("explain", "toy", "toy", "alice").manual_score = 0.5
        gb.db.commit()
    assert gradebook.sync(course, [result]) == []                      # kept, nothing changed
    paths, notes = export.canvas(course, tmp_path / "grades.csv")
    assert list(csv.reader(paths[0].open()))[2][5] == "5.50" and not any("pending" in n for n in notes)
    again = copy.deepcopy(result) | {"submission_sha256": "b" * 64}
    assert gradebook.sync(course, [again], previous={("toy", "alice"): "a" * 64}) == [
        "alice/toy explain: kept the score graded by hand, 0.5; the submission changed since: check it"]
