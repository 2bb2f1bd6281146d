"""`autograder watch`: submissions dropped into submitted/ while it runs are graded as they arrive, each with
the grade `autograde` gives it; a notebook or weight file still being written is never graded half-read;
Ctrl-C stops cleanly and a restart grades only what is left."""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from autograder.autograde import autograde
from autograder.config import load_config
from autograder.course import get_lesson
from autograder.democlass import make_course
from autograder.gradebook import recorded_scores
from autograder.sandbox import bubblewrap_available
from tests.conftest import ROOT, make_submission

pytestmark = pytest.mark.skipif(not bubblewrap_available(), reason="bubblewrap cannot run here")

LESSON = "hands_on_dl"
EVENT = re.compile(r"^\d\d:\d\d:\d\d (graded|failed|superseded) (\S+)", re.M)


class Watch:
    """`autograder watch` running as a subprocess in its own session (Ctrl-C reaches all of it, as at a terminal)."""

    def __init__(self, root: Path, *options: str):
        self.log = root / f"watch-{time.monotonic_ns()}.log"
        self.process = subprocess.Popen([sys.executable, "-m", "autograder.cli", "watch", LESSON, *options], cwd=root,
                                        stdout=open(self.log, "w"), stderr=subprocess.PIPE, text=True,
                                        start_new_session=True, env={**os.environ, "COLUMNS": "200"})

    @property
    def output(self) -> str:
        return self.log.read_text()

    def events(self, student: str) -> list[str]:
        return [kind for kind, who in EVENT.findall(self.output) if who == student]

    def wait_for(self, condition, what: str, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            assert self.process.poll() is None, f"watch ended: {self.output[-3000:]}{self.process.stderr.read()[-3000:]}"
            assert time.monotonic() < deadline, f"waited {timeout} s for {what}: {self.output[-3000:]}"
            time.sleep(0.05)

    def interrupt(self) -> tuple[int, str]:
        os.killpg(self.process.pid, signal.SIGINT)
        _, stderr = self.process.communicate(timeout=60)
        return self.process.returncode, stderr


def folder(root: Path, student: str) -> Path:
    path = root / "submitted" / student / LESSON
    path.mkdir(parents=True, exist_ok=True)
    return path


def write_slowly(path: Path, data: bytes, pause: float) -> None:
    """Write `data` in two halves with a pause between them, as a slow copy does."""
    with open(path, "wb") as handle:
        handle.write(data[: len(data) // 2])
        handle.flush()
        time.sleep(pause)
        handle.write(data[len(data) // 2:])


@pytest.fixture(scope="module")
def watched(tmp_path_factory):
    """A watch session: submissions dropped while it runs (right, wrong, blank, not a notebook, a notebook and
    a weight file written slowly, one changed after its grade), Ctrl-C right after one more arrives, then a
    restart with --once."""
    root = make_course(tmp_path_factory.mktemp("watch") / "course", ROOT)
    lesson = get_lesson(root, LESSON)
    staging = tmp_path_factory.mktemp("staging")
    right = make_submission(lesson, staging / "right")
    wrong = make_submission(lesson, staging / "wrong", {"sqrt_b_cubed": "B_sqrt_cubed = B_tensor ** 3"})
    watch = Watch(root, "--workers", "2")
    watch.wait_for(lambda: "ready:" in watch.output, "the workers to be warm", timeout=180)

    for student, source in (("ann", right), ("ben", wrong)):  # copied in, weights first
        for name in ("fashion_model.pth", "mnist_model.pth", f"{LESSON}.ipynb"):
            shutil.copyfile(source.parent / name, folder(root, student) / name)
    shutil.copyfile(lesson.release_notebook, folder(root, "cat") / f"{LESSON}.ipynb")
    (folder(root, "dan") / f"{LESSON}.ipynb").write_text("{ this is not json")
    for name in ("fashion_model.pth", "mnist_model.pth"):  # eve: the notebook arrives in two halves, 1 s apart
        shutil.copyfile(right.parent / name, folder(root, "eve") / name)
    write_slowly(folder(root, "eve") / f"{LESSON}.ipynb", right.read_bytes(), 1.0)
    shutil.copyfile(right, folder(root, "fay") / f"{LESSON}.ipynb")  # fay: a weight file in two halves
    shutil.copyfile(right.parent / "fashion_model.pth", folder(root, "fay") / "fashion_model.pth")
    write_slowly(folder(root, "fay") / "mnist_model.pth", (right.parent / "mnist_model.pth").read_bytes(), 1.0)

    watch.wait_for(lambda: all(watch.events(s) for s in ("ann", "ben", "cat", "dan", "eve", "fay")), "six grades")
    shutil.copyfile(wrong, folder(root, "ben") / f"{LESSON}.ipynb.partial")  # ben fixes his answer: a copy
    os.replace(folder(root, "ben") / f"{LESSON}.ipynb.partial", folder(root, "ben") / f"{LESSON}.ipynb")  # then a rename
    nb = json.loads(right.read_text())
    (folder(root, "ben") / f"{LESSON}.ipynb").write_text(json.dumps(nb))
    watch.wait_for(lambda: len(watch.events("ben")) == 2, "ben's second grade")
    workers = grading_workers(watch.process.pid)

    stamps = {p.parent.parent.name: p.stat().st_mtime_ns for p in root.glob(f"autograded/*/{LESSON}/result.json")}
    shutil.copyfile(lesson.release_notebook, folder(root, "gus") / f"{LESSON}.ipynb")  # arrives as watch stops
    time.sleep(0.4)
    code, stderr = watch.interrupt()
    restart = subprocess.run([sys.executable, "-m", "autograder.cli", "watch", LESSON, "--once", "--workers", "1"],
                             cwd=root, capture_output=True, text=True, env={**os.environ, "COLUMNS": "200"}, timeout=300)
    return {"root": root, "watch": watch, "code": code, "stderr": stderr, "stamps": stamps, "restart": restart,
            "workers": workers}


def grading_workers(pid: int) -> dict[int, bool]:
    """Return the grading workers under the watch process (multiprocessing's, not their sandboxes), each with
    whether it has sqlite loaded: without it, a process cannot write gradebook.db."""
    found = {}
    for child in psutil.Process(pid).children(recursive=True):
        try:
            if "multiprocessing" in " ".join(child.cmdline()):
                found[child.pid] = "sqlite" in Path(f"/proc/{child.pid}/maps").read_text()
        except (psutil.Error, OSError):
            pass
    return found


def stored(root: Path) -> dict[str, dict]:
    return {p.parent.parent.name: json.loads(p.read_text()) for p in root.glob(f"autograded/*/{LESSON}/result.json")}


def test_ctrl_c_stops_cleanly(watched):
    assert watched["code"] == 0, watched["stderr"][-3000:]
    assert "Traceback" not in watched["stderr"] and "Traceback" not in watched["watch"].output, watched["stderr"][-3000:]
    assert "stopped:" in watched["watch"].output


def test_each_submission_is_graded_once_when_complete_never_half_read(watched):
    watch = watched["watch"]
    for student in ("ann", "ben", "cat", "eve", "fay"):
        assert watch.events(student)[0] == "graded", watch.output
    assert watch.events("dan") == ["failed"]  # not a notebook: its reason is stored, like autograde's
    assert watch.events("eve") == ["graded"] and watch.events("fay") == ["graded"], watch.output
    grades = stored(watched["root"])
    assert grades["eve"]["result"]["score"] == grades["eve"]["result"]["max_score"] == 24
    assert grades["fay"]["result"]["score"] == 24  # the weights were read whole
    assert "not a notebook" in grades["dan"]["error"]


def test_a_changed_submission_is_graded_again(watched):
    watch = watched["watch"]
    assert watch.events("ben") == ["graded", "graded"]
    assert "(submission changed)" in watch.output and stored(watched["root"])["ben"]["result"]["score"] == 24


def test_a_restart_grades_only_what_was_left(watched):
    restart = watched["restart"]
    assert restart.returncode == 0 and "Traceback" not in restart.stderr, restart.stderr[-3000:]
    grades = {s: p.stat().st_mtime_ns for s, p in
              ((p.parent.parent.name, p) for p in watched["root"].glob(f"autograded/*/{LESSON}/result.json"))}
    assert all(grades[s] == t for s, t in watched["stamps"].items())  # nothing graded again
    assert EVENT.findall(restart.stdout) == [("graded", "gus")], restart.stdout
    assert "6 already graded" in restart.stdout


def test_grades_gradebook_and_feedback_are_what_autograde_gives(watched):
    root = watched["root"]
    config = load_config(root)
    grades = stored(root)
    again = {o.student: o for o in autograde(config, LESSON, workers=2, force=True, dry_run=True)}
    assert sorted(again) == sorted(grades) == ["ann", "ben", "cat", "dan", "eve", "fay", "gus"]
    for student, outcome in again.items():
        mine = grades[student]
        if outcome.result is None:
            assert mine["result"] is None and mine["error"] == outcome.error
            continue
        theirs = outcome.result.to_json()
        assert [(e["id"], e["score"], e["status"], e["feedback"]) for e in mine["result"]["exercises"]] == \
               [(e["id"], e["score"], e["status"], e["feedback"]) for e in theirs["exercises"]], student
        assert mine["result"]["seed"] == theirs["seed"]
        assert sum(recorded_scores(root, LESSON, student).values()) == pytest.approx(theirs["score"])
        page = (root / "feedback" / student / LESSON / f"{LESSON}.html").read_text()
        assert f"{theirs['score']:g} / 24" in page


def test_only_the_watch_process_can_write_the_gradebook(watched):
    workers = watched["workers"]
    assert len(workers) >= 2 and not any(workers.values()), workers  # no worker (nor fork server) loaded sqlite
    __import__("sqlite3")
    assert "sqlite" in Path(f"/proc/{os.getpid()}/maps").read_text()  # the check sees it where it is loaded
