"""A graded submission: `SubmissionResult`, with a `TestResult` per graded cell.

What grading one notebook gives (autograde/grade/one_submission.py makes it), what the work folder
keeps of it (results/<assignment>/<student>.json, autograde/work.py), and what the gradebook,
feedback pages, exports and reports read (autograde/results/). Modules pass these objects; only
work.py turns them into JSON and back (`to_json`, `from_json`).

A field is added once, here, with a default (so result files written before it still load), and
set where it is known; `to_json` writes every field, leaving out optional ones that are None.
The file's keys are the fields' names. For code that reads a result as the file's JSON (a test, a
script), both classes also answer `result["score"]`, `result.get("tampering")` and `dict(result)`
as the JSON object would, read-only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import MISSING, dataclass, field, fields, replace


class _AsJson(Mapping):
    """Read-only access by the JSON file's keys: `r["score"]`, `r.get("manual")`, `dict(r)`."""

    def _present(self) -> list[str]:
        """The keys its JSON has: every field, less optional ones that are None or False."""
        return [f.name for f in fields(self) if not (
            (f.name in self._OPTIONAL and getattr(self, f.name) is None)
            or (f.name in self._OMIT_FALSE and getattr(self, f.name) is False))]

    def __getitem__(self, key: str):
        if key not in self._present():
            raise KeyError(key)
        return getattr(self, key)

    def __iter__(self):
        return iter(self._present())

    def __len__(self) -> int:
        return len(self._present())

    _OPTIONAL: tuple = ()             # left out of the JSON when None
    _OMIT_FALSE: tuple = ()           # left out of the JSON when False


def _kwargs(cls, data: Mapping) -> dict:
    """The fields of `cls` that `data` holds (a missing one takes its default)."""
    names = {f.name for f in fields(cls)}
    return {k: v for k, v in dict(data).items() if k in names}


@dataclass(eq=True)
class TestResult(_AsJson):
    """One graded cell: a test cell's score from its hidden cases, or an answer graded by hand."""

    id: str                               # the cell's grade id, e.g. "test_lora_linear"
    points: float
    score: float | None                   # None: graded by hand and not graded yet
    passed: int = 0                       # (case, seed) checks passed, of `total`
    total: int = 0
    lines: list = field(default_factory=list)      # the feedback: verdict lines, why not run
    mistakes: list = field(default_factory=list)   # names of the known mistakes it matched
    manual: bool = False                  # graded by hand in the formgrader

    _OMIT_FALSE = ("manual",)
    __test__ = False                      # not a pytest test class

    @property
    def full(self) -> bool:
        return self.score is not None and self.score >= self.points

    def to_json(self) -> dict:
        return {k: (list(v) if isinstance(v, list) else v) for k, v in
                ((name, getattr(self, name)) for name in self._present())}

    @classmethod
    def from_json(cls, data: Mapping) -> TestResult:
        if isinstance(data, cls):
            return data
        kwargs = _kwargs(cls, data)
        kwargs.setdefault("score", None)
        kwargs["manual"] = bool(kwargs.get("manual", False))
        return cls(**kwargs)


@dataclass(eq=True)
class SubmissionResult(_AsJson):
    """One graded submission (every submission ends as one: graded, or flagged in needs_look)."""

    student: str
    assignment: str
    score: float                          # the autograded total (answers graded by hand: 0)
    max_score: float                      # every graded cell's points, by hand or not
    tests: list = field(default_factory=list)      # [TestResult], in the notebook's order
    submission_sha256: str = ""           # of the notebook graded: a rerun skips what matches
    seconds: float = 0.0                  # wall time of grading it
    sandbox: str = ""                     # the sandbox mode it ran under (grade/sandbox.py)
    sandboxed: bool = False
    isolation: dict | None = None         # how the kernels were isolated (sandbox.describe); None:
                                          # no kernel ran to the end (the worker died)
    tampering: list = field(default_factory=list)  # what the grader refused or restored
    problems: list = field(default_factory=list)   # crashes, limits: charged to the cells they broke
    needs_look: list = field(default_factory=list)  # what the instructor should look at
    timing: dict | None = None            # where the wall time went (one_submission._timing)
    restarts: int | None = None           # kernel restarts while it ran
    cells: list | None = None             # per executed cell: key, status, CPU seconds
    extra: dict = field(default_factory=dict)  # keys of the file this version has no field for

    _OPTIONAL = ("timing", "restarts", "cells")

    def __post_init__(self):
        self.tests = [TestResult.from_json(t) for t in self.tests]

    def _present(self) -> list[str]:
        return [name for name in super()._present() if name != "extra"] + list(self.extra)

    def __getitem__(self, key: str):
        if key in self.extra:
            return self.extra[key]
        return super().__getitem__(key)

    @property
    def autograded_max(self) -> float:
        """The points of the cells graded here (not those waiting for a person)."""
        return sum(t.points for t in self.tests if t.score is not None)

    def test(self, grade_id: str) -> TestResult | None:
        return next((t for t in self.tests if t.id == grade_id), None)

    def with_notes(self, notes: list[str]) -> SubmissionResult:
        """The result with notes the grader found before grading (files it did not use) added to
        its tampering and needs-a-look lists."""
        return replace(self, tampering=notes + self.tampering, needs_look=notes + self.needs_look)

    def to_json(self) -> dict:
        out = {}
        for name in super()._present():
            if name == "extra":
                continue
            value = getattr(self, name)
            out[name] = [t.to_json() for t in value] if name == "tests" else value
        return {**self.extra, **out}

    @classmethod
    def from_json(cls, data: Mapping) -> SubmissionResult:
        if isinstance(data, cls):
            return data
        data = dict(data)
        known = _kwargs(cls, data)
        known.pop("extra", None)
        missing = [f.name for f in fields(cls) if f.default is MISSING
                   and f.default_factory is MISSING and f.name not in known]
        if missing:
            raise ValueError(f"a result without {missing}")
        return cls(**known, extra={k: v for k, v in data.items() if k not in known})


def results_of(items) -> list[SubmissionResult]:
    """SubmissionResults of results or of their JSON objects (what a caller holds)."""
    return [SubmissionResult.from_json(r) for r in items]
