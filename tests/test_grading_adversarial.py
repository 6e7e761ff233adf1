"""Hostile toy submissions, graded inside the sandbox only: bombs (memory, memfd, disk, processes,
records, output), crashes and escapes (reading the instructor's files, writing outside, the
network). Each must cost only its own cells, with the limit named, while the batch goes on.

Without the full sandbox (bubblewrap as root: a grading uid, cgroups, a size-limited folder) these
tests skip: the test suite never runs hostile code outside it. Every path a submission tries to
reach is inside this test's temporary folder or the repository.
"""

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
}
LIMIT = {"memory_bomb": "used more memory than allowed", "memfd_bomb": "used more memory than allowed",
         "fork_bomb": "fork bomb", "kernel_crash": "crashed the Python kernel"}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    course = toycourse.make_course(root)
    notebooks = {k: v for k, v in adversarial.corpus(course, root).items() if k in EXPECTED}
    samples.write(notebooks, root / "inbox", "toy")
    start = time.monotonic()
    batch.grade_all(course, intake.find(root / "inbox", ["toy"]), workers=2,
                    limits=HOSTILE_LIMITS, progress=False)
    results = {r["student"]: r for r in batch.load_results(course, "toy")}
    return course, root, results, time.monotonic() - start


def outputs(course, student: str) -> str:
    nb = nbformat.read(course.work / "runs" / "toy" / student / "graded.ipynb", as_version=4)
    return " ".join(o.get("text", "") or str(o.get("data", {}).get("text/plain", ""))
                    for c in nb.cells if c.cell_type == "code" for o in c.outputs)


def test_each_hostile_submission_costs_only_its_own_cells(graded):
    _, _, results, seconds = graded
    assert {n: results[n]["score"] for n in EXPECTED} == EXPECTED
    for name, words in LIMIT.items():
        assert words in " ".join(results[name]["problems"]), (name, results[name]["problems"])
    print(f"graded {len(results)} hostile toy submissions in {seconds:.0f} s")


def test_records_that_would_inflate_are_refused(graded):
    _, _, results, _ = graded
    lines = " ".join(line for t in results["record_bomb"]["tests"] for line in t["lines"])
    assert "too large" in lines or "could not be read" in lines


def test_disk_and_output_bombs_are_bounded(graded):
    course, _, results, _ = graded
    assert "DISK FULL" in outputs(course, "disk_bomb")          # the folder's tmpfs is 1 GiB
    graded_nb = course.work / "runs" / "toy" / "big_output" / "graded.ipynb"
    assert graded_nb.stat().st_size < 5 * 2**20                  # a 150 MB result was cut
    page = feedback.write_all(course, [results["big_output"]], course.work / "fb")[0]
    assert page.stat().st_size < 5 * 2**20


def test_the_sandbox_blocks_reads_writes_and_network(graded):
    course, root, _, _ = graded
    read = outputs(course, "read_instructor_files")
    assert "NOTHING FOUND" in read and "grader not importable" in read
    wrote = outputs(course, "write_outside")
    assert str(root / "ESCAPED") in wrote and f"WROTE {root / 'ESCAPED'}" not in wrote
    assert not (root / "ESCAPED").exists() and not any(Path(root).parent.glob("ESCAPED*"))
    assert "NETWORK BLOCKED" in outputs(course, "network")
    assert not list(Path("/tmp").glob(f"{sandbox.FOLDER_PREFIX}*-*/fill*.bin"))   # cleaned up
