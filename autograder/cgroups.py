"""Memory and process limits for a whole sandbox (every process in it together), from a cgroup of its own.

RLIMIT_DATA and RLIMIT_NPROC count per process and per uid: four forked children may each hold the
memory limit. A cgroup counts the sandbox as one. Version 2 (a delegated unified hierarchy) is used where
its memory and pids controllers are enabled for us, version 1 (memory and pids hierarchies) otherwise;
where neither is writable `SandboxCgroup.create` returns None and the caller says so in every result."""
from __future__ import annotations

import os
import signal
import time
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
PREFIX = "autograder-"
NO_CGROUP_NOTE = ("memory and process limits apply per process here, not to the sandbox as a whole "
                  "(no writable cgroup on this host)")


def _own_path(controller: str) -> str | None:
    """Return this process's cgroup path in `controller`'s v1 hierarchy ("" for v2's), or None."""
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if (controller == "" and controllers == "") or controller in controllers.split(","):
            return path
    return None


def _hierarchies() -> list[Path] | None:
    """Return the parent directories our cgroups go in: [unified] for v2, [memory, pids] for v1."""
    unified = next((p for p in (CGROUP_ROOT, CGROUP_ROOT / "unified")
                    if (p / "cgroup.controllers").is_file()), None)
    if unified is not None and (path := _own_path("")) is not None:
        parent = unified / path.lstrip("/")
        enabled = (parent / "cgroup.subtree_control").read_text().split() if (parent / "cgroup.subtree_control").is_file() else []
        if {"memory", "pids"} <= set(enabled):
            return [parent]
    parents = []
    for controller in ("memory", "pids"):
        path = _own_path(controller)
        if path is None or not (CGROUP_ROOT / controller).is_dir():
            return None
        parents.append(CGROUP_ROOT / controller / path.lstrip("/"))
    return parents


class SandboxCgroup:
    """A cgroup (one per hierarchy) holding every process of one sandbox."""

    def __init__(self, directories: list[Path]):
        self.directories = directories
        self.v2 = len(directories) == 1

    @classmethod
    def create(cls, name: str, memory_bytes: int, processes: int) -> "SandboxCgroup | None":
        """Return a new cgroup named PREFIX+name with the limits set, or None where we may not make one."""
        made: list[Path] = []
        try:
            parents = _hierarchies()
            if parents is None:
                return None
            for parent in parents:
                (parent / f"{PREFIX}{name}").mkdir()
                made.append(parent / f"{PREFIX}{name}")
            cgroup = cls(made)
            cgroup.set_memory(memory_bytes)
            cgroup._write("pids.max", str(processes))
            return cgroup
        except OSError:
            for directory in made:
                _rmdir(directory)
            return None

    def _write(self, name: str, value: str) -> None:
        for directory in self.directories:
            if (directory / name).exists():
                (directory / name).write_text(value)

    def set_memory(self, memory_bytes: int) -> None:
        """Cap the memory of all the sandbox's processes together (swap included where counted)."""
        if self.v2:
            self._write("memory.max", str(memory_bytes))
            self._write("memory.swap.max", "0")
        else:  # memory+swap may never be below memory: raising goes swap first, lowering memory first
            names = ["memory.limit_in_bytes", "memory.memsw.limit_in_bytes"]
            current = int((self.directories[0] / names[0]).read_text())
            for name in names if memory_bytes <= current else names[::-1]:
                try:
                    self._write(name, str(memory_bytes))
                except OSError:
                    if name == names[0]:
                        raise  # memsw is absent where swap accounting is off: memory alone is the limit

    def memory_usage(self) -> int:
        """Return the bytes the sandbox's processes use now (page cache included)."""
        name = "memory.current" if self.v2 else "memory.usage_in_bytes"
        return int((self.directories[0] / name).read_text())

    def join(self) -> None:
        """Move the calling process into the cgroup (call in the child before exec: all it starts follows)."""
        for directory in self.directories:
            with open(directory / "cgroup.procs", "w") as procs:
                procs.write("0")

    def remove(self) -> None:
        """Kill what is left in the cgroup and remove it."""
        for directory in self.directories:
            _rmdir(directory)


def _rmdir(directory: Path) -> None:
    for _ in range(50):
        try:
            for pid in (directory / "cgroup.procs").read_text().split():
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except OSError:
                    pass
            directory.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.02)


def remove_stale() -> None:
    """Remove the cgroups of grading processes that are gone (killed with -9)."""
    try:
        parents = _hierarchies() or []
    except OSError:
        return
    for parent in parents:
        for directory in parent.glob(f"{PREFIX}*-*"):
            pid = directory.name.removeprefix(PREFIX).split("-")[0]
            if pid.isdigit() and not Path(f"/proc/{pid}").exists():
                _rmdir(directory)
