"""The requirements audit: for every exercise, each hidden case output and the requirement it checks.

    python -m autograde audit            # rewrite the table between the markers of docs/GRADING.md
    python -m autograde audit --check    # exit 1 if the table is stale or an output has no requirement

An output of a hidden case is listed with its `Case.requires` text; one without is a gap (a check
that tests nothing the notebook states), and so is an exercise that no hidden case checks.
"""

from __future__ import annotations

import sys

import nbformat

from autograde import cells
from autograde.build.reference import compute_reference
from autograde.config import ROOT, Course
from autograde.spec import load_case

DOC = ROOT / "docs" / "GRADING.md"
MARKERS = ("<!-- requirements:start -->", "<!-- requirements:end -->")


def rows(course: Course, name: str) -> tuple[list[tuple], list[str]]:
    """([(exercise, test cell, points, case.output, requirement)], gaps) of one assignment."""
    nb = nbformat.read(course.source(name), as_version=4)
    reference = compute_reference(nb, name, course)
    owners = cells.exercises(nb)
    out, gaps, checked = [], [], set()
    for cell in cells.test_cells(nb):
        gid = cells.grade_id(cell)
        for case_id, _ in cells.hidden_calls(cell):
            case = load_case(case_id, course.solutions)
            seed = case.seeds[0]
            outputs = reference[case_id]["reference"][seed]["outputs"]
            keys = list(outputs) if isinstance(outputs, dict) else ["(output)"]
            for key in keys:
                need = case.requires.get(key, "")
                if not need:
                    gaps.append(f"{case_id}.{key}: no requirement (Case.requires)")
                out.append((", ".join(owners.get(gid, [])), gid, cells.points(cell),
                            f"{case_id.partition('.')[2]}.{key}", need))
            checked |= set(owners.get(gid, []))
    for cell in nb.cells:
        if cells.is_solution(cell) and cell.cell_type == "code" and cells.grade_id(cell) not in checked:
            gaps.append(f"{name}: exercise {cells.grade_id(cell)!r} is checked by no hidden case")
    return out, gaps


def table(course: Course) -> tuple[str, list[str]]:
    lines = ["| notebook | exercise | test cell (points) | case output | requirement it checks |",
             "|---|---|---|---|---|"]
    gaps = []
    for name in course.graded_assignments():
        found, missing = rows(course, name)
        gaps += missing
        lines += [f"| {name} | {ex} | {gid} ({pts:g}) | `{out}` | {need.replace('|', '/')} |"
                  for ex, gid, pts, out, need in found]
    return "\n".join(lines), gaps


def update(check: bool = False) -> int:
    """Rewrite the table; with `check`, only report: 1 if it is stale or an output has no requirement."""
    text, gaps = table(Course())
    doc = DOC.read_text()
    head, rest = doc.split(MARKERS[0], 1)
    new = f"{head}{MARKERS[0]}\n{text}\n{MARKERS[1]}{rest.split(MARKERS[1], 1)[1]}"
    for gap in gaps:
        print("gap:", gap, file=sys.stderr)
    if check:
        if new != doc:
            print("docs/GRADING.md's requirements table is stale: python -m autograde audit",
                  file=sys.stderr)
        return 1 if new != doc or gaps else 0
    DOC.write_text(new)
    print(f"wrote {DOC.relative_to(ROOT)}")
    return 1 if gaps else 0

