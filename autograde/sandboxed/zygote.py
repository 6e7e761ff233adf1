"""Warm kernels: a fork server that imports torch, course_lib and ipykernel once, then forks a fresh,
sandboxed kernel per submission.

A cold kernel spends most of a short submission starting Python and importing torch before any
student line runs. The zygote pays that once per grading worker, in every sandbox mode
(sandbox.py): in bubblewrap's sandbox as root ("root": privileged inside, so that it can set each
child up), in bubblewrap's user namespace with capabilities only there ("userns"), or as a plain
root process ("user": no namespaces; its children drop to the grading uid). It never runs a line
of student code. For each submission it forks a child C that builds the kernel's own sandbox
(autograde/sandboxed/kernel.py: `become_sandbox`):

1. with namespaces, a PID, mount and IPC namespace of its own whose init G waits until the grader
   has put it into the submission's control groups, then mounts a fresh /proc, /tmp and /dev/shm
   and, of the worker's folder, only this submission's subfolder; without, C itself is the init
   (a subreaper);
2. the kernel K, forked by the init: rlimits, every capability dropped, the worker's unprivileged
   grading uid with no_new_privs, death with its init;
3. K becomes the IPython kernel of that submission (messages cut to a size), with the connection
   file the grader wrote.

So no state passes between students: each kernel is a copy of the zygote's pristine memory, with
the imports done and nothing else, in a PID namespace that dies with it. Scores are identical to
cold kernels' (tests/test_warm.py grades one class both ways).

The grader talks to the zygote over its stdin/stdout, one JSON object a line:
    -> {"spawn": {"folder", "connection_file", "env", "uid", "log", "tmp_mb", "rlimits", "keep",
                  "namespaces"}}
    <- {"child": <pid of the kernel's init, in the zygote's PID namespace>}
    -> {"go": <that pid>, "ok": true}      (after the grader has moved it into its cgroups)
"""

from __future__ import annotations

import json
import os
import signal
import sys

PRELOAD = ["numpy", "torch", "torch.nn", "torch.nn.functional", "matplotlib", "matplotlib.pyplot",
           "tqdm", "ipywidgets", "ipykernel.kernelapp", "ipykernel.ipkernel", "IPython",
           "jupyter_client.session", "course_lib", "course_lib.model", "course_lib.training",
           "course_lib.pretrained", "course_lib.datasets", "course_lib.measure", "course_lib.plotting",
           "course_lib.widgets", "course_lib.checks", "autograde.spec", "autograde.sandboxed.recorder",
           "autograde.sandboxed.kernel"]


def _be_kernel(spec: dict, go: int, report: int) -> None:
    """The child C: the kernel's sandbox (sandboxed/kernel.py), then, in K, the kernel. Never
    returns. Until K opens the kernel's log, errors go to the zygote's own log (fd 2)."""
    code = 1
    try:
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1):                       # never the zygote's pipes to the grader
            os.dup2(null, fd)
        os.close(null)
        from autograde.sandboxed import kernel
        try:
            kernel.become_sandbox(spec, go, report)     # returns in K only
        except BaseException as err:
            try:
                os.write(report, f"error {type(err).__name__}: {err}\n".encode())
            except OSError:
                pass
            raise
        log = os.open(spec["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW, 0o600)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.close(log)
        os.chdir(spec["folder"])
        os.environ.clear()
        os.environ.update(spec["env"])
        sys.stdout = os.fdopen(1, "w", buffering=1)
        sys.stderr = os.fdopen(2, "w", buffering=1)
        sys.stdin = open(os.devnull)
        kernel.serve(spec["connection_file"])
        code = 0
    except BaseException as err:                # say why in the log, then go
        try:
            os.write(2, f"zygote child {os.getpid()}: {type(err).__name__}: {err}\n".encode())
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


def _read_line(fd: int) -> str:
    data = b""
    while not data.endswith(b"\n"):
        chunk = os.read(fd, 64)
        if not chunk:
            break
        data += chunk
    return data.decode().strip()


def main() -> None:
    """The zygote: import once, then fork a kernel for each request on stdin."""
    os.environ.setdefault("MPLBACKEND", "Agg")
    sys.modules["debugpy"] = None       # no debugger in a grading kernel (and 0.3 s less a start)
    for name in PRELOAD:
        try:
            __import__(name)
        except Exception as err:                # a missing extra is not fatal: the kernel imports it
            print(json.dumps({"warning": f"{name}: {type(err).__name__}: {err}"}), flush=True)
    import gc
    gc.collect()
    gc.freeze()                         # the imports' objects stay shared with every kernel
    signal.signal(signal.SIGCHLD, _reap)
    waiting = {}
    print(json.dumps({"ready": os.getpid()}), flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        if "spawn" in request:
            go_read, go_write = os.pipe()
            report_read, report_write = os.pipe()
            pid = os.fork()
            if pid == 0:
                os.close(go_write)
                os.close(report_read)
                _be_kernel(request["spawn"], go_read, report_write)
            os.close(go_read)
            os.close(report_write)
            answer = _read_line(report_read)
            os.close(report_read)
            if answer.isdigit():
                waiting[int(answer)] = go_write
                print(json.dumps({"child": int(answer)}), flush=True)
            else:
                os.close(go_write)
                print(json.dumps({"error": answer or "the kernel's init did not start"}), flush=True)
        elif "go" in request:
            fd = waiting.pop(request["go"], None)
            if fd is not None:
                try:
                    os.write(fd, b"g" if request.get("ok", True) else b"x")
                except OSError:
                    pass
                os.close(fd)


if __name__ == "__main__":
    main()
