"""A solution notebook's code cells, run in this process: the benchmark then reads the very figures
the notebook prints (its variables) and can call its functions again, e.g. on more seeds.

Test cells are skipped (their visible checks and hidden tests are the test suite's business);
figures are drawn on matplotlib's Agg backend and closed after each cell.
"""

from __future__ import annotations

import contextlib
import io
import os
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent


def namespace(name: str, quiet: bool = True) -> dict:
    """Execute solutions/<name>/<name>.ipynb's non-test code cells in its folder; its globals."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from autograde import cells
    path = ROOT / "solutions" / name / f"{name}.ipynb"
    nb = nbformat.read(path, as_version=4)
    ns = {"__name__": "__main__"}
    here = os.getcwd()
    os.chdir(path.parent)                                   # where Jupyter would start it
    try:
        for i, cell in enumerate(nb.cells):
            if cell.cell_type != "code" or cells.is_test(cell):
                continue
            out = io.StringIO() if quiet else None
            with contextlib.redirect_stdout(out) if quiet else contextlib.nullcontext():
                exec(compile(cell.source, f"<{name} cell {i}>", "exec"), ns)
            plt.close("all")
    finally:
        os.chdir(here)
    return ns
