"""Every graded notebook, graded as a class would be: a correct, a blank and a wrong submission each.

The three samples come from autograde/samples.py (built from the source notebook, so they never go
stale): `correct` (the release with the reference answers typed in) must earn full marks, `untouched`
(the release as handed out) nothing, and `partly_wrong` (the known mistake in
solutions/<name>/mistakes.py's WRONG_SUBMISSION) loses exactly the points listed in WRONG below,
with feedback that names the mistake. One batch grades all of them (two workers), as `grade` would.
"""

import shutil

import nbformat
import pytest

from autograde import batch, release, samples
from autograde.course import Course

REPO = Course()

# assignment -> {test cell: (score of the wrong submission, words its feedback must contain)}; every
# test cell not listed keeps its full points. Cells downstream of the broken one lose points too.
WRONG = {
    "adapters": {"test_adapter_init": (0, "close to the identity"),
                 "test_adapter_forward": (0, "internal skip connection is missing"),
                 "test_add_adapters": (0, "near the identity")},
    "distillation": {"test_distillation_loss": (0, "not scaled by T^2")},
    "kv_cache": {"test_cached_forward": (0, "positions not offset"),
                 "test_generate_cached": (0, "differs from uncached greedy decoding"),
                 "test_generate_batched": (0, "count positions over real tokens")},
    "lora": {"test_lora_linear": (0, "scaled by alpha, not alpha/r"),
             "test_lora_merge": (0, "looks like a known mistake: your update is scaled by alpha"),
             "test_add_lora": (0, "differs from the reference")},
    "moe": {"test_moe_layer": (0, "multiply each expert's output by its gate value")},
    "peft_comparison": {"test_bitfit_trainable": (0, "train all of it"),
                        "test_bitfit_step": (0, "differs from the reference")},
    "practice_quiz": {"test_peft_lora_count": (0, "0/1 checks passed")},
    "prompt_tuning": {"test_prefix_tuning": (0, "puts a prefix into every layer")},
    "prompting": {"test_verbalizer_probs": (0, "softmax over the label words only")},
    "pruning": {"test_n_to_prune": (0, "int() truncates"),
                "test_magnitude_mask": (1.5, "use Python's round(), not int()"),
                "test_global_magnitude_masks": (4 / 3, "use Python's round(), not int()"),
                "test_neuron_mask": (1, "use Python's round(), not int()")},
    "quantization": {"test_quantize": (0, "ties round half up")},
}


def test_every_graded_notebook_has_an_expected_wrong_submission():
    assert sorted(WRONG) == REPO.graded_assignments()


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
    batch.grade_all(course, batch.find(tmp / "inbox", list(WRONG)), workers=2, progress=False)
    return {name: {r["student"]: r for r in batch.load_results(course, name)} for name in WRONG}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(WRONG))
def test_correct_blank_and_wrong_submissions(graded, name):
    results = graded[name]
    assert set(results) == {"correct", "untouched", "partly_wrong"}, "a submission lost its grade"
    correct, blank, wrong = results["correct"], results["untouched"], results["partly_wrong"]
    assert correct["score"] == correct["max_score"] > 0, correct["tests"]
    assert blank["score"] == 0 and blank["max_score"] == correct["max_score"]
    for r in results.values():
        assert not r["needs_look"], (r["student"], r["needs_look"])

    expected = WRONG[name]
    for test in wrong["tests"]:
        score, words = expected.get(test["id"], (test["points"], None))
        assert test["score"] == pytest.approx(score), (test["id"], test["lines"])
        if words:
            assert words in "\n".join(test["lines"]), (test["id"], test["lines"])
    assert {t["id"] for t in wrong["tests"]} >= set(expected)
    assert wrong["score"] < wrong["max_score"]
