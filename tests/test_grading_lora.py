"""The real first assignment: its demo samples still apply and get their exact scores (correct: full
marks; partly wrong, autograde/mistakes/lora.py's WRONG_SUBMISSION, alpha instead of alpha / r:
only the independent parameter count earns its point, and the mistake is named)."""

import shutil

import nbformat
import pytest

from autograde import batch, cells, release, samples
from autograde.course import Course

REPO = Course()
pytestmark = pytest.mark.skipif(not REPO.source("lora").exists(), reason="no solutions/lora.ipynb")


def test_partly_wrong_mutation_still_applies():
    source = nbformat.read(REPO.source("lora"), as_version=4)
    cell_id, right, _ = samples.wrong_submission("lora")
    answer = next(c.source for c in source.cells if cells.grade_id(c) == cell_id)
    assert right in answer, "update WRONG_SUBMISSION in autograde/mistakes/lora.py"


@pytest.mark.slow
def test_lora_samples_get_exact_scores(tmp_path):
    course = Course(solutions=tmp_path / "solutions", notebooks=tmp_path / "notebooks",
                    work=tmp_path / "work")
    course.solutions.mkdir()
    shutil.copy(REPO.source("lora"), course.solutions)
    release.release(course)
    source = nbformat.read(course.source("lora"), as_version=4)
    demo = samples.demo_samples(source, "lora")
    samples.write({k: demo[k] for k in ("correct", "partly_wrong")}, tmp_path / "inbox", "lora")
    batch.grade_all(course, batch.find(tmp_path / "inbox", ["lora"]), workers=2, progress=False)
    results = {r["student"]: r for r in batch.load_results(course, "lora")}
    assert results["correct"]["score"] == results["correct"]["max_score"] == 8
    tests = {t["id"]: t for t in results["partly_wrong"]["tests"]}
    assert {k: t["score"] for k, t in tests.items()} == {
        "test_lora_linear": 0, "test_lora_merge": 0, "test_add_lora": 0, "test_lora_count": 1}
    assert "alpha instead of alpha/r" in tests["test_lora_merge"]["mistakes"]
    assert "scaled by alpha, not alpha / r" in " ".join(tests["test_lora_merge"]["lines"])
    assert not results["correct"]["needs_look"] and not results["partly_wrong"]["needs_look"]
