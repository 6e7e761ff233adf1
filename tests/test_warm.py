"""Warm kernels (autograde/sandboxed/zygote.py, warm_kernels.py): forked from a zygote that imported torch
once, each in a sandbox of its own. The same class graded cold, warm, and warm where the grader can
make no control group (rlimits and the watchdog hold the limits then) gets identical scores and
feedback, and a warm kernel sees nothing of the submissions before it. (Bubblewrap's user-namespace
mode and the unprivileged-user mode grade warm in tests/test_rootless.py.)"""

import ast
from pathlib import Path

import adversarial  # noqa: E402
import nbformat
import pytest
import toycourse  # noqa: E402

from autograde.build import samples
from autograde.grade import batch, cgroups, sandbox, warm_kernels
from autograde.results import intake

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not warm_kernels.available(),
                                 reason="warm kernels need the full sandbox (bwrap as root, cgroups)")]
NAMES = ["correct", "untouched", "partly_wrong", "bypass_check", "patch_allclose", "os_exit",
         "stripped_metadata", "uses_tempfile", "deleted_tests"]
SNOOP = """import os
print('UID', os.getuid(), os.getgid())
print('CAPS', [l.split()[1] for l in open('/proc/self/status') if l.startswith('CapEff')][0])
print('SIBLINGS', sorted(os.listdir('..')))
print('TMP', sorted(os.listdir('/tmp')))
open('/tmp/left-behind', 'w').write('x')
open('left-behind-here', 'w').write('x')
"""


def grade_class(root: Path, warm: bool, names) -> dict:
    course = toycourse.make_course(root)
    notebooks = {k: v for k, v in adversarial.corpus(course, root).items() if k in names}
    src = nbformat.read(course.source("toy"), as_version=4)
    good = samples.correct(src, samples.release_notebook(src))
    for i in range(3):                         # three students in a row on one worker
        notebooks[f"snoop{i}"] = adversarial._add_cell(good, "softmax", SNOOP)
    samples.write(notebooks, root / "inbox", "toy")
    batch.grade_all(course, intake.find(root / "inbox", ["toy"]), workers=1,
                    limits=toycourse.LIMITS, progress=False, warm=warm)
    return course, {r["student"]: r for r in batch.load_results(course, "toy")}


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    return (grade_class(tmp_path_factory.mktemp("cold"), False, NAMES),
            grade_class(tmp_path_factory.mktemp("warm"), True, NAMES))


@pytest.fixture(scope="module")
def without_cgroups(tmp_path_factory):
    """As in a container whose /sys/fs/cgroup is read-only: no control group can be made."""
    mp = pytest.MonkeyPatch()
    mp.setattr(cgroups, "layout", lambda: None)
    try:
        return grade_class(tmp_path_factory.mktemp("warm-nocg"), True, NAMES)
    finally:
        mp.undo()


def test_warm_and_cold_grade_identically(both, without_cgroups):
    (_, cold), (_, warm) = both
    _, nocg = without_cgroups
    assert sorted(cold) == sorted(warm) == sorted(nocg)
    for name in cold:
        for other in (warm, nocg):
            assert other[name]["tests"] == cold[name]["tests"], name
            assert other[name]["needs_look"] == cold[name]["needs_look"], name
            assert other[name]["score"] == cold[name]["score"], name
    assert cold["correct"]["score"] == 5 and cold["os_exit"]["restarts"] >= 1
    assert {r["isolation"]["warm"] for r in warm.values()} == {True}
    assert {r["isolation"]["limits"]["memory"].split()[0] for r in nocg.values()} == {"RLIMIT_DATA"}
    assert {r["isolation"]["warm"] for r in nocg.values()} == {True}


def test_a_warm_kernel_is_sandboxed_and_sees_nothing_of_earlier_students(both):
    _, (course, warm) = both
    for i in range(3):
        nb = nbformat.read(course.work / "runs" / "toy" / f"snoop{i}" / "graded.ipynb", as_version=4)
        text = " ".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []))
        uid, gid = map(int, text.split("UID ")[1].split("\n")[0].split())
        assert uid == gid and sandbox.BASE_UID <= uid < sandbox.BASE_UID + 1000, text
        assert "CAPS 0000000000000000" in text
        siblings = ast.literal_eval(text.split("SIBLINGS ")[1].split("\n")[0])
        tmp = ast.literal_eval(text.split("TMP ")[1].split("\n")[0])
        assert len(siblings) == 1                           # only its own folder
        assert "left-behind" not in tmp                     # a fresh /tmp for every student
