"""Run one untrusted command inside bubblewrap: no network, read-only system, private tmpfs work dir,
resource limits, whole process tree killed on exit, and a one-way channel of JSON lines
(an inherited pipe whose descriptor number is in $AUTOGRADER_MESSAGE_FD)."""
from __future__ import annotations

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

from .cgroups import SandboxCgroup
from .config import Limits
from .protocol import LineReader, parse_line
from .seccomp import filter_fd

SandboxStatus = Literal["ok", "runtime_error", "signal", "timeout", "internal"]
SANDBOX_UID_BASE = 100_000  # where the grader runs as root, each grading process's sandboxes get their own uid


def sandbox_uid() -> int:
    """Return the unprivileged uid this process's sandboxes run as (root hosts only): one per grading
    process, so per-user limits (RLIMIT_NPROC) and signals never reach another worker's sandbox."""
    return SANDBOX_UID_BASE + os.getpid()
WORKDIR = "/home/student/work"
SCRATCH_MB = 64  # each of /tmp and /dev/shm


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


def bubblewrap_argv(cmd: list[str], mounts: list[Mount], limits: Limits, env: dict[str, str],
                    seccomp_fd: int | None = None) -> list[str]:
    """Return the full bwrap command line that runs `cmd` with `mounts` visible read-only (and the
    seccomp filter read from `seccomp_fd`)."""
    argv = ["bwrap", *namespace_flags(), "--clearenv"]
    if seccomp_fd is not None:
        argv += ["--seccomp", str(seccomp_fd)]
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
    argv += _scratch("/tmp")
    made: set[str] = set()
    for mount in mounts:
        for parent in _parents(mount.target):  # bwrap makes missing parents 0700: unreadable as nobody
            if parent not in made:
                argv += ["--perms", "0755", "--dir", parent]
                made.add(parent)
        argv += ["--ro-bind", str(mount.source), mount.target]
    argv += ["--proc", "/proc", "--dev", "/dev",
             *_scratch("/dev/shm"),  # multiprocessing locks, DataLoader workers
             "--mqueue", "/dev/mqueue",  # POSIX message queues become files the server can remove
             "--perms", "0755", "--dir", "/home",
             "--size", str(limits.workdir_mb << 20), "--perms", "0777", "--tmpfs", "/home/student",
             "--perms", "0777", "--dir", WORKDIR, "--chdir", WORKDIR]
    for key, value in env.items():
        argv += ["--setenv", key, value]
    if os.geteuid() == 0:  # drop to an unprivileged user with no capabilities inside the namespaces
        uid = sandbox_uid()
        argv += ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups",
                 "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs"]
    return argv + cmd


def _scratch(path: str) -> list[str]:
    """Return bubblewrap's arguments for a private, world-writable tmpfs of SCRATCH_MB at `path`."""
    return ["--size", str(SCRATCH_MB << 20), "--perms", "1777", "--tmpfs", path]


def _enter_limits(limits: Limits, cgroup: SandboxCgroup | None) -> None:
    """In the child before exec: join the sandbox's cgroup, then set the per-process limits."""
    if cgroup is not None:
        cgroup.join()
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
    """One running sandboxed process; read its messages, then `finish()` for the run record.

    Each name in `channels` is a one-way pipe from the sandbox, its descriptor number in
    $AUTOGRADER_<NAME>_FD; `inherit` passes further descriptors under the given variable names.
    `stdin` is written to the process's stdin, which is then closed. With a `cgroup`, the whole sandbox
    lives in it (memory and process limits for all its processes together)."""

    def __init__(self, cmd: list[str], mounts: list[Mount], limits: Limits, env: dict[str, str],
                 stdin: bytes, sandboxed: bool = True, channels: tuple[str, ...] = ("message",),
                 cwd: Path | None = None, inherit: dict[str, int] | None = None,
                 cgroup: SandboxCgroup | None = None):
        self.limits, self.sandboxed, self.started = limits, sandboxed, time.monotonic()
        self.readers: dict[str, LineReader] = {}
        write_ends = []
        for name in channels:
            read_end, write_end = os.pipe()
            env = {**env, f"AUTOGRADER_{name.upper()}_FD": str(write_end)}
            self.readers[name] = LineReader(read_end)
            write_ends.append(write_end)
        env = {**env, **{key: str(fd) for key, fd in (inherit or {}).items()}}
        seccomp = filter_fd() if sandboxed else None
        passed = tuple(write_ends) + tuple((inherit or {}).values()) + ((seccomp,) if seccomp is not None else ())
        if sandboxed:
            argv = bubblewrap_argv(cmd, mounts, limits, env, seccomp)
        else:  # loud fallback: limits apply, isolation does not
            argv, env = cmd, {**env, "PATH": os.environ.get("PATH", "")}
        try:
            self.process = subprocess.Popen(
                argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                pass_fds=passed, start_new_session=True, env=env if not sandboxed else None,
                cwd=cwd, preexec_fn=lambda: _enter_limits(limits, cgroup),
            )
        finally:
            for fd in write_ends + ([seccomp] if seccomp is not None else []):
                os.close(fd)
        self._selector = selectors.DefaultSelector()
        for name, reader in self.readers.items():
            self._selector.register(reader, selectors.EVENT_READ, name)
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

    def read_any(self, timeout: float) -> tuple[str, dict | None]:
        """Return (channel, next message) from whichever channel has one; (channel, None) at its end;
        raise TimeoutError after `timeout` s of silence, ProtocolViolation for a malformed message."""
        deadline = time.monotonic() + timeout
        while True:
            for name, reader in self.readers.items():
                if (line := reader.next_line()) is not None:
                    return name, parse_line(line)
                if reader.eof:
                    return name, None
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            for key, _ in self._selector.select(remaining):
                key.fileobj.fill()

    def read_message(self, timeout: float, channel: str = "message") -> dict | None:
        """Return the next message of `channel` (others are dropped), None at its end."""
        while True:
            name, message = self.read_any(timeout)
            if name == channel:
                return message

    def kill(self, for_timeout: bool = True) -> None:
        """Kill bwrap and so the whole pid namespace (every process the student started)."""
        self._killed_for_timeout |= for_timeout
        if self.process.returncode is not None:  # reaped: its pid may already belong to someone else
            return
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def stderr_text(self) -> str:
        return self._stderr.kept.decode("utf-8", "replace")

    def finish(self, timeout: float = 10.0) -> SandboxRun:
        """Return the run record once the process has ended (killing it after `timeout`)."""
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill(for_timeout=False)
            self.process.wait()
        self._selector.close()
        for reader in self.readers.values():
            reader.close()
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
