"""Printable summaries for quiz review: one HTML page per part of the review notebook.

    python -m autograde summary [--out build/summary]        (make summary)

Executes notebooks/review/review.ipynb, splits it at its "## Part" headings, drops the code and the
interactive questions, and writes one self-contained HTML page per part (print it to PDF from the
browser if you prefer paper). The pages need no network: formulas are MathML made here
(autograde/notebook_html.py), not MathJax from a CDN.
"""

from __future__ import annotations

import copy
import re
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from autograde import notebook_html as nh
from autograde.config import ROOT

PART = re.compile(r"^## (Part \d+: .*)$", re.M)
PRINT_CSS = "@media print{body{max-width:none;margin:0}pre{white-space:pre-wrap}}"


def split_parts(nb) -> list[tuple[str, nbformat.NotebookNode]]:
    parts, current, title = [], None, None
    for cell in nb.cells:
        m = PART.search(cell.source) if cell.cell_type == "markdown" else None
        if m:
            if current is not None:
                parts.append((title, current))
            title = m.group(1)
            current = nbformat.v4.new_notebook(metadata=copy.deepcopy(nb.metadata))
        if current is not None and "self_check." not in cell.source:
            current.cells.append(cell)
    if current is not None:
        parts.append((title, current))
    return parts


def part_page(title: str, part, errors: nh.MathErrors | None = None) -> str:
    """One part as a page: its markdown and its cells' outputs (our own notebook: trusted)."""
    body = []
    for cell in part.cells:
        if cell.cell_type == "markdown":
            body.append(nh.markdown(cell.source, trusted=True, errors=errors))
        elif cell.cell_type == "code":
            body.append(nh.outputs(cell, trusted=True, errors=errors))
    return nh.page(title, "".join(body), PRINT_CSS)


def build(out: Path, source: Path = ROOT / "notebooks" / "review" / "review.ipynb") -> list[Path]:
    nb = nbformat.read(source, as_version=4)
    NotebookClient(nb, timeout=120, kernel_name="python3",
                   resources={"metadata": {"path": str(source.parent)}}).execute()
    out.mkdir(parents=True, exist_ok=True)
    written, errors = [], nh.MathErrors()
    for title, part in split_parts(nb):
        path = out / f"{re.sub(r'[^a-z0-9]+', '_', title.lower()).strip('_')}.html"
        path.write_text(part_page(title, part, errors))
        written.append(path)
    for latex, why in errors:
        print(f"warning: a formula shown as LaTeX ({why}): {latex}", file=sys.stderr)
    return written


