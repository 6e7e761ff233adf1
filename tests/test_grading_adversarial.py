"""Hostile toy submissions, graded inside the sandbox only: bombs (memory, memfd, disk, processes,
records, output), crashes and escapes (reading the instructor's files, writing outside, the
network), and attacks on what the grader does around the kernel: a symbolic link swapped in while
root prepares the record folder, a process that hops pids to outlive its kernel and kill the next
student's, an exception message of 60 MB. Each must cost only its own cells, with the limit or the
tampering named, while the batch goes on and every other student keeps every point.

Without the full sandbox (bubblewrap as root: a grading uid, cgroups, a size-limited folder) these
tests skip: the test suite never runs hostile code outside it. Every path a submission tries to
reach is inside this test's temporary folder or the repository.
"""

import os
import secrets
import time
from pathlib import Path

import adversarial  # noqa: E402
import nbformat
import pytest
import toycourse  # noqa: E402

from autograde.build import samples
from autograde.grade import batch, sandbox
from autograde.grade.sandbox import Limits
from autograde.results import feedback, intake

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(sandbox.mode() != "root" or sandbox.isolation_warning() is not None,
                                 reason="hostile submissions run only in the full sandbox (bwrap as "
                                        f"root): {sandbox.isolation_warning()}")]

# The toy's limits, with more CPU time a cell: a bomb must meet its own limit (memory, processes,
# disk), not the clock, whatever the load of the machine.
HOSTILE_LIMITS = Limits(**{**toycourse.LIMITS.__dict__, "cell_cpu_min_s": 10.0, "memory_mb": 1024})
EXPECTED = {
    "memory_bomb": 3, "memfd_bomb": 3, "fork_bomb": 3, "kernel_crash": 3,
    "disk_bomb": 5, "big_output": 5, "record_bomb": 0,
    "read_instructor_files": 3, "write_outside": 5, "network": 5,
    "huge_messages": 5,
}
TAMPERING = ["swap_records_dir", "link_record_files", "race_records"]
LIMIT = {"memory_bomb": "used more memory than allowed", "memfd_bomb": "used more memory than allowed",
         "fork_bomb": "fork bomb", "kernel_crash": "crashed the Python kernel"}

# Item 2's attacker: a daemon that, for the whole notebook, swaps the record folder for a link to a
# host folder the moment it reappears, so that whatever root does to `records` (re-create it, hand
# it over, clean it) meets the link. Before the fix, root's lchown over records.rglob("*") went
# through the link and gave the host folder's files to the grading uid.
RACE = r"""import os, time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        end = time.time() + 90
        while time.time() < end:
            try:
                if not os.path.islink('records'):
                    if os.path.isdir('records'):
                        os.rename('records', 'old-%d' % time.monotonic_ns())
                    os.symlink({victim!r}, 'records')
                for name in ('kernel.json', '.kernel.log'):
                    if not os.path.lexists(name + '.x'):
                        os.symlink({victim!r} + '/' + name, name + '.x')
            except OSError:
                pass
        os._exit(0)
    os._exit(0)
os.wait()
print('SWAPPER STARTED')
"""

# Item 3's attacker: swarms of tiny shell processes that hop to a new pid all the time (a kill that
# lists the processes first, then kills them, misses the newest), ignore polite signals, and once
# their own kernel is gone kill every kernel they can see: the next student's, before the fix, which
# ran as the same uid in the same PID namespace. `name` marks their command line.
SWARM = r"""trap '' TERM HUP INT
n=${N:-0}
[ "$n" -gt 100000 ] && exit 0
if [ ! -d "/proc/$K" ]; then
  for p in /proc/[0-9]*; do
    if grep -qa -e 'ipy''kernel' -e 'autograde.ker''nel' -e 'autograde.zyg''ote' "$p/cmdline" 2>/dev/null
    then kill -9 "${p#/proc/}" 2>/dev/null; fi
  done
fi
( N=$((n + 1)) exec /bin/sh -c "$S" "$0" ) &
exit 0
"""
HOPPER = """import os, subprocess
for _ in range(8):
    subprocess.Popen(['/bin/sh', '-c', {swarm!r}, {name!r}], start_new_session=True,
                     env={{'K': str(os.getpid()), 'S': {swarm!r}, 'PATH': '/usr/bin:/bin'}},
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print('HOPPER STARTED')
"""

# Item 8: messages far over the grader's 64 MB message cap, from an honest-looking bug.
HUGE = ["raise ValueError('x' * 60_000_000)\n",
        "print('y' * 70_000_000)\n",
        "from IPython.display import HTML, display\ndisplay(HTML('<b>' + 'z' * 70_000_000))\n"]


def _with_cells(nb, codes):
    for code in reversed(codes):
        nb = adversarial._add_cell(nb, "softmax", code)
    return nb


def _good(course):
    src = nbformat.read(course.source("toy"), as_version=4)
    return samples.correct(src, samples.release_notebook(src))


def _victim(root: Path) -> Path:
    """A host folder of root's that no sandbox can see: the target of the swapped links."""
    victim = root / "victim"
    victim.mkdir(mode=0o755)
    (victim / "secret").write_text("root's\n")
    (victim / "sub").mkdir()
    (victim / "sub" / "deeper").write_text("root's too\n")
    return victim


def _owners(path: Path) -> dict:
    return {str(p): (p.lstat().st_uid, p.lstat().st_gid) for p in [path, *path.rglob("*")]}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    course = toycourse.make_course(root)
    victim = _victim(root)
    before = _owners(victim)
    notebooks = {k: v for k, v in adversarial.corpus(course, root).items() if k in EXPECTED or k in TAMPERING}
    notebooks["huge_messages"] = _with_cells(_good(course), HUGE)
    notebooks["race_records"] = adversarial._add_cell(_good(course), "softmax",
                                                      RACE.format(victim=str(victim)))
    samples.write(notebooks, root / "inbox", "toy")
    start = time.monotonic()
    batch.grade_all(course, intake.find(root / "inbox", ["toy"]), workers=2,
                    limits=HOSTILE_LIMITS, progress=False)
    results = {r["student"]: r for r in batch.load_results(course, "toy")}
    return course, root, results, time.monotonic() - start, before


def outputs(course, student: str) -> str:
    nb = nbformat.read(course.work / "runs" / "toy" / student / "graded.ipynb", as_version=4)
    return " ".join(o.get("text", "") or str(o.get("data", {}).get("text/plain", ""))
                    for c in nb.cells if c.cell_type == "code" for o in c.outputs)


def test_each_hostile_submission_costs_only_its_own_cells(graded):
    _, _, results, seconds, _ = graded
    assert {n: results[n]["score"] for n in EXPECTED} == EXPECTED
    for name, words in LIMIT.items():
        assert words in " ".join(results[name]["problems"]), (name, results[name]["problems"])
    print(f"graded {len(results)} hostile toy submissions in {seconds:.0f} s")


def test_records_that_would_inflate_are_refused(graded):
    _, _, results, _, _ = graded
    lines = " ".join(line for t in results["record_bomb"]["tests"] for line in t["lines"])
    assert "too large" in lines or "could not be read" in lines


def test_disk_and_output_bombs_are_bounded(graded):
    course, _, results, _, _ = graded
    assert "DISK FULL" in outputs(course, "disk_bomb")          # the folder's tmpfs is 1 GiB
    graded_nb = course.work / "runs" / "toy" / "big_output" / "graded.ipynb"
    assert graded_nb.stat().st_size < 5 * 2**20                  # a 150 MB result was cut
    page = feedback.write_all(course, [results["big_output"]], course.work / "fb")[0]
    assert page.stat().st_size < 5 * 2**20


def test_the_sandbox_blocks_reads_writes_and_network(graded):
    course, root, _, _, _ = graded
    read = outputs(course, "read_instructor_files")
    assert "NOTHING FOUND" in read and "grader not importable" in read
    wrote = outputs(course, "write_outside")
    assert str(root / "ESCAPED") in wrote and f"WROTE {root / 'ESCAPED'}" not in wrote
    assert not (root / "ESCAPED").exists() and not any(Path(root).parent.glob("ESCAPED*"))
    assert "NETWORK BLOCKED" in outputs(course, "network")
    assert not list(Path("/tmp").glob(f"{sandbox.FOLDER_PREFIX}*-*/fill*.bin"))   # cleaned up


def test_root_never_follows_a_link_the_student_swapped_in(graded):
    """Item 2: the record folder swapped for a link to a host folder, all notebook long: no file
    outside the sandbox changes owner, and the swap is reported as tampering."""
    course, root, results, _, before = graded
    assert "SWAPPER STARTED" in outputs(course, "race_records")
    assert _owners(root / "victim") == before
    grading_uids = range(sandbox.BASE_UID, sandbox.BASE_UID + 1000)
    assert not [p for p in root.rglob("*") if p.lstat().st_uid in grading_uids]
    race = results["race_records"]
    assert race["tampering"] and set(race["tampering"]) <= set(race["needs_look"])
    assert any("records" in line for line in race["tampering"]), race["tampering"]


def test_every_refused_record_is_reported_as_tampering(graded):
    """Item 7: forged, linked and oversized records are listed under "needs a look" and in the
    result's tampering list, with what was refused."""
    _, _, results, _, _ = graded
    for name, words in (("swap_records_dir", "record folder was replaced"),
                        ("link_record_files", "not a plain file"),
                        ("record_bomb", "refused")):
        tampering = results[name]["tampering"]
        assert any(words in line for line in tampering), (name, tampering)
        assert set(tampering) <= set(results[name]["needs_look"]), name


def test_a_huge_exception_or_output_costs_only_its_cell(graded):
    """Item 8: 60-70 MB messages are cut in the kernel: no time-out, no restart, no replay, and
    every point of the correct code after them."""
    course, _, results, _, _ = graded
    huge = results["huge_messages"]
    assert huge["score"] == 5 and huge["restarts"] == 0 and not huge["problems"], huge["problems"]
    text = outputs(course, "huge_messages")
    assert "output cut: 70,000,001 characters" in text                  # the print
    assert "text/html output of 70,000,003 characters removed" in text   # the display
    path = course.work / "runs" / "toy" / "huge_messages" / "graded.ipynb"
    assert path.stat().st_size < 5 * 2**20
    nb = nbformat.read(path, as_version=4)
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert errors and "60,000,000 characters" in errors[0]["evalue"]


def test_every_result_says_which_isolation_ran(graded):
    _, _, results, _, _ = graded
    for result in results.values():
        iso = result["isolation"]
        assert iso["mode"] == "root" and iso["pid_namespace"] and iso["uid"] >= sandbox.BASE_UID
        assert set(iso["limits"]) >= {"memory", "processes", "cpu", "disk"}


@pytest.fixture(scope="module")
def hopping(tmp_path_factory):
    """One worker, warm: a pid-hopping student, then three honest ones on the same worker."""
    root = tmp_path_factory.mktemp("hopping")
    course = toycourse.make_course(root)
    name = "aghop" + secrets.token_hex(4)
    good = _good(course)
    notebooks = {"a_hopper": adversarial._add_cell(good, "softmax", HOPPER.format(swarm=SWARM, name=name))}
    notebooks.update({f"b_honest{i}": good for i in range(3)})
    samples.write(notebooks, root / "inbox", "toy")
    batch.grade_all(course, intake.find(root / "inbox", ["toy"]), workers=1,
                    limits=HOSTILE_LIMITS, progress=False, warm=True)
    time.sleep(1.0)                             # a survivor would still be hopping now
    survivors = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if name.encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
                survivors.append(int(pid))
        except OSError:
            pass
    for pid in survivors:                       # never leave it running, whatever the verdict
        try:
            os.kill(pid, 9)
        except OSError:
            pass
    return course, {r["student"]: r for r in batch.load_results(course, "toy")}, survivors


def test_a_process_that_outlives_its_kernel_cannot_reach_the_next_student(hopping):
    """Item 3: each kernel has a PID namespace of its own and its uid is swept: the hopper dies
    with its kernel, and every honest student after it on the same worker keeps full marks."""
    course, results, survivors = hopping
    hopper = results["a_hopper"]
    assert "HOPPER STARTED" in outputs(course, "a_hopper") or "fork bomb" in " ".join(hopper["problems"])
    honest = {n: (r["score"], r["problems"]) for n, r in results.items() if n.startswith("b_")}
    assert honest == {f"b_honest{i}": (5, []) for i in range(3)}
    assert survivors == []


BOMBS = ["memory_bomb", "memfd_bomb", "fork_bomb", "disk_bomb", "correct"]


@pytest.fixture(scope="module")
def without_cgroups(tmp_path_factory):
    """Warm kernels where no control group can be made (a container's read-only /sys/fs/cgroup):
    rlimits, size-limited tmpfs and the watchdog over the kernel's processes hold the limits."""
    from autograde.grade import cgroups
    root = tmp_path_factory.mktemp("nocgroups")
    course = toycourse.make_course(root)
    notebooks = {k: v for k, v in adversarial.corpus(course, root).items() if k in BOMBS}
    samples.write(notebooks, root / "inbox", "toy")
    mp = pytest.MonkeyPatch()
    mp.setattr(cgroups, "layout", lambda: None)
    try:
        batch.grade_all(course, intake.find(root / "inbox", ["toy"]), workers=2,
                        limits=HOSTILE_LIMITS, progress=False, warm=True)
    finally:
        mp.undo()
    return {r["student"]: r for r in batch.load_results(course, "toy")}


def test_without_cgroups_rlimits_and_the_watchdog_hold_every_limit(without_cgroups):
    results = without_cgroups
    assert {n: r["score"] for n, r in results.items()} == \
        {n: EXPECTED.get(n, 5) for n in BOMBS}
    for name in ("memory_bomb", "memfd_bomb", "fork_bomb"):
        assert LIMIT[name] in " ".join(results[name]["problems"]), (name, results[name]["problems"])
    for result in results.values():
        iso = result["isolation"]
        assert iso["warm"] and iso["limits"]["memory"].startswith("RLIMIT_DATA"), iso
