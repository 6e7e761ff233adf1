"""The Gradescope autograder zip, run as Gradescope runs it: the zip extracted into
<autograder>/source, a submission in <autograder>/submission, `run_autograder` executed, and
<autograder>/results/results.json read back (a correct and a wrong submission of the toy
assignment, graded by the same grader as `python -m autograde grade`)."""

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest
import toycourse  # noqa: E402

from autograde.build import samples
from autograde.results import gradescope

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def autograder_zip(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("gradescope")
    course = toycourse.make_course(tmp / "course")
    path = gradescope.build(course, "toy", tmp / "gradescope-toy.zip", visibility="after_published")
    demo = samples.demo_samples(nbformat.read(course.source("toy"), as_version=4), "toy", course)
    return path, demo


def run_autograder(zip_path: Path, root: Path, files: dict) -> dict:
    """What Gradescope does with the zip and one submission; returns results.json."""
    with zipfile.ZipFile(zip_path) as zf:
        zf.extractall(root / "source")
    (root / "submission").mkdir(parents=True)
    for name, text in files.items():
        (root / "submission" / name).write_text(text)
    (root / "submission_metadata.json").write_text(json.dumps({"users": [{"id": 4321, "name": "A"}]}))
    script = root / "source" / "run_autograder"
    env = {k: v for k, v in os.environ.items() if not k.startswith("COURSE_")}
    env.update(AUTOGRADER_ROOT=str(root), AUTOGRADE_PYTHON=sys.executable)
    done = subprocess.run(["bash", str(script)], env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    return json.loads((root / "results" / "results.json").read_text())


def test_the_zip_holds_the_scripts_the_package_and_the_assignment(autograder_zip):
    path, _ = autograder_zip
    with zipfile.ZipFile(path) as zf:
        names = set(zf.namelist())
        setup = zf.read("setup.sh").decode()
        mode = zf.getinfo("run_autograder").external_attr >> 16
    assert {"setup.sh", "run_autograder", "pyproject.toml", "constraints.txt", "nbgrader_config.py",
            "autograde/grade/one_submission.py", "course_lib/__init__.py", "solutions/toy/toy.ipynb",
            "solutions/toy/cases.py", "notebooks/toy/toy.ipynb"} <= names
    assert not any("__pycache__" in n for n in names)
    assert mode & 0o111 and "pip install -q -c constraints.txt -e ." in setup
    assert subprocess.run(["bash", "-n", "-c", setup]).returncode == 0


def test_a_correct_submission_gets_every_point(autograder_zip, tmp_path):
    path, demo = autograder_zip
    data = run_autograder(path, tmp_path, {"toy.ipynb": json.dumps(demo["correct"])})
    assert data["score"] == 5
    assert [(t["name"], t["score"], t["max_score"], t["status"], t["visibility"]) for t in data["tests"]] \
        == [("test_softmax", 2, 2, "passed", "after_published"),
            ("test_scaled_sum", 1, 1, "passed", "after_published"),
            ("test_scaled_linear", 2, 2, "passed", "after_published")]
    assert "Score: 5.00 / 5" in data["output"]


def test_a_wrong_submission_gets_its_partial_score_and_our_feedback(autograder_zip, tmp_path):
    path, demo = autograder_zip
    data = run_autograder(path, tmp_path, {"my homework.ipynb": json.dumps(demo["partly_wrong"])})
    assert data["score"] == pytest.approx(2 * 2 / 3 + 3, abs=1e-4)
    softmax = data["tests"][0]
    assert softmax["status"] == "failed" and softmax["score"] == pytest.approx(4 / 3, abs=1e-4)
    assert "2/3 checks passed" in softmax["output"] and "subtract the max first" in softmax["output"]
    text = json.dumps(data)
    assert "BEGIN HIDDEN TESTS" not in text and "hidden_check(" not in text
    assert "taken as toy" in data["output"]              # the odd file name was said, not skipped


def test_no_notebook_gives_a_result_that_says_what_to_upload(autograder_zip, tmp_path):
    path, _ = autograder_zip
    data = run_autograder(path, tmp_path, {"answers.txt": "no notebook"})
    assert data["score"] == 0 and data["tests"] == []
    assert "upload toy.ipynb" in data["output"] and "answers.txt" in data["output"]
