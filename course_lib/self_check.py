"""Self-check questions of the quiz review notebook, answered instantly (the student side).

The question bank ships as data (data/self_check.json) with no plain answer key: each accepted
answer is stored as a salted hash, and each explanation is sealed (XOR with a key stream derived
from the answer it explains), so an explanation can only be read by giving that answer. A
wrong numeric or formula answer gets the method (`hint`), not the number. The file is generated
from the instructor's plain key, which stays with the instructor. The graded practice quiz asks
other questions.

Three kinds of question:
- "choice": one right option among several; every option has an explanation of why it is right
  or wrong.
- "number": a numeric answer; compared after rounding to `digits` significant figures.
- "formula": a short text completion (e.g. "alpha/r"); compared after removing spaces and case.

    from course_lib import self_check
    self_check.ask("peft")        # widgets for every PEFT question, instant feedback
    self_check.summary("peft")    # your score so far
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import math
from dataclasses import dataclass, field

from .datasets import DATA_DIR

BANK_PATH = DATA_DIR / "self_check.json"
PARTS = {"peft": "Parameter-efficient fine-tuning", "moe": "Mixture of experts",
         "compression": "Pruning, quantization and distillation", "kv_cache": "KV cache"}


def normalize(kind: str, answer, digits: int = 3) -> str:
    """The canonical text of an answer: what is hashed and compared."""
    if kind == "choice":                                 # an option number: 2, 2.0 or "2"
        if isinstance(answer, bool) or float(answer) != int(float(answer)):
            raise ValueError(f"an option number is a whole number, got {answer!r}")
        return str(int(float(answer)))
    if kind == "number":
        x = float(answer)
        if x == 0 or not math.isfinite(x):
            return repr(x)
        return f"{x:.{digits - 1}e}"                     # 3 significant figures by default
    if kind == "formula":
        text = "".join(str(answer).lower().split()).replace("α", "alpha")
        return text.replace("*", "").replace("\\", "").replace("$", "")
    raise ValueError(f"unknown question kind {kind!r}")


def answer_hash(qid: str, kind: str, answer, digits: int = 3) -> str:
    text = f"model-efficiency:{qid}:{normalize(kind, answer, digits)}"
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def _stream(key: str, n: int) -> bytes:
    out, block = b"", 0
    while len(out) < n:
        out += hashlib.sha256(f"{key}:{block}".encode()).digest()
        block += 1
    return out[:n]


def seal(text: str, qid: str, kind: str, answer, digits: int = 3) -> str:
    """Encrypt an explanation so that only `answer` opens it (same function opens it)."""
    data = text.encode()
    key = f"seal:{qid}:{normalize(kind, answer, digits)}"
    return base64.b64encode(bytes(a ^ b for a, b in zip(data, _stream(key, len(data))))).decode()


def unseal(sealed: str, qid: str, kind: str, answer, digits: int = 3) -> str:
    data = base64.b64decode(sealed)
    key = f"seal:{qid}:{normalize(kind, answer, digits)}"
    return bytes(a ^ b for a, b in zip(data, _stream(key, len(data)))).decode()


@dataclass
class Question:
    id: str
    part: str
    kind: str                       # "choice" | "number" | "formula"
    prompt: str                     # Markdown with $LaTeX$
    keys: list                      # hashes of the accepted answers
    sealed: list                    # choice: one sealed explanation per option; else one
    hint: str = ""                  # number / formula: the method, shown after a wrong answer
    options: list = field(default_factory=list)        # choice: option texts
    digits: int = 3

    def is_correct(self, answer) -> bool:
        try:
            return answer_hash(self.id, self.kind, answer, self.digits) in self.keys
        except (TypeError, ValueError):
            return False

    def feedback(self, answer) -> str:
        """HTML: right or wrong, and why."""
        good = self.is_correct(answer)
        mark = "\u2713 Right." if good else "\u2717 Not quite."
        if self.kind == "choice":
            why = unseal(self.sealed[int(answer)], self.id, self.kind, answer, self.digits)
        elif good:
            why = unseal(self.sealed[0], self.id, self.kind, answer, self.digits)
        else:
            why = f"Try again. {self.hint}"
        return f"<b>{mark}</b> {html.escape(why)}"


def load_bank(part: str | None = None) -> list[Question]:
    questions = [Question(**q) for q in json.loads(BANK_PATH.read_text())["questions"]]
    if part is not None and part not in PARTS:
        raise ValueError(f"part must be one of {list(PARTS)}, got {part!r}")
    return [q for q in questions if part is None or q.part == part]


_SCORES: dict[str, bool] = {}


def _widget(q: Question):
    import ipywidgets as w
    out = w.HTML()
    if q.kind == "choice":
        pick = w.RadioButtons(options=[(o, i) for i, o in enumerate(q.options)], value=None,
                              layout=w.Layout(width="auto"))
        def on_pick(change):
            if change["new"] is not None:
                _SCORES[q.id] = q.is_correct(change["new"])
                out.value = q.feedback(change["new"])
        pick.observe(on_pick, names="value")
        return w.VBox([w.HTMLMath(q.prompt), pick, out])
    box = w.Text(placeholder="number" if q.kind == "number" else "your answer")
    button = w.Button(description="Check")
    def on_check(_):
        _SCORES[q.id] = q.is_correct(box.value)
        out.value = q.feedback(box.value)
    button.on_click(on_check)
    return w.VBox([w.HTMLMath(q.prompt), w.HBox([box, button]), out])


def ask(part: str) -> None:
    """Show every question of one part as widgets with instant feedback."""
    from IPython.display import display
    for q in load_bank(part):
        display(_widget(q))


def summary(part: str) -> None:
    """Print how many questions of one part you answered right."""
    qs = load_bank(part)
    answered = [q for q in qs if q.id in _SCORES]
    right = sum(_SCORES[q.id] for q in answered)
    text = (f"{PARTS[part]}: {right} of {len(qs)} right"
            + (f" ({len(qs) - len(answered)} not answered yet)" if len(answered) < len(qs) else ""))
    print(text)
