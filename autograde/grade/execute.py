"""Running one submission: a fresh sandboxed kernel, cell by cell, under limits.

- Cells tagged `skip-grading` are not run.
- A test cell runs in two steps. First its visible part (the cell as the student sees it: the
  visible checks, instant feedback); then, whatever the visible part did (passed, raised, was
  rebound to a no-op, or broke a limit), the grader's own hidden step (autograde/grade/records.py), which
  records the cell's hidden cases. Points come from the hidden step only.
- Each step has a CPU-time limit (calibrated against the reference solution's own run, so a busy
  machine never fails a correct submission) and a generous wall-clock backstop (for code that
  sleeps); the submission has a wall-clock limit; the sandbox has memory, process and CPU limits
  (sandbox.py, cgroups.py).
- A step that breaks a limit, kills its kernel (os._exit, a segfault) or leaves a swarm of processes
  behind is charged with it: the sandbox is killed, a fresh kernel replays the cells that had
  succeeded, and the rest of the notebook goes on.
- Every output is cut to a size before it is kept: in the kernel first (autograde/sandboxed/kernel.py cuts
  every string of every message, so an output or an exception of any size is an ordinary result of
  its cell: no restart, no replay), then here (MAX_OUTPUT_CHARS a text, MAX_DATA_CHARS an image or
  other rich output, MAX_CELL_OUTPUTS outputs a cell, MAX_NOTEBOOK_CHARS in all); the grader
  refuses any message from the kernel over MAX_MESSAGE_BYTES, so no output can fill its memory.
- The submission's folder is the student's: the grader touches it only through directory
  descriptors (autograde/grade/folders.py), and what it finds swapped or forged is reported as tampering.
- Between two students every process of the first is gone (sandbox.kill_and_wait, then
  sandbox.sweep_uid): each kernel has a PID namespace of its own, or an init that holds all its
  processes, and the grading uid is swept clean.
"""

from __future__ import annotations

import asyncio
import copy
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import zmq
import zmq.asyncio
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient

from autograde import cells
from autograde.grade import folders, records, sandbox
from autograde.grade.sandbox import Limits
from autograde.grade.warm_kernels import Cold, ForkedProcess
from autograde.sandboxed.kernel import cut_note

POLL_S = 0.1
EXTRA_PROCESSES = 16           # more processes than this left after a cell: a fork bomb
MAX_OUTPUT_CHARS = 20_000      # a text output (stream, text/plain, an error's message)
MAX_DATA_CHARS = 2_000_000     # a rich output (an image's base64, HTML)
MAX_CELL_OUTPUTS = 50
MAX_NOTEBOOK_CHARS = 20_000_000
MAX_MESSAGE_BYTES = 64 * 2**20
HIDDEN_SUFFIX = "#hidden"      # calibration key of a test cell's hidden step

REASONS = {
    "timeout": "ran past its time limit (an infinite loop?)",
    "memory": "used more memory than allowed",
    "died": "crashed the Python kernel (os._exit, exit(), or a crash in native code)",
    "processes": "left many processes running (a fork bomb?)",
    "deadline": "was stopped: the whole submission ran past its time limit",
    "not-run": "was not run: the kernel could not be restarted",
}


@dataclass
class CellRun:
    index: int
    key: str                       # grade id, else the cell id
    status: str                    # ok | error | skipped | one of REASONS
    cpu_s: float = 0.0
    wall_s: float = 0.0
    error: str = ""                # "ExceptionName: message" of a cell that raised
    hidden_status: str = ""        # test cells: status of the grader's hidden step
    hidden_cpu_s: float = 0.0
    records: dict = field(default_factory=dict)     # case_id -> parsed record (test cells)


@dataclass
class Execution:
    cells: list[CellRun]
    restarts: int = 0
    start_s: float = 0.0           # wall seconds spent starting kernels (restarts included)
    stop_s: float = 0.0            # wall seconds spent stopping them (and sweeping the uid)
    start_parts: dict = field(default_factory=dict)    # the first kernel start, step by step
    tampering: list = field(default_factory=list)      # what the grader found swapped or forged
    isolation: dict = field(default_factory=dict)      # sandbox.describe() of the kernels

    def problems(self) -> list[str]:
        """Lines for the instructor and the student: each cell that broke a limit or crashed."""
        out = [f"cell {c.key} {REASONS[c.status]}" for c in self.cells if c.status in REASONS]
        out += [f"the hidden tests of cell {c.key} {REASONS[c.hidden_status]}"
                for c in self.cells if c.hidden_status in REASONS]
        return out


class SandboxKernelManager(AsyncKernelManager):
    """A kernel manager whose kernel command is the sandbox's (see sandbox.py)."""

    command: list = []

    def format_kernel_cmd(self, extra_arguments=None):
        return self.command


class WarmKernelManager(AsyncKernelManager):
    """A kernel manager whose kernel is forked by the worker's zygote (warm_kernels.py)."""

    launcher = None
    group = None
    slot = 0
    limits = None

    async def _async_launch_kernel(self, kernel_cmd, **kw):
        pid = self.launcher.spawn(Path(kw["cwd"]), self.connection_file, kw["env"], self.group,
                                  self.slot, self.limits)
        provisioner = self.provisioner
        provisioner.process, provisioner.pid, provisioner.pgid = ForkedProcess(pid), pid, None
        provisioner.cwd = kw["cwd"]
        self._reconcile_connection_info(provisioner.connection_info)


class Kernel:
    """One sandboxed kernel in `folder` (ZMQ over ipc sockets there: the sandbox has no network)."""

    serial = 0

    def __init__(self, folder: Path, slot: int, limits: Limits, env: dict, log: Path, mounts=(),
                 launcher=None):
        self.folder, self.slot, self.limits, self.env, self.log = folder, slot, limits, env, log
        self.mounts = list(mounts)
        self.launcher = launcher or Cold()
        self.km = self.kc = self.group = None
        self.context = None
        self.tampering: list[str] = []
        self.parts: dict = {}
        self.isolation: dict = {}
        self.polls = self.held = 0

    async def start(self) -> None:
        t0 = time.perf_counter()
        Kernel.serial += 1
        self.group = sandbox.new_group(self.slot, self.limits, Kernel.serial)
        connection_file = str(self.folder / "kernel.json")
        args = dict(kernel_name="python3", transport="ipc", ip=str(self.folder / "k"),
                    connection_file=connection_file)
        if self.launcher.warm:
            km = WarmKernelManager(**args)
            km.launcher, km.group, km.slot, km.limits = self.launcher, self.group, self.slot, self.limits
        else:
            km = SandboxKernelManager(**args)
            km.command = sandbox.command(self.folder, self.slot, self.limits, self.mounts,
                                         self.group, connection_file)
        km.write_connection_file()
        self.tampering += sandbox.prepare_folder(self.folder, self.slot, ["kernel.json"])
        t1 = time.perf_counter()
        with self.log.open("ab") as log:          # the kernel's own fds 1 and 2: not our console
            await km.start_kernel(env=self.env, cwd=str(self.folder), stdout=log, stderr=log)
        t2 = time.perf_counter()
        self.context = zmq.asyncio.Context()
        self.context.setsockopt(zmq.MAXMSGSIZE, MAX_MESSAGE_BYTES)   # a bigger message is dropped
        self.context.setsockopt(zmq.RECONNECT_IVL, 5)      # the kernel binds soon: retry often
        self.km, self.kc = km, km.client(context=self.context)
        self.kc.start_channels()
        await self.ready(timeout=120)
        t3 = time.perf_counter()
        self.parts = {"prepare_s": t1 - t0, "launch_s": t2 - t1, "ready_s": t3 - t2,
                      **(self.launcher.timing if self.launcher.warm else {})}
        self.isolation = sandbox.describe(sandbox.mode(), self.group, self.launcher.warm, self.slot,
                                          self.limits)

    async def ready(self, timeout: float) -> None:
        """The kernel answers on its shell channel and publishes on IOPub: a kernel_info request
        whose reply came back and whose "idle" status arrived. (jupyter_client's wait_for_ready
        then waits 0.2 s more for silence on IOPub; this does not.)"""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            msg_id = self.kc.kernel_info()
            replied = idle = False
            step_end = time.monotonic() + 0.5
            while not (replied and idle) and time.monotonic() < step_end:
                for get in ((self.kc.get_shell_msg,) if not replied else ()) + \
                        ((self.kc.get_iopub_msg,) if not idle else ()):
                    try:
                        msg = await get(timeout=0.01)
                    except Exception:                  # queue.Empty: nothing yet
                        continue
                    if msg["parent_header"].get("msg_id") != msg_id:
                        continue
                    replied |= msg["msg_type"] == "kernel_info_reply"
                    idle |= msg["msg_type"] == "status" and msg["content"].get("execution_state") == "idle"
            if replied and idle:
                return
            if not self.alive():
                raise RuntimeError("Kernel died before replying to kernel_info")
        raise RuntimeError(f"Kernel didn't respond in {timeout:.0f} seconds")

    @property
    def pid(self) -> int:
        return self.km.provisioner.process.pid

    def alive(self) -> bool:
        return self.km.provisioner.process.poll() is None

    def usage(self) -> tuple[float, int, int]:
        """(CPU seconds, memory bytes, processes) of the sandbox: from its control group where it
        has one (no scan of every process of the machine), else from the kernel's process tree
        (the watchdog: resident memory and the memfds it holds)."""
        if self.group is None:
            self.polls += 1                     # open memfds: a slower scan, every 5th poll
            if self.polls % 5 == 1:
                self.held = sandbox.held_files(self.pid)
            cpu, mem, procs = sandbox.usage(self.pid, skip_root_memory=self.launcher.warm, files=False)
            return cpu, mem + self.held, procs
        cpu, rss, procs = sandbox.usage_of(self.group.pids() or [self.pid])
        return cpu, max(rss, self.group.memory_bytes()), procs

    def oom_killed(self) -> bool:
        return self.group is not None and self.group.oom_killed()

    async def stop(self) -> None:
        """Kill the kernel and every process it started, and wait until they are all gone."""
        if self.km is None:
            return
        sandbox.kill_and_wait(self.pid)
        if self.group is not None:
            self.group.kill()
        if sandbox.mode() in ("root", "user"):
            left = sandbox.sweep_uid(sandbox.sandbox_uid(self.slot))
            if left:
                self.tampering.append(f"{len(left)} processes of the grading uid could not be killed")
        self.kc.stop_channels()
        try:
            await self.km.shutdown_kernel(now=True)
        except Exception:                       # already dead: nothing left to stop
            pass
        await self.km.cleanup_resources()
        if self.group is not None:
            self.group.remove()
        if isinstance(self.km.provisioner.process, ForkedProcess):
            self.km.provisioner.process.close()
        self.context.destroy(linger=0)
        self.km = self.kc = self.group = None


_NOTE = re.compile(r"\n\.\.\. \(output cut: ([\d,]+) characters\)\n$")


def _length(text: str) -> int:
    """A text's real length: what the kernel's note says for a text it already cut."""
    found = _NOTE.search(text[-80:])
    return int(found.group(1).replace(",", "")) if found else len(text)


def _cut(text: str, cap: int) -> str:
    return text if len(text) <= cap else text[:cap] + cut_note(_length(text))


def truncate_outputs(cell, budget: list | None = None) -> None:
    """Cut every kind of output of a cell to its cap; `budget` = [characters left in the notebook]."""
    kept = []
    for out in cell.get("outputs", [])[:MAX_CELL_OUTPUTS]:
        kind = out.get("output_type")
        if kind == "stream":
            out["text"] = _cut(out.get("text", ""), MAX_OUTPUT_CHARS)
        elif kind == "error":
            out["evalue"] = _cut(str(out.get("evalue", "")), MAX_OUTPUT_CHARS)
            out["traceback"] = [_cut("\n".join(map(str, out.get("traceback", []))), MAX_OUTPUT_CHARS)]
        elif kind in ("execute_result", "display_data"):
            data = out.get("data", {})
            for mime in list(data):
                value = data[mime] if isinstance(data[mime], str) else str(data[mime])
                if mime == "text/plain":
                    data[mime] = _cut(value, MAX_OUTPUT_CHARS)
                elif len(value) > MAX_DATA_CHARS:
                    del data[mime]
                    data.setdefault("text/plain", "")
                    data["text/plain"] += f"\n({mime} output of {_length(value):,} characters removed)"
        size = len(str(out))
        if budget is not None:
            if size > budget[0]:
                kept.append(nbformat.v4.new_output("stream", name="stdout",
                                                   text="(output removed: the notebook's outputs "
                                                        "are over their total size limit)\n"))
                break
            budget[0] -= size
        kept.append(out)
    if len(cell.get("outputs", [])) > MAX_CELL_OUTPUTS:
        kept.append(nbformat.v4.new_output("stream", name="stdout", text="(more outputs removed)\n"))
    if "outputs" in cell:
        cell["outputs"] = kept


def _finished(task, cell, new_procs: int, oom: bool) -> str:
    """Status of a step whose execution returned (or raised, when the kernel died under it)."""
    if oom:
        return "memory"
    if task.exception():
        return "died"
    if new_procs > EXTRA_PROCESSES:
        return "processes"
    error = _error_of(cell)
    if error.startswith("MemoryError"):
        return "memory"                     # RLIMIT_DATA hit: restart to give the memory back
    return "error" if error else "ok"


def _error_of(cell) -> str:
    for out in cell.get("outputs", []):
        if out.get("output_type") == "error":
            return f"{out.get('ename', 'Error')}: {out.get('evalue', '')}"[:500]
    return ""


class Runner:
    """Executes a notebook in place, cell by cell, restarting the kernel after a broken cell."""

    def __init__(self, nb, folder: Path, private: Path, slot: int, limits: Limits,
                 cell_limits: dict | None = None, solutions: Path | None = None, mounts=(),
                 launcher=None):
        self.nb, self.folder, self.private, self.slot, self.limits = nb, folder, private, slot, limits
        self.cell_limits = cell_limits or {}
        self.solutions, self.mounts, self.launcher = solutions, list(mounts), launcher
        self.record_dir = folder / "records"
        self.kernel = None
        self.client = None
        self.deadline = 0.0
        self.budget = [MAX_NOTEBOOK_CHARS]
        self.started_s = self.stopped_s = 0.0
        self.start_parts: dict = {}
        self.tampering: list[str] = []
        self.isolation: dict = {}

    def _limits_for(self, key: str) -> tuple[float, float]:
        ref_cpu = self.cell_limits.get(key, 0.0)
        cpu = max(self.limits.cell_cpu_min_s, self.limits.cell_factor * ref_cpu)
        return cpu, self.limits.cell_wall_factor * cpu + self.limits.cell_wall_extra_s

    async def _stop_kernel(self) -> None:
        if self.kernel is not None:
            t0 = time.monotonic()
            await self.kernel.stop()
            self.tampering += self.kernel.tampering
            self.stopped_s += time.monotonic() - t0
            self.kernel = None

    async def _fresh_kernel(self) -> None:
        await self._stop_kernel()
        t0 = time.monotonic()
        env = sandbox.kernel_env(self.folder, self.record_dir, self.solutions)
        self.kernel = Kernel(self.folder, self.slot, self.limits, env, self.private / "kernel.log",
                             self.mounts, self.launcher)
        await self.kernel.start()
        self.start_parts = self.start_parts or dict(self.kernel.parts)
        self.isolation = self.isolation or self.kernel.isolation
        self.client = NotebookClient(self.nb, km=self.kernel.km, allow_errors=True, timeout=None,
                                     iopub_timeout=10, record_timing=False)
        self.client.kc = self.kernel.kc
        self.started_s += time.monotonic() - t0

    async def _run(self, cell, index: int, limit_key: str,
                   store_history: bool = True) -> tuple[str, float, float]:
        """Run one cell (or step) under the limits: (status, CPU seconds, wall seconds)."""
        cpu_limit, wall_limit = self._limits_for(limit_key)
        original = self.nb.cells[index]     # nbclient stores the cell it ran at nb.cells[index]
        cpu0, rss0, procs0 = self.kernel.usage()
        t0 = time.monotonic()
        task = asyncio.ensure_future(self.client.async_execute_cell(cell, index,
                                                                    store_history=store_history))
        task.add_done_callback(lambda t: t.cancelled() or t.exception())   # we report it instead
        status = None
        while status is None:
            done, _ = await asyncio.wait({task}, timeout=POLL_S)
            cpu, rss, procs = self.kernel.usage()
            if done:
                status = _finished(task, cell, procs - procs0, self.kernel.oom_killed())
            else:
                status = self._broken_limit(cpu - cpu0 > cpu_limit or
                                            time.monotonic() - t0 > wall_limit, rss, procs - procs0, rss - rss0)
        if not task.done():
            task.cancel()
        self.nb.cells[index] = original
        truncate_outputs(cell, self.budget)
        return status, max(0.0, cpu - cpu0), time.monotonic() - t0

    def _broken_limit(self, out_of_time: bool, rss: int, new_procs: int,
                      grown: int = 0) -> str | None:
        """The limit a running cell has broken, if any."""
        if self.kernel.oom_killed():
            return "memory"
        if not self.kernel.alive():
            return "died"
        if out_of_time:      # time spent filling memory (or reclaiming it at the limit): memory
            limit = sandbox.group_memory_bytes(self.limits)
            return "memory" if rss > 0.8 * limit or grown > 0.5 * limit else "timeout"
        if new_procs > EXTRA_PROCESSES:
            return "processes"
        if rss > sandbox.group_memory_bytes(self.limits):
            return "processes" if new_procs > 4 else "memory"
        if time.monotonic() > self.deadline:
            return "deadline"
        return None

    def _clear_records(self, key: str) -> None:
        """An empty record folder for the hidden step, made through the folder's descriptor
        (whatever the student left in its place is removed, never followed, and reported)."""
        uid = sandbox.sandbox_uid(self.slot) if sandbox.mode() in ("root", "user") else None
        found = folders.fresh_subfolder(self.folder, self.record_dir.name, uid, uid)
        self.tampering += [f"before the hidden tests of cell {key}: {line}" for line in found]

    async def _hidden_step(self, cell, index: int, run: CellRun) -> None:
        """The grader's own step after a test cell: record its hidden cases, read the records."""
        calls = cells.hidden_calls(cell)
        if not calls:
            return
        self._clear_records(run.key)
        step = nbformat.v4.new_code_cell(records.step_code(calls))
        run.hidden_status, run.hidden_cpu_s, wall = await self._run(
            step, index, f"{cell.get('id')}{HIDDEN_SUFFIX}", store_history=False)
        run.wall_s += wall
        run.records = records.read_records(self.record_dir, [c for c, _ in calls],
                                           sandbox.sandbox_uid(self.slot))

    async def _replay(self, done: list) -> bool:
        """After a restart, re-run the cells that had succeeded (outputs discarded)."""
        for index, cell in done:
            status, _, _ = await self._run(copy.deepcopy(cell), index, cell.get("id"))
            if status not in ("ok", "error"):
                return False
        return True

    async def _recover(self, status: str, execution: Execution, done: list) -> str | None:
        """After a broken limit: a fresh kernel with the good cells replayed; else why not."""
        if status == "deadline" or execution.restarts >= self.limits.max_restarts:
            await self._stop_kernel()
            return "deadline" if status == "deadline" else "not-run"
        execution.restarts += 1
        await self._fresh_kernel()
        if not await self._replay(done):
            await self._stop_kernel()
            return "not-run"
        return None

    async def run(self) -> Execution:
        self.deadline = time.monotonic() + self.limits.submission_wall_s
        execution, done, stop_reason = Execution([]), [], "not-run"
        await self._fresh_kernel()
        try:
            for index, cell in enumerate(self.nb.cells):
                if cell.cell_type != "code":
                    continue
                run = CellRun(index, cells.key(cell), "skipped")
                execution.cells.append(run)
                test = cells.is_test(cell)
                if cells.is_skipped(cell) or not (cell.source.strip() or test):
                    continue
                if self.kernel is None:
                    run.status = stop_reason
                    run.hidden_status = stop_reason if test else ""
                    continue
                visible = copy.deepcopy(cell)
                visible.source = cells.visible_source(cell) if test else cell.source
                if visible.source.strip():
                    run.status, run.cpu_s, run.wall_s = await self._run(visible, index, cell.get("id"))
                    run.error = _error_of(visible)
                    cell.outputs, cell.execution_count = visible.outputs, visible.get("execution_count")
                else:
                    run.status = "ok"
                if run.status in ("ok", "error"):
                    if not test:
                        done.append((index, cell))
                else:
                    stop_reason = await self._recover(run.status, execution, done) or stop_reason
                if not test:
                    continue
                if self.kernel is None:
                    run.hidden_status = stop_reason
                    continue
                await self._hidden_step(cell, index, run)
                if run.hidden_status not in ("ok", "error", ""):
                    stop_reason = await self._recover(run.hidden_status, execution, done) or stop_reason
        finally:
            await self._stop_kernel()
        execution.start_s, execution.stop_s = self.started_s, self.stopped_s
        execution.start_parts, execution.tampering = self.start_parts, list(dict.fromkeys(self.tampering))
        execution.isolation = self.isolation
        return execution


def execute(nb, folder: Path, private: Path, slot: int = 0, limits: Limits = Limits(),
            cell_limits: dict | None = None, solutions: Path | None = None,
            mounts=(), launcher=None) -> Execution:
    """Execute `nb` in place in a sandbox rooted at `folder`; hidden records end up in the result."""
    return asyncio.run(Runner(nb, folder, private, slot, limits, cell_limits, solutions,
                              mounts, launcher).run())
