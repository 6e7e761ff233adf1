"""Grading on a real Dask cluster on 127.0.0.1: a `dask scheduler` and two `dask worker` processes.
One worker is killed mid-batch; every submission still ends graded once, with the scores the local
grader gives."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import adversarial  # noqa: E402
import pytest
import toycourse  # noqa: E402

from autograde.build import samples
from autograde.grade import batch
from autograde.results import intake

pytest.importorskip("distributed", reason="Dask's distributed is a dev dependency")
pytestmark = pytest.mark.slow
BIN = Path(sys.executable).parent
NAMES = ["correct", "untouched", "partly_wrong", "bypass_check", "sleep_forever", "os_exit",
         "stripped_metadata", "patch_allclose"]


def _start(args: list, log: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    return subprocess.Popen(args, stdout=log.open("w"), stderr=subprocess.STDOUT, env=env,
                            start_new_session=True)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    root = tmp_path_factory.mktemp("dask")
    info = root / "scheduler.json"
    procs = [_start([str(BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port", "0",
                     "--no-dashboard", "--scheduler-file", str(info)], root / "scheduler.log")]
    deadline = time.monotonic() + 60
    while not info.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    address = json.loads(info.read_text())["address"]
    for i in range(2):
        procs.append(_start([str(BIN / "dask"), "worker", address, "--nthreads", "1",
                             "--nworkers", "1", "--no-dashboard", "--name", f"w{i}",
                             "--memory-limit", "0"], root / f"worker{i}.log"))
    from distributed import Client
    with Client(address, timeout="30s") as client:
        client.wait_for_workers(2, timeout=120)
    yield address, procs, root
    for proc in procs:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()


def _class(root: Path):
    course = toycourse.make_course(root)
    notebooks = {k: v for k, v in adversarial.corpus(course, root).items() if k in NAMES}
    samples.write(notebooks, root / "inbox", "toy")
    return course, intake.find(root / "inbox", ["toy"])


def test_a_class_graded_on_dask_survives_a_lost_worker_and_matches_the_local_grader(cluster, tmp_path):
    address, procs, _ = cluster
    local, subs = _class(tmp_path / "local")
    batch.grade_all(local, subs, workers=2, limits=toycourse.LIMITS, progress=False)
    expected = {r["student"]: r for r in batch.load_results(local, "toy")}

    course, subs = _class(tmp_path / "dask")
    killed = []

    def kill_one(result):                       # after the first result: a machine is lost
        if not killed:
            os.killpg(procs[1].pid, signal.SIGKILL)
            killed.append(result["student"])
    new = batch.grade_all(course, subs, limits=toycourse.LIMITS, progress=False,
                          scheduler=address, on_result=kill_one)
    assert killed and len(new) == len(subs)
    got = {r["student"]: r for r in batch.load_results(course, "toy")}
    assert sorted(got) == sorted(expected) == sorted(NAMES)          # each graded, once
    for name in NAMES:
        assert got[name]["tests"] == expected[name]["tests"], name
        assert got[name]["score"] == expected[name]["score"], name
        assert (course.work / "runs" / "toy" / name / "graded.ipynb").exists()   # for feedback
    assert batch.grade_all(course, subs, progress=False, scheduler=address) == []  # resumable
