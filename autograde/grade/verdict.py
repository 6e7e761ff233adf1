"""The trusted comparison: a student's recorded outputs against the reference, in the grader's process.

The reference is never a separate module: it is extracted from the source notebook (setup cells +
solution cells, exec'd here), then each hidden case runs on it with the same seeds as in the
student's kernel. Reference outputs (and the outputs of the named mistakes in
`solutions/<assignment>/mistakes.py`) are computed once per class and cached on disk.

A (case, seed) check passes when the student's outputs have the reference's structure, types,
shapes and dtypes, and agree within the case's tolerance. Failures carry a hint: the case's hint for
that output, the shape/dtype/tolerance detail, and the named mistake when the outputs match one.
"""

from __future__ import annotations

import hashlib
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import nbformat
import torch

from autograde import cells
from autograde.config import ROOT, Course
from autograde.sandboxed.recorder import Case, load_case, load_module, run_case


# ---------------------------------------------------------------- the reference, from the source
def reference_namespace(source_nb) -> dict:
    """Exec the setup and solution cells of the source notebook into a fresh namespace."""
    namespace = {"__name__": "reference"}
    for cell in source_nb.cells:
        if cell.cell_type == "code" and (cells.is_setup(cell) or cells.is_solution(cell)):
            exec(compile(cell.source, f"<reference {cells.grade_id(cell) or 'setup'}>", "exec"),
                 namespace)
    return namespace


def case_calls(source_nb) -> dict[str, tuple[str, dict]]:
    """{case_id: (test cell grade id, {keyword: expression})} for every hidden_check in the source."""
    calls = {}
    for cell in cells.test_cells(source_nb):
        for case_id, kwargs in cells.hidden_calls(cell):
            if case_id in calls:
                raise ValueError(f"hidden case {case_id} is used by two test cells")
            calls[case_id] = (cells.grade_id(cell), kwargs)
    return calls


@dataclass
class Mistake:
    """A known wrong variant (solutions/<name>/mistakes.py): `make` turns the reference objects
    a case receives into wrong ones; when a student's outputs match them, `hint` is shown."""

    name: str
    hint: str
    make: Callable[[dict], dict]


def mistakes_module(assignment: str, course: Course | None = None):
    """solutions/<assignment>/mistakes.py as a module, or None where there is none."""
    path = (course or Course.from_env()).mistakes_file(assignment)
    return load_module(path, f"autograde_mistakes_{assignment}") if path.is_file() else None


def load_mistakes(assignment: str, course: Course | None = None) -> dict:
    """{case name: [Mistake, ...]} of the assignment."""
    module = mistakes_module(assignment, course)
    return getattr(module, "MISTAKES", {}) if module else {}


def fingerprint(course: Course, assignment: str) -> str:
    files = [course.source(assignment), course.cases_file(assignment),
             course.mistakes_file(assignment), Path(__file__), ROOT / "autograde" / "sandboxed" / "recorder.py",
             *sorted((ROOT / "course_lib").rglob("*.py"))]     # cases build on course_lib
    digest = hashlib.sha256()
    for f in files:
        digest.update(f.read_bytes() if f.exists() else b"-")
    return digest.hexdigest()[:16]


def compute_reference(source_nb, assignment: str, course: Course | None = None) -> dict:
    """{case_id: {"reference": results, "mistakes": {name: results}}} (runs the reference here)."""
    course = course or Course.from_env()
    namespace = reference_namespace(source_nb)
    mistakes = load_mistakes(assignment, course)
    out = {}
    for case_id, (_, kwargs) in case_calls(source_nb).items():
        case = load_case(case_id, course.solutions)
        objects = {k: eval(expr, namespace) for k, expr in kwargs.items()}
        reference = run_case(case, objects)
        broken = {s: r["error"] for s, r in reference.items() if "error" in r}
        if broken:
            raise RuntimeError(f"the reference fails hidden case {case_id}: {broken}")
        variants = {m.name: run_case(case, m.make(dict(objects)))
                    for m in mistakes.get(case_id.partition(".")[2], [])}
        out[case_id] = {"reference": reference, "mistakes": variants}
    return out


def reference_outputs(course: Course, assignment: str) -> dict:
    """Cached compute_reference for the assignment (recomputed when a source file changes)."""
    cache = course.work / "reference" / f"{assignment}-{fingerprint(course, assignment)}.pt"
    if cache.exists():
        return torch.load(cache, weights_only=True)
    source_nb = nbformat.read(course.source(assignment), as_version=4)
    outputs = compute_reference(source_nb, assignment, course)
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_suffix(f".{os.getpid()}.tmp")
    torch.save(outputs, tmp)
    os.replace(tmp, cache)
    return outputs


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


def check_in_process(case_id: str, objects: dict, results: dict) -> None:
    """Instructor mode of hidden_check: compare here and raise AssertionError with the lines."""
    assignment = case_id.partition(".")[0]
    verdict = judge(case_id, results, reference_outputs(Course.from_env(), assignment)[case_id])
    if verdict.passed < verdict.total:
        raise AssertionError("\n".join(verdict.lines()))
    print(f"hidden test {case_id}: {verdict.passed}/{verdict.total} seeds passed")
