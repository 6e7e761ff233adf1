"""Reading nbgrader cell metadata and the hidden-test calls in test cells (no execution here)."""

from __future__ import annotations

import ast
import re

HIDDEN = re.compile(r"### BEGIN HIDDEN TESTS\n?(.*?)### END HIDDEN TESTS\n?", re.S)
SKIP_TAG = "skip-grading"
SETUP_TAG = "setup"


def meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def grade_id(cell) -> str | None:
    return meta(cell).get("grade_id")


def key(cell) -> str:
    """How a cell is matched between source and submission: its grade id, else its cell id."""
    return grade_id(cell) or cell.get("id") or ""


def is_solution(cell) -> bool:
    return bool(meta(cell).get("solution"))


def is_test(cell) -> bool:
    """An autograded test cell (nbgrader: grade, not solution, code)."""
    return bool(meta(cell).get("grade")) and not meta(cell).get("solution") \
        and cell.get("cell_type") == "code"


def is_manual(cell) -> bool:
    """A manually graded answer (nbgrader: grade and solution): points a person gives."""
    return bool(meta(cell).get("grade")) and bool(meta(cell).get("solution"))


def is_locked(cell) -> bool:
    return bool(meta(cell).get("locked")) or is_test(cell)


def points(cell) -> float:
    return float(meta(cell).get("points", 0) or 0)


def tags(cell) -> list:
    return list(cell.get("metadata", {}).get("tags", []))


def is_skipped(cell) -> bool:
    return SKIP_TAG in tags(cell)


def is_setup(cell) -> bool:
    return SETUP_TAG in tags(cell)


def hidden_calls(cell) -> list[tuple[str, dict]]:
    """[(case_id, {keyword: expression source})] for each `hidden_check(...)` in the hidden region."""
    calls = []
    for region in HIDDEN.findall(cell.get("source", "")):
        for node in ast.walk(ast.parse(region)):
            if (isinstance(node, ast.Call) and getattr(node.func, "id", None) == "hidden_check"
                    and node.args and isinstance(node.args[0], ast.Constant)):
                kwargs = {kw.arg: ast.unparse(kw.value) for kw in node.keywords}
                calls.append((node.args[0].value, kwargs))
    return calls


def visible_source(cell) -> str:
    """A test cell as the student sees it: its hidden region removed (as in the release)."""
    return HIDDEN.sub("", cell.get("source", "")).rstrip()


def test_cells(nb) -> list:
    return [c for c in nb.cells if is_test(c)]


def graded_cells(nb) -> list:
    """Every cell worth points, in order: autograded tests and manually graded answers."""
    return [c for c in nb.cells if is_test(c) or is_manual(c)]


def exercises(nb) -> dict:
    """{test cell grade id: the exercise (solution) cells it checks}: those since the previous test
    cell, or, for a second test cell of the same exercise, the previous test cell's."""
    owners, pending, last = {}, [], []
    for cell in nb.cells:
        if is_solution(cell) and not is_manual(cell):
            pending.append(grade_id(cell))
        elif is_test(cell):
            last = pending or last
            owners[grade_id(cell)], pending = last, []
    return owners
