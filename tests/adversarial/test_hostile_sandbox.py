"""Everything from the sandbox is hostile (issue 14): each mechanism that once let one submission break
grading, or reach the next submission graded in the same warm sandbox, run through the real execution
path (`execute`, warm sandboxes) with cells written as an attacker would."""
import textwrap
import time

import pytest

from autograder import warm as warm_module
from autograder.execute import Step, StepId, execute
from autograder.sandbox import bubblewrap_available

pytestmark = pytest.mark.skipif(not bubblewrap_available(), reason="bubblewrap cannot run here")

PRELOAD = ("numpy",)  # light: these attacks need no torch
MESSAGE_FD = "[int(f) for f in __import__('os').listdir('/proc/self/fd') if int(f) >= 1000][0]"
JOB_ID = "__import__('json').load(open('/submission/.autograder-job.json'))['id']"


def run(config, *sources, files=None, **limits):
    """Execute cells as one submission; return (execution, the warm sandbox it ended in)."""
    config = config.with_limits(**{"notebook_timeout": 60, "cell_timeout": 10, **limits})
    steps = [Step(StepId.cell(i), source=textwrap.dedent(s)) for i, s in enumerate(sources)]
    job = {"lesson": "none", "files": sorted(files or {}), "seed": 0, "output_cap": 65536,
           "output_total": config.limits.output_total_kb << 10}
    execution = execute(steps, job, files or {}, config, PRELOAD, ())
    return execution, next(iter(warm_module._warm.values()), None)


def statuses(execution) -> list[str]:
    return [execution.cell(i).status for i in range(len(execution.outcomes))]


def output(execution, index: int) -> str:
    return execution.cell(index).output


def test_a_malformed_message_ends_the_job_its_sandbox_and_nothing_else(config, tmp_path):
    """Item 1: a malformed "end" (seconds not a number) with a job left running to spy on the next
    submission. The step is skipped as interference, the notebook re-run without it in a fresh sandbox,
    and the next submission never meets the orphan."""
    attack = f"""
        import json, os, threading, time
        fd, job = {MESSAGE_FD}, {JOB_ID}
        def spy():
            while True:
                seen = os.listdir('/submission')
                os.write(fd, (json.dumps({{"type": "end", "job": job, "id": "cell-2", "status": "ok",
                                           "seconds": 0, "output": repr(seen)}}) + "\\n").encode())
                time.sleep(0.2)
        threading.Thread(target=spy, daemon=True).start()
        os.write(fd, (json.dumps({{"type": "end", "job": job, "id": "cell-1", "status": "ok",
                                   "seconds": "not-a-number"}}) + "\\n").encode())
        time.sleep(3)
    """
    _, attacked = run(config, "pass")  # the warm sandbox the attack will run in
    execution, rerun = run(config, "x = 1", attack, "print('after', x)")
    assert attacked.broken and not attacked.box.alive and rerun is not attacked
    assert statuses(execution) == ["ok", "interfered", "ok"]
    assert "interfered with the grader" in execution.cell(1).message
    assert output(execution, 2).strip() == "after 1" and len(execution.runs) == 2
    weights = tmp_path / "fashion_model.pth"
    weights.write_bytes(b"the next student's weights")
    nxt, second = run(config, "import os\nprint(sorted(os.listdir('/submission')))", files={"fashion_model.pth": weights})
    assert statuses(nxt) == ["ok"] and "fashion_model.pth" in output(nxt, 0)
    assert second is rerun and second.jobs == 2


def test_a_forged_done_cannot_hold_grading_past_its_budget(config):
    """Item 3: "done" forged early, SIGINT ignored and a thread that keeps talking: the host decides when
    the job is over, within the notebook's budget."""
    attack = f"""
        import json, os, signal, threading, time
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        fd, job = {MESSAGE_FD}, {JOB_ID}
        def chatter():
            while True:
                os.write(fd, (json.dumps({{"type": "start", "job": job, "id": "cell-1"}}) + "\\n").encode())
                time.sleep(1)
        os.write(fd, (json.dumps({{"type": "done", "job": job}}) + "\\n").encode())
        threading.Thread(target=chatter, daemon=True).start()
        while True:
            time.sleep(1)
    """
    started = time.monotonic()
    execution, _ = run(config, attack, "y = 2", notebook_timeout=30)
    assert statuses(execution) == ["interfered", "ok"]
    assert time.monotonic() - started < 30


def test_a_job_that_ignores_its_interrupt_and_keeps_talking_is_stopped_at_its_deadline(config):
    """The quiet-time timer of old was reset by every message; now each step has a deadline."""
    attack = """
        import signal, sys, time
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        while True:
            print('still here'); sys.stdout.flush(); time.sleep(0.5)
    """
    started = time.monotonic()
    execution, _ = run(config, attack, "z = 3", cell_timeout=3, notebook_timeout=40)
    assert statuses(execution) == ["timeout", "ok"] and time.monotonic() - started < 25


def test_pipe_flags_and_size_do_not_reach_the_next_job(config):
    """Item 4: O_NONBLOCK and a shrunken pipe on the job's message descriptor once made the next
    student's messages fail. Each job has its own pipe now; the attacker's own messages still arrive."""
    attack = f"""
        import fcntl, os
        fd = {MESSAGE_FD}
        fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) | os.O_NONBLOCK)
        fcntl.fcntl(fd, 1031, 4096)  # F_SETPIPE_SZ
        print('x' * 60000)
    """
    execution, _ = run(config, attack, "print('y' * 60000)")
    assert statuses(execution) == ["ok", "ok"]
    nxt, _ = run(config, *["print('z' * 60000)"] * 15)
    assert statuses(nxt) == ["ok"] * 15 and all(len(output(nxt, i)) > 60000 for i in range(15))


def test_message_queues_and_keyrings_do_not_outlive_a_job(config):
    """Items 5 and 6: a POSIX message queue left by one submission was read by the next; a kernel key
    outlived grading. Queues are emptied between jobs; keyring calls (and new user namespaces) are
    refused by seccomp."""
    attack = """
        import ctypes, errno, os
        libc = ctypes.CDLL(None, use_errno=True)
        rt = ctypes.CDLL('librt.so.1', use_errno=True)
        queue = rt.mq_open(b'/leak', os.O_CREAT | os.O_RDWR, 0o600, None)
        print('queue', queue >= 0 and rt.mq_send(queue, b'answers', 7, 0) == 0)
        key = libc.syscall(248, b'user', b'leak', b'answers', 7, -4)  # add_key to the user keyring
        print('key', key, errno.errorcode.get(ctypes.get_errno()))
        print('userns', libc.unshare(0x10000000), errno.errorcode.get(ctypes.get_errno()))  # CLONE_NEWUSER
    """
    first, box = run(config, attack)
    assert "queue True" in output(first, 0) and "key -1 EPERM" in output(first, 0)
    assert "userns -1 EPERM" in output(first, 0)
    spy = """
        import ctypes, os
        rt = ctypes.CDLL('librt.so.1', use_errno=True)
        libc = ctypes.CDLL(None, use_errno=True)
        print('queues', os.listdir('/dev/mqueue'), rt.mq_open(b'/leak', os.O_RDONLY, 0, None))
        print('keyring', libc.syscall(250, 0, -4, 1))  # keyctl(KEYCTL_GET_KEYRING_ID, @u, create)
    """
    second, again = run(config, spy)
    assert again is box, "the same warm sandbox serves the next submission"
    assert "queues [] -1" in output(second, 0) and "keyring -1" in output(second, 0)


def test_memory_is_limited_for_the_whole_sandbox(config):
    """Item 9: RLIMIT_DATA is per process; four children each under it held 6 GiB together. The sandbox's
    cgroup caps them together: at most one child of 400 MB fits in 600 MB."""
    attack = """
        import os, time
        children = []
        for _ in range(4):
            pid = os.fork()
            if pid == 0:
                data = b'x' * (400 << 20)
                time.sleep(4)
                os._exit(0)
            children.append(pid)
        survived = sum(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0 for pid in children)
        print('survived', survived)
    """
    execution, box = run(config, attack, memory_mb=600)
    if box.cgroup is None:
        pytest.skip("no writable cgroup here: limits are per process (every result says so)")
    assert statuses(execution) == ["ok"], execution.outcomes
    assert int(output(execution, 0).split()[-1]) <= 1


def test_output_is_capped_per_notebook_not_only_per_cell(config):
    """Item 10: 30,000 cells of 64 KiB each grew the grading process to 2 GiB. What is kept is capped
    for the whole notebook."""
    execution, _ = run(config, *["print('x' * 65536)"] * 200, output_total_kb=256)
    kept = sum(len(o.output) for o in execution.outcomes.values())
    assert kept < (256 << 10) + 1000 and set(statuses(execution)) == {"ok"}


def test_the_previous_jobs_code_is_not_in_the_memory_the_next_one_is_forked_from(config):
    """The job's cells never pass through the warm server, so its freed heap holds none of them."""
    secret_a, secret_b = "PREVIOUS-STUDENT-", "CODE-4f1c9a7e2b"
    first, box = run(config, f"answer = '{secret_a}' + '{secret_b}'\nprint(len(answer))")
    scan = f"""
        import re
        found = 0
        maps = open('/proc/self/maps').read().splitlines()
        with open('/proc/self/mem', 'rb', buffering=0) as mem:
            for line in maps:
                fields = line.split()
                if 'rw' not in fields[1] or (len(fields) > 5 and fields[5].startswith('/')):
                    continue
                start, end = (int(x, 16) for x in fields[0].split('-'))
                try:
                    mem.seek(start)
                    chunk = mem.read(end - start)
                except OSError:
                    continue
                at = chunk.find({secret_a.encode()!r})
                while at >= 0:
                    found += chunk[at + {len(secret_a)}: at + {len(secret_a) + len(secret_b)}] == {secret_b.encode()!r}
                    at = chunk.find({secret_a.encode()!r}, at + 1)
        print('found', found)
    """
    second, again = run(config, scan)
    assert again is box and output(second, 0).split() == ["found", "0"], output(second, 0)
