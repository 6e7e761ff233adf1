"""Quiz authoring (instructor side): the two plain answer keys -> what students get and what grades.

    python -m autograde quiz            # write the files below
    python -m autograde quiz --check    # exit 1 if one is out of date

- solutions/review/self_check_key.toml -> course_lib/data/self_check.json: the review's self-check
  questions with salted-hash keys and sealed explanations (no plain key), for course_lib.self_check;
- solutions/practice_quiz/answer_key.toml -> solutions/practice_quiz/practice_quiz.py (the graded
  practice quiz's percent source: answers in solution cells, rubrics in mark schemes, both cleared
  from the release) and the KINDS table of solutions/practice_quiz/cases.py (kinds, no answers).

The two keys hold different questions; tests/test_quiz.py checks that neither notebook gives the
other's answers away.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import tomllib

from autograde.config import ROOT
from course_lib.self_check import BANK_PATH, PARTS, answer_forms, answer_hash, seal

SELF_CHECK_KEY = ROOT / "solutions" / "review" / "self_check_key.toml"
PRACTICE_KEY = ROOT / "solutions" / "practice_quiz" / "answer_key.toml"
PRACTICE = ROOT / "solutions" / "practice_quiz" / "practice_quiz.py"
CASES = ROOT / "solutions" / "practice_quiz" / "cases.py"
AUTOGRADED = ("choice", "number", "formula")
KINDS_REGION = re.compile(r"(# BEGIN KINDS[^\n]*\n).*?(# END KINDS)", re.S)


def load_questions(path: Path, kinds=AUTOGRADED) -> list[dict]:
    """The questions of an answer key (a TOML file: data, not code), checked: unique ids, known
    parts and kinds, consistent options and rubrics. A rubric is [(points, what earns them)]."""
    questions = tomllib.loads(path.read_text())["questions"]
    for q in questions:
        if "rubric" in q:
            q["rubric"] = [(r["points"], r["text"]) for r in q["rubric"]]
    ids = [q["id"] for q in questions]
    if len(set(ids)) != len(ids):
        raise ValueError(f"duplicate question ids in {path}")
    for q in questions:
        if q["part"] not in PARTS or q["kind"] not in kinds:
            raise ValueError(f"{q['id']}: unknown part {q['part']!r} or kind {q['kind']!r}")
        if q["kind"] == "choice" and not 0 <= q["answer"] < len(q["options"]) == len(
                q["explanations"]):
            raise ValueError(f"{q['id']}: answer index, options and explanations disagree")
        if q["kind"] == "written" and sum(p for p, _ in q["rubric"]) != q["points"]:
            raise ValueError(f"{q['id']}: the rubric's points do not add up to {q['points']}")
    return questions


def self_check_questions() -> list[dict]:
    return load_questions(SELF_CHECK_KEY)


def practice_questions() -> list[dict]:
    return load_questions(PRACTICE_KEY, AUTOGRADED + ("written",))


def bank_json(questions: list[dict]) -> str:
    public = []
    for q in questions:
        qid, kind, digits = q["id"], q["kind"], q.get("digits", 3)
        entry = {k: v for k, v in q.items() if k not in ("answer", "explanation", "explanations")}
        forms = answer_forms(kind, q["answer"], digits)    # a formula: plain and canonical
        entry["keys"] = [answer_hash(qid, kind, f) for f in forms]
        if kind == "choice":
            entry["sealed"] = [seal(text, qid, str(i)) for i, text in enumerate(q["explanations"])]
        else:
            entry["sealed"] = [seal(q["explanation"], qid, f) for f in forms]
            method = q["explanation"].split(". ")[0].rstrip(".") + "."
            entry["hint"] = q.get("hint") or (method if kind == "number" else
                                              "Compare with the formula in the text above.")
        public.append(entry)
    return json.dumps({"questions": public}, indent=1, ensure_ascii=False, sort_keys=True) + "\n"


HEADER = """\
# %% [markdown]
# # Practice quiz: Model Efficiency
#
# **{{total_points}} points.** Practice for the written, closed-book quiz: answer without notes.
# The questions follow the lecture's order. Most are graded automatically when you hand the
# notebook in: set the variable the question names to an option **number** (0, 1, 2, ...) for
# multiple choice, a **number** for numeric questions (3 significant figures are enough) or a
# short **text** (a string) for formulas, in the code cell below the question. Questions marked
# *written* ask why, or for pros and cons: write a few sentences in the text cell below them
# (double-click it); they are graded by hand.
#
# The review notebook (`review.ipynb`) revises the formulas and tables; its self-check
# questions are different ones.
"""


def _md(text: str) -> list[str]:
    return ["# " + line if line else "#" for line in text.split("\n")]


def _autograded(q: dict, number: int) -> list[str]:
    qid = q["id"]
    what = {"number": "a number", "choice": "the option's number", "formula": "a string"}[q["kind"]]
    out = ["# %% [markdown]", f"# ### Question {number} ({{{{points}}}} points): {q['title']}",
           "#", *_md(q["prompt"])]
    if q["kind"] == "choice":
        out += ["#"] + [f"# {i}. {o}" for i, o in enumerate(q["options"])]
    out += ["#", f"# Set `{qid}` to {what}.", "",
            f"# %% [solution] id={qid}", "### BEGIN SOLUTION",
            f"{qid} = {q['answer']!r}" + (f"   # {q['explanation']}" if q.get("explanation") else
                                          f"   # {q['options'][q['answer']]}"),
            "### END SOLUTION", "",
            f"# %% [tests] id=test_{qid} points=1",
            f'assert "{qid}" in dir(), "set the variable {qid} to your answer"',
            f'print("answer recorded:", {qid})',
            "### BEGIN HIDDEN TESTS",
            "from autograde.grade.verdict import hidden_check",
            f'hidden_check("practice_quiz.{qid}", answer={qid})',
            "### END HIDDEN TESTS", ""]
    return out


def _written(q: dict, number: int) -> list[str]:
    rubric = [f"# - {p} point{'s' * (p != 1)}: {text}" for p, text in q["rubric"]]
    return ["# %% [markdown] id=" + q["id"] + "_question",
            f"# ### Question {number} ({{{{points}}}} points, written): {q['title']}",
            "#", *_md(q["prompt"]), "#",
            "# ### BEGIN MARK SCHEME", f"# **Rubric** ({q['points']} points)", "#", *rubric,
            "# ### END MARK SCHEME", "",
            f"# %% [written] id={q['id']} points={q['points']}", *_md(q["answer"]), ""]


def practice_source(questions: list[dict]) -> str:
    out, number = [HEADER], 0
    for part, title in PARTS.items():
        out += ["# %% [markdown]", f"# ## {title}", ""]
        for q in (q for q in questions if q["part"] == part):
            number += 1
            out += (_written if q["kind"] == "written" else _autograded)(q, number)
    return "\n".join(out)


def cases_text(questions: list[dict], current: str) -> str:
    """cases.py with its KINDS table rewritten: question id -> kind, for autograded questions."""
    rows = "".join(f"    {q['id']!r}: {q['kind']!r},\n" for q in questions
                   if q["kind"] in AUTOGRADED)
    table = "KINDS = {\n" + rows + "}\n"
    if not KINDS_REGION.search(current):
        raise ValueError(f"{CASES}: no '# BEGIN KINDS' ... '# END KINDS' region")
    return KINDS_REGION.sub(lambda m: m.group(1) + table + m.group(2), current)


def targets() -> dict[Path, str]:
    practice = practice_questions()
    return {BANK_PATH: bank_json(self_check_questions()), PRACTICE: practice_source(practice),
            CASES: cases_text(practice, CASES.read_text())}


def update(check: bool = False) -> int:
    """Write the generated files; with `check`, only report stale ones: 1 if any."""
    stale = {p: text for p, text in targets().items() if not p.exists() or p.read_text() != text}
    if check:
        if stale:
            print("out of date (run `python -m autograde quiz`):", *stale,
                  file=sys.stderr)
        return 1 if stale else 0
    for path, text in stale.items():
        path.write_text(text)
        print(f"wrote {path.relative_to(ROOT)}")
    return 0

