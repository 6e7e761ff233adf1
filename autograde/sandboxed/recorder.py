"""The hidden cases' runtime inside the student's kernel: run each case on the student's objects
and record plain outputs.

A test cell of a source notebook ends with its hidden region, e.g.

    hidden_check("lora.forward", LoRALinear=LoRALinear)

which names the case `forward` of `solutions/lora/cases.py` (autograde/spec.py: `Case`). A case
builds seeded inputs itself and calls the student's objects on each of its fixed seeds; the outputs
are turned into plain data (exact `torch.Tensor`s, detached, on the CPU; bool/int/float/str/None;
dicts, lists and tuples of those) by `run_case`.

The grader never runs the hidden region as the student's cell. After the visible part of each test
cell it runs a step of its own, `record_step` (autograde/grade/records.py writes its code), which
records each case's outputs to `$COURSE_GRADING_RECORD_DIR/<case_id>.pt`; the verdict is computed
later in the grader's process (autograde/grade/verdict.py), so nothing done in this interpreter (a
patched `torch.allclose`, a rigged `__eq__`, a visible check rebound to a no-op) changes it. In
instructor mode (running `solutions/lora/lora.ipynb` itself) the hidden region's `hidden_check` is
autograde/grade/verdict.py's, which compares in the instructor's process.

An exception raised by the student's code on one seed is recorded (type and message) and the other
seeds still run. This module, autograde/spec.py and the graded assignment's `cases.py` are the only
grader files a student's sandbox can see (the student course has none of them): it imports nothing
of the grader (tests/test_layout.py); keep it small and free of answers.
"""

from __future__ import annotations

import os
from typing import Any

import torch

from autograde.spec import Case, load_case

RECORD_DIR_ENV = "COURSE_GRADING_RECORD_DIR"
MAX_MESSAGE = 300                      # characters of an exception message kept in a record


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
