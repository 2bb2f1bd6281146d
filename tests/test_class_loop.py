"""The instructor's loop on a small class: collect, autograde (resumable, kill-safe), gradebook,
nbgrader export, feedback, report in a real browser, and the student's self-check."""
import csv
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from autograder.autograde import autograde
from autograder.collect import collect
from autograder.config import load_config
from autograder.course import get_lesson
from autograder.democlass import make_course
from autograder.feedback import write_feedback
from autograder.gradebook import recorded_scores
from autograder.report import write_report
from tests.conftest import ROOT, make_submission
from tests.test_nbgrader_native import leaks

STUDENTS = ("alice", "bob", "carol", "dave")


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """A course with four collected students: correct, untouched, not a notebook, one wrong answer."""
    root = make_course(tmp_path_factory.mktemp("course") / "course", ROOT)
    lesson = get_lesson(root, "hands_on_dl")
    staging = tmp_path_factory.mktemp("staging")
    make_submission(lesson, staging / "alice")
    (staging / "bob").mkdir()
    shutil.copyfile(lesson.release_notebook, staging / "bob" / "hands_on_dl.ipynb")
    (staging / "carol").mkdir()
    (staging / "carol" / "hands_on_dl.ipynb").write_text("{ this is not json")
    make_submission(lesson, staging / "dave", {"sqrt_b_cubed": "B_sqrt_cubed = B_tensor ** 3"})
    archive = staging / "lms.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for path in sorted(staging.glob("*/*")):
            zipped.write(path, f"{path.parent.name}_{path.name}")
        zipped.writestr("alice_old_attempt.ipynb", "{}")  # a duplicate: the newest wins, both reported
        zipped.writestr("README.txt", "instructions")  # not a submission file
    report = collect("hands_on_dl", archive, root, lesson.spec.submitted_files, roster={"alice", "bob", "carol"})
    assert sorted(report.imported) == list(STUDENTS)
    assert report.unknown_students == ["dave"] and len(report.duplicates) == 1
    assert any("carol" in line for line in report.unreadable) and report.unmatched == ["README.txt"]
    assert sorted(report.imported["alice"]) == ["fashion_model.pth", "hands_on_dl.ipynb", "mnist_model.pth"]
    return root


@pytest.fixture(scope="module")
def graded(course):
    config = load_config(course)
    return config, {o.student: o for o in autograde(config, "hands_on_dl", workers=2, seed=5)}


def test_every_submission_gets_an_outcome(graded):
    config, outcomes = graded
    assert [outcomes[s].action for s in STUDENTS] == ["graded"] * 4
    assert outcomes["alice"].result.score == 24
    assert outcomes["bob"].result.score < 24 and outcomes["carol"].result is None
    assert "not a notebook" in outcomes["carol"].error
    dave = {e.exercise: e for e in outcomes["dave"].result.exercises}
    assert dave["sqrt_b_cubed"].outcome == "failed" and outcomes["dave"].result.score == 23


def test_scores_are_in_nbgraders_gradebook_and_export(graded):
    config, _ = graded
    assert sum(recorded_scores(config.course_root, "hands_on_dl", "alice").values()) == 24
    assert recorded_scores(config.course_root, "hands_on_dl", "dave")["test_sqrt_b_cubed"] == 0
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    subprocess.run([Path(sys.executable).parent / "nbgrader", "export", "--to", "grades.csv"], cwd=config.course_root,
                   env=env, check=True, capture_output=True)
    rows = {r["student_id"]: float(r["score"]) for r in csv.DictReader(open(config.course_root / "grades.csv"))}
    assert rows == {"alice": 24.0, "bob": rows["bob"], "carol": 0.0, "dave": 23.0}


def test_executed_notebooks_are_written(graded):
    config, _ = graded
    executed = config.course_root / "autograded" / "alice" / "hands_on_dl" / "hands_on_dl.ipynb"
    nb = json.loads(executed.read_text())
    assert any(c.get("outputs") for c in nb["cells"] if c["cell_type"] == "code")


def test_rerun_grades_nothing_and_a_changed_submission_is_regraded(graded):
    config, first = graded
    again = {o.student: o for o in autograde(config, "hands_on_dl", workers=2, seed=6)}
    assert [again[s].action for s in STUDENTS] == ["skipped"] * 4
    assert again["alice"].result.score == first["alice"].result.score
    folder = config.course_root / "submitted" / "carol" / "hands_on_dl"
    shutil.copyfile(config.course_root / "release" / "hands_on_dl" / "hands_on_dl.ipynb", folder / "hands_on_dl.ipynb")
    third = {o.student: o for o in autograde(config, "hands_on_dl", workers=2)}
    assert third["carol"].action == "graded" and third["carol"].result is not None
    assert [third[s].action for s in ("alice", "bob", "dave")] == ["skipped"] * 3


def test_feedback_shows_scores_and_no_internals(graded):
    config, _ = graded
    pages = write_feedback(config, "hands_on_dl")
    assert len(pages) == 4
    dave = (config.course_root / "feedback" / "dave" / "hands_on_dl" / "hands_on_dl.html").read_text()
    assert "sqrt_b_cubed" in dave and "23 / 24" in dave
    hidden = get_lesson(config.course_root, "hands_on_dl").spec.hidden_inputs(5)
    assert leaks(config.course_root, pages) == []  # grader tracebacks, test names, seeds, host paths
    for page in pages:
        text = page.read_text()
        assert "test_hands_on_dl" not in text
        assert f"{hidden['gradient_loop']['x'][0]:.6f}"[:7] not in text


@pytest.mark.skipif(not shutil.which("chromium"), reason="chromium is not installed")
def test_report_renders_its_plots_in_a_browser(graded, tmp_path):
    config, _ = graded
    paths = write_report(config, "hands_on_dl")
    rows = list(csv.DictReader(open(paths["csv"])))
    assert {r["student"] for r in rows} == set(STUDENTS)
    assert json.loads((paths["gradescope"] / "alice" / "results.json").read_text())["score"] == 24
    dom = subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                          "--disable-background-networking", "--disable-component-update", "--disable-sync",
                          f"--user-data-dir={tmp_path}", "--virtual-time-budget=5000", "--dump-dom",
                          paths["html"].as_uri()], capture_output=True, text=True, timeout=120).stdout
    assert re.search(r'data-rendered-images="4"', dom), dom[:500]


def test_autograde_survives_kill_9_and_grades_each_submission_once(tmp_path):
    root = make_course(tmp_path / "course", ROOT)
    lesson = get_lesson(root, "hands_on_dl")
    for student in ("p1", "p2", "p3", "p4"):
        folder = root / "submitted" / student / "hands_on_dl"
        folder.mkdir(parents=True)
        shutil.copyfile(lesson.release_notebook, folder / "hands_on_dl.ipynb")
    command = [sys.executable, "-m", "autograder.cli", "autograde", "hands_on_dl", "--workers", "1", "--seed", "3"]
    first = subprocess.Popen(command, cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True)
    results = lambda: sorted(root.glob("autograded/*/hands_on_dl/result.json"))
    deadline = time.monotonic() + 300
    while not results() and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.5)
    assert first.poll() is None, "autograde ended before it could be killed"
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    done_before = {p.parent.parent.name: p.stat().st_mtime_ns for p in results()}
    assert 1 <= len(done_before) < 4
    second = subprocess.run(command, cwd=root, capture_output=True, text=True)
    assert second.returncode == 0, second.stderr
    assert f"{4 - len(done_before)} to grade" in second.stdout
    after = {p.parent.parent.name: p.stat().st_mtime_ns for p in results()}
    assert sorted(after) == ["p1", "p2", "p3", "p4"]
    assert all(after[s] == t for s, t in done_before.items())  # nothing graded twice
    assert all(recorded_scores(root, "hands_on_dl", s) is not None for s in after)


def test_check_tells_a_student_what_is_missing(tmp_path):
    lesson = get_lesson(ROOT, "hands_on_dl")
    path = make_submission(lesson, tmp_path, {"identity_tensor": "I_tensor = torch.eye(2)",
                                              "sqrt_b_cubed": "# YOUR CODE HERE\nraise NotImplementedError()"})
    (tmp_path / "mnist_model.pth").unlink()
    done = subprocess.run([sys.executable, "-m", "autograder.cli", "check", str(path)], capture_output=True,
                          text=True, cwd=ROOT)
    assert done.returncode == 1
    lines = {line.split("│")[1].strip(): line for line in done.stdout.splitlines() if line.count("│") >= 3}
    assert "failing" in lines["identity_tensor"] and "missing" in lines["sqrt_b_cubed"]
    assert "ok" in lines["deep_forward"] and "missing" in lines["mnist_accuracy"]


def test_feedback_and_report_verbs_run_from_the_command_line(graded):
    config, _ = graded
    for verb in ("feedback", "report"):
        done = subprocess.run([sys.executable, "-m", "autograder.cli", verb, "hands_on_dl"], cwd=config.course_root,
                              capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
    assert (config.course_root / "reports" / "hands_on_dl.html").is_file()


def test_release_refuses_a_lesson_whose_reference_loses_points(tmp_path):
    import nbformat

    root = make_course(tmp_path / "course", ROOT)
    (root / "source").unlink()
    shutil.copytree(ROOT / "source", root / "source")
    (root / "release").unlink()
    shutil.copytree(ROOT / "release", root / "release")
    path = root / "source" / "hands_on_dl" / "hands_on_dl.ipynb"
    nb = nbformat.read(path, as_version=4)
    next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "identity_tensor").source = \
        "### BEGIN SOLUTION\nI_tensor = torch.ones(3, 3)\n### END SOLUTION\n"
    nbformat.write(nb, path)
    before = (root / "release" / "hands_on_dl" / "hands_on_dl.ipynb").read_bytes()
    done = subprocess.run([sys.executable, "-m", "autograder.cli", "release", "hands_on_dl"], cwd=root,
                          capture_output=True, text=True)
    assert done.returncode == 1 and "does not score full marks" in done.stderr
    assert (root / "release" / "hands_on_dl" / "hands_on_dl.ipynb").read_bytes() == before


def test_first_release_of_a_new_lesson_is_generated_then_checked(tmp_path):
    root = make_course(tmp_path / "course", ROOT)
    (root / "release").unlink()
    (root / "release").mkdir()  # a course where hands_on_dl was never released
    done = subprocess.run([sys.executable, "-m", "autograder.cli", "release", "hands_on_dl"], cwd=root,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    released = (root / "release" / "hands_on_dl" / "hands_on_dl.ipynb").read_bytes()
    assert released == (ROOT / "release" / "hands_on_dl" / "hands_on_dl.ipynb").read_bytes()
