"""Warm sandboxes: a long-lived bubblewrap sandbox per grading process and lesson, with torch, torchvision
and the lesson's modules imported once. Each submission runs in a process forked from it, so it starts
from the same clean state as a cold sandbox would, in milliseconds instead of seconds.

Isolation between two submissions in one warm sandbox (see sandboxed/server.py): the job's process and
everything it started are killed, the writable directories and IPC objects are emptied, its submitted
files leave the inbox, and the server cannot be reached by the job except by killing it (which costs a
restart, never a wrong grade)."""
from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from .config import Config
from .sandbox import WORKDIR, Mount, Sandbox, SandboxRun

SANDBOXED_CODE = Path(__file__).parent / "sandboxed"
START_TIMEOUT = 180.0  # importing torch on a loaded machine
KILL_WAIT = 5.0  # seconds for the server to report a killed job before the whole sandbox goes


HOST_DIR_PREFIX = "autograder-"


def remove_stale_directories() -> None:
    """Remove host directories of warm sandboxes whose grading process is gone (killed with -9)."""
    for path in Path(tempfile.gettempdir()).glob(f"{HOST_DIR_PREFIX}*-*-*"):
        pid = path.name.split("-")[2]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            shutil.rmtree(path, ignore_errors=True)


class SandboxStartError(RuntimeError):
    """The warm sandbox did not come up (its last line of stderr says why)."""


def sandbox_mounts(config: Config, data_files: tuple[str, ...], inbox: Path) -> list[Mount]:
    """Return what the sandbox may read: the Python environment, runner and probes, data, the inbox."""
    prefixes = {Path(sys.base_prefix).resolve(), Path(sys.prefix)}
    mounts = [Mount(p, str(p)) for p in sorted(prefixes)]
    mounts.append(Mount(SANDBOXED_CODE, "/opt/autograder/sandboxed"))
    mounts += [Mount(config.data_root / f, f"/data/{f}") for f in data_files if (config.data_root / f).is_file()]
    return mounts + [Mount(inbox, "/submission")]


class WarmSandbox:
    """One started sandbox that runs submissions one after another, each in a fresh forked state."""

    def __init__(self, config: Config, preload: tuple[str, ...], data_files: tuple[str, ...],
                 while_starting: Callable[[], None] | None = None):
        started = time.monotonic()
        self.config, self.sandboxed = config, not config.allow_unsandboxed
        remove_stale_directories()
        self.inbox = Path(tempfile.mkdtemp(prefix=f"{HOST_DIR_PREFIX}inbox-{os.getpid()}-"))
        self.inbox.chmod(0o755)  # the sandbox user (nobody) reads it; it is mounted read-only
        limits = config.limits
        env = {"PATH": "/usr/bin:/bin", "HOME": "/home/student", "USER": "student", "LOGNAME": "student", "PYTHONPATH": "/opt/autograder",
               "AUTOGRADER_DATA": "/data", "MPLBACKEND": "Agg", "PYTHONDONTWRITEBYTECODE": "1",
               "PYTHONHASHSEED": "0", "OMP_NUM_THREADS": str(limits.threads), "MKL_NUM_THREADS": str(limits.threads)}
        setup = {"preload": list(preload), "own_pid_namespace": self.sandboxed}
        self.workdir = None
        if self.sandboxed:
            setup.update(workdir=WORKDIR, wipe=["/home/student", "/tmp", "/dev/shm"])
        else:  # the loud fallback: a private host directory stands in for the sandbox's home
            self.workdir = Path(tempfile.mkdtemp(prefix=f"{HOST_DIR_PREFIX}unsandboxed-{os.getpid()}-"))
            env.update(HOME=str(self.workdir), PYTHONPATH=str(SANDBOXED_CODE.parent), AUTOGRADER_DATA=str(config.data_root),
                       AUTOGRADER_SUBMISSION=str(self.inbox))
            setup.update(workdir=str(self.workdir / "work"), wipe=[str(self.workdir)])
            (self.workdir / "work").mkdir()
        mounts = sandbox_mounts(config, data_files, self.inbox)
        setup["mounts"] = [m.target for m in mounts]
        self.box = Sandbox([sys.executable, "-m", "sandboxed.server"], mounts,
                           limits, env, stdin=None, sandboxed=self.sandboxed, channels=("message", "control"),
                           cwd=self.workdir / "work" if self.workdir else None)
        self.box.send(setup)
        if while_starting:  # trusted-side warm-up overlaps the sandbox's imports
            while_starting()
        try:
            message = self.box.read_message(START_TIMEOUT, channel="control")
        except TimeoutError:
            message = None
        if not message or message.get("type") != "ready":
            self.close()
            lines = self.box.finish(timeout=1).stderr.strip().splitlines() or ["no output"]
            raise SandboxStartError(f"the sandbox did not start: {lines[-1][:300]}")
        self.start_seconds = time.monotonic() - started
        self.jobs, self.broken = 0, False

    @property
    def alive(self) -> bool:
        return not self.broken and self.box.alive

    def run(self, job: dict, files: dict[str, Path]) -> "WarmRun":
        """Start one submission's job with its submitted files in the inbox; read it like a sandbox."""
        for name, path in files.items():
            target = self.inbox / name
            shutil.copyfile(path, target)
            target.chmod(0o644)
        self.jobs += 1
        return WarmRun(self, job)

    def clear_inbox(self) -> None:
        for path in self.inbox.iterdir():
            path.unlink(missing_ok=True)

    def close(self) -> None:
        """Stop the sandbox and remove its host directories."""
        self.box.kill(for_timeout=False)
        shutil.rmtree(self.inbox, ignore_errors=True)
        if self.workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)


class WarmRun:
    """One job in a warm sandbox, with the interface of a sandbox of its own: messages, kill, finish."""

    def __init__(self, warm: WarmSandbox, job: dict):
        self.warm, self.started = warm, time.monotonic()
        self.pending: list[dict] = []
        self.ended: dict | None = None  # the server's job-done record, or {} if the sandbox itself ended
        self.killed = False
        self.failure = ""  # the runner's own traceback, when it failed outside any step
        cpu = int(warm.config.limits.notebook_timeout * 2) + 10
        if not warm.box.send({"cmd": "run", "job": {**job, "cpu_seconds": cpu}}):
            self.ended = {}

    def _end(self, record: dict | None) -> None:
        self.ended = record or {}
        if not record or record.get("unclean"):  # the server is gone or leaves: never reuse this sandbox
            self.warm.broken = True
        reader = self.warm.box.readers["message"]
        if not reader.eof:
            self.pending += reader.drain()
            reader.buffer.clear()  # a line the job left half-written must not reach the next job
        self.warm.clear_inbox()

    def read_message(self, timeout: float) -> dict | None:
        """Return the job's next message, None once it has ended; raise TimeoutError after `timeout` s."""
        while not self.pending and self.ended is None:
            channel, message = self.warm.box.read_any(timeout)
            if message is None:  # a channel closed: the whole sandbox ended
                self._end({})
            elif channel == "control":
                if message.get("type") == "job-done":
                    self._end(message)
            else:
                if message.get("type") == "runner-error":  # the runner's own traceback, for the record
                    self.failure = str(message.get("summary", ""))[-2000:]
                self.pending.append(message)
        return self.pending.pop(0) if self.pending else None

    def kill(self) -> None:
        """Stop the job (the server kills it); if the server does not answer, stop the whole sandbox."""
        self.killed = True
        if self.ended is None and self.warm.box.send({"cmd": "kill"}):
            deadline = time.monotonic() + KILL_WAIT
            try:
                while self.ended is None and time.monotonic() < deadline:
                    self.read_message(max(deadline - time.monotonic(), 0.01))
            except TimeoutError:
                pass
        if self.ended is None:
            self.warm.box.kill(for_timeout=False)
            self._end({})
        self.pending.clear()

    def finish(self) -> SandboxRun:
        """Return the job's run record (waiting for its end if needed)."""
        while self.ended is None:
            try:
                self.read_message(30.0)
            except TimeoutError:
                self.kill()
        self.pending.clear()
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
                 while_starting: Callable[[], None] | None = None) -> tuple[WarmSandbox, float]:
    """Return this process's warm sandbox for `key` (a lesson) and the seconds spent starting it now
    (0 when it was already warm; `while_starting` then runs meanwhile). One is kept per process:
    starting another stops the previous one."""
    ident = (key, config, tuple(preload), tuple(data_files))
    warm = _warm.get(ident)
    if warm is not None and warm.alive:
        return warm, 0.0
    close_all()
    warm = WarmSandbox(config, preload, data_files, while_starting)
    _warm[ident] = warm
    return warm, warm.start_seconds


@atexit.register
def close_all() -> None:
    """Stop every warm sandbox of this process."""
    while _warm:
        _warm.popitem()[1].close()
