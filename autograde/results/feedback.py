"""An HTML feedback page per student, readable offline and printable.

First a summary table: each question (test cell) with its points, what went wrong, and where (the
exercise cells it checks, linked to the cell below). Then the notebook as the student wrote it,
rendered (markdown, math as MathML: no CDN, see autograde/notebook_html.py; highlighted code), each
test cell with the grader's verdict beside it.

Hidden tests are never shown: a test cell appears as released (hidden region cleared) and without
its outputs; the verdict is the grader's lines (checks passed, the output that differs and the
requirement it checks, a named mistake). No traceback is shown for any cell, only the exception's
name and message; HTML a student's code printed is shown as text.

Scores are the gradebook's where it has them: a score set by hand in the formgrader is the score
the page gives (and says so); a cell graded by hand and not graded yet says it is pending.
Pages go where `nbgrader release_feedback` finds them: feedback/<student>/<assignment>/<assignment>.html.
"""

from __future__ import annotations

import html
import re
import sys
from pathlib import Path

import nbformat

from autograde import cells
from autograde import notebook_html as nh
from autograde.build.release import release_notebook
from autograde.config import Course
from autograde.results import gradebook, intake, nbgrader_dirs

HEADING = re.compile(r"^#{1,4}\s+(.+)$", re.M)
CSS = """
.summary td:nth-child(2){white-space:nowrap;text-align:right}
.row{display:grid;grid-template-columns:minmax(0,1fr) 19em;gap:1em;align-items:start;margin:.4em 0}
.row>.cell{min-width:0}.verdict{border-left:5px solid #888;padding:.4em .7em;background:#fafafa;
font-size:.92em}.verdict pre{background:none;padding:0;white-space:pre-wrap}
.full{border-color:#2a2}.part{border-color:#d90}.zero{border-color:#c22}.pending{border-color:#58c}
.note{background:#fff4e0;padding:.6em;margin:1em 0}.skipped{color:#555;font-size:.9em}
.score{font-size:1.2em}.late{color:#a40}
@media print{.row{grid-template-columns:minmax(0,1fr) 15em}}
"""


def final(test: dict, stored: dict | None) -> dict:
    """The test's score as the page gives it: the gradebook's manual score wins, then the grader's."""
    manual = (stored or {}).get("manual")
    if manual is not None:
        return {"score": manual, "how": "set by your instructor"}
    if test.get("manual") or test.get("score") is None:
        return {"score": None, "how": "to be graded by hand"}
    return {"score": test["score"], "how": ""}


def _kind(score, points) -> str:
    if score is None:
        return "pending"
    return "full" if score >= points else ("part" if score > 0 else "zero")


def _points(score, points) -> str:
    return "pending" if score is None else f"{score:.2f} / {points:g}"


def _what_went_wrong(test: dict, how: str) -> str:
    if test.get("manual") and how != "set by your instructor":
        return "graded by hand: not graded yet"
    lines = [line.strip() for line in test.get("lines", []) if line.strip()]
    if how == "" and test["score"] >= test["points"]:
        return "nothing: every check passed"
    if test.get("mistakes"):
        named = [line for line in lines if line.startswith("looks like a known mistake")]
        lines = named + [line for line in lines if line not in named]
    return "; ".join(lines[:3]) or "nothing: every check passed"


def feedback_page(result: dict, graded_nb, release_nb, stored: dict | None = None,
                  meta: dict | None = None, why_not: str = "") -> str:
    """stored: {grade id: the gradebook's grade} (gradebook.grades); meta: lms.json. With graded_nb
    None the page has the score and the summary but not the notebook, and says why_not."""
    stored, meta = stored or {}, meta or {}
    tests = {t["id"]: t for t in result["tests"]}
    released = {cells.grade_id(c): c.source for c in release_nb.cells if cells.grade_id(c)}
    owners = cells.exercises(release_nb)
    finals = {gid: final(t, stored.get(gid)) for gid, t in tests.items()}
    pending = any(f["score"] is None for f in finals.values())
    total = sum(f["score"] or 0.0 for f in finals.values())
    name = meta.get("name") or result["student"]
    who = html.escape(name) + (f" ({html.escape(result['student'])})" if name != result["student"] else "")
    body = [f"<h1>{html.escape(result['assignment'])}: feedback for {who}</h1>",
            f"<p class='score'><b>Score: {total:.2f} / {result['max_score']:g}</b>"
            + (" (some answers are still to be graded by hand)" if pending else "") + "</p>"]
    if meta.get("late"):
        body.append(f"<p class='late'>Handed in late ({html.escape(meta.get('lms', 'LMS'))} says so).</p>")
    notes = result.get("problems", []) + result.get("tampering", [])
    if notes:
        body.append("<div class='note'><b>Notes from the grader</b>" + nh.pre("\n".join(notes)) + "</div>")

    # the summary table: question, points, what went wrong, where
    heading, headings = "", {}
    for cell in release_nb.cells:
        if cell.cell_type == "markdown" and HEADING.search(cell.source):
            heading = HEADING.findall(cell.source)[-1].strip()
        if cells.is_test(cell):
            headings[cells.grade_id(cell)] = heading
    rows = []
    for gid, test in tests.items():
        f = finals[gid]
        where = ", ".join(f"your cell '{html.escape(o)}'" for o in owners.get(gid, [])) or "this cell"
        rows.append(f"<tr class='{_kind(f['score'], test['points'])}'><td><a href='#cell-{html.escape(gid)}'>"
                    f"{html.escape(gid)}</a><br><small>{nh.markdown(headings.get(gid, ''))}</small></td>"
                    f"<td>{_points(f['score'], test['points'])}"
                    + (f"<br><small>{f['how']}</small>" if f["how"] else "") + "</td>"
                    f"<td>{html.escape(_what_went_wrong(test, f['how']))}</td><td>{where}</td></tr>")
    head = "".join(f"<th scope='col'>{h}</th>" for h in ("question", "points", "what went wrong", "where"))
    body.append(f"<h2>Summary</h2><table class='summary'><thead><tr>{head}</tr></thead>"
                f"<tbody>{''.join(rows)}</tbody></table>")

    # the notebook, each test cell with its verdict beside it
    body.append("<h2>Your notebook</h2>")
    if graded_nb is None:
        body.append(f"<p class='note'>{html.escape(why_not)}</p>")
    for cell in graded_nb.cells if graded_nb is not None else []:
        gid = cells.grade_id(cell)
        anchor = f" id='cell-{html.escape(gid)}'" if gid else ""
        if cells.is_test(cell):
            test, side = tests.get(gid), ""
            if test is not None:
                f = finals[gid]
                lines = "\n".join(test.get("lines", [])) or "all checks passed"
                side = (f"<div class='verdict {_kind(f['score'], test['points'])}'><b>{html.escape(gid)}: "
                        f"{_points(f['score'], test['points'])} points</b>"
                        + (f" ({f['how']})" if f["how"] else "") + nh.pre(lines) + "</div>")
            body.append(f"<div class='row'{anchor}><div class='cell'>{nh.code(released.get(gid, ''))}"
                        f"</div>{side}</div>")
        elif cell.cell_type == "markdown":       # locked text as released: no mark scheme
            locked = gid in released and not cells.is_solution(cell)
            text = released[gid] if locked else cell.source
            side = ""
            if cells.is_manual(cell) and gid in tests:
                f = finals[gid]
                side = (f"<div class='verdict {_kind(f['score'], tests[gid]['points'])}'><b>"
                        f"{html.escape(gid)}: {_points(f['score'], tests[gid]['points'])} points</b>"
                        f" ({f['how']})</div>")
            body.append(f"<div class='row'{anchor}><div class='cell'>{nh.markdown(text)}</div>"
                        f"{side}</div>")
        elif cell.cell_type == "code":
            skipped = "<p class='skipped'>(not run by the grader)</p>" if cells.is_skipped(cell) else ""
            body.append(f"<div class='row'{anchor}><div class='cell'>{nh.code(cell.source)}{skipped}"
                        f"{nh.outputs(cell)}</div></div>")
    return nh.page(f"{result['assignment']} feedback", "".join(body), CSS)


def write_all(course: Course, results: list[dict], out_dir: Path | None = None) -> list[Path]:
    """A page per result: nbgrader's feedback/<student>/<assignment>/<assignment>.html (with its
    timestamp and submission secret, for release_feedback), or the same layout under out_dir.
    A notebook that cannot be rendered costs only its own page, which then gives the score and the
    summary without the notebook (said on stderr); every other student gets a full page."""
    written, releases = [], {}
    try:
        stored = gradebook.grades(course)
    except Exception:                                 # no gradebook yet
        stored = {}
    for result in results:
        name, student = result["assignment"], result["student"]
        if name not in releases:
            releases[name] = release_notebook(nbformat.read(course.source(name), as_version=4))
        meta = intake.meta(nbgrader_dirs.folder(course, "submitted", student, name))
        args = (result, releases[name], stored.get((name, student)), meta)
        try:
            graded = course.work / "runs" / name / student / "graded.ipynb"
            nb = nbformat.read(graded, as_version=4) if graded.exists() else releases[name]
            page = feedback_page(args[0], nb, *args[1:])
        except Exception as err:                      # one bad notebook: its page only
            why = f"{type(err).__name__}: {err}"[:300]
            print(f"warning: feedback for {student}/{name}: the notebook could not be rendered "
                  f"({why}); its page gives the score and the summary only", file=sys.stderr)
            page = feedback_page(args[0], None, *args[1:], why_not="Your notebook could not be shown on "
                          "this page; your score and the summary above are complete. Your "
                          "instructor has been told.")
        if out_dir is None:
            path = nbgrader_dirs.write_feedback(course, student, name, page)
        else:
            path = out_dir / student / name / f"{name}.html"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(page)
        written.append(path)
    return written
