"""Warm sandboxes: submissions forked one after another from one sandbox must not see each other."""
import dataclasses
import json
import secrets
import time

import pytest

from autograder.protocol import JobProtocol

from autograder.sandbox import bubblewrap_available
from autograder.warm import warm_sandbox

pytestmark = pytest.mark.skipif(not bubblewrap_available(), reason="bubblewrap cannot run here")

FIRST_STUDENT = """
import builtins, os, subprocess, sys, torch, numpy
secret_global = 42
torch.allclose = lambda *a, **k: True
numpy.testing.assert_allclose = lambda *a, **k: None
open('left_in_work', 'w').write('x')
open('/tmp/left_in_tmp', 'w').write('x')
open('/dev/shm/left_in_shm', 'w').write('x')
open('/home/student/left_in_home', 'w').write('x')
subprocess.Popen(['sleep', '300'], start_new_session=True)
os.makedirs('locked/inner')
os.chmod('locked', 0)
"""

SECOND_STUDENT = """
import builtins, json, os, torch, numpy
others = [p for p in os.listdir('/proc') if p.isdigit() and int(p) not in (1, os.getpid(), os.getppid())]
print(json.dumps({
    "global": 'secret_global' in globals(),
    "allclose": torch.allclose(torch.zeros(1), torch.ones(1)),
    "isinstance": isinstance(1, str),
    "files": [os.path.exists(p) for p in ('left_in_work', 'locked', '/tmp/left_in_tmp', '/dev/shm/left_in_shm', '/home/student/left_in_home')],
    "processes": others,
    "work_writable": os.access('.', os.W_OK),
}))
"""


def run_cells(warm, *sources: str) -> list[dict]:
    """Run cells as one job in `warm`; return the job's messages (checked by the job protocol)."""
    steps = [{"id": f"cell-{i}", "kind": "cell", "source": s, "timeout": 30} for i, s in enumerate(sources)]
    protocol = JobProtocol(secrets.token_hex(4), [step["id"] for step in steps])
    run = warm.run({"id": protocol.job_id, "lesson": "none", "steps": steps, "files": [], "seed": 0}, {})
    messages = []
    while (line := run.next_line(time.monotonic() + 60)) is not None:
        kind, payload = protocol.accept(line)
        messages.append({"type": kind, **(dataclasses.asdict(payload) if kind == "end" else {})})
    run.finish()
    assert run.ended.get("type") == "job-done" or "kill" in sources[-1], f"the sandbox ended: {run.ended}"
    assert warm.alive or "kill" in sources[-1], "the server could not clean up after the job"
    return messages


def cell_ends(messages: list[dict]) -> list[dict]:
    return [m for m in messages if m.get("type") == "end"]


@pytest.fixture()
def warm(config):
    box, _ = warm_sandbox(config, "warm-test", ("torch", "numpy"), ())
    return box


def test_second_submission_sees_nothing_of_the_first(warm):
    first = cell_ends(run_cells(warm, FIRST_STUDENT, "import builtins\nbuiltins.isinstance = lambda *a: True"))
    assert first[0]["status"] == "ok", first[0].get("error")
    second = cell_ends(run_cells(warm, SECOND_STUDENT))
    seen = json.loads(second[0]["output"])
    assert seen == {"global": False, "allclose": False, "isinstance": False, "files": [False] * 5,
                    "processes": [], "work_writable": True}


def test_a_job_finds_what_an_optimiser_imports_already_loaded(warm):
    """torch imports torch._dynamo (about 1 s) when a notebook makes its first optimiser; the sandbox imports it
    once, so no student's job pays it."""
    cell = "import sys, torch\nprint('torch._dynamo' in sys.modules)\ntorch.optim.SGD([torch.zeros(1)], lr=1.0)"
    ended = cell_ends(run_cells(warm, cell))[0]
    assert ended["status"] == "ok", ended.get("error")
    assert ended["output"].split()[0] == "True"


def test_server_memory_is_out_of_reach(warm):
    cell = "import os\ntry:\n open(f'/proc/{os.getppid()}/mem', 'rb').read(1)\n print('read')\nexcept OSError as e:\n print(type(e).__name__)"
    assert cell_ends(run_cells(warm, cell))[0]["output"].strip() in ("PermissionError", "FileNotFoundError")


def test_killing_the_server_costs_one_run_then_a_fresh_sandbox_starts(config, warm):
    run_cells(warm, "import os, signal, time\nos.kill(os.getppid(), signal.SIGKILL)\ntime.sleep(5)")
    assert not warm.alive
    again, seconds = warm_sandbox(config, "warm-test", ("torch", "numpy"), ())
    assert again is not warm and seconds > 0
    assert cell_ends(run_cells(again, "x = 1"))[0]["status"] == "ok"


def test_a_sandbox_killed_from_outside_costs_the_student_nothing(config, lesson, tmp_path):
    """An external kill (OOM killer, an operator) of the sandbox mid-notebook: that step is run again in a
    fresh sandbox instead of being blamed on the student."""
    import os
    import signal
    import threading
    import time

    from autograder import warm as warm_module
    from autograder.grade import grade_submission
    from tests.conftest import make_submission

    import nbformat

    path = make_submission(lesson, tmp_path, edit=lambda nb: nb.cells.insert(
        1, nbformat.v4.new_code_cell("import time\ntime.sleep(2)")))
    killed = []

    def kill_the_sandbox_once_a_job_runs():
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            boxes = [w for w in warm_module._warm.values() if w.jobs]
            if boxes:
                time.sleep(0.5)  # the job is in its sleeping cell
                os.killpg(boxes[0].box.process.pid, signal.SIGKILL)
                killed.append(boxes[0])
                return
            time.sleep(0.05)

    warm_module.close_all()
    killer = threading.Thread(target=kill_the_sandbox_once_a_job_runs)
    killer.start()
    result = grade_submission(path, config, seed=3)
    killer.join()
    assert killed and result.timings["sandbox_runs"] >= 2
    assert result.score == result.max_score, [(e.exercise, e.feedback) for e in result.exercises if e.score < e.max_score]
