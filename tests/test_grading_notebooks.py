"""Every graded notebook, graded as a class would be: a correct, a blank and a wrong submission each.

The three samples come from autograde/build/samples.py (built from the source notebook, so they never go
stale): `correct` (the release with the reference answers typed in) must earn full marks, `untouched`
(the release as handed out) nothing, and `partly_wrong` (the known mistake in
solutions/<name>/mistakes.py's WRONG_SUBMISSION) loses exactly the points its EXPECTED_WRONG lists,
with feedback that names the mistake. One batch grades all of them (two workers), as `grade` would.
"""

import os
import shutil

import nbformat
import pytest

from autograde.build import release, samples
from autograde.config import Course
from autograde.grade import batch
from autograde.results import intake
from autograde.spec import mistakes_module

REPO = Course()


def expected_wrong(name: str) -> dict:
    """EXPECTED_WRONG of solutions/<name>/mistakes.py: {test cell: (score, words of its feedback)}."""
    return getattr(mistakes_module(name), "EXPECTED_WRONG", None)


# AUTOGRADE_TEST_ASSIGNMENTS=a,b grades only those (tests/test_scaffold.py grades a new one alone)
ONLY = [n for n in os.environ.get("AUTOGRADE_TEST_ASSIGNMENTS", "").split(",") if n]
WRONG = {name: expected_wrong(name) for name in REPO.graded_assignments() if not ONLY or name in ONLY}


def test_every_graded_notebook_has_an_expected_wrong_submission():
    missing = [name for name, expected in WRONG.items() if expected is None]
    assert not missing, f"add EXPECTED_WRONG to solutions/<name>/mistakes.py of {missing}"


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("class")
    course = Course(solutions=tmp / "solutions", notebooks=tmp / "notebooks", work=tmp / "work")
    for name in WRONG:
        shutil.copytree(REPO.folder(name), course.folder(name),
                        ignore=shutil.ignore_patterns("__pycache__"))
    release.release(course)
    for name in WRONG:
        demo = samples.demo_samples(nbformat.read(course.source(name), as_version=4), name, course)
        samples.write({k: demo[k] for k in ("correct", "untouched", "partly_wrong")},
                      tmp / "inbox", name)
    batch.grade_all(course, intake.find(tmp / "inbox", list(WRONG)), workers=2, progress=False)
    return {name: {r["student"]: r for r in batch.load_results(course, name)} for name in WRONG}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(WRONG))
def test_correct_blank_and_wrong_submissions(graded, name):
    results = graded[name]
    assert set(results) == {"correct", "untouched", "partly_wrong"}, "a submission lost its grade"
    correct, blank, wrong = results["correct"], results["untouched"], results["partly_wrong"]
    autograded = sum(t["points"] for t in correct["tests"] if not t.get("manual"))
    assert correct["score"] == autograded > 0, correct["tests"]
    assert correct["max_score"] == sum(t["points"] for t in correct["tests"])
    assert all(t["score"] is None for t in correct["tests"] if t.get("manual"))   # by hand, later
    assert blank["score"] == 0 and blank["max_score"] == correct["max_score"]
    for r in results.values():
        assert not r["needs_look"], (r["student"], r["needs_look"])

    expected = WRONG[name]
    for test in wrong["tests"]:
        score, words = expected.get(test["id"], (None if test.get("manual") else test["points"], None))
        assert test["score"] == (score if score is None else pytest.approx(score)), \
            (test["id"], test["lines"])
        if words:
            assert words in "\n".join(test["lines"]), (test["id"], test["lines"])
    assert {t["id"] for t in wrong["tests"]} >= set(expected)
    assert wrong["score"] < wrong["max_score"]
