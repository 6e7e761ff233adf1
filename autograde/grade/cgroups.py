"""A control group per sandbox: memory (tmpfs and memfd pages counted), processes and CPU.

RLIMIT_DATA stops a heap that grows, but not memory that is not the process's data segment: a
memfd, a file in a tmpfs, shared memory. A memory cgroup counts all of them, and a pids cgroup counts
every thread and process of the sandbox wherever they run. Both kernel interfaces are supported:

- cgroup v1 (separate `memory`, `pids`, `cpu` hierarchies under /sys/fs/cgroup, as on these
  machines): `memory.limit_in_bytes`, `pids.max`, `cpu.cfs_quota_us`, and the `freezer`, so that a
  kill is one frozen pass (no process can fork while its siblings are being killed);
- cgroup v2 (one unified hierarchy): `memory.max`, `pids.max`, `cpu.max`, with the controllers
  enabled in the parent's `cgroup.subtree_control`; `cgroup.kill` kills the whole group at once.

The groups are made below the grader's own group, so a grader that runs inside a container's or a
job scheduler's group stays inside it. Without write access to either (not root, or a container
that mounts /sys/fs/cgroup read-only) `Group.create` returns None and `unavailable()` says why:
the sandbox then relies on RLIMIT_DATA/RLIMIT_NPROC and the resident-memory watchdog, which miss
tmpfs and memfd memory (docs/GRADING.md).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path("/sys/fs/cgroup")
V1 = ("memory", "pids", "cpu", "freezer")
CPU_PERIOD_US = 100_000


def _own_path(controller: str | None) -> str:
    """The grader's own group in a v1 controller's hierarchy, or in the v2 one (None)."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return "/"
    for line in lines:
        _, names, path = line.split(":", 2)
        if (controller is None and names == "") or (controller in names.split(",")):
            return path
    return "/"


def _writable(path: Path) -> bool:
    return path.is_dir() and os.access(path, os.W_OK)


def layout() -> tuple[str, dict[str, Path]] | None:
    """("v1" or "v2", {controller: parent folder for our groups}), or None where neither works."""
    v1 = {c: ROOT / c / _own_path(c).lstrip("/") for c in V1}
    if all(_writable(p) for p in (v1["memory"], v1["pids"])):
        return "v1", {c: p for c, p in v1.items() if _writable(p)}
    unified = ROOT if (ROOT / "cgroup.controllers").exists() else ROOT / "unified"
    parent = unified / _own_path(None).lstrip("/")
    try:
        available = (parent / "cgroup.controllers").read_text().split()
    except OSError:
        return None
    if {"memory", "pids"} <= set(available) and _writable(parent):
        return "v2", {"v2": parent}
    return None


def unavailable() -> str | None:
    """Why there are no cgroup limits here (None: there are)."""
    if layout() is not None:
        return None
    if os.geteuid() != 0:
        return "the grader is not root, so it cannot create control groups"
    return "no writable cgroup v1 memory/pids hierarchy or cgroup v2 with those controllers"


def _write(path: Path, value) -> None:
    path.write_text(f"{value}\n")


@dataclass
class Group:
    """One sandbox's control group(s); `enter_prefix()` puts a command into them before it runs."""

    kind: str
    folders: dict[str, Path]

    @classmethod
    def create(cls, name: str, memory_bytes: int, pids: int, cpus: float) -> "Group | None":
        found = layout()
        if found is None:
            return None
        kind, parents = found
        folders = {}
        try:
            if kind == "v2":
                parent = parents["v2"]
                enabled = (parent / "cgroup.subtree_control").read_text().split()
                wanted = [c for c in ("memory", "pids", "cpu")
                          if c in (parent / "cgroup.controllers").read_text().split()]
                missing = [c for c in wanted if c not in enabled]
                if missing:
                    _write(parent / "cgroup.subtree_control", " ".join(f"+{c}" for c in missing))
                folders["v2"] = parent / name
                folders["v2"].mkdir(exist_ok=True)
                _write(folders["v2"] / "memory.max", memory_bytes)
                if (folders["v2"] / "memory.swap.max").exists():
                    _write(folders["v2"] / "memory.swap.max", 0)
                _write(folders["v2"] / "pids.max", pids)
                if (folders["v2"] / "cpu.max").exists():
                    _write(folders["v2"] / "cpu.max", f"{int(cpus * CPU_PERIOD_US)} {CPU_PERIOD_US}")
            else:
                for controller, parent in parents.items():
                    folders[controller] = parent / name
                    folders[controller].mkdir(exist_ok=True)
                _write(folders["memory"] / "memory.limit_in_bytes", memory_bytes)
                memsw = folders["memory"] / "memory.memsw.limit_in_bytes"
                if memsw.exists():
                    try:
                        _write(memsw, memory_bytes)     # no swap to spill into
                    except OSError:
                        pass
                _write(folders["pids"] / "pids.max", pids)
                if "cpu" in folders:
                    _write(folders["cpu"] / "cpu.cfs_period_us", CPU_PERIOD_US)
                    _write(folders["cpu"] / "cpu.cfs_quota_us", int(cpus * CPU_PERIOD_US))
        except OSError:
            group = cls(kind, folders)
            group.remove()
            return None
        return cls(kind, folders)

    def procs_files(self) -> list[str]:
        return [str(f / "cgroup.procs") for f in self.folders.values()]

    def enter_prefix(self) -> list[str]:
        """`sh -c` that writes its own pid into every group, then execs the command after it."""
        writes = "; ".join(f"echo $$ > {p}" for p in self.procs_files())
        return ["/bin/sh", "-c", f'{writes} && exec "$0" "$@"']

    def memory_bytes(self) -> int:
        """Memory the group's processes hold now: anonymous memory plus tmpfs, memfd and shared
        memory pages (not the page cache of files read, which the kernel reclaims first)."""
        folder = self.folders["v2"] if self.kind == "v2" else self.folders["memory"]
        keys = ("anon", "shmem") if self.kind == "v2" else ("total_rss", "total_shmem")
        try:
            stats = (folder / "memory.stat").read_text().split()
        except OSError:
            return 0
        fields = dict(zip(stats[::2], stats[1::2]))
        return sum(int(fields.get(k, 0)) for k in keys)

    def oom_killed(self) -> bool:
        """Did the kernel kill a process of the group for memory?"""
        try:
            if self.kind == "v2":
                events = (self.folders["v2"] / "memory.events").read_text().split()
                return int(dict(zip(events[::2], events[1::2])).get("oom_kill", 0)) > 0
            text = (self.folders["memory"] / "memory.oom_control").read_text().split()
            fields = dict(zip(text[::2], text[1::2]))
            if "oom_kill" in fields:
                return int(fields["oom_kill"]) > 0
            return int((self.folders["memory"] / "memory.failcnt").read_text()) > 0
        except (OSError, ValueError):
            return False

    def pids(self) -> list[int]:
        folder = self.folders.get("v2") or self.folders.get("pids") or self.folders.get("memory")
        try:
            return [int(p) for p in (folder / "cgroup.procs").read_text().split()]
        except (OSError, ValueError):
            return []

    def has_cpu(self) -> bool:
        return "cpu" in self.folders or (self.kind == "v2" and (self.folders["v2"] / "cpu.max").exists())

    def kill(self, timeout: float = 5.0) -> None:
        """SIGKILL every process in the group, and wait until the group is empty. cgroup v2's
        `cgroup.kill` is atomic; on v1 the group is frozen first (where the freezer is available),
        so that nothing in it forks between the listing and the kill."""
        if self.kind == "v2" and (self.folders["v2"] / "cgroup.kill").exists():
            try:
                _write(self.folders["v2"] / "cgroup.kill", 1)
            except OSError:
                pass
        freezer = self.folders.get("freezer")
        deadline = time.monotonic() + timeout
        while self.pids() and time.monotonic() < deadline:
            frozen = freezer is not None and self._freeze(freezer, "FROZEN", deadline)
            for pid in self.pids():
                try:
                    os.kill(pid, 9)
                except OSError:
                    pass
            if frozen:
                self._freeze(freezer, "THAWED", deadline)     # the killed processes can now die
            time.sleep(0.005)

    @staticmethod
    def _freeze(folder: Path, state: str, deadline: float) -> bool:
        try:
            _write(folder / "freezer.state", state)
            while (folder / "freezer.state").read_text().strip() != state:
                if time.monotonic() > deadline:
                    return False
                time.sleep(0.002)
            return True
        except OSError:
            return False

    def remove(self) -> None:
        """Kill what is left and remove the group folders (a folder with processes cannot go)."""
        self.kill()
        for folder in self.folders.values():
            for _ in range(50):
                try:
                    folder.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.02)
