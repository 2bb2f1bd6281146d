"""Warm sandboxes: a long-lived bubblewrap sandbox per grading process and lesson, with torch, torchvision
and the lesson's modules imported once. Each submission runs in a process forked from it, so it starts
from the same clean state as a cold sandbox would, in milliseconds instead of seconds.

Isolation between two submissions in one warm sandbox (see sandboxed/server.py): the job's process and
everything it started are killed, the writable directories and IPC objects are emptied, its submitted
files leave the inbox, and the server cannot be reached by the job except by killing it (which costs a
restart, never a wrong grade). Each job speaks on a pipe of its own, which the server hands over when the
job starts: no job can read or write another's messages. A sandbox whose job broke the protocol, did
not end when told, or left something behind is never used again."""
from __future__ import annotations

import atexit
import itertools
import json
import os
import select
import shutil
import socket
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from . import cgroups
from .config import Config
from .protocol import LineReader, ProtocolViolation, parse_line
from .sandbox import WORKDIR, Mount, Sandbox, SandboxRun

SANDBOXED_CODE = Path(__file__).parent / "sandboxed"
SANDBOX_PYTHONPATH = "/opt/autograder"  # autograder.sandboxed and lessons.<lesson>.probes import from here
START_TIMEOUT = 180.0  # importing torch on a loaded machine
REPLY_WAIT = 10.0  # seconds for the server to start a job or report a killed one before the sandbox goes
JOB_FILE = ".autograder-job.json"  # in the inbox: the job's cells and probe inputs, read by the job alone
_numbers = itertools.count()


HOST_DIR_PREFIX = "autograder-"


def remove_stale_directories() -> None:
    """Remove host directories and cgroups of warm sandboxes whose grading process is gone (kill -9)."""
    for path in Path(tempfile.gettempdir()).glob(f"{HOST_DIR_PREFIX}*-*-*"):
        pid = path.name.split("-")[2]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            shutil.rmtree(path, ignore_errors=True)
    cgroups.remove_stale()


class Control:
    """The grading process's end of a warm server's control socket: commands out, replies in (a reply
    may carry a descriptor: the read end of a job's message pipe)."""

    def __init__(self, sock: socket.socket):
        self.sock = sock

    def fileno(self) -> int:
        return self.sock.fileno()

    def send(self, command: dict) -> bool:
        try:
            self.sock.send(json.dumps(command).encode())
            return True
        except OSError:
            return False

    def receive(self, until: float) -> tuple[dict | None, list[int]]:
        """Return the next reply and the descriptors it carries; (None, []) once the server is gone;
        raise TimeoutError at `until` (a time.monotonic() value)."""
        if not select.select([self], [], [], max(until - time.monotonic(), 0))[0]:
            raise TimeoutError
        try:
            data, fds, _, _ = socket.recv_fds(self.sock, 1 << 16, 4)
        except OSError:
            return None, []
        if not data:
            return None, fds
        try:
            return parse_line(data), fds
        except ProtocolViolation:
            return {"type": "invalid"}, fds

    def close(self) -> None:
        self.sock.close()


class SandboxStartError(RuntimeError):
    """The warm sandbox did not come up (its last line of stderr says why)."""


def sandbox_mounts(config: Config, data_files: tuple[str, ...], inbox: Path, probes: Path | None = None) -> list[Mount]:
    """Return what the sandbox may read: the Python environment, runner and shared probe helpers, the
    lesson's probe module alone (never the rest of its folder), data, the inbox."""
    prefixes = {Path(sys.base_prefix).resolve(), Path(sys.prefix)}
    mounts = [Mount(p, str(p)) for p in sorted(prefixes)]
    mounts.append(Mount(SANDBOXED_CODE, f"{SANDBOX_PYTHONPATH}/autograder/sandboxed"))
    if probes is not None:
        mounts.append(Mount(probes, f"{SANDBOX_PYTHONPATH}/lessons/{probes.parent.name}/probes.py"))
    mounts += [Mount(config.data_root / f, f"/data/{f}") for f in data_files if (config.data_root / f).is_file()]
    return mounts + [Mount(inbox, "/submission")]


class WarmSandbox:
    """One started sandbox that runs submissions one after another, each in a fresh forked state."""

    def __init__(self, config: Config, preload: tuple[str, ...], data_files: tuple[str, ...],
                 while_starting: Callable[[], None] | None = None, probes: Path | None = None):
        started = time.monotonic()
        self.config, self.sandboxed = config, not config.allow_unsandboxed
        remove_stale_directories()
        self.inbox = Path(tempfile.mkdtemp(prefix=f"{HOST_DIR_PREFIX}inbox-{os.getpid()}-"))
        self.inbox.chmod(0o755)  # the sandbox user (nobody) reads it; it is mounted read-only
        limits = config.limits
        env = {"PATH": "/usr/bin:/bin", "HOME": "/home/student", "USER": "student", "LOGNAME": "student", "PYTHONPATH": SANDBOX_PYTHONPATH,
               "AUTOGRADER_DATA": "/data", "MPLBACKEND": "Agg", "PYTHONDONTWRITEBYTECODE": "1",
               "PYTHONHASHSEED": "0", "OMP_NUM_THREADS": str(limits.threads), "MKL_NUM_THREADS": str(limits.threads)}
        setup = {"preload": list(preload), "own_pid_namespace": self.sandboxed, "job_file": f"/submission/{JOB_FILE}"}
        self.workdir = None
        if self.sandboxed:
            setup.update(workdir=WORKDIR, wipe=["/home/student", "/tmp", "/dev/shm", "/dev/mqueue"])
        else:  # the loud fallback: a private host directory stands in for the sandbox's home
            self.workdir = Path(tempfile.mkdtemp(prefix=f"{HOST_DIR_PREFIX}unsandboxed-{os.getpid()}-"))
            importable = [SANDBOXED_CODE.parents[1], *([probes.parents[2]] if probes else [])]  # package, course
            env.update(HOME=str(self.workdir), PYTHONPATH=os.pathsep.join(map(str, importable)),
                       AUTOGRADER_DATA=str(config.data_root), AUTOGRADER_SUBMISSION=str(self.inbox))
            setup.update(workdir=str(self.workdir / "work"), wipe=[str(self.workdir)], job_file=str(self.inbox / JOB_FILE))
            (self.workdir / "work").mkdir()
        mounts = sandbox_mounts(config, data_files, self.inbox, probes)
        setup["mounts"] = [m.target for m in mounts]
        self.cgroup = cgroups.SandboxCgroup.create(f"{os.getpid()}-{next(_numbers)}", limits.memory_mb << 20, limits.processes)
        self.limits_note = "" if self.cgroup else cgroups.NO_CGROUP_NOTE
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.control = Control(mine)
        try:
            self.box = Sandbox([sys.executable, "-m", "autograder.sandboxed.server"], mounts, limits, env, stdin=b"",
                               sandboxed=self.sandboxed, channels=(), inherit={"AUTOGRADER_CONTROL_FD": theirs.fileno()},
                               cwd=self.workdir / "work" if self.workdir else None, cgroup=self.cgroup)
        finally:
            theirs.close()
        self.jobs, self.broken, self.busy = 0, False, False
        self.cleaning = False  # a job ended and the server's "cleaned" has not been read yet
        self.control.send(setup)
        if while_starting:  # trusted-side warm-up overlaps the sandbox's imports
            while_starting()
        try:
            message, _ = self.control.receive(time.monotonic() + START_TIMEOUT)
        except TimeoutError:
            message = None
        if not message or message.get("type") != "ready":
            self.close()
            lines = self.box.finish(timeout=1).stderr.strip().splitlines() or ["no output"]
            raise SandboxStartError(f"the sandbox did not start: {lines[-1][:300]}")
        if self.cgroup:  # every submission gets memory_mb beyond what the warm server itself holds
            self.cgroup.set_memory(self.cgroup.memory_usage() + (limits.memory_mb << 20))
        self.start_seconds = time.monotonic() - started

    @property
    def alive(self) -> bool:
        """True when the sandbox can take the next job: sound, idle, and clean of the last one (this waits
        for the server's "cleaned", which usually arrived while the grading process judged)."""
        if self.cleaning and not self.broken and not self.busy:
            self._settle()
        return not self.broken and not self.busy and self.box.alive

    def _settle(self) -> None:
        """Read the server's report on cleaning up after the last job; anything but clean ends the sandbox."""
        self.cleaning = False
        try:
            message, fds = self.control.receive(time.monotonic() + REPLY_WAIT)
        except TimeoutError:
            message, fds = None, []
        for fd in fds:
            os.close(fd)
        if not message or message.get("type") != "cleaned" or message.get("unclean"):
            self.broken = True
            self.box.kill(for_timeout=False)

    def run(self, job: dict, files: dict[str, Path]) -> "WarmRun":
        """Start one submission's job (its "id" chosen by the caller) with its submitted files in the inbox."""
        if not self.alive:
            raise RuntimeError("a warm sandbox runs one job at a time, and only while it is sound")
        for name, path in files.items():
            target = self.inbox / name
            shutil.copyfile(path, target)
            target.chmod(0o644)
        job_file = self.inbox / JOB_FILE
        job_file.write_text(json.dumps(job))
        job_file.chmod(0o644)
        self.jobs += 1
        self.busy = True
        return WarmRun(self, job["id"])

    def clear_inbox(self) -> None:
        for path in self.inbox.iterdir():
            path.unlink(missing_ok=True)

    def close(self) -> None:
        """Stop the sandbox and remove its host directories and cgroup."""
        self.broken = True
        self.box.kill(for_timeout=False)
        self.control.close()
        if self.cgroup:
            self.cgroup.remove()
        shutil.rmtree(self.inbox, ignore_errors=True)
        if self.workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)


class WarmRun:
    """One job in a warm sandbox: its message lines (`next_line`), then `finish()` for the run record.
    The grading process decides when the job is over: when the server reports it ended, or when the
    caller's deadline passes and it is killed. No message from the job can extend either."""

    def __init__(self, warm: WarmSandbox, job_id: str):
        self.warm, self.job_id, self.started = warm, job_id, time.monotonic()
        self.ended: dict | None = None  # the server's job-done record, or {} if the sandbox itself ended
        self.killed = False
        self.failure = ""  # the runner's own traceback, when it failed outside any step
        self.reader: LineReader | None = None
        cpu = int(warm.config.limits.notebook_timeout * 2) + 10
        if not warm.control.send({"cmd": "run", "job": job_id, "cpu_seconds": cpu}):
            self._end({})
            return
        try:
            while self.reader is None and self.ended is None:
                self._handle_control(time.monotonic() + REPLY_WAIT)
        except TimeoutError:
            self.abandon()

    def _handle_control(self, until: float) -> None:
        message, fds = self.warm.control.receive(until)
        if message is not None and message.get("type") == "started" and len(fds) == 1 and self.reader is None:
            self.reader = LineReader(fds[0])
            return
        for fd in fds:
            os.close(fd)
        if message is not None and message.get("type") == "job-done":
            self._end(message)
        else:  # the server is gone, or said something it never says: this sandbox is done
            self.abandon()

    def _end(self, record: dict) -> None:
        self.ended = record
        if not record:  # the server is gone: never reuse this sandbox
            self.warm.broken = True
        else:  # it cleans up now; WarmSandbox.alive reads how that went before the next job
            self.warm.cleaning = True
        self.warm.busy = False
        self.warm.clear_inbox()

    def next_line(self, until: float) -> bytes | None:
        """Return the job's next message line; None once the job has ended and its pipe is read.
        Raise TimeoutError at `until` (time.monotonic()), ProtocolViolation past the pipe's bounds."""
        while True:
            if self.reader is not None:
                if (line := self.reader.next_line()) is not None:
                    return line
                if self.reader.eof and self.ended is not None:
                    return None
            elif self.ended is not None:
                return None
            if self.ended is not None and self.warm.broken:
                return None  # something outlived the job and may still hold its pipe: stop reading
            watched = [self.warm.control] if self.ended is None else []
            watched += [self.reader] if self.reader is not None and not self.reader.eof else []
            ready = select.select(watched, [], [], max(until - time.monotonic(), 0))[0]
            if not ready:
                raise TimeoutError
            if self.reader in ready:
                self.reader.fill()
            if self.warm.control in ready:
                self._handle_control(until)

    def kill(self) -> None:
        """Stop the job (the server kills it); if the server does not answer in time, the whole sandbox."""
        self.killed = True
        if self.ended is None and self.warm.control.send({"cmd": "kill"}):
            until = time.monotonic() + REPLY_WAIT
            try:
                while self.ended is None:
                    self._handle_control(until)
            except TimeoutError:
                pass
        if self.ended is None:
            self.abandon()

    def abandon(self) -> None:
        """End the job by ending its sandbox, which is never used again (the job broke the protocol)."""
        self.warm.broken = True
        self.warm.box.kill(for_timeout=False)
        if self.ended is None:
            self._end({})

    def finish(self) -> SandboxRun:
        """Return the job's run record (killing the job first if it has not ended)."""
        if self.ended is None:
            self.kill()
        if self.reader is not None:
            self.reader.close()
        ended, alive = self.ended, not self.warm.broken
        if not alive:
            self.warm.box.kill(for_timeout=False)
            self.warm.box.process.wait()
        signal_number, code = ended.get("signal"), ended.get("exit_code")  # both None: the sandbox itself ended
        if self.killed:
            status = "timeout"
        elif code == 0:
            status = "ok"
        elif signal_number:
            status = "signal"
        else:
            status = "runtime_error"
        stderr = self.failure if alive else self.warm.box.stderr_text()
        return SandboxRun(status, code, signal_number, time.monotonic() - self.started, "", stderr, self.warm.sandboxed)


_warm: dict[tuple, WarmSandbox] = {}


def warm_sandbox(config: Config, key: str, preload: tuple[str, ...], data_files: tuple[str, ...],
                 while_starting: Callable[[], None] | None = None, probes: Path | None = None) -> tuple[WarmSandbox, float]:
    """Return this process's warm sandbox for `key` (a lesson) and the seconds spent starting it now
    (0 when it was already warm; `while_starting` then runs meanwhile). One is kept per process:
    starting another stops the previous one."""
    ident = (key, config, tuple(preload), tuple(data_files), probes)
    warm = _warm.get(ident)
    if warm is not None and warm.alive:
        return warm, 0.0
    close_all()
    warm = WarmSandbox(config, preload, data_files, while_starting, probes)
    _warm[ident] = warm
    return warm, warm.start_seconds


@atexit.register
def close_all() -> None:
    """Stop every warm sandbox of this process."""
    while _warm:
        _warm.popitem()[1].close()
