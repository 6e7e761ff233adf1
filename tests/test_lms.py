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

from autograde import export, lms, nbgrader_course

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
    report = lms.Report()
    subs = {s.student: s for s in lms.collect(zpath, ["lora"], tmp_path / "submitted",
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
    meta = lms.meta(subs["12399"].path.parent)
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
    report = lms.Report()
    subs = {s.student: s for s in lms.collect(zpath, ["lora"], tmp_path / "submitted", report=report)}
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
    report = lms.Report()
    [sub] = lms.collect(zpath, ["lora"], tmp_path / "submitted", report=report)
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
    report = lms.Report()
    subs = {s.student: s for s in lms.collect(zpath, ["lora"], tmp_path / "submitted", report=report)}
    assert "second" in subs["12400"].path.read_text()
    assert "mary later" in subs["12401"].path.read_text()
    assert any(w.startswith("doejohn_12400_900005_lora.ipynb: not graded") and "later upload" in w
               for w in report.warnings)
    folder = tmp_path / "hub"                                 # elsewhere: the higher copy number
    (folder / "ann").mkdir(parents=True)
    for name, tag in (("lora.ipynb", "v0"), ("lora-1.ipynb", "v1"), ("lora-2.ipynb", "v2")):
        (folder / "ann" / name).write_text(notebook(tag))
    report = lms.Report()
    [sub] = lms.collect(folder, ["lora"], tmp_path / "submitted2", report=report)
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
    report = lms.Report()
    subs = {s.student: s for s in lms.collect(zpath, ["lora"], tmp_path / "submitted", report=report)}
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
    report = lms.Report()
    subs = {s.student: s for s in lms.collect(zpath, ["lora"], tmp_path / "submitted", report=report)}
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
    report = lms.Report()
    subs = lms.collect(zpath, ["lora"], tmp_path / "submitted", report=report)
    assert sorted(s.student for s in subs) == ["1000", "1001"]
    assert len(report.errors) == 3 and all("expands more than 200 times" in e and "a zip bomb" in e
                                           for e in report.errors), report.errors
    on_disk = sum(p.stat().st_size for p in tmp_path.rglob("*") if p.is_file()) - zpath.stat().st_size
    assert on_disk < 2**20


def test_caps_on_an_entry_and_on_the_whole_zip_count_real_bytes(tmp_path):
    import os
    caps = lms.ZipCaps(entry_mb=1, total_mb=3)
    big = {canvas_name("Big, Al", 4000, 1, "data.bin"): os.urandom(3 * 2**19),       # 1.5 MB
           canvas_name("Big, Al", 4000, 2, "lora.ipynb"): notebook("al")}
    rest = {canvas_name(f"Late{i}, Bo", 4100 + i, 10 + i, "lora.ipynb"): notebook("b" * 2**19 + str(i))
            for i in range(6)}                                                       # 0.5 MB each
    zpath = lms_zip(tmp_path / "big.zip", big | rest)
    report = lms.Report()
    subs = lms.collect(zpath, ["lora"], tmp_path / "submitted", report=report, caps=caps)
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
    report = lms.Report()
    start = time.monotonic()
    subs = lms.collect(zpath, ["lora"], tmp_path / "submitted", report=report)
    assert sorted(s.student for s in subs) == ["1000", "1001"]
    assert len(report.errors) == 301 and all("is refused" in e for e in report.errors)
    print(f"300 overlapping copies of a 50 MB entry refused in {time.monotonic() - start:.1f} s")
    many = lms_zip(tmp_path / "many.zip", honest(60))
    with pytest.raises(lms.NothingFound, match="refused: it lists 60 entries .* cap of 50 entries"):
        lms.collect(many, ["lora"], tmp_path / "s2", caps=lms.ZipCaps(entries=50))
    data = bytearray(many.read_bytes())                    # an end record that lies about the count
    end = data.rfind(b"PK\x05\x06")
    struct.pack_into("<HH", data, end + 8, 10, 10)
    many.write_bytes(bytes(data))
    with pytest.raises(lms.NothingFound, match="refused: it holds 60 entries, more than the cap of 50"):
        lms.collect(many, ["lora"], tmp_path / "s3", caps=lms.ZipCaps(entries=50))


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
    subs = lms.collect(zpath, ["lora"], tmp_path / "submitted")
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
    report = lms.Report()
    dest = tmp_path / "course" / "submitted"
    subs = lms.collect(zpath, ["lora"], dest, report=report)
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
    report = lms.Report()
    subs = lms.collect(inbox, ["lora"], tmp_path / "submitted", report=report)
    assert [s.student for s in subs] == ["alice"]
    assert sum("is not a valid student id" in e for e in report.errors) == 3
    assert any("'=HYPERLINK(1)' is not a valid student id" in e for e in report.errors)


def test_nothing_found_is_an_error_that_says_what_was_expected(tmp_path):
    empty = canvas_zip(tmp_path / "empty.zip", {"readme.txt": "no notebooks here"})
    with pytest.raises(lms.NothingFound, match="(?s)no submission of lora in .*empty.zip.*Canvas.*"
                                               "Moodle.*found:.*readme.txt"):
        lms.collect(empty, ["lora"], tmp_path / "submitted")
    (tmp_path / "folder").mkdir()
    with pytest.raises(lms.NothingFound, match="it is empty"):
        lms.collect(tmp_path / "folder", ["lora"], tmp_path / "submitted")
    with pytest.raises(lms.NothingFound, match="does not exist"):
        lms.collect(tmp_path / "nope", ["lora"], tmp_path / "submitted")


def test_nbgrader_submitted_folders_are_read_in_place_with_their_timestamps(tmp_path):
    submitted = tmp_path / "submitted"
    folder = submitted / "student1" / "lora"
    folder.mkdir(parents=True)
    (folder / "lora.ipynb").write_text(notebook("hub"))
    (folder / "timestamp.txt").write_text("2026-03-01 10:00:00.000000 UTC")
    (folder / "submission_secret.txt").write_text("s3cret")
    [sub] = lms.collect(submitted, ["lora"], submitted)
    assert sub.path == folder / "lora.ipynb" and sub.student == "student1" and not sub.late
    assert not (folder / "lms.json").exists()                 # in place: nothing added
    assert (folder / "timestamp.txt").read_text() == "2026-03-01 10:00:00.000000 UTC"
    by_hand = submitted / "student2" / "lora"                  # put there by hand: gets a timestamp
    by_hand.mkdir(parents=True)
    (by_hand / "lora.ipynb").write_text(notebook("copied"))
    lms.collect(submitted, ["lora"], submitted)
    assert (by_hand / "timestamp.txt").read_text().endswith("UTC")
    assert len((by_hand / "submission_secret.txt").read_text()) == 128       # for release_feedback
    assert (folder / "submission_secret.txt").read_text() == "s3cret"         # the exchange's kept
    other = tmp_path / "course" / "submitted"                  # copied: timestamp and secret travel
    sub = {s.student: s for s in lms.collect(submitted, ["lora"], other)}["student1"]
    assert (sub.path.parent / "timestamp.txt").read_text() == "2026-03-01 10:00:00.000000 UTC"
    assert (sub.path.parent / "submission_secret.txt").read_text() == "s3cret"


def test_a_changed_resubmission_replaces_the_earlier_one_and_says_so(tmp_path):
    dest = tmp_path / "submitted"
    lms.collect(canvas_zip(tmp_path / "a.zip", {"doejohn_1_2_lora.ipynb": notebook("v1")}),
                ["lora"], dest)
    secret = (dest / "1" / "lora" / "submission_secret.txt").read_text()
    report = lms.Report()
    lms.collect(canvas_zip(tmp_path / "a.zip", {"doejohn_1_2_lora.ipynb": notebook("v1")}),
                ["lora"], dest, report=report)
    assert report.warnings == [] and (dest / "1" / "lora" / "submission_secret.txt").read_text() == secret
    lms.collect(canvas_zip(tmp_path / "b.zip", {"doejohn_1_3_lora.ipynb": notebook("v2")}),
                ["lora"], dest, report=report)
    assert any("replaces the earlier submission" in w for w in report.warnings)
    assert "v2" in (dest / "1" / "lora" / "lora.ipynb").read_text()


def test_find_keeps_reading_student_folders_in_place(tmp_path):
    for student, name in (("alice", "toy.ipynb"), ("bob", "toy.ipynb")):
        (tmp_path / student).mkdir()
        (tmp_path / student / name).write_text(NB)
    found = {s.student: s.path for s in lms.find(tmp_path, ["toy"])}
    assert found == {"alice": tmp_path / "alice" / "toy.ipynb", "bob": tmp_path / "bob" / "toy.ipynb"}


def test_a_folder_with_other_notebooks_is_graded_by_the_matching_name_only(tmp_path):
    (tmp_path / "carol").mkdir()
    for name in ("toy.ipynb", "scratch.ipynb", "lora.ipynb"):
        (tmp_path / "carol" / name).write_text(NB)
    (tmp_path / "dave").mkdir()
    (tmp_path / "dave" / "my_homework.ipynb").write_text(NB)       # the only one, misnamed
    report = lms.Report()
    found = {(s.student, s.path.name) for s in lms.find(tmp_path, ["toy"], report)}
    assert ("carol", "toy.ipynb") in found and not {n for s, n in found if s == "carol"} - {"toy.ipynb"}
    said = "\n".join(report.lines())
    assert "scratch.ipynb" in said                       # what was not graded is reported
    assert "my_homework.ipynb" in said                   # never graded silently as toy


# ----------------------------------------------------------------------------- exports
def graded_class(tmp_path: Path):
    """A toy course whose gradebook holds three students: two from a Canvas zip, one hub user."""
    import toycourse

    from autograde import gradebook
    from autograde.course import Course
    toycourse.make_course(tmp_path)
    course = Course(solutions=tmp_path / "solutions", notebooks=tmp_path / "notebooks",
                    work=tmp_path / ".grading")
    submitted = nbgrader_course.submitted_root(course)
    lms.collect(canvas_zip(tmp_path / "c.zip", {"smithjane_12345_1_toy.ipynb": NB,
                                                "smithjane_LATE_12399_2_toy.ipynb": NB}),
                ["toy"], submitted)
    (tmp_path / "hub" / "hubuser").mkdir(parents=True)
    (tmp_path / "hub" / "hubuser" / "toy.ipynb").write_text(NB)
    lms.collect(tmp_path / "hub", ["toy"], submitted)

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
