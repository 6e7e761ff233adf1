"""The grader's side of warm kernels (autograde/sandboxed/zygote.py): one zygote per grading worker.

`Cold` and `Warm` give the executor the same three things: a folder for a submission, a way to start
a kernel in it, and a way to remove the folder. Cold (the default where the zygote cannot run)
starts `bwrap ... python -m ipykernel` per kernel; Warm asks the worker's zygote to fork one. Warm
needs the full sandbox (bwrap as root), which the zygote's children need to set themselves up.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

import psutil

from autograde.config import ROOT, Course
from autograde.grade import cgroups, sandbox
from autograde.grade.sandbox import Limits

ZYGOTE = ROOT / "autograde" / "sandboxed" / "zygote.py"


def available() -> bool:
    return sandbox.mode() == "root" and cgroups.unavailable() is None


class Cold:
    """A bwrap-wrapped kernel process per kernel, a tmpfs folder per submission."""

    warm = False

    def make_folder(self, limits: Limits) -> Path:
        return sandbox.make_folder(limits)

    def remove_folder(self, folder: Path) -> None:
        sandbox.remove_folder(folder)

    def close(self) -> None:
        pass


def _nspid(pid: int) -> int | None:
    """The pid a process has in its innermost PID namespace (Linux's NSpid)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("NSpid:"):
                return int(line.split()[-1])
    except (OSError, ValueError):
        return None
    return None


class Warm(Cold):
    """A zygote for one grading worker. `start()` launches it without waiting (so that it imports
    while the grader prepares); the first kernel waits for it; it is started again if it dies."""

    warm = True

    def __init__(self, index: int, limits: Limits, mounts=()):
        self.index, self.limits, self.mounts = index, limits, list(mounts)
        self.root = self.proc = None
        self.ready = False

    # -- the zygote
    def start(self) -> "Warm":
        self.root = Path("/tmp") / f"{sandbox.FOLDER_PREFIX}{os.getpid()}-w{self.index}"
        self.root.mkdir(mode=0o711, exist_ok=True)
        sandbox._mount_tmpfs(self.root, self.limits.disk_mb)
        os.chmod(self.root, 0o711)
        cmd = [*sandbox.zygote_wrapper(self.root, self.mounts + [ZYGOTE]),
               sys.executable, "-m", "autograde.sandboxed.zygote"]
        env = {**sandbox.kernel_env(self.root, self.root / "records"), "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, env=env, cwd=self.root, text=True,
                                     bufsize=1)
        self.ready = False
        return self

    def _wait_ready(self) -> None:
        if not self._alive():
            self.close()
            self.start()
        while not self.ready:
            self.ready = "ready" in self._read()

    def _read(self) -> dict:
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("the warm-kernel zygote stopped")
        return json.loads(line)

    def _send(self, message: dict) -> None:
        self.proc.stdin.write(json.dumps(message) + "\n")
        self.proc.stdin.flush()

    def _alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    # -- folders: subfolders of the zygote's own folder, which its sandbox shows
    def make_folder(self, limits: Limits) -> Path:
        self._wait_ready()
        folder = self.root / f"s{secrets.token_hex(4)}"
        folder.mkdir(mode=0o700)
        return folder

    def remove_folder(self, folder: Path) -> None:
        shutil.rmtree(folder, ignore_errors=True)

    # -- kernels
    def spawn(self, folder: Path, connection_file: str, env: dict, group: cgroups.Group | None,
              slot: int) -> int:
        """Fork a kernel for `folder`, running as `slot`'s grading uid; its host pid, once it is
        in `group` and on its way."""
        self._wait_ready()
        lim = self.limits
        spec = {"folder": str(folder), "connection_file": connection_file, "env": env,
                "uid": sandbox.sandbox_uid(slot), "log": str(folder / ".kernel.log"),
                "tmp_mb": lim.tmp_mb,
                "keep": sandbox.readonly_under_tmp(self.mounts + [ZYGOTE]),
                "rlimits": {"RLIMIT_DATA": lim.memory_mb * 2**20, "RLIMIT_FSIZE": lim.file_mb * 2**20,
                            "RLIMIT_CORE": 0, "RLIMIT_NPROC": lim.processes}}
        self._send({"spawn": spec})
        child = self._read()["child"]
        host = next((p.pid for p in psutil.Process(self.proc.pid).children(recursive=True)
                     if _nspid(p.pid) == child), None)
        ok = host is not None
        if ok and group is not None:
            for procs in group.procs_files():
                Path(procs).write_text(f"{host}\n")
        self._send({"go": child, "ok": ok})
        if not ok:
            raise RuntimeError("the zygote's child could not be found")
        return host

    def close(self) -> None:
        if self.proc is not None:
            sandbox.kill(self.proc.pid)
            self.proc.wait(timeout=10)
            self.proc, self.ready = None, False
        if self.root is not None:
            sandbox.remove_folder(self.root)
            self.root = None


class ForkedProcess:
    """What jupyter_client's LocalProvisioner expects of a Popen, for a kernel the zygote forked
    (not our child: we can watch and kill it, not wait for it)."""

    stdin = stdout = stderr = None

    def __init__(self, pid: int):
        self.pid, self.returncode = pid, None

    def poll(self):
        try:
            if psutil.Process(self.pid).status() != psutil.STATUS_ZOMBIE:
                return None
        except psutil.Error:
            pass
        self.returncode = -9 if self.returncode is None else self.returncode
        return self.returncode

    def wait(self, timeout=None):
        try:
            psutil.Process(self.pid).wait(timeout)
        except psutil.NoSuchProcess:
            pass
        except psutil.TimeoutExpired as err:
            raise subprocess.TimeoutExpired([str(self.pid)], timeout) from err
        return self.poll()

    def send_signal(self, signum) -> None:
        try:
            os.kill(self.pid, signum)
        except ProcessLookupError:
            pass

    def kill(self) -> None:
        self.send_signal(9)

    def terminate(self) -> None:
        self.send_signal(15)


def launcher(course: Course, index: int, limits: Limits, warm: bool):
    """How a worker starts its kernels: forked from a warm zygote (started now, importing while
    the grader prepares) where the full sandbox allows it and `warm`, else cold processes."""
    if warm and available():
        cases = [course.cases_file(n) for n in course.assignments() if course.cases_file(n).is_file()]
        return Warm(index, limits, cases).start()
    return Cold()
