"""The course's notebooks in the lecture's order, read from the sources themselves.

Each source's title cell says where it belongs: "# Part 1d: Low-Rank Adaptation (LoRA)" (a part
of the lecture, ordered by number and letter) or anything else (review material, after the parts).
What a student writes is read from its exercise cells. README.md's table (between its `notebooks`
markers) and the student course's README are generated from this, so a new notebook registers
itself: `python -m autograde notebooks` rewrites the table, and a test checks it is current.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

import nbformat

from autograde import cells
from autograde.config import ROOT, Course

PART = re.compile(r"^#\s+Part\s+(\d+)([a-z]?)\s*:\s*(.+)$", re.M)
TITLE = re.compile(r"^#\s+(.+)$", re.M)
MARKERS = ("<!-- notebooks:start -->", "<!-- notebooks:end -->")
README = ROOT / "README.md"


@dataclass(frozen=True)
class Entry:
    name: str
    part: str            # "1d", or "" for review material
    title: str
    writes: tuple        # the functions and classes its exercises ask for
    graded: bool = True

    @property
    def order(self) -> tuple:
        m = re.match(r"(\d+)([a-z]?)", self.part)
        return (int(m.group(1)), m.group(2)) if m else (10**6, str(int(self.graded)) + self.name)

    @property
    def path(self) -> str:
        return f"notebooks/{self.name}/{self.name}.ipynb"


def entry(course: Course, name: str) -> Entry:
    nb = nbformat.read(course.source(name), as_version=4)
    first = next((c.source for c in nb.cells if c.cell_type == "markdown"), "")
    part = PART.search(first)
    title = part.group(3).strip() if part else (TITLE.search(first).group(1).strip()
                                                  if TITLE.search(first) else name)
    writes = []
    for cell in nb.cells:
        if cells.is_solution(cell) and cell.cell_type == "code":
            try:
                tree = ast.parse(cell.source)
            except SyntaxError:
                continue
            writes += [n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))]
    return Entry(name, "".join(part.groups()[:2]) if part else "", title, tuple(writes),
                 bool(cells.graded_cells(nb)))


def entries(course: Course | None = None) -> list[Entry]:
    course = course or Course()
    return sorted((entry(course, n) for n in course.assignments()), key=lambda e: e.order)


def label(e: Entry) -> str:
    return f"Part {e.part}: {e.title}" if e.part else e.title


def readme_table(course: Course | None = None) -> str:
    rows = ["| Part | Notebook | You write |", "|---|---|---|"]
    for e in entries(course):
        writes = ", ".join(f"`{w}`" for w in e.writes) or (
            "answers: autograded and written" if e.graded else "self-check answers (not graded)")
        rows.append(f"| {e.part or '-'} {e.title} | `{e.path}` | {writes} |")
    return "\n".join(rows)


def render_readme(text: str, course: Course | None = None) -> str:
    start, end = MARKERS
    if start not in text or end not in text:
        return text
    head, rest = text.split(start, 1)
    return f"{head}{start}\n{readme_table(course)}\n{end}{rest.split(end, 1)[1]}"
