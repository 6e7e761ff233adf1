"""Instructor analytics: one HTML page with the score distribution and, per question, the pass rate
and the most frequent named mistakes (as plots), and the submissions that need a look.
"""

from __future__ import annotations

import base64
import html
import io
from collections import Counter, defaultdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from autograde import batch, similarity  # noqa: E402
from autograde.course import Course  # noqa: E402


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return f"<img src='data:image/png;base64,{base64.b64encode(buf.getvalue()).decode()}'>"


def summarize(results: list[dict]) -> dict:
    """Per assignment: scores, per-question pass rates and mistake counts, needs-a-look list."""
    out = defaultdict(lambda: {"scores": [], "max": 0.0, "full": Counter(), "seen": Counter(),
                               "mistakes": defaultdict(Counter), "look": []})
    for r in results:
        a = out[r["assignment"]]
        a["scores"].append(r["score"])
        a["max"] = r["max_score"]
        for t in r["tests"]:
            a["seen"][t["id"]] += 1
            a["full"][t["id"]] += t["score"] >= t["points"]
            a["mistakes"][t["id"]].update(t.get("mistakes", []))
        if r["needs_look"]:
            a["look"].append((r["student"], r["needs_look"]))
    return out


def _assignment_html(name: str, a: dict) -> str:
    parts = [f"<h2>{html.escape(name)} ({len(a['scores'])} submissions)</h2>"]
    fig, ax = plt.subplots(figsize=(5, 2.6))
    ax.hist(a["scores"], bins=min(20, max(5, len(a["scores"]))), range=(0, a["max"] or 1))
    ax.set(xlabel="score", ylabel="submissions", title="score distribution")
    parts.append(_png(fig))
    questions = sorted(a["seen"])
    fig, ax = plt.subplots(figsize=(5, 0.4 * len(questions) + 1))
    ax.barh(questions, [a["full"][q] / a["seen"][q] for q in questions])
    ax.set(xlim=(0, 1), xlabel="fraction with full marks", title="pass rate per question")
    parts.append(_png(fig))
    common = [(q, m, n) for q in questions for m, n in a["mistakes"][q].most_common(3)]
    if common:
        fig, ax = plt.subplots(figsize=(5, 0.4 * len(common) + 1))
        ax.barh([f"{q}: {m}" for q, m, _ in common], [n for *_, n in common])
        ax.set(xlabel="submissions", title="most frequent named mistakes")
        parts.append(_png(fig))
        rows = "".join(f"<tr><td>{html.escape(q)}</td><td>{html.escape(m)}</td><td>{n}</td></tr>"
                       for q, m, n in common)
        parts.append(f"<table><tr><th>question</th><th>named mistake</th><th>submissions</th></tr>"
                     f"{rows}</table>")
    if a["look"]:
        rows = "".join(f"<li><b>{html.escape(s)}</b>: {html.escape('; '.join(w))}</li>" for s, w in a["look"])
        parts.append(f"<h3>Needs a look</h3><ul>{rows}</ul>")
    return "".join(parts)


def write(course: Course, out: Path) -> Path:
    summary = summarize(batch.load_results(course))
    for name, a in summary.items():             # flagged pairs of `python -m autograde similarity`
        a["look"] += sorted(similarity.needs_look(course, name).items())
    body = "".join(_assignment_html(n, a) for n, a in sorted(summary.items())) or "<p>No results yet.</p>"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("<!doctype html><html><head><meta charset='utf-8'><title>Grading report</title>"
                   "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto}</style>"
                   f"</head><body><h1>Grading report</h1>{body}</body></html>")
    return out
