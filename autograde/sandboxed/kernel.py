"""The student's kernel as the grader starts it: its last steps of isolation, the init process that
holds all its processes, and IPython's kernel with every message cut to a size.

This file is inside every sandbox (students can read it: it holds no answer).

**Messages of any size cost only their cell.** Every string of every message the kernel sends (an
output, an exception's message and traceback, an execute reply) is cut to MAX_STRING characters
here, before it is serialized, with a note of its real length (`cut_note`); the grader then cuts
again to its own caps (execute.py). A cell that raises a 60 MB message is an error in that cell,
not a message the grader drops and waits for, so nothing is restarted or replayed for size. A
student who undoes this only loses their own outputs: the grader still refuses any message over
its ZMQ limit.

**One PID namespace and one init per kernel** (`become_sandbox`, for kernels the zygote forks and,
in "user" mode, for cold ones):

- with namespaces (sandbox modes "root" and "userns"): the forked child C unshares a mount, IPC and
  PID namespace and forks G, pid 1 of the new namespace. G waits for the grader's go (it is in the
  submission's control groups by then), mounts a fresh /proc (this namespace's processes only), a
  size-limited /tmp and /dev/shm, binds the submission's folder, caps System V shared memory, then
  forks the kernel K, drops to the grading uid and reaps orphans until K exits. When G dies, by its
  own exit or the grader's SIGKILL, Linux kills every process of the namespace and G's exit
  completes only once they are all gone: nothing can outlive its kernel.
- without ("user" mode): C is the init, a child subreaper (every orphan of the kernel comes back
  to it, so the grader sees all of them in C's process tree); it stays root, forks K, and when K
  exits kills every process of the grading uid (`kill(-1)` as that uid) before it exits.

K sets its rlimits, dies with its init (PR_SET_PDEATHSIG), drops every capability and takes the
grading uid with no_new_privs, then becomes the kernel.
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import signal
import sys

MAX_STRING = 2_000_000          # characters of one string in a kernel message
MAX_MESSAGE = 8_000_000         # characters of all the strings of one message together
MAX_DEPTH = 32

CLONE_NEWNS, CLONE_NEWIPC, CLONE_NEWPID = 0x00020000, 0x08000000, 0x20000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = \
    1, 2, 4, 8, 32, 4096, 16384, 1 << 18
PR_SET_PDEATHSIG, PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS, PR_SET_CHILD_SUBREAPER = 1, 24, 38, 36
O_PATH = getattr(os, "O_PATH", 0o10000000)

_libc = ctypes.CDLL(None, use_errno=True)


# ---------------------------------------------------------------- messages cut to a size
def cut_note(length: int) -> str:
    return f"\n... (output cut: {length:,} characters)\n"


def cap(value, limit: int = MAX_STRING, budget: list | None = None, depth: int = 0):
    """`value` (a message's content) with every string cut to `limit` characters and all of them
    together to MAX_MESSAGE, each cut string ending with a note of its real length."""
    budget = [MAX_MESSAGE] if budget is None else budget
    if isinstance(value, str):
        keep = max(0, min(limit, budget[0]))
        budget[0] -= min(len(value), keep)
        return value if len(value) <= keep else value[:keep] + cut_note(len(value))
    if depth > MAX_DEPTH:
        return value
    if isinstance(value, dict):
        return {k: cap(v, limit, budget, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(cap(v, limit, budget, depth + 1) for v in value)
    return value


def install_caps() -> None:
    """Cut every message this kernel sends (jupyter_client's Session.send, which all go through)."""
    from jupyter_client.session import Session
    if getattr(Session.send, "_autograde_capped", False):
        return
    send = Session.send

    def capped_send(self, stream, msg_or_type, content=None, *args, **kwargs):
        if isinstance(msg_or_type, dict):
            msg_or_type = {**msg_or_type, "content": cap(msg_or_type.get("content", {}))}
        elif content is not None:
            content = cap(content)
        return send(self, stream, msg_or_type, content, *args, **kwargs)

    capped_send._autograde_capped = True
    Session.send = capped_send


def mark(label: str) -> None:
    """With AUTOGRADE_TIMING set (the bench), a time stamp in the kernel's log."""
    if os.environ.get("AUTOGRADE_TIMING"):
        import time
        os.write(2, f"AGTIME {label} {time.time():.6f}\n".encode())


def serve(connection_file: str) -> None:
    """Be the IPython kernel of `connection_file` (never returns normally)."""
    mark("serve")
    install_caps()
    from ipykernel.kernelapp import IPKernelApp
    app = IPKernelApp.instance()
    app.initialize(["-f", connection_file, "--HistoryManager.enabled=False", "--quiet"])
    mark("initialized")
    app.start()


# ---------------------------------------------------------------- the sandbox around one kernel
def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _mount(source, target, fstype, flags, data=None) -> None:
    enc = (lambda s: s.encode() if s is not None else None)
    _check(_libc.mount(enc(source), enc(target), enc(fstype), ctypes.c_ulong(flags), enc(data)),
           f"mount {target}")


def _locked_flags(path: str) -> int:
    """The flags a remount must keep (in a user namespace, those the mount came with are locked)."""
    found = os.statvfs(path).f_flag
    return sum(flag for st, flag in ((os.ST_NOSUID, MS_NOSUID), (os.ST_NODEV, MS_NODEV),
                                     (os.ST_NOEXEC, MS_NOEXEC)) if found & st)


def _filesystem(spec: dict) -> None:
    """In G, root in a new mount namespace: a fresh /proc, /tmp and /dev/shm, the submission's
    folder (and only it) of the worker's, and the read-only files that live under /tmp again."""
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    folder = spec["folder"]
    handle = os.open(folder, O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW)
    keep = {path: os.open(path, O_PATH) for path in spec.get("keep", [])}
    size = f"size={spec['tmp_mb']}m,mode=1777"
    _mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, size)
    if os.path.isdir("/dev/shm"):
        _mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, size)
    os.makedirs(folder, mode=0o700)
    _mount(f"/proc/self/fd/{handle}", folder, None, MS_BIND)
    os.close(handle)
    for path, fd in keep.items():
        os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
        if os.path.isdir(f"/proc/self/fd/{fd}"):
            os.makedirs(path, exist_ok=True)
        else:
            open(path, "a").close()
        _mount(f"/proc/self/fd/{fd}", path, None, MS_BIND)
        _mount(None, path, None, MS_BIND | MS_REMOUNT | MS_RDONLY | _locked_flags(path))
        os.close(fd)
    pages = max(1, spec.get("shm_mb", spec["tmp_mb"]) * 2**20 // os.sysconf("SC_PAGE_SIZE"))
    for name, value in (("shmall", pages), ("shmmax", pages * os.sysconf("SC_PAGE_SIZE")), ("shmmni", 64)):
        try:                                    # System V shared memory of this IPC namespace
            with open(f"/proc/sys/kernel/{name}", "w") as handle:
                handle.write(str(value))
        except OSError:
            pass
    try:                                        # and nothing else under /proc/sys for anyone
        _mount("/proc/sys", "/proc/sys", None, MS_BIND | MS_REC)
        _mount(None, "/proc/sys", None, MS_BIND | MS_REMOUNT | MS_RDONLY | _locked_flags("/proc/sys"))
    except OSError:
        pass


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]


def _drop(uid: int | None) -> None:
    """No capability left (bounding set too), the grading uid (where root can take one), and
    no_new_privs: nothing can be regained."""
    for cap_number in range(64):
        _libc.prctl(PR_CAPBSET_DROP, cap_number, 0, 0, 0)
    if uid is not None and os.geteuid() == 0 and uid != 0:
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)             # every capability goes with root
    else:                                       # a user namespace: clear the sets themselves
        data = (_CapData * 2)()
        _check(_libc.capset(ctypes.byref(_CapHeader(0x20080522, 0)), data), "capset")
    _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")


def _as_kernel(spec: dict) -> None:
    """In K: rlimits, death with the init, the drop. Returns; the caller becomes the kernel."""
    for name, value in spec["rlimits"].items():
        resource.setrlimit(getattr(resource, name), (value, value))
    _check(_libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "pdeathsig")
    _drop(spec.get("uid"))


def _reap_until(kernel: int) -> int:
    """An init's loop: reap every child (orphans come here); the kernel's exit status."""
    while True:
        try:
            pid, status = os.waitpid(-1, 0)
        except ChildProcessError:
            return 1
        except InterruptedError:
            continue
        if pid == kernel:
            return os.waitstatus_to_exitcode(status) & 0xFF


def _kill_uid(uid: int | None) -> None:
    """As that uid, kill every process of it (the init itself is spared by kill(-1))."""
    if uid is None or os.geteuid() != 0:
        return
    try:
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)
        os.kill(-1, signal.SIGKILL)
    except OSError:
        pass


def _wait_go(go: int | None) -> None:
    if go is not None:
        ok = os.read(go, 1) == b"g"
        os.close(go)
        if not ok:                              # the grader gave up on this kernel
            os._exit(1)


def _report(fd: int | None, pid: int) -> None:
    if fd is not None:
        os.write(fd, f"{pid}\n".encode())
        os.close(fd)


def become_sandbox(spec: dict, go: int | None = None, report: int | None = None) -> None:
    """Called in C (a zygote's fresh child, or a cold kernel's process in "user" mode). Returns only
    in K, the kernel; the init processes above it never return. `report` (a pipe) gets the init's
    pid as C sees it, before `go` (a pipe) gives the grader's go."""
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)     # the inits reap with waitpid themselves
    try:
        os.setsid()
    except OSError:                             # already a session leader (a cold kernel)
        pass
    if spec.get("namespaces"):
        _check(_libc.unshare(CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWPID), "unshare")
        init = os.fork()
        if init:                                # C: a waiter outside the namespace
            _report(report, init)
            if go is not None:
                os.close(go)
            _check(_libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "pdeathsig")
            os._exit(_reap_until(init))
        if report is not None:
            os.close(report)
        _check(_libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "pdeathsig")
        _wait_go(go)                            # G, pid 1: in its cgroups now
        _filesystem(spec)
        kernel = os.fork()
        if kernel == 0:
            _as_kernel(spec)
            return
        _drop(spec.get("uid"))
        os._exit(_reap_until(kernel))           # G's exit kills the whole namespace
    _check(_libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0), "subreaper")
    _report(report, os.getpid())
    _wait_go(go)
    kernel = os.fork()
    if kernel == 0:
        _as_kernel(spec)
        return
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)
    code = _reap_until(kernel)
    _kill_uid(spec.get("uid"))
    os._exit(code)


def main(argv=None) -> None:
    """`python -m autograde.sandboxed.kernel [--sandbox SPEC_JSON --sandbox-end --] -f CONNECTION_FILE`."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] == "--sandbox":
        spec = json.loads(args[1])
        args = args[3:] if len(args) > 2 and args[2] == "--" else args[2:]
        become_sandbox(spec)
    serve(args[args.index("-f") + 1])


if __name__ == "__main__":
    main()
