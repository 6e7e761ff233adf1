"""Running one submission: a fresh sandboxed kernel, cell by cell, under limits.

- Cells tagged `skip-grading` are not run.
- Each cell has a CPU-time limit (calibrated against the reference solution's own run, so a busy
  machine never fails a correct submission) and a generous wall-clock backstop (for code that
  sleeps); the submission has a wall-clock limit; the sandbox has a memory limit.
- A cell that breaks a limit, kills its kernel (os._exit, a segfault) or leaves a swarm of processes
  behind is charged with it: the sandbox is killed, a fresh kernel replays the cells that had
  succeeded, and the rest of the notebook goes on.
- Before each test cell the record folder (COURSE_GRADING_RECORD_DIR) is emptied; after it, the
  records it wrote are moved out of the sandbox for the verdict.
"""

from __future__ import annotations

import asyncio
import copy
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient

from autograde import cells, sandbox
from autograde.sandbox import Limits

POLL_S = 0.1
EXTRA_PROCESSES = 16           # more processes than this left after a cell: a fork bomb
MAX_OUTPUT_CHARS = 20_000      # per cell, in the graded notebook and the feedback

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
    records: dict = field(default_factory=dict)     # case_id -> record file (test cells)


@dataclass
class Execution:
    cells: list[CellRun]
    restarts: int = 0

    def problems(self) -> list[str]:
        """Lines for the instructor and the student: each cell that broke a limit or crashed."""
        return [f"cell {c.key} {REASONS[c.status]}" for c in self.cells if c.status in REASONS]


class SandboxKernelManager(AsyncKernelManager):
    """A kernel manager whose kernel command is wrapped by the sandbox (see sandbox.py)."""

    wrap: list = []

    def format_kernel_cmd(self, extra_arguments=None):
        return self.wrap + super().format_kernel_cmd(extra_arguments)


class Kernel:
    """One sandboxed kernel in `folder` (ZMQ over ipc sockets there: the sandbox has no network)."""

    def __init__(self, folder: Path, slot: int, limits: Limits, env: dict, log: Path, mounts=()):
        self.folder, self.slot, self.limits, self.env, self.log = folder, slot, limits, env, log
        self.mounts = list(mounts)
        self.km = self.kc = None

    async def start(self) -> None:
        km = SandboxKernelManager(kernel_name="python3", transport="ipc", ip=str(self.folder / "k"),
                                  connection_file=str(self.folder / "kernel.json"))
        km.wrap = sandbox.wrapper(self.folder, self.slot, self.limits, self.mounts)
        km.write_connection_file()
        sandbox.prepare_folder(self.folder, self.slot)
        with self.log.open("ab") as log:          # the kernel's own fds 1 and 2: not our console
            await km.start_kernel(env=self.env, cwd=str(self.folder), stdout=log, stderr=log)
        self.km, self.kc = km, km.client()
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

    async def stop(self) -> None:
        if self.km is None:
            return
        sandbox.kill(self.pid)
        self.kc.stop_channels()
        try:
            await self.km.shutdown_kernel(now=True)
        except Exception:                       # already dead: nothing left to stop
            pass
        await self.km.cleanup_resources()
        self.km = self.kc = None


def _truncate_outputs(cell) -> None:
    for out in cell.get("outputs", []):
        if out.get("output_type") == "stream" and len(out.get("text", "")) > MAX_OUTPUT_CHARS:
            out["text"] = out["text"][:MAX_OUTPUT_CHARS] + "\n... (output truncated)\n"
    del cell["outputs"][50:]


def _finished(task, cell, new_procs: int) -> str:
    """Status of a cell whose execution returned (or raised, when the kernel died under it)."""
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
                 cell_limits: dict | None = None, solutions: Path | None = None, mounts=()):
        self.nb, self.folder, self.private, self.slot, self.limits = nb, folder, private, slot, limits
        self.cell_limits = cell_limits or {}
        self.solutions, self.mounts = solutions, list(mounts)
        self.record_dir = folder / "records"
        self.kernel = None
        self.client = None
        self.deadline = 0.0

    def _limits_for(self, cell) -> tuple[float, float]:
        ref_cpu = self.cell_limits.get(cell.get("id"), 0.0)
        cpu = max(self.limits.cell_cpu_min_s, self.limits.cell_factor * ref_cpu)
        return cpu, self.limits.cell_wall_factor * cpu + self.limits.cell_wall_extra_s

    async def _fresh_kernel(self) -> None:
        if self.kernel is not None:
            await self.kernel.stop()
        env = sandbox.kernel_env(self.folder, self.record_dir, self.solutions)
        self.kernel = Kernel(self.folder, self.slot, self.limits, env, self.private / "kernel.log",
                             self.mounts)
        await self.kernel.start()
        self.client = NotebookClient(self.nb, km=self.kernel.km, allow_errors=True, timeout=None,
                                     iopub_timeout=10, record_timing=False)
        self.client.kc = self.kernel.kc

    async def _run(self, cell, index: int) -> tuple[str, float, float]:
        """Run one cell under the limits: (status, CPU seconds, wall seconds)."""
        cpu_limit, wall_limit = self._limits_for(cell)
        cpu0, _, procs0 = sandbox.usage(self.kernel.pid)
        t0 = time.monotonic()
        task = asyncio.ensure_future(self.client.async_execute_cell(cell, index))
        task.add_done_callback(lambda t: t.cancelled() or t.exception())   # we report it instead
        status = None
        while status is None:
            done, _ = await asyncio.wait({task}, timeout=POLL_S)
            cpu, rss, procs = sandbox.usage(self.kernel.pid)
            if done:
                status = _finished(task, cell, procs - procs0)
            else:
                status = self._broken_limit(cpu - cpu0 > cpu_limit or
                                            time.monotonic() - t0 > wall_limit, rss, procs - procs0)
        if not task.done():
            task.cancel()
        _truncate_outputs(cell)
        return status, max(0.0, cpu - cpu0), time.monotonic() - t0

    def _broken_limit(self, out_of_time: bool, rss: int, new_procs: int) -> str | None:
        """The limit a running cell has broken, if any."""
        if not self.kernel.alive():
            return "died"
        if out_of_time:
            return "timeout"
        if new_procs > EXTRA_PROCESSES:
            return "processes"
        if rss > self.limits.memory_mb * 2**20:
            return "processes" if new_procs > 4 else "memory"
        if time.monotonic() > self.deadline:
            return "deadline"
        return None

    def _clear_records(self) -> None:
        shutil.rmtree(self.record_dir, ignore_errors=True)
        self.record_dir.mkdir()
        sandbox.prepare_folder(self.record_dir, self.slot)

    def _collect_records(self, cell) -> dict:
        """Move this test cell's records out of the sandbox: {case_id: private path}."""
        out = {}
        target = self.private / "records" / cells.key(cell)
        target.mkdir(parents=True, exist_ok=True)
        for case_id, _ in cells.hidden_calls(cell):
            src = self.record_dir / f"{case_id}.pt"
            if src.is_file() and not src.is_symlink():
                shutil.copyfile(src, target / src.name)
                out[case_id] = target / src.name
        return out

    async def _replay(self, done: list) -> bool:
        """After a restart, re-run the cells that had succeeded (outputs discarded)."""
        for index, cell in done:
            status, _, _ = await self._run(copy.deepcopy(cell), index)
            if status not in ("ok", "error"):
                return False
        return True

    async def run(self) -> Execution:
        self.deadline = time.monotonic() + self.limits.submission_wall_s
        execution, done, stop_reason = Execution([]), [], "not-run"
        self.record_dir.mkdir(exist_ok=True)
        await self._fresh_kernel()
        try:
            for index, cell in enumerate(self.nb.cells):
                if cell.cell_type != "code":
                    continue
                run = CellRun(index, cells.key(cell), "skipped")
                execution.cells.append(run)
                if cells.is_skipped(cell) or not cell.source.strip():
                    continue
                if self.kernel is None:
                    run.status = stop_reason
                    continue
                if cells.is_test(cell):
                    self._clear_records()
                run.status, run.cpu_s, run.wall_s = await self._run(cell, index)
                run.error = _error_of(cell)
                if cells.is_test(cell):
                    run.records = self._collect_records(cell)
                if run.status in ("ok", "error"):
                    if not cells.is_test(cell):
                        done.append((index, cell))
                    continue
                if run.status == "deadline" or execution.restarts >= self.limits.max_restarts:
                    stop_reason = "deadline" if run.status == "deadline" else "not-run"
                    await self.kernel.stop()
                    self.kernel = None
                    continue
                execution.restarts += 1
                await self._fresh_kernel()
                if not await self._replay(done):
                    await self.kernel.stop()
                    self.kernel = None
        finally:
            if self.kernel is not None:
                await self.kernel.stop()
        return execution


def execute(nb, folder: Path, private: Path, slot: int = 0, limits: Limits = Limits(),
            cell_limits: dict | None = None, solutions: Path | None = None,
            mounts=()) -> Execution:
    """Execute `nb` in place in a sandbox rooted at `folder`; records end up under `private`."""
    return asyncio.run(Runner(nb, folder, private, slot, limits, cell_limits, solutions,
                              mounts).run())


def chown_back(folder: Path) -> None:
    """Give the sandbox folder back to the grader before it is removed."""
    for path in [folder, *folder.rglob("*")]:
        try:
            os.lchown(path, os.getuid(), os.getgid())
        except OSError:
            pass
