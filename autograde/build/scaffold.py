"""`python -m autograde new NAME`: a new assignment that passes the test suite as generated.

Writes the four files an instructor edits, and the reference test (docs/CONVENTIONS.md, "Add a
notebook"):

    solutions/NAME/NAME.py        the percent source: text, one exercise, its test cell
    solutions/NAME/cases.py       its hidden case
    solutions/NAME/mistakes.py    a named mistake, the demo's wrong submission and what it scores
    course_lib/checks/NAME.py     its visible check
    solutions/NAME/test_NAME.py   the reference against an independent implementation (torch)

then builds the source notebook and the student release. Nothing else registers it: the README's
table, the grading tests, the benchmarks of notebook times, the audit and `publish` find it.
"""

from __future__ import annotations

import re
import string
from pathlib import Path

from autograde.build import authoring, catalog, release
from autograde.config import ROOT, Course

SOURCE = '''# %% [markdown]
# # Part 9: $title
#
# **Lecture 11, Model Efficiency.** Replace this paragraph with what the notebook teaches, in the
# lecture's words, and the exercise below with yours (docs/CONVENTIONS.md says how).
#
# | | |
# |---|---|
# | You will write | `normalize` |
# | Points | {{total_points}} (hidden tests re-check your code on random inputs when it is graded) |
# | Time | about 10 minutes |

# %% [setup]
import torch

from course_lib.checks.$name import check_normalize

# %% [markdown]
# ## 1. Unit vectors
#
# Each row $$x$$ of a matrix becomes $$\\hat{x} = x / \\lVert x \\rVert_2$$: same direction, length 1.
#
# ### Exercise 1 ({{points}} points): `normalize`
#
# Write `normalize(x)` for `x` of shape `(..., d)`: every row divided by its own L2 norm.

# %% [solution] id=normalize
def normalize(x: torch.Tensor) -> torch.Tensor:
    ### BEGIN SOLUTION
    return x / x.norm(dim=-1, keepdim=True)                  # x / ||x||_2, row by row
    ### END SOLUTION


# %% [tests] id=test_normalize points=2
check_normalize(normalize)
### BEGIN HIDDEN TESTS
from autograde.grade.verdict import hidden_check
hidden_check("$name.normalize", normalize=normalize)
### END HIDDEN TESTS

# %% [markdown]
# ## Summary
#
# * A unit vector keeps a direction and forgets a length: $$\\hat{x} = x / \\lVert x \\rVert_2$$.
'''

CASES = '''"""Hidden cases of the $name notebook (solutions/$name/$name.py): seeded inputs, no answers."""

import torch

from autograde.spec import Case


def _normalize(objects, seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(4, 3 + seed, generator=g) * (1 + 10 * seed)     # (4, d), rows of any length
    return {"y": objects["normalize"](x)}


CASES = {
    "normalize": Case(_normalize, seeds=(0, 1, 2), requires={
        "y": "every row divided by its own L2 norm: length 1, same direction"}),
}
'''

MISTAKES = '''"""Named mistakes of the $name notebook (grader only): wrong variants of the reference."""

from autograde.spec import Mistake


def _over_columns(objects):
    return dict(objects, normalize=lambda x: x / x.norm(dim=0, keepdim=True))


MISTAKES = {
    "normalize": [
        Mistake("norm over the columns", "normalise each row (dim=-1), not each column", _over_columns),
    ],
}

# The demo's partly wrong student, and what it scores per test cell (tests/test_grading_notebooks.py).
WRONG_SUBMISSION = ("normalize", "x.norm(dim=-1, keepdim=True)", "x.norm(dim=0, keepdim=True)")
EXPECTED_WRONG = {
    "test_normalize": (0, "normalise each row (dim=-1), not each column"),
}
'''

CHECKS = '''"""Visible checks for the $name notebook (notebooks/$name/$name.ipynb). Properties only, no answers."""

from __future__ import annotations

import torch

from . import call, expect, expect_close, expect_shape, ok


def check_normalize(normalize) -> None:
    x = torch.tensor([[3.0, 4.0, 0.0], [0.0, 0.0, 2.0]])           # (2, 3): rows of length 5 and 2
    y = call("normalize(x)", normalize, x)
    expect_shape(y, x.shape, "normalize(x)")
    expect_close(y.norm(dim=-1), torch.ones(2), "the rows' lengths",
                 hint="every row must have length 1")
    expect(bool(((y * x).sum(-1) > 0).all()), "every row must keep its direction")
    ok("every row has length 1 and keeps its direction")
'''

TEST = '''"""The $name reference (solutions/$name/$name.ipynb) against torch's own implementation."""

import torch
import torch.nn.functional as F


def test_normalize_matches_torch(ref):
    x = torch.randn(5, 7) * 3
    torch.testing.assert_close(ref["normalize"](x), F.normalize(x, dim=-1))
'''

NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def new(name: str, course: Course | None = None, root: Path = ROOT) -> list[Path]:
    """Write the new assignment's files and build its notebooks; returns the files written."""
    course = course or Course()
    if not NAME.match(name):
        raise ValueError(f"{name!r}: an assignment name is lower case letters, digits and _")
    folder = course.folder(name)
    if folder.exists():
        raise FileExistsError(f"{folder} exists already")
    values = {"name": name, "title": name.replace("_", " ").capitalize()}
    files = {folder / f"{name}.py": SOURCE, folder / "cases.py": CASES,
             folder / "mistakes.py": MISTAKES, folder / f"test_{name}.py": TEST,
             root / "course_lib" / "checks" / f"{name}.py": CHECKS}
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(string.Template(text).substitute(values))
    source = folder / f"{name}.py"
    course.source(name).write_text(authoring.build(source))
    written = list(files) + [course.source(name)] + release.release(course, [name])
    readme = catalog.README.read_text()
    if catalog.render_readme(readme, course) != readme:     # the README's table lists it
        catalog.README.write_text(catalog.render_readme(readme, course))
        written.append(catalog.README)
    return written
