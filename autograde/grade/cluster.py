"""Grading on a Dask cluster that only the course can use:
`python -m autograde grade FOLDER --scheduler tls://HOST:8786`.

**Authenticated by default.** A Dask scheduler runs whatever its clients send (`client.run` is code
on every worker, as root for a grading worker), so a cluster that accepts any client gives anyone
who can reach the port the grades and the machines. The grader therefore speaks only mutual TLS
(Dask's `distributed.security.Security`, `tls://` addresses): `python -m autograde cluster-certs
DIR` writes a certificate authority and a scheduler, a worker and a client certificate into DIR
(mode 0700, keys 0600), the scheduler and the workers are started with theirs, and the grader
connects with the client's. Every endpoint must present a certificate signed by the course's CA,
so a client without one, or with one from another authority, is refused at the handshake. A plain
`tcp://` scheduler is refused unless the instructor passes `--insecure-cluster`, which prints a
warning saying what that exposes. docs/GRADING.md shows the commands for a manual cluster, Slurm
(dask-jobqueue's security options) and Kubernetes.

**One warm zygote per worker, from the start.** `dask worker ... --preload autograde.grade.cluster`
starts the worker's zygote (autograde/sandboxed/zygote.py) while the worker registers
(`dask_setup`); when the grader connects it registers `GradingPlugin` (a Dask WorkerPlugin), whose
`setup` adopts that zygote (or starts one), claims the worker's grading slot and loads every
assignment's grading context, so the first task grades as fast as the hundredth.

Each submission is one task:

- the main process reads the submission (notebook and the plain files beside it, never through a
  link) and sends its bytes, so workers need no access to the inbox;
- a worker needs the instructor's course checkout at the same path (a shared filesystem, or the
  same image) and grades in its own sandbox, with its own sandbox uid (`sandbox.claim_slot`:
  distinct per worker process on a machine);
- the result comes back to the main process with the graded notebook, and is written atomically
  there as with local workers, so the batch stays resumable and exactly-once;
- a worker lost mid-batch costs nothing: the scheduler reruns its tasks on other workers; a task
  whose workers keep dying (Dask's `allowed_failures`) is recorded as graded with zero points and
  "needs a look", so the batch still finishes.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import socket
import sys
import tempfile
from pathlib import Path

from autograde.config import Course
from autograde.grade import folders, one_submission, sandbox, warm_kernels
from autograde.grade.sandbox import Limits

INSECURE = "insecure"                                 # the explicit opt-out, never a default
ROLES = ("scheduler", "worker", "client")
CERT_DAYS = 400
_STATE: dict = {}                                     # per worker process: slot, launcher, contexts


class ClusterRefused(RuntimeError):
    """A scheduler address or certificates the grader will not use."""


# ---------------------------------------------------------------- certificates
def make_certs(folder: Path, hosts=()) -> dict:
    """A certificate authority and a certificate per role, in `folder` (made 0700; private keys
    0600): {role: (certificate, key)} and "ca": (certificate, key). `hosts` (names or addresses of
    the scheduler) go into the scheduler certificate's names; Dask checks the CA, not the names."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    folder = Path(folder)
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    if not folders.owned_dir(folder):
        raise ClusterRefused(f"{folder} is not a folder of yours (a link, or someone else's)")
    os.chmod(folder, 0o700)
    now = datetime.datetime.now(datetime.timezone.utc)

    def name(common: str):
        return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "autograde course cluster"),
                          x509.NameAttribute(NameOID.COMMON_NAME, common)])

    def write(path: Path, data: bytes) -> None:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(path, 0o600)

    def key_bytes(key) -> bytes:
        return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption())

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(name("course CA")).issuer_name(name("course CA"))
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(minutes=5))
          .not_valid_after(now + datetime.timedelta(days=CERT_DAYS))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False,
                                       data_encipherment=False, key_agreement=False,
                                       encipher_only=False, decipher_only=False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    paths = {"ca": (folder / "ca.pem", folder / "ca-key.pem")}
    write(paths["ca"][0], ca.public_bytes(serialization.Encoding.PEM))
    write(paths["ca"][1], key_bytes(ca_key))
    alt = []
    for host in ["localhost", "127.0.0.1", socket.gethostname(), *hosts]:
        try:
            alt.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            alt.append(x509.DNSName(host))
    for role in ROLES:
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (x509.CertificateBuilder().subject_name(name(f"dask {role}")).issuer_name(ca.subject)
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(minutes=5))
                .not_valid_after(now + datetime.timedelta(days=CERT_DAYS))
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH,
                                                      ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
                .add_extension(x509.SubjectAlternativeName(alt), critical=False)
                .sign(ca_key, hashes.SHA256()))
        paths[role] = (folder / f"{role}.pem", folder / f"{role}-key.pem")
        write(paths[role][0], cert.public_bytes(serialization.Encoding.PEM))
        write(paths[role][1], key_bytes(key))
    return paths


def cert_paths(folder: Path, role: str) -> tuple[Path, Path, Path]:
    """(CA certificate, the role's certificate, its key) in a folder make_certs wrote."""
    folder = Path(folder)
    return folder / "ca.pem", folder / f"{role}.pem", folder / f"{role}-key.pem"


def security(folder: Path, role: str = "client"):
    """Dask's Security for `role` from the course's certificate folder (refused if anyone but the
    owner can read the keys)."""
    from distributed.security import Security
    ca, cert, key = cert_paths(folder, role)
    missing = [str(p) for p in (ca, cert, key) if not p.is_file()]
    if missing:
        raise ClusterRefused(f"no cluster certificates ({', '.join(missing)} missing): make them with "
                             f"`python -m autograde cluster-certs {folder}`")
    if key.stat().st_mode & 0o077 or Path(folder).stat().st_mode & 0o077:
        raise ClusterRefused(f"{folder} or {key.name} is readable by others: chmod 700 {folder}; "
                             f"chmod 600 {folder}/*-key.pem")
    return Security(tls_ca_file=str(ca), tls_client_cert=str(cert), tls_client_key=str(key),
                    tls_worker_cert=str(cert), tls_worker_key=str(key),
                    tls_scheduler_cert=str(cert), tls_scheduler_key=str(key), require_encryption=True)


INSECURE_WARNING = (
    "WARNING: --insecure-cluster: this Dask scheduler takes no credentials. Anyone who can reach "
    "its port can run code on every grading worker (as root), read every submission and change "
    "any grade. Use tls:// with `python -m autograde cluster-certs` instead (docs/GRADING.md).")


def connect(address: str, certs: Path | None = None, insecure: bool = False):
    """What DaskPool needs to reach `address`: a Security for tls://, INSECURE for a tcp:// the
    instructor explicitly allowed; anything else is refused."""
    if address.startswith("tls://"):
        return security(certs, "client") if certs else _refuse_no_certs(address)
    if insecure:
        print("\n" + "!" * 78 + f"\n{INSECURE_WARNING}\n" + "!" * 78 + "\n", file=sys.stderr)
        return INSECURE
    raise ClusterRefused(f"refusing the scheduler {address}: only tls:// (mutual TLS with the course's "
                         "certificates) is used; pass --insecure-cluster to use an unauthenticated "
                         "tcp:// scheduler anyway")


def _refuse_no_certs(address: str):
    raise ClusterRefused(f"{address} needs the course's cluster certificates (--cluster-certs DIR)")


# ---------------------------------------------------------------- on a worker
def _slot_and_stage(course: Course) -> dict:
    """This worker process's grading slot (its uid) and, in "user" mode, its staged cases."""
    if "slot" not in _STATE:
        _STATE["slot"] = sandbox.claim_slot()
    cases = tuple(warm_kernels.cases_files(course))
    if _STATE.get("cases") != cases:
        if _STATE.get("stage") is not None:
            sandbox.remove_base(_STATE["stage"])
        _STATE["stage"], _STATE["cases"] = sandbox.stage_cases(cases)[0], cases
    _STATE.setdefault("contexts", {})
    return _STATE


def _worker_state(course: Course, limits: Limits, warm: bool) -> dict:
    """This worker process's slot, staged cases and kernel launcher (a zygote where warm)."""
    state = _slot_and_stage(course)
    key = (warm, state["cases"])
    if state.get("launcher") is not None and state.get("key") != key:
        state.pop("launcher").close()
    if state.get("launcher") is None:
        state["launcher"], state["key"] = warm_kernels.launcher(course, state["slot"], limits, warm), key
    return state


def dask_setup(worker=None) -> None:
    """`dask worker --preload autograde.grade.cluster`: start this worker's zygote as the worker starts,
    for the course the environment names (COURSE_SOLUTIONS_DIR ...; default: this checkout)."""
    try:
        sandbox.require()
        _worker_state(Course.from_env(), Limits(), True)
    except Exception as err:                            # the plugin says it again, with the course
        print(f"autograde: no warm zygote at start: {err}", file=sys.stderr)


def wait_ready() -> bool:
    """On a worker (`client.run(cluster.wait_ready)`): wait until its zygote has imported."""
    launcher = _STATE.get("launcher")
    if launcher is not None and launcher.warm:
        launcher._wait_ready()
    return launcher is not None


class _GradingSetup:
    """What GradingPlugin does on every worker (and each one that joins): the worker's sandbox is
    checked, its zygote adopted or started, and every assignment's grading context loaded."""

    name = "autograde-grading"

    def __init__(self, course: Course, limits: Limits, cell_cpu: dict, warm: bool):
        self.course, self.limits, self.cell_cpu, self.warm = course, limits, cell_cpu, warm

    def setup(self, worker=None):
        sandbox.require(self.course)
        state = _worker_state(self.course, self.limits, self.warm)
        for name, cpu in self.cell_cpu.items():
            state["contexts"][name] = one_submission.load_context(self.course, name, cpu)

    def teardown(self, worker=None):
        launcher = _STATE.pop("launcher", None)
        if launcher is not None:
            launcher.close()


def __getattr__(name: str):
    """`GradingPlugin`, a Dask WorkerPlugin doing _GradingSetup's work, made when first asked for
    (so that grading without Dask never imports it); pickled by name like any module class."""
    if name == "GradingPlugin":
        from distributed.diagnostics.plugin import WorkerPlugin
        made = type("GradingPlugin", (_GradingSetup, WorkerPlugin), {"__module__": __name__})
        globals()["GradingPlugin"] = made
        return made
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def measure_task(course: Course, name: str, limits: Limits) -> dict:
    """On a worker: the reference's CPU time per cell, in this worker's sandbox (batch.calibrate)."""
    return one_submission.measure_reference(course, name, limits, _slot_and_stage(course).get("stage"))


def payload(sub, course: Course, limits: Limits, cell_cpu: dict, warm: bool) -> dict:
    """What a worker needs to grade one submission, the files read here without following links."""
    files = {sub.path.name: one_submission.read_plain(sub.path, one_submission.MAX_NOTEBOOK_BYTES)}
    notes = []
    for entry in sorted(os.scandir(sub.path.parent), key=lambda e: e.name):
        if entry.name == sub.path.name or entry.name.endswith(".ipynb") or \
                entry.is_dir(follow_symlinks=False):
            continue
        try:
            files[entry.name] = one_submission.read_plain(Path(entry.path),
                                                          one_submission.MAX_DATA_FILE_BYTES)
        except one_submission.Unsafe as err:
            notes.append(f"the file {entry.name!r} next to your notebook was not used: {err}")
    return {"course": course, "assignment": sub.assignment, "student": sub.student,
            "notebook": sub.path.name, "files": files, "notes": notes, "limits": limits,
            "cell_cpu": cell_cpu, "warm": warm}


def grade_task(job: dict) -> dict:
    """On a Dask worker: grade one submission; {"result", "graded": the executed notebook}."""
    course, name = job["course"], job["assignment"]
    state = _worker_state(course, job["limits"], job["warm"])
    contexts = state["contexts"]
    if name not in contexts:
        contexts[name] = one_submission.load_context(course, name, job["cell_cpu"])
    with tempfile.TemporaryDirectory(prefix="autograde-task-") as tmp:
        inbox, private = Path(tmp) / "submission", Path(tmp) / "private"
        inbox.mkdir()
        for file_name, data in job["files"].items():
            (inbox / file_name).write_bytes(data)
        result = one_submission.grade_submission(contexts[name], job["student"], inbox / job["notebook"],
                                                 private, state["slot"], job["limits"], state["launcher"],
                                                 state.get("stage"))
        graded = private / "graded.ipynb"
        text = graded.read_text() if graded.exists() else None
    result["tampering"] = job["notes"] + result.get("tampering", [])
    result["needs_look"] = job["notes"] + result.get("needs_look", [])
    return {"result": result, "graded": text}


# ---------------------------------------------------------------- on the grader's side
class DaskPool:
    """The same interface as batch.LocalPool, on the workers of a Dask scheduler."""

    def __init__(self, address: str, course: Course, limits: Limits, cell_cpu: dict,
                 warm: bool = True, security=None):
        from distributed import Client
        if security is None:
            security = connect(address)                 # refuses: no certificates, not insecure
        if security == INSECURE and not address.startswith("tcp://"):
            raise ClusterRefused(f"--insecure-cluster applies to tcp:// addresses, not {address}")
        if security != INSECURE and not address.startswith("tls://"):
            raise ClusterRefused(f"certificates were given but {address} is not a tls:// address")
        self.client = Client(address, timeout="30s",
                             **({} if security == INSECURE else {"security": security}))
        self.course, self.limits, self.cell_cpu, self.warm = course, limits, cell_cpu, warm

    def measure(self, course: Course, name: str, limits: Limits, stage=None) -> dict:
        """The reference's CPU times, measured on a worker (batch.calibrate caches them here)."""
        return self.client.submit(measure_task, course, name, limits, pure=False).result()

    def start(self, cell_cpu: dict) -> None:
        """Every worker ready to grade: its zygote and grading contexts (GradingPlugin)."""
        self.cell_cpu = cell_cpu
        plugin = __getattr__("GradingPlugin")(self.course, self.limits, cell_cpu, self.warm)
        replies = self.client.register_plugin(plugin)
        failed = {w: r for w, r in (replies or {}).items()
                  if isinstance(r, dict) and r.get("status") == "error"}
        if failed:
            worker, reply = next(iter(failed.items()))
            raise RuntimeError(f"{len(failed)} Dask workers cannot grade (e.g. {worker}: "
                               f"{reply.get('exception_text') or reply.get('exception')})")

    def describe(self) -> str:
        workers = self.client.scheduler_info().get("workers", {})
        hosts = {w.get("host") for w in workers.values()}
        return f"{len(workers)} Dask workers on {len(hosts)} machine(s)"

    def run(self, todo: list, contexts: dict):
        from distributed import as_completed
        from distributed.client import FutureCancelledError
        futures = {}
        for sub in todo:
            job = payload(sub, self.course, self.limits, self.cell_cpu[sub.assignment], self.warm)
            future = self.client.submit(grade_task, job, pure=False,
                                        key=f"grade-{sub.assignment}-{sub.student}-{os.urandom(4).hex()}")
            futures[future] = sub
        for future in as_completed(futures):
            sub = futures[future]
            try:
                out = future.result()
            except (Exception, FutureCancelledError) as err:   # KilledWorker: died too often
                yield sub, one_submission.died_result(contexts[sub.assignment], sub,
                                                      f"the cluster could not grade this submission "
                                                      f"({type(err).__name__}: {err})"[:400])
                continue
            if out["graded"] is not None:
                path = one_submission.private_dir(self.course, sub) / "graded.ipynb"
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(out["graded"])
            yield sub, out["result"]

    def close(self) -> None:
        self.client.close()
