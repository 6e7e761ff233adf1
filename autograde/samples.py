"""Sample submissions, built from the source notebook and its release so they never go stale.

`write_samples` writes FOLDER/<student>/<assignment>.ipynb for the demo: `correct` (the release with
the reference answers typed in), `untouched` (the release as handed out), `partly_wrong` (one
known mistake, see wrong_submission) and `infinite_loop` (the first answer loops forever).

`ADVERSARIAL` (used by tests/test_grading_adversarial.py on the toy assignment) builds the corpus
of issue 3: tampering, forged verdicts, limits and sandbox escapes, each a function of the toy's
correct submission.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import nbformat

from autograde import cells, verdict
from autograde.course import Course
from autograde.release import release_notebook

MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION")

# A partly wrong submission: each assignment's mistakes module names one known mistake as
# WRONG_SUBMISSION = (solution cell grade id, text in the reference, what a student wrote instead).
def wrong_submission(assignment: str, course: Course | None = None):
    module = verdict.mistakes_module(assignment, course)
    return getattr(module, "WRONG_SUBMISSION", (None, None, None))


def _solution_sources(source_nb) -> dict:
    return {cells.grade_id(c): "\n".join(line for line in c.source.splitlines()
                                         if line.strip() not in MARKERS)
            for c in source_nb.cells if cells.is_solution(c)}


def correct(source_nb, release_nb):
    nb, answers = copy.deepcopy(release_nb), _solution_sources(source_nb)
    for cell in nb.cells:
        if cells.is_solution(cell):
            cell.source = answers[cells.grade_id(cell)]
    return nb


def edit(nb, grade_id: str, change):
    """A copy of nb whose cell `grade_id` has source change(source)."""
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        if cells.grade_id(cell) == grade_id:
            cell.source = change(cell.source)
    return nb


def first_solution(nb) -> str:
    return next(cells.grade_id(c) for c in nb.cells if cells.is_solution(c))


def partly_wrong(source_nb, release_nb, assignment: str, course: Course | None = None):
    """The correct submission with one known mistake (or, failing that, the last answer missing)."""
    nb = correct(source_nb, release_nb)
    cell_id, right, wrong = wrong_submission(assignment, course)
    answers = _solution_sources(source_nb)
    if cell_id in answers and right in answers[cell_id]:
        return edit(nb, cell_id, lambda s: s.replace(right, wrong))
    stubs = {cells.grade_id(c): c.source for c in release_nb.cells if cells.is_solution(c)}
    last = list(stubs)[-1]
    return edit(nb, last, lambda s: stubs[last])


def infinite_loop(source_nb, release_nb):
    nb = correct(source_nb, release_nb)
    return edit(nb, first_solution(nb), lambda s: "while True:\n    pass\n" + s)


def demo_samples(source_nb, assignment: str, course: Course | None = None) -> dict:
    release_nb = release_notebook(source_nb)
    return {"correct": correct(source_nb, release_nb), "untouched": release_nb,
            "partly_wrong": partly_wrong(source_nb, release_nb, assignment, course),
            "infinite_loop": infinite_loop(source_nb, release_nb)}


def write(notebooks: dict, folder: Path, assignment: str) -> dict:
    """FOLDER/<student>/<assignment>.ipynb for each {student: notebook}; returns the paths."""
    paths = {}
    for student, nb in notebooks.items():
        path = folder / student / f"{assignment}.ipynb"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(nb if isinstance(nb, str) else json.dumps(nb, indent=1))   # as is: no id fixes
        paths[student] = path
    return paths


def write_samples(course: Course, assignment: str, folder: Path) -> dict:
    source_nb = nbformat.read(course.source(assignment), as_version=4)
    return write(demo_samples(source_nb, assignment, course), folder, assignment)


# ---------------------------------------------------------------- the adversarial corpus (toy)
def _prepend(nb, grade_id: str, code: str):
    return edit(nb, grade_id, lambda s: code + "\n" + s)


def _add_cell(nb, after_id: str, code: str):
    nb = copy.deepcopy(nb)
    at = next(i for i, c in enumerate(nb.cells) if cells.grade_id(c) == after_id)
    nb.cells.insert(at + 1, nbformat.v4.new_code_cell(code))
    return nb


WRONG_SOFTMAX = "def softmax(x):\n    return torch.zeros_like(x)\n"
ATTACKS = {
    "patch_allclose": "torch.allclose = lambda *a, **k: True\n"
                      "torch.isclose = lambda a, b, **k: torch.ones_like(a, dtype=torch.bool)\n"
                      "torch.equal = lambda *a: True\n",
    "patch_builtins": "import builtins\nbuiltins.all = lambda *a: True\nbuiltins.any = lambda *a: True\n",
    "patch_grading": "import course_lib.grading as g\n"
                     "g.hidden_check = lambda *a, **k: print('hidden test passed')\n"
                     "hidden_check = g.hidden_check\n",
    "forge_record": "import os, torch\n"
                    "def hidden_check(case_id, **objects):\n"
                    "    seeds = {s: {'outputs': {'y': torch.zeros(4, 7)}} for s in range(3)}\n"
                    "    torch.save({'case': case_id, 'results': seeds},\n"
                    "               os.path.join(os.environ['COURSE_GRADING_RECORD_DIR'], case_id + '.pt'))\n",
    "print_passed": "print('All tests passed! 5/5 points')\n",
}


READ_SOLUTIONS = """import glob, json
try:
    import autograde.mistakes.toy, autograde.verdict
    print('IMPORTED the grader')
except ImportError:
    print('grader not importable')
found = glob.glob('/tmp/**/solutions/toy.ipynb', recursive=True) + glob.glob('/work/*/solutions/*.ipynb')
print('FOUND' if found else 'NOTHING FOUND', found)
for path in found:
    for c in json.load(open(path))['cells']:
        if 'def softmax' in ''.join(c['source']):
            exec(''.join(c['source']))
"""


def adversarial(source_nb) -> dict:
    """{name: submission} for the toy assignment (a str is written as the raw file)."""
    release_nb = release_notebook(source_nb)
    good = correct(source_nb, release_nb)
    wrong = edit(good, "softmax", lambda s: WRONG_SOFTMAX)
    out = {name: _prepend(wrong, "softmax", code) for name, code in ATTACKS.items()}
    out["rigged_eq"] = edit(good, "softmax", lambda s: (
        "class Anything(torch.Tensor):\n    def __eq__(self, other): return True\n"
        "def softmax(x):\n    return torch.zeros_like(x).as_subclass(Anything)\n"))
    tests = [cells.grade_id(c) for c in good.cells if cells.is_test(c)]
    deleted = copy.deepcopy(good)
    deleted.cells = [c for c in deleted.cells if not cells.is_test(c)]
    out["deleted_tests"] = deleted
    edited = wrong
    for t in tests:
        edited = edit(edited, t, lambda s: "pass")
    out["edited_tests"] = edited
    points = copy.deepcopy(good)
    for c in points.cells:
        if cells.is_test(c):
            c.metadata.nbgrader["points"] = 100
    out["changed_points"] = points
    dup = copy.deepcopy(good)
    at = next(i for i, c in enumerate(dup.cells) if cells.grade_id(c) == "softmax")
    stub = next(c for c in release_nb.cells if cells.grade_id(c) == "softmax")
    dup.cells.insert(at + 1, copy.deepcopy(stub))             # a stale copy of the stub after the answer
    test_at = next(i for i, c in enumerate(dup.cells) if cells.grade_id(c) == tests[0])
    dup.cells.insert(test_at, copy.deepcopy(dup.cells[test_at]))
    out["duplicated_cells"] = dup
    out["infinite_loop"] = infinite_loop(source_nb, release_nb)
    out["sleep_forever"] = _prepend(good, "softmax", "import time\nwhile True:\n    time.sleep(1)\n")
    out["memory_bomb"] = _prepend(good, "softmax", "hog = []\nwhile True:\n    hog.append(bytearray(2**28))\n")
    out["fork_bomb"] = _prepend(good, "softmax", "import os\nwhile True:\n    try:\n        os.fork()\n"
                                                 "    except OSError:\n        pass\n")
    out["sys_exit"] = _prepend(good, "softmax", "import sys\nsys.exit(1)\n")
    out["os_exit"] = _prepend(good, "softmax", "import os\nos._exit(1)\n")
    out["kernel_crash"] = _prepend(good, "softmax", "import ctypes\nctypes.string_at(0)\n")
    out["stderr_warnings"] = _add_cell(edit(good, "softmax", lambda s: s.replace(
        "    z = x", "    import sys, warnings\n    warnings.warn('softmax: a warning')\n"
        "    print('debug output', file=sys.stderr)\n    z = x")), "softmax",
        "import warnings\nwarnings.warn('a DeprecationWarning-like message', UserWarning)\n")
    out["read_instructor_files"] = edit(wrong, "softmax", lambda s: s + "\n" + READ_SOLUTIONS)
    out["write_outside"] = _add_cell(good, "softmax", (
        "import os\nfor p in ['/work/main/ESCAPED', os.path.expanduser('~/../ESCAPED'), '/tmp/../ESCAPED']:\n"
        "    try:\n        open(p, 'w').write('x'); print('WROTE', p)\n"
        "    except OSError as e:\n        print('BLOCKED', p)\n"))
    out["network"] = _add_cell(good, "softmax", (
        "import socket\ntry:\n    socket.create_connection(('1.1.1.1', 53), timeout=3); print('NETWORK OPEN')\n"
        "except OSError:\n    print('NETWORK BLOCKED')\n"))
    out["not_a_notebook"] = "this is not json {"
    out["hidden_check_library"] = _prepend(wrong, "softmax",
                                           "hidden_check('toy.softmax', softmax=lambda x: torch.softmax(x, -1))\n")
    return out

