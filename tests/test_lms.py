"""LMS downloads in, grades out: zips built the way Canvas and Moodle name their files (each helper
below follows the LMS's own code, cited), every student keyed by the LMS id (two Jane Smiths stay two
students), every odd entry reported, never written outside the inbox, every hostile zip costing
only its own entries; the CSV exports for Canvas's and Moodle's importers."""

import csv
import io
import json
import re
import stat
import struct
import time
import zipfile
from pathlib import Path

import pytest

from autograde.results import export, intake, nbgrader_dirs

NB = json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5})
DOWNLOADED = (2026, 3, 10, 9, 0, 0)        # both zippers stamp every entry with the download time


def notebook(tag: str) -> str:
    """A distinct (tiny) notebook per student, so a mix-up shows."""
    return NB.replace('"cells": []', f'"cells": [{{"cell_type": "markdown", "id": "a", '
                                    f'"metadata": {{}}, "source": "{tag}"}}]')


# ----------------------------------------------------------------------------- the LMSs' names
def canvas_name(sortable: str | None, user_id: int, file_id: int, display: str, late=False,
                anonymous_id: str | None = None) -> str:
    """canvas-lms lib/content_zipper.rb: get_filename (sanitize_user_name, then every non-word
    character removed), then add_upload_submission's `<filename>_<file id>_<display name>` with
    sanitize_attachment_filename. Anonymous grading: no name, `anon_<anonymous id>` for the id."""
    name = None
    if anonymous_id is None:
        name = re.sub(r"_(\d+)_", r"\1", sortable).lower()
    who = f"anon_{anonymous_id}" if anonymous_id else str(user_id)
    prefix = re.sub(r"[^\w]", "", "_".join(p for p in [name, "LATE" if late else None, who] if p is not None))
    display = re.sub(r'[\x00/\\:*?"<>|]+', "_", display)
    return f"{prefix}_{file_id}_{display}"


def moodle_path(fullname: str, participant: int, file: str, version: str = "4.1",
                blind: bool = False) -> str:
    """Moodle's "Download all submissions": the prefix is the full name (or "Participant" under
    blind marking) with every _ made a space, then _<participant id> (downloader.php
    get_student_prefix; locallib.php before 4.1), then per version: 4.1+ folders
    `<prefix>_assignsubmission_file/<file>` (downloader.php, its test downloader_test.php);
    3.1-4.0 folders `<prefix>_assignsubmission_file_/<file>`; "download as files" and before 3.1
    `<prefix>_assignsubmission_file_<file>`. clean_filename drops characters such as / : * ? " < > |."""
    name = re.sub(r'[\x00-\x1f"*/:<>?\\|]', "", ("Participant" if blind else fullname).replace("_", " "))
    prefix = f"{name}_{participant}_assignsubmission_file"
    return {"4.1": f"{prefix}/{file}", "3.1": f"{prefix}_/{file}", "flat": f"{prefix}_{file}"}[version]


def lms_zip(path: Path, files: dict) -> Path:
    """A zip as the LMS streams it: every entry stamped with the time of the download."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, text in files.items():
            zf.writestr(zipfile.ZipInfo(name, date_time=DOWNLOADED), text)
    return path


canvas_zip = lms_zip


def test_the_helpers_give_the_names_the_lms_code_gives():
    """The examples of the LMSs' own code and tests, through the helpers above."""
    assert canvas_name("Smith, Jane", 12345, 900001, "lora.ipynb") == "smithjane_12345_900001_lora.ipynb"
    assert canvas_name("Smith, Jane", 12345, 9, "lora.ipynb", late=True) == "smithjane_LATE_12345_9_lora.ipynb"
    assert canvas_name("Lee_42_, Ann", 7, 8, "a:b.ipynb") == "lee42ann_7_8_a_b.ipynb"
    assert canvas_name(None, 0, 900004, "lora.ipynb", late=True, anonymous_id="Ab3dE") == \
        "LATE_anon_Ab3dE_900004_lora.ipynb"
    assert moodle_path("Jane_Smith", 1840021, "lora.ipynb") == \
        "Jane Smith_1840021_assignsubmission_file/lora.ipynb"
    assert moodle_path("x", 1840025, "lora.ipynb", blind=True) == \
        "Participant_1840025_assignsubmission_file/lora.ipynb"
    assert moodle_path("Jane Smith", 5, "lora.ipynb", "flat") == "Jane Smith_5_assignsubmission_file_lora.ipynb"


def test_canvas_students_are_keyed_by_user_id_and_late_is_recorded(tmp_path):
    zpath = canvas_zip(tmp_path / "submissions.zip", {
        canvas_name("Smith, Jane", 12345, 900001, "lora.ipynb"): notebook("jane 12345"),
        canvas_name("Smith, Jane", 12399, 900002, "lora.ipynb", late=True): notebook("jane 12399"),
        canvas_name("Doe, John", 12400, 900003, "lora-1.ipynb"): notebook("john"),   # Canvas renamed
        canvas_name("Roe, Mary", 12401, 900004, "LoRA.ipynb"): notebook("mary"),      # case differs
        canvas_name("Roe, Mary", 12401, 900005, "data.csv"): "x,y\n1,2\n",          # her data file
        canvas_name("Lee, Ann", 12402, 900006, "lora (2).ipynb"): notebook("ann"),
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
    # the zip's entry times are the download's, not the submission's: no timestamp.txt is made up
    assert not (subs["12345"].path.parent / "timestamp.txt").exists()
    assert re.fullmatch(r"[0-9a-f]{128}", (subs["12345"].path.parent / "submission_secret.txt").read_text())
    meta = intake.meta(subs["12399"].path.parent)
    assert meta == {"lms": "canvas", "name": "smithjane", "late": True,
                    "handed_in": ["smithjane_LATE_12399_900002_lora.ipynb"]}
    notes = " | ".join(report.warnings)
    assert "2 students named 'smithjane' (ids 12345, 12399)" in notes
    assert "doejohn_12400_900003_lora-1.ipynb: taken as lora.ipynb (renamed by Canvas" in notes
    assert "roemary_12401_900004_LoRA.ipynb: taken as lora.ipynb (its name differs in case)" in notes
    assert report.errors == []


def test_canvas_anonymous_grading_underscores_in_names_and_text_entries(tmp_path):
    zpath = canvas_zip(tmp_path / "anon.zip", {
        canvas_name(None, 0, 900001, "lora.ipynb", anonymous_id="Ab3dE"): notebook("anon a"),
        canvas_name(None, 0, 900002, "lora.ipynb", late=True, anonymous_id="Xy9zK"): notebook("anon b"),
        canvas_name(None, 0, 900003, "lora.ipynb", anonymous_id="12345"): notebook("anon digits"),
        canvas_name("O_Brien, Mary", 12399, 900004, "lora.ipynb"): notebook("mary"),
        canvas_name("Jones_Smith, Al", 12400, 900005, "my_lora_v2.ipynb"): notebook("al"),
        "doejohn_12401_text.html": "<p>my answer is in the text box</p>",            # a text entry
    })
    report = intake.IntakeReport()
    subs = {s.student: s for s in intake.collect(zpath, ["lora"], tmp_path / "submitted", report=report)}
    assert sorted(subs) == ["12399", "12400", "anon_12345", "anon_Ab3dE", "anon_Xy9zK"]
    assert subs["anon_Xy9zK"].late and not subs["anon_Ab3dE"].late
    assert "anon digits" in subs["anon_12345"].path.read_text()
    assert subs["12399"].name == "o_brienmary" and "mary" in subs["12399"].path.read_text()
    assert "al" in subs["12400"].path.read_text()            # the only notebook, said in a note
    assert any("my_lora_v2.ipynb: the only notebook of student 12400" in w for w in report.warnings)
    assert report.errors == ["anon.zip: entry 'doejohn_12401_text.html': a Canvas text entry or URL "
                             "submission, not a file"]


def test_a_canvas_name_with_two_readings_is_reported_never_guessed(tmp_path):
    # a sortable name ending in _<digits> (a test account, say) leaves two readings: user 7 with
    # file 900001_lora.ipynb, or user 12345 with lora.ipynb; Canvas itself takes the first
    zpath = canvas_zip(tmp_path / "c.zip", {"bob_7_12345_900001_lora.ipynb": notebook("bob"),
                                            canvas_name("Lee, Ann", 12402, 900002, "lora.ipynb"): NB})
    report = intake.IntakeReport()
    [sub] = intake.collect(zpath, ["lora"], tmp_path / "submitted", report=report)
    assert sub.student == "12402"
    assert "more than one reading: user 7 (file '900001_lora.ipynb'), user 12345 (file " \
           "'lora.ipynb')" in report.errors[0]


def test_the_later_upload_is_taken_and_the_others_said(tmp_path):
    # Canvas numbers files as they are uploaded: lora-1 (file 900007) came after lora (900005)
    zpath = canvas_zip(tmp_path / "s.zip", {
        canvas_name("Doe, John", 12400, 900005, "lora.ipynb"): notebook("first"),
        canvas_name("Doe, John", 12400, 900007, "lora-1.ipynb"): notebook("second"),
        canvas_name("Roe, Mary", 12401, 900009, "lora.ipynb"): notebook("mary later"),
        canvas_name("Roe, Mary", 12401, 900008, "lora-2.ipynb"): notebook("mary earlier")})
    report = intake.IntakeReport()
    subs = {s.student: s for s in intake.collect(zpath, ["lora"], tmp_path / "submitted", report=report)}
    assert "second" in subs["12400"].path.read_text()
    assert "mary later" in subs["12401"].path.read_text()
    assert any(w.startswith("doejohn_12400_900005_lora.ipynb: not graded") and "later upload" in w
               for w in report.warnings)
    folder = tmp_path / "hub"                                 # elsewhere: the higher copy number
    (folder / "ann").mkdir(parents=True)
    for name, tag in (("lora.ipynb", "v0"), ("lora-1.ipynb", "v1"), ("lora-2.ipynb", "v2")):
        (folder / "ann" / name).write_text(notebook(tag))
    report = intake.IntakeReport()
    [sub] = intake.collect(folder, ["lora"], tmp_path / "submitted2", report=report)
    assert "v2" in sub.path.read_text()
    said = " | ".join(report.warnings)
    assert "ann/lora-2.ipynb: taken as lora.ipynb (a numbered copy of lora.ipynb)" in said
    assert "Canvas" not in said                               # not Canvas's doing


def test_moodle_names_of_every_version_give_participant_ids(tmp_path):
    zpath = lms_zip(tmp_path / "moodle.zip", {
        moodle_path("Jane Smith", 12345, "lora.ipynb", "4.1"): notebook("jane a"),
        moodle_path("Jane Smith", 12399, "lora.ipynb", "3.1"): notebook("jane b"),
        moodle_path("Ann Lee", 12402, "lora.ipynb", "flat"): notebook("ann"),
        moodle_path("Ravi_Kumar", 12403, "lora.ipynb", "4.1", blind=True): notebook("blind"),
        moodle_path("Li Wei", 12404, "work/lora.ipynb", "4.1"): notebook("subfolder"),
        "Jane Smith_12399_assignsubmission_onlinetext/onlinetext.html": "<p>hi</p>",
    })
    report = intake.IntakeReport()
    subs = {s.student: s for s in intake.collect(zpath, ["lora"], tmp_path / "submitted", report=report)}
    assert sorted(subs) == ["12345", "12399", "12402", "12403", "12404"]
    assert subs["12345"].name == "Jane Smith" and subs["12402"].name == "Ann Lee"
    assert subs["12403"].name == "Participant"                # blind marking: keyed by participant id
    assert {s.lms for s in subs.values()} == {"moodle"}
    assert "jane b" in subs["12399"].path.read_text() and "subfolder" in subs["12404"].path.read_text()
    assert (subs["12399"].path.parent / "onlinetext.html").exists()
    assert not (subs["12345"].path.parent / "timestamp.txt").exists()      # the download's time
    assert report.errors == [] and not any("Canvas" in w for w in report.warnings)


# ----------------------------------------------------------------------------- hostile zips
def central_records(data: bytes) -> tuple[int, int, list[tuple[int, bytes]]]:
    """(start of the central directory, start of the end record, [(offset, record)])."""
    end = data.rfind(b"PK\x05\x06")
    start = struct.unpack("<I", data[end + 16:end + 20])[0]
    records, at = [], start
    while at < end:
        n, m, k = struct.unpack("<HHH", data[at + 28:at + 34])
        records.append((at, data[at:at + 46 + n + m + k]))
        at += 46 + n + m + k
    return start, end, records


def forge(path: Path, name: str, *, size: int | None = None, crc: int | None = None,
          local_name: bytes | None = None) -> None:
    """Rewrite one entry's headers: its uncompressed size (central directory and local header),
    its CRC, or the name its local header gives."""
    data = bytearray(path.read_bytes())
    _, _, records = central_records(bytes(data))
    for at, record in records:
        if record[46:46 + struct.unpack("<H", record[28:30])[0]].decode() != name:
            continue
        local = struct.unpack("<I", record[42:46])[0]
        if size is not None:
            struct.pack_into("<I", data, at + 24, size)
            struct.pack_into("<I", data, local + 22, size)
        if crc is not None:
            struct.pack_into("<I", data, at + 16, crc)
            struct.pack_into("<I", data, local + 14, crc)
        if local_name is not None:
            data[local + 30:local + 30 + len(local_name)] = local_name
    path.write_bytes(bytes(data))


def add_overlapping_copies(path: Path, name: str, copies: list[str]) -> None:
    """Fifield's overlapping zip bomb: more central-directory records, each pointing at the data
    of the entry `name`."""
    data = path.read_bytes()
    start, end, records = central_records(data)
    [source] = [r for _, r in records if name.encode() in r[46:]]
    extra = b"".join(source[:28] + struct.pack("<H", len(c.encode())) + source[30:46] + c.encode()
                     for c in copies)
    eocd = bytearray(data[end:])
    count = len(records) + len(copies)
    struct.pack_into("<HHI", eocd, 8, count, count, end - start + len(extra))
    path.write_bytes(data[:end] + extra + bytes(eocd))


def honest(n: int) -> dict:
    return {canvas_name(f"Student{i}, Honest", 1000 + i, 900000 + i, "lora.ipynb"): notebook(f"honest {i}")
            for i in range(n)}


def test_an_entry_whose_header_lies_costs_only_itself(tmp_path):
    # Before: the first broken entry raised BadZipFile and no student of the zip was graded.
    files = honest(3) | {canvas_name("Liar, Size", 2001, 1, "lora.ipynb"): notebook("x" * 5000),
                         canvas_name("Liar, Crc", 2002, 2, "lora.ipynb"): notebook("crc"),
                         canvas_name("Liar, Name", 2003, 3, "lora.ipynb"): notebook("name"),
                         canvas_name("Liar, Big", 2004, 4, "lora.ipynb"): notebook("big")}
    zpath = lms_zip(tmp_path / "lies.zip", files)
    forge(zpath, "liarsize_2001_1_lora.ipynb", size=100)          # says 100 bytes, holds 5 KB
    forge(zpath, "liarcrc_2002_2_lora.ipynb", crc=0xDEADBEEF)
    forge(zpath, "liarname_2003_3_lora.ipynb", local_name=b"../../etc/passwd0000000000")
    forge(zpath, "liarbig_2004_4_lora.ipynb", size=2**31)           # says 2 GB, holds 200 bytes
    report = intake.IntakeReport()
    subs = {s.student: s for s in intake.collect(zpath, ["lora"], tmp_path / "submitted", report=report)}
    assert sorted(subs) == ["1000", "1001", "1002", "2004"]
    assert all(f"honest {i}" in subs[str(1000 + i)].path.read_text() for i in range(3))
    assert subs["2004"].path.read_text() == notebook("big")         # its real bytes, not its header's
    refused = {re.search(r"'(\w+?)_", e)[1]: e for e in report.errors}
    assert sorted(refused) == ["liarcrc", "liarname", "liarsize"]
    assert all("is refused: unreadable (BadZipFile" in e or "is refused: unreadable (EOFError" in e
               for e in refused.values()), report.errors
    assert "Bad CRC-32" in refused["liarcrc"] and "differ" in refused["liarname"]
    assert not (tmp_path / "etc").exists()


def test_three_150_mb_entries_in_a_small_zip_are_refused_without_filling_the_disk(tmp_path):
    # Before: a 463 KB zip put 450 MB on disk (a cap per entry, none on the zip or the ratio).
    zpath = tmp_path / "bomb.zip"
    with zipfile.ZipFile(zpath, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, text in honest(2).items():
            zf.writestr(name, text)
        for i in range(3):
            with zf.open(canvas_name("Bomb, Zip", 3000 + i, 7 + i, "lora.ipynb"), "w") as out:
                for _ in range(150):
                    out.write(bytes(2**20))
    assert zpath.stat().st_size < 2 * 2**20
    report = intake.IntakeReport()
    subs = intake.collect(zpath, ["lora"], tmp_path / "submitted", report=report)
    assert sorted(s.student for s in subs) == ["1000", "1001"]
    assert len(report.errors) == 3 and all("expands more than 200 times" in e and "a zip bomb" in e
                                           for e in report.errors), report.errors
    on_disk = sum(p.stat().st_size for p in tmp_path.rglob("*") if p.is_file()) - zpath.stat().st_size
    assert on_disk < 2**20


def test_caps_on_an_entry_and_on_the_whole_zip_count_real_bytes(tmp_path):
    import os
    caps = intake.ZipCaps(entry_mb=1, total_mb=3)
    big = {canvas_name("Big, Al", 4000, 1, "data.bin"): os.urandom(3 * 2**19),       # 1.5 MB
           canvas_name("Big, Al", 4000, 2, "lora.ipynb"): notebook("al")}
    rest = {canvas_name(f"Late{i}, Bo", 4100 + i, 10 + i, "lora.ipynb"): notebook("b" * 2**19 + str(i))
            for i in range(6)}                                                       # 0.5 MB each
    zpath = lms_zip(tmp_path / "big.zip", big | rest)
    report = intake.IntakeReport()
    subs = intake.collect(zpath, ["lora"], tmp_path / "submitted", report=report, caps=caps)
    errors = "\n".join(report.errors)
    assert "'bigal_4000_1_data.bin' is refused: larger than 1 MB" in errors
    taken = sorted(s.student for s in subs)
    assert taken[0] == "4000" and len(taken) in (3, 4)                # ~3 MB read, then no more
    refused = [e for e in report.errors if "past the cap of 3 MB read from this zip" in e]
    assert len(refused) == 7 - len(taken) and all("--max-zip-mb" in e for e in refused)


def test_overlapping_entries_and_too_many_entries_are_refused(tmp_path):
    zpath = tmp_path / "overlap.zip"
    with zipfile.ZipFile(zpath, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, text in honest(2).items():
            zf.writestr(name, text)
        with zf.open("bomb_5000_1_lora.ipynb", "w") as out:
            for _ in range(50):
                out.write(bytes(2**20))
    add_overlapping_copies(zpath, "bomb_5000_1_lora.ipynb",
                           [f"bomb{i}_{5001 + i}_{2 + i}_lora.ipynb" for i in range(300)])
    report = intake.IntakeReport()
    start = time.monotonic()
    subs = intake.collect(zpath, ["lora"], tmp_path / "submitted", report=report)
    assert sorted(s.student for s in subs) == ["1000", "1001"]
    assert len(report.errors) == 301 and all("is refused" in e for e in report.errors)
    print(f"300 overlapping copies of a 50 MB entry refused in {time.monotonic() - start:.1f} s")
    many = lms_zip(tmp_path / "many.zip", honest(60))
    with pytest.raises(intake.NothingFound, match="refused: it lists 60 entries .* cap of 50 entries"):
        intake.collect(many, ["lora"], tmp_path / "s2", caps=intake.ZipCaps(entries=50))
    data = bytearray(many.read_bytes())                    # an end record that lies about the count
    end = data.rfind(b"PK\x05\x06")
    struct.pack_into("<HH", data, end + 8, 10, 10)
    many.write_bytes(bytes(data))
    with pytest.raises(intake.NothingFound, match="refused: it holds 60 entries, more than the cap of 50"):
        intake.collect(many, ["lora"], tmp_path / "s3", caps=intake.ZipCaps(entries=50))


def test_a_zip_is_opened_once_however_many_entries_it_holds(tmp_path, monkeypatch):
    # Before: every entry re-opened the zip (10,000 entries took 494 s).
    zpath = lms_zip(tmp_path / "class.zip", honest(400))
    opened = []
    real = zipfile.ZipFile.__init__

    def counting(self, *args, **kwargs):
        opened.append(args[0] if args else kwargs.get("file"))
        real(self, *args, **kwargs)
    monkeypatch.setattr(zipfile.ZipFile, "__init__", counting)
    start = time.monotonic()
    subs = intake.collect(zpath, ["lora"], tmp_path / "submitted")
    seconds = time.monotonic() - start
    assert len(subs) == 400 and len(opened) == 1
    print(f"400 entries collected in {seconds:.2f} s, the zip opened once")


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
                       "course/submitted/12345/lora/submission_secret.txt", "evil.zip"]
    assert sorted(p.name for p in (tmp_path / "course").iterdir()) == ["submitted"]   # staging gone


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
    assert len((by_hand / "submission_secret.txt").read_text()) == 128       # for release_feedback
    assert (folder / "submission_secret.txt").read_text() == "s3cret"         # the exchange's kept
    other = tmp_path / "course" / "submitted"                  # copied: timestamp and secret travel
    sub = {s.student: s for s in intake.collect(submitted, ["lora"], other)}["student1"]
    assert (sub.path.parent / "timestamp.txt").read_text() == "2026-03-01 10:00:00.000000 UTC"
    assert (sub.path.parent / "submission_secret.txt").read_text() == "s3cret"


def test_a_changed_resubmission_replaces_the_earlier_one_and_says_so(tmp_path):
    dest = tmp_path / "submitted"
    intake.collect(canvas_zip(tmp_path / "a.zip", {"doejohn_1_2_lora.ipynb": notebook("v1")}),
                ["lora"], dest)
    secret = (dest / "1" / "lora" / "submission_secret.txt").read_text()
    report = intake.IntakeReport()
    intake.collect(canvas_zip(tmp_path / "a.zip", {"doejohn_1_2_lora.ipynb": notebook("v1")}),
                ["lora"], dest, report=report)
    assert report.warnings == [] and (dest / "1" / "lora" / "submission_secret.txt").read_text() == secret
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
@pytest.fixture(scope="module")
def toy_template(tmp_path_factory):
    """The toy course (5 points) with its gradebook made once: each test copies it."""
    import toycourse

    from autograde.config import Course
    from autograde.results import gradebook
    root = tmp_path_factory.mktemp("toy-template")
    toycourse.make_course(root)
    course = Course(solutions=root / "solutions", notebooks=root / "notebooks", work=root / ".grading")
    course.work.mkdir(parents=True, exist_ok=True)
    with gradebook.open_gradebook(course.gradebook_url, course) as gb:
        gradebook._ensure_assignment(gb, course, "toy", course.gradebook_url, [])
    return root


def graded_class(tmp_path: Path, template: Path, files: dict | None = None, scores: dict | None = None,
                 hub=("hubuser",)):
    """A toy course whose gradebook holds the students of an LMS zip and hub users."""
    import shutil

    from autograde.config import Course
    from autograde.results import gradebook
    shutil.copytree(template, tmp_path, dirs_exist_ok=True)
    course = Course(solutions=tmp_path / "solutions", notebooks=tmp_path / "notebooks",
                    work=tmp_path / ".grading")
    submitted = nbgrader_dirs.submitted_root(course)
    files = files or {"smithjane_12345_1_toy.ipynb": NB, "smithjane_LATE_12399_2_toy.ipynb": NB}
    intake.collect(lms_zip(tmp_path / "download.zip", files), ["toy"], submitted)
    for user in hub:
        (tmp_path / "hub" / user).mkdir(parents=True)
        (tmp_path / "hub" / user / "toy.ipynb").write_text(NB)
    if hub:
        intake.collect(tmp_path / "hub", ["toy"], submitted)
    scores = scores or {"12345": 5.0, "12399": 3.0, "hubuser": 4.5}
    gradebook.sync(course, [toy_result(student, score) for student, score in scores.items()])
    return course


def toy_result(student: str, score: float) -> dict:
    return {"student": student, "assignment": "toy", "submission_sha256": "0" * 64,
            "score": score, "max_score": 5.0, "needs_look": [],
            "tests": [{"id": "test_softmax", "points": 2.0, "score": score - 3.0, "lines": []},
                      {"id": "test_scaled_sum", "points": 1.0, "score": 1.0, "lines": []},
                      {"id": "test_scaled_linear", "points": 2.0, "score": 2.0, "lines": []}]}


def set_by_hand(course, student: str, grade_id: str, score: float) -> None:
    """A score set in the formgrader (nbgrader's manual_score)."""
    from nbgrader.api import Gradebook
    with Gradebook(course.gradebook_url, course_id=course.course_id) as gb:
        gb.find_grade(grade_id, "toy", "toy", student).manual_score = score
        gb.db.commit()


class CanvasCourse:
    """One Canvas assignment, its gradebook export (Grades > Export) and import (Grades > Import)
    as canvas-lms app/models/gradebook_importer.rb reads a CSV: the header must start Student, ID,
    ..., Section; a column is found by `Title (id)`, else its title, else it is a new assignment; the
    "Points Possible" row sets the assignment's points; a row is found by ID, then SIS User ID, SIS
    Login ID, then name, else it is a new student; a cell changes the grade unless it equals it at
    two decimals or both are blank."""
    NON_ASSIGNMENT = ("Current Score", "Current Points", "Current Grade", "Final Score", "Final Points",
                      "Final Grade", "Override Score", "Override Grade", "Override Status")

    def __init__(self, students, title="Toy", assignment_id=4321, points=100.0):
        self.students = students                     # [(user id, sortable name, sis id, login, section)]
        self.title, self.id, self.points = title, assignment_id, points
        self.grades, self.problems = {}, []

    def export(self) -> str:
        out = io.StringIO()
        w = csv.writer(out)
        w.writerow(["Student", "ID", "SIS User ID", "SIS Login ID", "Section",
                    f"{self.title} ({self.id})", "Current Score"])
        w.writerow(["    Points Possible", "", "", "", "", f"{self.points:.2f}", "(read only)"])
        w.writerow(["Student, Test", "999", "", "", "Sec 1", "", ""])
        for uid, name, sis, login, section in self.students:
            w.writerow([name, uid, sis, login, section, self.grades.get(uid, ""), ""])
        return out.getvalue()

    def import_csv(self, text: str) -> dict:
        rows = list(csv.reader(io.StringIO(text)))
        head = rows[0]
        assert "Student" in head[0] and "ID" in head[1], "Invalid header row"
        columns = 5 if head[2] == "SIS User ID" and head[3] == "SIS Login ID" else 3
        assert "Section" in head[columns - 1], "Invalid header row"
        mine = [i for i, h in enumerate(head[columns:], columns) if h not in self.NON_ASSIGNMENT
                and (h == f"{self.title} ({self.id})" or h == self.title)]
        if len(head) - columns != len(mine) + sum(h in self.NON_ASSIGNMENT for h in head[columns:]):
            self.problems.append(f"new assignment columns: {head[columns:]}")
        changed = {}
        for row in rows[1:]:
            if "Points Possible" in row[0]:
                if mine and float(row[mine[0]]) != self.points:
                    self.problems.append(f"points possible changed to {row[mine[0]]}")
                continue
            student = next((s for s in self.students if row[1] and int(row[1]) == int(s[0])), None) \
                or next((s for s in self.students if columns == 5 and row[2] and row[2] == s[2]), None) \
                or next((s for s in self.students if columns == 5 and row[3] and row[3] == s[3]), None)
            if student is None:
                self.problems.append(f"new student: {row[:2]}")
                continue
            for i in mine:
                new, old = row[i].strip(), self.grades.get(student[0], "")
                same = new == old or (new in ("", "-") and old in ("", "-")) or (
                    new and old and f"{float(new):.2f}" == f"{float(old):.2f}")
                if not same:
                    if new == "":
                        self.problems.append(f"grade of {student[0]} blanked (was {old})")
                    changed[student[0]] = new
        self.grades.update(changed)
        return changed


ROSTER = [("12345", "Smith, Jane", "S001", "jsmith", "Sec 1"),
          ("12399", "Smith, Jane", "S002", "jsmith2", "Sec 1"),
          ("12500", "-Doe, John", "S003", "hubuser", "Sec 2"),         # a name that looks like a formula
          ("12600", "Lee, Ann", "S004", "alee", "Sec 2")]


def test_canvas_round_trip_rescales_to_points_possible_and_loses_nothing(tmp_path, toy_template):
    course = graded_class(tmp_path, toy_template)
    canvas = CanvasCourse(ROSTER, points=100.0)
    canvas.grades["12600"] = "77.00"                          # graded in Canvas, no submission here
    (tmp_path / "roster.csv").write_text(canvas.export())
    paths, notes = export.canvas(course, tmp_path / "grades.csv", tmp_path / "roster.csv")
    rows = list(csv.reader(paths[0].open()))
    assert rows[0] == export.CANVAS + ["Toy (4321)"]                 # Canvas's Title (id)
    assert rows[1] == ["Points Possible", "", "", "", "", "100.00"]   # the roster's own, unchanged
    assert rows[2:] == [["Smith, Jane", "12345", "S001", "jsmith", "Sec 1", "100.00"],
                        ["Smith, Jane", "12399", "S002", "jsmith2", "Sec 1", "60.00"],
                        ["-Doe, John", "12500", "S003", "hubuser", "Sec 2", "90.00"]]   # by login, name as Canvas's
    assert any(n.startswith("rescaled: toy totals are out of 100 (roster.csv's Points Possible), not "
                            "the autograder's 5") for n in notes), notes
    assert "no submission: Lee, Ann (ID 12600) in roster.csv" in notes
    raw = {(r[0], r[2]): r[3] for r in csv.reader(paths[1].open())}
    assert raw["12399", "test_softmax"] == "0.00" and raw["hubuser", "test_softmax"] == "1.50"   # raw points
    assert canvas.import_csv(paths[0].read_text()) == {"12345": "100.00", "12399": "60.00", "12500": "90.00"}
    assert canvas.problems == []
    set_by_hand(course, "12399", "test_softmax", 2.0)          # a change in the formgrader, then again
    (tmp_path / "roster.csv").write_text(canvas.export())
    paths, _ = export.canvas(course, tmp_path / "grades.csv", tmp_path / "roster.csv")
    assert canvas.import_csv(paths[0].read_text()) == {"12399": "100.00"}
    assert canvas.problems == [] and canvas.grades == {"12345": "100.00", "12399": "100.00",
                                                       "12500": "90.00", "12600": "77.00"}


def test_canvas_export_without_a_roster_says_what_canvas_will_do(tmp_path, toy_template):
    course = graded_class(tmp_path, toy_template)
    paths, notes = export.canvas(course, tmp_path / "grades.csv")
    rows = list(csv.reader(paths[0].open()))
    assert rows[0][5] == "toy" and rows[1][5] == "5" and [r[1] for r in rows[2:]] == ["12345", "12399", ""]
    assert any("no roster: the column is titled 'toy'" in n for n in notes)
    assert any("unmatched: 1 students have no Canvas user id" in n and "hubuser" in n for n in notes)
    assert not any(n.startswith("rescaled") for n in notes)
    paths, notes = export.canvas(course, tmp_path / "grades.csv", columns={"toy": "Toy (4321)"},
                                 points={"toy": 20.0})
    rows = list(csv.reader(paths[0].open()))
    assert rows[0][5] == "Toy (4321)" and rows[1][5] == "20" and rows[2][5] == "20.00" and rows[3][5] == "12.00"
    assert any("out of 20 (--points toy=20)" in n for n in notes)


def test_canvas_points_that_are_no_number_or_read_only_are_refused(tmp_path, toy_template):
    course = graded_class(tmp_path, toy_template)
    canvas = CanvasCourse(ROSTER)
    (tmp_path / "roster.csv").write_text(canvas.export().replace("100.00", "(read only)", 1))
    with pytest.raises(ValueError, match="marks the column 'Toy \\(4321\\)' read only"):
        export.canvas(course, tmp_path / "grades.csv", tmp_path / "roster.csv")
    (tmp_path / "roster.csv").write_text(canvas.export().replace("100.00", "", 1))
    with pytest.raises(ValueError, match="points possible '', not a number of points.*--points toy=P"):
        export.canvas(course, tmp_path / "grades.csv", tmp_path / "roster.csv")


def test_canvas_anonymous_and_pending_students_are_never_blanked_or_mismatched(tmp_path, toy_template):
    files = {canvas_name(None, 0, 900001, "toy.ipynb", anonymous_id="Ab3dE"): NB,
             "smithjane_12345_1_toy.ipynb": NB, "smithjane_LATE_12399_2_toy.ipynb": NB}
    course = graded_class(tmp_path, toy_template, files, {"anon_Ab3dE": 4.0, "12345": 5.0, "12399": 3.0}, hub=())
    from autograde.results import gradebook
    pending = toy_result("12399", 3.0)
    pending["tests"][0] |= {"manual": True, "score": None}
    gradebook.sync(course, [pending])
    canvas = CanvasCourse(ROSTER)
    canvas.grades["12399"] = "55.00"                            # what Canvas holds now
    (tmp_path / "roster.csv").write_text(canvas.export())
    paths, notes = export.canvas(course, tmp_path / "grades.csv", tmp_path / "roster.csv")
    assert any(n.startswith("anonymous: anon_Ab3dE is Canvas's anonymous id") for n in notes)
    assert "anon_" not in paths[0].read_text()
    assert "pending: 12399/toy has cells to be graded by hand; the LMS's own cell is sent back" in notes
    assert canvas.import_csv(paths[0].read_text()) == {"12345": "100.00"}
    assert canvas.grades["12399"] == "55.00" and canvas.problems == []


class MoodleAssignment:
    """One Moodle assignment, its grading worksheet as Moodle writes it (mod/assign/gradingtable.php
    downloading: Grade and Maximum Grade with format_float, "Last modified (grade)" as userdate
    or "-", the comments as stored) and its "Upload grading worksheet" as mod/assign/feedback/offline/
    importgradeslib.php and locallib.php process_import_grades apply it."""

    def __init__(self, maximum: float, participants: dict):
        self.maximum, self.participants = maximum, participants      # {participant id: full name}
        self.grades, self.comments = {}, {}                           # id -> (grade, time modified)

    def grade_by_hand(self, pid: str, grade: float, when: int, comment: str | None = None) -> None:
        self.grades[pid] = (grade, when)
        if comment is not None:
            self.comments[pid] = comment

    def worksheet(self) -> str:
        out = io.StringIO()
        w = csv.writer(out)
        w.writerow(["Identifier", "Full name", "Email address", "Status", "Grade", "Maximum Grade",
                    "Grade can be changed", "Last modified (submission)", "Last modified (grade)",
                    "Feedback comments"])
        for pid, name in self.participants.items():
            grade, when = self.grades.get(pid, (None, None))
            w.writerow([f"Participant {pid}", name, f"{pid}@example.org", "Submitted for grading",
                        "" if grade is None else f"{grade:.2f}", f"{self.maximum:.2f}", "Yes",
                        "Monday, 2 March 2026, 11:59 PM",
                        "-" if when is None else time.strftime("%A, %d %B %Y, %I:%M %p", time.gmtime(when)),
                        self.comments.get(pid, "")])
        return out.getvalue()

    @staticmethod
    def strtotime(text: str) -> int:
        """PHP's strtotime on the two forms here: Moodle's userdate and ISO 8601; '-' is false (0)."""
        for form in ("%A, %d %B %Y, %I:%M %p", "%Y-%m-%dT%H:%M:%S%z"):
            try:
                return int(time.mktime(time.strptime(text.strip(), form)) - time.timezone) \
                    if "%z" not in form else int(datetime_fromiso(text))
            except ValueError:
                continue
        return 0

    def upload(self, text: str, now: int, ignoremodified: bool = False) -> tuple[int, int]:
        rows = list(csv.DictReader(io.StringIO(text)))
        head = list(rows[0]) if rows else []
        if not {"Identifier", "Grade", "Last modified (grade)"} <= set(head):
            raise ValueError("invalidgradeimport")
        grades = feedback = 0
        for row in rows:
            pid = row["Identifier"][len("Participant "):]
            if pid not in self.participants:
                continue
            old, when = self.grades.get(pid, (None, None))
            modified = self.strtotime(row["Last modified (grade)"])
            stale = when is not None and when > modified + 60
            cell = row["Grade"].strip().replace(",", ".")
            grade = float(cell) if re.fullmatch(r"-?\d+(\.\d+)?", cell) else ""
            skip = (old is not None and old == grade) or grade == "" or grade < 0 or \
                (not ignoremodified and stale) or grade > self.maximum
            if not skip:
                self.grades[pid] = (grade, now)
                grades += 1
            if (ignoremodified or not stale) and "Feedback comments" in head:
                if row["Feedback comments"] != self.comments.get(pid, ""):
                    self.comments[pid] = row["Feedback comments"]
                    feedback += 1
        return grades, feedback


def datetime_fromiso(text: str) -> float:
    from datetime import datetime
    return datetime.fromisoformat(text.strip()).timestamp()


MOODLE_FILES = {moodle_path("Jane Smith", 12345, "toy.ipynb"): NB,
                moodle_path("Ann Lee", 12346, "toy.ipynb"): NB,
                moodle_path("Bo Chan", 12347, "toy.ipynb", blind=True): NB}


def test_moodle_worksheet_round_trip_keeps_comments_placeholders_and_grades_changed_in_moodle(tmp_path, toy_template):
    course = graded_class(tmp_path, toy_template, MOODLE_FILES, {"12345": 5.0, "12346": 3.0, "12347": 4.5}, hub=())
    moodle = MoodleAssignment(100.0, {"12345": "Jane Smith", "12346": "Ann Lee", "12347": "Bo Chan",
                                      "12348": "Al Ng"})
    t0 = int(time.time()) - 3600
    moodle.grade_by_hand("12345", 80.0, t0, "-see me about question 2")    # a comment starting with -
    moodle.grade_by_hand("12348", 50.0, t0, "=well done")                 # no submission here
    moodle.comments["12346"] = "-"                                         # a placeholder
    (tmp_path / "worksheet.csv").write_text(moodle.worksheet())
    paths, notes = export.moodle(course, tmp_path / "grades.csv", "toy", tmp_path / "worksheet.csv")
    sent = list(csv.DictReader(paths[0].open()))
    assert [(r["Identifier"], r["Grade"]) for r in sent] == [
        ("Participant 12345", "100.00"), ("Participant 12346", "60.00"), ("Participant 12347", "90.00"),
        ("Participant 12348", "50.00")]
    original = list(csv.DictReader(io.StringIO(moodle.worksheet())))
    for mine, theirs in zip(sent, original):                    # every other cell exactly as Moodle's
        assert {k: v for k, v in mine.items() if k != "Grade"} == {k: v for k, v in theirs.items() if k != "Grade"}
    assert any(n.startswith("rescaled: toy totals are out of 100 (worksheet.csv's Maximum Grade)") for n in notes)
    assert "no submission: Al Ng (Participant 12348): its row goes back unchanged" in notes
    moodle.grade_by_hand("12346", 95.0, int(time.time()) + 120)          # a TA grades in Moodle meanwhile
    assert moodle.upload(paths[0].read_text(), now=int(time.time())) == (2, 0)
    assert {p: g for p, (g, _) in moodle.grades.items()} == {"12345": 100.0, "12346": 95.0, "12347": 90.0,
                                                              "12348": 50.0}
    assert moodle.comments == {"12345": "-see me about question 2", "12348": "=well done", "12346": "-"}
    assert moodle.upload(paths[0].read_text(), now=int(time.time()), ignoremodified=True) == (1, 0)
    assert moodle.grades["12346"][0] == 60.0                  # "ignore modified" ticked: ours wins
    assert moodle.comments == {"12345": "-see me about question 2", "12348": "=well done", "12346": "-"}
    set_by_hand(course, "12347", "test_softmax", 0.0)           # changed in the formgrader, exported again
    (tmp_path / "worksheet.csv").write_text(moodle.worksheet())
    paths, _ = export.moodle(course, tmp_path / "grades.csv", "toy", tmp_path / "worksheet.csv")
    assert moodle.upload(paths[0].read_text(), now=int(time.time())) == (1, 0)
    assert {p: g for p, (g, _) in moodle.grades.items()} == {"12345": 100.0, "12346": 60.0, "12347": 60.0,
                                                              "12348": 50.0}
    assert moodle.comments["12345"] == "-see me about question 2"


def test_moodle_export_without_a_worksheet_is_applied_and_touches_no_comment(tmp_path, toy_template):
    course = graded_class(tmp_path, toy_template, MOODLE_FILES,
                          {"12345": 5.0, "12346": 3.0, "12347": 4.5, "hubuser": 4.0})
    moodle = MoodleAssignment(5.0, {"12345": "Jane Smith", "12346": "Ann Lee", "12347": "Bo Chan"})
    moodle.grade_by_hand("12345", 1.0, int(time.time()) - 60, "-keep this")
    paths, notes = export.moodle(course, tmp_path / "grades.csv", "toy")
    assert next(csv.reader(paths[0].open())) == export.MOODLE
    assert moodle.upload(paths[0].read_text(), now=int(time.time())) == (3, 0)
    assert {p: g for p, (g, _) in moodle.grades.items()} == {"12345": 5.0, "12346": 3.0, "12347": 4.5}
    assert moodle.comments == {"12345": "-keep this"}
    assert any(n.startswith("no worksheet: 'Last modified (grade)' is this export's time") for n in notes)
    assert "unmatched: hubuser (hubuser) has no Moodle participant id (not from a Moodle download): " \
           "not exported" in notes
    paths, notes = export.moodle(course, tmp_path / "grades.csv", "toy", points={"toy": 10.0})
    assert [r["Grade"] for r in csv.DictReader(paths[0].open())] == ["10.00", "6.00", "9.00"]


def test_moodle_worksheets_that_cannot_take_points_are_refused(tmp_path, toy_template):
    course = graded_class(tmp_path, toy_template, MOODLE_FILES, {"12345": 5.0}, hub=())
    moodle = MoodleAssignment(100.0, {"12345": "Jane Smith"})
    (tmp_path / "w.csv").write_text(moodle.worksheet().replace("Maximum Grade", "Scale"))
    with pytest.raises(ValueError, match="graded with a scale"):
        export.moodle(course, tmp_path / "g.csv", "toy", tmp_path / "w.csv")
    (tmp_path / "w.csv").write_text(moodle.worksheet().replace("Last modified (grade)", "Modified"))
    with pytest.raises(ValueError, match="no 'Last modified \\(grade\\)' column"):
        export.moodle(course, tmp_path / "g.csv", "toy", tmp_path / "w.csv")


def test_only_cells_the_project_writes_are_escaped_against_formulas(tmp_path):
    out = io.StringIO()
    export.writer(out).writerow(["=HYPERLINK(\"x\")", "+1", "-2", "@SUM(A1)", "\tx", "plain", 4.5, None,
                                 export.Raw("-"), export.Raw("=LMS's own")])
    assert next(csv.reader(io.StringIO(out.getvalue()))) == [
        "'=HYPERLINK(\"x\")", "'+1", "'-2", "'@SUM(A1)", "'\tx", "plain", "4.5", "", "-", "=LMS's own"]


def test_feedback_reaches_every_student_through_stock_release_feedback(tmp_path, toy_template):
    """nbgrader's release_feedback reads timestamp.txt and submission_secret.txt beside every page;
    before, the first LMS student raised FileNotFoundError and later students got nothing."""
    from nbgrader.coursedir import CourseDirectory
    from nbgrader.exchange.default.release_feedback import ExchangeReleaseFeedback
    from traitlets.config import Config
    course = graded_class(tmp_path, toy_template)                   # two Canvas students (no time known), a hub user
    hub = nbgrader_dirs.folder(course, "submitted", "hubuser", "toy")
    (hub / "timestamp.txt").write_text("2026-03-01 10:00:00.000000 UTC")      # as the exchange wrote
    for student in ("12345", "12399", "hubuser"):
        nbgrader_dirs.write_feedback(course, student, "toy", f"<p>{student}</p>")
    config = Config()
    config.CourseDirectory.root = str(nbgrader_dirs.root(course))
    config.CourseDirectory.course_id = "course"
    config.CourseDirectory.assignment_id = "toy"
    config.Exchange.root = str(tmp_path / "exchange")
    (tmp_path / "exchange").mkdir(mode=0o777)
    release = ExchangeReleaseFeedback(coursedir=CourseDirectory(config=config), config=config)
    release.start()
    released = sorted(p.name for p in (tmp_path / "exchange" / "course" / "feedback").iterdir())
    assert len(released) == 3
    fb = nbgrader_dirs.folder(course, "feedback", "hubuser", "toy")
    assert (fb / "timestamp.txt").read_text() == "2026-03-01 10:00:00.000000 UTC"
