"""Build nbgrader source notebooks from "percent" files: solutions/<name>/<name>.py -> <name>.ipynb.

A percent file is plain Python that diffs and reviews well. Cell headers (see docs/CONVENTIONS.md):

    # %% [markdown]                     markdown; each line's leading "# " is removed
    # %%                                ordinary code cell
    # %% [setup]                        imports the solution cells need (also run by the grader)
    # %% [solution] id=lora_linear      nbgrader solution cell ("autograded answer")
    # %% [tests] id=test_lora points=3  nbgrader autograded test cell (locked)
    # %% [readonly] id=intro_code       locked code cell students cannot edit
    # %% [markdown] id=why_lora_question  locked markdown; may hold a rubric between
                                        ### BEGIN MARK SCHEME and ### END MARK SCHEME (grader only)
    # %% [written] id=why_lora points=2 markdown answer graded by hand (solution + grade); the
                                        release shows "YOUR ANSWER HERE"
    # %% [skip-grading]                 slow demo cell the grader does not run

The environment check (`autograde.build.student_course.first_cell()`, which installs the course library in
Colab) is not written in the source: it is inserted after the title cell of every notebook.

    python -m autograde notebooks            # every solutions/<name>/<name>.py
    python -m autograde notebooks --check    # exit 1 if an .ipynb is out of date
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import nbformat

from autograde.build import catalog, student_course

ROOT = Path(__file__).resolve().parents[2]
HEADER = re.compile(r"^# %%(?:\s*\[(?P<kind>[a-z-]+)\])?(?P<attrs>.*)$")
KINDS = {None, "markdown", "setup", "solution", "tests", "readonly", "skip-grading", "written"}
MARKDOWN_KINDS = {"markdown", "written"}
MARK_SCHEME = "### BEGIN MARK SCHEME"


def _attrs(text: str, where: str) -> dict:
    attrs = {}
    for item in text.split():
        if "=" not in item:
            raise ValueError(f"{where}: expected key=value in the cell header, got {item!r}")
        key, value = item.split("=", 1)
        attrs[key] = value
    return attrs


def _markdown(lines: list[str]) -> str:
    out = []
    for line in lines:
        if line.startswith("# "):
            out.append(line[2:])
        elif line.strip() == "#":
            out.append("")
        else:
            out.append(line)
    return "\n".join(out).strip("\n")


def _nbgrader(kind: str, attrs: dict, where: str) -> dict:
    grade_id = attrs.get("id")
    if grade_id is None:
        raise ValueError(f"{where}: a [{kind}] cell needs id=...")
    meta = {"grade": False, "grade_id": grade_id, "locked": False, "schema_version": 3,
            "solution": False, "task": False}
    if kind == "solution":
        meta["solution"] = True
    elif kind in ("tests", "written"):
        if "points" not in attrs:
            raise ValueError(f"{where}: a [{kind}] cell needs points=...")
        meta.update(grade=True, points=float(attrs["points"]))
        if kind == "tests":
            meta["locked"] = True
        else:                                # a markdown grade cell is graded by hand
            meta["solution"] = True
    elif kind == "readonly":
        meta["locked"] = True
    return meta


POINTS, TOTAL = "{{points}}", "{{total_points}}"
LITERAL_POINTS = re.compile(r"^#+ Exercise .*\(\d+(\.\d+)? points?\)|\| Points \| \d", re.M)


def _fill_points(cells, name: str) -> None:
    """Points are stated from the nbgrader metadata, never typed by hand: in markdown cells,
    {{total_points}} is the notebook's total and {{points}} (an exercise's heading) the points of
    the test cells after it, up to the next markdown cell that says {{points}}."""
    def points(cell):
        meta = cell.get("metadata", {}).get("nbgrader", {})
        return float(meta.get("points", 0)) if meta.get("grade") else 0.0

    for cell in cells:
        found = LITERAL_POINTS.search(cell.source) if cell.cell_type == "markdown" else None
        if found:
            raise ValueError(f"{name}: write points as {POINTS} or {TOTAL}, not a number: "
                             f"{found.group(0)!r}")
    headings = [i for i, c in enumerate(cells) if c.cell_type == "markdown" and POINTS in c.source]
    for start, end in zip(headings, headings[1:] + [len(cells)]):
        own = sum(points(c) for c in cells[start:end])
        text = cells[start].source.replace(f"{POINTS} points", f"{own:g} point" + "s" * (own != 1))
        cells[start].source = text.replace(POINTS, f"{own:g}")
    total = sum(map(points, cells))
    for cell in cells:
        if cell.cell_type == "markdown":
            cell.source = cell.source.replace(TOTAL, f"{total:g}")


def parse(text: str, name: str = "<source>", first_cell: bool = True) -> nbformat.NotebookNode:
    """Turn a percent file's text into a notebook with nbgrader metadata; the environment check
    (autograde.build.student_course.first_cell) becomes its first code cell."""
    cells, kind, attrs, lines, start = [], "skip", {}, [], 0

    def flush():
        if kind == "skip":
            return
        where = f"{name}:{start}"
        if kind in MARKDOWN_KINDS:
            cell = nbformat.v4.new_markdown_cell(_markdown(lines))
        else:
            cell = nbformat.v4.new_code_cell("\n".join(lines).strip("\n"))
            if kind == "setup":
                cell.metadata["tags"] = ["setup"]
            elif kind == "skip-grading":
                cell.metadata["tags"] = ["skip-grading"]
            elif kind in ("solution", "tests", "readonly"):
                cell.metadata["nbgrader"] = _nbgrader(kind, attrs, where)
        if kind == "written":
            cell.metadata["nbgrader"] = _nbgrader(kind, attrs, where)
        # The grader's copy of a locked cell comes from the source, rubric included; any other
        # cell is the student's, so a mark scheme there would reach nobody.
        locked = kind == "readonly" or (kind == "markdown" and "id" in attrs)
        if MARK_SCHEME in cell.source and not locked:
            raise ValueError(f"{where}: a mark scheme belongs in a locked cell "
                             "([markdown] id=... or [readonly])")
        if kind == "markdown" and "id" in attrs:
            cell.metadata["nbgrader"] = _nbgrader("readonly", attrs, where)
        cells.append(cell)

    for number, line in enumerate(text.splitlines(), 1):
        m = HEADER.match(line)
        if m:
            flush()
            kind = m.group("kind")
            if kind not in KINDS:
                raise ValueError(f"{name}:{number}: unknown cell kind [{kind}]")
            attrs, lines, start = _attrs(m.group("attrs"), f"{name}:{number}"), [], number
        elif kind != "skip":
            lines.append(line)
    flush()
    ids = [c.metadata["nbgrader"]["grade_id"] for c in cells if "nbgrader" in c.metadata]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise ValueError(f"{name}: duplicate cell ids {dupes}")
    _fill_points(cells, name)
    if first_cell:                               # after the title cell: the environment check
        cells.insert(1 if cells and cells[0].cell_type == "markdown" else 0,
                     nbformat.v4.new_code_cell(student_course.first_cell()))
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata = {"kernelspec": {"display_name": "Python 3", "language": "python",
                                  "name": "python3"},
                   "language_info": {"name": "python"}}
    for i, cell in enumerate(nb.cells):          # stable cell ids keep diffs and nbgrader quiet
        cell["id"] = f"{Path(name).stem}-{i:03d}"
    return nb


def source_json(nb: nbformat.NotebookNode) -> str:
    """A source notebook's file text (plain json.dumps: stable diffs of generated notebooks)."""
    return json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def build(source: Path) -> str:
    return source_json(parse(source.read_text(), source.name))


def sources(solutions: Path = ROOT / "solutions") -> list[Path]:
    """The percent sources: solutions/<name>/<name>.py whose first line is a cell header."""
    return [p for p in sorted(solutions.glob("*/*.py"))
            if p.stem == p.parent.name and HEADER.match(p.read_text().split("\n", 1)[0])]


def update(files: list[Path] | None = None, check: bool = False) -> int:
    """Write each percent file's notebook (all of solutions/ and README's table without `files`);
    with `check`, only report stale ones: 1 if any (`python -m autograde notebooks [--check]`)."""
    given = bool(files)
    files = files or sources()
    stale = []
    for src in files:
        target = src.with_suffix(".ipynb")
        text = build(src)
        if target.exists() and target.read_text() == text:
            continue
        stale.append(target)
        if not check:
            target.write_text(text)
            print(f"wrote {target.relative_to(ROOT) if target.is_relative_to(ROOT) else target}")
    if not given:                               # README's table of notebooks follows the sources
        readme = catalog.README.read_text()
        table = catalog.render_readme(readme)
        if table != readme:
            stale.append(catalog.README)
            if not check:
                catalog.README.write_text(table)
                print("wrote README.md (the table of notebooks)")
    if check and stale:
        print("out of date (run `make notebooks`):", *map(str, stale), file=sys.stderr)
        return 1
    return 0

