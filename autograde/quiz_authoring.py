"""Build the student-facing quiz material from the instructor's bank (solutions/practice_quiz/answer_key.py).

    python -m autograde.quiz_authoring            # write both files below
    python -m autograde.quiz_authoring --check    # exit 1 if either is out of date

- course_lib/data/self_check.json: the self-check questions with salted-hash keys (no plain key);
- solutions/practice_quiz/practice_quiz.py: the nbgrader practice quiz (answers in solution cells, hidden tests).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys

from autograde.course import ROOT
from course_lib.self_check import BANK_PATH, PARTS, answer_hash, seal

BANK_SOURCE = ROOT / "solutions" / "practice_quiz" / "answer_key.py"
PRACTICE = ROOT / "solutions" / "practice_quiz" / "practice_quiz.py"


def load_questions(path=BANK_SOURCE) -> list[dict]:
    spec = importlib.util.spec_from_file_location("answer_key", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    questions = module.QUESTIONS
    ids = [q["id"] for q in questions]
    if len(set(ids)) != len(ids):
        raise ValueError(f"duplicate question ids in {path}")
    for q in questions:
        if q["part"] not in PARTS:
            raise ValueError(f"{q['id']}: unknown part {q['part']!r}")
        if q["kind"] == "choice":
            if not 0 <= q["answer"] < len(q["options"]) == len(q["explanations"]):
                raise ValueError(f"{q['id']}: answer index, options and explanations disagree")
    return questions


def bank_json(questions: list[dict]) -> str:
    public = []
    for q in questions:
        qid, kind, digits = q["id"], q["kind"], q.get("digits", 3)
        entry = {k: v for k, v in q.items() if k not in ("answer", "explanation", "explanations")}
        entry["keys"] = [answer_hash(qid, kind, q["answer"], digits)]
        if kind == "choice":
            entry["sealed"] = [seal(text, qid, kind, i, digits)
                               for i, text in enumerate(q["explanations"])]
        else:
            entry["sealed"] = [seal(q["explanation"], qid, kind, q["answer"], digits)]
            method = q["explanation"].split(". ")[0].rstrip(".") + "."
            entry["hint"] = q.get("hint") or (method if kind == "number" else
                                              "Compare with the formula in the text above.")
        public.append(entry)
    return json.dumps({"questions": public}, indent=1, ensure_ascii=False, sort_keys=True) + "\n"


def _answer_line(q: dict) -> str:
    return f"{q['id']} = {q['answer']!r}"


def practice_source(questions: list[dict]) -> str:
    out = ['# %% [markdown]',
           '# # Practice quiz: Model Efficiency',
           '#',
           '# One point per question. Write your answer in the cell below each question:',
           '# an option **number** (0, 1, 2, ...) for multiple choice, a **number** for numeric',
           '# questions (3 significant figures are enough), a short **text** for formulas.',
           '# Your answers are graded when you hand the notebook in; the review notebook',
           '# (`review.ipynb`) has the same questions with instant feedback.',
           '']
    for part, title in PARTS.items():
        out += ['# %% [markdown]', f'# ## {title}', '']
        for q in (q for q in questions if q["part"] == part):
            out += ['# %% [markdown]', f'# **{q["id"]}.** ' + q["prompt"].replace("\n", "\n# ")]
            if q["kind"] == "choice":
                out += ['#'] + [f'# {i}. {o}' for i, o in enumerate(q["options"])]
            out += ['', f'# %% [solution] id={q["id"]}', '### BEGIN SOLUTION', _answer_line(q),
                    '### END SOLUTION', '',
                    f'# %% [tests] id=test_{q["id"]} points=1',
                    f'assert "{q["id"]}" in dir(), "keep the variable name {q["id"]}"',
                    f'print("answer recorded:", {q["id"]})',
                    '### BEGIN HIDDEN TESTS',
                    'from autograde.hidden import hidden_check',
                    f'hidden_check("practice_quiz.{q["id"]}", answer={q["id"]})',
                    '### END HIDDEN TESTS', '']
    return "\n".join(out)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args(argv)
    questions = load_questions()
    targets = {BANK_PATH: bank_json(questions), PRACTICE: practice_source(questions)}
    stale = [p for p, text in targets.items() if not p.exists() or p.read_text() != text]
    if args.check:
        if stale:
            print("out of date (run `python -m autograde.quiz_authoring`):", *stale, file=sys.stderr)
        return 1 if stale else 0
    for path in stale:
        path.write_text(targets[path])
        print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
