"""The grader's side of warm kernels (autograde/sandboxed/zygote.py): one zygote per grading worker.

`Cold` and `Warm` give the executor the same things: a folder for a submission, a way to start a
kernel in it, and a way to remove the folder. Cold (`--cold`, or where no sandbox mode allows a
zygote) starts `bwrap ... python -m autograde.sandboxed.kernel` per kernel; Warm asks the worker's zygote to
fork one. Warm works in every sandbox mode (sandbox.py): "root" (with or without writable
cgroups: without, rlimits and the watchdog hold the limits), "userns" and "user".
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from autograde.config import ROOT, Course
from autograde.grade import cgroups, folders, sandbox
from autograde.grade.sandbox import Limits

ZYGOTE = ROOT / "autograde" / "sandboxed" / "zygote.py"


def available() -> bool:
    """Can this machine fork warm kernels? In every sandbox mode (not unsandboxed, not refused)."""
    return sandbox.mode() in sandbox.SANDBOXED


def cases_files(course: Course) -> list[Path]:
    """Every assignment's cases.py: what the sandbox shows a kernel besides course_lib."""
    return [course.cases_file(n) for n in course.assignments() if course.cases_file(n).is_file()]


def launcher(course: Course, index: int, limits: Limits, warm: bool):
    """How a worker starts its kernels: forked from a warm zygote (started now, importing while
    the grader prepares) in every sandbox mode where `warm`, else cold processes."""
    if warm and available():
        return Warm(index, limits, cases_files(course)).start()
    return Cold()


class Cold:
    """A sandboxed kernel process per kernel, a tmpfs folder per submission."""

    warm = False

    def make_folder(self, limits: Limits) -> Path:
        return sandbox.make_folder(limits)

    def remove_folder(self, folder: Path) -> None:
        sandbox.remove_folder(folder)

    def close(self) -> None:
        pass


def nspids(pid: int) -> list[int]:
    """A process's pid in each PID namespace from the host's down (Linux's NSpid)."""
    try:
        with open(f"/proc/{pid}/status", "rb") as handle:
            for line in handle:
                if line.startswith(b"NSpid:"):
                    return [int(p) for p in line.split()[1:]]
    except (OSError, ValueError):
        return []
    return []


class Warm(Cold):
    """A zygote for one grading worker. `start()` launches it without waiting (so that it imports
    while the grader prepares); the first kernel waits for it; it is started again if it dies."""

    warm = True

    def __init__(self, index: int, limits: Limits, mounts=()):
        self.index, self.limits, self.mounts = index, limits, list(mounts)
        self.root = self.proc = None
        self.ready = False
        self.zygote_pid = None          # the zygote's host pid
        self.timing: dict = {}          # seconds of the last spawn's steps (the bench reads them)

    # -- the zygote
    def start(self) -> "Warm":
        self.root = sandbox.make_base(self.limits.disk_mb, f"w{self.index}-")
        log = os.open(self.root / "zygote.log", os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        cmd = [*sandbox.zygote_wrapper(self.root, self.mounts + [ZYGOTE]),
               sys.executable, "-m", "autograde.sandboxed.zygote"]
        env = {**sandbox.kernel_env(self.root, self.root / "records"), "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log,
                                     env=env, cwd=self.root, text=True, bufsize=1)
        os.close(log)
        self.ready, self.zygote_pid = False, None
        return self

    def _wait_ready(self) -> None:
        if not self._alive():
            self.close()
            self.start()
        while not self.ready:
            message = self._read()
            if "ready" in message:
                self.ready = True
                self.zygote_pid = next((p for p in sandbox.tree_pids(self.proc.pid)
                                        if nspids(p)[-1:] == [message["ready"]]), self.proc.pid)

    def _read(self) -> dict:
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("the warm-kernel zygote stopped: " + self.log_tail())
        return json.loads(line)

    def log_tail(self) -> str:
        try:
            return (self.root / "zygote.log").read_text()[-600:]
        except (OSError, TypeError):
            return ""

    def _send(self, message: dict) -> None:
        self.proc.stdin.write(json.dumps(message) + "\n")
        self.proc.stdin.flush()

    def _alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    # -- folders: subfolders of the zygote's own folder, which its sandbox shows
    def make_folder(self, limits: Limits) -> Path:
        self._wait_ready()
        return folders.make_private_dir(self.root, "s")

    def remove_folder(self, folder: Path) -> None:
        folders.remove(folder)

    # -- kernels
    def _host_pid(self, child: int) -> int | None:
        """The host pid of the kernel's init, which the zygote knows by its pid in its own
        namespace: a grandchild of the zygote (with namespaces) or its child (without)."""
        if not sandbox.uses_namespaces():
            return child
        for c in sandbox.children(self.zygote_pid):
            for g in sandbox.children(c):
                ids = nspids(g)
                if len(ids) >= 2 and ids[1] == child:
                    return g
        return None

    def spawn(self, folder: Path, connection_file: str, env: dict, group: cgroups.Group | None,
              slot: int, limits: Limits | None = None) -> int:
        """Fork a kernel for `folder`, running as `slot`'s grading uid; the host pid of its init
        (the sandbox's root: the kernel's PID namespace dies with it), once it is in `group`."""
        t0 = time.perf_counter()
        self._wait_ready()
        t1 = time.perf_counter()
        lim = limits or self.limits
        namespaces = sandbox.uses_namespaces()
        spec = {"folder": str(folder), "connection_file": connection_file, "env": env,
                "uid": sandbox.sandbox_uid(slot), "log": str(folder / ".kernel.log"),
                "tmp_mb": lim.tmp_mb, "namespaces": namespaces, "rlimits": lim.rlimits(),
                "keep": sandbox.readonly_under_tmp(self.mounts + [ZYGOTE]) if namespaces else []}
        self._send({"spawn": spec})
        answer = self._read()
        if "child" not in answer:
            raise RuntimeError(f"the zygote could not fork a kernel: {answer.get('error')}")
        t2 = time.perf_counter()
        host = self._host_pid(answer["child"])
        ok = host is not None
        if ok and group is not None:
            for procs in group.procs_files():
                Path(procs).write_text(f"{host}\n")
        self._send({"go": answer["child"], "ok": ok})
        self.timing = {"zygote_wait_s": t1 - t0, "fork_s": t2 - t1, "go_s": time.perf_counter() - t2}
        if not ok:
            raise RuntimeError("the zygote's child could not be found")
        return host

    def close(self) -> None:
        if self.proc is not None:
            sandbox.kill(self.proc.pid)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
            self.proc, self.ready = None, False
        if self.root is not None:
            sandbox.remove_base(self.root)
            self.root = None


class ForkedProcess:
    """What jupyter_client's LocalProvisioner expects of a Popen, for a kernel the zygote forked
    (not our child: we hold a pidfd on its init, which says when it is gone)."""

    stdin = stdout = stderr = None

    def __init__(self, pid: int):
        self.pid, self.returncode = pid, None
        try:
            self.pidfd = os.pidfd_open(pid)
        except (AttributeError, OSError):
            self.pidfd = None

    def poll(self):
        if self.returncode is not None:
            return self.returncode
        if self.pidfd is not None:
            import select
            if not select.select([self.pidfd], [], [], 0)[0]:
                return None
        else:
            try:
                with open(f"/proc/{self.pid}/stat", "rb") as handle:
                    if handle.read().rsplit(b")", 1)[1].split()[0] not in (b"Z", b"X"):
                        return None
            except OSError:
                pass
        self.returncode = -9
        return self.returncode

    def wait(self, timeout=None):
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired([str(self.pid)], timeout)
            if self.pidfd is not None:
                import select
                select.select([self.pidfd], [], [], 0.05 if deadline is None else
                              max(0.0, min(0.05, deadline - time.monotonic())))
            else:
                time.sleep(0.01)
        return self.returncode

    def send_signal(self, signum) -> None:
        if self.poll() is not None:
            return
        try:
            if self.pidfd is not None:
                import signal
                signal.pidfd_send_signal(self.pidfd, signum)
            else:
                os.kill(self.pid, signum)
        except (ProcessLookupError, OSError):
            pass

    def kill(self) -> None:
        self.send_signal(9)

    def terminate(self) -> None:
        self.send_signal(15)

    def close(self) -> None:
        if self.pidfd is not None:
            os.close(self.pidfd)
            self.pidfd = None
