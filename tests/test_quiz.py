"""Quiz review: every key is right (recomputed independently), has exactly one right answer,
every explanation opens, and no plain answer key reaches students."""

import json
import math
import re
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
import torch.nn.utils.prune as prune

from autograde import quiz_authoring
from course_lib import self_check

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = {q["id"]: q for q in quiz_authoring.load_questions()}


def _softmax(xs):
    e = [math.exp(x) for x in xs]
    return [v / sum(e) for v in e]


INDEPENDENT = {  # numeric answers recomputed from the formulas, not from the bank
    "peft_lora_count": 12 * 2 * 8 * (768 + 768),
    "peft_adapter_count": 2 * 768 * 64 + 768 + 64,
    "peft_prefix_count": 12 * 2 * 20 * 768,
    "moe_gate": _softmax([2, 1, 0, -1])[0],
    "moe_top2_weight": sum(_softmax([2, 1, 0, -1])[:2]),
    "moe_balance": 4 * sum((1 / 4) * (1 / 4) for _ in range(4)),
    "comp_round": round(10.789654),
    "comp_absmax_scale": 123.45 / 127,
    "comp_absmax_code": round(10.789654 / (123.45 / 127)),
    "comp_prune": int(prune.L1Unstructured(0.25).compute_mask(
        torch.arange(1.0, 11.0), torch.ones(10)).eq(0).sum()),
    "comp_kl_T1": F.kl_div(F.log_softmax(torch.tensor([[1.0, 0.0]]), -1),
                           F.softmax(torch.tensor([[2.0, 0.0]]), -1), reduction="batchmean").item(),
    "comp_kl_T4": 16 * F.kl_div(F.log_softmax(torch.tensor([[1.0, 0.0]]) / 4, -1),
                                F.softmax(torch.tensor([[2.0, 0.0]]) / 4, -1),
                                reduction="batchmean").item(),
    "kv_llama_bytes": 2 * 32 * 32 * 128 * 4096 * 2 / 2**30,
}


def test_bank_and_practice_quiz_are_up_to_date():
    assert quiz_authoring.main(["--check"]) == 0, "run `python -m autograde.quiz_authoring`"


@pytest.mark.parametrize("qid", sorted(q for q in QUESTIONS if QUESTIONS[q]["kind"] == "number"))
def test_numeric_keys_equal_an_independent_computation(qid):
    assert qid in INDEPENDENT, f"add an independent computation for {qid}"
    assert math.isclose(QUESTIONS[qid]["answer"], INDEPENDENT[qid], rel_tol=5e-3)
    q = next(q for q in self_check.load_bank() if q.id == qid)
    assert q.is_correct(INDEPENDENT[qid])
    assert not q.is_correct(INDEPENDENT[qid] * 1.1)


@pytest.mark.parametrize("q", self_check.load_bank(), ids=lambda q: q.id)
def test_exactly_one_right_answer_and_every_explanation_opens(q):
    if q.kind == "choice":
        right = [i for i in range(len(q.options)) if q.is_correct(i)]
        assert len(right) == 1 and right[0] == QUESTIONS[q.id]["answer"]
        for i in range(len(q.options)):
            text = q.feedback(i)
            assert QUESTIONS[q.id]["explanations"][i][:30].replace("'", "&#x27;") in text
    else:
        assert q.is_correct(QUESTIONS[q.id]["answer"])
        assert "Right" in q.feedback(QUESTIONS[q.id]["answer"])
        assert "Not quite" in q.feedback("certainly wrong")
        answer = re.escape(str(QUESTIONS[q.id]["answer"]))
        assert q.hint and not re.search(rf"(?<![\d./]){answer}(?![\d/])", q.hint), q.hint


def test_formula_answers_tolerate_spacing_and_symbols():
    q = next(q for q in self_check.load_bank() if q.id == "peft_lora_scaling")
    assert q.is_correct("alpha / r") and q.is_correct("α/r") and not q.is_correct("alpha")


def test_no_plain_answer_key_reaches_students():
    bank = json.loads(self_check.BANK_PATH.read_text())["questions"]
    assert all("answer" not in q and "explanation" not in q for q in bank)
    release = (ROOT / "notebooks" / "practice_quiz" / "practice_quiz.ipynb").read_text()
    for qid, q in QUESTIONS.items():
        assert f"{qid} = {q['answer']!r}" not in release
    assert "BEGIN SOLUTION" not in release and "hidden_check" not in release


def test_question_count_per_part():
    counts = {p: len(self_check.load_bank(p)) for p in self_check.PARTS}
    assert all(n >= 5 for n in counts.values()), counts
