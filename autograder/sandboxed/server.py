"""The warm server inside a sandbox: imports the heavy modules once, then forks a fresh interpreter
state for every submission (the fork server of issue 7).

It talks to the grading process over one control socket ($AUTOGRADER_CONTROL_FD, a SOCK_SEQPACKET
socket: one JSON object per packet): first the set-up {"preload", "own_pid_namespace", "workdir", "wipe",
"mounts", "job_file"}, then {"cmd": "run", "job": <id>, "cpu_seconds"} per submission and, while a job
runs, {"cmd": "kill"}. Replies: {"type": "ready"}, {"type": "started"} carrying the read end of a pipe
made for that job alone (SCM_RIGHTS), {"type": "job-done", "exit_code" | "signal"} as soon as the job
has ended, and {"type": "cleaned", "unclean"} once everything it left is gone (the grading process
judges in between, and sends no job before it has read "cleaned").
Every forked job closes the control socket first, so no student code can forge a reply or a command.

The server never holds student code: the job (cells, probe inputs) is read from `job_file` by the forked
process, and the writable places are emptied by another forked process, so nothing of one submission is
left in the memory the next one is forked from. Between two jobs every other process is killed, every
writable place (home, work dir, /tmp, /dev/shm, /dev/mqueue) is emptied and System V IPC objects are
removed. This process is not dumpable: a job running under the same uid cannot read or write its
memory through ptrace or /proc."""
from __future__ import annotations

import ctypes
import gc
import json
import os
import resource
import select
import shutil
import signal
import socket
import sys
import time
import traceback

from . import runner

PR_SET_DUMPABLE = 4
IPC_RMID = 0
LIBC = ctypes.CDLL(None, use_errno=True)


def receive(control: socket.socket) -> dict | None:
    """Return the next command (an empty dict for garbage), None once the grading process is gone."""
    try:
        packet = control.recv(1 << 16)
    except OSError:
        return None
    if not packet:
        return None
    try:
        command = json.loads(packet)
    except ValueError:
        return {}
    return command if isinstance(command, dict) else {}


def reply(control: socket.socket, kind: str, fds: tuple[int, ...] = (), **fields) -> None:
    data = json.dumps({"type": kind, **fields}).encode()
    socket.send_fds(control, [data], list(fds)) if fds else control.send(data)


def start_job(job: dict, control: socket.socket, read_end: int, write_end: int, shell) -> None:
    """In the forked child: shed the server's descriptors and privileges, then run the job; never returns."""
    try:
        control.close()
        os.close(read_end)
        null = os.open("/dev/null", os.O_RDWR)
        for fd in (0, 1, 2):  # not the server's stdout/stderr: their flags are shared with it
            os.dup2(null, fd)
        os.close(null)
        os.setsid()
        LIBC.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0)  # its own /proc entries stay readable to itself
        with open("/proc/self/oom_score_adj", "w") as adjust:  # out of memory, the job goes, not the server
            adjust.write("500")
        cpu = int(job.get("cpu_seconds", 600))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
        os.chdir(job["workdir"])
        channel = runner.MessageChannel(write_end, job["id"])
        try:
            with open(job["job_file"], "rb") as handle:
                work = json.load(handle)
            runner.run_job({**work, **job}, channel, shell)
        except BaseException as exc:  # the runner itself failed (student code can break anything here)
            channel.send("runner-error", summary="".join(traceback.format_exception(exc))[-2000:])
            os._exit(runner.RUNNER_FAILED)
    finally:
        os._exit(0)


def supervise(pid: int, control: socket.socket) -> dict:
    """Wait for the job to end, killing it on a "kill" command or when the grading process is gone;
    return how it ended."""
    pidfd = os.pidfd_open(pid)
    try:
        while True:
            ready, _, _ = select.select([pidfd, control], [], [])
            if control in ready:
                command = receive(control)
                if command is None or command.get("cmd") == "kill":
                    try:
                        os.killpg(pid, signal.SIGKILL)
                    except OSError:
                        pass
                    if command is None:
                        control.close()
                        os._exit(0)  # nobody to report to; bubblewrap takes the namespace down with us
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


def fork(child=None) -> int | None:
    """Return the pid of a forked process running `child()` (which must not return), retrying while the
    process limit is exhausted; None if it stays exhausted."""
    for _ in range(100):
        try:
            pid = os.fork()
        except BlockingIOError:
            time.sleep(0.1)
            continue
        if pid == 0:
            child()
        return pid
    return None


def clean(wipe: list[str], mounts: list[str]) -> list[str]:
    """Empty the writable places in a forked process (their names never enter this heap); return what
    could not be emptied."""
    def child():
        failed = [index for index, directory in enumerate(wipe) if not empty(directory, mounts)]
        os._exit(sum(1 << index for index in failed) & 0xFF)

    pid = fork(child)
    if pid is None:
        return ["no process left to clean with"]
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    if code < 0:
        return [f"the cleaner was killed by signal {-code}"]
    return [f"{directory} could not be emptied" for index, directory in enumerate(wipe) if code & (1 << index)]


def main() -> None:
    control = socket.socket(fileno=int(os.environ["AUTOGRADER_CONTROL_FD"]))
    LIBC.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
    setup = receive(control) or {}
    started = time.monotonic()
    runner.preload(setup.get("preload", []))
    shell = runner.make_warm_shell()
    gc.collect()
    gc.freeze()  # the preloaded heap is never scanned again: a forked job does not copy its pages for that
    own_pid_namespace = bool(setup.get("own_pid_namespace"))
    workdir, wipe, mounts = setup.get("workdir", os.getcwd()), setup.get("wipe", []), setup.get("mounts", [])
    reply(control, "ready", preload_s=round(time.monotonic() - started, 3))
    while (command := receive(control)) is not None:
        if command.get("cmd") != "run":
            continue
        job = {"id": str(command.get("job", "")), "cpu_seconds": command.get("cpu_seconds", 600),
               "job_file": setup.get("job_file", ""), "workdir": workdir, "own_pid_namespace": own_pid_namespace}
        read_end, write_end = os.pipe()  # this job's own message channel: no other job ever holds it
        pid = fork(lambda: start_job(job, control, read_end, write_end, shell))
        os.close(write_end)
        if pid:
            reply(control, "started", fds=(read_end,))
        os.close(read_end)
        ended = supervise(pid, control) if pid else {"exit_code": 255, "reason": "could not fork"}
        reply(control, "job-done", **ended)  # the grading process judges while we clean up
        unclean = [] if kill_everything_else(own_pid_namespace) else ["processes survived"]
        unclean += clean(wipe, mounts)
        os.makedirs(workdir, exist_ok=True)
        if own_pid_namespace:
            remove_ipc_objects()
        reply(control, "cleaned", unclean=unclean)  # read before the next job is sent
        if unclean:  # what cannot be cleaned ends the sandbox: the next job gets a new one
            break
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
