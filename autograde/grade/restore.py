"""Rebuilding a gradable notebook from a submission and the source notebook, reporting all tampering.

The source notebook decides the structure: every source cell appears once, in source order, with
the source's metadata (so its points and tags). From the submission only the student's *answers*
are taken: solution cells and unlocked ordinary cells, plus cells the student added, kept after the
cell they followed. A submission cell is matched to its source cell by grade id, else by cell id
(editors that strip nbgrader's metadata keep ids), else by position and content: the cells whose
content is still the release's anchor the alignment, and a code cell between two anchors takes the
place of the solution cell between the same anchors in the source. Test cells (with their hidden tests)
and locked cells always come from the source: edited or deleted ones are restored, changed points
are ignored, duplicated cells and ids are resolved. Each of these is reported.
"""

from __future__ import annotations

import copy
import difflib
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


def _match(source_nb, release_nb, submission_cells) -> tuple[list, list[str]]:
    """The source key each submission cell stands for (None: added by the student), and notes."""
    by_grade = {cells.grade_id(c): cells.key(c) for c in source_nb.cells if cells.grade_id(c)}
    by_id = {c.get("id"): cells.key(c) for c in source_nb.cells if c.get("id")}
    graded = {cells.key(c) for c in source_nb.cells if cells.meta(c)}
    keys, how = [], {"cell id": 0, "position and content": 0}
    for cell in submission_cells:
        gid = cells.grade_id(cell)
        if gid in by_grade:
            keys.append(by_grade[gid])
        elif not gid and cell.get("id") in by_id:
            keys.append(by_id[cell.get("id")])
            how["cell id"] += keys[-1] in graded
        else:
            keys.append(None)
    taken = set(keys)
    missing = [c for c in source_nb.cells if cells.key(c) not in taken]
    if any(cells.is_solution(c) for c in missing):
        how["position and content"] = _align(missing, release_nb, submission_cells, keys)
    notes = [f"{n} cells had lost their nbgrader metadata and were matched by {what}"
             for what, n in how.items() if n]
    return keys, notes


def _align(missing: list, release_nb, submission_cells, keys: list) -> int:
    """Match unmatched source cells to unmatched submission cells by content, then position."""
    released = {cells.key(c): c for c in release_nb.cells}
    free = [i for i, k in enumerate(keys) if k is None and not cells.meta(submission_cells[i])]
    want = [(c.cell_type, released[cells.key(c)].get("source", "")) for c in missing]
    have = [(submission_cells[i].get("cell_type"), submission_cells[i].get("source", "")) for i in free]
    matcher = difflib.SequenceMatcher(a=want, b=have, autojunk=False)
    matched, prev_a, prev_b = 0, 0, 0
    for a, b, size in matcher.get_matching_blocks():
        gap_a, gap_b = range(prev_a, a), range(prev_b, b)     # between two anchors: by position
        for ia, ib in zip(gap_a, gap_b):
            if cells.is_solution(missing[ia]) and want[ia][0] == have[ib][0]:
                keys[free[ib]] = cells.key(missing[ia])
                matched += 1
        for k in range(size):                                  # the anchors themselves
            keys[free[b + k]] = cells.key(missing[a + k])
            matched += cells.is_solution(missing[a + k])
        prev_a, prev_b = a + size, b + size
    return matched


def _group(submission_cells, keys: list) -> tuple[dict, dict, list]:
    """Submission cells by key; added cells by the key of the known cell before them."""
    groups, added, findings, last = defaultdict(list), defaultdict(list), [], None
    for cell, k in zip(submission_cells, keys):
        if k is not None:
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
    submitted = submission_nb.get("cells", [])
    keys, notes = _match(source_nb, release_nb, submitted)
    groups, added, findings = _group(submitted, keys)
    findings = notes + findings
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
