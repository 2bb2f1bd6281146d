"""The in-sandbox notebook runner: executes one submission's cells and probes in order, streaming typed
JSON messages. It runs in a process forked for that submission by the warm server (server.py).

A job is {"id", "steps": [{"id", "kind": "cell"|"probe", ...}], "lesson", "files", "seed", "output_cap",
"own_pid_namespace"}. One JSON line per event, carrying the job id, goes to the job's own message pipe:
"ready", then "start" and "end" for each step in order, then "done" (autograder/protocol.py checks
each). A cell that fails is recorded and execution goes on; a step that overruns its time is interrupted."""
from __future__ import annotations

import importlib
import io
import json
import os
import random
import select
import shutil
import signal
import sys
import threading
import time
import traceback

SUBMISSION_DIR = os.environ.get("AUTOGRADER_SUBMISSION", "/submission")
RUNNER_FAILED = 70  # exit code when the runner itself breaks outside any step
ORPHANED = 71  # exit code when a step killed the warm server


class MessageChannel:
    """Writes JSON lines to the trusted side over this job's own pipe, at a descriptor the notebook is
    unlikely to touch. A notebook that sets O_NONBLOCK on it only makes the writes wait."""

    def __init__(self, fd: int, job_id: str):
        self.owner, self.job_id = os.getpid(), job_id
        self.fd = os.dup2(fd, 1000 + fd % 1000) if fd < 1000 else fd
        if self.fd != fd:
            os.close(fd)

    def send(self, kind: str, **fields) -> None:
        if os.getpid() != self.owner:  # a forked copy of the runner (fork() in a cell) never speaks
            os._exit(0)
        line = json.dumps({"type": kind, "job": self.job_id, **fields}, default=repr) + "\n"
        data = line.encode("utf-8", "surrogatepass")
        while data:
            try:
                data = data[os.write(self.fd, data):]
            except BlockingIOError:
                select.select([], [self.fd], [], 1.0)


class CappedText(io.TextIOBase):
    """A text stream keeping the first `cap` characters and counting the rest."""

    def __init__(self, cap: int):
        self.cap, self.parts, self.size, self.dropped = cap, [], 0, 0

    def write(self, text: str) -> int:
        room = self.cap - self.size
        if room > 0:
            self.parts.append(text[:room])
            self.size += min(len(text), room)
        self.dropped += max(len(text) - max(room, 0), 0)
        return len(text)

    def writable(self) -> bool:
        return True

    def getvalue(self) -> str:
        note = f"\n[... {self.dropped} more characters of output dropped]" if self.dropped else ""
        return "".join(self.parts) + note


class Watchdog:
    """Interrupts the main thread (KeyboardInterrupt) when a step overruns its time: its CPU seconds (the
    budget that does not shrink when the machine is loaded) or its wall seconds (the backstop for a step
    that waits without computing). One thread for the whole job, started before any student code: a
    process bomb cannot stop it from starting later. It sleeps until a budget could first run out; it
    never polls. The interrupt is a real SIGINT to the main thread, so it also ends a blocking call
    (sleep, a wait on a child), where _thread.interrupt_main() would wait for the call to return."""

    def __init__(self):
        self.main = threading.get_ident()  # constructed by the main thread
        self.deadline: float | None = None
        self.cpu_deadline: float | None = None
        self.fired = False
        self.condition = threading.Condition()
        threading.Thread(target=self._watch, daemon=True).start()

    def _watch(self) -> None:
        with self.condition:
            while True:
                if self.deadline is None:
                    self.condition.wait()
                    continue
                left = self.deadline - time.monotonic()
                if self.cpu_deadline is not None:  # CPU time cannot outrun the clock by more than the threads
                    left = min(left, self.cpu_deadline - time.process_time())
                if left > 0:  # at least 10 ms: a step at part of a core nears its CPU deadline geometrically
                    self.condition.wait(max(left, 0.01))
                else:
                    self.deadline, self.cpu_deadline, self.fired = None, None, True
                    signal.pthread_kill(self.main, signal.SIGINT)

    def arm(self, seconds: float, cpu_seconds: float | None = None) -> None:
        with self.condition:
            self.deadline, self.fired = time.monotonic() + seconds, False
            self.cpu_deadline = None if cpu_seconds is None else time.process_time() + cpu_seconds
            self.condition.notify()

    def disarm(self) -> bool:
        """Stop the clock; return True if it fired during the step."""
        with self.condition:
            self.deadline = self.cpu_deadline = None
            self.condition.notify()
            return self.fired


def error_fields(exc: BaseException) -> dict:
    """Return the student's exception as type, message and a short traceback of their code."""
    lines = traceback.format_exception_only(type(exc), exc)
    return {"ename": type(exc).__name__, "evalue": str(exc)[:1000], "summary": "".join(lines)[-1000:]}


def preload(modules: list[str]) -> None:
    """Import heavy modules once, before any student code (the sandbox starts warm). With torch comes what it
    imports on first use of an optimiser (torch._dynamo, about 1 s), so that no job pays it."""
    os.environ.setdefault("MPLBACKEND", "Agg")
    for name in modules:
        importlib.import_module(name)
    if "torch" in sys.modules:
        importlib.import_module("torch._dynamo")


def seed_everything(seed: int) -> None:
    """Seed every RNG a notebook may draw from, so that the same submission runs the same way."""
    random.seed(seed)
    try:
        import numpy
        numpy.random.seed(seed)
    except ImportError:
        pass
    if "torch" in sys.modules:
        sys.modules["torch"].manual_seed(seed)


def copy_submission_files(names: list[str]) -> None:
    """Copy the submitted side files (weights) into the work dir; the read-only originals stay for probes."""
    for name in names:
        source = os.path.join(SUBMISSION_DIR, name)
        if os.path.isfile(source):
            shutil.copyfile(source, name)


def make_shell():
    """Return a fresh IPython shell without history or terminal."""
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    config = Config()
    config.HistoryManager.enabled = False
    config.InteractiveShell.colors = "nocolor"  # tracebacks are read as text, not in a terminal
    shell = InteractiveShell.instance(config=config)
    shell.user_ns["__name__"] = "__main__"
    return shell


WARM_UP_CELLS = ("shown = [1]\nprint(shown)\nshown", "undefined_name", "1 / 0")


def make_warm_shell():
    """Return a fresh shell, after a throwaway one has run a few cells (output, display, errors): what
    IPython imports lazily on first use (traceback formatting alone is 0.1 s) is then paid once by the
    warm server, not by every forked submission."""
    from IPython.core.interactiveshell import InteractiveShell

    throwaway = make_shell()
    for source in WARM_UP_CELLS:
        run_cell(throwaway, source, 1 << 16)
    InteractiveShell.clear_instance()
    return make_shell()


def swallow_late_interrupt() -> None:
    """Drop the watchdog's SIGINT if the step ended before it was raised (a loaded machine can delay it past
    any sleep): with SIGINT ignored, the kernel discards it if still pending, and Python skips it if it was
    caught but not yet raised. The watchdog sends it under its lock, so once disarmed, it has been sent."""
    try:
        handler = signal.signal(signal.SIGINT, signal.SIG_IGN)  # raises a caught one before it changes anything
    except KeyboardInterrupt:  # that was it: one interrupt a step
        return
    try:
        sum(range(2))  # a few bytecodes: Python looks at caught signals here, and skips the ignored one
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGINT, handler)


def run_cell(shell, source: str, cap: int) -> dict:
    """Return the outcome of one cell: status, captured output and the student's error if any."""
    out = CappedText(cap)
    saved = sys.stdout, sys.stderr
    sys.stdout = sys.stderr = out
    try:
        result = shell.run_cell(source, store_history=False)
    finally:
        sys.stdout, sys.stderr = saved
    error = result.error_before_exec or result.error_in_exec
    fields = {"status": "ok", "output": out.getvalue()}
    if isinstance(error, KeyboardInterrupt):
        fields["status"] = "interrupted"
    elif error is not None:
        fields.update(status="error", error=error_fields(error))
    return fields


def run_probe(namespace: dict, lesson: str, step: dict) -> dict:
    """Return a probe's plain data, or why it could not produce any."""
    import torch

    from .probes.common import MissingAnswer, json_ready

    module = importlib.import_module(f"lessons.{lesson}.probes")  # the lesson's probes.py, mounted alone
    probe = getattr(module, f"probe_{step['exercise']}")
    snapshot = dict(namespace)  # a probe may rebind globals (train_f sets p); later cells must not see it
    out = CappedText(4096)
    saved = sys.stdout, sys.stderr
    sys.stdout = sys.stderr = out
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)  # a probe's own draws never depend on what the notebook drew before
            data = json_ready(probe(namespace, **step.get("inputs", {})))
        return {"status": "ok", "data": data}
    except MissingAnswer as exc:
        return {"status": "missing", "message": str(exc)}
    except KeyboardInterrupt:
        return {"status": "interrupted"}
    except RecursionError as exc:
        return {"status": "error", "error": error_fields(exc)}
    except BaseException as exc:  # the student's code raised (SystemExit included): report, go on
        return {"status": "error", "error": error_fields(exc)}
    finally:
        sys.stdout, sys.stderr = saved
        namespace.clear()
        namespace.update(snapshot)


def kill_strays(protected: set[int]) -> int:
    """Kill every other process in the sandbox (forks and background jobs a cell left); return how many."""
    killed = 0
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) not in protected:
            try:
                os.kill(int(entry), 9)
                killed += 1
            except OSError:
                pass
    return killed


def reap_children() -> None:
    """Collect the exit status of killed children (zombies still count against the process limit)."""
    try:
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass
    except ChildProcessError:
        pass


def run_job(job: dict, channel: MessageChannel, shell) -> None:
    """Run a submission's steps in `shell`, reporting each step's start and end on `channel`."""
    copy_submission_files(job.get("files", []))
    seed_everything(job.get("seed", 0))
    channel.send("ready")
    server = os.getppid()
    protected = {1, os.getpid(), server}  # the namespace's init and the warm server stay
    signal.signal(signal.SIGINT, signal.default_int_handler)  # the watchdog's interrupt must raise, even where
    watchdog = Watchdog()  # the grader was started with SIGINT ignored (a background job of a script, as in CI)
    cap, budget = job.get("output_cap", 65536), job.get("output_total", 1 << 20)  # per cell, per notebook
    for step in job["steps"]:
        channel.send("start", id=step["id"])
        begun, begun_cpu = time.monotonic(), time.process_time()
        watchdog.arm(step.get("timeout", job.get("timeout", 60)), step.get("cpu_timeout"))
        try:
            if step["kind"] == "cell":
                fields = run_cell(shell, step["source"], min(cap, max(budget, 0)))
                budget -= len(fields["output"])
            else:
                fields = run_probe(shell.user_ns, job["lesson"], step)
        except KeyboardInterrupt:
            fields = {"status": "interrupted"}
        try:
            fired = watchdog.disarm()
        except KeyboardInterrupt:  # it fired as the step ended and landed here: that was its one interrupt
            watchdog.disarm()
            fired = True
        if fired:
            swallow_late_interrupt()
        if os.getpid() != channel.owner:  # a fork of the runner finished a step: it must not go on
            os._exit(0)
        if os.getppid() != server:  # this step killed the warm server: end now, so the step is the one blamed
            os._exit(ORPHANED)
        if job.get("own_pid_namespace"):  # never outside the sandbox: there it would kill the grader's processes
            fields["strays_killed"] = kill_strays(protected)
            reap_children()
        if fired and fields["status"] in ("interrupted", "error"):
            fields["status"] = "timeout"
        channel.send("end", id=step["id"], seconds=round(time.monotonic() - begun, 3),
                     cpu_seconds=round(time.process_time() - begun_cpu, 3), **fields)
    channel.send("done")
