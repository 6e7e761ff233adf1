"""Grading without root (a cluster job run as a normal user): bubblewrap in its unprivileged
user-namespace mode. Run as a throw-away local user; skipped where that cannot be arranged."""

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from autograde.config import ROOT

pytestmark = pytest.mark.slow
USER = "autograde-rootless"
SCRIPT = """import sys, tempfile
sys.path.insert(0, {fixtures!r})
from pathlib import Path
import nbformat
from autograde.build import samples
from autograde.grade import batch, sandbox
from autograde.results import intake
import toycourse

def main():
    print("MODE", sandbox.mode())
    root = Path(tempfile.mkdtemp(dir={work!r}))
    course = toycourse.make_course(root)
    demo = samples.demo_samples(nbformat.read(course.source("toy"), as_version=4), "toy", course)
    snoop = samples.edit(demo["correct"], "softmax", lambda s: s + "\\nimport os\\nprint('SEES', "
                         "os.path.exists({solutions!r}), os.getuid())\\n")
    samples.write({{"correct": demo["correct"], "partly_wrong": demo["partly_wrong"],
                   "untouched": demo["untouched"], "snoop": snoop}}, root / "in", "toy")
    batch.grade_all(course, intake.find(root / "in", ["toy"]), workers=2, limits=toycourse.LIMITS,
                    progress=False)
    for r in batch.load_results(course, "toy"):
        print("SCORE", r["student"], r["score"], r["sandbox"])
    nb = nbformat.read(course.work / "runs" / "toy" / "snoop" / "graded.ipynb", as_version=4)
    print(" ".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", [])))

if __name__ == "__main__":
    main()
"""


@pytest.fixture(scope="module")
def user():
    if os.geteuid() != 0 or not shutil.which("useradd") or not shutil.which("bwrap"):
        pytest.skip("needs root (to make a throw-away user), useradd and bwrap")
    made = subprocess.run(["useradd", "--no-create-home", "--shell", "/bin/sh", USER],
                          capture_output=True).returncode == 0
    yield USER
    if made:
        subprocess.run(["userdel", USER], capture_output=True)


def test_a_normal_user_grades_in_a_user_namespace_sandbox(user):
    work = Path(tempfile.mkdtemp(prefix="rootless-"))
    os.chmod(work, 0o777)
    script = work / "grade.py"
    script.write_text(SCRIPT.format(fixtures=str(ROOT / "tests" / "fixtures" / "toy"),
                                    work=str(work), solutions=str(ROOT / "solutions")))
    # the user's interpreter: the system's Python of the same version, with this environment's
    # packages on its path (a venv under /root is out of a normal user's reach)
    python = shutil.which(f"python{sys.version_info.major}.{sys.version_info.minor}", path="/usr/bin")
    site = next(p for p in sys.path if p.endswith("site-packages") and os.path.isdir(p))
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": f"{ROOT}{os.pathsep}{site}", "HOME": str(work)}
    runuser = shutil.which("runuser", path="/usr/sbin:/sbin:/usr/bin:/bin") or "runuser"
    probe = subprocess.run([runuser, "-u", user, "--", python or "python3", "-c",
                            "import torch, nbclient, autograde.grade.batch"], cwd=work, env=env,
                           capture_output=True, text=True)
    if not python or probe.returncode:
        pytest.skip("the checkout or its packages are out of a normal user's reach here: "
                    + probe.stderr[-200:])
    done = subprocess.run([runuser, "-u", user, "--", python, str(script)], cwd=work,
                          env=env, capture_output=True, text=True, timeout=900)
    shutil.rmtree(work, ignore_errors=True)
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    if "MODE none" in out:
        pytest.skip("this kernel refuses unprivileged user namespaces: no sandbox without root")
    assert "MODE userns" in out
    scores = dict(line.split()[1:3] for line in out.splitlines() if line.startswith("SCORE"))
    assert scores == {"correct": "5.0", "partly_wrong": "4.333333", "snoop": "5.0", "untouched": "0.0"}
    assert "SEES False" in out                      # the instructor's solutions are not there
