"""Isolating a student's kernel with bubblewrap (Linux), plus the resource limits around it.

As root the kernel runs as `sh (enter cgroups) bwrap ... setpriv --reuid=<grading uid> ... prlimit ...
python -m ipykernel`:

- a new mount namespace that shows only the system's /usr, the Python installation, `course_lib`,
  `autograde/__init__.py`, `autograde/spec.py`, `autograde/sandboxed/` (`__init__.py`, `recorder.py`)
  and the graded assignment's `cases.py`, read-only, a private, size-limited `/tmp` (mode 1777,
  TMPDIR), and the submission's own folder, read-write; the rest of solutions/ (answers,
  mistakes), reference outputs, the gradebook, other students' folders
  and the rest of the disk are not there at all;
- new PID, IPC, UTS and network namespaces: no network (the grader talks to the kernel through ZMQ
  `ipc` sockets in the submission folder), and killing the sandbox kills every process it started;
- an unprivileged uid per worker (no capabilities, no_new_privs), with RLIMIT_NPROC (fork bombs),
  RLIMIT_DATA (heap bombs raise MemoryError) and RLIMIT_FSIZE;
- a control group per kernel (autograde/grade/cgroups.py): memory (tmpfs, memfd and shared memory
  counted), processes and threads, one CPU;
- the submission's folder is a tmpfs of its own with a size limit (`Limits.disk_mb`).

Not root, with bwrap: "user namespace" mode (`bwrap --unshare-user`), where the kernel allows
unprivileged user namespaces: the same mount, PID, IPC, UTS and network isolation, the student's code
running as the grader's own uid mapped inside; no separate uid, and cgroups only where the grader's
user has a delegated cgroup v2 subtree. `mode()` says which applies and `isolation_warning()` what is
missing; without bwrap the kernel runs unsandboxed with the rlimits only. docs/GRADING.md lists what
each mode does not prevent.
"""

from __future__ import annotations

import fcntl
import os
import secrets
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import psutil

from autograde.config import ROOT
from autograde.grade import cgroups

BASE_UID = 61000                                   # worker k runs student code as uid BASE_UID + k
FOLDER_PREFIX = "ag-"                              # /tmp/ag-<grader pid>-<random>: short ipc paths


@dataclass(frozen=True)
class Limits:
    """Resource limits for one submission (see execute.py for how cell time limits are set)."""

    memory_mb: int = 4096          # the sandbox's memory (cgroup), and RLIMIT_DATA per process
    processes: int = 256           # processes and threads (cgroup pids.max, RLIMIT_NPROC)
    cpus: float = 1.0              # CPU quota of the sandbox (cgroup)
    file_mb: int = 200             # largest file the kernel may write (RLIMIT_FSIZE)
    disk_mb: int = 1024            # the submission folder's size (its own tmpfs)
    tmp_mb: int = 512              # the private /tmp's size
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


@lru_cache(maxsize=None)
def _userns_works() -> bool:
    """Can this (non-root) user run bwrap in a new user namespace here?"""
    if not bwrap_path():
        return False
    probe = [bwrap_path(), "--unshare-user", "--unshare-pid", "--unshare-net", "--ro-bind", "/", "/",
             "--proc", "/proc", "--dev", "/dev", "true"]
    try:
        return subprocess.run(probe, capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def mode() -> str:
    """"root" (bwrap + a grading uid + cgroups), "userns" (bwrap in a user namespace) or "none"."""
    if not bwrap_path():
        return "none"
    if os.geteuid() == 0:
        return "root"
    return "userns" if _userns_works() else "none"


def sandbox_uid(slot: int) -> int:
    """The uid the student's code runs as, seen from the grader (who owns what it writes)."""
    return BASE_UID + slot if mode() == "root" else os.getuid()


def isolation_warning() -> str | None:
    """What the sandbox cannot do here, said loudly (None: everything is in place)."""
    how = mode()
    if how == "none":
        why = ("bubblewrap (bwrap) is not installed" if not bwrap_path() else
               "the grader is not root and this kernel refuses unprivileged user namespaces")
        return ("WARNING: student code will run WITHOUT isolation (" + why + "): it can read your "
                "solutions and gradebook, write anywhere you can, and use the network. Install "
                "bubblewrap (apt-get install bubblewrap) and grade as root for the sandbox.")
    missing = []
    if how == "userns":
        missing.append("student code runs as your own uid inside a user namespace (no separate "
                       "grading uid)")
    if cgroups.unavailable():
        missing.append(f"no cgroup limits ({cgroups.unavailable()}): memory in tmpfs, memfd or "
                       "shared memory is not counted, only each process's data segment")
    if how != "root":
        missing.append("the submission folder has no size limit of its own (RLIMIT_FSIZE caps "
                       "each file only)")
    return ("NOTE: grading sandboxed, with less isolation than as root: " + "; ".join(missing)
            + ".") if missing else None


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
    return _ro_binds(python_paths())


def python_paths() -> list[str]:
    """The folders _python_mounts binds (those under /usr come with the system's mounts)."""
    roots = {sys.prefix, sys.base_prefix, os.path.dirname(os.path.realpath(sys.executable))}
    roots |= {sysconfig.get_paths()[k] for k in ("stdlib", "platstdlib", "purelib", "platlib")}
    roots |= set(_extra_paths())
    roots |= {p for p in sys.path if os.path.basename(p) in ("site-packages", "dist-packages")
              and os.path.isdir(p)}           # added by a .pth file or PYTHONPATH: the kernel needs them
    roots = sorted(r for r in roots if not r.startswith("/usr/"))
    return [r for r in roots if not any(r != o and r.startswith(o + "/") for o in roots)]


def readonly_under_tmp(extra=()) -> list[str]:
    """What a kernel reads that lives under /tmp (a checkout or a venv there, as in a CI runner's
    fresh clone): a kernel given a fresh /tmp of its own must have these bound again."""
    return [str(p) for p in [*python_paths(), *course_paths(extra)]
            if str(p) == "/tmp" or str(p).startswith("/tmp/")]


def _course_mounts(extra) -> list[str]:
    """Only what a student kernel imports: course_lib, the hidden-case runtime and `extra` (the
    graded assignment's cases.py: how inputs are built, no answers)."""
    return _ro_binds(course_paths(extra))


def course_paths(extra=()) -> list[Path]:
    """course_lib, the sandbox-side files of autograde/ (autograde/sandboxed/, and spec.py, which
    cases.py imports; tests/test_layout.py checks they import nothing else) and `extra`."""
    grader = ROOT / "autograde"
    return [ROOT / "course_lib", grader / "__init__.py", grader / "spec.py",
            grader / "sandboxed" / "__init__.py", grader / "sandboxed" / "recorder.py", *map(Path, extra)]


def wrapper(folder: Path, slot: int, limits: Limits, mounts=(),
            group: cgroups.Group | None = None) -> list[str]:
    """The command prefix that runs a kernel inside the sandbox (or just the limits, unsandboxed)."""
    # RLIMIT_DATA, not RLIMIT_AS: a CUDA build of torch maps 3.7 GiB of libraries at import (seen
    # on an H200 host), which an address-space limit counts; the data limit counts what code allocates
    rlimits = ["prlimit", f"--data={limits.memory_mb * 2**20}", f"--fsize={limits.file_mb * 2**20}",
               "--core=0", "--"]
    # the sandbox dies with the worker that started it, even when the worker is killed
    orphan_guard = ["setpriv", "--pdeathsig", "KILL"] if shutil.which("setpriv") else []
    enter = group.enter_prefix() if group else []
    how = mode()
    if how == "none":
        return enter + orphan_guard + (rlimits if shutil.which("prlimit") else [])
    namespaces, filesystem = NAMESPACES, _filesystem(folder, limits, mounts)
    if how == "userns":
        return [*enter, *orphan_guard, bwrap_path(), "--unshare-user", "--disable-userns",
                *namespaces, *filesystem, "prlimit", f"--nproc={limits.processes}", *rlimits[1:]]
    uid = str(BASE_UID + slot)
    return [*enter, *orphan_guard, bwrap_path(), *namespaces, *filesystem,
            "setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups",
            "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs",
            "prlimit", f"--nproc={limits.processes}", *rlimits[1:]]


NAMESPACES = ["--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts",
              "--die-with-parent", "--new-session", "--hostname", "grading"]


def _filesystem(folder: Path, limits: Limits, mounts) -> list[str]:
    return ["--dev", "/dev", "--proc", "/proc",
            "--perms", "1777", "--size", str(limits.tmp_mb * 2**20), "--tmpfs", "/tmp",
            *_system_mounts(), *_python_mounts(), *_course_mounts(mounts),
            "--bind", str(folder), str(folder), "--chdir", str(folder),
            "--setenv", "JPY_PARENT_PID", "1"]      # inside, the parent is pid 1: don't poll it


def zygote_wrapper(folder: Path, mounts=()) -> list[str]:
    """The sandbox of a warm-kernel zygote (autograde/sandboxed/zygote.py): a kernel's view of the system,
    with the worker's whole folder, as root inside (it sets each forked kernel up, then drops to
    the grading uid); it runs no student code itself. Only in "root" mode."""
    orphan_guard = ["setpriv", "--pdeathsig", "KILL"] if shutil.which("setpriv") else []
    return [*orphan_guard, bwrap_path(), *NAMESPACES, *_filesystem(folder, Limits(), mounts)]


SLOTS = Path(tempfile.gettempdir()) / f"autograde-slots-{os.getuid()}"   # each user its own
_SLOT: dict = {}


def forget_inherited_slot() -> None:
    """In a forked worker: the slot (and its lock) belong to the parent; claim one of its own."""
    lock = _SLOT.pop("lock", None)
    _SLOT.pop("slot", None)
    if lock is not None:
        lock.close()        # our copy only: the parent's open file keeps its flock


def claim_slot() -> int:
    """A slot number no other grading process on this machine holds (an flock on a file, held
    for the life of this process): it makes the sandbox uid distinct per worker."""
    if "slot" in _SLOT:
        return _SLOT["slot"]
    SLOTS.mkdir(mode=0o700, exist_ok=True)
    for slot in range(1000):
        handle = open(SLOTS / f"{slot}.lock", "w")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            continue
        _SLOT["slot"], _SLOT["lock"] = slot, handle
        return slot
    raise RuntimeError("no free grading slot on this machine")


def new_group(slot: int, limits: Limits, serial: int) -> cgroups.Group | None:
    """A fresh control group for one kernel of this worker (None where there are none)."""
    name = f"autograde-{os.getpid()}-{slot}-{serial}"
    return cgroups.Group.create(name, group_memory_bytes(limits), limits.processes, limits.cpus)


GROUP_HEADROOM_MB = 512     # the libraries' own pages (torch's code) above the heap's limit


def group_memory_bytes(limits: Limits) -> int:
    """The sandbox's memory cgroup limit: a heap that grows meets RLIMIT_DATA first (a clean
    MemoryError), and memory no rlimit sees (tmpfs, memfd, shared memory) meets this."""
    return (limits.memory_mb + GROUP_HEADROOM_MB) * 2**20


# ---------------------------------------------------------------- the submission's folder
def _mount_tmpfs(folder: Path, size_mb: int) -> bool:
    if os.geteuid() != 0 or not shutil.which("mount"):
        return False
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mb}m,mode=0700,nosuid,nodev",
                           "tmpfs", str(folder)], capture_output=True)
    return done.returncode == 0


def _is_mount(folder: Path) -> bool:
    try:
        return os.path.ismount(folder)
    except OSError:
        return False


def make_folder(limits: Limits) -> Path:
    """A new, empty folder for one submission: a size-limited tmpfs of its own where the grader
    may mount one (root), else a plain folder (then only RLIMIT_FSIZE limits each file)."""
    folder = Path("/tmp") / f"{FOLDER_PREFIX}{os.getpid()}-{secrets.token_hex(4)}"
    folder.mkdir(mode=0o700)
    _mount_tmpfs(folder, limits.disk_mb)
    return folder


def prepare_folder(folder: Path, slot: int) -> None:
    """Make the submission's folder (and nothing else) writable by the grading uid."""
    if mode() == "root":
        uid = BASE_UID + slot
        for path in [folder, *folder.rglob("*")]:
            os.lchown(path, uid, uid)


def remove_folder(folder: Path) -> None:
    """Unmount (if it is a tmpfs of ours) and delete a submission folder, never following links."""
    if _is_mount(folder):
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)
    shutil.rmtree(folder, ignore_errors=True)
    if folder.exists() and _is_mount(folder):            # a lazy unmount still finishing
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


def sweep_folders() -> None:
    """Remove submission folders left by graders that were killed (their pid is gone)."""
    for folder in Path("/tmp").glob(f"{FOLDER_PREFIX}*-*"):
        pid = folder.name[len(FOLDER_PREFIX):].split("-")[0]
        if pid.isdigit() and not os.path.exists(f"/proc/{pid}"):
            remove_folder(folder)


def _extra_paths() -> list[str]:
    """Package folders the grader imports from through PYTHONPATH (an install without a venv,
    e.g. a cluster's module system): the kernel gets them too, read-only."""
    return [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep)
            if p and os.path.isdir(p) and ("site-packages" in p or "dist-packages" in p)]


def kernel_env(folder: Path, record_dir: Path, solutions: Path | None = None) -> dict:
    """A small, explicit environment: nothing of the instructor's leaks in."""
    return {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(folder), "LANG": "C.UTF-8",
            "PYTHONPATH": os.pathsep.join([str(ROOT), *_extra_paths()]),
            "COURSE_GRADING_RECORD_DIR": str(record_dir),
            "COURSE_SOLUTIONS_DIR": str(solutions or ROOT / "solutions"),
            "COURSE_DEVICE": "cpu", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
            "MPLBACKEND": "Agg", "IPYTHONDIR": str(folder / ".ipython"),
            "JUPYTER_RUNTIME_DIR": str(folder / ".jupyter"), "PYTHONDONTWRITEBYTECODE": "1",
            "TQDM_DISABLE": "1", "TMPDIR": "/tmp" if mode() != "none" else str(folder)}


# ---------------------------------------------------------------- watching and stopping it
def tree(pid: int) -> list[psutil.Process]:
    """The process and all its descendants (every process of the sandbox)."""
    try:
        proc = psutil.Process(pid)
        return [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return []


def usage(pid: int) -> tuple[float, int, int]:
    """(CPU seconds, resident bytes, process count) of the sandbox rooted at pid."""
    return _usage(tree(pid))


def usage_of(pids) -> tuple[float, int, int]:
    """The same for a known set of processes (a control group's)."""
    procs = []
    for pid in pids:
        try:
            procs.append(psutil.Process(pid))
        except psutil.Error:
            pass
    return _usage(procs)


def _usage(procs) -> tuple[float, int, int]:
    cpu = rss = count = 0
    for proc in procs:
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
