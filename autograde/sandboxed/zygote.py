"""Warm kernels: a fork server that imports torch, course_lib and ipykernel once, then forks a fresh,
sandboxed kernel per submission.

A cold kernel spends most of a short submission starting Python and importing torch before any
student line runs. The zygote pays that once per grading worker. It runs inside the same bubblewrap
sandbox as a cold kernel (the same read-only view of the system, the Python installation and the
course files; no network), as root inside it so that it can set each child up, and it never runs a
line of student code. For each submission it forks a child that:

1. waits until the grader has put it into the submission's control groups (cgroups.py);
2. enters a mount and IPC namespace of its own: a fresh size-limited /tmp, and of the worker's
   folder only this submission's subfolder (the grader's sockets and the records are there), with
   the sandbox's read-only files that live under /tmp bound again, read-only;
3. sets the rlimits, drops every capability, takes the worker's unprivileged grading uid with
   no_new_privs, and dies with the zygote (PR_SET_PDEATHSIG);
4. becomes the IPython kernel of that submission, with the connection file the grader wrote.

So no state passes between students: each kernel is a copy of the zygote's pristine memory, with
the imports done and nothing else. Scores are identical to cold kernels' (tests/test_warm.py
grades one class both ways). Only with the full sandbox (bwrap as root): elsewhere `available()`
is False and the grader starts cold kernels.

The grader talks to the zygote over its stdin/stdout, one JSON object a line:
    -> {"spawn": {"folder", "connection_file", "env", "uid", "log", "tmp_mb", "rlimits", "keep"}}
    <- {"child": <pid in the zygote's namespace>}
    -> {"go": <that pid>}          (after the grader has moved it into its cgroups)
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import signal
import sys

CLONE_NEWNS, CLONE_NEWIPC = 0x00020000, 0x08000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = \
    1, 2, 4, 32, 4096, 16384, 1 << 18
PR_SET_PDEATHSIG, PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS = 1, 24, 38
O_PATH = getattr(os, "O_PATH", 0o10000000)
PRELOAD = ["numpy", "torch", "torch.nn", "torch.nn.functional", "matplotlib", "matplotlib.pyplot",
           "tqdm", "ipywidgets", "ipykernel.kernelapp", "ipykernel.ipkernel", "IPython",
           "course_lib", "course_lib.model", "course_lib.training", "course_lib.pretrained",
           "course_lib.datasets", "course_lib.measure", "course_lib.plotting", "course_lib.widgets",
           "course_lib.checks", "autograde.sandboxed.recorder"]

_libc = ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _mount(source, target, fstype, flags, data=None) -> None:
    enc = (lambda s: s.encode() if s is not None else None)
    _check(_libc.mount(enc(source), enc(target), enc(fstype), ctypes.c_ulong(flags), enc(data)),
           f"mount {target}")


def _into_sandbox(spec: dict) -> None:
    """Steps 2 and 3 of the module docstring, in the child, before any student code."""
    _check(_libc.unshare(CLONE_NEWNS | CLONE_NEWIPC), "unshare")
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    folder = spec["folder"]
    handle = os.open(folder, O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW)
    keep = {path: os.open(path, O_PATH) for path in spec.get("keep", [])}   # read-only, under /tmp
    _mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, f"size={spec['tmp_mb']}m,mode=1777")
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
        _mount(None, path, None, MS_BIND | MS_REMOUNT | MS_RDONLY)
        os.close(fd)
    for name, value in spec["rlimits"].items():
        resource.setrlimit(getattr(resource, name), (value, value))
    _check(_libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "pdeathsig")
    for cap in range(64):                       # the bounding set: nothing can be regained
        _libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)
    uid = spec["uid"]
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)                 # every capability goes with root
    _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")


def _be_kernel(spec: dict, go: int) -> None:
    """The child: wait for the grader, sandbox itself, run the kernel. Never returns."""
    code = 1
    try:
        os.setsid()
        if os.read(go, 1) != b"g":              # the grader gave up on this child
            os._exit(1)
        os.close(go)
        log = os.open(spec["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(log, 1)
        os.dup2(log, 2)
        for fd in (null, log):
            os.close(fd)
        _into_sandbox(spec)
        os.chdir(spec["folder"])
        os.environ.clear()
        os.environ.update(spec["env"])
        sys.stdout = os.fdopen(1, "w", buffering=1)
        sys.stderr = os.fdopen(2, "w", buffering=1)
        from ipykernel.kernelapp import IPKernelApp
        app = IPKernelApp.instance()
        app.initialize(["-f", spec["connection_file"]])
        app.start()
        code = 0
    except BaseException as err:                # say why in the kernel log, then go
        try:
            os.write(2, f"zygote child: {type(err).__name__}: {err}\n".encode())
        except OSError:
            pass
    finally:
        os._exit(code)


def _reap(*_) -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def main() -> None:
    """The zygote: import once, then fork a kernel for each request on stdin."""
    os.environ.setdefault("MPLBACKEND", "Agg")
    sys.modules["debugpy"] = None       # no debugger in a grading kernel (and 0.3 s less a start)
    for name in PRELOAD:
        try:
            __import__(name)
        except Exception as err:                # a missing extra is not fatal: the kernel imports it
            print(json.dumps({"warning": f"{name}: {type(err).__name__}: {err}"}), flush=True)
    signal.signal(signal.SIGCHLD, _reap)
    waiting = {}
    print(json.dumps({"ready": os.getpid()}), flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        if "spawn" in request:
            read_end, write_end = os.pipe()
            pid = os.fork()
            if pid == 0:
                os.close(write_end)
                _be_kernel(request["spawn"], read_end)
            os.close(read_end)
            waiting[pid] = write_end
            print(json.dumps({"child": pid}), flush=True)
        elif "go" in request:
            fd = waiting.pop(request["go"], None)
            if fd is not None:
                os.write(fd, b"g" if request.get("ok", True) else b"x")
                os.close(fd)


if __name__ == "__main__":
    main()
