"""What an assignment folder imports: `Case` (cases.py), `Mistake` (mistakes.py), and how the
grader finds them.

    solutions/<name>/cases.py     CASES = {case name: Case(run, seeds, atol, rtol, requires)}
    solutions/<name>/mistakes.py  MISTAKES = {case name: [Mistake(name, hint, make)]}

A student's sandbox sees this file (cases.py imports it there): it imports nothing of the grader
(tests/test_layout.py) and holds no answer. `stand_ins` (course_lib/checks) is what a case uses to
run one of the student's functions with the reference's helpers.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

SOLUTIONS_ENV = "COURSE_SOLUTIONS_DIR"


@dataclass
class Case:
    """One hidden test case: `run(objects, seed) -> {output name: value}` on each seed."""

    run: Callable[[dict, int], dict]
    seeds: tuple = (0, 1, 2)
    atol: float = 1e-5
    rtol: float = 1e-4
    # What each output checks, as a requirement of the exercise ("B starts at zero"), never a guess
    # at a cause: causes are named mistakes (solutions/<name>/mistakes.py), said only on a match.
    requires: dict = field(default_factory=dict)    # output name -> the requirement it tests
    requirement: str = ""                           # what the case as a whole requires


def solutions_dir(solutions: Path | str | None = None) -> Path:
    """Where assignments live: the argument, else $COURSE_SOLUTIONS_DIR, else the repo's solutions/."""
    if solutions:
        return Path(solutions)
    env = os.environ.get(SOLUTIONS_ENV)
    return Path(env) if env else Path(__file__).resolve().parents[1] / "solutions"


def load_module(path: Path, name: str):
    """Import a file of an assignment folder (cases.py, mistakes.py) as module `name`, once."""
    path = Path(path).resolve()
    cached = sys.modules.get(name)
    if cached is not None and getattr(cached, "__file__", None) == str(path):
        return cached
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or not path.is_file():
        raise ModuleNotFoundError(f"no file {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def load_cases(assignment: str, solutions: Path | str | None = None) -> dict:
    """The CASES dict of `solutions/<assignment>/cases.py`."""
    path = solutions_dir(solutions) / assignment / "cases.py"
    return load_module(path, f"autograde_cases_{assignment}").CASES


def load_case(case_id: str, solutions: Path | str | None = None) -> Case:
    """`"lora.forward"` -> the Case named `forward` in `solutions/lora/cases.py`."""
    assignment, _, name = case_id.partition(".")
    found = load_cases(assignment, solutions).get(name)
    if found is None:
        raise KeyError(f"no hidden case {name!r} in {assignment}/cases.py")
    return found if isinstance(found, Case) else Case(**found)


@dataclass
class Mistake:
    """A known wrong variant (solutions/<name>/mistakes.py): `make` turns the reference objects
    a case receives into wrong ones; when a student's outputs match them, `hint` is shown."""

    name: str
    hint: str
    make: Callable[[dict], dict]


def mistakes_module(assignment: str, course=None):
    """solutions/<assignment>/mistakes.py as a module (of `course`'s solutions, an
    autograde.config.Course, else solutions_dir()), or None where there is none."""
    path = course.mistakes_file(assignment) if course else solutions_dir() / assignment / "mistakes.py"
    return load_module(path, f"autograde_mistakes_{assignment}") if path.is_file() else None


def load_mistakes(assignment: str, course=None) -> dict:
    """{case name: [Mistake, ...]} of the assignment."""
    module = mistakes_module(assignment, course)
    return getattr(module, "MISTAKES", {}) if module else {}
