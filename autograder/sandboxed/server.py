"""The warm server inside a sandbox: imports the heavy modules once, then forks a fresh interpreter
state for every submission (the fork server of issue 7).

Commands arrive as JSON lines on stdin: first {"preload": [...], "own_pid_namespace": bool, "wipe": [...]},
then {"cmd": "run", "job": {...}} per submission and, while a job runs, {"cmd": "kill"}. Replies go to the
control descriptor ($AUTOGRADER_CONTROL_FD), which every forked job closes first, so no student code can
forge them: {"type": "ready"} and {"type": "job-done", "exit_code" | "signal"}.

Between two jobs every other process is killed and every writable place is emptied, so nothing one
student left (files, processes, System V IPC objects) reaches the next. This process is not dumpable:
a job running under the same uid cannot read or write its memory through ptrace or /proc."""
from __future__ import annotations

import ctypes
import gc
import json
import os
import resource
import select
import shutil
import signal
import sys
import time
import traceback

from . import runner

PR_SET_DUMPABLE = 4
IPC_RMID = 0
LIBC = ctypes.CDLL(None, use_errno=True)


class Commands:
    """Reads JSON-line commands from stdin without blocking on partial lines (select-friendly)."""

    def __init__(self, fd: int = 0):
        self.fd, self.buffer, self.eof = fd, b"", False

    def next(self, block: bool = True) -> dict | None:
        while b"\n" not in self.buffer:
            if self.eof or not (block or select.select([self.fd], [], [], 0)[0]):
                return None
            chunk = os.read(self.fd, 1 << 20)
            self.eof = not chunk
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        try:
            return json.loads(line)
        except ValueError:
            return {}


def reply(fd: int, kind: str, **fields) -> None:
    os.write(fd, (json.dumps({"type": kind, **fields}) + "\n").encode())


def start_job(job: dict, control_fd: int, message_fd: int, shell) -> None:
    """In the forked child: shed the server's descriptors and privileges, then run the job; never returns."""
    try:
        os.close(control_fd)
        null = os.open("/dev/null", os.O_RDONLY)
        os.dup2(null, 0)
        os.close(null)
        os.setsid()
        LIBC.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0)  # its own /proc entries stay readable to itself
        cpu = int(job.get("cpu_seconds", 600))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
        os.chdir(job["workdir"])
        channel = runner.MessageChannel(message_fd)
        try:
            runner.run_job(job, channel, shell)
        except BaseException as exc:  # the runner itself failed (student code can break anything here)
            channel.send("runner-error", summary="".join(traceback.format_exception(exc))[-2000:])
            os._exit(runner.RUNNER_FAILED)
    finally:
        os._exit(0)


def supervise(pid: int, commands: Commands) -> dict:
    """Wait for the job to end, killing it on a "kill" command; return how it ended."""
    pidfd = os.pidfd_open(pid)
    try:
        while True:
            ready, _, _ = select.select([pidfd, commands.fd], [], [])
            if commands.fd in ready or commands.buffer:
                command = commands.next(block=False)
                if commands.eof or (command or {}).get("cmd") == "kill":
                    try:
                        os.killpg(pid, signal.SIGKILL)
                    except OSError:
                        pass
            if pidfd in ready:
                try:  # what the job left in its group goes first: until reaped, its pid is not reused
                    os.killpg(pid, signal.SIGKILL)
                except OSError:
                    pass
                _, status = os.waitpid(pid, 0)
                if os.WIFSIGNALED(status):
                    return {"signal": os.WTERMSIG(status)}
                return {"exit_code": os.WEXITSTATUS(status)}
    finally:
        os.close(pidfd)


def kill_everything_else(own_pid_namespace: bool) -> bool:
    """Kill what the job left running (in our own pid namespace: every process but init and us);
    return False if some process survived."""
    if not own_pid_namespace:  # its process group was killed before it was reaped
        return True
    for _ in range(200):  # a fork bomb may race the first rounds; a loaded machine is slow to reap
        others = [int(p) for p in os.listdir("/proc") if p.isdigit() and int(p) not in (1, os.getpid())
                  and not _is_zombie(p)]
        if not others:
            return True
        try:
            os.kill(-1, signal.SIGKILL)  # all we may signal, except init and ourselves
        except ProcessLookupError:
            pass
        time.sleep(0.01)
    return False


def _is_zombie(pid: str) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            return handle.read().rsplit(b")", 1)[1].split()[0] == b"Z"
    except (OSError, IndexError):
        return True


def remove_ipc_objects() -> None:
    """Remove System V shared memory, queues and semaphores a job created (they outlive processes)."""
    for kind, call in (("shm", LIBC.shmctl), ("msg", LIBC.msgctl), ("sem", LIBC.semctl)):
        try:
            lines = open(f"/proc/sysvipc/{kind}").read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            ident = int(line.split()[1])
            call(ident, 0, IPC_RMID, None) if kind == "sem" else call(ident, IPC_RMID, None)


def empty(directory: str, mounts: list[str]) -> bool:
    """Remove everything inside `directory`, whatever permissions a job set, except the read-only mounts
    and the directories leading to them (a course under /tmp is mounted there); return True if done."""
    holds_mount = lambda path: any(m == path or m.startswith(path + "/") for m in mounts)  # noqa: E731
    if not os.path.isdir(directory):
        return True
    stack = [directory]
    while stack:  # unlock every directory first (iteratively: a job may nest thousands)
        current = stack.pop()
        try:
            os.chmod(current, 0o700) if current != directory and not holds_mount(current) else None
        except OSError:
            pass  # not ours (made by bubblewrap): its own mode lets us in
        try:
            stack += [e.path for e in os.scandir(current) if e.is_dir(follow_symlinks=False) and not holds_mount(e.path)]
        except OSError:
            pass
    try:
        for entry in os.scandir(directory):
            if holds_mount(entry.path):
                continue
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path, ignore_errors=True)
            else:
                os.unlink(entry.path)
        return all(holds_mount(os.path.join(directory, name)) for name in os.listdir(directory))
    except (OSError, RecursionError):
        return False


def fork_job(job: dict, control_fd: int, message_fd: int, shell) -> int | None:
    """Return the pid of the forked job, retrying while the process limit is exhausted."""
    for _ in range(100):
        try:
            pid = os.fork()
        except BlockingIOError:
            time.sleep(0.1)
            continue
        if pid == 0:
            start_job(job, control_fd, message_fd, shell)
        return pid
    return None


def main() -> None:
    control_fd = int(os.environ["AUTOGRADER_CONTROL_FD"])
    message_fd = int(os.environ["AUTOGRADER_MESSAGE_FD"])
    LIBC.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
    commands = Commands()
    setup = commands.next() or {}
    started = time.monotonic()
    runner.preload(setup.get("preload", []))
    shell = runner.make_warm_shell()
    gc.collect()
    gc.freeze()  # the preloaded heap is never scanned again: a forked job does not copy its pages for that
    own_pid_namespace = bool(setup.get("own_pid_namespace"))
    workdir, wipe, mounts = setup.get("workdir", os.getcwd()), setup.get("wipe", []), setup.get("mounts", [])
    reply(control_fd, "ready", preload_s=round(time.monotonic() - started, 3))
    while (command := commands.next()) is not None:
        if command.get("cmd") != "run":
            continue
        job = {**command["job"], "workdir": workdir, "own_pid_namespace": own_pid_namespace}
        pid = fork_job(job, control_fd, message_fd, shell)
        ended = supervise(pid, commands) if pid else {"exit_code": 255, "reason": "could not fork"}
        unclean = [] if kill_everything_else(own_pid_namespace) else ["processes survived"]
        unclean += [f"{directory} could not be emptied" for directory in wipe if not empty(directory, mounts)]
        os.makedirs(workdir, exist_ok=True)
        if own_pid_namespace:
            remove_ipc_objects()
        reply(control_fd, "job-done", **ended, unclean=unclean)
        if commands.eof or unclean:  # what cannot be cleaned ends the sandbox: the next job gets a new one
            break
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
