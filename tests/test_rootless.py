"""Grading without bubblewrap as root. A cluster job run as a normal user: bubblewrap in its
unprivileged user-namespace mode, run as a throw-away local user (skipped where that cannot be
arranged). A container that refuses namespaces (Gradescope's): student code as a separate
unprivileged uid that can neither read the sources nor write the results."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
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
        print("ISOLATION", r["isolation"]["mode"], r["isolation"]["warm"], r["isolation"]["pid_namespace"])
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
    isolation = {line for line in out.splitlines() if line.startswith("ISOLATION")}
    assert isolation == {"ISOLATION userns True True"}      # warm kernels in user namespaces too


# ---------------------------------------------------------------- no namespaces: a separate uid
# A Gradescope-like container: bubblewrap cannot create namespaces (AUTOGRADE_NO_SANDBOX stands for
# Docker's seccomp profile), the grader is root, the course is laid out as in /autograder/source
# (solutions/ and the work folder 0700, the results folder root's). Student code runs as a
# separate unprivileged uid ("user" mode); these students attack what that mode must protect.
USER_MODE_SCRIPT = """import json, sys, os
sys.path.insert(0, {fixtures!r})
sys.path.insert(0, {tests!r})
from pathlib import Path
import nbformat
from autograde.build import samples
from autograde.config import Course
from autograde.grade import batch, sandbox
from autograde.results import intake
import toycourse, test_rootless as T

source, results = Path({source!r}), Path({results!r})
course = Course(solutions=source / "solutions", notebooks=source / "notebooks", work=Path({work!r}))
src = nbformat.read(course.source("toy"), as_version=4)
demo = samples.demo_samples(src, "toy", course)
attack = T.ATTACK.format(secret=str(course.source("toy")), results=str(results / "results.json"),
                         work=str(course.work / "results"), name={name!r})
notebooks = {{"correct": demo["correct"], "partly_wrong": demo["partly_wrong"],
              "untouched": demo["untouched"],
              "attacker": samples.edit(demo["correct"], "softmax", lambda s: s + "\\n" + attack)}}
samples.write(notebooks, Path({inbox!r}), "toy")
print("MODE", sandbox.mode())
batch.grade_all(course, intake.find(Path({inbox!r}), ["toy"]), workers=2, limits=toycourse.LIMITS,
                progress=False, protect=[results])
out = {{r["student"]: {{"score": r["score"], "isolation": r["isolation"], "needs_look": r["needs_look"]}}
       for r in batch.load_results(course, "toy")}}
nb = nbformat.read(course.work / "runs" / "toy" / "attacker" / "graded.ipynb", as_version=4)
out["attacker_said"] = " ".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []))
print("JSON" + json.dumps(out))
"""
ATTACK = r"""
import os, subprocess
for path in ({secret!r}, {work!r}):
    try:
        open(path).read() if os.path.isfile(path) else os.listdir(path)
        print('READ', path)
    except OSError:
        print('NOT READ', path)
for path in ({results!r}, {work!r} + '/toy/attacker.json', '/tmp/left-by-attacker', '/dev/shm/left-by-attacker'):
    try:
        open(path, 'w').write('{{"score": 100}}')
        print('WROTE', path)
    except OSError:
        print('NOT WRITTEN', path)
# a process left behind, to rewrite the results once the grader has written them
loop = ("import time\nfor _ in range(400):\n    time.sleep(0.05)\n    try:\n"
        "        open(%r, 'w').write('{{}}')\n    except OSError:\n        pass\n" % {results!r})
subprocess.Popen(['python3', '-c', loop, {name!r}], start_new_session=True)
"""


def test_without_namespaces_student_code_runs_as_a_separate_uid_that_reaches_nothing(tmp_path):
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        pytest.skip("the unprivileged-user mode needs root (to switch to the grading uid)")
    import secrets
    import tempfile

    import toycourse
    box = Path(tempfile.mkdtemp(prefix="gradescope-like-"))
    os.chmod(box, 0o755)
    try:
        source = box / "source"
        for part in ("autograde", "course_lib"):
            shutil.copytree(ROOT / part, source / part, ignore=shutil.ignore_patterns("__pycache__"))
        shutil.copy(ROOT / "nbgrader_config.py", source)
        course = toycourse.make_course(source)          # solutions/ and notebooks/ beside them
        work, results = box / "work", box / "results"
        for folder in (course.solutions, work):
            folder.mkdir(exist_ok=True)
            os.chmod(folder, 0o700)
        shutil.rmtree(course.work, ignore_errors=True)
        results.mkdir(mode=0o755)
        (results / "results.json").write_text('{"score": 0}')
        name = "agrewrite" + secrets.token_hex(4)
        script = box / "grade.py"
        script.write_text(USER_MODE_SCRIPT.format(
            fixtures=str(ROOT / "tests" / "fixtures" / "toy"), tests=str(ROOT / "tests"),
            source=str(source), results=str(results), work=str(work), inbox=str(box / "in"), name=name))
        # an interpreter the grading uid may read (this checkout's may live under /root): the
        # system's Python of the same version with this environment's packages, as on Gradescope
        python = shutil.which(f"python{sys.version_info.major}.{sys.version_info.minor}", path="/usr/bin")
        site = next(p for p in sys.path if p.endswith("site-packages") and os.path.isdir(p))
        if not python:
            pytest.skip("no system Python of this version for the grading uid to run")
        env = {"PATH": "/usr/bin:/bin", "AUTOGRADE_NO_SANDBOX": "1", "PYTHONPATH": f"{source}{os.pathsep}{site}",
               "HOME": str(box), "COURSE_GRADING_DIR": str(work)}    # nbgrader's config: no source/.grading
        done = subprocess.run([python, str(script)], cwd=box, env=env, capture_output=True,
                              text=True, timeout=900)
        assert done.returncode == 0, done.stderr[-3000:]
        assert "MODE user" in done.stdout
        out = json.loads(done.stdout.split("JSON", 1)[1])
        time.sleep(1.0)                                  # the left-behind process would write now
        assert (results / "results.json").read_text() == '{"score": 0}'
        said = out.pop("attacker_said")
        assert "READ" not in said.replace("NOT READ", ""), said          # the sources
        assert "WROTE /tmp/left-by-attacker" in said                      # no namespaces: /tmp is
        assert said.count("WROTE") == 2, said                             # shared, the rest is not
        assert {k: v["score"] for k, v in out.items()} == {"correct": 5.0, "partly_wrong": 4.333333,
                                                            "untouched": 0.0, "attacker": 5.0}
        for result in out.values():
            iso = result["isolation"]
            assert iso["mode"] == "user" and iso["warm"] and iso["uid"] >= 61000, iso
        left = []
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                if name.encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
                    left.append(pid)
            except OSError:
                pass
        assert left == []                                # nothing of the student runs on
        owned = [p for place in ("/tmp", "/dev/shm") for p in Path(place).iterdir()
                 if p.name.startswith("left-by-attacker")]
        assert owned == []
    finally:
        if not os.environ.get("KEEP_BOX"):
            shutil.rmtree(box, ignore_errors=True)
