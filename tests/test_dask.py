"""Grading on a real Dask cluster on 127.0.0.1, over mutual TLS with the course's certificates
(`python -m autograde cluster-certs`): a `dask scheduler` and two `dask worker` processes, each
worker with its warm zygote from the start (`--preload autograde.grade.cluster`). One worker is killed
mid-batch; every submission still ends graded once, with the scores the local grader gives. A
client without the course's certificate, with another authority's, or over plain tcp:// is refused."""

import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import adversarial  # noqa: E402
import pytest
import toycourse  # noqa: E402

from autograde.build import samples
from autograde.grade import batch, cluster
from autograde.results import intake

pytest.importorskip("distributed", reason="Dask's distributed is a dev dependency")
pytestmark = pytest.mark.slow
NAMES = ["correct", "untouched", "partly_wrong", "bypass_check", "sleep_forever", "os_exit",
         "stripped_metadata", "patch_allclose"]


def _start(args: list, log: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    return subprocess.Popen(args, stdout=log.open("w"), stderr=subprocess.STDOUT, env=env,
                            start_new_session=True)


def _tls(certs: Path, role: str) -> list:
    ca, cert, key = cluster.cert_paths(certs, role)
    return ["--tls-ca-file", str(ca), "--tls-cert", str(cert), "--tls-key", str(key)]


@pytest.fixture(scope="module")
def tls_cluster(tmp_path_factory):
    root = tmp_path_factory.mktemp("dask")
    certs = root / "certs"
    cluster.make_certs(certs)
    info = root / "scheduler.json"
    procs = [_start([sys.executable, "-m", "dask", "scheduler", "--host", "127.0.0.1", "--port", "0",
                     "--protocol", "tls", *_tls(certs, "scheduler"), "--no-dashboard",
                     "--scheduler-file", str(info)], root / "scheduler.log")]
    deadline = time.monotonic() + 60
    while not info.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    address = json.loads(info.read_text())["address"]
    assert address.startswith("tls://")
    for i in range(2):
        procs.append(_start([sys.executable, "-m", "dask", "worker", address, *_tls(certs, "worker"),
                             "--nthreads", "1", "--nworkers", "1", "--no-dashboard", "--name", f"w{i}",
                             "--memory-limit", "0", "--preload", "autograde.grade.cluster"],
                            root / f"worker{i}.log"))
    from distributed import Client
    with Client(address, timeout="30s", security=cluster.security(certs)) as client:
        client.wait_for_workers(2, timeout=120)
    yield address, procs, root, certs
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


def test_a_class_graded_on_dask_survives_a_lost_worker_and_matches_the_local_grader(tls_cluster, tmp_path):
    address, procs, _, certs = tls_cluster
    local, subs = _class(tmp_path / "local")
    batch.grade_all(local, subs, workers=2, limits=toycourse.LIMITS, progress=False)
    expected = {r["student"]: r for r in batch.load_results(local, "toy")}

    course, subs = _class(tmp_path / "dask")
    killed = []

    def kill_one(result):                       # after the first result: a machine is lost
        if not killed:
            os.killpg(procs[1].pid, signal.SIGKILL)
            killed.append(result["student"])
    security = cluster.security(certs)
    new = batch.grade_all(course, subs, limits=toycourse.LIMITS, progress=False,
                          scheduler=address, security=security, on_result=kill_one)
    assert killed and len(new) == len(subs)
    got = {r["student"]: r for r in batch.load_results(course, "toy")}
    assert sorted(got) == sorted(expected) == sorted(NAMES)          # each graded, once
    for name in NAMES:
        assert got[name]["tests"] == expected[name]["tests"], name
        assert got[name]["score"] == expected[name]["score"], name
        assert got[name]["isolation"]["warm"], name                  # the worker's zygote
        assert (course.work / "runs" / "toy" / name / "graded.ipynb").exists()   # for feedback
    assert batch.grade_all(course, subs, progress=False, scheduler=address,
                           security=security) == []                  # resumable


def test_a_client_without_the_course_certificate_is_refused(tls_cluster, tmp_path):
    """An attacker on the network (or another user of the machine) tries to reach the grading
    workers: with no certificate, with one from another CA, over plain tcp://. Each is refused at
    the connection, so no `client.run` ever reaches a worker; the course's client certificate
    connects (the difference is the certificate)."""
    from distributed import Client
    address, _, _, certs = tls_cluster
    host_port = address[len("tls://"):]
    other = tmp_path / "other-ca"
    cluster.make_certs(other)
    host, port = host_port.rsplit(":", 1)
    raw = ssl.create_default_context()          # a TLS client that presents no certificate
    raw.check_hostname, raw.verify_mode = False, ssl.CERT_NONE
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        with pytest.raises((ssl.SSLError, ConnectionError)):
            with raw.wrap_socket(sock) as tls:
                tls.sendall(b"\0" * 64)
                if not tls.recv(1):                  # closed without a word: refused too
                    raise ConnectionError("closed")
    attempts = {
        "another CA's certificate": dict(address=address, security=cluster.security(other)),
        "plain tcp://": dict(address=f"tcp://{host_port}"),
    }
    for what, kwargs in attempts.items():
        with pytest.raises((OSError, TimeoutError, ValueError)):
            with Client(timeout="5s", **kwargs) as client:
                client.run(os.getuid)                                # never reached
            pytest.fail(f"a client with {what} ran code on the workers")
    with Client(address, timeout="30s", security=cluster.security(certs)) as client:
        assert set(client.run(os.getpid)) == set(client.scheduler_info()["workers"])


def test_the_grader_refuses_an_unauthenticated_scheduler(tmp_path):
    course = toycourse.make_course(tmp_path)
    with pytest.raises(cluster.ClusterRefused, match="insecure-cluster"):
        cluster.connect("tcp://127.0.0.1:8786")
    with pytest.raises(cluster.ClusterRefused):
        batch.grade_all(course, [object()], force=True, scheduler="tcp://127.0.0.1:8786", progress=False)
    with pytest.raises(cluster.ClusterRefused, match="cluster-certs"):
        cluster.connect("tls://127.0.0.1:8786", tmp_path / "no-such-folder")
    certs = tmp_path / "certs"
    cluster.make_certs(certs)
    assert {p.name: p.stat().st_mode & 0o777 for p in certs.iterdir()} == \
        {p.name: 0o600 for p in certs.iterdir()} and certs.stat().st_mode & 0o777 == 0o700
    os.chmod(certs / "client-key.pem", 0o644)
    with pytest.raises(cluster.ClusterRefused, match="readable by others"):
        cluster.security(certs)
    assert cluster.connect("tcp://127.0.0.1:8786", insecure=True) == cluster.INSECURE
