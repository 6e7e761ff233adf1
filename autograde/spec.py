"""What an assignment folder imports, and how the grader finds it.

    solutions/<name>/cases.py     CASES = {key: Case(run, seeds, atol, rtol, requires)}
    solutions/<name>/mistakes.py  MISTAKES = {key: [Mistake(name, hint, variant(...))]}

The key is the exercise's (docs/CONVENTIONS.md): the test cell `test_<key>` of the source, its
visible check `check_<key>` (course_lib/checks/<name>.py), its hidden case `<name>.<key>` and its
named mistakes `MISTAKES[<key>]`.

- `Case`: one hidden test case, run on the student's objects and on the reference's.
- `Mistake` and `variant`: a named wrong variant of the reference, declared as a patch of it
  (`variant("LoRALinear", after_init=...)`, `variant("topk_gate", wrong_function)`, `around`).
- `stand_ins`: run a student's function with trusted stand-ins for the other exercises it calls by
  name (course_lib/checks, where the visible checks use it too: course_lib never imports autograde).

A student's sandbox sees this file (cases.py imports it there): it imports nothing of the grader
(tests/test_layout.py) and holds no answer.
"""

from __future__ import annotations

import importlib.util
import inspect
import os
import sys
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from course_lib.checks import namespace_of, stand_ins

__all__ = ["Case", "Mistake", "variant", "around", "stand_ins", "namespace_of", "load_case",
           "load_cases", "load_mistakes", "mistakes_module", "solutions_dir"]

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
    a case receives into wrong ones (usually a `variant`); when a student's outputs match them,
    `hint` is shown."""

    name: str
    hint: str
    make: Callable[[dict], dict]
    # whether the visible checks of its exercise fail on it (tests/test_mistakes.py holds every
    # mistake to what it says here): False where only the hidden case tells it apart
    seen_by_checks: bool = True


class around:                                          # noqa: N801 (used like a keyword)
    """A patch that wraps what it replaces: `around(f)` in place of the reference's `g` is
    `f(g, *args, **kwargs)` (for a method, `f(g, self, *args, **kwargs)`)."""

    def __init__(self, f: Callable):
        self.f = f

    def wrap(self, original: Callable) -> Callable:
        f = self.f

        def wrapped(*args, **kwargs):
            return f(original, *args, **kwargs)
        wrapped.__name__ = getattr(original, "__name__", "wrapped")
        return wrapped


def _after_init(reference: type, then: Callable) -> Callable:
    """An __init__ that runs the reference's, then `then(self, **its arguments by name)`."""
    signature = inspect.signature(reference.__init__)

    def __init__(self, *args, **kwargs):
        reference.__init__(self, *args, **kwargs)
        bound = signature.bind(self, *args, **kwargs)
        bound.apply_defaults()
        arguments = dict(list(bound.arguments.items())[1:])        # without self
        then(self, **arguments)
    return __init__


def variant(reference: str, replacement=None, /, **patch) -> Callable[[dict], dict]:
    """A named mistake's `make`, declared once as a patch of the reference object `reference` (the
    name a case's objects give it); the reference itself is never changed:

        variant("LoRALinear", forward=f)           a subclass WrongLoRALinear with f as forward
        variant("LoRALinear", after_init=g)        ... whose __init__ runs the reference's, then
                                                   g(self, **the constructor's arguments by name)
        variant("LoRALinear", forward=around(f))   ... whose forward is f(reference's forward, self, x)
        variant("topk_gate", f)                    the function f in the reference's place
        variant("absmax_params", around(f))        f(reference, *args, **kwargs) in its place
        variant("generate", sample=g)              a copy of the reference function that calls g
                                                   where it calls the notebook's `sample`

    A function written out (f) that calls another exercise by name looks it up in its own module,
    where the hidden case puts its stand-in (`stand_ins`), as for a student's function."""
    if (replacement is None) == (not patch):
        raise TypeError("variant() takes a replacement or a patch of attributes, not both")

    def make(objects: dict) -> dict:
        ref = objects[reference]
        if isinstance(replacement, around):
            wrong = replacement.wrap(ref)
        elif replacement is not None:
            wrong = replacement
        elif isinstance(ref, types.FunctionType):
            wrong = types.FunctionType(ref.__code__, {**ref.__globals__, **patch}, ref.__name__,
                                       ref.__defaults__, ref.__closure__)
            wrong.__kwdefaults__ = ref.__kwdefaults__
        else:
            body = {k: v.wrap(getattr(ref, k)) if isinstance(v, around) else v
                    for k, v in patch.items() if k != "after_init"}
            if "after_init" in patch:
                body["__init__"] = _after_init(ref, patch["after_init"])
            wrong = type(f"Wrong{ref.__name__}", (ref,), body)
        return dict(objects, **{reference: wrong})
    return make


def mistakes_module(assignment: str, course=None):
    """solutions/<assignment>/mistakes.py as a module (of `course`'s solutions, an
    autograde.config.Course, else solutions_dir()), or None where there is none."""
    path = course.mistakes_file(assignment) if course else solutions_dir() / assignment / "mistakes.py"
    return load_module(path, f"autograde_mistakes_{assignment}") if path.is_file() else None


def load_mistakes(assignment: str, course=None) -> dict:
    """{case name: [Mistake, ...]} of the assignment."""
    module = mistakes_module(assignment, course)
    return getattr(module, "MISTAKES", {}) if module else {}
