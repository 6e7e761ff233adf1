"""Instructor analytics: one HTML page with the score distribution and, per question, the pass rate
and the most frequent named mistakes (as plots, each with a text alternative that says what it
shows and a table of the same numbers), the tampering the grader refused (its own list), and the
submissions that need a look (tampering included, and the flagged pairs of `python -m autograde
similarity`, autograde/results/similarity.py, when it has been run).

The plots are one series each, drawn in a dark blue that keeps its contrast in greyscale, outlined,
with every bar labelled by its number: nothing is told by colour alone.
"""

from __future__ import annotations

import base64
import html
import io
import statistics
from collections import Counter, defaultdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from autograde import notebook_html as nh  # noqa: E402
from autograde.config import Course  # noqa: E402
from autograde.grade import batch  # noqa: E402
from autograde.results import similarity  # noqa: E402

BAR = {"color": "#0b4f8a", "edgecolor": "black", "linewidth": 0.8}   # 8.6:1 on white, dark in greyscale
CSS = "h2{margin-top:2em}figure{margin:1em 0}li{margin:.2em 0}caption{text-align:left;font-weight:bold}"


def _figure(fig, alt: str) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    src = f"data:image/png;base64,{base64.b64encode(buf.getvalue()).decode()}"
    return f"<figure><img alt='{html.escape(alt)}' src='{src}'></figure>"


def _score(x: float) -> str:
    return f"{x:.2f}".rstrip("0").rstrip(".")


def summarize(results: list[dict]) -> dict:
    """Per assignment: scores, per-question pass rates and mistake counts, tampering, needs-a-look."""
    out = defaultdict(lambda: {"scores": [], "max": 0.0, "full": Counter(), "seen": Counter(),
                               "mistakes": defaultdict(Counter), "look": [], "tampering": []})
    for r in results:
        a = out[r["assignment"]]
        a["scores"].append(r["score"])
        a["max"] = r["max_score"]
        for t in r["tests"]:
            a["seen"][t["id"]] += 1
            a["full"][t["id"]] += t["score"] is not None and t["score"] >= t["points"]
            a["mistakes"][t["id"]].update(t.get("mistakes", []))
        tampering = list(r.get("tampering", []))
        if tampering:
            a["tampering"].append((r["student"], tampering))
        look = list(r.get("needs_look", []))
        look += [t for t in tampering if t not in look]        # every refused record is a look
        if look:
            a["look"].append((r["student"], look))
    return out


def _distribution(a: dict) -> str:
    scores, top = a["scores"], a["max"] or 1
    fig, ax = plt.subplots(figsize=(5, 2.6))
    counts, _, bars = ax.hist(scores, bins=min(20, max(5, len(scores))), range=(0, top), **BAR)
    ax.bar_label(bars, labels=[f"{int(c)}" if c else "" for c in counts], fontsize=8)
    ax.set(xlabel="score", ylabel="submissions", title="score distribution")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.margins(y=0.15)                                   # room for the labels above the bars
    full, zero = sum(s >= top for s in scores), sum(s <= 0 for s in scores)
    alt = (f"Histogram of the scores of {len(scores)} submissions, from 0 to {_score(top)} points: "
           f"median {_score(statistics.median(scores))}, lowest {_score(min(scores))}, highest "
           f"{_score(max(scores))}; {full} with full marks, {zero} with zero.")
    return _figure(fig, alt)


def _pass_rates(a: dict, questions: list[str]) -> str:
    rates = [a["full"][q] / a["seen"][q] for q in questions]
    fig, ax = plt.subplots(figsize=(5, 0.4 * len(questions) + 1))
    bars = ax.barh(questions, rates, **BAR)
    ax.bar_label(bars, labels=[f"{r:.0%}" for r in rates], padding=2, fontsize=8)
    ax.set(xlim=(0, 1.15), xlabel="fraction with full marks", title="pass rate per question")
    alt = "Bar chart of the fraction of submissions with full marks, per question: " + "; ".join(
        f"{q} {r:.0%} ({a['full'][q]} of {a['seen'][q]})" for q, r in zip(questions, rates)) + "."
    rows = "".join(f"<tr><th scope='row'>{html.escape(q)}</th><td>{a['full'][q]}</td>"
                   f"<td>{a['seen'][q]}</td><td>{r:.0%}</td></tr>" for q, r in zip(questions, rates))
    return (_figure(fig, alt) + "<table><caption>Full marks per question</caption><tr><th scope='col'>"
            "question</th><th scope='col'>full marks</th><th scope='col'>submissions</th>"
            f"<th scope='col'>pass rate</th></tr>{rows}</table>")


def _mistakes(common: list[tuple[str, str, int]]) -> str:
    fig, ax = plt.subplots(figsize=(5, 0.4 * len(common) + 1))
    bars = ax.barh([f"{q}: {m}" for q, m, _ in common], [n for *_, n in common], **BAR)
    ax.bar_label(bars, padding=2, fontsize=8)
    ax.set(xlabel="submissions", title="most frequent named mistakes")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.margins(x=0.15)
    alt = "Bar chart of the most frequent named mistakes: " + "; ".join(
        f"{q}, {m}: {n} submission{'s' * (n != 1)}" for q, m, n in common) + "."
    rows = "".join(f"<tr><td>{html.escape(q)}</td><td>{html.escape(m)}</td><td>{n}</td></tr>"
                   for q, m, n in common)
    return (_figure(fig, alt) + "<table><caption>Named mistakes</caption><tr><th scope='col'>question"
            "</th><th scope='col'>named mistake</th><th scope='col'>submissions</th></tr>"
            f"{rows}</table>")


def _listing(title: str, entries: list[tuple[str, list[str]]]) -> str:
    rows = "".join(f"<li><b>{html.escape(s)}</b>: {html.escape('; '.join(w))}</li>" for s, w in entries)
    return f"<h3>{title} ({len(entries)})</h3><ul>{rows}</ul>"


def _assignment_html(name: str, a: dict) -> str:
    parts = [f"<h2>{html.escape(name)} ({len(a['scores'])} submissions)</h2>", _distribution(a)]
    questions = sorted(a["seen"])
    parts.append(_pass_rates(a, questions))
    common = [(q, m, n) for q in questions for m, n in a["mistakes"][q].most_common(3)]
    if common:
        parts.append(_mistakes(common))
    if a["tampering"]:
        parts.append(_listing("Tampering refused by the grader", a["tampering"]))
    if a["look"]:
        parts.append(_listing("Needs a look", a["look"]))
    return "".join(parts)


def _with_similar_pairs(a: dict, similar: dict[str, list[str]]) -> None:
    """The flagged pairs' lines joined to each student's needs-a-look lines (one entry a student)."""
    look = {student: list(lines) for student, lines in a["look"]}
    for student, lines in similar.items():
        look.setdefault(student, []).extend(lines)
    a["look"] = list(look.items())


def write(course: Course, out: Path) -> Path:
    summary = summarize(batch.load_results(course))
    for name, a in summary.items():
        _with_similar_pairs(a, similarity.needs_look(course, name))
    body = "".join(_assignment_html(n, a) for n, a in sorted(summary.items())) or "<p>No results yet.</p>"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(nh.page("Grading report", f"<h1>Grading report</h1>{body}", CSS))
    return out
