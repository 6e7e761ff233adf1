"""Every class the tests grade gets the scores, feedback and gradebook rows it got before.

tests/fixtures/golden/make_golden.py grades the class (every graded notebook's demo submissions,
the toy's and the quick part of its adversarial corpus) as `python -m autograde grade` does, then
writes feedback pages and the CSV export; golden.json is what it gave from the code before the
redesign of autograde/ (issue 21). A refactoring must not change a score, a feedback line, a named
mistake, a tampering note, a gradebook grade, an exported row or a feedback page. Regenerate
golden.json (`python tests/fixtures/golden/make_golden.py`) only when a notebook, a case or a
mistake changes on purpose, from the code before any refactoring it is to check.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

HERE = Path(__file__).parent / "fixtures" / "golden"
pytestmark = pytest.mark.slow


def _make_golden():
    spec = importlib.util.spec_from_file_location("make_golden", HERE / "make_golden.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def differences(want, got, path: str = "") -> list[str]:
    """Where two snapshots differ, as readable lines."""
    if type(want) is not type(got):
        return [f"{path}: {want!r:.200} became {got!r:.200}"]
    if isinstance(want, dict):
        out = []
        for key in sorted(set(want) | set(got)):
            if key not in got or key not in want:
                out.append(f"{path}/{key}: only {'before' if key in want else 'now'}")
            else:
                out += differences(want[key], got[key], f"{path}/{key}")
        return out
    if isinstance(want, list) and len(want) == len(got):
        return [d for i, (w, g) in enumerate(zip(want, got)) for d in differences(w, g, f"{path}[{i}]")]
    return [] if want == got else [f"{path}: {want!r:.200} became {got!r:.200}"]


def test_differences_are_found():
    assert differences({"a": [1, {"b": 2}]}, {"a": [1, {"b": 3}], "c": 0}) == \
        ["/a[1]/b: 2 became 3", "/c: only now"]


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> dict:
    return _make_golden().grade_class(tmp_path_factory.mktemp("golden"))


@pytest.mark.parametrize("part", ["results", "gradebook", "export", "feedback"])
def test_the_class_is_graded_as_before(graded, part):
    golden = json.loads((HERE / "golden.json").read_text())
    found = differences(golden[part], graded[part], part)
    assert not found, "\n".join(found[:40])
