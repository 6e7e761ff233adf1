"""Rebuilding a gradable notebook from a submission and the source notebook, reporting all tampering.

The source notebook decides the structure: every source cell appears once, in source order, with
the source's metadata (so its points and tags). From the submission only the student's *answers*
are taken: solution cells and unlocked ordinary cells (matched by grade id, else by cell id), plus
cells the student added, kept after the cell they followed. Test cells (with their hidden tests)
and locked cells always come from the source: edited or deleted ones are restored, changed points
are ignored, duplicated cells and ids are resolved. Each of these is reported.
"""

from __future__ import annotations

import copy
from collections import defaultdict

import nbformat

from autograde import cells


def _answer_cell(source_cell) -> bool:
    """Cells whose content is the student's: solution cells and unlocked ordinary cells."""
    return cells.is_solution(source_cell) or not (cells.is_locked(source_cell) or cells.meta(source_cell))


def _pick(copies: list, stub) -> tuple:
    """Of duplicated copies of a solution cell, the last one that is not the untouched stub."""
    edited = [c for c in copies if c.get("source", "") != stub.get("source", "")]
    return (edited or copies)[-1]


def _group(submission_cells, known: set) -> tuple[dict, dict, list]:
    """Submission cells by key; added cells by the key of the known cell before them."""
    groups, added, findings, last = defaultdict(list), defaultdict(list), [], None
    for cell in submission_cells:
        k = cells.key(cell)
        if k in known:
            groups[k].append(cell)
            last = k
            continue
        if cells.meta(cell).get("grade") or cells.meta(cell).get("solution"):
            findings.append(f"an unknown graded cell '{cells.grade_id(cell)}' was ignored "
                            "(it was run as an ordinary cell, for no points)")
        added[last].append(cell)
    return groups, added, findings


def _added(cell):
    """A student-added cell, stripped of any nbgrader metadata it claims."""
    new = copy.deepcopy(cell)
    new.get("metadata", {}).pop("nbgrader", None)
    new.setdefault("metadata", {})
    return new


def _tampering(src, copies: list, released) -> list[str]:
    k, out = cells.key(src), []
    if len(copies) > 1:
        out.append(f"cell '{k}' appears {len(copies)} times")
    if not copies:
        if cells.is_test(src) or cells.is_solution(src) or cells.is_locked(src):
            out.append(f"{'test' if cells.is_test(src) else 'graded'} cell '{k}' was deleted; restored")
        return out
    if cells.is_test(src) or (cells.is_locked(src) and not cells.is_solution(src)):
        if any(c.get("source", "") != released.get("source", "") for c in copies):
            out.append(f"locked cell '{k}' was edited; the original was restored")
    if cells.is_test(src):
        claimed = {cells.meta(c).get("points") for c in copies} - {cells.meta(src).get("points")}
        if claimed:
            out.append(f"points of '{k}' were changed to {sorted(map(str, claimed))}; "
                       f"the source's {cells.points(src):g} were used")
    return out


def restore(source_nb, submission_nb, release_nb) -> tuple[nbformat.NotebookNode, list[str]]:
    """(the notebook to grade, findings about tampering) for one submission."""
    released = {cells.key(c): c for c in release_nb.cells}
    known = {cells.key(c) for c in source_nb.cells}
    groups, added, findings = _group(submission_nb.get("cells", []), known)
    out = [_added(c) for c in added[None]]
    for src in source_nb.cells:
        k, copies = cells.key(src), groups.get(cells.key(src), [])
        findings += _tampering(src, copies, released[k])
        cell = copy.deepcopy(src)
        if _answer_cell(src):
            chosen = _pick(copies, released[k]) if copies else released[k]
            cell.source = chosen.get("source", "")
            if cell.cell_type == "code":
                cell.outputs, cell.execution_count = [], None
        out.append(cell)
        out += [_added(c) for c in added[k]]
    nb = copy.deepcopy(source_nb)
    nb.cells = out
    return nb, findings
