"""Gradescope: an autograder zip that grades with this same grader.

    python -m autograde gradescope -a lora [--out gradescope-lora.zip] [--visibility after_published]

The zip holds the course package (autograde/, course_lib/, pyproject.toml, constraints.txt,
nbgrader_config.py), the assignment's solutions/<name>/ and notebooks/<name>/, and Gradescope's two
scripts:

* setup.sh (run once when Gradescope builds the image): a venv at /autograder/venv with the course
  installed from constraints.txt (bubblewrap too, for the sandbox where the container allows it);
* run_autograder (run per submission): `python -m autograde.results.gradescope run`, which takes the
  notebook from /autograder/submission/, grades it exactly as `python -m autograde grade` does
  (reference calibration, sandbox, hidden cases, named mistakes) and writes
  /autograder/results/results.json: a test per test cell with its score, maximum, visibility and
  our feedback lines, the total, and a summary for the student. A submission without a notebook
  of the assignment's name gets a results.json that says what was expected, not a crash.

AUTOGRADER_ROOT (default /autograder) and AUTOGRADE_PYTHON (default /autograder/venv/bin/python)
let a test run run_autograder outside Gradescope (tests/test_gradescope.py).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from autograde.config import ROOT, Course
from autograde.grade import batch
from autograde.results import intake, nbgrader_dirs

PACKAGE = ["autograde", "course_lib", "pyproject.toml", "constraints.txt", "nbgrader_config.py",
           "README.md"]
VISIBILITY = ("visible", "hidden", "after_due_date", "after_published")

SETUP = """#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image (Ubuntu, Python 3).
set -euo pipefail
cd /autograder/source
apt-get update -qq
apt-get install -y -qq python3 python3-venv python3-pip bubblewrap >/dev/null
python3 -m venv /autograder/venv
/autograder/venv/bin/pip install -q --upgrade pip
# A CPU build of torch: add your wheel index here if the constraints' torch is not on the default one
# (see constraints.txt).
PIP_EXTRA_INDEX_URL="{extra_index}" /autograder/venv/bin/pip install -q -c constraints.txt -e .
"""

RUN = """#!/usr/bin/env bash
# Gradescope runs this per submission: /autograder/submission/ in, /autograder/results/results.json out.
set -uo pipefail
ROOT="${{AUTOGRADER_ROOT:-/autograder}}"
PYTHON="${{AUTOGRADE_PYTHON:-$ROOT/venv/bin/python}}"
cd "$ROOT/source"
exec "$PYTHON" -m autograde.results.gradescope run --root "$ROOT" -a {name} --visibility {visibility}
"""


def _tracked(path: Path) -> list[Path]:
    """The files of path that git tracks (no caches, no local junk); all files if not in git."""
    done = subprocess.run(["git", "ls-files", "-z", "--", str(path)], cwd=ROOT, capture_output=True)
    if done.returncode == 0 and done.stdout:
        return [ROOT / p for p in done.stdout.decode().split("\0") if p]
    return [p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts]


def build(course: Course, name: str, out: Path, visibility: str = "visible",
          extra_index: str = "") -> Path:
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
        for script, text in (("setup.sh", SETUP.format(extra_index=extra_index)),
                             ("run_autograder", RUN.format(name=name, visibility=visibility))):
            info = zipfile.ZipInfo(script)
            info.external_attr = 0o100755 << 16
            zf.writestr(info, text)
    return out


# ---------------------------------------------------------------- on Gradescope
def results(result: dict | None, visibility: str, why: str = "") -> dict:
    """Gradescope's results.json from one graded result (or an explanation when there is none)."""
    if result is None:
        return {"score": 0.0, "output": why, "visibility": "visible", "stdout_visibility": "hidden",
                "tests": []}
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
    lines = [f"Score: {result['score']:.2f} / {result['max_score']:g}"]
    lines += [f"Note from the grader: {n}" for n in result.get("problems", []) + result.get("tampering", [])]
    if manual:
        lines.append(f"Graded by hand in Gradescope: {', '.join(manual)}")
    return {"score": round(result["score"], 4), "output": "\n".join(lines), "visibility": "visible",
            "stdout_visibility": "hidden", "tests": tests}


def _student(root: Path) -> str:
    """Gradescope's submission_metadata.json names the submitter; else 'student'."""
    try:
        users = json.loads((root / "submission_metadata.json").read_text()).get("users", [])
        return "gs" + str(users[0]["id"])
    except (OSError, ValueError, KeyError, IndexError):
        return "student"


def run(root: Path, name: str, visibility: str = "visible") -> dict:
    """Grade /autograder/submission and write /autograder/results/results.json; returns it."""
    source, out = Path.cwd(), root / "results" / "results.json"
    course = Course(solutions=source / "solutions", notebooks=source / "notebooks",
                    work=root / "work")
    inbox = root / "work" / "inbox" / _student(root)
    if inbox.exists():
        shutil.rmtree(inbox)
    inbox.mkdir(parents=True)
    for f in (root / "submission").rglob("*"):
        if f.is_file() and not f.is_symlink() and "__MACOSX" not in f.parts:
            shutil.copyfile(f, inbox / f.name)
    report = intake.IntakeReport()
    try:
        subs = intake.collect(inbox.parent, [name], nbgrader_dirs.submitted_root(course), [name],
                           report)
    except intake.NothingFound:
        data = results(None, visibility, f"No notebook to grade: upload {name}.ipynb (found: "
                                         f"{', '.join(sorted(p.name for p in inbox.iterdir())) or 'nothing'}).")
    else:
        batch.grade_all(course, subs, workers=1, force=True, progress=False)
        [result] = [r for r in batch.load_results(course, name) if r["student"] == subs[0].student]
        data = results(result, visibility)
        if report.warnings:
            data["output"] += "\n" + "\n".join(f"Note: {w}" for w in report.warnings)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(data, indent=1))
    return data


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m autograde.results.gradescope")
    sub = ap.add_subparsers(dest="command", required=True)
    p = sub.add_parser("run", help="on Gradescope: grade the submission, write results.json")
    p.add_argument("--root", type=Path, default=Path("/autograder"))
    p.add_argument("-a", "--assignment", required=True)
    p.add_argument("--visibility", default="visible", choices=VISIBILITY)
    args = ap.parse_args(argv)
    data = run(args.root, args.assignment, args.visibility)
    print(data["output"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
