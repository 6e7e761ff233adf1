"""The named mistakes of every graded notebook (solutions/<name>/mistakes.py), checked one way.

Each mistake is a wrong variant of the reference objects; the grader names it when a student's
outputs match it. So each must belong to a hidden case the notebook calls, and must give outputs
that differ from the reference's on some seed of that case (on every seed, for the assignments
listed in EVERY_SEED, whose cases are built so that a mistake can never pass a seed). The demo's
WRONG_SUBMISSION must still find its text in the reference answer and compile once replaced.
"""

import nbformat
import pytest

from autograde import cells
from autograde.build import samples
from autograde.build.reference import compute_reference
from autograde.config import Course
from autograde.grade.verdict import differences
from autograde.spec import load_case, load_mistakes

REPO = Course()
NAMES = REPO.graded_assignments()
EVERY_SEED = {"distillation", "prompting", "prompt_tuning"}


@pytest.mark.parametrize("name", NAMES)
def test_every_named_mistake_is_told_apart_from_the_reference(name):
    out = compute_reference(nbformat.read(REPO.source(name), as_version=4), name)
    assert set(load_mistakes(name)) <= {case_id.partition(".")[2] for case_id in out}
    for case_id, results in out.items():
        case = load_case(case_id)
        for mistake, got in results["mistakes"].items():
            differing = [s for s in case.seeds if "outputs" not in got[s] or differences(
                got[s]["outputs"], results["reference"][s]["outputs"], case.atol, case.rtol)]
            if name in EVERY_SEED:
                assert len(differing) == len(case.seeds), \
                    f"{case_id}: mistake {mistake!r} passes seeds {set(case.seeds) - set(differing)}"
            else:
                assert differing, f"{case_id}: mistake {mistake!r} gives the reference's outputs"


@pytest.mark.parametrize("name", NAMES)
def test_wrong_submission_applies_once_and_compiles(name):
    cell_id, right, wrong = samples.wrong_submission(name)
    assert cell_id, f"solutions/{name}/mistakes.py needs a WRONG_SUBMISSION"
    source = nbformat.read(REPO.source(name), as_version=4)
    answer = next(c.source for c in source.cells if cells.grade_id(c) == cell_id)
    assert answer.count(right) == 1 and right != wrong, \
        f"update WRONG_SUBMISSION in solutions/{name}/mistakes.py"
    compile(answer.replace(right, wrong), cell_id, "exec")
