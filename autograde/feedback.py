"""An HTML feedback page per student: scores, a hint per test, the student's own cells.

Hidden tests are never shown: test cells appear as released (hidden region cleared) and their
outputs are replaced by the grader's lines (test name, checks passed, hint, named mistake). Locked
markdown cells appear as released too, so a written question's mark scheme stays with the grader.
No traceback is shown for any cell, only the exception's name and message.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

import nbformat

from autograde import cells
from autograde.course import Course
from autograde.release import release_notebook

ANSI = re.compile(r"\x1b\[[0-9;]*m")
STYLE = """body{font-family:sans-serif;max-width:60em;margin:2em auto;line-height:1.4}
pre{background:#f6f8fa;padding:.6em;overflow-x:auto;white-space:pre-wrap}
.test{border-left:4px solid #888;padding-left:.8em;margin:1em 0}.full{border-color:#2a2}
.part{border-color:#d90}.zero{border-color:#c22}.out{background:#fff;border:1px solid #ddd}
.note{background:#fff4e0;padding:.6em}"""


def _pre(text: str, cls: str = "") -> str:
    return f"<pre class='{cls}'>{html.escape(ANSI.sub('', text))}</pre>"


def _outputs(cell) -> str:
    parts = []
    for out in cell.get("outputs", []):
        kind = out.get("output_type")
        if kind == "stream":
            parts.append(out.get("text", ""))
        elif kind in ("execute_result", "display_data"):
            parts.append(out.get("data", {}).get("text/plain", ""))
        elif kind == "error":
            parts.append(f"{out.get('ename')}: {out.get('evalue')}")
    return _pre("".join(p if p.endswith("\n") else p + "\n" for p in parts), "out") if parts else ""


def _test_html(test: dict, released_source: str) -> str:
    cls = "full" if test["score"] >= test["points"] else ("part" if test["score"] > 0 else "zero")
    lines = "\n".join(test["lines"]) or "all checks passed"
    return (f"<div class='test {cls}'><b>{html.escape(test['id'])}: {test['score']:.2f} / "
            f"{test['points']:g} points</b>{_pre(released_source)}{_pre(lines, 'out')}</div>")


def render(result: dict, graded_nb, release_nb) -> str:
    tests = {t["id"]: t for t in result["tests"]}
    released = {cells.grade_id(c): c.source for c in release_nb.cells if cells.grade_id(c)}
    body = [f"<h1>{html.escape(result['assignment'])}: {html.escape(result['student'])}</h1>",
            f"<p><b>Score: {result['score']:.2f} / {result['max_score']:g}</b></p>"]
    notes = result.get("problems", []) + result.get("tampering", [])
    if notes:
        body.append("<div class='note'><b>Notes from the grader</b>" + _pre("\n".join(notes)) + "</div>")
    for cell in graded_nb.cells:
        gid = cells.grade_id(cell)
        if cells.is_test(cell) and gid in tests:
            body.append(_test_html(tests[gid], released.get(gid, "")))
        elif cell.cell_type == "markdown":      # locked text as released: no mark scheme
            locked = gid in released and not cells.is_solution(cell)
            body.append(_pre(released[gid] if locked else cell.source))
        elif cell.cell_type == "code":
            skipped = " (not run by the grader)" if cells.is_skipped(cell) else ""
            body.append(_pre(cell.source + ("\n# " + skipped if skipped else "")) + _outputs(cell))
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(result['assignment'])}"
            f" feedback</title><style>{STYLE}</style></head><body>{''.join(body)}</body></html>")


def write_all(course: Course, results: list[dict], out_dir: Path) -> list[Path]:
    """feedback/<assignment>/<student>.html for each result; returns the files written."""
    written, releases = [], {}
    for result in results:
        name = result["assignment"]
        if name not in releases:
            releases[name] = release_notebook(nbformat.read(course.source(name), as_version=4))
        graded = course.work / "runs" / name / result["student"] / "graded.ipynb"
        nb = nbformat.read(graded, as_version=4) if graded.exists() else releases[name]
        path = out_dir / name / f"{result['student']}.html"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render(result, nb, releases[name]))
        written.append(path)
    return written
