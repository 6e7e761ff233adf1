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
- "formula": a short text completion (e.g. "alpha/r"), read generously: case, spaces, a leading
  article ("the softmax"), enclosing parentheses ("(alpha/r)") and LaTeX or Greek spellings
  ("\\alpha / r", "α/r") do not matter, and where the answer is a formula, any equivalent form
  of it counts ("alpha r^-1"): each accepted answer is stored as the hashes of its plain form
  and of its canonical form (sympy, which torch brings; without it the plain form still works).

Prompts, options and explanations are Markdown with $LaTeX$; the widgets render both (options are
buttons beside their rendered text, so everything works from the keyboard: Tab, then Enter).

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
import re
from dataclasses import dataclass, field

from .datasets import DATA_DIR

BANK_PATH = DATA_DIR / "self_check.json"
PARTS = {"peft": "Parameter-efficient fine-tuning", "moe": "Mixture of experts",
         "compression": "Pruning, quantization and distillation", "kv_cache": "KV cache"}


GREEK = {"α": "alpha", "β": "beta", "γ": "gamma", "δ": "delta", "θ": "theta", "λ": "lambda",
         "μ": "mu", "σ": "sigma", "τ": "tau", "ξ": "xi", "×": "*", "·": "*", "−": "-", "√": "sqrt"}
ARTICLE = re.compile(r"\b(the|an|a)\s+(?=[a-z]{2})")          # "the softmax", not the matrix "a x"
FRAC = re.compile(r"\\[dt]?frac\s*\{([^{}]*)\}\s*\{([^{}]*)\}")


def _clean(answer) -> str:
    """Lower case, Greek letters and LaTeX spelled out, no leading article, single spaces."""
    text = str(answer).strip().lower()
    for symbol, word in GREEK.items():
        text = text.replace(symbol, f" {word} " if word.isalpha() else word)
    text = FRAC.sub(r"(\1)/(\2)", text).replace("\\left", "").replace("\\right", "")
    text = text.replace("\\cdot", "*").replace("\\times", "*").replace("{", "(").replace("}", ")")
    text = re.sub(r"[\\$]", " ", text)
    text = ARTICLE.sub("", " ".join(text.split()))
    return text.strip(" .")


def _unwrap(text: str) -> str:
    """Without parentheses that enclose the whole text: "((alpha/r))" -> "alpha/r"."""
    while text.startswith("(") and text.endswith(")"):
        depth = 0
        for i, ch in enumerate(text):
            depth += {"(": 1, ")": -1}.get(ch, 0)
            if depth == 0 and i < len(text) - 1:
                return text                               # "(a)/(b)": not one enclosing pair
        text = text[1:-1]
    return text


def _canonical_formula(text: str) -> str | None:
    """The answer as sympy's canonical expression ("alpha*r**(-1)" -> "alpha/r"), or None when
    it is no formula sympy reads (or sympy is missing)."""
    try:
        import sympy
        from sympy.parsing.sympy_parser import (
            convert_xor,
            implicit_multiplication,
            parse_expr,
            standard_transformations,
        )
    except ImportError:
        return None
    powers = len(re.findall(r"\*\*|\^", text))
    if not re.fullmatch(r"[a-z0-9_+\-*/^(). ]{1,60}", text) or powers > 1 or re.search(r"\d{4}", text):
        return None                                        # no formula here (or 9^9^9: too big)
    try:
        expr = parse_expr(text, transformations=standard_transformations
                          + (implicit_multiplication, convert_xor), evaluate=True)
        return "sym:" + sympy.srepr(sympy.simplify(expr))
    except Exception:                                      # not a formula: compare the text
        return None


def answer_forms(kind: str, answer, digits: int = 3) -> list[str]:
    """The canonical texts of an answer, each hashed and compared: one for a choice or a number;
    for a formula its plain form (no spaces, no enclosing parentheses) and, where sympy reads
    it, its canonical expression, so that equivalent forms of a formula agree."""
    if kind == "choice":                                 # an option number: 2, 2.0 or "2"
        if isinstance(answer, bool) or float(answer) != int(float(answer)):
            raise ValueError(f"an option number is a whole number, got {answer!r}")
        return [str(int(float(answer)))]
    if kind == "number":
        x = float(answer)
        if x == 0 or not math.isfinite(x):
            return [repr(x)]
        return [f"{x:.{digits - 1}e}"]                   # 3 significant figures by default
    if kind == "formula":
        text = _clean(answer)
        plain = _unwrap(re.sub(r"[\s_*]", "", text))
        canonical = _canonical_formula(text)
        return [plain] + ([canonical] if canonical else [])
    raise ValueError(f"unknown question kind {kind!r}")


def normalize(kind: str, answer, digits: int = 3) -> str:
    """The one canonical text of an answer (a formula's canonical expression where sympy reads
    it, else its plain form): what the practice quiz's hidden cases compare."""
    return answer_forms(kind, answer, digits)[-1]


def answer_hash(qid: str, kind: str, form: str) -> str:
    """The salted hash of one canonical form (see answer_forms)."""
    text = f"model-efficiency:{qid}:{form}"
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def answer_hashes(qid: str, kind: str, answer, digits: int = 3) -> list[str]:
    return [answer_hash(qid, kind, f) for f in answer_forms(kind, answer, digits)]


def _stream(key: str, n: int) -> bytes:
    out, block = b"", 0
    while len(out) < n:
        out += hashlib.sha256(f"{key}:{block}".encode()).digest()
        block += 1
    return out[:n]


def seal(text: str, qid: str, form: str) -> str:
    """Encrypt an explanation so that only the answer of canonical form `form` opens it (XOR with
    a key stream, so the same function opens it)."""
    data = text.encode()
    key = f"seal:{qid}:{form}"
    return base64.b64encode(bytes(a ^ b for a, b in zip(data, _stream(key, len(data))))).decode()


def unseal(sealed: str, qid: str, form: str) -> str:
    data = base64.b64decode(sealed)
    key = f"seal:{qid}:{form}"
    return bytes(a ^ b for a, b in zip(data, _stream(key, len(data)))).decode("utf-8", "replace")


# ---------------------------------------------------------------- Markdown with $LaTeX$ -> HTML
_MATH_OR_CODE = re.compile(r"(\$\$.+?\$\$|\$[^$]+?\$|`[^`]+`)", re.S)


def markdown_html(text: str) -> str:
    """The little Markdown the questions use, as HTML: **bold**, *italic*, `code` and paragraphs;
    $math$ is left for MathJax (ipywidgets' HTMLMath) to typeset. Everything else is escaped."""
    out = []
    for i, piece in enumerate(_MATH_OR_CODE.split(text)):
        if i % 2:                                          # math or code, kept whole
            out.append(f"<code>{html.escape(piece[1:-1])}</code>" if piece.startswith("`")
                       else html.escape(piece, quote=False))
            continue
        piece = html.escape(piece, quote=False)
        piece = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", piece, flags=re.S)
        piece = re.sub(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])", r"<em>\1</em>", piece)
        out.append(piece.replace("\n\n", "</p><p>"))
    return "<p>" + "".join(out) + "</p>"


@dataclass
class Question:
    id: str
    part: str
    kind: str                       # "choice" | "number" | "formula"
    prompt: str                     # Markdown with $LaTeX$
    keys: list                      # hashes of the accepted answers' canonical forms
    sealed: list                    # choice: one sealed explanation per option; else one per key
    hint: str = ""                  # number / formula: the method, shown after a wrong answer
    options: list = field(default_factory=list)        # choice: option texts (Markdown)
    digits: int = 3

    def _matched(self, answer) -> str | None:
        """The canonical form of `answer` that is an accepted answer's, if any."""
        try:
            forms = answer_forms(self.kind, answer, self.digits)
        except (TypeError, ValueError):
            return None
        return next((f for f in forms if answer_hash(self.id, self.kind, f) in self.keys), None)

    def is_correct(self, answer) -> bool:
        return self._matched(answer) is not None

    def feedback(self, answer) -> str:
        """HTML: right or wrong, and why (Markdown and $math$ rendered; show it in HTMLMath)."""
        form = self._matched(answer)
        mark = "\u2713 Right." if form is not None else "\u2717 Not quite."
        if self.kind == "choice":
            why = unseal(self.sealed[int(answer)], self.id, str(int(answer)))
        elif form is not None:
            why = unseal(self.sealed[self.keys.index(answer_hash(self.id, self.kind, form))],
                         self.id, form)
        else:
            why = f"Try again. {self.hint}"
        return f"<p><strong>{mark}</strong></p>{markdown_html(why)}"


def load_bank(part: str | None = None) -> list[Question]:
    questions = [Question(**q) for q in json.loads(BANK_PATH.read_text())["questions"]]
    if part is not None and part not in PARTS:
        raise ValueError(f"part must be one of {list(PARTS)}, got {part!r}")
    return [q for q in questions if part is None or q.part == part]


_SCORES: dict[str, bool] = {}


def _widget(q: Question):
    """One question: its rendered prompt, then a button per option (a choice) or a text box with
    a Check button (Enter in the box checks too), then the feedback. Keyboard: Tab moves between
    the buttons and the box, Enter or Space presses a button."""
    import ipywidgets as w
    out = w.HTMLMath(layout=w.Layout(margin="0 0 1em 0"))
    prompt = w.HTMLMath(markdown_html(q.prompt))
    if q.kind == "choice":
        letters = "ABCDEFGHIJ"
        buttons = [w.Button(description=letters[i], tooltip=f"answer {letters[i]}",
                            layout=w.Layout(width="3em", min_width="3em"))
                   for i in range(len(q.options))]

        def pick(i):
            def on_click(_):
                _SCORES[q.id] = q.is_correct(i)
                for j, b in enumerate(buttons):
                    b.button_style = "info" if j == i else ""
                    b.icon = "check" if j == i else ""         # the choice shows without colour
                out.value = f"<p>You chose {letters[i]}.</p>" + q.feedback(i)
            return on_click
        rows = []
        for i, (b, option) in enumerate(zip(buttons, q.options)):
            b.on_click(pick(i))
            rows.append(w.HBox([b, w.HTMLMath(markdown_html(option))],
                               layout=w.Layout(align_items="center")))
        return w.VBox([prompt, *rows, out])
    box = w.Text(placeholder="a number" if q.kind == "number" else "your answer",
                 description="Answer:", continuous_update=False)
    button = w.Button(description="Check", tooltip="check your answer")

    def check(_=None):
        _SCORES[q.id] = q.is_correct(box.value)
        out.value = q.feedback(box.value)
    button.on_click(check)
    box.observe(lambda change: check() if change["new"].strip() else None, names="value")
    return w.VBox([prompt, w.HBox([box, button]), out])


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
