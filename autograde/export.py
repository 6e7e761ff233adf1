"""CSV export from the gradebook: Canvas's gradebook-import layout, plus per-question scores.

grades.csv: Student, ID, SIS User ID, SIS Login ID, Section, one column per assignment, with the
"Points Possible" row Canvas expects. grades-questions.csv: one row per student, assignment and test
cell, with the score, the maximum and whether the submission needs a look.
"""

from __future__ import annotations

import csv
from pathlib import Path

from autograde.course import Course
from autograde.gradebook import open_gradebook

CANVAS = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]


def _table(course: Course, url: str | None):
    rows, questions, possible = {}, [], {}
    with open_gradebook(url or course.gradebook_url, course) as gb:
        for assignment in gb.assignments:
            possible[assignment.name] = assignment.max_score
            for sub in gb.assignment_submissions(assignment.name):
                rows.setdefault(sub.student.id, {})[assignment.name] = sub.score
                for nb in sub.notebooks:
                    for g in sorted(nb.grades, key=lambda g: g.name):
                        questions.append([sub.student.id, assignment.name, g.name, g.score,
                                          g.max_score, "yes" if nb.flagged else ""])
    return rows, questions, possible


def export(course: Course, out: Path, url: str | None = None) -> tuple[Path, Path]:
    rows, questions, possible = _table(course, url)
    names = sorted(possible)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(CANVAS + names)
        w.writerow(["Points Possible", "", "", "", ""] + [f"{possible[n]:g}" for n in names])
        for student in sorted(rows):
            w.writerow([student, "", student, student, ""] +
                       [f"{rows[student][n]:.2f}" if n in rows[student] else "" for n in names])
    per_question = out.with_name(out.stem + "-questions.csv")
    with per_question.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["student", "assignment", "question", "score", "max_score", "needs_a_look"])
        w.writerows(sorted(questions))
    return out, per_question
