"""Grades out of the gradebook, in the layout each LMS imports (manual scores set in the formgrader
included: nbgrader's `score` takes them over the autograder's).

    python -m autograde export [--out grades.csv] [--roster canvas-export.csv] [-a lora]
    python -m autograde export --lms moodle [--roster worksheet.csv] -a lora
    ... [--points lora=100]      the LMS's points possible, where no roster says it

Canvas (Grades > Import; canvas-lms app/models/gradebook_importer.rb): `grades.csv` with Student, ID,
SIS User ID, SIS Login ID, Section, one column per assignment named as Canvas names it, `Title
(assignment id)`, and the "Points Possible" row. Canvas matches a row by ID (its user id), else SIS
User ID / SIS Login ID, so ID is filled with the user id the submission came with (autograde/results/intake.py).
`--roster` takes Canvas's own gradebook export (Grades > Export): its rows give the names, SIS ids and
sections, its column headers the assignments' ids, its "Points Possible" row each column's points,
and a student graded without a Canvas id (a JupyterHub user) is matched by SIS Login ID, then SIS
User ID. Every student that matches nobody is listed. A student of an anonymous assignment (Canvas's
anonymous id, `anon_...`) cannot be matched by the importer and is listed, not exported.

Moodle (Assignment > View all submissions > Grading action: Upload grading worksheet;
mod/assign/feedback/offline/importgradeslib.php and locallib.php): the importer needs Identifier
("Participant <id>", the number in Moodle's file names), Grade and "Last modified (grade)"; it skips
a row whose grade Moodle changed more than a minute after that time, and it overwrites "Feedback
comments" with whatever the column holds. `--roster` takes the worksheet Moodle lets you download
and fills its Grade column only: every other cell ("Last modified (grade)", "Feedback comments", a "-"
placeholder) goes back exactly as Moodle wrote it, so Moodle keeps a grade changed there since the
download and every comment. Without a worksheet: Identifier, Full name, Grade, Maximum Grade and
"Last modified (grade)" as the export's time (ISO 8601, which Moodle's strtotime reads), and no
comment column, so no comment is touched.

Points: a score goes to the LMS on the LMS's scale. Where the roster's "Points Possible" (Canvas) or
"Maximum Grade" (Moodle), or `--points NAME=P`, differs from the autograder's maximum, every total is
rescaled (score x P / maximum) and a note says so; a column Canvas marks read only, or a Moodle
worksheet graded with a scale, is refused with an error. `grades-questions.csv` keeps raw points: one
row per student, assignment and test cell: score, maximum, how it was graded (auto / manual /
pending), needs a look, late.

A submission with a cell still to be graded by hand gets no total and is listed: with a roster its
cell is the LMS's own, sent back unchanged; without one the cell is empty (Canvas) or the row left
out (Moodle). Cells the project writes are escaped against formula injection: a text starting with
= + - @ or a tab or carriage return gets a leading ' (OWASP's advice), so a spreadsheet shows it
instead of running it; cells copied from the LMS's own file go back unchanged (escaping them would
change Moodle's "-" and every comment starting with "-"). SafeCsvExportPlugin does the same for stock
`nbgrader export` (nbgrader_config.py selects it).
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry
from nbgrader.plugins import ExportPlugin

from autograde.config import Course
from autograde.results import intake, nbgrader_dirs
from autograde.results.gradebook import open_gradebook

CANVAS = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
MOODLE = ["Identifier", "Full name", "Grade", "Maximum Grade", "Last modified (grade)"]
MOODLE_NEEDS = ["Identifier", "Grade", "Last modified (grade)"]       # importgradeslib.php init()
CANVAS_COLUMN = re.compile(r"^(?P<title>.*) \((?P<id>\d+)\)$")
PARTICIPANT = re.compile(r"(?P<id>\d+)\s*$")          # "Participant 12345", in any language
FORMULA = ("=", "+", "-", "@", "\t", "\r")


class Raw(str):
    """A cell copied from the LMS's own file: written back exactly as it came."""


def safe(value) -> str:
    """A CSV cell a spreadsheet shows as text: formula-like text the project writes gets a leading
    quote; a Raw cell (the LMS's own) is left as it is."""
    if isinstance(value, Raw):
        return str(value)
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA) else text


def writer(f):
    w = csv.writer(f)

    class Safe:
        def writerow(self, row):
            w.writerow([safe(v) for v in row])

        def writerows(self, rows):
            for row in rows:
                self.writerow(row)
    return Safe()


def number(text: str | None) -> float | None:
    """A number as an LMS writes it ("100", "100.00", "100,00", " 8 "), else None."""
    text = (text or "").strip().replace(" ", "")
    if re.fullmatch(r"\d+([.,]\d+)?", text):
        return float(text.replace(",", "."))
    return None


@dataclass
class Scale:
    """How an assignment's totals go to the LMS: out of `points` (the LMS's), from `maximum` (ours)."""
    name: str
    maximum: float
    points: float
    source: str                                   # where `points` comes from, for the note

    def __call__(self, score: float) -> float:
        return score * self.points / self.maximum if self.maximum else 0.0

    def note(self) -> str | None:
        if abs(self.points - self.maximum) < 1e-9:
            return None
        return (f"rescaled: {self.name} totals are out of {self.points:g} ({self.source}), not the "
                f"autograder's {self.maximum:g}: each is score x {self.points:g} / {self.maximum:g}; "
                f"grades-questions.csv keeps raw points")


def scale_for(name: str, maximum: float, given: dict, lms_cell: str | None, where: str) -> Scale:
    """The scale of one assignment: --points first, then the LMS's own file, else the autograder's."""
    if name in given:
        return Scale(name, maximum, float(given[name]), f"--points {name}={given[name]:g}")
    if lms_cell is None:
        return Scale(name, maximum, maximum, "the autograder's maximum")
    points = number(lms_cell)
    if points is None or points <= 0:
        raise ValueError(f"{where} gives {name} the points possible {lms_cell.strip()!r}, not a number of "
                         f"points: the grades would not import on its scale; give --points {name}=P")
    return Scale(name, maximum, points, where)


@dataclass
class Row:
    student: str
    name: str
    lms_id: str
    scores: dict = field(default_factory=dict)          # assignment -> total, or None if pending
    late: dict = field(default_factory=dict)            # assignment -> bool


@dataclass
class Table:
    rows: dict                                          # student id -> Row
    possible: dict                                      # assignment -> max score
    questions: list                                     # per-question rows
    pending: list                                       # "student/assignment" with manual cells left


def table(course: Course, url: str | None = None, assignments: list[str] | None = None) -> Table:
    rows, questions, possible, pending = {}, [], {}, []
    with open_gradebook(url or course.gradebook_url, course) as gb:
        for assignment in gb.assignments:
            if assignments and assignment.name not in assignments:
                continue
            possible[assignment.name] = assignment.max_score
            for sub in gb.assignment_submissions(assignment.name):
                s = sub.student
                row = rows.setdefault(s.id, Row(s.id, s.last_name or s.id, s.lms_user_id or ""))
                late = bool(intake.meta(nbgrader_dirs.folder(course, "submitted", s.id,
                                                            assignment.name)).get("late"))
                waiting = False
                for nb in sub.notebooks:
                    for g in sorted(nb.grades, key=lambda g: g.name):
                        how = ("manual" if g.manual_score is not None else
                               "pending" if g.needs_manual_grade else "auto")
                        waiting |= how == "pending"
                        questions.append([s.id, assignment.name, g.name,
                                          "" if how == "pending" else f"{g.score:.2f}",
                                          f"{g.max_score:g}", "yes" if nb.flagged else "",
                                          "yes" if late else "", how, row.name])
                row.scores[assignment.name] = None if waiting else sub.score
                row.late[assignment.name] = late
                if waiting:
                    pending.append(f"{s.id}/{assignment.name}")
    return Table(rows, possible, questions, pending)


def _read_roster(path: Path) -> tuple[list[str], list[dict]]:
    """The LMS's own CSV: its header and rows, every cell marked Raw (sent back as it came)."""
    with path.open(newline="", encoding="utf-8-sig") as f:
        text = f.read()
    first = text.split("\n", 1)[0]
    reader = csv.DictReader(text.splitlines(keepends=True),
                            delimiter=";" if first.count(";") > first.count(",") else ",")
    rows = [{k: Raw(v) for k, v in row.items() if isinstance(k, str) and isinstance(v, str)}
            for row in reader]
    return [Raw(h) for h in reader.fieldnames or []], rows


def _canvas_column(name: str, header: list[str], given: dict) -> tuple[str, str | None]:
    """The roster's column for an assignment (Title (id)), or a bare title with a note."""
    if name in given:
        return given[name], None
    norm = re.sub(r"[^a-z0-9]", "", name.lower())
    found = [h for h in header if (m := CANVAS_COLUMN.match(h)) and
             re.sub(r"[^a-z0-9]", "", m["title"].lower()) == norm]
    if len(found) == 1:
        return found[0], None
    why = (f"several roster columns match {name}: {found}" if found else
           f"no column of the roster is titled {name!r} (Canvas's 'Title (id)')") if header else \
          f"no roster: the column is titled {name!r}, which Canvas matches by exact title or adds"
    return name, f"{why}; give --column {name}='Title (id)'"


def _not_a_student(row: dict) -> bool:
    """Rows of Canvas's export that are no student: Points Possible, the test student, and the
    muted / manual-posting marker row (gradebook_importer.rb check_for_non_student_row)."""
    first = (row.get("Student") or "").strip()
    if first.startswith(("Points Possible", "Student, Test")):
        return True
    return all(re.fullmatch(r"\s*(Muted|Manual Posting.*)?\s*", v or "", re.I) for v in row.values())


def canvas(course: Course, out: Path, roster: Path | None = None, columns: dict | None = None,
           url: str | None = None, assignments: list[str] | None = None,
           points: dict | None = None) -> tuple[list[Path], list[str]]:
    """grades.csv for Canvas's importer and grades-questions.csv; returns (files, notes)."""
    t = table(course, url, assignments)
    names, notes = sorted(t.possible), []
    header, people = _read_roster(roster) if roster else ([], [])
    possible = next((p for p in people if (p.get("Student") or "").strip().startswith("Points Possible")),
                    None)
    people = [p for p in people if not _not_a_student(p)]
    titles, scales = {}, {}
    for name in names:
        titles[name], note = _canvas_column(name, header, columns or {})
        if note:
            notes.append(note)
        cell = possible.get(titles[name]) if possible is not None and titles[name] in header else None
        if cell is not None and re.search(r"read\s*only", cell, re.I):
            raise ValueError(f"{roster.name}: Canvas marks the column {titles[name]!r} read only "
                             f"({cell.strip()!r}), and its importer skips such a column")
        scales[name] = scale_for(name, t.possible[name], points or {}, cell,
                                 f"{roster.name if roster else ''}'s Points Possible")
        notes += [n for n in [scales[name].note()] if n]
    by_key = {}
    for p in people:
        for key in ("ID", "SIS Login ID", "SIS User ID"):
            if p.get(key):
                by_key.setdefault((key, p[key]), p)
    out.parent.mkdir(parents=True, exist_ok=True)
    matched, no_id = set(), []
    with out.open("w", newline="") as f:
        w = writer(f)
        w.writerow(CANVAS + [titles[n] for n in names])
        w.writerow(["Points Possible", "", "", "", ""] +
                   [possible[titles[n]] if possible is not None and titles[n] in possible
                    else f"{scales[n].points:g}" for n in names])
        for student, row in sorted(t.rows.items()):
            if student.startswith("anon_"):
                notes.append(f"anonymous: {student} is Canvas's anonymous id, which its gradebook "
                             "import cannot match: not exported (once Canvas shows the names, a new "
                             "download gives their user ids)")
                continue
            person = None
            if roster:
                keys = ([("ID", row.lms_id)] if row.lms_id else []) + \
                       [("SIS Login ID", student), ("SIS User ID", student)]
                person = next((by_key[k] for k in keys if k in by_key), None)
                if person is None:
                    notes.append(f"unmatched: {student} ({row.name}) is in no row of {roster.name}: "
                                 "not exported")
                    continue
                matched.add(id(person))
            elif not row.lms_id:
                no_id.append(student)
            cells = [person.get(k, "") for k in CANVAS] if person else [row.name, row.lms_id, "", "", ""]
            w.writerow(cells + [_total(row.scores.get(n), scales[n], person, titles[n]) for n in names])
    if no_id:
        notes.append(f"unmatched: {len(no_id)} students have no Canvas user id (not from a Canvas "
                     f"download): {', '.join(no_id)}; their ID is empty: give --roster (Canvas's "
                     "gradebook export) to match them by SIS Login ID")
    for p in people:
        if id(p) not in matched:
            notes.append(f"no submission: {p.get('Student')} (ID {p.get('ID')}) in {roster.name}")
    how = "the LMS's own cell is sent back" if roster else "its total is left empty"
    notes += [f"pending: {k} has cells to be graded by hand; {how}" for k in t.pending]
    return [out, _questions(out, t)], notes


def _total(score, scale: Scale, person: dict | None, column: str) -> str:
    """A total on the LMS's scale; a pending one is the LMS's own cell (or empty without one)."""
    if score is None:
        return person.get(column, Raw("")) if person else ""
    return f"{scale(score):.2f}"


def _score(value) -> str:
    return "" if value is None else f"{value:.2f}"


def _questions(out: Path, t: Table) -> Path:
    path = out.with_name(out.stem + "-questions.csv")
    with path.open("w", newline="") as f:
        w = writer(f)
        w.writerow(["student", "assignment", "question", "score", "max_score", "needs_a_look", "late",
                    "graded", "name"])
        w.writerows(sorted(t.questions))
    return path


def moodle(course: Course, out: Path, assignment: str, roster: Path | None = None,
           url: str | None = None, points: dict | None = None) -> tuple[list[Path], list[str]]:
    """grades-moodle-<assignment>.csv for Moodle's "Upload grading worksheet"; (files, notes)."""
    t = table(course, url, [assignment])
    if assignment not in t.possible:
        raise ValueError(f"{assignment} is not in the gradebook (grade it first)")
    notes, seen = [], set()
    if roster:
        header, people = _read_roster(roster)
        missing = [c for c in MOODLE_NEEDS if c not in header]
        if missing:
            raise ValueError(f"{roster} is not a Moodle grading worksheet: it has no "
                             f"{', '.join(repr(c) for c in missing)} column (Moodle's importer needs "
                             f"{', '.join(MOODLE_NEEDS)})")
        if "Maximum Grade" not in header:
            raise ValueError(f"{roster} has no 'Maximum Grade' column: this Moodle assignment is graded "
                             "with a scale (or the file is not Moodle's worksheet); the export writes points")
        cells = {p.get("Maximum Grade", "").strip() for p in people} - {""}
        if len(cells) > 1:
            raise ValueError(f"{roster} gives several Maximum Grades: {sorted(cells)}")
        scale = scale_for(assignment, t.possible[assignment], points or {},
                          cells.pop() if cells else None, f"{roster.name}'s Maximum Grade")
        by_id = {}
        for p in people:
            m = PARTICIPANT.search(p.get("Identifier", ""))
            if m:
                by_id.setdefault(m["id"], p)
        for student, row in sorted(t.rows.items()):
            if student not in by_id:
                notes.append(f"unmatched: {student} ({row.name}) is not a participant in "
                             f"{roster.name}: not exported")
                continue
            seen.add(student)
            if row.scores.get(assignment) is not None:
                by_id[student]["Grade"] = f"{scale(row.scores[assignment]):.2f}"
        for sid in sorted(set(by_id) - seen):
            notes.append(f"no submission: {by_id[sid].get('Full name')} ({by_id[sid].get('Identifier')}): "
                         "its row goes back unchanged")
    else:
        header, people = MOODLE, []
        scale = scale_for(assignment, t.possible[assignment], points or {}, None, "")
        now = datetime.now(timezone.utc).isoformat(timespec="seconds")
        for student, row in sorted(t.rows.items()):
            if not student.isdigit():
                notes.append(f"unmatched: {student} ({row.name}) has no Moodle participant id (not "
                             "from a Moodle download): not exported")
            elif row.scores.get(assignment) is not None:
                people.append({"Identifier": f"Participant {student}", "Full name": row.name,
                               "Grade": f"{scale(row.scores[assignment]):.2f}",
                               "Maximum Grade": f"{scale.points:g}", "Last modified (grade)": now})
        notes.append("no worksheet: 'Last modified (grade)' is this export's time, so Moodle applies "
                     "these grades over any it holds, and no comment column is written, so no comment "
                     "changes; the Identifier is English ('Participant <id>'), which a Moodle in "
                     "another language reads wrongly; give --roster (the worksheet Moodle lets you "
                     "download) to keep grades changed in Moodle since and its own labels")
    notes += [n for n in [scale.note()] if n]
    how = "its row keeps the worksheet's grade" if roster else "its row is left out"
    notes += [f"pending: {k} has cells to be graded by hand; {how}" for k in t.pending]
    path = out.with_name(f"grades-moodle-{assignment}.csv")
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        w = writer(f)
        w.writerow(header)
        w.writerows([[p.get(k, "") for k in header] for p in people])
    return [path, _questions(out, t)], notes


def export(course: Course, out: Path, url: str | None = None) -> tuple[Path, Path]:
    """Canvas layout without a roster (the demo's call); the notes are printed."""
    paths, notes = canvas(course, out, url=url)
    for note in notes:
        print(f"note: {note}")
    return paths[0], paths[1]


class SafeCsvExportPlugin(ExportPlugin):
    """Stock `nbgrader export`'s CSV (same columns as nbgrader's CsvExportPlugin), quoted and
    escaped against formula injection."""

    def export(self, gradebook: Gradebook) -> None:
        keys = ["assignment", "duedate", "timestamp", "student_id", "last_name", "first_name",
                "email", "raw_score", "late_submission_penalty", "score", "max_score"]
        with open(self.to or "grades.csv", "w", newline="") as fh:
            w = writer(fh)
            w.writerow(keys)
            for assignment in gradebook.assignments:
                if self.assignment and assignment.name not in self.assignment:
                    continue
                for student in gradebook.students:
                    if self.student and student.id not in self.student:
                        continue
                    try:
                        sub = gradebook.find_submission(assignment.name, student.id)
                        done = [sub.timestamp, sub.score, sub.late_submission_penalty,
                                max(0.0, sub.score - sub.late_submission_penalty)]
                    except MissingEntry:
                        done = ["", 0.0, 0.0, 0.0]
                    w.writerow([assignment.name, assignment.duedate or "", done[0] or "", student.id,
                                student.last_name or "", student.first_name or "",
                                student.email or "", *done[1:], assignment.max_score])
