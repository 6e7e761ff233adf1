"""The class integrity report as a page: flagged pairs ranked, both answers side by side with the
matched regions marked, and the class's score distribution (a picture and the same numbers as a
table). `write` writes it beside the JSON of autograde/results/similarity.py.

Student code and written answers are shown as text, never rendered: every byte a student wrote (and
every archived file's name) is html-escaped here, and the page goes through the one page shell,
autograde/notebook_html.py `page`, which sanitizes the body once more as a whole
(autograde/safe_html.py) and adds the Content-Security-Policy that lets nothing run or load.
"""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path

from autograde import notebook_html
from autograde.config import Course
from autograde.results import similarity

BINS = 20
MAX_UNFLAGGED_ROWS = 200
CSS = """
.notice{border:2px solid #222;padding:.6em 1em;margin:1em 0;background:#fff}
.pair{border-top:1px solid #999;margin-top:1.5em}
.side{display:grid;grid-template-columns:1fr 1fr;gap:1em}
.side>div{min-width:0}.side h4{overflow-wrap:anywhere}
.side pre,.side .text{background:#f6f8fa;padding:.5em;margin:0;white-space:pre-wrap;word-break:break-word;
font-size:.9em}
mark{background:#ffe08a;color:#000;text-decoration:underline;text-decoration-thickness:2px;font-weight:bold}
.ln{color:#555;user-select:none}
figure{margin:1em 0}
"""


def _e(text) -> str:
    return html.escape(str(text), quote=True)


def _label(owner: str) -> str:
    if owner.startswith(similarity.ARCHIVE):
        return f"archive: {owner[len(similarity.ARCHIVE):]}"
    return owner


def _code(source: str, regions: list[list[int]]) -> str:
    marked = {n for first, last in regions for n in range(first, last + 1)}
    lines = source.splitlines() or [""]
    width = len(str(len(lines)))
    out = []
    for n, line in enumerate(lines, 1):
        number = f"<span class='ln'>{n:>{width}} </span>"
        text = line.lstrip()                    # the indentation is not marked
        shown = f"{_e(line[:len(line) - len(text)])}<mark>{_e(text)}</mark>" if n in marked and text else _e(line)
        out.append(number + shown)
    return "<pre>" + "\n".join(out) + "</pre>"


def _text(source: str, regions: list[list[int]]) -> str:
    out, pos = [], 0
    for start, end in regions:
        out += [_e(source[pos:start]), f"<mark>{_e(source[start:end])}</mark>"]
        pos = end
    out.append(_e(source[pos:]))
    return "<div class='text'>" + "".join(out) + "</div>"


def _side(result: similarity.Result, pair: dict, row: dict) -> str:
    show = _code if row["kind"] == "code" else _text
    ex_b = row.get("b_exercise", row["exercise"])
    cols = []
    for owner, ex, regions in ((pair["a"], row["exercise"], row["a_regions"]),
                               (pair["b"], ex_b, row["b_regions"])):
        cols.append(f"<div><h4>{_e(_label(owner))}</h4>"
                    f"{show(result.answers.get(owner, {}).get(ex, ''), regions)}</div>")
    state = "flagged" if row["flagged"] else "below the threshold"
    return (f"<h3>{_e(row['exercise'])} ({row['kind']}): {row['score']:.2f}, {row['shared']} shared "
            f"fingerprints, {state}</h3><div class='side'>{''.join(cols)}</div>")


def _histogram(result: similarity.Result) -> tuple[list[int], str]:
    """Counts per score bin (every class pair; pairs never scored count as 0) and the picture."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    counts = [0] * BINS
    for s in result.scores:
        counts[min(BINS - 1, int(s * BINS))] += 1
    counts[0] += result.n_pairs - len(result.scores)
    fig, ax = plt.subplots(figsize=(6, 2.8))
    edges = [i / BINS for i in range(BINS)]
    bars = ax.bar(edges, [max(c, 0) for c in counts], width=1 / BINS, align="edge", color="#bbbbbb",
                  edgecolor="black", log=True)
    for bar, lo in zip(bars, edges):
        if lo + 1e-9 >= min(similarity.THRESHOLD.values()):
            bar.set_hatch("///")
    for kind, t in similarity.THRESHOLD.items():
        ax.axvline(t, color="black", linestyle="--" if kind == "code" else ":", linewidth=1.5)
        ax.text(t, ax.get_ylim()[1], f" {kind} threshold {t:.2f}", va="top", fontsize=8)
    ax.set(xlim=(0, 1), xlabel="pair score (highest exercise score)", ylabel="pairs (log scale)",
           title="score of every pair of the class")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return counts, base64.b64encode(buf.getvalue()).decode()


def _distribution(result: similarity.Result) -> str:
    counts, png = _histogram(result)
    flagged = len(result.flagged())
    low = counts[0] + counts[1]
    alt = (f"Bar chart, log scale, of the scores of all {result.n_pairs} pairs of the class: "
           f"{low} pairs score below 0.10, {sum(c for i, c in enumerate(counts) if i / BINS >= 0.5)} "
           f"at 0.50 or more; {flagged} pairs are flagged. The table below gives every bar.")
    rows = "".join(f"<tr><td>{i / BINS:.2f} to {(i + 1) / BINS:.2f}</td><td>{c}</td></tr>"
                   for i, c in enumerate(counts) if c)
    return (f"<h2 id='distribution'>Where the pairs sit</h2>"
            f"<figure><img src='data:image/png;base64,{png}' alt='{_e(alt)}'>"
            f"<figcaption>Scores of all {result.n_pairs} pairs of {len(result.students)} submissions "
            f"({result.considered} pairs shared a fingerprint the class does not share and were scored; the others "
            "count as 0). Hatched bars are at or above a threshold; the dashed line is the code "
            "threshold, the dotted one the written answers'.</figcaption></figure>"
            f"<table><caption>Pairs per score range (ranges with no pair left out)</caption>"
            f"<tr><th scope='col'>score</th><th scope='col'>pairs</th></tr>{rows}</table>")


def _rank(result: similarity.Result, score: float) -> str:
    below = result.n_pairs - sum(1 for s in result.scores if s >= score)
    return f"higher than {below} of the class's {result.n_pairs} pairs" if result.n_pairs else ""


def render(result: similarity.Result) -> str:
    flagged = result.flagged()
    t = similarity.THRESHOLD
    parts = [f"<h1>Similar submissions: {_e(result.assignment)}</h1>",
             "<div class='notice'><p><strong>Similarity is a reason to look, never a "
             "verdict.</strong> Two students who solved the same short exercise the same way, "
             "worked from the same lecture or helped each other within the rules can look alike. "
             "Read both answers, then talk to the students before deciding anything.</p></div>",
             f"<p>{len(result.students)} submissions, {result.n_pairs} pairs; {len(flagged)} flagged "
             f"(an exercise at {t['code']:.2f} or more for code, {t['text']:.2f} or more for written "
             "answers). The released notebook's code and text, and code or wording more than half of "
             "the class shares, were removed before comparing; code was compared after renaming, "
             "comments, layout, dead code and the order of independent statements were normalised "
             "away (docs/GRADING.md, 'Similar submissions').</p>"]
    if result.report.lines():
        items = "".join(f"<li>{_e(line)}</li>" for line in result.report.lines())
        parts.append(f"<h2>Inputs</h2><ul>{items}</ul>")
    parts.append(_distribution(result))
    parts.append(f"<h2>Flagged pairs ({len(flagged)})</h2>")
    if not flagged:
        parts.append("<p>No pair is flagged.</p>")
    for i, p in enumerate(flagged, 1):
        where = "an earlier term's or another course's file" if p["b"].startswith(similarity.ARCHIVE) \
            else _rank(result, p["score"])
        parts.append(f"<section class='pair'><h2 id='pair{i}'>{i}. "
                     f"{_e(_label(p['a']))} and {_e(_label(p['b']))}: {p['score']:.2f}</h2>"
                     f"<p>Score {p['score']:.2f}, {_e(where)}. Marked lines (code) and words "
                     "(written answers) are the matched regions.</p>")
        parts += [_side(result, p, row) for row in p["exercises"] if row["score"] >= similarity.FLOOR]
        parts.append("</section>")
    rest = [p for p in result.pairs if not p["flagged"]]
    if rest:
        rows = "".join(f"<tr><td>{_e(_label(p['a']))}</td><td>{_e(_label(p['b']))}</td>"
                       f"<td>{p['score']:.2f}</td><td>{_e(', '.join(r['exercise'] for r in p['exercises']))}"
                       f"</td></tr>" for p in rest[:MAX_UNFLAGGED_ROWS])
        more = f" (the first {MAX_UNFLAGGED_ROWS}; all are in the JSON file)" if len(rest) > MAX_UNFLAGGED_ROWS else ""
        parts.append(f"<h2>Pairs above {similarity.FLOOR:.2f}, not flagged{more}</h2>"
                     "<table><tr><th scope='col'>student</th><th scope='col'>other</th>"
                     f"<th scope='col'>score</th><th scope='col'>exercises</th></tr>{rows}</table>")
    return notebook_html.page(f"Similar submissions: {result.assignment}", "".join(parts), CSS)


def write(course: Course, result: similarity.Result) -> tuple[Path, Path]:
    """<work>/similarity/<NAME>.json and the page beside it, <NAME>.html."""
    path = similarity.save(course, result)
    page = path.with_suffix(".html")
    page.write_text(render(result))
    return path, page
