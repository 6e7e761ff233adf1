"""Printable summaries for quiz review: one HTML page per part of the review notebook.

    python -m autograde.summary [--out build/summary]        (make summary)

Executes notebooks/review/review.ipynb, splits it at its "## Part" headings, drops the code and the
interactive questions, and writes one self-contained HTML page per part (print it to PDF from the
browser if you prefer paper).
"""

from __future__ import annotations

import argparse
import copy
import re
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbconvert import HTMLExporter

from autograde.course import ROOT

PART = re.compile(r"^## (Part \d+: .*)$", re.M)


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


def build(out: Path, source: Path = ROOT / "notebooks" / "review" / "review.ipynb") -> list[Path]:
    nb = nbformat.read(source, as_version=4)
    NotebookClient(nb, timeout=120, kernel_name="python3",
                   resources={"metadata": {"path": str(source.parent)}}).execute()
    exporter = HTMLExporter(exclude_input=True, exclude_input_prompt=True,
                            exclude_output_prompt=True)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for i, (title, part) in enumerate(split_parts(nb), 1):
        html, _ = exporter.from_notebook_node(part, resources={"metadata": {"name": title}})
        path = out / f"{re.sub(r'[^a-z0-9]+', '_', title.lower()).strip('_')}.html"
        path.write_text(html)
        written.append(path)
    return written


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", type=Path, default=ROOT / "build" / "summary")
    args = ap.parse_args(argv)
    for path in build(args.out):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
