"""The review's self-checks and the graded practice quiz: every key is right (recomputed
independently), every self-check has exactly one right answer and every explanation opens, no plain
key reaches students, written answers are graded by hand with a rubric the release does not show,
and neither notebook gives the other's answers away (tests below `# --- give-aways`)."""

import copy
import difflib
import json
import math
import re

import nbformat
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.nn.utils.prune as prune

from autograde import cells
from autograde.build import quiz_authoring
from autograde.build.release import release_notebook
from autograde.config import ROOT
from course_lib import self_check

SELF_CHECK = {q["id"]: q for q in quiz_authoring.self_check_questions()}
PRACTICE = {q["id"]: q for q in quiz_authoring.practice_questions()}
PRACTICE_SOURCE = ROOT / "solutions" / "practice_quiz" / "practice_quiz.ipynb"
PRACTICE_RELEASE = ROOT / "notebooks" / "practice_quiz" / "practice_quiz.ipynb"
REVIEW_RELEASE = ROOT / "notebooks" / "review" / "review.ipynb"


def _softmax(xs):
    e = [math.exp(x) for x in xs]
    return [v / sum(e) for v in e]


def _kd(teacher, student, T):
    """T^2 KL(softmax(teacher / T) || softmax(student / T)), torch's reference."""
    t, s = torch.tensor([teacher]), torch.tensor([student])
    return T**2 * F.kl_div(F.log_softmax(s / T, -1), F.softmax(t / T, -1),
                           reduction="batchmean").item()


def _pruned(amount, n, times=1):
    """Entries torch.nn.utils.prune leaves nonzero in an n-entry weight, pruned `times` times."""
    layer = nn.Linear(n, 1, bias=False)
    with torch.no_grad():
        layer.weight.copy_(torch.arange(1.0, n + 1.0)[None])
    for _ in range(times):
        prune.l1_unstructured(layer, "weight", amount=amount)
    return int(layer.weight.ne(0).sum())


def _balance(probs):
    """Switch's N sum_i f_i P_i with top-1 routing, naive loops."""
    N, T = len(probs[0]), len(probs)
    f = [sum(max(range(N), key=p.__getitem__) == i for p in probs) / T for i in range(N)]
    P = [sum(p[i] for p in probs) / T for i in range(N)]
    return N * sum(fi * pi for fi, pi in zip(f, P))


def _fake_quant_code(x, s, z=0, lo=-127, hi=127):
    """The integer code torch's fake quantization gives x: its dequantized value / s + z."""
    x_hat = torch.fake_quantize_per_tensor_affine(torch.tensor([x]), s, z, lo, hi)[0]
    return round(x_hat.item() / s) + z


INDEPENDENT = {  # numeric answers recomputed from the formulas or torch, not from the keys
    # the review's self-checks
    "peft_prefix_count": 12 * 2 * 10 * 768,
    "peft_adapter_count": sum(p.numel() for p in (nn.Linear(768, 32), nn.Linear(32, 768))
                              for p in p.parameters()),
    "peft_lora_count": 12 * 2 * 16 * (768 + 768),
    "moe_gate": _softmax([3, 1, 0, 0])[0],
    "moe_top2_weight": sum(_softmax([3, 1, 0, 0])[:2]),
    "comp_absmax_scale": 2.54 / 127,
    "comp_absmax_code": _fake_quant_code(0.9, 2.54 / 127),
    "comp_prune": 90 - _pruned(0.25, 90),
    "comp_kl_T1": _kd([3.0, 0.0], [1.0, 0.0], 1),
    "comp_kl_T2": _kd([3.0, 0.0], [1.0, 0.0], 2),
    "kv_batch_bytes": 2 * 32 * 32 * 128 * 3000 * 3 * 2 / 2**30,
    # the practice quiz
    "cls_head_params": sum(p.numel() for p in nn.Linear(768, 4).parameters()),
    "soft_prompt_params": nn.Parameter(torch.zeros(100, 1024)).numel(),
    "prefix_params": 24 * 2 * 10 * 1024,
    "adapter_block_params": 2 * sum(p.numel() for p in (nn.Linear(1024, 64), nn.Linear(64, 1024))
                                    for p in p.parameters()),
    "lora_params_large": 24 * 2 * 8 * (1024 + 1024),
    "moe_gate_value": max(_softmax([0.2, 1.5, -0.5, 0.0])),
    "moe_top2_renormalized": _softmax([1.5, 0.2])[0],
    "moe_balance_value": _balance([(0.9, 0.1), (0.7, 0.3), (0.6, 0.4), (0.2, 0.8)]),
    "prune_twice_remaining": _pruned(0.5, 1000, times=2),
    "absmax_code": _fake_quant_code(1.9, 3.81 / 127),
    "asymmetric_zero_point": round(1.5 / (4 / 255)),
    "distillation_term": _kd([2.0, 1.0, 0.0], [0.0, 1.0, 0.0], 2),
    "kv_cache_mib": 2 * 24 * 16 * 64 * 1024 * 4 * 2 / 2**20,
    "prune_neurons_count": (lambda w1, w2, k: w1.weight[:k].numel() + w1.bias[:k].numel()
                            + w2.weight[:, :k].numel())(nn.Linear(768, 3072),
                                                        nn.Linear(3072, 768), 3072 // 4),
    "distilbert_speedup": 668 / 410,
}
NUMERIC = {**{i: q for i, q in SELF_CHECK.items() if q["kind"] == "number"},
           **{i: q for i, q in PRACTICE.items() if q["kind"] == "number"}}


def test_banks_practice_quiz_and_cases_are_up_to_date():
    assert quiz_authoring.update(check=True) == 0, "run `python -m autograde quiz`"


def test_the_two_keys_share_no_question_id():
    assert not set(SELF_CHECK) & set(PRACTICE)


@pytest.mark.parametrize("qid", sorted(NUMERIC))
def test_numeric_keys_equal_an_independent_computation(qid):
    assert qid in INDEPENDENT, f"add an independent computation for {qid}"
    assert math.isclose(NUMERIC[qid]["answer"], INDEPENDENT[qid], rel_tol=5e-3)
    assert self_check.normalize("number", NUMERIC[qid]["answer"]) == \
        self_check.normalize("number", INDEPENDENT[qid])


@pytest.mark.parametrize("q", self_check.load_bank(), ids=lambda q: q.id)
def test_exactly_one_right_answer_and_every_explanation_opens(q):
    key = SELF_CHECK[q.id]
    if q.kind == "choice":
        right = [i for i in range(len(q.options)) if q.is_correct(i)]
        assert len(right) == 1 and right[0] == key["answer"]
        for i in range(len(q.options)):
            assert self_check.markdown_html(key["explanations"][i])[3:33] in q.feedback(i)
    else:
        assert q.is_correct(key["answer"])
        assert "Right" in q.feedback(key["answer"])
        assert "Not quite" in q.feedback("certainly wrong")
        if q.kind == "number":
            assert not q.is_correct(key["answer"] * 1.1)
        answer = re.escape(str(key["answer"]))
        assert q.hint and not re.search(rf"(?<![\d./]){answer}(?![\d/])", q.hint), q.hint


def test_answers_are_read_by_kind():
    q = next(q for q in self_check.load_bank() if q.id == "peft_lora_scaling")
    assert q.is_correct("alpha / r") and q.is_correct("α/r") and not q.is_correct("alpha")
    for same in ("(alpha/r)", "The alpha/r", "$\\frac{\\alpha}{r}$", "\\alpha / r",
                 "alpha * r^-1", "alpha r^{-1}", "((ALPHA/R))", "alpha/r."):
        assert q.is_correct(same), same                       # case, article, parentheses,
        assert "Right" in q.feedback(same), same              # LaTeX, an equivalent form
    for other in ("r/alpha", "alpha/r^2", "alpha - r", "(alpha)/(r", "9^9^9", "2/d"):
        assert not q.is_correct(other), other
    softmax = next(q for q in self_check.load_bank() if q.id == "moe_softmax")
    assert softmax.is_correct("the softmax") and softmax.is_correct("A Softmax")
    assert softmax.is_correct("(softmax)") and not softmax.is_correct("argmax")
    # the practice quiz's cases compare one canonical form: equivalent formulas agree
    assert self_check.normalize("formula", "(r)") == self_check.normalize("formula", "R")
    assert self_check.normalize("formula", "2 d r") == self_check.normalize("formula", "r*d*2")
    assert self_check.normalize("choice", "2") == self_check.normalize("choice", 2.0) == "2"
    with pytest.raises(ValueError):
        self_check.normalize("choice", 1.5)
    assert self_check.normalize("number", "786432") == self_check.normalize("number", 786_000)


def test_practice_cases_know_every_autograded_question_and_no_answer():
    from autograde.grade.verdict import differences
    from autograde.spec import load_cases
    cases = load_cases("practice_quiz")
    autograded = {i for i, q in PRACTICE.items() if q["kind"] != "written"}
    assert set(cases) == autograded
    text = (ROOT / "solutions" / "practice_quiz" / "cases.py").read_text()
    for qid in autograded:
        case, answer = cases[qid], PRACTICE[qid]["answer"]
        assert f"{qid} = {answer!r}" not in text and set(case.requires) == {"answer"}
        right = case.run({"answer": answer}, 0)
        assert not differences(case.run({"answer": str(answer)}, 0), right, case.atol, case.rtol)
        wrong = 1 if PRACTICE[qid]["kind"] == "choice" and answer != 1 else "wrong"
        assert differences(case.run({"answer": wrong}, 0), right, case.atol, case.rtol)


def test_no_plain_answer_key_reaches_students():
    bank = json.loads(self_check.BANK_PATH.read_text())["questions"]
    assert all("answer" not in q and "explanation" not in q for q in bank)
    release = PRACTICE_RELEASE.read_text()
    for qid, q in PRACTICE.items():
        if q["kind"] == "written":
            assert q["answer"][:60] not in release
            assert all(text[:60] not in release for _, text in q["rubric"])
        else:
            assert f"{qid} = {q['answer']!r}" not in release
    assert "BEGIN SOLUTION" not in release and "hidden_check" not in release
    assert "MARK SCHEME" not in release


def test_written_answers_are_graded_by_hand_against_a_rubric_the_release_hides():
    source = nbformat.read(PRACTICE_SOURCE, as_version=4)
    release = release_notebook(source)
    by_id = {cells.grade_id(c): c for c in source.cells if cells.grade_id(c)}
    released = {cells.grade_id(c): c for c in release.cells if cells.grade_id(c)}
    written = [q for q in PRACTICE.values() if q["kind"] == "written"]
    assert len(written) >= 8
    for q in written:
        answer, question = by_id[q["id"]], by_id[q["id"] + "_question"]
        meta = cells.meta(answer)
        assert answer.cell_type == "markdown" and meta["solution"] and meta["grade"]
        assert meta["points"] == q["points"] and not meta["locked"]
        assert cells.is_locked(question) and not cells.meta(question)["grade"]  # restored
        assert "### BEGIN MARK SCHEME" in question.source  # into the graded copy
        assert all(text in question.source for _, text in q["rubric"])
        assert released[q["id"]].source == "YOUR ANSWER HERE"
        assert q["prompt"].split(".")[0] in released[q["id"] + "_question"].source
        assert "MARK SCHEME" not in released[q["id"] + "_question"].source


def test_practice_questions_are_titled_in_words_in_the_lecture_order():
    source = PRACTICE_RELEASE.read_text()
    titles = re.findall(r"### Question (\d+) \((\d+) points?(?:, written)?\): ([^\\\"]+)", source)
    assert [int(n) for n, _, _ in titles] == list(range(1, len(PRACTICE) + 1))
    for (_, _, title), q in zip(titles, PRACTICE.values()):
        assert title.strip() == q["title"] and "_" not in title
    parts = [q["part"] for q in PRACTICE.values()]
    assert parts == sorted(parts, key=list(self_check.PARTS).index)


def test_question_count_per_part():
    counts = {p: len(self_check.load_bank(p)) for p in self_check.PARTS}
    assert all(n >= 5 for n in counts.values()), counts
    practice = {p: sum(q["part"] == p for q in PRACTICE.values()) for p in self_check.PARTS}
    assert all(n >= 3 for n in practice.values()), practice


# --- give-aways: the review answers none of the practice quiz, and the practice quiz none of the
# review's self-checks (issue 12, item 5); the review's worked examples answer neither.

NUMBER = re.compile(r"(?<![\w.])-?\d[\d,]*(?:\.\d+)?(?:e[-+]?\d+)?")


def numbers_in(text: str) -> set[str]:
    """Every number written in `text`, in the quiz's canonical form (3 significant figures)."""
    found = set()
    for token in NUMBER.findall(text):
        try:
            found.add(self_check.normalize("number", float(token.replace(",", ""))))
        except ValueError:
            pass
    return found


def _answers(questions) -> dict:
    return {q["id"]: self_check.normalize("number", q["answer"]) for q in questions.values()
            if q["kind"] == "number"}


def _self_check_text() -> str:
    """What the review's self-checks show: prompts, options, hints, and every explanation (an
    explanation opens once answered)."""
    return "\n".join("\n".join([q["prompt"], *q.get("options", []), *q.get("explanations", []),
                                q.get("explanation", "")]) for q in SELF_CHECK.values())


def _review_text() -> str:
    nb = nbformat.read(REVIEW_RELEASE, as_version=4)
    return "\n".join(c.source for c in nb.cells) + "\n" + _self_check_text()


def _practice_text() -> str:
    """What a student of the practice quiz sees: its release (question numbers left out)."""
    text = "\n".join(c.source for c in nbformat.read(PRACTICE_RELEASE, as_version=4).cells)
    return re.sub(r"### Question \d+ \(\d+ points?", "", text)


def _words(q) -> str:
    text = q["prompt"] + " " + " ".join(q.get("options", []))
    return " ".join(re.findall(r"\w+", text.lower()))


def test_the_review_states_none_of_the_practice_answers():
    shown = numbers_in(_review_text())
    leaked = {qid: a for qid, a in _answers(PRACTICE).items() if a in shown}
    assert not leaked, f"the review (text or self-checks) states practice-quiz answers {leaked}"


def test_the_practice_quiz_states_none_of_the_self_check_answers():
    shown = numbers_in(_practice_text())
    leaked = {qid: a for qid, a in _answers(SELF_CHECK).items() if a in shown}
    assert not leaked, f"the practice quiz states self-check answers {leaked}"
    assert not set(_answers(SELF_CHECK).values()) & set(_answers(PRACTICE).values())


def test_no_practice_question_is_a_self_check_question():
    """Prompts alike enough to be one question must be numeric, with other numbers (checked
    above); no choice or formula question is repeated."""
    for p in PRACTICE.values():
        for s in SELF_CHECK.values():
            alike = difflib.SequenceMatcher(None, _words(p), _words(s)).ratio()
            assert alike < 0.6 or p["kind"] == s["kind"] == "number", (p["id"], s["id"], alike)
            assert p["prompt"] != s["prompt"]


def _runs(text: str, n: int = 10) -> set[tuple]:
    """Runs of n words; runs with a number are left out: they cite the lecture's tables, which
    both notebooks may quote."""
    words = re.findall(r"\w+", text.lower())
    runs = (tuple(words[i:i + n]) for i in range(len(words) - n + 1))
    return {run for run in runs if not any(w.isdigit() for w in run)}


def test_the_review_holds_no_model_answer_or_rubric_of_a_written_question():
    review = _runs(_review_text())
    for q in PRACTICE.values():
        if q["kind"] == "written":
            shared = _runs(" ".join([q["answer"], *(text for _, text in q["rubric"])])) & review
            assert not shared, (q["id"], [" ".join(r) for r in shared])


def _outputs(nb) -> str:
    out = []
    for cell in nb.cells:
        for o in cell.get("outputs", []):
            out.append(o.get("text", ""))
            out += [str(v) for k, v in o.get("data", {}).items() if k.startswith("text/")]
    return "\n".join(out)


@pytest.mark.slow
def test_the_review_s_worked_examples_print_no_quiz_or_self_check_answer():
    from benchmarks.notebooks import execute
    nb, _, errors = execute(REVIEW_RELEASE)
    assert not errors
    printed = numbers_in(_outputs(nb))
    assert len(printed) > 20                                  # the examples did print
    for name, answers in (("practice quiz", _answers(PRACTICE)),
                          ("self-check", _answers(SELF_CHECK))):
        leaked = {qid: a for qid, a in answers.items() if a in printed}
        assert not leaked, f"the review's worked examples print {name} answers {leaked}"


def test_feedback_shows_the_student_s_written_answer_and_no_mark_scheme():
    """The graded notebook keeps the source's locked cells, mark schemes included (the formgrader
    shows them to the grader); the student's feedback page must not."""
    from autograde.results import feedback
    graded = nbformat.read(PRACTICE_SOURCE, as_version=4)
    answer = next(c for c in graded.cells if cells.grade_id(c) == "cls_vs_mask")
    answer.source = "Because the MLM head is pre-trained."
    result = {"assignment": "practice_quiz", "student": "s", "score": 0, "max_score": 1,
              "tests": []}
    page = feedback.feedback_page(result, graded, release_notebook(graded))
    assert "MARK SCHEME" not in page and "Rubric" not in page
    assert "Because the MLM head is pre-trained." in page


def test_the_graded_copy_holds_the_rubric_and_the_student_s_answer():
    """What the formgrader shows the grader: locked cells come back from the source (the rubric
    with them), answer cells from the submission."""
    from autograde.grade import restore
    source = nbformat.read(PRACTICE_SOURCE, as_version=4)
    release = release_notebook(source)
    submission = copy.deepcopy(release)
    for cell in submission.cells:
        if cells.grade_id(cell) == "kv_cache_policies":
            cell.source = "A sliding window forgets the sinks."
    graded, findings = restore.restore(source, submission, release)
    by_id = {cells.grade_id(c): c.source for c in graded.cells if cells.grade_id(c)}
    assert not findings
    assert "### BEGIN MARK SCHEME" in by_id["kv_cache_policies_question"]
    assert by_id["kv_cache_policies"] == "A sliding window forgets the sinks."


# --- the review's widgets (issue 23, item 3): Markdown and math rendered, usable from the keyboard

def test_markdown_and_math_render_in_the_widgets():
    assert self_check.markdown_html("a **no** and `2/d` and $p_i < 1$, *soft*") == (
        "<p>a <strong>no</strong> and <code>2/d</code> and $p_i &lt; 1$, <em>soft</em></p>")
    assert "<script>" not in self_check.markdown_html("<script>x</script>")
    for q in self_check.load_bank():
        box = self_check._widget(q)
        shown = [c.value for c in box.children if hasattr(c, "value") and isinstance(c.value, str)]
        assert shown[0] == self_check.markdown_html(q.prompt) and "**" not in shown[0]


def test_a_choice_is_a_button_per_option_and_shows_the_pick():
    import ipywidgets as w
    q = next(q for q in self_check.load_bank() if q.kind == "choice" and "**" in q.prompt)
    prompt, *rows, out = self_check._widget(q).children
    assert isinstance(prompt, w.HTMLMath) and isinstance(out, w.HTMLMath)
    assert len(rows) == len(q.options) and all(isinstance(r.children[0], w.Button) for r in rows)
    assert [r.children[1].value for r in rows] == [self_check.markdown_html(o) for o in q.options]
    right = SELF_CHECK[q.id]["answer"]
    rows[right].children[0].click()                      # Enter or Space on the focused button
    assert "Right" in out.value and rows[right].children[0].icon == "check"
    wrong = (right + 1) % len(rows)
    rows[wrong].children[0].click()
    assert "Not quite" in out.value and rows[right].children[0].icon == ""


def test_a_text_answer_is_checked_on_enter():
    q = next(q for q in self_check.load_bank() if q.id == "moe_softmax")
    prompt, row, out = self_check._widget(q).children
    box, button = row.children
    assert box.description and not box.continuous_update     # a labelled box; Enter submits
    box.value = "the softmax"                                # what Enter sends
    assert "Right" in out.value
    box.value = "argmax"
    button.click()
    assert "Not quite" in out.value
