"""The adversarial cases that stress a long-lived grading worker, graded through `autograder watch` (one
worker, warm before the first submission, kept for all of them): crashes (os._exit in a cell and in a
probed function, killing the parent, signalling the process group), hangs (an endless answer cell, an
endless forward) and a process bomb get exactly the verdicts `autograder grade` gives them, and the
cross-student pairs (an orphaned job, pipe flags, IPC objects and keys left behind) do not reach the
student graded after them in the same warm sandbox."""
import json
import re
import shutil
import subprocess
import sys

import pytest

from autograder.course import get_lesson
from autograder.democlass import make_course
from autograder.sandbox import bubblewrap_available
from tests.adversarial.cases import CASES
from tests.adversarial.test_cross_student import FLAGS, LEAVE_IPC, ORPHAN, SPY, insert_after
from tests.conftest import ROOT, make_submission

pytestmark = pytest.mark.skipif(not bubblewrap_available(), reason="bubblewrap cannot run here")

LESSON = "hands_on_dl"
NOTEBOOKS = {  # as the suite's notebooks combine them (a notebook is re-run at most 3 times without a crashed cell)
    "d1_hangs": ("infinite_loop_in_answer_cell", "busy_loop_in_forward", "process_bomb"),
    "d2_crashes": ("os_exit_in_cell", "kill_the_parent_process", "signal_the_process_group"),
    "d3_probe_exits": ("os_exit_in_probed_function",),  # apart from the hangs: a crash re-runs them all
}
NOTEBOOK_OF = {name: student for student, names in NOTEBOOKS.items() for name in names}
CHOSEN = [c for c in CASES if c.name in NOTEBOOK_OF]


def with_attacks(student: str):
    def edit(nb) -> None:
        for case in CHOSEN:
            if NOTEBOOK_OF[case.name] == student:
                cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == case.exercise)
                cell.source = case.answer
    return edit


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = make_course(tmp_path_factory.mktemp("watch-adversarial") / "course", ROOT)
    pyproject = root / "pyproject.toml"  # the limits of the adversarial suite's resource notebook
    limits = re.sub(r"(?m)^cell_timeout = .*$", "cell_timeout = 10", pyproject.read_text())
    pyproject.write_text(re.sub(r"(?m)^notebook_timeout = .*$", "notebook_timeout = 900", limits))
    lesson = get_lesson(root, LESSON)
    submitted = root / "submitted"
    make_submission(lesson, submitted / "a1_orphan" / LESSON, edit=insert_after("identity_tensor", ORPHAN))
    (submitted / "a2_blank" / LESSON).mkdir(parents=True)
    shutil.copyfile(lesson.release_notebook, submitted / "a2_blank" / LESSON / f"{LESSON}.ipynb")
    make_submission(lesson, submitted / "b1_flags" / LESSON, edit=insert_after("identity_tensor", FLAGS))
    make_submission(lesson, submitted / "b2_right" / LESSON)
    make_submission(lesson, submitted / "c1_ipc" / LESSON, edit=insert_after("identity_tensor", LEAVE_IPC))
    make_submission(lesson, submitted / "c2_spy" / LESSON, edit=insert_after("identity_tensor", SPY))
    for student in NOTEBOOKS:
        make_submission(lesson, submitted / student / LESSON, edit=with_attacks(student))
    (submitted / "z_blank" / LESSON).mkdir(parents=True)
    shutil.copyfile(lesson.release_notebook, submitted / "z_blank" / LESSON / f"{LESSON}.ipynb")
    done = subprocess.run([sys.executable, "-m", "autograder.cli", "watch", LESSON, "--workers", "1", "--once"],
                          cwd=root, capture_output=True, text=True, timeout=900, env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0 and "Traceback" not in done.stdout + done.stderr, done.stdout[-3000:] + done.stderr[-3000:]
    results = {}
    for path in root.glob(f"autograded/*/{LESSON}/result.json"):
        data = json.loads(path.read_text())
        results[path.parent.parent.name] = data["result"]
    assert len(results) == 10, done.stdout[-3000:]
    return results


@pytest.mark.parametrize("case", CHOSEN, ids=lambda c: c.name)
def test_a_crash_or_hang_gets_its_verdict_through_watch(case, graded):
    result = graded[NOTEBOOK_OF[case.name]]
    exercises = {e["id"]: e for e in result["exercises"]}
    assert exercises[case.exercise]["status"] == case.status, (exercises[case.exercise], result["notes"])


@pytest.mark.parametrize("student", NOTEBOOKS)
def test_exercises_no_attack_touches_still_pass(student, graded):
    touched = {c.exercise for c in CHOSEN if NOTEBOOK_OF[c.name] == student}
    others = {e["id"]: e["status"] for e in graded[student]["exercises"] if e["id"] not in touched}
    assert set(others.values()) == {"passed"}, others


def test_nothing_reaches_the_next_student_in_the_warm_sandbox(graded):
    assert graded["a2_blank"]["score"] == graded["z_blank"]["score"]  # the orphan answered for nobody
    assert graded["a1_orphan"]["score"] == 24
    assert any("interfered with the grader" in note for note in graded["a1_orphan"]["notes"])
    for student in ("b1_flags", "b2_right", "c2_spy"):
        assert graded[student]["score"] == 24, (student, [e for e in graded[student]["exercises"] if e["status"] != "passed"])
