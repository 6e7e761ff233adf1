"""The trusted comparison: a student's recorded outputs against the reference, in the grader's process.

The reference's outputs (and those of the named mistakes in `solutions/<assignment>/mistakes.py`)
come from autograde/build/reference.py, computed once per class and cached on disk.

A (case, seed) check passes when the student's outputs have the reference's structure, types,
shapes and dtypes, and agree within the case's tolerance. Failures carry a hint: the case's hint for
that output, the shape/dtype/tolerance detail, and the named mistake when the outputs match one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from autograde.build.reference import reference_outputs
from autograde.config import Course
from autograde.sandboxed.recorder import run_case
from autograde.spec import Case, Mistake, load_case, load_mistakes


# ---------------------------------------------------------------- comparing plain data
@dataclass(frozen=True)
class Difference:
    """Where a student's output differs from the reference's, and how (no guess at why)."""

    path: tuple          # keys and indices from the outputs dict down, e.g. ("y", 0)
    detail: str          # "3 of 10 entries off, max |difference| 0.5 (tolerance ...)"

    def where(self) -> str:
        return "output" + "".join(f"[{k!r}]" for k in self.path)


def _describe(value) -> str:
    if type(value) is torch.Tensor:
        return f"a tensor of shape {tuple(value.shape)} and dtype {value.dtype}"
    return f"a {type(value).__name__}"


def _tensor_differences(got: torch.Tensor, want: torch.Tensor, atol, rtol) -> list[str]:
    if got.shape != want.shape:
        return [f"shape {tuple(got.shape)}, expected {tuple(want.shape)}"]
    if got.dtype != want.dtype:
        return [f"dtype {got.dtype}, expected {want.dtype}"]
    if not (want.is_floating_point() or want.is_complex()):
        wrong = int((got != want).sum())
        return [f"{wrong} of {want.numel()} entries differ (exact match expected)"] * bool(wrong)
    close = torch.isclose(got, want, atol=atol, rtol=rtol, equal_nan=True)
    if bool(close.all()):
        return []
    if not bool(torch.isfinite(got).all()) and bool(torch.isfinite(want).all()):
        return ["contains NaN or inf where the reference is finite"]
    diff = float((got - want).abs().nan_to_num(math.inf).max())
    return [f"{int((~close).sum())} of {want.numel()} entries off, max |difference| "
            f"{diff:.3g} (tolerance atol={atol:g}, rtol={rtol:g})"]


def compare(got, want, atol: float, rtol: float, path: tuple = ()) -> list[Difference]:
    """Every place where a student's plain output differs from the reference's (empty: agree)."""
    if type(got) is not type(want):
        return [Difference(path, f"got {_describe(got)}, expected {_describe(want)}")]
    if type(want) is torch.Tensor:
        return [Difference(path, d) for d in _tensor_differences(got, want, atol, rtol)]
    if type(want) is float:
        ok = math.isclose(got, want, rel_tol=rtol, abs_tol=atol) or (math.isnan(got) and math.isnan(want))
        return [] if ok else [Difference(path, f"{got:.6g}, expected a different value "
                                               f"(tolerance atol={atol:g}, rtol={rtol:g})")]
    if type(want) is dict:
        if set(got) != set(want):
            return [Difference(path, f"keys {sorted(map(str, got))}, expected {sorted(map(str, want))}")]
        return [d for k in want for d in compare(got[k], want[k], atol, rtol, path + (k,))]
    if type(want) in (list, tuple):
        if len(got) != len(want):
            return [Difference(path, f"length {len(got)}, expected {len(want)}")]
        return [d for i, (g, w) in enumerate(zip(got, want))
                for d in compare(g, w, atol, rtol, path + (i,))]
    return [] if got == want else [Difference(path, f"{got!r:.60}, expected a different value")]


def differences(got, want, atol: float, rtol: float) -> list[str]:
    """compare() as lines, e.g. "output['y']: shape (2, 3), expected (3, 2)"."""
    return [f"{d.where()}: {d.detail}" for d in compare(got, want, atol, rtol)]


# ---------------------------------------------------------------- verdicts
@dataclass
class Problem:
    """One kind of failure of a case, over the seeds where it happened."""

    where: str                 # "output['y']", or "" for the run as a whole
    detail: str                # the first seed's difference, or the exception, or why not run
    requirement: str = ""      # what that output checks (Case.requires), never a guessed cause
    seeds: int = 1

    def line(self, total: int) -> str:
        what = f"{self.where}: {self.detail}" if self.where else self.detail
        need = f" (this checks: {self.requirement})" if self.requirement else ""
        return f"{what}{need}, on {self.seeds} of {total} seeds"


@dataclass
class CaseVerdict:
    case_id: str
    passed: int
    total: int
    problems: list[Problem] = field(default_factory=list)
    mistake: Mistake | None = None       # named only when the outputs equal that mistake's

    def lines(self) -> list[str]:
        out = [f"hidden test {self.case_id}: {self.passed}/{self.total} checks passed"]
        out += [f"  {p.line(self.total)}" for p in self.problems]
        if self.mistake:
            out.append(f"  looks like a known mistake: {self.mistake.hint}")
        return out


def _seed_problems(result, want, case: Case) -> list[Problem]:
    if result is None:
        return [Problem("", "not run: the hidden tests of this cell did not run", case.requirement)]
    if not isinstance(result, dict):
        return [Problem("", "the record is malformed")]
    if "error" in result:
        err = result["error"] if isinstance(result["error"], dict) else {}
        return [Problem("", f"your code raised {err.get('type', 'an error')}: "
                            f"{err.get('message', '')}", case.requirement)]
    found = compare(result.get("outputs"), want["outputs"], case.atol, case.rtol)
    return [Problem(d.where(), d.detail,
                    case.requires.get(d.path[0], case.requirement) if d.path else case.requirement)
            for d in found]


def _matching_mistake(results: dict, failing: list, variants: dict, case: Case) -> str | None:
    """The named mistake whose outputs the student's equal on every failing seed, if one does."""
    for name, variant in variants.items():
        if all(isinstance(results.get(s), dict) and "outputs" in results[s]
               and "outputs" in variant[s]
               and not compare(results[s]["outputs"], variant[s]["outputs"], case.atol, case.rtol)
               for s in failing):
            return name
    return None


def judge(case_id: str, results: dict | str | None, ref: dict,
          course: Course | None = None) -> CaseVerdict:
    """Compare one case's per-seed results (or why there are none) with its cached reference."""
    course = course or Course.from_env()
    case = load_case(case_id, course.solutions)
    total = len(case.seeds)
    if isinstance(results, str):
        return CaseVerdict(case_id, 0, total, [Problem("", results, case.requirement, total)])
    results = results or {}
    per_seed = {s: _seed_problems(results.get(s), ref["reference"][s], case) for s in case.seeds}
    failing = [s for s, found in per_seed.items() if found]
    verdict = CaseVerdict(case_id, total - len(failing), total)
    grouped: dict[str, Problem] = {}
    for seed in failing:                       # one problem per failing output, seeds counted
        for problem in per_seed[seed]:
            if problem.where in grouped:
                grouped[problem.where].seeds += 1
            else:
                grouped[problem.where] = problem
    verdict.problems = list(grouped.values())
    if failing:
        name = _matching_mistake(results, failing, ref["mistakes"], case)
        if name is not None:
            verdict.mistake = next((m for m in load_mistakes(case_id.partition(".")[0], course)
                                    .get(case_id.partition(".")[2], []) if m.name == name),
                                   Mistake(name, name, lambda objects: objects))
    return verdict


def hidden_check(case_id: str, **objects) -> None:
    """Instructor mode of a hidden region (running solutions/<name>/<name>.ipynb itself): run the
    case on `objects`, compare here with the reference, raise AssertionError with the lines. The
    grader never runs hidden regions (autograde/sandboxed/recorder.py records instead)."""
    results = run_case(load_case(case_id), objects)
    assignment = case_id.partition(".")[0]
    verdict = judge(case_id, results, reference_outputs(Course.from_env(), assignment)[case_id])
    if verdict.passed < verdict.total:
        raise AssertionError("\n".join(verdict.lines()))
    print(f"hidden test {case_id}: {verdict.passed}/{verdict.total} seeds passed")
