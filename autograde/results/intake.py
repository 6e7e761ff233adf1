"""Submissions in: an LMS download (Canvas, Moodle), a folder per student, or nbgrader's submitted/.

Every student is keyed by an id that never belongs to two people: the LMS's number where the file
name carries one, else the student's folder name (a JupyterHub user name). The display name is kept
beside the id, never used as one, so two students called Jane Smith stay two students.

How each LMS names the files of an assignment's "download all submissions" zip (read from the LMS's
own code; tests/test_lms.py builds its zips the same way):

  Canvas (lib/content_zipper.rb, `get_filename` and `add_upload_submission`):
      smithjane_12345_900001_lora.ipynb           <name>_<user id>_<file id>_<file as uploaded>
      smithjane_LATE_12345_900002_lora-1.ipynb    LATE_ when handed in after the due date; Canvas
                                                  renames a file handed in again (lora-1)
      o_brienmary_12399_900003_lora.ipynb         the name is the sortable name less everything but
                                                  word characters, so it may hold an underscore
      anon_Ab3dE_900004_lora.ipynb                anonymous grading: no name, no user id, the
      LATE_anon_Xy9zK_900005_lora.ipynb           submission's 5-character anonymous id
    The ids are read as Canvas reads them back (abstract_assignment.rb,
    `infer_comment_context_from_filename`): the first two all-digit `_` fields, here required to be
    adjacent; a name that leaves two readings is reported, never guessed.
  Moodle (mod/assign/classes/downloader.php since 4.1; mod/assign/locallib.php before):
      Jane Smith_1840021_assignsubmission_file/lora.ipynb    4.1 and later, one folder per student
      Jane Smith_1840021_assignsubmission_file_/lora.ipynb   3.1 to 4.0
      Jane Smith_1840021_assignsubmission_file_lora.ipynb    "download as files" and before 3.1
      Participant_1840025_assignsubmission_file/lora.ipynb   blind marking
    The number is the participant id, the one the grading worksheet calls "Participant 1840021";
    Moodle turns every `_` of a name into a space, so the name ends at `_<id>_assignsubmission_`.

A zip is read once, each entry streamed and its real bytes counted, never trusting its header: caps
on an entry's size, on how much it expands (a zip bomb), on the bytes read from the whole zip and on
the number of entries (ZipCaps). A broken, oversized or unsafe entry is refused and reported and
costs that entry only; every other student in the zip is read.

`collect` sorts what it finds into nbgrader's layout, `<submitted>/<student>/<assignment>/`: the
notebook under the assignment's own name, the student's other files beside it, `lms.json` (LMS,
display name, late flag, the names as handed in) and what nbgrader's feedback step needs:
`submission_secret.txt` (nbgrader's exchange writes one; a submission that came another way gets a
fresh one) and `timestamp.txt` where the submission time is known: nbgrader's exchange, Gradescope's
submission_metadata.json, a plain folder's file time. Canvas's and Moodle's zips hold no submission
time (both write the time of the download into every entry: Canvas through rubyzip's
`get_output_stream`, Moodle 4.1+ through ZipStream in files/classes/local/archive_writer/
zip_writer.php), so an LMS download gets no timestamp.txt and lateness is Canvas's LATE_ mark.

Nothing is skipped without a word: a name that matches no assignment, an unsafe zip entry (absolute
path, `..`, a symlink), a duplicate, a student id that is not a plain name (e.g. one that a
spreadsheet would run as a formula) is an error in the report; a resubmission or a case variant
(`lora-1.ipynb`, `LoRA.ipynb`) is taken with a warning. A source in which no submission is found
raises NothingFound, saying what was expected.
"""

from __future__ import annotations

import json
import re
import secrets
import shutil
import stat
import sys
import tempfile
import zipfile
import zlib
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from typing import Callable

from autograde.grade.batch import Submission

MOODLE_FOLDER = re.compile(r"^(?P<name>.*)_(?P<user>\d+)_assignsubmission_(?P<plugin>[a-z]+)_?$")
MOODLE_FLAT = re.compile(r"^(?P<name>.*?)_(?P<user>\d+)_assignsubmission_(?P<plugin>[a-z]+)_(?P<file>.+)$")
CANVAS_ANON = re.compile(r"^(?P<late>LATE_)?anon_(?P<anon>[1-9A-HJ-NP-Za-km-z]{5})_(?P<second>\d+)_"
                         r"(?P<file>.+)$")
CANVAS_ONLINE = re.compile(r"^(?:.*_)?\d+_(?:text|link)\.html$")   # a text entry or a URL: no file
# A student id is a file name in submitted/ and a cell in every CSV: letters, digits and . _ @ + -,
# starting with a letter, digit or _ (never = + - @, which a spreadsheet runs as a formula).
STUDENT_ID = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.@+-]{0,127}$")
JUNK = {"__MACOSX", ".ipynb_checkpoints", ".DS_Store", "Thumbs.db", "__pycache__"}
SIDECARS = {"timestamp.txt", "submission_secret.txt", "lms.json"}
EXPECTED = ("expected one of: a Canvas or Moodle 'download all submissions' zip or its extracted "
            "folder (Canvas: lastfirst_[LATE_]userid_id_<assignment>.ipynb; Moodle: "
            "'Full Name_userid_assignsubmission_file/<assignment>.ipynb'), FOLDER/<student>/"
            "<assignment>.ipynb, or nbgrader's submitted/<student>/<assignment>/<assignment>.ipynb")


@dataclass(frozen=True)
class ZipCaps:
    """What one zip may cost. Bytes are counted as they come out of the decompressor."""
    entry_mb: int = 200            # an entry larger than this is refused
    total_mb: int = 4096           # bytes read from the whole zip (taken or refused entries)
    entries: int = 20_000          # a zip listing more entries than this is refused whole
    ratio: int = 200               # an entry expanding more than this many times ...
    ratio_floor_mb: int = 10       # ... once past this size is refused (a zip bomb)


MAX_FILE = ZipCaps().entry_mb * 2**20      # bytes: a larger file is reported, not taken
CHUNK = 2**20


class NothingFound(ValueError):
    """No submission in a folder or zip (or a zip refused whole): the message says why."""


@dataclass
class IntakeReport:
    errors: list[str] = field(default_factory=list)      # inputs not taken
    warnings: list[str] = field(default_factory=list)    # taken, with a note

    def extend(self, other: "IntakeReport") -> None:
        self.errors += other.errors
        self.warnings += other.warnings

    def lines(self) -> list[str]:
        return ([f"not graded: {e}" for e in self.errors] +
                [f"note: {w}" for w in self.warnings])

    def print(self, file=None) -> None:
        for line in self.lines():
            print(line, file=file or sys.stderr)


@dataclass
class Entry:
    """One file as handed in, before it is given to a student and an assignment."""
    origin: str                      # its name in the zip or folder (for the report)
    student: str
    name: str
    lms: str
    late: bool
    file: str                        # the file's own name, the LMS's prefix removed
    read: Callable[[], bytes]
    time: datetime | None            # when it was handed in, where that is known
    path: Path | None = None         # where it is, for a folder read in place
    sidecar: Path | None = None      # nbgrader's submitted/<student>/<assignment>/ folder
    upload: int | None = None        # Canvas's file id: a later upload has a larger one

    @property
    def stem(self) -> str:
        return PurePosixPath(self.file).stem


# ---------------------------------------------------------------- names -> entries
def _unsafe(name: str) -> str | None:
    """Why a zip entry's name must not be extracted, or None."""
    parts = re.split(r"[/\\]", name)
    if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name):
        return "an absolute path"
    if ".." in parts:
        return "a path with '..'"
    if any(ord(ch) < 32 for ch in name):
        return "a control character in its name"
    return None


def _person(student: str, name: str, lms: str, late: bool, file: str, upload: int | None = None) -> dict:
    return {"student": student, "name": name, "lms": lms, "late": late, "file": file, "upload": upload}


def canvas_name(filename: str) -> dict | str | None:
    """Who handed in a file of a Canvas download, why it cannot be told (str), or None when the
    name is not Canvas's."""
    m = CANVAS_ANON.match(filename)
    if m:
        return _person(f"anon_{m['anon']}", "anonymous", "canvas", bool(m["late"]), m["file"],
                       int(m["second"]))
    fields = filename.split("_")
    readings = [i for i in range(len(fields) - 2)
                if fields[i].isascii() and fields[i].isdigit() and fields[i + 1].isascii()
                and fields[i + 1].isdigit() and "_".join(fields[i + 2:])]
    if not readings:
        if CANVAS_ONLINE.match(filename):
            return "a Canvas text entry or URL submission, not a file"
        return None
    if len(readings) > 1:
        ids = ", ".join(f"user {fields[i]} (file {'_'.join(fields[i + 2:])!r})" for i in readings)
        return f"a Canvas name with more than one reading: {ids}; rename it to name_userid_fileid_file"
    i = readings[0]
    late = i > 0 and fields[i - 1] == "LATE"
    name = "_".join(fields[:i - 1] if late else fields[:i])
    return _person(fields[i], name, "canvas", late, "_".join(fields[i + 2:]), int(fields[i + 1]))


def parse_name(parts: tuple[str, ...], assignments: set[str]) -> dict | str:
    """Who handed in the file at relative path `parts`: a dict, or why it cannot be told (str)."""
    head, last = parts[0], parts[-1]
    m = MOODLE_FOLDER.match(head)
    if m and len(parts) >= 2:
        return _person(m["user"], m["name"], "moodle", False, "/".join(parts[1:]))
    m = MOODLE_FLAT.match(head)
    if m and len(parts) == 1:
        return _person(m["user"], m["name"], "moodle", False, m["file"])
    if len(parts) == 1:
        who = canvas_name(last)
        if who is not None:
            return who
    if len(parts) == 2:                                       # FOLDER/<student>/<file>
        return _person(head, head, "", False, last)
    if len(parts) == 3 and parts[1] in assignments:           # submitted/<student>/<assignment>/
        return _person(head, head, "", False, last) | {"assignment_folder": parts[1]}
    if len(parts) == 1:
        return ("not named as Canvas or Moodle name files (lastfirst_userid_id_<file>, "
                "'Full Name_userid_assignsubmission_file/<file>'), and not in a student's folder")
    return "nested deeper than FOLDER/<student>/<file>"


class _Budget:
    def __init__(self, caps: ZipCaps):
        self.caps, self.used = caps, 0


def _zip_refusal(path: Path, caps: ZipCaps) -> str | None:
    """Why a zip is refused whole before its directory is parsed (its end record lists too many
    entries, or a central directory too large for that many), or None."""
    try:
        with path.open("rb") as f:
            end = zipfile._EndRecData(f)
    except (OSError, AttributeError):
        return None
    if not end:
        return None
    count, size = end[zipfile._ECD_ENTRIES_TOTAL], end[zipfile._ECD_SIZE]
    if count > caps.entries or size > caps.entries * 1024:
        return (f"it lists {count} entries ({size} bytes of directory), more than the cap of "
                f"{caps.entries} entries (--max-zip-entries raises it)")
    return None


def _extract(zf: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, budget: _Budget) -> str | None:
    """Stream one entry into `target`, counting real bytes; why it was refused, or None."""
    caps, real = budget.caps, 0
    why = None
    try:
        with zf.open(info) as src, target.open("wb") as out:
            while True:
                chunk = src.read(CHUNK)
                if not chunk:
                    break
                real += len(chunk)
                budget.used += len(chunk)
                if real > caps.entry_mb * 2**20:
                    why = (f"larger than {caps.entry_mb} MB (more than {real} bytes read; its header "
                           f"says {info.file_size})")
                elif real > caps.ratio_floor_mb * 2**20 and real > caps.ratio * max(info.compress_size, 1):
                    why = (f"expands more than {caps.ratio} times ({info.compress_size} bytes give more "
                           f"than {real}): a zip bomb")
                elif budget.used > caps.total_mb * 2**20:
                    why = f"past the cap of {caps.total_mb} MB read from this zip (--max-zip-mb raises it)"
                if why:
                    break
                out.write(chunk)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError, RuntimeError,
            ValueError) as err:
        why = f"unreadable ({type(err).__name__}: {err})"
    if why:
        target.unlink(missing_ok=True)
    return why


def _entries_of_zip(path: Path, assignments: set[str], report: IntakeReport, staging: Path | None,
                    caps: ZipCaps) -> list[Entry]:
    """The entries of an LMS zip, each streamed once into `staging` (names only without one)."""
    why = _zip_refusal(path, caps)
    if why:
        raise NothingFound(f"{path.name} is refused: {why}")
    entries, seen, budget = [], defaultdict(list), _Budget(caps)
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError) as err:
        raise NothingFound(f"{path} is not a readable zip ({err}); {EXPECTED}") from err
    with zf:
        infos = zf.infolist()
        if len(infos) > caps.entries:
            raise NothingFound(f"{path.name} is refused: it holds {len(infos)} entries, more than "
                               f"the cap of {caps.entries} (--max-zip-entries raises it)")
        for info in infos:
            seen[info.filename].append(info)
        for index, info in enumerate(infos):
            where = f"{path.name}: entry {info.filename!r}"
            parts = tuple(p for p in re.split(r"[/\\]", info.filename) if p)
            if info.is_dir() or not parts or any(p in JUNK for p in parts):
                continue
            why = _unsafe(info.filename)
            if stat.S_ISLNK(info.external_attr >> 16):
                why = "a symbolic link"
            elif info.flag_bits & 0x1:
                why = "encrypted"
            if why:
                report.errors.append(f"{where} is {why}: not extracted")
                continue
            if len(seen[info.filename]) > 1:
                if info is seen[info.filename][0]:
                    report.errors.append(f"{where} appears {len(seen[info.filename])} times in the "
                                         "zip: none of its copies is taken (which one is the submission?)")
                continue
            who = parse_name(parts, assignments)
            if isinstance(who, str):
                report.errors.append(f"{where}: {who}")
                continue
            read, time = None, None
            if not who["lms"]:       # a folder zipped by hand: its entry times are the files' own
                time = datetime(*info.date_time, tzinfo=timezone.utc)
            if staging is not None:
                target = staging / str(index)
                why = _extract(zf, info, target, budget)
                if why:
                    report.errors.append(f"{where} is refused: {why}")
                    continue
                read = target.read_bytes
            entries.append(Entry(info.filename, who["student"], who["name"], who["lms"], who["late"],
                                 who["file"], read, time, upload=who["upload"]))
    return entries


def _entries_of_folder(folder: Path, assignments: set[str], report: IntakeReport) -> list[Entry]:
    entries = []
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if any(p in JUNK for p in rel.parts):
            continue
        if path.is_symlink():
            report.errors.append(f"{rel}: a symbolic link, not followed")
            continue
        if path.is_dir() or path.name in SIDECARS and len(rel.parts) == 3:
            continue
        who = parse_name(rel.parts, assignments)
        if isinstance(who, str):
            report.errors.append(f"{rel}: {who}")
            continue
        if path.stat().st_size > MAX_FILE:
            report.errors.append(f"{rel}: larger than {MAX_FILE // 2**20} MB: not taken")
            continue
        sidecar = path.parent if "assignment_folder" in who else None
        time = _timestamp(sidecar) or (None if who["lms"] else
                                       datetime.fromtimestamp(path.stat().st_mtime, timezone.utc))
        entries.append(Entry(str(rel), who["student"], who["name"], who["lms"], who["late"],
                             who["file"], path.read_bytes, time, path, sidecar, who["upload"]))
        if sidecar and (sidecar / "lms.json").exists():
            _apply_sidecar(entries[-1], json.loads((sidecar / "lms.json").read_text()))
    return entries


def _apply_sidecar(entry: Entry, meta: dict) -> None:
    entry.name, entry.lms = meta.get("name", entry.name), meta.get("lms", entry.lms)
    entry.late = bool(meta.get("late", entry.late))


def _timestamp(folder: Path | None) -> datetime | None:
    if folder is None or not (folder / "timestamp.txt").exists():
        return None
    from nbgrader.utils import parse_utc
    return parse_utc((folder / "timestamp.txt").read_text().strip())


# ---------------------------------------------------------------- entries -> submissions
def _resubmission(stem: str, name: str) -> int | None:
    """Canvas's renamed resubmission (lora-2) or a case variant (LoRA): its number (0 if none)."""
    m = re.fullmatch(rf"{re.escape(name)}(?:-(\d+)| \((\d+)\))?", stem, re.I)
    return int(m[1] or m[2] or 0) if m else None


@dataclass
class Chosen:
    student: str
    assignment: str
    notebook: Entry
    extras: list[Entry]


def choose(entries: list[Entry], assignments: list[str], known: set[str], report: IntakeReport) -> list[Chosen]:
    """For each student and asked assignment, the one notebook that is the submission."""
    by_student = defaultdict(list)
    for e in entries:
        by_student[e.student].append(e)
    names = defaultdict(set)
    for e in entries:
        if e.lms:
            names[e.name].add(e.student)
    for name, ids in sorted(names.items()):
        if len(ids) > 1:
            report.warnings.append(f"{len(ids)} students named {name!r} (ids {', '.join(sorted(ids))}) "
                                   "are kept apart by their ids")
    chosen, other = [], defaultdict(int)
    for student, files in sorted(by_student.items()):
        if not STUDENT_ID.match(student):
            report.errors.append(f"{files[0].origin}: {student!r} is not a valid student id "
                                 "(letters, digits, . _ @ + -; starting with a letter, digit or _)")
            continue
        if len({e.name for e in files}) > 1:
            report.warnings.append(f"student {student} appears as {sorted({e.name for e in files})}: "
                                   "one student (one id)")
        files = _drop_duplicates(files, report)
        notebooks = [e for e in files if e.file.lower().endswith(".ipynb")]
        others = [e for e in files if e not in notebooks]
        taken = set()
        for name in assignments:
            pick = _pick(student, name, notebooks, report)
            if pick is None and len(assignments) == 1 and len(notebooks) == 1 and \
                    _known_as(notebooks[0], known) is None:
                pick = notebooks[0]
                report.warnings.append(f"{pick.origin}: the only notebook of student {student}, "
                                       f"taken as {name}")
            if pick is not None:
                taken.add(id(pick))
                extras = [e for e in others if e.sidecar == pick.sidecar]   # same submission
                chosen.append(Chosen(student, name, pick, extras))
        for e in notebooks:
            if id(e) in taken:
                continue
            match = _known_as(e, known)
            if match in assignments:
                continue                                    # reported by _pick
            if match:
                other[match] += 1
            else:
                report.errors.append(f"{e.origin}: matches no assignment (expected "
                                     f"{' or '.join(n + '.ipynb' for n in assignments)})")
        if not notebooks:
            report.errors.append(f"student {student} handed in no notebook "
                                 f"({', '.join(e.origin for e in files)})")
    if other:
        report.warnings.append("not asked for (-a): " + ", ".join(f"{n} ({k} notebooks)"
                                                                  for n, k in sorted(other.items())))
    return chosen


def _known_as(entry: Entry, known: set[str]) -> str | None:
    return next((n for n in sorted(known) if _resubmission(entry.stem, n) is not None), None)


def _drop_duplicates(files: list[Entry], report: IntakeReport) -> list[Entry]:
    by_file = defaultdict(list)
    for e in files:
        by_file[e.file, e.sidecar].append(e)
    out = []
    for (file, _), copies in by_file.items():
        if len(copies) == 1:
            out.append(copies[0])
        elif len({c.read() for c in copies}) == 1:
            out.append(copies[0])
            report.warnings.append(f"{file}: handed in {len(copies)} times with the same content "
                                   f"({', '.join(c.origin for c in copies)}); taken once")
        else:
            report.errors.append(f"{file}: handed in {len(copies)} times with different content "
                                 f"({', '.join(c.origin for c in copies)}); none is taken")
    return out


def _pick(student: str, name: str, notebooks: list[Entry], report: IntakeReport) -> Entry | None:
    """The submission among a student's notebooks that could be `name`: the later upload wins (in
    a Canvas download the larger Canvas file id, Canvas numbering files as they are uploaded;
    elsewhere the higher copy number: lora-2 over lora-1 over lora); the others are reported."""
    exact = [e for e in notebooks if e.stem == name and e.file.endswith(".ipynb")]
    if len(exact) > 1 and all(e.upload is None for e in exact):   # one per folder of nbgrader's layout
        report.errors.append(f"student {student}: {len(exact)} notebooks named {name}.ipynb "
                             f"({', '.join(e.origin for e in exact)}); none is graded")
        return None
    variants = [(n, e) for e in notebooks for n in [_resubmission(e.stem, name)] if n is not None]
    if not variants:
        return None

    def later(item):
        n, e = item
        return (-1 if e.upload is None else e.upload, n, e.stem == name)
    best = max(variants, key=later)
    ties = [e for n, e in variants if later((n, e)) == later(best)]
    if len(ties) > 1:
        report.errors.append(f"student {student}: {len(ties)} notebooks could be {name} "
                             f"({', '.join(e.origin for e in ties)}); none is graded")
        return None
    number, pick = best
    if pick.stem != name:
        why = ("its name differs in case" if not number else
               "renamed by Canvas on resubmission" if pick.lms == "canvas" else
               f"a numbered copy of {name}.ipynb")
        report.warnings.append(f"{pick.origin}: taken as {name}.ipynb ({why})")
    order = ("a larger Canvas file id" if pick.upload is not None else "a higher copy number")
    for _, e in variants:
        if e is not pick:
            report.warnings.append(f"{e.origin}: not graded; student {student} also handed in "
                                   f"{pick.origin}, the later upload ({order})")
    return pick


# ---------------------------------------------------------------- sources -> submitted/
def read(source: Path, assignments: list[str], known: list[str] | None = None,
         report: IntakeReport | None = None, staging: Path | None = None,
         caps: ZipCaps = ZipCaps()) -> list[Chosen]:
    """What a zip or folder holds, matched to students and assignments. A zip's entries are
    streamed once into `staging` (a folder the caller removes); without one, a zip gives names only."""
    report = report if report is not None else IntakeReport()
    known_set = set(known or []) | set(assignments)
    if not source.exists():
        raise NothingFound(f"{source} does not exist; {EXPECTED}")
    if source.is_file() and not zipfile.is_zipfile(source):
        raise NothingFound(f"{source} is neither a folder nor a zip; {EXPECTED}")
    if source.is_file() and staging is None:
        raise ValueError("reading a zip needs a staging folder (collect makes one)")
    entries = (_entries_of_zip(source, known_set, report, staging, caps) if source.is_file()
               else _entries_of_folder(source, known_set, report))
    chosen = choose(entries, assignments, known_set, report)
    if not chosen:
        lines = "\n  ".join(report.lines()[:12]) or "(it is empty)"
        raise NothingFound(f"no submission of {', '.join(assignments)} in {source}; {EXPECTED}. "
                           f"What was found:\n  {lines}")
    return chosen


def nbgrader_sidecars(folder: Path, time: datetime | None) -> None:
    """What nbgrader's feedback step reads beside a submission, where the exchange wrote none: a
    fresh secret (as `nbgrader submit` makes one) and the submission time where it is known."""
    if not (folder / "submission_secret.txt").exists():
        (folder / "submission_secret.txt").write_text(secrets.token_hex(64))
    if time is not None and not (folder / "timestamp.txt").exists():
        (folder / "timestamp.txt").write_text(stamp(time))


def _write(c: Chosen, dest: Path, report: IntakeReport) -> Path:
    folder = dest / c.student / c.assignment
    target = folder / f"{c.assignment}.ipynb"
    if c.notebook.path is not None and c.notebook.path.resolve() == target.resolve():
        nbgrader_sidecars(folder, c.notebook.time)                  # put there by hand: the file's time
        return target                                       # nbgrader's layout, read in place
    data = c.notebook.read()
    if folder.exists():
        if target.exists() and target.read_bytes() == data:
            nbgrader_sidecars(folder, None)
            return target                                   # unchanged: keep its timestamp
        report.warnings.append(f"{c.notebook.origin}: replaces the earlier submission in {folder}")
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    if folder.resolve().parent.parent != dest.resolve():
        raise RuntimeError(f"refusing to write outside {dest}: {folder}")
    target.write_bytes(data)
    for extra in c.extras:
        name = PurePosixPath(extra.file).name
        if name.startswith(".") or name in SIDECARS or name == target.name:
            report.errors.append(f"{extra.origin}: a file named {name!r} is not copied")
            continue
        (folder / name).write_bytes(extra.read())
    if c.notebook.sidecar is not None:
        for name in ("timestamp.txt", "submission_secret.txt"):
            if (c.notebook.sidecar / name).exists():
                shutil.copyfile(c.notebook.sidecar / name, folder / name)
    nbgrader_sidecars(folder, c.notebook.time)
    meta = {"lms": c.notebook.lms, "name": c.notebook.name, "late": c.notebook.late,
            "handed_in": [c.notebook.origin] + [e.origin for e in c.extras]}
    (folder / "lms.json").write_text(json.dumps(meta, indent=1))
    return target


def stamp(time: datetime) -> str:
    """nbgrader's timestamp.txt format."""
    return time.strftime("%Y-%m-%d %H:%M:%S.%f %Z")


def collect(source: Path, assignments: list[str], dest: Path, known: list[str] | None = None,
            report: IntakeReport | None = None, caps: ZipCaps = ZipCaps()) -> list[Submission]:
    """Sort a zip or folder into dest/<student>/<assignment>/ (nbgrader's submitted/ layout)."""
    report = report if report is not None else IntakeReport()
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".lms-", dir=dest.parent) as staging:
        subs = []
        for c in read(source, assignments, known, report, Path(staging), caps):
            path = _write(c, dest, report)
            subs.append(read_submission(c.student, c.assignment, path))
    return subs


def read_submission(student: str, assignment: str, path: Path) -> Submission:
    """A Submission with what lms.json next to it says (display name, LMS, late)."""
    meta_file = path.parent / "lms.json"
    meta = json.loads(meta_file.read_text()) if meta_file.exists() else {}
    return Submission(student, assignment, path, meta.get("name", student), meta.get("lms", ""),
                      bool(meta.get("late", False)))


def meta(path: Path) -> dict:
    """lms.json of a submitted/<student>/<assignment>/ folder ({} where there is none)."""
    file = path / "lms.json"
    return json.loads(file.read_text()) if file.exists() else {}


# ---------------------------------------------------------------- the old entry points (batch)
def find(folder: Path, assignments: list[str], report: IntakeReport | None = None) -> list[Submission]:
    """Submissions in FOLDER/<student>/<file> or FOLDER/<student>/<assignment>/<file>, in place
    (nothing is copied; `collect` is what the CLI uses). The report is printed if none is given."""
    own = report if report is not None else IntakeReport()
    chosen = read(folder, assignments, None, own)
    flat = [c for c in chosen if c.notebook.path is None or c.notebook.path.parent == folder]
    if flat:
        raise NothingFound(f"{folder} holds LMS files side by side ({flat[0].notebook.origin}): grade "
                           "it with `python -m autograde grade`, which sorts them into submitted/")
    if report is None:
        own.print()
    return [Submission(c.student, c.assignment, c.notebook.path, c.notebook.name, c.notebook.lms,
                       c.notebook.late) for c in chosen]


def unpack(zip_path: Path, into: Path, assignments: list[str] | None = None,
           report: IntakeReport | None = None) -> Path:
    """Extract an LMS zip into into/inbox/<zip name>/<student>/<assignment>/; returns that folder.
    Without `assignments`, the notebook names the zip holds (less Canvas's -N) are the assignments."""
    own = report if report is not None else IntakeReport()
    names = assignments or sorted(_assignments_in(zip_path))
    if not names:
        raise NothingFound(f"{zip_path} holds no notebook; {EXPECTED}")
    collect(zip_path, names, into / "inbox" / zip_path.stem, names, own)
    if report is None:
        own.print()
    return into / "inbox" / zip_path.stem


def _assignments_in(zip_path: Path) -> set[str]:
    """The notebook names a zip holds (for unpack, when it is not told the assignments)."""
    return {re.sub(r"(?:-\d+| \(\d+\))$", "", e.stem)
            for e in _entries_of_zip(zip_path, set(), IntakeReport(), None, ZipCaps())
            if e.file.lower().endswith(".ipynb")}
