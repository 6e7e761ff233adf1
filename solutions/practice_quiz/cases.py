"""Hidden cases of the practice quiz: one per question, the normalised answer (no key here)."""

import json

from autograde.hidden import Case
from course_lib.self_check import BANK_PATH, normalize

_KINDS = {q["id"]: (q["kind"], q.get("digits", 3))
          for q in json.loads(BANK_PATH.read_text())["questions"]}


def _case(qid):
    kind, digits = _KINDS[qid]

    def run(objects, seed):
        try:
            return {"answer": normalize(kind, objects["answer"], digits)}
        except (TypeError, ValueError):
            return {"answer": f"unreadable answer: {objects['answer']!r}"[:200]}
    return Case(run, seeds=(0,), requires={"answer": "not the expected answer; the review "
                                                  "notebook explains each question"})


CASES = {qid: _case(qid) for qid in _KINDS}
