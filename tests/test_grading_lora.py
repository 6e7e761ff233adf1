"""The real first assignment: its samples still apply, and the reference-graded demo submissions get
their exact scores (correct: full marks; partly wrong: one hidden seed of lora_count fails)."""

import shutil

import nbformat
import pytest

from autograde import batch, cells, release, samples
from autograde.course import Course

REPO = Course()
pytestmark = pytest.mark.skipif(not REPO.source("lora").exists(), reason="no solutions/lora.ipynb")


def test_partly_wrong_mutation_still_applies():
    source = nbformat.read(REPO.source("lora"), as_version=4)
    cell_id, right, _ = samples.WRONG["lora"]
    answer = next(c.source for c in source.cells if cells.grade_id(c) == cell_id)
    assert right in answer, "update samples.WRONG['lora']: the reference changed"


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
    assert results["partly_wrong"]["score"] == pytest.approx(7 + 2 / 3)
    count = next(t for t in results["partly_wrong"]["tests"] if t["id"] == "test_lora_count")
    assert "2/3 checks passed" in " ".join(count["lines"])
    assert not results["correct"]["needs_look"] and not results["partly_wrong"]["needs_look"]
