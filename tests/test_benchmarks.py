"""The benchmark report: every group has a run(), and README's table is the one results.json gives."""

import importlib
import json

import pytest

from benchmarks import __main__ as bench

README = bench.ROOT / "README.md"
RESULTS = bench.HERE / "results.json"


@pytest.mark.parametrize("name", bench.modules())
def test_every_group_defines_run(name):
    assert callable(importlib.import_module(f"benchmarks.{name}").run)


def test_every_group_has_committed_results_without_errors():
    results = json.loads(RESULTS.read_text())
    assert sorted(results) == bench.modules(), "run `make bench` (or `python -m benchmarks NAME`)"
    assert not [name for name, g in results.items() if g["error"] or not g["rows"]]


def test_readme_table_is_rendered_from_results():
    results = json.loads(RESULTS.read_text())
    start, end = bench.README_MARKERS
    block = README.read_text().split(start, 1)[1].split(end, 1)[0].strip()
    assert block == bench.render_headlines(results).strip()
    for name, figures in bench.HEADLINES.items():       # every headline still names a real figure
        rows = [r["figure"] for r in results[name]["rows"]]
        for f in figures:
            assert any(r.startswith(f) for r in rows), (name, f)


def test_update_readme_replaces_only_between_markers(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("intro\n<!-- bench:start -->\nold\n<!-- bench:end -->\nrest\n")
    assert bench.update_readme(readme, "| new |")
    assert readme.read_text() == "intro\n<!-- bench:start -->\n| new |\n<!-- bench:end -->\nrest\n"
    other = tmp_path / "other.md"
    other.write_text("no markers")
    assert not bench.update_readme(other, "x") and other.read_text() == "no markers"
