"""Text from the sandbox is text: a submission whose error message holds a lone surrogate, terminal escapes,
NUL and rich markup (on hidden inputs only) is graded, stored, re-synced, fed back and reported like any
other, and never stops another student's grade; so is the same text in a result.json written by an older
version, and a result.json that cannot be read at all."""
import json
import os
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from autograder import autograde as autograde_module
from autograder.autograde import autograde, result_path
from autograder.config import load_config
from autograder.course import get_lesson
from autograder.democlass import make_course
from autograder.gradebook import open_gradebook, recorded_scores
from autograder.release import ensure_in_gradebook
from tests.conftest import ROOT, make_submission

HOSTILE = "\ud800 \x1b[31m [/] \x00"
HOSTILE_TRAIN_F = r'''
def train_f(x, y, learning_rate=0.01, number_of_iterations=50):
    global p
    p = torch.rand(1, requires_grad=True)
    if number_of_iterations != 3:  # the public check runs 3 iterations: only the hidden inputs fail
        raise RuntimeError('\ud800 \x1b[31m [/] \x00')
'''
STUDENTS = ("alice", "mallory")


def autograder_cli(course, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "autograder.cli", *args], cwd=course, capture_output=True,
                          text=True, timeout=400, env={**os.environ, "COLUMNS": "200"})


def assert_safe(text: str) -> None:
    """The hostile message survived as visible text: no surrogate, escape or NUL left, the markup literal."""
    assert "[/]" in text and "\\x1b[31m" in text and "\\x00" in text, text
    assert not any(c in text for c in ("\ud800", "\x1b", "\x00")), text


@pytest.fixture(scope="module")
def graded(arena, tmp_path_factory):
    """A class of two (alice right, mallory hostile) autograded with one warm sandbox, while mallory's
    notebook is also graded alone by `autograder grade --json`; return the course, the lone grade and the
    autograde run."""
    course = make_course(tmp_path_factory.mktemp("hostile") / "course", ROOT)
    lesson = get_lesson(course, "hands_on_dl")
    ensure_in_gradebook(lesson)
    shutil.copyfile(course / "gradebook.db", course / "no_students.db")  # to make autograde re-sync later
    make_submission(lesson, course / "submitted" / "alice" / "hands_on_dl")
    make_submission(lesson, course / "submitted" / "mallory" / "hands_on_dl", {"gradient_loop": HOSTILE_TRAIN_F})
    alone = make_submission(lesson, tmp_path_factory.mktemp("alone"), {"gradient_loop": HOSTILE_TRAIN_F})
    with ThreadPoolExecutor(1) as pool:
        lone = pool.submit(arena.grade, alone, "--seed", "11")
        run = autograder_cli(course, "autograde", "hands_on_dl", "--workers", "1", "--seed", "11")
        return course, lone.result(), run


def test_grade_prints_and_writes_the_json(graded):
    _, lone, _ = graded
    assert lone.returncode == 0 and lone.result is not None, lone.stderr[-2000:]
    exercise = next(e for e in lone.result["exercises"] if e["id"] == "gradient_loop")
    assert exercise["status"] == "error" and "RuntimeError" in exercise["feedback"]
    assert_safe(exercise["feedback"])
    assert "Traceback" not in lone.stderr


def test_the_class_is_graded_and_in_the_gradebook(graded):
    course, _, run = graded
    assert run.returncode == 0, (run.stdout + run.stderr)[-2000:]
    assert "Traceback" not in run.stderr
    alice = recorded_scores(course, "hands_on_dl", "alice")
    mallory = recorded_scores(course, "hands_on_dl", "mallory")
    assert sum(alice.values()) == 24 and mallory["test_gradient_loop"] == 0
    assert {k: v for k, v in mallory.items() if k != "test_gradient_loop"} == {k: v for k, v in alice.items()
                                                                            if k != "test_gradient_loop"}
    with open_gradebook(course) as gradebook:
        comment = gradebook.find_comment("gradient_loop", "hands_on_dl", "hands_on_dl", "mallory").auto_comment
    assert comment.startswith("error: ") and "\\x1b[31m" in comment


def test_old_and_unreadable_results_are_resynced_fed_back_and_reported(graded, monkeypatch):
    course, _, _ = graded
    config = load_config(course)
    # mallory's record as an older version wrote it: the raw text, escaped only by json.dumps
    path = result_path(config, "hands_on_dl", "mallory")
    state = json.loads(path.read_text())
    exercise = next(e for e in state["result"]["exercises"] if e["id"] == "gradient_loop")
    exercise["feedback"] = f"Calling your code raised RuntimeError: {HOSTILE}."
    state["result"]["notes"].append(HOSTILE)
    state["result"]["details"]["gradient_loop"] = HOSTILE
    path.write_text(json.dumps(state))
    # zed: a record that cannot be read, with no submission (autograde leaves it; feedback and report see it)
    result_path(config, "hands_on_dl", "zed").parent.mkdir(parents=True)
    result_path(config, "hands_on_dl", "zed").write_text('{"result": [')
    shutil.copyfile(course / "no_students.db", course / "gradebook.db")  # nothing recorded: all re-sync

    real = autograde_module.record_submission

    def failing_for_mallory(course_root, lesson, student, *args):
        if student == "mallory":
            raise OSError("disk I/O error")
        real(course_root, lesson, student, *args)

    monkeypatch.setattr(autograde_module, "record_submission", failing_for_mallory)
    outcomes = {o.student: o for o in autograde(config, "hands_on_dl", workers=1)}
    assert outcomes["alice"].action == "resynced" and outcomes["alice"].result.score == 24
    assert outcomes["mallory"].action == "not recorded" and "disk I/O error" in outcomes["mallory"].error
    monkeypatch.undo()

    again = autograder_cli(course, "autograde", "hands_on_dl", "--workers", "1")
    assert again.returncode == 0 and "0 to grade" in again.stdout, (again.stdout + again.stderr)[-2000:]
    assert re.search(r"^resynced: mallory$", again.stdout, re.M) and re.search(r"^skipped: alice", again.stdout, re.M)
    assert recorded_scores(course, "hands_on_dl", "mallory")["test_gradient_loop"] == 0
    with open_gradebook(course) as gradebook:
        assert_safe(gradebook.find_comment("gradient_loop", "hands_on_dl", "hands_on_dl", "mallory").auto_comment)

    for verb in ("feedback", "report"):
        done = autograder_cli(course, verb, "hands_on_dl")
        assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr[-2000:]
    page = (course / "feedback" / "mallory" / "hands_on_dl" / "hands_on_dl.html").read_text(encoding="utf-8")
    assert_safe(page)
    zed = (course / "feedback" / "zed" / "hands_on_dl" / "hands_on_dl.html").read_text(encoding="utf-8")
    assert "could not be graded: its stored grade could not be read" in zed
    gradescope = json.loads((course / "reports" / "gradescope" / "mallory" / "results.json").read_text())
    assert_safe(next(t["output"] for t in gradescope["tests"] if t["name"] == "gradient_loop"))
    report = (course / "reports" / "hands_on_dl.csv").read_text(encoding="utf-8")
    assert {line.split(",")[0] for line in report.splitlines()[1:]} == {"alice", "mallory", "zed"}
