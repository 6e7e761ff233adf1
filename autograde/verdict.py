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
from autograde.course import ROOT, Course
from autograde.hidden import Case, load_case, load_module, run_case

MAX_RECORD_BYTES = 50 * 2**20


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
             course.mistakes_file(assignment), Path(__file__), ROOT / "autograde" / "hidden.py",
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
def _describe(value) -> str:
    if type(value) is torch.Tensor:
        return f"a tensor of shape {tuple(value.shape)} and dtype {value.dtype}"
    return f"a {type(value).__name__}"


def _tensor_differences(got: torch.Tensor, want: torch.Tensor, atol, rtol, path) -> list[str]:
    if got.shape != want.shape:
        return [f"{path}: shape {tuple(got.shape)}, expected {tuple(want.shape)}"]
    if got.dtype != want.dtype:
        return [f"{path}: dtype {got.dtype}, expected {want.dtype}"]
    if not (want.is_floating_point() or want.is_complex()):
        wrong = int((got != want).sum())
        return [f"{path}: {wrong} of {want.numel()} entries differ (exact match expected)"] * bool(wrong)
    close = torch.isclose(got, want, atol=atol, rtol=rtol, equal_nan=True)
    if bool(close.all()):
        return []
    if not bool(torch.isfinite(got).all()) and bool(torch.isfinite(want).all()):
        return [f"{path}: contains NaN or inf where the reference is finite"]
    diff = float((got - want).abs().nan_to_num(math.inf).max())
    return [f"{path}: {int((~close).sum())} of {want.numel()} entries off, max |difference| "
            f"{diff:.3g} (tolerance atol={atol:g}, rtol={rtol:g})"]


def differences(got, want, atol: float, rtol: float, path: str = "output") -> list[str]:
    """What differs between a student's plain output and the reference's (empty: they agree)."""
    if type(got) is not type(want):
        return [f"{path}: got {_describe(got)}, expected {_describe(want)}"]
    if type(want) is torch.Tensor:
        return _tensor_differences(got, want, atol, rtol, path)
    if type(want) is float:
        ok = math.isclose(got, want, rel_tol=rtol, abs_tol=atol) or (math.isnan(got) and math.isnan(want))
        return [] if ok else [f"{path}: {got:.6g}, expected a different value "
                              f"(tolerance atol={atol:g}, rtol={rtol:g})"]
    if type(want) is dict:
        if set(got) != set(want):
            return [f"{path}: keys {sorted(got)}, expected {sorted(want)}"]
        return [d for k in want for d in differences(got[k], want[k], atol, rtol, f"{path}[{k!r}]")]
    if type(want) in (list, tuple):
        if len(got) != len(want):
            return [f"{path}: length {len(got)}, expected {len(want)}"]
        return [d for i, (g, w) in enumerate(zip(got, want))
                for d in differences(g, w, atol, rtol, f"{path}[{i}]")]
    return [] if got == want else [f"{path}: {got!r:.60}, expected a different value"]


# ---------------------------------------------------------------- validating a record
PLAIN = (bool, int, float, str, type(None))


def is_plain(value) -> bool:
    if type(value) is torch.Tensor or type(value) in PLAIN:
        return True
    if type(value) is dict:
        return all(type(k) is str and is_plain(v) for k, v in value.items())
    if type(value) in (list, tuple):
        return all(is_plain(v) for v in value)
    return False


def read_record(path: Path) -> dict | str:
    """The record's per-seed results, or a string saying why it cannot be used."""
    if path.is_symlink() or not path.is_file():
        return "the record is not a plain file"
    if path.stat().st_size > MAX_RECORD_BYTES:
        return "the record is too large"
    try:
        record = torch.load(path, weights_only=True, map_location="cpu")
    except Exception as err:                         # a forged or truncated file
        return f"the record could not be read ({type(err).__name__})"
    results = record.get("results") if type(record) is dict else None
    if type(results) is not dict or not all(type(r) is dict and is_plain(r) for r in results.values()):
        return "the record holds something other than plain outputs"
    return results


# ---------------------------------------------------------------- verdicts
@dataclass
class CaseVerdict:
    case_id: str
    passed: int
    total: int
    hints: list[str] = field(default_factory=list)
    mistake: str | None = None


def _seed_problems(result, want, case: Case) -> list[str]:
    if result is None:
        return ["not run: the cell stopped before this hidden test"]
    if not isinstance(result, dict):
        return ["the record is malformed"]
    if "error" in result:
        err = result["error"] if isinstance(result["error"], dict) else {}
        return [f"your code raised {err.get('type', 'an error')}: {err.get('message', '')}"]
    return differences(result.get("outputs"), want["outputs"], case.atol, case.rtol)


def _hint_for(problem: str, case: Case) -> str:
    """Prefix a problem with the case's hint for the output it concerns."""
    for name, hint in case.requires.items():
        if problem.startswith(f"output[{name!r}]"):
            return f"{problem} -- {hint}"
    return f"{problem} -- {case.requirement}" if case.requirement else problem


def _matching_mistake(results: dict, failing: list, mistakes: dict, case: Case) -> str | None:
    for name, variant in mistakes.items():
        if all(isinstance(results.get(s), dict) and "outputs" in results[s]
               and not differences(results[s]["outputs"], variant[s].get("outputs"),
                                   case.atol, case.rtol) for s in failing):
            return name
    return None


def judge(case_id: str, results: dict | str | None, ref: dict,
          course: Course | None = None) -> CaseVerdict:
    """Compare one case's per-seed results (or why there are none) with its cached reference."""
    case = load_case(case_id, (course or Course.from_env()).solutions)
    if isinstance(results, str):
        return CaseVerdict(case_id, 0, len(case.seeds), [results])
    results = results or {}
    problems = {s: _seed_problems(results.get(s), ref["reference"][s], case) for s in case.seeds}
    failing = [s for s, p in problems.items() if p]
    verdict = CaseVerdict(case_id, len(case.seeds) - len(failing), len(case.seeds))
    first, count = {}, {}
    for seed in failing:                       # one line per failing output, with its seed count
        hint = _hint_for(problems[seed][0], case)
        where = hint.split(":")[0]
        first.setdefault(where, hint)
        count[where] = count.get(where, 0) + 1
    verdict.hints = [f"{first[w]} (on {count[w]} of {len(case.seeds)} seeds)" for w in first]
    if failing:
        verdict.mistake = _matching_mistake(results, failing, ref["mistakes"], case)
    return verdict


def mistake_hint(assignment: str, case_id: str, name: str, course: Course | None = None) -> str:
    for m in load_mistakes(assignment, course).get(case_id.partition(".")[2], []):
        if m.name == name:
            return m.hint
    return name


def check_in_process(case_id: str, objects: dict, results: dict) -> None:
    """Instructor mode of hidden_check: compare here and raise AssertionError with the hint."""
    assignment = case_id.partition(".")[0]
    verdict = judge(case_id, results, reference_outputs(Course.from_env(), assignment)[case_id])
    if verdict.passed < verdict.total:
        named = f" Looks like: {mistake_hint(assignment, case_id, verdict.mistake)}." if verdict.mistake else ""
        raise AssertionError(f"hidden test {case_id}: {verdict.passed}/{verdict.total} seeds "
                             f"passed. {'; '.join(verdict.hints)}.{named}")
    print(f"hidden test {case_id}: {verdict.passed}/{verdict.total} seeds passed")
