"""Isolating a student's kernel: the sandbox modes, the grading uids, the limits, and the sweep that
leaves nothing of one student running when the next one starts.

The contract (other modules, the Gradescope scripts included, rely on exactly this)
------------------------------------------------------------------------------------
`mode()` returns one of MODES, chosen by *probing* what this machine allows, never by looking for a
program on PATH:

- "root": the grader is root and bubblewrap could create its namespaces here (a probe runs `bwrap`
  with new mount, PID, IPC, UTS and network namespaces). Student code runs in them as an
  unprivileged grading uid per worker (BASE_UID + slot), without capabilities, with no_new_privs;
  it sees only the system's /usr, the Python installation, `course_lib`, the kernel-side grader
  files and the graded assignment's `cases.py` (read-only), a private size-limited /tmp and
  /dev/shm, and its own folder (a size-limited tmpfs). Memory, processes and CPU are limited by a
  control group where the grader can make one (cgroups.py), else by rlimits and the watchdog.
- "userns": the grader is not root and bubblewrap works in an unprivileged user namespace: the same
  namespaces and filesystem view; student code runs as the grader's own uid mapped inside, without
  capabilities. No separate uid; cgroups only where a cgroup v2 subtree is delegated.
- "user": the grader is root, but namespaces are refused (Docker's default seccomp profile,
  Gradescope's container, some clusters). Student code runs as the grading uid (BASE_UID + slot),
  without capabilities, with no_new_privs and rlimits, under an init process that keeps every one of
  its processes in view. No filesystem isolation: it is Unix permissions that keep the sources
  away, so `require(course)` first proves, as that uid, that it can run the kernel but can neither
  read the course's sources (solutions/, the work folder) nor write the results; else grading is
  refused with the paths to fix. The kernel reads the assignment's `cases.py` from a copy the grader
  makes (`stage_cases`). What the uid leaves in /tmp, /var/tmp and /dev/shm is removed after each
  submission. Set-up for Gradescope (setup.sh): `chmod 700 /autograder/source/solutions` and
  keep /autograder/results and the work folder root-only; nothing else (no user needs creating:
  the uids are numeric).
- "unsandboxed": none of the above works and the instructor asked for it in so many words
  (`--allow-unsandboxed`, `allow_unsandboxed()`): student code runs as the grader's own user.
  Every result says so (`isolation`, and a line under "needs a look").
- "none": none of the above works and nobody asked: `require()` raises SandboxRefused, whose
  message says why and what to do. No student code runs.

`AUTOGRADE_SANDBOX=root|userns|user` asks for one mode (refused, not replaced, where it does not
work); `AUTOGRADE_NO_SANDBOX=1` makes bubblewrap count as unavailable (a Gradescope-like machine).
`describe(mode, group, warm)` is the `isolation` field every result carries: the mode, what it
means, the uid, whether the kernel had a PID namespace of its own, and which limits held
(a control group's, or rlimits and the watchdog).

One student cannot touch the next: every kernel has a PID namespace of its own (cold: bubblewrap's;
warm: autograde/sandboxed/kernel.py makes one per kernel) or, in "user" mode, an init process as subreaper;
after each kernel `sweep_uid` kills every process of its uid (one `kill(-1)` as that uid is atomic
against fork) and waits until none is left, before the next student's kernel starts.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import stat
import subprocess
import sys
import sysconfig
import tempfile
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from autograde.config import ROOT
from autograde.grade import cgroups, folders

BASE_UID = 61000                                   # worker k runs student code as uid BASE_UID + k
FOLDER_PREFIX = "ag-"                              # /tmp/ag-<grader pid>-<random>: short ipc paths
MODES = {
    "root": "bubblewrap namespaces (mount, PID, IPC, UTS, network) as root; student code as an "
            "unprivileged grading uid; sees only the system, Python, course_lib and the cases",
    "userns": "bubblewrap in an unprivileged user namespace: the same namespaces; student code as "
              "the grader's own uid mapped inside, without capabilities",
    "user": "no namespaces (refused here); student code as a separate unprivileged uid that cannot "
            "read the sources or write the results, with rlimits and an init holding its processes",
    "unsandboxed": "NO SANDBOX (asked for with --allow-unsandboxed): student code ran as the "
                   "grader's own user and could read and write what it can",
    "none": "no sandbox works here: grading refused",
}
SANDBOXED = ("root", "userns", "user")
ALLOW_ENV, MODE_ENV = "AUTOGRADE_ALLOW_UNSANDBOXED", "AUTOGRADE_SANDBOX"


class SandboxRefused(RuntimeError):
    """No sandbox can run student code here and running it unsandboxed was not asked for."""


@dataclass(frozen=True)
class Limits:
    """Resource limits for one submission (see execute.py for how cell time limits are set)."""

    memory_mb: int = 4096          # the sandbox's memory (cgroup), and RLIMIT_DATA per process
    processes: int = 256           # processes and threads (cgroup pids.max, RLIMIT_NPROC)
    cpus: float = 1.0              # CPU quota of the sandbox (cgroup)
    file_mb: int = 200             # largest file the kernel may write (RLIMIT_FSIZE)
    disk_mb: int = 1024            # the submission folder's size (its own tmpfs)
    tmp_mb: int = 512              # the private /tmp's size (and /dev/shm's)
    cell_cpu_min_s: float = 20.0   # a cell's CPU-time limit is max(this, factor * reference's)
    cell_factor: float = 10.0
    cell_wall_factor: float = 3.0  # wall-clock backstop per cell = factor * CPU limit + extra
    cell_wall_extra_s: float = 10.0
    submission_wall_s: float = 300.0
    max_restarts: int = 3          # kernel restarts (after a crash or a limit) per submission
    open_files: int = 1024         # RLIMIT_NOFILE (bounds the memfds a kernel can hold)

    def rlimits(self) -> dict:
        """The rlimits every kernel process gets, by resource name."""
        return {"RLIMIT_DATA": self.memory_mb * 2**20, "RLIMIT_FSIZE": self.file_mb * 2**20,
                "RLIMIT_CORE": 0, "RLIMIT_NPROC": self.processes, "RLIMIT_NOFILE": self.open_files}


# ---------------------------------------------------------------- which mode
def bwrap_path() -> str | None:
    if sys.platform != "linux" or os.environ.get("AUTOGRADE_NO_SANDBOX"):
        return None
    return shutil.which("bwrap")


@lru_cache(maxsize=None)
def _bwrap_works(userns: bool) -> bool:
    """Can bubblewrap create its namespaces here (as root, or in a new user namespace)?"""
    if not bwrap_path():
        return False
    probe = [bwrap_path(), *(["--unshare-user"] if userns else []), "--unshare-pid", "--unshare-net",
             "--unshare-ipc", "--unshare-uts", "--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev",
             "--tmpfs", "/tmp", "true"]
    try:
        return subprocess.run(probe, capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def allow_unsandboxed(allowed: bool = True) -> None:
    """The instructor's explicit permission to run student code without a sandbox where none works
    (inherited by worker processes through the environment)."""
    if allowed:
        os.environ[ALLOW_ENV] = "1"
    else:
        os.environ.pop(ALLOW_ENV, None)


def _user_works() -> bool:
    """Can a grading uid start a kernel here (root, setpriv, and the Python installation and the
    kernel-side files readable by others)? The course's own checks come in `require`."""
    return (os.geteuid() == 0 and bool(shutil.which("setpriv"))
            and not _user_mode_problems_cached((), (), BASE_UID + 999))


def _available() -> str:
    """The best mode this machine allows, or "none"."""
    if sys.platform != "linux":
        return "none"
    if os.geteuid() == 0:
        return "root" if _bwrap_works(False) else ("user" if _user_works() else "none")
    return "userns" if _bwrap_works(True) else "none"


def mode() -> str:
    """One of MODES (see the module's docstring for what each means and guarantees)."""
    wanted, found = os.environ.get(MODE_ENV), _available()
    if wanted in SANDBOXED:
        works = {"root": os.geteuid() == 0 and _bwrap_works(False),
                 "userns": os.geteuid() != 0 and _bwrap_works(True),
                 "user": _user_works()}[wanted]
        found = wanted if works else "none"
    if found == "none" and os.environ.get(ALLOW_ENV):
        return "unsandboxed"
    return found


def _why_none() -> str:
    wanted = os.environ.get(MODE_ENV)
    if wanted:
        return f"{MODE_ENV}={wanted} was asked for and does not work on this machine"
    if sys.platform != "linux":
        return "the sandbox needs Linux"
    if os.geteuid() != 0:
        return ("the grader is not root and this kernel refuses bubblewrap's unprivileged user "
                "namespaces" if bwrap_path() else "the grader is not root and bubblewrap is not installed")
    if not shutil.which("setpriv"):
        return "the grader is root but setpriv (util-linux) is missing"
    why = "; ".join(_user_mode_problems_cached((), (), BASE_UID + 999))
    return ("bubblewrap cannot create its namespaces here, and a separate grading uid cannot start a "
            f"kernel: {why}")


def require(course=None, protect=()) -> str:
    """The mode to grade in, after checking that it really isolates here; raises SandboxRefused
    with what to do otherwise. In "user" mode this proves, as the grading uid, that it can start a
    kernel but cannot read the course's sources nor write its work folder, results or `protect`."""
    how = mode()
    if how == "none":
        raise SandboxRefused(
            f"refusing to grade: no sandbox can run student code here ({_why_none()}). Install "
            "bubblewrap and grade as root (or allow unprivileged user namespaces); where containers "
            "refuse namespaces, grade as root: student code then runs as a separate unprivileged uid. "
            "To run student code WITHOUT any isolation, pass --allow-unsandboxed.")
    if how == "user" and course is not None:
        problems = _user_mode_problems(course, list(protect))
        if problems:
            raise SandboxRefused("refusing to grade in the unprivileged-user mode: as the grading uid, "
                                 + "; ".join(problems))
    return how


_PROBE = """import json, os, sys
secret, protected, needed, out = json.loads(sys.argv[1]), json.loads(sys.argv[2]), json.loads(sys.argv[3]), []
for path in needed:
    try:
        os.listdir(path) if os.path.isdir(path) else open(path, 'rb').close()
    except OSError:
        out.append('cannot read ' + path + ', which the kernel needs: make it readable by others '
                   '(chmod -R o+rX), or use a Python installation that is')
for path in secret:
    try:
        if os.path.isdir(path):
            os.listdir(path)
        else:
            open(path, 'rb').close()
        out.append('can read ' + path)
    except OSError:
        pass
for path in protected:
    try:
        probe = os.path.join(path, '.autograde-probe-%d' % os.getpid())
        open(probe, 'w').close()
        os.remove(probe)
        out.append('can write in ' + path)
    except OSError:
        pass
try:
    import ipykernel.kernelapp, torch, course_lib, autograde.sandboxed.recorder, autograde.sandboxed.kernel
except Exception as err:
    out.append('cannot start a kernel (%s: %s): make the Python installation and the course '
               'checkout readable by others (chmod -R o+rX)' % (type(err).__name__, err))
print(json.dumps(out))
"""


def _kernel_needs() -> list[str]:
    """What a kernel forked from this interpreter reads: its standard library and packages, the
    course's kernel-side files."""
    paths = sysconfig.get_paths()
    return [os.path.join(paths["stdlib"], "os.py"), paths["purelib"], *python_paths(),
            *(str(p) for p in course_paths())]


@lru_cache(maxsize=None)
def _user_mode_problems_cached(secret: tuple, protected: tuple, uid: int) -> tuple:
    env = {"PATH": "/usr/bin:/bin", "HOME": "/", "PYTHONPATH": os.pathsep.join([str(ROOT), *_extra_paths()]),
           "PYTHONDONTWRITEBYTECODE": "1"}
    cmd = [shutil.which("setpriv"), f"--reuid={uid}", f"--regid={uid}", "--clear-groups",
           "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", sys.executable, "-c", _PROBE,
           json.dumps(list(secret)), json.dumps(list(protected)), json.dumps(_kernel_needs())]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd="/", timeout=300)
    try:
        return tuple(json.loads(done.stdout.strip().splitlines()[-1]))
    except (ValueError, IndexError):
        return (f"the probe failed ({done.stderr.strip()[-300:]})",)


def _user_mode_problems(course, protect: list) -> list[str]:
    """What the grading uid can reach that it must not (empty: the mode is safe here)."""
    secret = [str(p) for p in dict.fromkeys([course.solutions, course.work, ROOT / "solutions",
                                             ROOT / ".grading"]) if p.exists()]
    secret += [str(p) for p in Path(course.solutions).rglob("*") if p.is_file() and p.name != "cases.py"
               and "__pycache__" not in p.parts][:200]
    protected = [str(p) for p in [course.work, course.work / "results", *map(Path, protect)] if p.is_dir()]
    problems = list(_user_mode_problems_cached(tuple(secret), tuple(protected), BASE_UID + 999))
    exposed = [p.split(" ", 2)[-1] for p in problems if p.startswith(("can read ", "can write in "))]
    if exposed:
        problems.append(f"fix: chmod 700 {' '.join(dict.fromkeys(exposed))} (or a folder above "
                        "each), then grade again")
    return problems


def sandbox_uid(slot: int) -> int:
    """The uid the student's code runs as, seen from the grader (who owns what it writes)."""
    return BASE_UID + slot if mode() in ("root", "user") else os.getuid()


def uses_namespaces(how: str | None = None) -> bool:
    return (how or mode()) in ("root", "userns")


def isolation_warning() -> str | None:
    """What the sandbox cannot do here, said loudly (None: everything is in place)."""
    how = mode()
    if how == "none":
        return f"ERROR: grading is refused: no sandbox works here ({_why_none()})."
    if how == "unsandboxed":
        return ("WARNING: student code will run WITHOUT isolation (--allow-unsandboxed; " + _why_none()
                + "): it can read your solutions and gradebook, write anywhere you can, and use the "
                "network. Every result will say so.")
    missing = []
    if how == "userns":
        missing.append("student code runs as your own uid inside a user namespace (no separate "
                       "grading uid)")
    if how == "user":
        missing.append("no namespaces: student code runs as a separate unprivileged uid with "
                       "rlimits, can see the machine's processes and files that others may read, "
                       "and has the network")
    if cgroups.unavailable():
        missing.append(f"no cgroup limits ({cgroups.unavailable()}): memory is limited by "
                       "RLIMIT_DATA per process and the watchdog, processes by RLIMIT_NPROC, CPU "
                       "time per cell only")
    if how == "userns":
        missing.append("the submission folder has no size limit of its own (RLIMIT_FSIZE caps "
                       "each file only)")
    return ("NOTE: grading sandboxed, with less isolation than bubblewrap as root: "
            + "; ".join(missing) + ".") if missing else None


def describe(how: str, group: cgroups.Group | None, warm: bool, slot: int,
             limits: "Limits") -> dict:
    """The `isolation` field of a result: what ran around this submission's student code."""
    if group is not None:
        held = {"memory": f"cgroup {group.kind} ({group_memory_bytes(limits) // 2**20} MB, tmpfs "
                          "and shared memory counted)",
                "processes": f"cgroup pids ({limits.processes})",
                "cpu": f"cgroup quota ({limits.cpus:g} core)" if group.has_cpu() else "CPU time per cell"}
    else:
        held = {"memory": f"RLIMIT_DATA ({limits.memory_mb} MB a process) and the watchdog on the "
                          "kernel's processes",
                "processes": f"RLIMIT_NPROC ({limits.processes})" if how != "unsandboxed" else
                             "RLIMIT_NPROC (for the grader's own user)",
                "cpu": "CPU time per cell (no quota)"}
    held["disk"] = (f"the folder's own tmpfs ({limits.disk_mb} MB)" if how in ("root", "user")
                    and os.geteuid() == 0 else f"RLIMIT_FSIZE ({limits.file_mb} MB a file)")
    out = {"mode": how, "means": MODES[how], "warm": warm,
           "uid": sandbox_uid(slot) if how in ("root", "user") else None,
           "pid_namespace": uses_namespaces(how), "limits": held}
    return out


def summary(isolation: dict | None) -> str:
    """A few words for the grade table: the mode, warm or cold, cgroups or rlimits."""
    if not isolation:
        return "?"
    limits = "cgroup" if "cgroup" in isolation.get("limits", {}).get("memory", "") else "rlimits"
    return f"{isolation['mode']}/{'warm' if isolation.get('warm') else 'cold'}/{limits}"


# ---------------------------------------------------------------- the command around a kernel
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


def python_paths() -> list[str]:
    """The folders of the Python installation the kernel needs (those under /usr come with the
    system's mounts): the interpreter, its standard library and site-packages (venv and base)."""
    roots = {sys.prefix, sys.base_prefix, os.path.dirname(os.path.realpath(sys.executable))}
    roots |= {sysconfig.get_paths()[k] for k in ("stdlib", "platstdlib", "purelib", "platlib")}
    roots |= set(_extra_paths())
    roots |= {p for p in sys.path if os.path.basename(p) in ("site-packages", "dist-packages")
              and os.path.isdir(p)}           # added by a .pth file or PYTHONPATH: the kernel needs them
    roots = sorted(r for r in roots if not r.startswith("/usr/"))
    return [r for r in roots if not any(r != o and r.startswith(o + "/") for o in roots)]


KERNEL_FILES = ("__init__.py", "spec.py", "sandboxed/__init__.py", "sandboxed/recorder.py",
                "sandboxed/kernel.py")         # autograde/ files a kernel imports


def course_paths(extra=()) -> list[Path]:
    """Only what a student kernel imports: course_lib, the sandbox-side files of autograde/
    (autograde/sandboxed/, and spec.py, which cases.py imports; tests/test_layout.py checks they
    import nothing else) and `extra` (the graded assignment's cases.py: how inputs are built, no
    answers)."""
    return [ROOT / "course_lib", *(ROOT / "autograde" / f for f in KERNEL_FILES), *map(Path, extra)]


def readonly_under_tmp(extra=()) -> list[str]:
    """What a kernel reads that lives under /tmp (a checkout or a venv there, as in a CI runner's
    fresh clone): a kernel given a fresh /tmp of its own must have these bound again."""
    return [str(p) for p in [*python_paths(), *course_paths(extra)]
            if str(p) == "/tmp" or str(p).startswith("/tmp/")]


NAMESPACES = ["--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts",
              "--die-with-parent", "--new-session", "--hostname", "grading"]


def _filesystem(folder: Path, limits: Limits, mounts) -> list[str]:
    tmpfs = ["--perms", "1777", "--size", str(limits.tmp_mb * 2**20), "--tmpfs"]
    return ["--dev", "/dev", "--proc", "/proc", *tmpfs, "/tmp", *tmpfs, "/dev/shm",
            *_system_mounts(), *_ro_binds(python_paths()), *_ro_binds(course_paths(mounts)),
            *[a for p in reversed(Path(folder).parents) if str(p) not in ("/", "/tmp")
              for a in ("--perms", "0711", "--dir", str(p))],
            "--bind", str(folder), str(folder), "--chdir", str(folder),
            "--setenv", "JPY_PARENT_PID", "1"]      # inside, the parent is pid 1: don't poll it


def _orphan_guard() -> list[str]:
    """The sandbox dies with the worker that started it, even when the worker is killed."""
    return ["setpriv", "--pdeathsig", "KILL"] if shutil.which("setpriv") else []


def kernel_command(connection_file: str) -> list[str]:
    """The kernel itself: IPython's, with every message cut to a size (sandboxed/kernel.py)."""
    return [sys.executable, "-m", "autograde.sandboxed.kernel", "-f", connection_file]


def command(folder: Path, slot: int, limits: Limits, mounts, group: cgroups.Group | None,
            connection_file: str) -> list[str]:
    """The whole command of a cold kernel: the sandbox's wrapper, then the kernel."""
    prefix = wrapper(folder, slot, limits, mounts, group)
    if prefix[-2:] == ["--sandbox-end", "--"]:        # "user": sandboxed.kernel is already there
        return prefix[:-2] + ["--", "-f", connection_file]
    return prefix + kernel_command(connection_file)


def wrapper(folder: Path, slot: int, limits: Limits, mounts=(),
            group: cgroups.Group | None = None) -> list[str]:
    """The command prefix that runs a cold kernel in this machine's sandbox mode."""
    rlimits = ["prlimit", f"--data={limits.memory_mb * 2**20}", f"--fsize={limits.file_mb * 2**20}",
               "--core=0", f"--nofile={limits.open_files}", "--"]
    enter = group.enter_prefix() if group else []
    how = require()
    if how == "unsandboxed":
        return enter + _orphan_guard() + (rlimits if shutil.which("prlimit") else [])
    if how == "user":           # sandboxed/kernel.py as root: its init drops the kernel to the uid
        spec = {"uid": BASE_UID + slot, "rlimits": limits.rlimits(), "namespaces": False}
        return [*enter, *_orphan_guard(), sys.executable, "-m", "autograde.sandboxed.kernel", "--sandbox",
                json.dumps(spec), "--sandbox-end", "--"]
    namespaces, filesystem = NAMESPACES, _filesystem(folder, limits, mounts)
    if how == "userns":
        return [*enter, *_orphan_guard(), bwrap_path(), "--unshare-user", "--disable-userns",
                *namespaces, *filesystem, "prlimit", f"--nproc={limits.processes}", *rlimits[1:]]
    uid = str(BASE_UID + slot)
    return [*enter, *_orphan_guard(), bwrap_path(), *namespaces, *filesystem,
            "setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups",
            "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs",
            "prlimit", f"--nproc={limits.processes}", *rlimits[1:]]


def zygote_wrapper(folder: Path, mounts=()) -> list[str]:
    """The sandbox of a warm-kernel zygote (autograde/sandboxed/zygote.py): a kernel's view of the system,
    with the worker's whole folder, privileged inside (it sets each forked kernel up, then drops it
    to the grading uid); it runs no student code itself. "user" mode has no namespaces: the zygote
    runs as root, unsandboxed, and its children drop to the grading uid."""
    how = require()
    if how == "root":
        return [*_orphan_guard(), bwrap_path(), *NAMESPACES, *_filesystem(folder, Limits(), mounts)]
    if how == "userns":         # all capabilities, but only in the new user namespace
        return [*_orphan_guard(), bwrap_path(), "--unshare-user", "--cap-add", "ALL", *NAMESPACES,
                *_filesystem(folder, Limits(), mounts)]
    return _orphan_guard()


# ---------------------------------------------------------------- slots: a uid per worker
def _slots_dir() -> Path:
    """Where the slot locks live: /run for root (no one else can write there), else a folder of
    our own in /tmp, refused if anyone else made it first."""
    if os.geteuid() == 0 and os.path.isdir("/run"):
        path = Path("/run/autograde-slots")
    else:
        path = Path(tempfile.gettempdir()) / f"autograde-slots-{os.getuid()}"
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    if not folders.owned_dir(path):
        raise RuntimeError(f"{path} is not a folder of this user's (a link, or made by someone else)")
    return path


_SLOT: dict = {}


def forget_inherited_slot() -> None:
    """In a forked worker: the slot (and its lock) belong to the parent; claim one of its own."""
    lock = _SLOT.pop("lock", None)
    _SLOT.pop("slot", None)
    if lock is not None:
        os.close(lock)      # our copy only: the parent's open file keeps its flock


def claim_slot() -> int:
    """A slot number no other grading process on this machine holds (an flock on a file, held
    for the life of this process): it makes the sandbox uid distinct per worker."""
    if "slot" in _SLOT:
        return _SLOT["slot"]
    with folders.opened(_slots_dir()) as dir_fd:
        for slot in range(1000):
            fd = os.open(f"{slot}.lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600,
                         dir_fd=dir_fd)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                continue
            _SLOT["slot"], _SLOT["lock"] = slot, fd
            return slot
    raise RuntimeError("no free grading slot on this machine")


def new_group(slot: int, limits: Limits, serial: int) -> cgroups.Group | None:
    """A fresh control group for one kernel of this worker (None where there are none)."""
    name = f"autograde-{os.getpid()}-{slot}-{serial}"
    return cgroups.Group.create(name, group_memory_bytes(limits), limits.processes, limits.cpus)


GROUP_HEADROOM_MB = 512     # the libraries' own pages (torch's code) above the heap's limit


def group_memory_bytes(limits: Limits) -> int:
    """The sandbox's memory limit: a heap that grows meets RLIMIT_DATA first (a clean
    MemoryError), and memory no rlimit sees (tmpfs, memfd, shared memory) meets this."""
    return (limits.memory_mb + GROUP_HEADROOM_MB) * 2**20


# ---------------------------------------------------------------- the submission's folder
def mount_tmpfs(folder: Path, size_mb: int, mode: int = 0o700) -> bool:
    """A size-limited tmpfs on a folder root just made (root only; False where it cannot)."""
    if os.geteuid() != 0 or not shutil.which("mount"):
        return False
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mb}m,mode={mode:o},nosuid,nodev",
                           "tmpfs", str(folder)], capture_output=True)
    return done.returncode == 0


def _umount(folder: Path) -> None:
    """Detach a tmpfs of ours: only on a real, root-owned folder, never through a link."""
    if folders.owned_dir(folder) and os.path.ismount(folder):
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        libc.umount2(str(folder).encode(), 2 | 8)        # MNT_DETACH | UMOUNT_NOFOLLOW


def make_base(size_mb: int, tag: str = "") -> Path:
    """A root-owned folder (0711, a size-limited tmpfs where root may mount one) that no one else
    can rename or replace: the students' folders are made inside it."""
    base = folders.make_private_dir(Path("/tmp"), f"{FOLDER_PREFIX}{os.getpid()}-{tag}", 0o711)
    mount_tmpfs(base, size_mb, 0o711)
    os.chmod(base, 0o711)
    return base


def make_folder(limits: Limits) -> Path:
    """A new, empty folder for one submission, `<base>/w`: only `w` becomes the student's, so the
    student can change what is inside it but never swap the folder itself for a link."""
    base = make_base(limits.disk_mb)
    work = base / "w"
    os.mkdir(work, 0o700)
    return work


def prepare_folder(folder: Path, slot: int, names=()) -> list[str]:
    """Make the submission's folder, and the files `names` the grader put in it, the grading uid's
    (through descriptors: see folders.py). Returns what the student had swapped in the meantime."""
    if mode() not in ("root", "user"):
        return []
    uid, found = BASE_UID + slot, []
    with folders.opened(folder) as fd:
        folders.give(fd, None, uid, uid)
        for name in names:
            why = folders.give(fd, name, uid, uid)
            if why:
                found.append(why)
    return found


def remove_folder(folder: Path) -> None:
    """Remove a submission folder made by make_folder, with its base."""
    remove_base(Path(folder).parent)


def remove_base(base: Path) -> None:
    """Unmount (if it is a tmpfs of ours) and delete a base folder, never following links."""
    _umount(base)
    folders.remove(base)


def sweep_folders() -> None:
    """Remove submission folders left by graders that were killed (their pid is gone): only real
    folders of our own, never a link someone planted with a name like ours."""
    for folder in Path("/tmp").glob(f"{FOLDER_PREFIX}*-*"):
        pid = folder.name[len(FOLDER_PREFIX):].split("-")[0]
        if pid.isdigit() and not os.path.exists(f"/proc/{pid}") and folders.owned_dir(folder):
            remove_base(folder)


def stage_cases(cases) -> tuple[Path | None, list[Path]]:
    """In "user" mode the kernel may not read solutions/: copy each `cases.py` into a root-owned,
    readable folder (<stage>/<assignment>/cases.py). Returns (stage, the copies), or (None, cases)
    in the other modes, where the sandbox binds the originals."""
    if mode() != "user":
        return None, list(cases)
    stage = folders.make_private_dir(Path("/tmp"), f"{FOLDER_PREFIX}{os.getpid()}-cases-", 0o755)
    os.chmod(stage, 0o755)
    copies = []
    for path in map(Path, cases):
        target = stage / path.parent.name / "cases.py"
        target.parent.mkdir(mode=0o755, exist_ok=True)
        target.write_bytes(path.read_bytes())
        os.chmod(target, 0o644)
        copies.append(target)
    return stage, copies


def _extra_paths() -> list[str]:
    """Package folders the grader imports from through PYTHONPATH (an install without a venv,
    e.g. a cluster's module system): the kernel gets them too, read-only."""
    return [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep)
            if p and os.path.isdir(p) and ("site-packages" in p or "dist-packages" in p)]


def kernel_env(folder: Path, record_dir: Path, solutions: Path | None = None) -> dict:
    """A small, explicit environment: nothing of the instructor's leaks in."""
    private_tmp = uses_namespaces()
    return {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(folder), "LANG": "C.UTF-8",
            "PYTHONPATH": os.pathsep.join([str(ROOT), *_extra_paths()]),
            "COURSE_GRADING_RECORD_DIR": str(record_dir),
            "COURSE_SOLUTIONS_DIR": str(solutions or ROOT / "solutions"),
            "COURSE_DEVICE": "cpu", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
            "MPLBACKEND": "Agg", "IPYTHONDIR": str(folder / ".ipython"),
            "MPLCONFIGDIR": str(folder / ".matplotlib"),
            "JUPYTER_RUNTIME_DIR": str(folder / ".jupyter"), "PYTHONDONTWRITEBYTECODE": "1",
            "TQDM_DISABLE": "1", "TMPDIR": "/tmp" if private_tmp else str(folder)}


# ---------------------------------------------------------------- watching and stopping it
def children(pid: int) -> list[int]:
    """The direct children of a process (every thread's), from /proc: no scan of the machine."""
    out = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            try:
                with open(f"/proc/{pid}/task/{tid}/children") as handle:
                    out += [int(p) for p in handle.read().split()]
            except OSError:
                pass
    except OSError:
        return []
    return out


def tree_pids(pid: int) -> list[int]:
    """The process and all its descendants (every process of the sandbox)."""
    seen, todo = [], [pid]
    while todo and len(seen) < 100_000:
        p = todo.pop()
        if os.path.exists(f"/proc/{p}"):
            seen.append(p)
            todo += children(p)
    return seen


def _stat(pid: int) -> tuple[float, int] | None:
    """(CPU seconds with reaped children's, resident anonymous + shared-memory bytes)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            fields = handle.read().rsplit(b")", 1)[1].split()
        with open(f"/proc/{pid}/status", "rb") as handle:
            status = handle.read()
    except OSError:
        return None
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = sum(int(f) for f in fields[11:15]) / ticks          # utime stime cutime cstime
    mem = 0
    for line in status.splitlines():
        if line.startswith((b"RssAnon:", b"RssShmem:")):
            mem += int(line.split()[1]) * 1024
    return cpu, mem


def _held_files(pid: int, seen: set) -> int:
    """Bytes of memfds and deleted tmpfs files a process holds open (memory no RSS shows)."""
    total = 0
    try:
        names = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return 0
    for name in names:
        try:
            target = os.readlink(f"/proc/{pid}/fd/{name}")
            if not (target.startswith("/memfd:") or target.endswith("(deleted)")):
                continue
            st = os.stat(f"/proc/{pid}/fd/{name}")
        except OSError:
            continue
        if stat.S_ISREG(st.st_mode) and (st.st_dev, st.st_ino) not in seen:
            seen.add((st.st_dev, st.st_ino))
            total += st.st_blocks * 512
    return total


def usage(pid: int, skip_root_memory: bool = False, files: bool = True) -> tuple[float, int, int]:
    """(CPU seconds, memory bytes, process count) of the sandbox rooted at pid, from its process
    tree: resident anonymous and shared memory, plus memfds held open (`files`). `skip_root_memory`:
    the root is an init forked from a zygote, whose pages are the zygote's, not the student's."""
    cpu = mem = count = 0
    seen: set = set()
    for p in tree_pids(pid):
        got = _stat(p)
        if got is None:
            continue
        cpu += got[0]
        count += 1
        if not (skip_root_memory and p == pid):
            mem += got[1] + (_held_files(p, seen) if files else 0)
    return cpu, mem, count


def held_files(pid: int) -> int:
    """Bytes of memfds and deleted files the sandbox rooted at pid holds open."""
    seen: set = set()
    return sum(_held_files(p, seen) for p in tree_pids(pid))


def usage_of(pids) -> tuple[float, int, int]:
    """The same for a known set of processes (a control group's)."""
    cpu = mem = count = 0
    for p in pids:
        got = _stat(p)
        if got is not None:
            cpu, mem, count = cpu + got[0], mem + got[1], count + 1
    return cpu, mem, count


def kill_and_wait(pid: int, timeout: float = 5.0) -> bool:
    """Kill the sandbox rooted at pid, every process of its tree at once, and wait until each is
    dead (a pidfd per process: no pid reuse can fool it). A PID namespace's init is in the tree,
    and its exit completes only when every process of its namespace is gone. True: all gone."""
    handles = []
    for p in tree_pids(pid):
        try:
            handles.append(os.pidfd_open(p))
        except (AttributeError, OSError):
            try:
                os.kill(p, 9)
            except OSError:
                pass
    import select
    import signal
    try:
        for fd in handles:
            try:
                signal.pidfd_send_signal(fd, signal.SIGKILL)
            except OSError:
                pass
        deadline = time.monotonic() + timeout
        waiting = list(handles)
        while waiting and time.monotonic() < deadline:
            ready = select.select(waiting, [], [], max(0.0, deadline - time.monotonic()))[0]
            waiting = [fd for fd in waiting if fd not in ready]
        return not waiting
    finally:
        for fd in handles:
            os.close(fd)


def kill(pid: int) -> None:
    """Kill the sandbox rooted at pid and everything in it, and wait for it."""
    kill_and_wait(pid)


def _uid_processes(uid: int) -> list[int]:
    """Live processes with `uid` as real or effective uid (zombies are dead: not counted)."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/status", "rb") as handle:
                status = handle.read()
        except OSError:
            continue
        uids = state = None
        for line in status.splitlines():
            if line.startswith(b"State:"):
                state = line.split()[1]
            elif line.startswith(b"Uid:"):
                uids = [int(u) for u in line.split()[1:3]]
                break
        if uids and uid in uids and state not in (b"Z", b"X"):
            found.append(int(name))
    return found


def sweep_uid(uid: int, timeout: float = 5.0) -> list[int]:
    """Kill every process of the grading uid and wait until none is left: `kill(-1, SIGKILL)` run
    as that uid reaches all of them in one pass that no fork can outrun (the kernel holds the task
    list while it signals, and a process with SIGKILL pending cannot fork). Root only. Returns the
    pids still alive after `timeout` (empty: the machine is clean for the next student)."""
    if os.geteuid() != 0 or uid < BASE_UID:
        return []
    deadline = time.monotonic() + timeout
    while True:
        left = _uid_processes(uid)
        if not left or time.monotonic() > deadline:
            return left
        subprocess.run([shutil.which("setpriv") or "setpriv", f"--reuid={uid}", f"--regid={uid}",
                        "--clear-groups", "--", "/bin/sh", "-c", "kill -9 -1"],
                       capture_output=True, env={"PATH": "/usr/bin:/bin"})
        time.sleep(0.005)
