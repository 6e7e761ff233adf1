"""Grades out of the gradebook, in the layout each LMS imports (manual scores set in the formgrader
included: nbgrader's `score` takes them over the autograder's).

    python -m autograde export [--out grades.csv] [--roster canvas-export.csv] [-a lora]
    python -m autograde export --lms moodle [--roster worksheet.csv] -a lora

Canvas (Grades > Import): `grades.csv` with Student, ID, SIS User ID, SIS Login ID, Section, one
column per assignment named as Canvas names it, `Title (assignment id)`, and the "Points Possible"
row. Canvas matches a row by ID (its user id), else SIS User ID / SIS Login ID, so ID is filled
with the user id the submission came with (autograde/results/intake.py). `--roster` takes Canvas's own
gradebook export (Grades > Export): its rows give the names, SIS ids and sections, its column
headers the assignments' ids, and a student graded without a Canvas id (a JupyterHub user) is
matched by SIS Login ID, then SIS User ID. Every student that matches nobody is listed.

Moodle (Assignment > View all submissions > Grading action: Upload grading worksheet):
`grades-moodle-<assignment>.csv` with Identifier ("Participant <id>", the number in Moodle's file
names), Full name, Grade, Maximum Grade, Feedback comments; `--roster` takes the worksheet Moodle
lets you download, and fills its Grade column.

`grades-questions.csv`: one row per student, assignment and test cell: score, maximum, how it was
graded (auto / manual / pending), needs a look, late.

A submission with a cell still to be graded by hand gets no total (an empty cell, which both LMSs
leave alone) and is listed, rather than a total that counts the pending cell as 0. Every cell of
every CSV is escaped against formula injection: a text starting with = + - @ or a tab or carriage
return gets a leading ' (OWASP's advice), so a spreadsheet shows it instead of running it.
SafeCsvExportPlugin does the same for stock `nbgrader export` (nbgrader_config.py selects it).
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry
from nbgrader.plugins import ExportPlugin

from autograde.config import Course
from autograde.results import intake, nbgrader_dirs
from autograde.results.gradebook import open_gradebook

CANVAS = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
MOODLE = ["Identifier", "Full name", "Email address", "Status", "Grade", "Maximum Grade",
          "Grade can be changed", "Last modified (submission)", "Last modified (grade)",
          "Feedback comments"]
CANVAS_COLUMN = re.compile(r"^(?P<title>.*) \((?P<id>\d+)\)$")
PARTICIPANT = re.compile(r"^Participant (?P<id>\d+)$")
FORMULA = ("=", "+", "-", "@", "\t", "\r")


def safe(value) -> str:
    """A CSV cell a spreadsheet shows as text: formula-like text gets a leading quote."""
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
    with path.open(newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        return list(reader.fieldnames or []), list(reader)


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


def canvas(course: Course, out: Path, roster: Path | None = None, columns: dict | None = None,
           url: str | None = None, assignments: list[str] | None = None) -> tuple[list[Path], list[str]]:
    """grades.csv for Canvas's importer and grades-questions.csv; returns (files, notes)."""
    t = table(course, url, assignments)
    names, notes = sorted(t.possible), []
    header, people = _read_roster(roster) if roster else ([], [])
    people = [p for p in people if not (p.get("Student") or "").strip().startswith(
        ("Points Possible", "Student, Test"))]
    titles = {}
    for name in names:
        titles[name], note = _canvas_column(name, header, columns or {})
        if note:
            notes.append(note)
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
        w.writerow(["Points Possible", "", "", "", ""] + [f"{t.possible[n]:g}" for n in names])
        for student, row in sorted(t.rows.items()):
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
            w.writerow(cells + [_score(row.scores.get(n)) for n in names])
    if no_id:
        notes.append(f"unmatched: {len(no_id)} students have no Canvas user id (not from a Canvas "
                     f"download): {', '.join(no_id)}; their ID is empty: give --roster (Canvas's "
                     "gradebook export) to match them by SIS Login ID")
    for p in people:
        if id(p) not in matched:
            notes.append(f"no submission: {p.get('Student')} (ID {p.get('ID')}) in {roster.name}")
    notes += [f"pending: {k} has cells to be graded by hand; its total is left empty" for k in t.pending]
    return [out, _questions(out, t)], notes


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
           url: str | None = None) -> tuple[list[Path], list[str]]:
    """grades-moodle-<assignment>.csv for Moodle's "Upload grading worksheet"; (files, notes)."""
    t = table(course, url, [assignment])
    if assignment not in t.possible:
        raise ValueError(f"{assignment} is not in the gradebook (grade it first)")
    header, people = _read_roster(roster) if roster else (MOODLE, [])
    if "Identifier" not in header or "Grade" not in header:
        raise ValueError(f"{roster} is not a Moodle grading worksheet (no Identifier / Grade column)")
    notes, seen = [], set()
    by_id = {m["id"]: p for p in people if (m := PARTICIPANT.match(p.get("Identifier", "")))}
    for student, row in sorted(t.rows.items()):
        if student in by_id:
            person = by_id[student]
        elif roster:
            notes.append(f"unmatched: {student} ({row.name}) is not a participant in {roster.name}: "
                         "not exported")
            continue
        else:
            person = {"Identifier": f"Participant {student}", "Full name": row.name}
            people.append(person)
            if not row.lms_id:
                notes.append(f"unmatched: {student} ({row.name}) has no Moodle participant id "
                             "(not from a Moodle download)")
        person["Grade"] = _score(row.scores.get(assignment))
        person["Maximum Grade"] = f"{t.possible[assignment]:g}"
        seen.add(student)
    for sid in sorted(set(by_id) - seen):
        notes.append(f"no submission: {by_id[sid].get('Full name')} (Participant {sid})")
    notes += [f"pending: {k} has cells to be graded by hand; its grade is left empty" for k in t.pending]
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
