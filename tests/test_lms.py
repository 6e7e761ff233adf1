"""LMS downloads in, grades out: zips built the way Canvas and Moodle name their files, every student
keyed by the LMS id (two Jane Smiths stay two students), every odd entry reported, never written
outside the inbox; the CSV exports for Canvas's and Moodle's importers, escaped against formulas."""

import csv
import io
import json
import stat
import zipfile
from pathlib import Path

import pytest

from autograde.results import export, intake

NB = json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5})


def notebook(tag: str) -> str:
    """A distinct (tiny) notebook per student, so a mix-up shows."""
    return NB.replace('"cells": []', f'"cells": [{{"cell_type": "markdown", "id": "a", '
                                    f'"metadata": {{}}, "source": "{tag}"}}]')


def canvas_zip(path: Path, files: dict) -> Path:
    """Canvas's "Download Submissions": flat, lastfirst_[LATE_]userid_id_<file as uploaded>."""
    with zipfile.ZipFile(path, "w") as zf:
        for name, text in files.items():
            zf.writestr(zipfile.ZipInfo(name, date_time=(2026, 3, 2, 23, 59, 0)), text)
    return path


def test_canvas_students_are_keyed_by_user_id_and_late_is_recorded(tmp_path):
    zpath = canvas_zip(tmp_path / "submissions.zip", {
        "smithjane_12345_900001_lora.ipynb": notebook("jane 12345"),
        "smithjane_LATE_12399_900002_lora.ipynb": notebook("jane 12399"),
        "doejohn_12400_900003_lora-1.ipynb": notebook("john"),             # Canvas renamed
        "roemary_12401_900004_LoRA.ipynb": notebook("mary"),               # case differs
        "roemary_12401_900004_data.csv": "x,y\n1,2\n",                     # her data file
        "leeann_12402_900005_lora (2).ipynb": notebook("ann"),
    })
    report = intake.IntakeReport()
    subs = {s.student: s for s in intake.collect(zpath, ["lora"], tmp_path / "submitted",
                                              report=report)}
    assert sorted(subs) == ["12345", "12399", "12400", "12401", "12402"]
    assert subs["12345"].name == subs["12399"].name == "smithjane"
    assert subs["12399"].late and not subs["12345"].late
    assert all(s.lms == "canvas" and s.path.name == "lora.ipynb" for s in subs.values())
    assert "jane 12345" in subs["12345"].path.read_text()
    assert "jane 12399" in subs["12399"].path.read_text()
    assert (subs["12401"].path.parent / "data.csv").read_text() == "x,y\n1,2\n"
    assert not (subs["12345"].path.parent / "data.csv").exists()
    stamp = (subs["12345"].path.parent / "timestamp.txt").read_text()
    assert stamp.startswith("2026-03-02 23:59:00")
    meta = intake.meta(subs["12399"].path.parent)
    assert meta == {"lms": "canvas", "name": "smithjane", "late": True,
                    "handed_in": ["smithjane_LATE_12399_900002_lora.ipynb"]}
    notes = " | ".join(report.warnings)
    assert "2 students named 'smithjane' (ids 12345, 12399)" in notes
    assert "doejohn_12400_900003_lora-1.ipynb: taken as lora.ipynb (renamed by Canvas" in notes
    assert "roemary_12401_900004_LoRA.ipynb: taken as lora.ipynb (its name differs in case)" in notes
    assert report.errors == []


def test_the_later_resubmission_is_taken_and_the_earlier_one_said(tmp_path):
    zpath = canvas_zip(tmp_path / "s.zip", {"doejohn_12400_9_lora-1.ipynb": notebook("first"),
                                            "doejohn_12400_9_lora-2.ipynb": notebook("second")})
    report = intake.IntakeReport()
    [sub] = intake.collect(zpath, ["lora"], tmp_path / "submitted", report=report)
    assert "second" in sub.path.read_text()
    assert any("lora-1.ipynb: not graded" in w for w in report.warnings)


@pytest.mark.filterwarnings("ignore:Duplicate name")
def test_unsafe_and_unknown_entries_are_reported_and_never_written_outside(tmp_path):
    zpath = tmp_path / "evil.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        zf.writestr("smithjane_12345_900001_lora.ipynb", notebook("ok"))
        zf.writestr("../evil_1_2_lora.ipynb", notebook("dotdot"))
        zf.writestr("/etc/abs_1_2_lora.ipynb", notebook("absolute"))
        zf.writestr(".._2_lora.ipynb", notebook("dots as a name"))
        zf.writestr("readme.txt", "hello")
        zf.writestr("smithjane_12345_900001_notes.ipynb", notebook("not an assignment"))
        link = zipfile.ZipInfo("linky_7_8_lora.ipynb")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(link, "/etc/passwd")
        zf.writestr("dup_5_6_lora.ipynb", notebook("one"))
        zf.writestr("dup_5_6_lora.ipynb", notebook("two"))          # zip allows a name twice
    report = intake.IntakeReport()
    dest = tmp_path / "course" / "submitted"
    subs = intake.collect(zpath, ["lora"], dest, report=report)
    assert [s.student for s in subs] == ["12345"]
    errors = "\n".join(report.errors)
    assert "'../evil_1_2_lora.ipynb' is a path with '..'" in errors
    assert "'/etc/abs_1_2_lora.ipynb' is an absolute path" in errors
    assert "'linky_7_8_lora.ipynb' is a symbolic link" in errors
    assert "'dup_5_6_lora.ipynb' appears 2 times" in errors
    assert "'.._2_lora.ipynb': not named as Canvas or Moodle" in errors
    assert "'readme.txt': not named as Canvas or Moodle" in errors
    assert "smithjane_12345_900001_notes.ipynb: matches no assignment (expected lora.ipynb)" in errors
    written = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    assert written == ["course/submitted/12345/lora/lms.json", "course/submitted/12345/lora/lora.ipynb",
                       "course/submitted/12345/lora/timestamp.txt", "evil.zip"]


def test_moodle_folders_and_flat_files_give_participant_ids(tmp_path):
    zpath = tmp_path / "moodle.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        zf.writestr("Jane Smith_12345_assignsubmission_file_/lora.ipynb", notebook("jane a"))
        zf.writestr("Jane Smith_12399_assignsubmission_file_/lora.ipynb", notebook("jane b"))
        zf.writestr("Jane Smith_12399_assignsubmission_onlinetext_/onlinetext.html", "<p>hi</p>")
        zf.writestr("Ann Lee_12402_assignsubmission_file_lora.ipynb", notebook("ann"))
    subs = {s.student: s for s in intake.collect(zpath, ["lora"], tmp_path / "submitted")}
    assert sorted(subs) == ["12345", "12399", "12402"]
    assert subs["12345"].name == "Jane Smith" and subs["12402"].name == "Ann Lee"
    assert {s.lms for s in subs.values()} == {"moodle"}
    assert "jane b" in subs["12399"].path.read_text()


def test_a_student_id_that_is_a_formula_or_a_path_is_refused(tmp_path):
    inbox = tmp_path / "inbox"
    for student in ("alice", "=HYPERLINK(1)", "-bob", "..hidden"):
        (inbox / student).mkdir(parents=True)
        (inbox / student / "lora.ipynb").write_text(notebook(student))
    report = intake.IntakeReport()
    subs = intake.collect(inbox, ["lora"], tmp_path / "submitted", report=report)
    assert [s.student for s in subs] == ["alice"]
    assert sum("is not a valid student id" in e for e in report.errors) == 3
    assert any("'=HYPERLINK(1)' is not a valid student id" in e for e in report.errors)


def test_nothing_found_is_an_error_that_says_what_was_expected(tmp_path):
    empty = canvas_zip(tmp_path / "empty.zip", {"readme.txt": "no notebooks here"})
    with pytest.raises(intake.NothingFound, match="(?s)no submission of lora in .*empty.zip.*Canvas.*"
                                               "Moodle.*found:.*readme.txt"):
        intake.collect(empty, ["lora"], tmp_path / "submitted")
    (tmp_path / "folder").mkdir()
    with pytest.raises(intake.NothingFound, match="it is empty"):
        intake.collect(tmp_path / "folder", ["lora"], tmp_path / "submitted")
    with pytest.raises(intake.NothingFound, match="does not exist"):
        intake.collect(tmp_path / "nope", ["lora"], tmp_path / "submitted")


def test_nbgrader_submitted_folders_are_read_in_place_with_their_timestamps(tmp_path):
    submitted = tmp_path / "submitted"
    folder = submitted / "student1" / "lora"
    folder.mkdir(parents=True)
    (folder / "lora.ipynb").write_text(notebook("hub"))
    (folder / "timestamp.txt").write_text("2026-03-01 10:00:00.000000 UTC")
    (folder / "submission_secret.txt").write_text("s3cret")
    [sub] = intake.collect(submitted, ["lora"], submitted)
    assert sub.path == folder / "lora.ipynb" and sub.student == "student1" and not sub.late
    assert not (folder / "lms.json").exists()                 # in place: nothing added
    assert (folder / "timestamp.txt").read_text() == "2026-03-01 10:00:00.000000 UTC"
    by_hand = submitted / "student2" / "lora"                  # put there by hand: gets a timestamp
    by_hand.mkdir(parents=True)
    (by_hand / "lora.ipynb").write_text(notebook("copied"))
    intake.collect(submitted, ["lora"], submitted)
    assert (by_hand / "timestamp.txt").read_text().endswith("UTC")
    other = tmp_path / "course" / "submitted"                  # copied: timestamp and secret travel
    sub = {s.student: s for s in intake.collect(submitted, ["lora"], other)}["student1"]
    assert (sub.path.parent / "timestamp.txt").read_text() == "2026-03-01 10:00:00.000000 UTC"
    assert (sub.path.parent / "submission_secret.txt").read_text() == "s3cret"


def test_a_changed_resubmission_replaces_the_earlier_one_and_says_so(tmp_path):
    dest = tmp_path / "submitted"
    intake.collect(canvas_zip(tmp_path / "a.zip", {"doejohn_1_2_lora.ipynb": notebook("v1")}),
                ["lora"], dest)
    stamp = (dest / "1" / "lora" / "timestamp.txt").read_text()
    report = intake.IntakeReport()
    intake.collect(canvas_zip(tmp_path / "a.zip", {"doejohn_1_2_lora.ipynb": notebook("v1")}),
                ["lora"], dest, report=report)
    assert report.warnings == [] and (dest / "1" / "lora" / "timestamp.txt").read_text() == stamp
    intake.collect(canvas_zip(tmp_path / "b.zip", {"doejohn_1_3_lora.ipynb": notebook("v2")}),
                ["lora"], dest, report=report)
    assert any("replaces the earlier submission" in w for w in report.warnings)
    assert "v2" in (dest / "1" / "lora" / "lora.ipynb").read_text()


def test_find_keeps_reading_student_folders_in_place(tmp_path):
    for student, name in (("alice", "toy.ipynb"), ("bob", "toy.ipynb")):
        (tmp_path / student).mkdir()
        (tmp_path / student / name).write_text(NB)
    found = {s.student: s.path for s in intake.find(tmp_path, ["toy"])}
    assert found == {"alice": tmp_path / "alice" / "toy.ipynb", "bob": tmp_path / "bob" / "toy.ipynb"}


def test_a_folder_with_other_notebooks_is_graded_by_the_matching_name_only(tmp_path):
    (tmp_path / "carol").mkdir()
    for name in ("toy.ipynb", "scratch.ipynb", "lora.ipynb"):
        (tmp_path / "carol" / name).write_text(NB)
    (tmp_path / "dave").mkdir()
    (tmp_path / "dave" / "my_homework.ipynb").write_text(NB)       # the only one, misnamed
    report = intake.IntakeReport()
    found = {(s.student, s.path.name) for s in intake.find(tmp_path, ["toy"], report)}
    assert ("carol", "toy.ipynb") in found and not {n for s, n in found if s == "carol"} - {"toy.ipynb"}
    said = "\n".join(report.lines())
    assert "scratch.ipynb" in said                       # what was not graded is reported
    assert "my_homework.ipynb" in said                   # never graded silently as toy


# ----------------------------------------------------------------------------- exports
def graded_class(tmp_path: Path):
    """A toy course whose gradebook holds three students: two from a Canvas zip, one hub user."""
    import toycourse

    from autograde.config import Course
    from autograde.results import gradebook, nbgrader_dirs
    toycourse.make_course(tmp_path)
    course = Course(solutions=tmp_path / "solutions", notebooks=tmp_path / "notebooks",
                    work=tmp_path / ".grading")
    submitted = nbgrader_dirs.submitted_root(course)
    intake.collect(canvas_zip(tmp_path / "c.zip", {"smithjane_12345_1_toy.ipynb": NB,
                                                "smithjane_LATE_12399_2_toy.ipynb": NB}),
                ["toy"], submitted)
    (tmp_path / "hub" / "hubuser").mkdir(parents=True)
    (tmp_path / "hub" / "hubuser" / "toy.ipynb").write_text(NB)
    intake.collect(tmp_path / "hub", ["toy"], submitted)

    def result(student, score):
        return {"student": student, "assignment": "toy", "submission_sha256": "0" * 64,
                "score": score, "max_score": 5.0, "needs_look": [],
                "tests": [{"id": "test_softmax", "points": 2.0, "score": score - 3.0, "lines": []},
                          {"id": "test_scaled_sum", "points": 1.0, "score": 1.0, "lines": []},
                          {"id": "test_scaled_linear", "points": 2.0, "score": 2.0, "lines": []}]}
    gradebook.sync(course, [result("12345", 5.0), result("12399", 3.0), result("hubuser", 4.5)])
    return course


CANVAS_EXPORT = """Student,ID,SIS User ID,SIS Login ID,Section,Toy (4321),Quiz 1 (99)
    Points Possible,,,,,5.00,10.00
"Smith, Jane",12345,S001,jsmith,Sec 1,,
"Smith, Jane",12399,S002,jsmith2,Sec 1,,
"Doe, John",12500,S003,hubuser,Sec 2,,
"Lee, Ann",12600,S004,alee,Sec 2,,
"""


def test_canvas_export_fills_id_uses_the_roster_and_lists_the_unmatched(tmp_path):
    course = graded_class(tmp_path)
    (tmp_path / "roster.csv").write_text(CANVAS_EXPORT)
    paths, notes = export.canvas(course, tmp_path / "grades.csv", tmp_path / "roster.csv")
    rows = list(csv.reader(paths[0].open()))
    assert rows[0] == export.CANVAS + ["Toy (4321)"]                 # Canvas's Title (id)
    assert rows[1] == ["Points Possible", "", "", "", "", "5"]
    assert rows[2:] == [["Smith, Jane", "12345", "S001", "jsmith", "Sec 1", "5.00"],
                        ["Smith, Jane", "12399", "S002", "jsmith2", "Sec 1", "3.00"],
                        ["Doe, John", "12500", "S003", "hubuser", "Sec 2", "4.50"]]   # by login
    assert notes == ["no submission: Lee, Ann (ID 12600) in roster.csv"]
    late = {r[0]: r[6] for r in csv.reader(paths[1].open()) if r[2] == "test_softmax"}
    assert late == {"12345": "", "12399": "yes", "hubuser": ""}


def test_canvas_export_without_a_roster_says_what_canvas_will_do(tmp_path):
    course = graded_class(tmp_path)
    paths, notes = export.canvas(course, tmp_path / "grades.csv")
    rows = list(csv.reader(paths[0].open()))
    assert rows[0][5] == "toy" and [r[1] for r in rows[2:]] == ["12345", "12399", ""]
    assert any("no roster: the column is titled 'toy'" in n for n in notes)
    assert any("unmatched: 1 students have no Canvas user id" in n and "hubuser" in n for n in notes)
    paths, notes = export.canvas(course, tmp_path / "grades.csv", columns={"toy": "Toy (4321)"})
    assert list(csv.reader(paths[0].open()))[0][5] == "Toy (4321)"


MOODLE_WORKSHEET = """\
Identifier,Full name,Email address,Status,Grade,Maximum Grade,Grade can be changed,\
Last modified (submission),Last modified (grade),Feedback comments
Participant 12345,Jane Smith,jane@example.org,Submitted for grading,,5.00,Yes,"Monday, 2 March 2026, 11:59 PM",-,
Participant 12777,Ann Lee,ann@example.org,No submission,,5.00,Yes,-,-,
"""


def test_moodle_worksheet_gets_its_grade_column_filled(tmp_path):
    course = graded_class(tmp_path)
    (tmp_path / "worksheet.csv").write_text(MOODLE_WORKSHEET)
    paths, notes = export.moodle(course, tmp_path / "grades.csv", "toy", tmp_path / "worksheet.csv")
    rows = list(csv.DictReader(paths[0].open()))
    assert [(r["Identifier"], r["Grade"]) for r in rows] == [("Participant 12345", "5.00"),
                                                            ("Participant 12777", "")]
    assert rows[0]["Email address"] == "jane@example.org"            # the worksheet's own columns
    assert sorted(notes) == ["no submission: Ann Lee (Participant 12777)",
                             "unmatched: 12399 (smithjane) is not a participant in worksheet.csv: "
                             "not exported",
                             "unmatched: hubuser (hubuser) is not a participant in worksheet.csv: "
                             "not exported"]


def test_every_csv_cell_is_escaped_against_formulas(tmp_path):
    out = io.StringIO()
    export.writer(out).writerow(["=HYPERLINK(\"x\")", "+1", "-2", "@SUM(A1)", "\tx", "plain", 4.5, None])
    assert next(csv.reader(io.StringIO(out.getvalue()))) == [
        "'=HYPERLINK(\"x\")", "'+1", "'-2", "'@SUM(A1)", "'\tx", "plain", "4.5", ""]
