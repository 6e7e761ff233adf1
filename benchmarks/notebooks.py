"""Each instructor notebook executed top to bottom, headless, in a fresh kernel: its wall time against
the 60 s budget (2 CPU cores, one torch thread, as a student's laptop runs it).

The executed copies are written to build/executed/<name>.ipynb, where their tables and plots can be
read (and quoted) without running them again. tests/test_notebooks.py uses `execute` too.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
BUDGET_S = 60
OUT = ROOT / "build" / "executed"


def execute(path: Path, timeout: int = 600, nb=None):
    """(executed notebook, wall seconds, error outputs); instructor mode (no grading record dir).

    The kernel starts in the notebook's own folder, as Jupyter starts it: the PEFT comparison
    imports its sibling notebooks from there. `nb`: run this notebook instead of the file's."""
    nb = nbformat.read(path, as_version=4) if nb is None else nb
    saved = os.environ.pop("COURSE_GRADING_RECORD_DIR", None)
    start = time.perf_counter()
    try:
        NotebookClient(nb, timeout=timeout, kernel_name="python3",
                       resources={"metadata": {"path": str(path.parent)}}).execute()
    finally:
        if saved is not None:
            os.environ["COURSE_GRADING_RECORD_DIR"] = saved
    seconds = time.perf_counter() - start
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    return nb, seconds, errors


FIGURES = "@@FIGURES@@"


def figures(name: str, expression: str) -> tuple[dict, float]:
    """The notebook's own numbers: execute solutions/<name>/<name>.ipynb top to bottom, then
    evaluate `expression` (a dict of JSON values built from the notebook's variables) in its
    kernel. Returns (that dict, the notebook's wall seconds without the extra cell).

    A benchmark that reads its figures this way states exactly what the notebook shows, with
    the notebook's seeds and learning rates; nothing is re-implemented."""
    path = ROOT / "solutions" / name / f"{name}.ipynb"
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(
        f"import json as _json\nprint({FIGURES!r} + _json.dumps({expression}))"))
    nb, seconds, errors = execute(path, nb=nb)
    if errors:
        e = errors[0]
        raise RuntimeError(f"{name}: {e.get('ename')}: {e.get('evalue')}")
    text = "".join(o.get("text", "") for o in nb.cells[-1].get("outputs", []))
    line = next(line for line in text.splitlines() if line.startswith(FIGURES))
    return json.loads(line[len(FIGURES):]), seconds


PROGRESS_AFTER_S = 5             # a cell that runs longer shows a progress bar (tqdm)


def cell_seconds(cell) -> float:
    """Wall seconds of one executed cell, from the timestamps nbclient records."""
    import datetime
    meta = cell.get("metadata", {}).get("execution", {})
    try:
        start, end = (datetime.datetime.fromisoformat(meta[k].replace("Z", "+00:00"))
                      for k in ("iopub.execute_input", "shell.execute_reply"))
    except (KeyError, ValueError):
        return 0.0
    return (end - start).total_seconds()


def shows_progress(cell) -> bool:
    """Did the cell show a progress bar: a tqdm widget, or tqdm's text bar on stderr?"""
    for out in cell.get("outputs", []):
        if "application/vnd.jupyter.widget-view+json" in out.get("data", {}):
            return True
        if out.get("name") == "stderr" and any(u in out.get("text", "") for u in ("it/s]", "s/it]")):
            return True
    return False


def silent_cells(nb) -> list[tuple[int, float]]:
    """(index, seconds) of the code cells that ran over PROGRESS_AFTER_S without progress."""
    return [(i, round(cell_seconds(c), 1)) for i, c in enumerate(nb.cells)
            if c.cell_type == "code" and cell_seconds(c) > PROGRESS_AFTER_S
            and not shows_progress(c)]


def run() -> list[dict]:
    OUT.mkdir(parents=True, exist_ok=True)
    rows = []
    for path in sorted(p for p in (ROOT / "solutions").glob("*/*.ipynb") if p.stem == p.parent.name):
        nb, seconds, errors = execute(path)
        nbformat.write(nb, OUT / path.name)
        verdict = "errors!" if errors else ("within" if seconds <= BUDGET_S else "OVER")
        silent = silent_cells(nb)
        rows.append({"figure": f"notebook {path.stem}: headless execution",
                     "value": f"{seconds:.0f} s ({verdict} the {BUDGET_S} s budget); cells over "
                              f"{PROGRESS_AFTER_S} s without progress: "
                              + (", ".join(f"{i} ({t} s)" for i, t in silent) or "none"),
                     "lecture": f"at most {BUDGET_S} s on 2 CPU cores"})
    return rows
