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
- Every output is cut to a size before it is kept (MAX_OUTPUT_CHARS a text, MAX_DATA_CHARS an image
  or other rich output, MAX_CELL_OUTPUTS outputs a cell, MAX_NOTEBOOK_CHARS in all), and the grader
  refuses any message from the kernel over MAX_MESSAGE_BYTES, so no output can fill its memory.
"""

from __future__ import annotations

import asyncio
import copy
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import psutil
import zmq
import zmq.asyncio
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient

from autograde import cells
from autograde.grade import records, sandbox
from autograde.grade.sandbox import Limits
from autograde.grade.warm_kernels import Cold, ForkedProcess

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

    def problems(self) -> list[str]:
        """Lines for the instructor and the student: each cell that broke a limit or crashed."""
        out = [f"cell {c.key} {REASONS[c.status]}" for c in self.cells if c.status in REASONS]
        out += [f"the hidden tests of cell {c.key} {REASONS[c.hidden_status]}"
                for c in self.cells if c.hidden_status in REASONS]
        return out


class SandboxKernelManager(AsyncKernelManager):
    """A kernel manager whose kernel command is wrapped by the sandbox (see sandbox.py)."""

    wrap: list = []

    def format_kernel_cmd(self, extra_arguments=None):
        return self.wrap + super().format_kernel_cmd(extra_arguments)


class WarmKernelManager(AsyncKernelManager):
    """A kernel manager whose kernel is forked by the worker's zygote (warm_kernels.py)."""

    launcher = None
    group = None
    slot = 0

    async def _async_launch_kernel(self, kernel_cmd, **kw):
        pid = self.launcher.spawn(Path(kw["cwd"]), self.connection_file, kw["env"], self.group,
                                  self.slot)
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

    async def start(self) -> None:
        Kernel.serial += 1
        self.group = sandbox.new_group(self.slot, self.limits, Kernel.serial)
        args = dict(kernel_name="python3", transport="ipc", ip=str(self.folder / "k"),
                    connection_file=str(self.folder / "kernel.json"))
        if self.launcher.warm:
            km = WarmKernelManager(**args)
            km.launcher, km.group, km.slot = self.launcher, self.group, self.slot
        else:
            km = SandboxKernelManager(**args)
            km.wrap = sandbox.wrapper(self.folder, self.slot, self.limits, self.mounts, self.group)
        km.write_connection_file()
        sandbox.prepare_folder(self.folder, self.slot)
        with self.log.open("ab") as log:          # the kernel's own fds 1 and 2: not our console
            await km.start_kernel(env=self.env, cwd=str(self.folder), stdout=log, stderr=log)
        self.context = zmq.asyncio.Context()
        self.context.setsockopt(zmq.MAXMSGSIZE, MAX_MESSAGE_BYTES)   # a bigger message is dropped
        self.km, self.kc = km, km.client(context=self.context)
        self.kc.start_channels()
        await self.kc.wait_for_ready(timeout=120)

    @property
    def pid(self) -> int:
        return self.km.provisioner.process.pid

    def alive(self) -> bool:
        try:
            return psutil.Process(self.pid).status() != psutil.STATUS_ZOMBIE
        except psutil.Error:
            return False

    def usage(self) -> tuple[float, int, int]:
        """(CPU seconds, memory bytes, processes) of the sandbox: from its control group where it
        has one (no scan of every process of the machine), else from the kernel's process tree."""
        if self.group is None:
            return sandbox.usage(self.pid)
        cpu, rss, procs = sandbox.usage_of(self.group.pids() or [self.pid])
        return cpu, max(rss, self.group.memory_bytes()), procs

    def oom_killed(self) -> bool:
        return self.group is not None and self.group.oom_killed()

    async def stop(self) -> None:
        if self.km is None:
            return
        sandbox.kill(self.pid)
        if self.group is not None:
            self.group.kill()
        self.kc.stop_channels()
        try:
            await self.km.shutdown_kernel(now=True)
        except Exception:                       # already dead: nothing left to stop
            pass
        await self.km.cleanup_resources()
        if self.group is not None:
            self.group.remove()
        self.context.destroy(linger=0)
        self.km = self.kc = self.group = None


def _cut(text: str, cap: int) -> str:
    return text if len(text) <= cap else text[:cap] + f"\n... (output cut: {len(text):,} characters)\n"


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
                    data["text/plain"] += f"\n({mime} output of {len(value):,} characters removed)"
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
        self.started_s = 0.0

    def _limits_for(self, key: str) -> tuple[float, float]:
        ref_cpu = self.cell_limits.get(key, 0.0)
        cpu = max(self.limits.cell_cpu_min_s, self.limits.cell_factor * ref_cpu)
        return cpu, self.limits.cell_wall_factor * cpu + self.limits.cell_wall_extra_s

    async def _fresh_kernel(self) -> None:
        t0 = time.monotonic()
        if self.kernel is not None:
            await self.kernel.stop()
        env = sandbox.kernel_env(self.folder, self.record_dir, self.solutions)
        self.kernel = Kernel(self.folder, self.slot, self.limits, env, self.private / "kernel.log",
                             self.mounts, self.launcher)
        await self.kernel.start()
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

    def _clear_records(self) -> None:
        if self.record_dir.is_symlink() or (self.record_dir.exists() and not self.record_dir.is_dir()):
            self.record_dir.unlink()
        shutil.rmtree(self.record_dir, ignore_errors=True)      # never follows links
        self.record_dir.mkdir()
        sandbox.prepare_folder(self.record_dir, self.slot)

    async def _hidden_step(self, cell, index: int, run: CellRun) -> None:
        """The grader's own step after a test cell: record its hidden cases, read the records."""
        calls = cells.hidden_calls(cell)
        if not calls:
            return
        self._clear_records()
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
            await self.kernel.stop()
            self.kernel = None
            return "deadline" if status == "deadline" else "not-run"
        execution.restarts += 1
        await self._fresh_kernel()
        if not await self._replay(done):
            await self.kernel.stop()
            self.kernel = None
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
            if self.kernel is not None:
                await self.kernel.stop()
        execution.start_s = self.started_s
        return execution


def execute(nb, folder: Path, private: Path, slot: int = 0, limits: Limits = Limits(),
            cell_limits: dict | None = None, solutions: Path | None = None,
            mounts=(), launcher=None) -> Execution:
    """Execute `nb` in place in a sandbox rooted at `folder`; hidden records end up in the result."""
    return asyncio.run(Runner(nb, folder, private, slot, limits, cell_limits, solutions,
                              mounts, launcher).run())


def chown_back(folder: Path) -> None:
    """Give the sandbox folder back to the grader before it is removed."""
    for path in [folder, *folder.rglob("*")]:
        try:
            os.lchown(path, os.getuid(), os.getgid())
        except OSError:
            pass
