"""Isolating a student's kernel with bubblewrap (Linux), plus the resource limits around it.

The kernel runs as `bwrap ... setpriv --reuid=<grading uid> ... prlimit ... python -m ipykernel`:

- a new mount namespace that shows only the system's /usr, the Python installation, `course_lib`,
  `autograde/__init__.py`, `autograde/hidden.py` and the graded assignment's `cases.py`, read-only,
  and the submission's own folder, read-write; the rest of solutions/ (answers, mistakes), the
  gradebook, other students' folders and the rest of the disk are not there at all;
- new PID, IPC, UTS and network namespaces: no network (the grader talks to the kernel through ZMQ
  `ipc` sockets in the submission folder), and killing the sandbox kills every process it started;
- an unprivileged uid per worker (no capabilities), with RLIMIT_NPROC (fork bombs), RLIMIT_DATA
  (memory bombs raise MemoryError) and RLIMIT_FSIZE.

Where bwrap is missing (or not on Linux) the kernel runs unsandboxed with the same limits where
possible, and `isolation_warning()` says so loudly. docs/GRADING.md lists what this does not prevent.
"""

from __future__ import annotations

import os
import shutil
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

import psutil

from autograde.course import ROOT

BASE_UID = 61000                                   # worker k runs student code as uid BASE_UID + k


@dataclass(frozen=True)
class Limits:
    """Resource limits for one submission (see execute.py for how cell time limits are set)."""

    memory_mb: int = 4096          # data segment (heap, private mappings) per process and resident memory of the sandbox
    processes: int = 256           # RLIMIT_NPROC for the grading uid (threads count too)
    file_mb: int = 200             # largest file the kernel may write
    cell_cpu_min_s: float = 20.0   # a cell's CPU-time limit is max(this, factor * reference's)
    cell_factor: float = 10.0
    cell_wall_factor: float = 3.0  # wall-clock backstop per cell = factor * CPU limit + extra
    cell_wall_extra_s: float = 10.0
    submission_wall_s: float = 300.0
    max_restarts: int = 3          # kernel restarts (after a crash or a limit) per submission


def bwrap_path() -> str | None:
    if sys.platform != "linux" or os.environ.get("AUTOGRADE_NO_SANDBOX"):
        return None
    return shutil.which("bwrap")


def isolation_warning() -> str | None:
    if bwrap_path() and os.geteuid() == 0:
        return None
    why = "bubblewrap (bwrap) is not installed" if not bwrap_path() else "the grader is not root"
    return ("WARNING: student code will run WITHOUT isolation (" + why + "): it can read your "
            "solutions and gradebook, write anywhere you can, and use the network. Install "
            "bubblewrap (apt-get install bubblewrap) and grade as root for the sandbox.")


def _system_mounts() -> list[str]:
    args = []
    for top in ("/bin", "/sbin", "/lib", "/lib64", "/lib32", "/usr"):
        if os.path.islink(top):
            args += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            args += ["--ro-bind", top, top]
    for etc in ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "passwd", "group",
                "nsswitch.conf", "hosts", "mime.types", "fonts"):
        args += ["--ro-bind-try", f"/etc/{etc}", f"/etc/{etc}"]
    return args


def _ro_binds(paths) -> list[str]:
    """Bind paths read-only; their parent folders are made traversable (bwrap copies e.g. /root's 0700)."""
    args, made = [], {"/", "/tmp", "/usr"}
    for path in map(str, paths):
        parents = [str(p) for p in reversed(Path(path).parents) if str(p) not in made]
        made.update(parents)
        args += [a for p in parents for a in ("--perms", "0755", "--dir", p)]
        args += ["--ro-bind", path, path]
    return args


def _python_mounts() -> list[str]:
    """The interpreter, its standard library and site-packages (venv and base), read-only."""
    roots = {sys.prefix, sys.base_prefix, os.path.dirname(os.path.realpath(sys.executable))}
    roots |= {sysconfig.get_paths()[k] for k in ("stdlib", "platstdlib", "purelib", "platlib")}
    roots = sorted(r for r in roots if not r.startswith("/usr/"))
    kept = [r for r in roots if not any(r != o and r.startswith(o + "/") for o in roots)]
    return _ro_binds(kept)


def _course_mounts(extra) -> list[str]:
    """Only what a student kernel imports: course_lib, the hidden-case runtime and `extra` (the
    graded assignment's cases.py: how inputs are built, no answers)."""
    paths = [ROOT / "course_lib", ROOT / "autograde" / "__init__.py", ROOT / "autograde" / "hidden.py",
             *extra]
    return _ro_binds(paths)


def wrapper(folder: Path, slot: int, limits: Limits, mounts=()) -> list[str]:
    """The command prefix that runs a kernel inside the sandbox (or just the limits, unsandboxed)."""
    # RLIMIT_DATA, not RLIMIT_AS: a CUDA build of torch maps 3.7 GiB of libraries at import (seen
    # on an H200 host), which an address-space limit counts; the data limit counts what code allocates
    rlimits = ["prlimit", f"--data={limits.memory_mb * 2**20}", f"--fsize={limits.file_mb * 2**20}",
               "--core=0", "--"]
    # the sandbox dies with the worker that started it, even when the worker is killed
    orphan_guard = ["setpriv", "--pdeathsig", "KILL"] if shutil.which("setpriv") else []
    if not bwrap_path() or os.geteuid() != 0:
        return orphan_guard + (rlimits if shutil.which("prlimit") else [])
    uid = str(BASE_UID + slot)
    return [*orphan_guard, bwrap_path(), "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts",
            "--die-with-parent", "--new-session", "--hostname", "grading",
            "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp",     # before binds under /tmp
            *_system_mounts(), *_python_mounts(), *_course_mounts(mounts),
            "--bind", str(folder), str(folder), "--chdir", str(folder),
            "--setenv", "JPY_PARENT_PID", "1",       # inside, the parent is pid 1: don't poll it
            "setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups",
            "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs",
            "prlimit", f"--nproc={limits.processes}", *rlimits[1:]]


def prepare_folder(folder: Path, slot: int) -> None:
    """Make the submission's folder (and nothing else) writable by the grading uid."""
    if bwrap_path() and os.geteuid() == 0:
        uid = BASE_UID + slot
        for path in [folder, *folder.rglob("*")]:
            os.lchown(path, uid, uid)


def kernel_env(folder: Path, record_dir: Path, solutions: Path | None = None) -> dict:
    """A small, explicit environment: nothing of the instructor's leaks in."""
    return {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(folder), "LANG": "C.UTF-8",
            "PYTHONPATH": str(ROOT), "COURSE_GRADING_RECORD_DIR": str(record_dir),
            "COURSE_SOLUTIONS_DIR": str(solutions or ROOT / "solutions"),
            "COURSE_DEVICE": "cpu", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
            "MPLBACKEND": "Agg", "IPYTHONDIR": str(folder / ".ipython"),
            "JUPYTER_RUNTIME_DIR": str(folder / ".jupyter"), "PYTHONDONTWRITEBYTECODE": "1",
            "TQDM_DISABLE": "1", "TMPDIR": "/tmp" if bwrap_path() else str(folder)}


def tree(pid: int) -> list[psutil.Process]:
    """The process and all its descendants (every process of the sandbox)."""
    try:
        proc = psutil.Process(pid)
        return [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return []


def usage(pid: int) -> tuple[float, int, int]:
    """(CPU seconds, resident bytes, process count) of the sandbox rooted at pid."""
    cpu = rss = count = 0
    for proc in tree(pid):
        try:
            times = proc.cpu_times()
            cpu += times.user + times.system + times.children_user + times.children_system
            rss += proc.memory_info().rss
            count += 1
        except psutil.Error:
            pass
    return cpu, rss, count


def kill(pid: int) -> None:
    """Kill the sandbox rooted at pid and everything in it."""
    for proc in reversed(tree(pid)):
        try:
            proc.kill()
        except psutil.Error:
            pass
