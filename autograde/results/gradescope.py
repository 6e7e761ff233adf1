"""Gradescope: an autograder zip that grades with this same grader.

    python -m autograde gradescope -a lora [--out gradescope-lora.zip] [--visibility after_published]
                                   [--torch-index URL] [--allow-unsandboxed]

The zip holds the course package (autograde/, course_lib/, pyproject.toml, constraints.txt,
nbgrader_config.py), the assignment's solutions/<name>/ and notebooks/<name>/, and Gradescope's two
scripts (Gradescope's autograder specification: setup.sh and run_autograder at the zip's root,
/autograder/results/results.json out):

* setup.sh, run once as root when Gradescope builds the image. Gradescope's default base image is
  Ubuntu 22.04 with Python 3.10; setup.sh brings its own Python 3.11 with uv (as Otter brings
  conda), and falls back to the image's python3 where uv cannot fetch one: constraints.txt resolves
  on both (tests/test_gradescope.py checks every runtime pin for 3.10 and 3.11 against the registry).
  torch comes first, its CPU build from PyTorch's CPU index (PyPI's Linux wheel is the CUDA build,
  over 500 MB). It installs bubblewrap, and `lockdown` makes /autograder root's alone but for what
  the sandbox shows a kernel (sandbox.course_paths: course_lib, spec.py and sandboxed/, the
  assignment's cases.py) and the interpreter: where the container refuses bubblewrap's namespaces
  the kernel runs as the sandbox's unprivileged grading uid (sandbox.BASE_UID + slot, no login, no
  home), which can then read no answer and write no result.
* run_autograder, run per submission: `python -m autograde.results.gradescope run`, which takes
  the notebook from /autograder/submission/, grades it exactly as `python -m autograde grade` does (reference
  calibration, sandbox, hidden cases, named mistakes) and writes results.json: a test per test cell
  with its score, maximum, visibility and our feedback lines, the total, a summary, and in
  extra_data the isolation the kernel ran under (sandbox.mode()) and what needs a look.

results.json is always written, and only by the grader's own process once every process the kernel
started is gone: the grader is the child subreaper of everything below it (an orphaned student
process comes back to it, not to init), kills what is left after grading, then writes the file
(atomically). A submission without a notebook gets a result that says what to upload; a grader error
(the sandbox failing to start, a broken reference) gives 0 points, the error in the instructor's
stdout, a message to the student, and "needs a look" (in the output and in extra_data). The
visibility chosen at build time applies to the score too.

Where no sandbox can run (bubblewrap cannot create its namespaces, as under Docker's default seccomp
profile, and no separate kernel user mode), the submission is not graded, with a result that says
why, unless the zip was built with --allow-unsandboxed: then student code runs as root beside the
sources, and every result says so.

AUTOGRADER_ROOT (default /autograder) and AUTOGRADE_PYTHON (default /autograder/venv/bin/python)
let a test run run_autograder outside Gradescope (tests/test_gradescope.py).
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import shutil
import stat
import subprocess
import sys
import traceback
import zipfile
from datetime import datetime
from pathlib import Path

import psutil

from autograde.config import ROOT, Course
from autograde.grade import batch, sandbox
from autograde.results import intake, nbgrader_dirs

PACKAGE = ["autograde", "course_lib", "pyproject.toml", "constraints.txt", "nbgrader_config.py",
           "README.md"]
VISIBILITY = ("visible", "hidden", "after_due_date", "after_published")
BASE_IMAGE = "Ubuntu 22.04 (Gradescope's default autograder base image, Python 3.10)"
TORCH_INDEX = "https://download.pytorch.org/whl/cpu"
UV = "0.13.9"                         # uv brings the interpreter: python-build-standalone 3.11
PYTHON = "3.11"
LOOK = "needs a look"

SETUP = """#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image. Its default base image is
# {base_image}: this script brings Python {python} (uv) and falls back to the image's python3.
set -euo pipefail
cd /autograder/source
apt-get update -qq
apt-get install -y -qq python3 python3-venv bubblewrap ca-certificates >/dev/null
python3 -m venv /autograder/uv
/autograder/uv/bin/pip install -q "uv=={uv}"
uv=/autograder/uv/bin/uv
export UV_PYTHON_INSTALL_DIR=/autograder/python       # readable by the kernel's user, not under /root
if "$uv" python install {python} && "$uv" venv -q --python {python} /autograder/venv; then
    echo "setup.sh: Python {python} from uv"
else
    echo "setup.sh: uv brought no Python {python}: the image's $(python3 --version) takes its own pins"
    "$uv" venv -q --python "$(command -v python3)" /autograder/venv
fi
py=/autograder/venv/bin/python
torch=$(sed -n 's/^torch==\\([^ ;]*\\).*/\\1/p' constraints.txt)
# torch's CPU build from PyTorch's CPU index first: PyPI's Linux wheel is the CUDA build (500+ MB)
"$uv" pip install -q --python "$py" --no-deps --index-url "{torch_index}" "torch==$torch"
"$uv" pip install -q --python "$py" -c constraints.txt -e .
# /autograder root's alone, but for what a kernel reads: where namespaces are refused the kernel
# runs as the sandbox's unprivileged grading uid, which must read no answer and write no result
"$py" -m autograde.results.gradescope lockdown --root /autograder -a {name}
"""

RUN = """#!/usr/bin/env bash
# Gradescope runs this per submission: /autograder/submission/ in, /autograder/results/results.json out.
set -uo pipefail
ROOT="${{AUTOGRADER_ROOT:-/autograder}}"
PYTHON="${{AUTOGRADE_PYTHON:-$ROOT/venv/bin/python}}"
cd "$ROOT/source"
exec "$PYTHON" -m autograde.results.gradescope run --root "$ROOT" -a {name} --visibility {visibility}{unsandboxed}
"""


def _tracked(path: Path) -> list[Path]:
    """The files of path that git tracks (no caches, no local junk); all files if not in git."""
    done = subprocess.run(["git", "ls-files", "-z", "--", str(path)], cwd=ROOT, capture_output=True)
    if done.returncode == 0 and done.stdout:
        return [ROOT / p for p in done.stdout.decode().split("\0") if p]
    return [p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts]


def scripts(name: str, visibility: str = "visible", torch_index: str = TORCH_INDEX,
            allow_unsandboxed: bool = False) -> dict:
    """setup.sh and run_autograder for one assignment."""
    return {"setup.sh": SETUP.format(base_image=BASE_IMAGE, python=PYTHON, uv=UV, name=name,
                                     torch_index=torch_index),
            "run_autograder": RUN.format(name=name, visibility=visibility,
                                         unsandboxed=" --allow-unsandboxed" if allow_unsandboxed else "")}


def build(course: Course, name: str, out: Path, visibility: str = "visible",
          torch_index: str = TORCH_INDEX, allow_unsandboxed: bool = False) -> Path:
    if name not in course.assignments():
        raise ValueError(f"no assignment {name!r} in {course.solutions}")
    if visibility not in VISIBILITY:
        raise ValueError(f"visibility must be one of {VISIBILITY}")
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for item in PACKAGE:
            path = ROOT / item
            files = _tracked(path) if path.is_dir() else ([path] if path.exists() else [])
            for f in files:
                zf.write(f, f.relative_to(ROOT).as_posix())
        for folder, arc in ((course.folder(name), f"solutions/{name}"),
                            (course.release(name).parent, f"notebooks/{name}")):
            for f in sorted(folder.rglob("*")):
                if f.is_file() and "__pycache__" not in f.parts and ".ipynb_checkpoints" not in f.parts:
                    zf.write(f, f"{arc}/{f.relative_to(folder).as_posix()}")
        for script, text in scripts(name, visibility, torch_index, allow_unsandboxed).items():
            info = zipfile.ZipInfo(script)
            info.external_attr = 0o100755 << 16
            zf.writestr(info, text)
    return out


# ---------------------------------------------------------------- on Gradescope: the image
def lockdown(root: Path, name: str) -> list[Path]:
    """Make /autograder root's alone, then open to every user exactly what a kernel reads: the
    kernel-side files (sandbox.course_paths) with the folders above them, and the interpreter. The
    assignment's cases.py is made readable but its folder stays shut: bubblewrap binds the file
    itself into the sandbox, and the sandbox's user mode gives the kernel a copy. Returns the
    paths opened. Run by setup.sh after the install."""
    source = root / "source"
    for path in [root, *[p for p in root.rglob("*") if not p.is_symlink()]]:
        if path.parts[len(root.parts):len(root.parts) + 1] in (("venv",), ("python",), ("uv",)):
            continue                           # the interpreter stays as installed: readable by all
        mode = path.lstat().st_mode
        os.chown(path, 0, 0, follow_symlinks=False)
        os.chmod(path, stat.S_IMODE(mode) & 0o700)
    shown = [source / p.relative_to(ROOT) if p.is_relative_to(ROOT) else p
             for p in map(Path, sandbox.course_paths())]
    opened = []
    for path in shown:
        if not path.exists():
            continue
        for parent in [*reversed(path.parents)]:
            if parent == root or root in parent.parents:
                os.chmod(parent, parent.stat().st_mode | 0o055)        # r-x for group and others
        for p in [path, *(path.rglob("*") if path.is_dir() else [])]:
            os.chmod(p, p.stat().st_mode | (0o055 if p.is_dir() else 0o044))
            opened.append(p)
    cases = Course(solutions=source / "solutions", notebooks=source / "notebooks",
                   work=root / "work").cases_file(name)
    if cases.exists():
        os.chmod(cases, cases.stat().st_mode | 0o044)
        opened.append(cases)
    return opened


# ---------------------------------------------------------------- on Gradescope: a submission
def results(result: dict | None, visibility: str, why: str = "", look: list | None = None) -> dict:
    """Gradescope's results.json from one graded result (or an explanation when there is none)."""
    if result is None:
        data = {"score": 0.0, "output": why, "visibility": visibility, "stdout_visibility": "hidden",
                "tests": []}
        if look:
            data["extra_data"] = {LOOK: look}
        return data
    tests, manual = [], []
    for i, t in enumerate(result["tests"], 1):
        if t.get("manual") or t.get("score") is None:
            manual.append(t["id"])
            continue
        full = t["score"] >= t["points"]
        tests.append({"number": str(i), "name": t["id"], "score": round(t["score"], 4),
                      "max_score": t["points"], "status": "passed" if full else "failed",
                      "visibility": visibility,
                      "output": "\n".join(t.get("lines", [])) or "every check passed"})
    lines = [f"Score: {result['score']:.2f} / {result['max_score']:g}"] if visibility == "visible" else []
    lines += [f"Note from the grader: {n}" for n in result.get("problems", []) + result.get("tampering", [])]
    if manual:
        lines.append(f"Graded by hand in Gradescope: {', '.join(manual)}")
    data = {"score": round(result["score"], 4), "output": "\n".join(lines), "visibility": visibility,
            "stdout_visibility": "hidden", "tests": tests, "extra_data": {"sandbox": result.get("sandbox")}}
    if result.get("needs_look"):
        data["extra_data"][LOOK] = list(result["needs_look"])
    return data


def _student(root: Path) -> tuple[str, datetime | None]:
    """Gradescope's submission_metadata.json: the submitter ('gs<id>') and the submission time."""
    try:
        meta = json.loads((root / "submission_metadata.json").read_text())
    except (OSError, ValueError):
        return "student", None
    users = meta.get("users") or [{}]
    student = f"gs{users[0]['id']}" if isinstance(users[0], dict) and users[0].get("id") else "student"
    try:
        return student, datetime.fromisoformat(meta["created_at"])
    except (KeyError, TypeError, ValueError):
        return student, None


def _become_subreaper() -> None:
    """Orphaned descendants (a student's daemon) are reparented to this process, not to init."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)       # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        pass


def _end_descendants() -> list[str]:
    """Kill every process below this one (the subreaper gets every orphan back); what was killed."""
    me = psutil.Process()
    killed = []
    for _ in range(5):
        left = me.children(recursive=True)
        if not left:
            break
        for p in left:
            try:
                killed.append(f"{p.pid} {p.name()}")
                p.kill()
            except psutil.Error:
                pass
        psutil.wait_procs(left, timeout=5)
    return killed


def _isolation(allow_unsandboxed: bool) -> tuple[bool, str]:
    """(may grade, what to say): the sandbox's mode, or why student code must not run here."""
    if allow_unsandboxed:               # the sandbox's own opt-in (its ALLOW_ENV), for the workers too
        os.environ["AUTOGRADE_ALLOW_UNSANDBOXED"] = "1"
    how = sandbox.mode()
    if how not in ("none", "unsandboxed"):
        return True, ""
    warning = sandbox.isolation_warning() or "no sandbox can run here"
    if allow_unsandboxed:
        return True, ("graded WITHOUT a sandbox (the autograder was built with --allow-unsandboxed): "
                      f"student code ran as root beside the sources and the results; {warning}")
    return False, (f"not graded: no sandbox can run in this container ({warning}), and student code "
                   "runs as root only where the autograder was built with --allow-unsandboxed")


def grade(root: Path, name: str, visibility: str = "visible", allow_unsandboxed: bool = False) -> dict:
    """Grade /autograder/submission; the results.json data (not written)."""
    ok, said = _isolation(allow_unsandboxed)
    if not ok:
        print(said)
        return results(None, visibility, "Your submission could not be graded automatically here; "
                       "your instructor has been told and will grade it.", [said])
    source = Path.cwd()
    course = Course(solutions=source / "solutions", notebooks=source / "notebooks", work=root / "work")
    course.work.mkdir(parents=True, exist_ok=True)
    course.work.chmod(0o700)            # reference outputs, runs, results: the grader's alone
    student, when = _student(root)
    inbox = root / "work" / "inbox" / student
    if inbox.exists():
        shutil.rmtree(inbox)
    inbox.mkdir(parents=True)
    for f in (root / "submission").rglob("*"):
        if f.is_file() and not f.is_symlink() and "__MACOSX" not in f.parts:
            shutil.copyfile(f, inbox / f.name)
            if when is not None:
                os.utime(inbox / f.name, (when.timestamp(), when.timestamp()))
    report = intake.IntakeReport()
    try:
        subs = intake.collect(inbox.parent, [name], nbgrader_dirs.submitted_root(course), [name], report)
    except intake.NothingFound:
        found = ", ".join(sorted(p.name for p in inbox.iterdir())) or "nothing"
        return results(None, visibility, f"No notebook to grade: upload {name}.ipynb (found: {found}).")
    batch.grade_all(course, subs, workers=1, force=True, progress=False)
    [result] = [r for r in batch.load_results(course, name) if r["student"] == subs[0].student]
    if said:
        result = {**result, "problems": [said, *result.get("problems", [])],
                  "needs_look": [said, *result.get("needs_look", [])]}
    data = results(result, visibility)
    if report.warnings:
        data["output"] += "\n" + "\n".join(f"Note: {w}" for w in report.warnings)
    return data


def run(root: Path, name: str, visibility: str = "visible", allow_unsandboxed: bool = False) -> dict:
    """Grade the submission and write /autograder/results/results.json, whatever happens: from this
    process, after every process below it is gone. Returns what was written."""
    _become_subreaper()
    try:
        data = grade(root, name, visibility, allow_unsandboxed)
    except BaseException as err:                     # a grader error is a result, never a missing one
        if isinstance(err, KeyboardInterrupt):
            raise
        print(f"grader error, graded 0 and flagged:\n{traceback.format_exc()}")
        why = f"the grader failed: {type(err).__name__}: {err}"
        data = results(None, visibility, "The autograder could not grade this submission (an error "
                       "of the grader, not of your work); your instructor has been told and will "
                       "look at it.", [why])
    killed = _end_descendants()
    if killed:
        print(f"killed what the grading left running: {', '.join(killed)}")
    out = root / "results" / "results.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".results-{os.getpid()}.json")
    tmp.write_text(json.dumps(data, indent=1))
    os.chmod(tmp, 0o644)
    os.replace(tmp, out)
    return data


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m autograde.results.gradescope")
    sub = ap.add_subparsers(dest="command", required=True)
    p = sub.add_parser("run", help="on Gradescope: grade the submission, write results.json")
    p.add_argument("--root", type=Path, default=Path("/autograder"))
    p.add_argument("-a", "--assignment", required=True)
    p.add_argument("--visibility", default="visible", choices=VISIBILITY)
    p.add_argument("--allow-unsandboxed", action="store_true",
                   help="where no sandbox can run, run student code as root anyway (said in every result)")
    p = sub.add_parser("lockdown", help="in setup.sh: /autograder root's alone but what a kernel reads")
    p.add_argument("--root", type=Path, default=Path("/autograder"))
    p.add_argument("-a", "--assignment", required=True)
    args = ap.parse_args(argv)
    if args.command == "lockdown":
        opened = lockdown(args.root, args.assignment)
        print(f"lockdown: {args.root} is root's; readable by the kernel's user: "
              f"{', '.join(str(p) for p in opened if not p.is_dir())}")
        return 0
    data = run(args.root, args.assignment, args.visibility, args.allow_unsandboxed)
    print(data["output"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
