"""Grades are reproducible, survive kill -9 anywhere in a batch, and the unsandboxed fallback is loud."""
from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time

import psutil
import pytest

from autograder.batch import BatchItem, grade_many
from autograder.course import get_lesson
from autograder.democlass import make_course
from autograder.gradebook import recorded_scores
from tests.conftest import ROOT, make_submission

RUNS = 10


def without_timings(result) -> str:
    data = result.to_json()
    data.pop("timings")
    return json.dumps(data, sort_keys=True)


def test_same_seed_same_grade_and_every_seed_gives_the_reference_full_marks(lesson, tmp_path):
    """Ten grades of one submission with one recorded seed are identical; ten other seeds all give 24/24
    (the reference: hidden inputs never make a correct answer fail). Graded as a class is: batch, 2 workers."""
    reference = make_submission(lesson, tmp_path / "reference")
    mixed = make_submission(lesson, tmp_path / "mixed", {"gradient_loop": "def train_f(x, y, learning_rate=0.01, "
                            "number_of_iterations=50):\n  global p\n  p = torch.rand((1,), requires_grad=True)\n",
                            "identity_tensor": "I_tensor = torch.eye(3) + 1e-3 * torch.rand(3, 3)"})
    items = [BatchItem(f"same-{i}", mixed, "hands_on_dl", 777) for i in range(RUNS)]
    items += [BatchItem(f"seed-{seed}", reference, "hands_on_dl", seed) for seed in range(1000, 1000 + RUNS)]
    outcomes = grade_many(items, ROOT, workers=2)
    assert all(o.result is not None for o in outcomes.values()), [o.error for o in outcomes.values()]
    same = {without_timings(outcomes[f"same-{i}"].result) for i in range(RUNS)}
    assert len(same) == 1
    first = outcomes["same-0"].result
    assert first.seed == 777 and 0 < first.score < 24
    scores = {key: o.result.score for key, o in outcomes.items() if key.startswith("seed-")}
    assert set(scores.values()) == {24.0}, scores
    assert len({o.result.seed for k, o in outcomes.items() if k.startswith("seed-")}) == RUNS


def descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def test_kill_9_anywhere_in_a_batch_of_30_grades_each_submission_exactly_once(tmp_path):
    """kill -9 of sandboxes, of a grading worker, then of the whole autograde command, at random moments;
    re-running completes the class: every submission graded once, its result.json and gradebook agree."""
    root = make_course(tmp_path / "course", ROOT)
    lesson = get_lesson(root, "hands_on_dl")
    students = [f"s{i:02d}" for i in range(30)]
    for student in students:  # light submissions: the released notebook, unanswered
        folder = root / "submitted" / student / "hands_on_dl"
        folder.mkdir(parents=True)
        shutil.copyfile(lesson.release_notebook, folder / "hands_on_dl.ipynb")
    command = [sys.executable, "-m", "autograder.cli", "autograde", "hands_on_dl", "--workers", "2", "--seed", "3"]
    results = lambda: {p.parent.parent.name: p for p in root.glob("autograded/*/hands_on_dl/result.json")}
    first_seen: dict[str, int] = {}
    rewritten: set[str] = set()

    def watch() -> int:
        for student, path in results().items():
            try:
                mtime = path.stat().st_mtime_ns
            except FileNotFoundError:
                continue
            if first_seen.setdefault(student, mtime) != mtime:
                rewritten.add(student)
        return len(first_seen)

    def wait_for(count: int, process: subprocess.Popen, limit: float = 240) -> None:
        deadline = time.monotonic() + limit
        while watch() < count and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)

    chance = random.Random(int(os.environ.get("ADVERSARIAL_SEED", "0")) or None)
    start = lambda: subprocess.Popen(command, cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     start_new_session=True)
    run = start()
    killed = []
    wait_for(2, run)
    for _ in range(2):  # whole sandboxes (bwrap and its pid namespace), at random moments
        time.sleep(chance.uniform(0.2, 2.0))
        victims = [p for p in descendants(run.pid) if p.name() == "bwrap"]
        if victims:
            chance.choice(victims).kill()
            killed.append("sandbox")
        wait_for(len(first_seen) + 2, run, limit=120)
    time.sleep(chance.uniform(0.0, 1.5))
    assert run.poll() is None, "autograde ended before it could be killed"
    os.killpg(run.pid, signal.SIGKILL)  # the whole command
    run.wait()
    assert killed, "no sandbox to kill was found"
    assert 1 <= len(first_seen) < len(students)
    run = start()  # a grading worker killed: its pool breaks, what it had not finished stays pending
    workers, deadline = [], time.monotonic() + 120
    while not workers and run.poll() is None and time.monotonic() < deadline:  # as soon as the pool has one
        watch()
        workers = [p for p in descendants(run.pid)  # forked by the pool's fork server, a child of the command
                   if p.ppid() != run.pid and "multiprocessing.forkserver" in " ".join(p.cmdline())]
        time.sleep(0.05)
    time.sleep(chance.uniform(0.0, 1.0))  # starting up, or grading
    if workers and run.poll() is None:
        with contextlib.suppress(psutil.NoSuchProcess):
            chance.choice(workers).kill()
            killed.append("worker")
    run.wait()
    watch()
    for _ in range(3):
        again = subprocess.Popen(command, cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        while again.poll() is None:
            watch()
            time.sleep(0.1)
        watch()
        if again.returncode == 0:
            break
    assert again.returncode == 0, again.stderr.read()[-2000:]
    assert "worker" in killed, "no grading worker was found to kill"
    assert sorted(first_seen) == students and not rewritten, rewritten
    for student in students:
        state = json.loads(results()[student].read_text())
        assert state["result"] is not None, state
        wanted = {f"test_{e['id']}": e["score"] for e in state["result"]["exercises"]}
        assert recorded_scores(root, "hands_on_dl", student) == pytest.approx(wanted), student


def test_unsandboxed_fallback_grades_and_says_so_in_every_result(lesson, tmp_path):
    """Where bubblewrap cannot run, `allow_unsandboxed = true` still grades, and the result says so twice:
    the sandbox field and a note the student and the instructor see."""
    root = make_course(tmp_path / "course", ROOT)
    pyproject = root / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace("[tool.autograder]\n", "[tool.autograder]\nallow_unsandboxed = true\n"))
    path = make_submission(lesson, tmp_path / "sub", {"identity_tensor": "I_tensor = torch.eye(2)"})
    out = tmp_path / "out.json"
    done = subprocess.run([sys.executable, "-m", "autograder.cli", "grade", str(path), "--json", str(out)],
                          cwd=root, capture_output=True, text=True, timeout=400)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(out.read_text())
    assert result["score"] == 23 and result["sandbox"].startswith("none (UNSANDBOXED")
    assert result["notes"][0].startswith("UNSANDBOXED:")
    assert "UNSANDBOXED" in done.stdout
