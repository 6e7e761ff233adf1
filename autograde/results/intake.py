"""Submissions in: an LMS download (Canvas, Moodle), a folder per student, or nbgrader's submitted/.

Every student is keyed by an id that never belongs to two people: the LMS's number where the file
name carries one, else the student's folder name (a JupyterHub user name). The display name is kept
beside the id, never used as one, so two students called Jane Smith stay two students.

How each LMS names the files of an assignment's "download all submissions" zip:

    Canvas   smithjane_12345_900001_lora.ipynb          lastfirst_userid_<second id>_<file>
             smithjane_LATE_12399_900002_lora-1.ipynb   _LATE_ when handed in after the due date;
                                                        -1, -2 when Canvas renamed a resubmission
    Moodle   Jane Smith_12345_assignsubmission_file_/lora.ipynb   (one folder per student), or
             Jane Smith_12345_assignsubmission_file_lora.ipynb    (flat); the number is Moodle's
             participant id, the one its grading worksheet calls "Participant 12345"

`collect` sorts what it finds into nbgrader's layout, `<submitted>/<student>/<assignment>/`: the
notebook under the assignment's own name, the student's other files beside it, `timestamp.txt` (kept
when nbgrader's exchange wrote one; else the time the zip records for the file, or the file's
modification time) and `lms.json` (LMS, display name, late flag, the names as handed in).

Nothing is skipped without a word: a name that matches no assignment, an unsafe zip entry (absolute
path, `..`, a symlink), a duplicate, a student id that is not a plain name (e.g. one that a
spreadsheet would run as a formula) is an error in the report; a renamed resubmission or a case
variant (`lora-1.ipynb`, `LoRA.ipynb`) is taken with a warning. A source in which no submission is
found raises NothingFound, saying what was expected.
"""

from __future__ import annotations

import json
import re
import shutil
import stat
import sys
import zipfile
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from typing import Callable

from autograde.grade.batch import Submission

CANVAS = re.compile(r"^(?P<name>[^_]+)_(?P<late>LATE_)?(?P<user>\d+)_(?P<second>\d+)_(?P<file>.+)$")
MOODLE = re.compile(r"^(?P<name>.+?)_(?P<user>\d+)_assignsubmission_(?P<plugin>[a-z]+)_(?P<file>.*)$")
# A student id is a file name in submitted/ and a cell in every CSV: letters, digits and . _ @ + -,
# starting with a letter, digit or _ (never = + - @, which a spreadsheet runs as a formula).
STUDENT_ID = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.@+-]{0,127}$")
JUNK = {"__MACOSX", ".ipynb_checkpoints", ".DS_Store", "Thumbs.db", "__pycache__"}
SIDECARS = {"timestamp.txt", "submission_secret.txt", "lms.json"}
MAX_FILE = 200 * 2**20                # bytes: a larger entry is reported, not extracted
EXPECTED = ("expected one of: a Canvas or Moodle 'download all submissions' zip or its extracted "
            "folder (Canvas: lastfirst_[LATE_]userid_id_<assignment>.ipynb; Moodle: "
            "'Full Name_userid_assignsubmission_file_/<assignment>.ipynb'), FOLDER/<student>/"
            "<assignment>.ipynb, or nbgrader's submitted/<student>/<assignment>/<assignment>.ipynb")


class NothingFound(ValueError):
    """No submission in a folder or zip: the message says what was looked for."""


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
    time: datetime
    path: Path | None = None         # where it is, for a folder read in place
    sidecar: Path | None = None      # nbgrader's submitted/<student>/<assignment>/ folder

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


def _person(student: str, name: str, lms: str, late: bool, file: str) -> dict:
    return {"student": student, "name": name, "lms": lms, "late": late, "file": file}


def parse_name(parts: tuple[str, ...], assignments: set[str]) -> dict | str:
    """Who handed in the file at relative path `parts`: a dict, or why it cannot be told (str)."""
    head, last = parts[0], parts[-1]
    m = MOODLE.match(head)
    if m and len(parts) >= 2 and m["file"] == "":
        return _person(m["user"], m["name"], "moodle", False, "/".join(parts[1:]))
    if m and len(parts) == 1 and m["file"]:
        return _person(m["user"], m["name"], "moodle", False, m["file"])
    m = CANVAS.match(last)
    if m and len(parts) == 1:
        return _person(m["user"], m["name"], "canvas", bool(m["late"]), m["file"])
    if len(parts) == 2:                                       # FOLDER/<student>/<file>
        return _person(head, head, "", False, last)
    if len(parts) == 3 and parts[1] in assignments:           # submitted/<student>/<assignment>/
        return _person(head, head, "", False, last) | {"assignment_folder": parts[1]}
    if len(parts) == 1:
        return ("not named as Canvas or Moodle name files (lastfirst_userid_id_<file>, "
                "'Full Name_userid_assignsubmission_file_<file>'), and not in a student's folder")
    return "nested deeper than FOLDER/<student>/<file>"


def _entries_of_zip(path: Path, assignments: set[str], report: IntakeReport) -> list[Entry]:
    entries, seen = [], defaultdict(list)
    with zipfile.ZipFile(path) as zf:
        infos = zf.infolist()
    for info in infos:
        seen[info.filename].append(info)
    for info in infos:
        where = f"{path.name}: entry {info.filename!r}"
        parts = tuple(p for p in re.split(r"[/\\]", info.filename) if p)
        if info.is_dir() or not parts:
            continue
        if any(p in JUNK for p in parts):
            continue
        why = _unsafe(info.filename)
        if stat.S_ISLNK(info.external_attr >> 16):
            why = "a symbolic link"
        elif info.flag_bits & 0x1:
            why = "encrypted"
        elif info.file_size > MAX_FILE:
            why = f"larger than {MAX_FILE // 2**20} MB"
        if why:
            report.errors.append(f"{where} is {why}: not extracted")
            continue
        if len(seen[info.filename]) > 1:
            if info is seen[info.filename][0]:
                report.errors.append(f"{where} appears {len(seen[info.filename])} times in the zip: "
                                     "none of its copies is taken (which one is the submission?)")
            continue
        who = parse_name(parts, assignments)
        if isinstance(who, str):
            report.errors.append(f"{where}: {who}")
            continue
        time = datetime(*info.date_time, tzinfo=timezone.utc)
        entries.append(Entry(info.filename, who["student"], who["name"], who["lms"], who["late"],
                             who["file"], _zip_reader(path, info.filename), time))
    return entries


def _zip_reader(path: Path, name: str) -> Callable[[], bytes]:
    def read() -> bytes:
        with zipfile.ZipFile(path) as zf:
            return zf.read(name)
    return read


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
        time = _timestamp(sidecar) or datetime.fromtimestamp(path.stat().st_mtime, timezone.utc)
        entries.append(Entry(str(rel), who["student"], who["name"], who["lms"], who["late"],
                             who["file"], path.read_bytes, time, path, sidecar))
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
    exact = [e for e in notebooks if e.stem == name and e.file.endswith(".ipynb")]
    if len(exact) > 1:                        # one per folder of nbgrader's layout, say
        report.errors.append(f"student {student}: {len(exact)} notebooks named {name}.ipynb "
                             f"({', '.join(e.origin for e in exact)}); none is graded")
        return None
    variants = [(n, e) for e in notebooks if e not in exact
                for n in [_resubmission(e.stem, name)] if n is not None]
    if exact:
        for _, e in variants:
            report.warnings.append(f"{e.origin}: not graded; student {student} also handed in "
                                   f"{exact[0].origin}, which is named {name}.ipynb")
        return exact[0]
    if not variants:
        return None
    best = max(n for n, _ in variants)
    top = [e for n, e in variants if n == best]
    if len(top) > 1:
        report.errors.append(f"student {student}: {len(top)} notebooks could be {name} "
                             f"({', '.join(e.origin for e in top)}); none is graded")
        return None
    why = ("renamed by Canvas on resubmission" if best else "its name differs in case")
    report.warnings.append(f"{top[0].origin}: taken as {name}.ipynb ({why})")
    for _, e in variants:
        if e is not top[0]:
            report.warnings.append(f"{e.origin}: not graded; {top[0].origin} is the later copy")
    return top[0]


# ---------------------------------------------------------------- sources -> submitted/
def read(source: Path, assignments: list[str], known: list[str] | None = None,
         report: IntakeReport | None = None) -> list[Chosen]:
    """What a zip or folder holds, matched to students and assignments (nothing written)."""
    report = report if report is not None else IntakeReport()
    known_set = set(known or []) | set(assignments)
    if not source.exists():
        raise NothingFound(f"{source} does not exist; {EXPECTED}")
    if source.is_file() and not zipfile.is_zipfile(source):
        raise NothingFound(f"{source} is neither a folder nor a zip; {EXPECTED}")
    entries = (_entries_of_zip(source, known_set, report) if source.is_file()
               else _entries_of_folder(source, known_set, report))
    chosen = choose(entries, assignments, known_set, report)
    if not chosen:
        lines = "\n  ".join(report.lines()[:12]) or "(it is empty)"
        raise NothingFound(f"no submission of {', '.join(assignments)} in {source}; {EXPECTED}. "
                           f"What was found:\n  {lines}")
    return chosen


def _write(c: Chosen, dest: Path, report: IntakeReport) -> Path:
    folder = dest / c.student / c.assignment
    target = folder / f"{c.assignment}.ipynb"
    if c.notebook.path is not None and c.notebook.path.resolve() == target.resolve():
        if not (folder / "timestamp.txt").exists():         # put there by hand: the file's time
            (folder / "timestamp.txt").write_text(_stamp(c.notebook.time))
        return target                                       # nbgrader's layout, read in place
    data = c.notebook.read()
    if folder.exists():
        if target.exists() and target.read_bytes() == data:
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
    if not (folder / "timestamp.txt").exists():
        (folder / "timestamp.txt").write_text(_stamp(c.notebook.time))
    meta = {"lms": c.notebook.lms, "name": c.notebook.name, "late": c.notebook.late,
            "handed_in": [c.notebook.origin] + [e.origin for e in c.extras]}
    (folder / "lms.json").write_text(json.dumps(meta, indent=1))
    return target


def _stamp(time: datetime) -> str:
    """nbgrader's timestamp.txt format."""
    return time.strftime("%Y-%m-%d %H:%M:%S.%f %Z")


def collect(source: Path, assignments: list[str], dest: Path, known: list[str] | None = None,
            report: IntakeReport | None = None) -> list[Submission]:
    """Sort a zip or folder into dest/<student>/<assignment>/ (nbgrader's submitted/ layout)."""
    report = report if report is not None else IntakeReport()
    subs = []
    for c in read(source, assignments, known, report):
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
            for e in _entries_of_zip(zip_path, set(), IntakeReport()) if e.file.lower().endswith(".ipynb")}
