"""The named mistakes of every graded notebook (solutions/<name>/mistakes.py), checked one way.

Each mistake is a wrong variant of the reference objects; the grader names it when a student's
outputs match it. So each must belong to a hidden case the notebook calls, and must give outputs
that differ from the reference's on some seed of that case (on every seed, for the assignments
listed in EVERY_SEED, whose cases are built so that a mistake can never pass a seed). The demo's
WRONG_SUBMISSION must still find its text in the reference answer and compile once replaced.
"""

import contextlib
import io

import nbformat
import pytest

from autograde import cells
from autograde.build import samples
from autograde.build.reference import compute_reference, reference_namespace
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


def _visible_parts(nb) -> dict:
    """{test cell id: the visible parts of every test cell of its exercise}: an exercise's mistake
    may be the visible check of another of its test cells' to catch (LoRA's scaling: merge's)."""
    owners, tests = cells.exercises(nb), cells.test_cells(nb)
    by_exercise: dict = {}
    for cell in tests:
        by_exercise.setdefault(tuple(owners.get(cells.grade_id(cell), [])), []).append(cell)
    return {cells.grade_id(cell): [cells.visible_source(c) for c in
                                   by_exercise[tuple(owners.get(cells.grade_id(cell), []))]]
            for cell in tests}


def _fails(code: str, namespace: dict, strict: bool = True) -> bool:
    """Whether the visible part of a test cell fails (a CheckFailed is an AssertionError); another
    exception is raised, or, not `strict`, counted as no failure of a check (no message names it)."""
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            exec(compile(code, "<visible checks>", "exec"), dict(namespace))
    except AssertionError:
        return True
    except Exception:
        if strict:
            raise
    return False


@pytest.mark.parametrize("name", NAMES)
def test_the_visible_checks_pass_the_reference_and_catch_each_named_mistake(name):
    """Joined by the key, not by a table: each test cell's visible part (its check_* calls) passes
    the reference, and each named mistake of the cell's hidden cases fails the visible part of a
    test cell of the same exercise, unless the mistake says the checks cannot see it."""
    nb = nbformat.read(REPO.source(name), as_version=4)
    namespace = reference_namespace(nb)
    mistakes, visible = load_mistakes(name), _visible_parts(nb)
    for cell in cells.test_cells(nb):
        gid = cells.grade_id(cell)
        assert not _fails(cells.visible_source(cell), namespace), f"{gid} fails the reference"
        for case_id, kwargs in cells.hidden_calls(cell):
            objects = {k: eval(expr, namespace) for k, expr in kwargs.items()}
            for mistake in mistakes.get(case_id.partition(".")[2], []):
                wrong = {**namespace, **mistake.make(dict(objects))}
                caught = any(_fails(code, wrong, strict=False) for code in visible[gid])
                assert caught == mistake.seen_by_checks, \
                    f"{case_id}: the visible checks of {gid}'s exercise " + \
                    ("miss" if mistake.seen_by_checks else "catch") + f" mistake {mistake.name!r}"
