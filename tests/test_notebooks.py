"""Every instructor notebook runs top to bottom, headless, hidden tests included (instructor mode:
the hidden tests compare against the reference in-process, so a solution notebook checks itself).

Execution times are printed (-s) and written to .grading/notebook_times.json; the 60 s budget is
checked by the benchmark report, not here (shared machines are noisy).
"""

import json
import os
import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
SOURCES = sorted((ROOT / "solutions").glob("*.ipynb"))


@pytest.mark.slow
@pytest.mark.parametrize("path", SOURCES, ids=[p.stem for p in SOURCES])
def test_solution_notebook_executes(path, tmp_path):
    nb = nbformat.read(path, as_version=4)
    env_backup = os.environ.pop("COURSE_GRADING_RECORD_DIR", None)
    start = time.perf_counter()
    try:
        NotebookClient(nb, timeout=600, kernel_name="python3",
                       resources={"metadata": {"path": str(tmp_path)}}).execute()
    finally:
        if env_backup is not None:
            os.environ["COURSE_GRADING_RECORD_DIR"] = env_backup
    seconds = time.perf_counter() - start
    out = ROOT / ".grading" / "notebook_times.json"
    out.parent.mkdir(exist_ok=True)
    times = json.loads(out.read_text()) if out.exists() else {}
    times[path.stem] = round(seconds, 1)
    out.write_text(json.dumps(times, indent=1, sort_keys=True))
    print(f"{path.name}: {seconds:.1f} s")
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    assert not errors
