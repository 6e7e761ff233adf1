"""The class integrity report: which submissions of one assignment are too alike to be independent.

    python -m autograde similarity -a lora [FOLDER] [--against ARCHIVE]

Reads the class as `grade` does (nbgrader's submitted/ by default, or any folder or LMS zip that
`grade` takes; autograde/results/intake.py), rebuilds each notebook's answers from the source
(autograde/grade/restore.py, so cells that lost their metadata are still found), and compares every pair
of students exercise by exercise: each solution cell's code (autograde/results/fingerprint.py: normalised,
winnowed token k-grams) and each written answer (stemmed word pairs).

Before any pair is scored, two kinds of shared material are removed from every answer, because
sharing them says nothing: the released notebook (the stub, the given code, the question's words),
and what the class shares (a fingerprint in more than COMMON of the submissions of an
exercise, or in more than MOSS_M of them, as MOSS's -m option: a passage many students wrote is
convention, not copying). A fingerprint's postings (an inverted index: fingerprint -> the students
whose answer has it) then give the candidate pairs: only students who share a fingerprint that is
not the class's are scored (each fingerprint yields at most MOSS_M (MOSS_M - 1) / 2 pairs); a
600-student class's 180,000 pairs are never diffed one by one.

An exercise's score is the share of the smaller answer's fingerprints found in the other answer
(so padding a copy with extra code does not hide it); an exercise counts only when both answers
have at least MIN_OWN fingerprints of their own (blank and stub-only answers never pair). A pair's
score is its highest exercise score (copying one exercise of three is enough to look). An exercise
is flagged at THRESHOLD of its kind when the pair's exercises at the threshold share at least
MIN_SHARED fingerprints in all (a few identical lines of a short exercise are not enough).

Writes <work>/similarity/<NAME>.json, {"assignment": NAME, "pairs": [{"a", "b", "score", "flagged",
"exercises": [{"exercise", "kind", "score", "flagged", "shared", "a_regions", "b_regions"}]}]},
every pair scoring at least FLOOR, highest first; regions are [first, last] lines of the answer
cell (code) or [start, end) character offsets (text). A match in the archive of `--against` names
it "archive:<path inside the archive>" (a student id never holds a colon). The page beside it,
<work>/similarity/<NAME>.html, is autograde/results/similarity_page.py's (its `write` writes both). Nothing leaves the
machine: no service is called.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path

import nbformat

from autograde import cells
from autograde.build.release import release_notebook
from autograde.config import Course
from autograde.grade import restore
from autograde.results import fingerprint, intake, nbgrader_dirs

COMMON = 0.5                # a fingerprint in more than half of the answers to an exercise, or in
MOSS_M = 10                 # more than 10 of them (MOSS's -m), is the class's: sharing it is no sign
MIN_COMMON = 3              # ... but never one held by 3 or fewer (two students are never "the class")
MIN_OWN = {"code": 6, "text": 6}       # fingerprints of its own an answer needs to count
MIN_SHARED = {"code": 10, "text": 10}  # fingerprints a flagged pair shares at least, over its exercises
                                       # at the threshold (code: about 5 lines)
THRESHOLD = {"code": 0.5, "text": 0.25}   # calibrated on tests/fixtures/similarity (docs/GRADING.md)
FLOOR = 0.2                 # pairs below this are left out of the JSON
ARCHIVE = "archive:"


@dataclass
class Exercise:
    id: str                 # the solution cell's grade id
    kind: str               # "code" or "text"


@dataclass
class Result:
    assignment: str
    students: list[str]
    exercises: list[Exercise]
    answers: dict[str, dict[str, str]]          # owner (student or archive label) -> exercise -> text
    pairs: list[dict]
    considered: int                             # pairs scored (candidates from the index)
    scores: list[float]                         # score of every scored class pair
    report: intake.IntakeReport = field(default_factory=intake.IntakeReport)

    @property
    def n_pairs(self) -> int:
        n = len(self.students)
        return n * (n - 1) // 2

    def flagged(self) -> list[dict]:
        return [p for p in self.pairs if p["flagged"]]


# ---------------------------------------------------------------- reading
def exercises(source_nb) -> list[Exercise]:
    return [Exercise(cells.grade_id(c), "text" if c.cell_type == "markdown" else "code")
            for c in source_nb.cells if cells.is_solution(c) and cells.grade_id(c)]


def answers_of(nb_dict: dict, source_nb, release_nb, exs: list[Exercise]) -> dict[str, str]:
    """{exercise: the student's text} of one submission, its cells matched to the source's."""
    nb = nbformat.from_dict(nb_dict)
    restored, _ = restore.restore(source_nb, nb, release_nb)
    wanted = {e.id for e in exs}
    return {cells.grade_id(c): c.source for c in restored.cells if cells.grade_id(c) in wanted}


def read_class(course: Course, name: str, source: Path, report: intake.IntakeReport) -> dict[str, dict[str, str]]:
    source_nb = nbformat.read(course.source(name), as_version=4)
    release_nb = release_notebook(source_nb)
    exs = exercises(source_nb)
    out = {}
    for chosen in intake.read(source, [name], course.assignments(), report):
        try:
            data = json.loads(chosen.notebook.read())
            if not isinstance(data, dict) or not isinstance(data.get("cells"), list):
                raise ValueError("not a notebook (no list of cells)")
            out[chosen.student] = answers_of(data, source_nb, release_nb, exs)
        except Exception as err:                 # one bad notebook costs only itself
            report.errors.append(f"{chosen.notebook.origin}: not compared, it could not be read "
                                 f"({type(err).__name__}: {str(err)[:120]})")
    return out


def read_archive(folder: Path, source_nb, release_nb, exs: list[Exercise],
                 report: intake.IntakeReport) -> dict[str, dict[str, str]]:
    """Earlier terms' notebooks of this assignment (per exercise) and any other notebook or .py
    file (one document for the whole file, "*"), labelled archive:<path>."""
    out = {}
    for path in sorted(folder.rglob("*")):
        if path.is_symlink() or not path.is_file() or path.suffix not in (".ipynb", ".py", ".md", ".txt"):
            continue
        label = ARCHIVE + path.relative_to(folder).as_posix()
        try:
            raw = path.read_text(errors="replace")
            if path.suffix == ".py":
                out[label] = {"*code": raw}
                continue
            if path.suffix in (".md", ".txt"):
                out[label] = {"*text": raw}
                continue
            data = json.loads(raw)
            answers = answers_of(data, source_nb, release_nb, exs)
            stubs = {cells.grade_id(c): c.source for c in release_nb.cells if cells.is_solution(c)}
            if any(answers.get(e.id, "") != stubs.get(e.id, "") for e in exs):
                out[label] = answers
            else:                                 # another course's notebook: the whole of it
                nb = nbformat.from_dict(data)
                out[label] = {"*code": "\n\n".join(c.source for c in nb.cells if c.cell_type == "code"),
                              "*text": "\n\n".join(c.source for c in nb.cells if c.cell_type == "markdown")}
        except Exception as err:
            report.errors.append(f"archive {path.relative_to(folder)}: not compared, it could not "
                                 f"be read ({type(err).__name__}: {str(err)[:120]})")
    return out


# ---------------------------------------------------------------- fingerprints and index
def _doc(kind: str, text: str) -> fingerprint.Doc:
    return fingerprint.code(text) if kind == "code" else fingerprint.text(text)


def boilerplate(release_nb) -> dict[str, set[int]]:
    """Fingerprints of everything the release gives every student: its code cells (stubs, given
    code, visible checks; normalised, and as written for answers that do not parse) and its
    markdown (the questions)."""
    out = {"code": set(), "text": set()}
    for c in release_nb.cells:
        if c.cell_type == "code":
            out["code"] |= fingerprint.code(c.source).hashes | fingerprint.code(c.source, raw=True).hashes
        elif c.cell_type == "markdown":
            out["text"] |= fingerprint.text(c.source).hashes
    return out


def _score(a: set[int], b: set[int], kind: str, whole: bool = False) -> tuple[float, set[int]]:
    """(score, shared fingerprints); 0 when either answer has too little of its own. Against a
    whole archived file: the share of the student's answer (a) found in it."""
    if len(a) < MIN_OWN[kind] or (not whole and len(b) < MIN_OWN[kind]):
        return 0.0, set()
    shared = a & b
    return len(shared) / (len(a) if whole else min(len(a), len(b))), shared


def compare(assignment: str, answers: dict[str, dict[str, str]], exs: list[Exercise],
            stub: dict[str, set[int]], archive: dict[str, dict[str, str]] | None = None) -> Result:
    """Score the class's pairs (and each student against the archive) from the answers' text."""
    students = sorted(answers)
    archive = archive or {}
    kinds = {e.id: e.kind for e in exs}
    docs: dict[str, dict[str, fingerprint.Doc]] = defaultdict(dict)     # owner -> exercise -> doc
    for owner, by_ex in list(answers.items()) + list(archive.items()):
        for ex, text in by_ex.items():
            kind = kinds.get(ex) or ex.lstrip("*")
            if kind in stub and text.strip():
                docs[owner][ex] = _doc(kind, text).without(stub[kind])

    own: dict[str, dict[str, set[int]]] = defaultdict(dict)
    postings: dict[str, dict[int, list[str]]] = {}
    class_common: dict[str, set[int]] = defaultdict(set)
    for e in exs:
        df: dict[int, list[str]] = defaultdict(list)
        answered = [s for s in students if e.id in docs[s] and docs[s][e.id].positions]
        for s in answered:
            for h in docs[s][e.id].positions:
                df[h].append(s)
        limit = max(MIN_COMMON, min(MOSS_M, COMMON * len(answered)))
        common = {h for h, who in df.items() if len(who) > limit}
        for owner in docs:
            if e.id in docs[owner]:
                docs[owner][e.id] = docs[owner][e.id].without(common)
                own[owner][e.id] = docs[owner][e.id].hashes
        postings[e.id] = {h: who for h, who in df.items() if h not in common}
        class_common["*" + e.kind] |= common
    for owner, by_ex in docs.items():                 # archived whole files: every exercise's common
        for ex in by_ex:
            if ex.startswith("*"):
                by_ex[ex] = by_ex[ex].without(class_common[ex])
                own[owner][ex] = by_ex[ex].hashes

    candidates: set[tuple[str, str]] = set()
    for e in exs:
        for who in postings[e.id].values():
            candidates.update(combinations(who, 2))
    for label, by_ex in archive.items():
        for ex in by_ex:
            targets = [e for e in exs if e.id == ex or ex == "*" + e.kind]
            for e in targets:
                for h in own[label].get(ex, ()):
                    candidates.update((s, label) for s in postings[e.id].get(h, ()))

    pairs, scores, considered = [], [], 0
    for a, b in sorted(candidates):
        rows = []
        for e in exs:
            theirs = [(e.id, False)] if e.id in own[b] else \
                     [(x, True) for x in own[b] if x == "*" + e.kind]
            for ex_b, whole in theirs:
                score, shared = _score(own[a].get(e.id, set()), own[b][ex_b], e.kind, whole)
                if score > 0:
                    rows.append({"exercise": e.id, "kind": e.kind, "score": round(score, 3),
                                 "flagged": score >= THRESHOLD[e.kind], "shared": len(shared),
                                 "a_regions": docs[a][e.id].regions(shared),
                                 "b_regions": docs[b][ex_b].regions(shared),
                                 **({"b_exercise": ex_b} if whole else {})})
        for kind in MIN_SHARED:                  # enough shared material over the exercises at
            above = [r for r in rows if r["kind"] == kind and r["flagged"]]   # the threshold?
            if sum(r["shared"] for r in above) < MIN_SHARED[kind]:
                for r in above:
                    r["flagged"] = False
        considered += not b.startswith(ARCHIVE)
        best = max((r["score"] for r in rows), default=0.0)
        if not b.startswith(ARCHIVE):
            scores.append(best)
        if best >= FLOOR:
            rows.sort(key=lambda r: -r["score"])
            pairs.append({"a": a, "b": b, "score": best, "flagged": any(r["flagged"] for r in rows),
                          "exercises": rows})
    pairs.sort(key=lambda p: (-p["flagged"], -p["score"], p["a"], p["b"]))
    return Result(assignment, students, exs, {**answers, **archive}, pairs, considered, scores)


# ---------------------------------------------------------------- the command
def output(course: Course, name: str) -> Path:
    return course.work / "similarity" / f"{name}.json"


def run(course: Course, name: str, source: Path | None = None, against: Path | None = None) -> Result:
    source_nb = nbformat.read(course.source(name), as_version=4)
    release_nb = release_notebook(source_nb)
    exs = exercises(source_nb)
    report = intake.IntakeReport()
    answers = read_class(course, name, source or nbgrader_dirs.submitted_root(course), report)
    archive = read_archive(against, source_nb, release_nb, exs, report) if against else {}
    result = compare(name, answers, exs, boilerplate(release_nb), archive)
    result.report = report
    return result


def save(course: Course, result: Result) -> Path:
    """<work>/similarity/<NAME>.json (the page beside it: autograde/results/similarity_page.py)."""
    path = output(course, result.assignment)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"assignment": result.assignment, "pairs": result.pairs}, indent=1))
    return path


def needs_look(course: Course, assignment: str) -> dict[str, list[str]]:
    """{student: lines} for the flagged pairs of <work>/similarity/<assignment>.json (if any)."""
    path = output(course, assignment)
    if not path.exists():
        return {}
    out = defaultdict(list)
    for p in json.loads(path.read_text())["pairs"]:
        if not p["flagged"]:
            continue
        which = ", ".join(r["exercise"] for r in p["exercises"] if r["flagged"])
        for me, other in ((p["a"], p["b"]), (p["b"], p["a"])):
            if not me.startswith(ARCHIVE):
                out[me].append(f"similar to {other} in {which} (score {p['score']:.2f}; a reason to "
                               f"look, not a verdict: similarity/{assignment}.html)")
    return dict(out)
