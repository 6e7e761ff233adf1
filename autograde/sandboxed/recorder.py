"""Hidden tests, the part that runs inside the student's kernel: cases, seeds, plain outputs.

A test cell of a source notebook ends with its hidden region, e.g.

    hidden_check("lora.forward", LoRALinear=LoRALinear)

which names the case `forward` of `solutions/lora/cases.py`. A case builds seeded inputs itself and
calls the student's objects on each of its fixed seeds; the outputs are turned into plain data
(exact `torch.Tensor`s, detached, on the CPU; bool/int/float/str/None; dicts, lists and tuples of
those) by `run_case`.

- Grading: the grader never runs the hidden region as the student's cell. After the visible part of
  each test cell it runs a step of its own, `record_step` (autograde/grade/records.py), which records each
  case's outputs to `$COURSE_GRADING_RECORD_DIR/<case_id>.pt`; the verdict is computed later in the
  grader's process, so nothing done in this interpreter (a patched `torch.allclose`, a rigged
  `__eq__`, a visible check rebound to a no-op) changes it.
- Instructor mode (running `solutions/lora/lora.ipynb` itself, no record folder): `hidden_check`
  compares here with the reference extracted from the source notebook and raises AssertionError
  with the requirement that failed.

An exception raised by the student's code on one seed is recorded (type and message) and the other
seeds still run. This module and the graded assignment's `cases.py` are the only grader files a
student's sandbox can see (the student course has neither): keep it small and free of answers.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch

RECORD_DIR_ENV = "COURSE_GRADING_RECORD_DIR"
SOLUTIONS_ENV = "COURSE_SOLUTIONS_DIR"
MAX_MESSAGE = 300                      # characters of an exception message kept in a record


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
    return Path(env) if env else Path(__file__).resolve().parents[2] / "solutions"


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


class OutputTypeError(TypeError):
    """An output is not plain data the grader can compare."""


def sanitize(value: Any, where: str = "output") -> Any:
    """Plain, detached, CPU copies of tensors and builtins; anything else is an OutputTypeError."""
    if isinstance(value, torch.nn.Parameter):
        value = value.data
    if type(value) is torch.Tensor:
        return value.detach().cpu().contiguous().clone()
    if value is None or type(value) in (bool, int, float, str):
        return value
    if type(value) is dict:
        return {str(k): sanitize(v, f"{where}[{k!r}]") for k, v in value.items()}
    if type(value) in (list, tuple):
        return type(value)(sanitize(v, f"{where}[{i}]") for i, v in enumerate(value))
    kind = type(value)
    raise OutputTypeError(f"{where} is a {kind.__module__}.{kind.__qualname__}; expected a "
                          "torch.Tensor, a number, a bool, a str, or a dict/list/tuple of those")


def run_case(case: Case, objects: dict) -> dict:
    """{seed: {"outputs": ...} or {"error": {"type", "message"}}} for each of the case's seeds."""
    results = {}
    for seed in case.seeds:
        try:
            outputs = sanitize(case.run(dict(objects), seed))
            results[seed] = {"outputs": outputs}
        except (Exception, SystemExit) as err:       # the student's bug, recorded not raised
            message = str(err)[:MAX_MESSAGE]
            results[seed] = {"error": {"type": type(err).__name__, "message": message}}
    return results


def _save(record_dir: str, case_id: str, record: dict) -> None:
    torch.save(record, os.path.join(record_dir, f"{case_id}.pt"))


def record_step(calls: list) -> None:
    """The grader's own step after a test cell (autograde/grade/records.py writes its code): run each
    hidden case on the student's objects, `calls` = [(case id, lambda: {keyword: object})], and
    record its per-seed results. Never raises: an exercise whose objects are missing is recorded as
    unavailable, so the other cases of the cell still count."""
    record_dir = os.environ.get(RECORD_DIR_ENV, ".")
    for case_id, objects in calls:
        try:
            found = objects()
        except (Exception, SystemExit) as err:
            _save(record_dir, case_id, {"case": case_id,
                                        "unavailable": f"{type(err).__name__}: {err}"[:MAX_MESSAGE]})
            continue
        try:
            _save(record_dir, case_id, {"case": case_id, "results": run_case(load_case(case_id), found)})
        except (Exception, SystemExit) as err:       # e.g. an unpicklable output slipped through
            _save(record_dir, case_id, {"case": case_id,
                                        "unavailable": f"{type(err).__name__}: {err}"[:MAX_MESSAGE]})


def hidden_check(case_id: str, **objects: Any) -> None:
    """Run hidden case `case_id` on the student's `objects`; record (grading) or compare (instructor)."""
    results = run_case(load_case(case_id), objects)
    record_dir = os.environ.get(RECORD_DIR_ENV)
    if record_dir:
        torch.save({"case": case_id, "results": results},
                   os.path.join(record_dir, f"{case_id}.pt"))
        return
    from autograde.grade.verdict import check_in_process  # instructor mode only: never in a sandbox
    check_in_process(case_id, objects, results)
