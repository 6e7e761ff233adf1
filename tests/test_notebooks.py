"""Every instructor notebook runs top to bottom, headless, hidden tests included (instructor mode:
the hidden tests compare against the reference in-process, so a solution notebook checks itself).

Execution times are printed (-s) and written to .grading/notebook_times.json; the 60 s budget is
checked by the benchmark report, not here (shared machines are noisy).
"""

import json
from pathlib import Path

import pytest

from benchmarks.notebooks import execute

ROOT = Path(__file__).resolve().parent.parent
SOURCES = sorted(p for p in (ROOT / "solutions").glob("*/*.ipynb") if p.stem == p.parent.name)


@pytest.mark.slow
@pytest.mark.parametrize("path", SOURCES, ids=[p.stem for p in SOURCES])
def test_solution_notebook_executes(path):
    nb, seconds, errors = execute(path)
    out = ROOT / ".grading" / "notebook_times.json"
    out.parent.mkdir(exist_ok=True)
    times = json.loads(out.read_text()) if out.exists() else {}
    times[path.stem] = round(seconds, 1)
    out.write_text(json.dumps(times, indent=1, sort_keys=True))
    print(f"{path.name}: {seconds:.1f} s")
    assert not errors, [e.get("evalue") for e in errors]

