"""Run one untrusted command inside bubblewrap: no network, read-only system, private tmpfs work dir,
resource limits, whole process tree killed on exit, and a one-way channel of JSON lines
(an inherited pipe whose descriptor number is in $AUTOGRADER_MESSAGE_FD)."""
from __future__ import annotations

import json
import os
import resource
import selectors
import shutil
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from .config import Limits

SandboxStatus = Literal["ok", "runtime_error", "signal", "timeout", "internal"]
SANDBOX_UID = 65534  # nobody: used when the grader runs as root
WORKDIR = "/home/student/work"
MAX_MESSAGE_BYTES = 64 * 1024 * 1024


class SandboxUnavailableError(RuntimeError):
    """bubblewrap is missing or cannot create namespaces here."""


@dataclass(frozen=True)
class Mount:
    """A host path made visible read-only inside the sandbox at `target`."""

    source: Path
    target: str


@dataclass(frozen=True)
class SandboxRun:
    """What happened to one sandboxed process (isolate's meta record)."""

    status: SandboxStatus
    exit_code: int | None
    signal: int | None
    wall_time: float
    stdout: str
    stderr: str
    sandboxed: bool


def bubblewrap_available() -> bool:
    """Return True when bubblewrap exists and can start a namespace on this machine."""
    bwrap = shutil.which("bwrap")
    if not bwrap:
        return False
    probe = subprocess.run([bwrap, *namespace_flags(), "--ro-bind", "/", "/", "true"],
                           capture_output=True, timeout=30)
    return probe.returncode == 0


def namespace_flags() -> list[str]:
    """Return bwrap's namespace flags: a user namespace only where we are not root."""
    flags = ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts",
             "--unshare-cgroup-try", "--die-with-parent", "--new-session"]
    return flags if os.geteuid() == 0 else ["--unshare-user", *flags]


def _parents(path: str) -> list[str]:
    parts = Path(path).parts[1:-1]
    return ["/" + "/".join(parts[: i + 1]) for i in range(len(parts))]


def bubblewrap_argv(cmd: list[str], mounts: list[Mount], limits: Limits, env: dict[str, str]) -> list[str]:
    """Return the full bwrap command line that runs `cmd` with `mounts` visible read-only."""
    argv = ["bwrap", *namespace_flags(), "--clearenv"]
    for name in ("usr", "etc/alternatives", "etc/ssl", "etc/fonts"):
        if Path("/" + name).exists():
            argv += ["--ro-bind", "/" + name, "/" + name]
    for link in ("bin", "lib", "lib64", "sbin"):
        target = os.readlink("/" + link) if Path("/" + link).is_symlink() else None
        if target:
            argv += ["--symlink", target, "/" + link]
        elif Path("/" + link).is_dir():
            argv += ["--ro-bind", "/" + link, "/" + link]
    # the private /tmp first: mounts below /tmp (a course under /tmp) then sit on top of it
    argv += ["--size", str(64 << 20), "--perms", "1777", "--tmpfs", "/tmp"]
    made: set[str] = set()
    for mount in mounts:
        for parent in _parents(mount.target):  # bwrap makes missing parents 0700: unreadable as nobody
            if parent not in made:
                argv += ["--perms", "0755", "--dir", parent]
                made.add(parent)
        argv += ["--ro-bind", str(mount.source), mount.target]
    argv += ["--proc", "/proc", "--dev", "/dev",
             "--perms", "0755", "--dir", "/home",
             "--size", str(limits.workdir_mb << 20), "--perms", "0777", "--tmpfs", "/home/student",
             "--perms", "0777", "--dir", WORKDIR, "--chdir", WORKDIR]
    for key, value in env.items():
        argv += ["--setenv", key, value]
    if os.geteuid() == 0:  # drop to an unprivileged user with no capabilities inside the namespaces
        argv += ["setpriv", f"--reuid={SANDBOX_UID}", f"--regid={SANDBOX_UID}", "--clear-groups",
                 "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs"]
    return argv + cmd


def _apply_rlimits(limits: Limits) -> None:
    memory = limits.memory_mb << 20
    resource.setrlimit(resource.RLIMIT_DATA, (memory, memory))
    resource.setrlimit(resource.RLIMIT_NPROC, (limits.processes, limits.processes))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits.workdir_mb << 20, limits.workdir_mb << 20))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    cpu = int(limits.notebook_timeout * 2) + 10
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))


class _CappedDrain(threading.Thread):
    """Reads a pipe to its end, keeping only the first `cap` bytes (100 MB of prints cost nothing)."""

    def __init__(self, stream, cap: int):
        super().__init__(daemon=True)
        self.stream, self.cap, self.kept, self.dropped = stream, cap, bytearray(), 0
        self.start()

    def run(self) -> None:
        while chunk := self.stream.read1(65536):
            room = self.cap - len(self.kept)
            self.kept += chunk[:max(room, 0)]
            self.dropped += max(len(chunk) - max(room, 0), 0)

    def text(self) -> str:
        self.join(timeout=5)
        note = f"\n[... {self.dropped} more bytes of output dropped]" if self.dropped else ""
        return self.kept.decode("utf-8", "replace") + note


class Sandbox:
    """One running sandboxed process; read its messages, then `finish()` for the run record."""

    def __init__(self, cmd: list[str], mounts: list[Mount], limits: Limits, env: dict[str, str],
                 stdin: bytes, sandboxed: bool = True):
        self.limits, self.sandboxed, self.started = limits, sandboxed, time.monotonic()
        read_end, write_end = os.pipe()
        os.set_inheritable(write_end, True)
        env = {**env, "AUTOGRADER_MESSAGE_FD": str(write_end)}
        if sandboxed:
            argv = bubblewrap_argv(cmd, mounts, limits, env)
        else:  # loud fallback: limits apply, isolation does not
            argv, env = cmd, {**env, "PATH": os.environ.get("PATH", "")}
        self.process = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            pass_fds=(write_end,), start_new_session=True, env=env if not sandboxed else None,
            preexec_fn=lambda: _apply_rlimits(limits),
        )
        os.close(write_end)
        self._channel = os.fdopen(read_end, "rb", buffering=0)
        self._buffer = bytearray()
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._channel, selectors.EVENT_READ)
        cap = limits.output_kb << 10
        self._stdout = _CappedDrain(self.process.stdout, cap)
        self._stderr = _CappedDrain(self.process.stderr, cap)
        self._killed_for_timeout = False
        threading.Thread(target=self._feed, args=(stdin,), daemon=True).start()

    def _feed(self, data: bytes) -> None:
        try:
            self.process.stdin.write(data)
            self.process.stdin.close()
        except (BrokenPipeError, OSError):
            pass

    def read_message(self, timeout: float) -> dict | None:
        """Return the next message, None at end of stream; raise TimeoutError after `timeout` s of silence."""
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            if not self._selector.select(remaining):
                continue
            chunk = self._channel.read(1 << 20)
            if not chunk:
                return None
            self._buffer += chunk
            if len(self._buffer) > MAX_MESSAGE_BYTES:
                self._buffer.clear()
                return {"type": "invalid", "reason": "message too large"}
        line, _, rest = bytes(self._buffer).partition(b"\n")
        self._buffer = bytearray(rest)
        try:
            message = json.loads(line)
        except (ValueError, RecursionError):
            return {"type": "invalid", "reason": "unreadable message"}
        return message if isinstance(message, dict) else {"type": "invalid", "reason": "not an object"}

    def kill(self, for_timeout: bool = True) -> None:
        """Kill bwrap and so the whole pid namespace (every process the student started)."""
        self._killed_for_timeout |= for_timeout
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def finish(self, timeout: float = 10.0) -> SandboxRun:
        """Return the run record once the process has ended (killing it after `timeout`)."""
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill(for_timeout=False)
            self.process.wait()
        self._selector.close()
        self._channel.close()
        code = self.process.returncode
        if self._killed_for_timeout:
            status: SandboxStatus = "timeout"
        elif code == 0:
            status = "ok"
        elif code < 0:
            status = "signal"
        else:
            status = "runtime_error"
        return SandboxRun(status, code if code >= 0 else None, -code if code < 0 else None,
                          time.monotonic() - self.started, self._stdout.text(), self._stderr.text(),
                          self.sandboxed)

