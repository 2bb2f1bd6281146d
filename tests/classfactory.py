"""A graded class without grading: stored-result records and executed notebooks written as `autograde`
writes them, for tests and benchmarks of what reads them (feedback, report, course view) in milliseconds
instead of sandbox minutes. Each record carries instructor-only fields a page must never show (hidden-test
names in details, a large seed, fingerprints), and executed notebooks carry what must be scrubbed (grader
tracebacks, host paths, library frames)."""
from __future__ import annotations

import copy
import random
from pathlib import Path

import nbformat

from autograder.course import Lesson
from autograder.results import ExerciseResult, StoredResult, SubmissionResult, executed_path, write_stored

HOST = "/srv/other-machine/venv/lib/python3.11/site-packages/torch/_tensor.py"  # not this machine's: scrubbed as a library path
GRADER_TRACEBACK = ["Traceback (most recent call last):",
                    '  File "/srv/course/autograder/graders/hands_on_dl/test_hands_on_dl.py", line 12, in check',
                    "AssertionError: expected 0.1234567"]
MESSAGES = {"failed": ["`{x}` has shape [{n}, {n}]; check its size in every dimension.",
                       "`{x}` is not what the exercise asks for."],
            "error": ["Your answer cell raised RuntimeError: mat1 and mat2 shapes cannot be multiplied."],
            "timeout": ["Your answer cell did not finish within 20 s (an endless loop?) and was stopped."],
            "missing": ["`fashion_model.pth` was not submitted: save your trained weights beside the notebook."]}


def student_traceback(name: str) -> str:
    """Return what IPython prints for an error in a student's cell that went through library code."""
    return ("-" * 75 + f"\n{name}                         Traceback (most recent call last)\n"
            "Cell In[1], line 3\n      1 p = torch.rand(1)\n----> 3 loss.backward()\n\n"
            f"File {HOST}:522, in Tensor.backward(self)\n    520 x\n--> 522 torch.autograd.backward(self)\n\n"
            f"{name}: the student's message\n")


def exercise_result(exercise: str, points: float, outcome: str, rng: random.Random) -> ExerciseResult:
    """Return one exercise's grade with a message like the graders write."""
    if outcome == "passed":
        return ExerciseResult(exercise, "passed", points, points, "All checks passed.")
    message = rng.choice(MESSAGES[outcome]).format(x=exercise, n=rng.choice([2, 3]))
    score = points / 2 if outcome == "failed" and rng.random() < 0.3 else 0.0
    return ExerciseResult(exercise, outcome, score, points, message, f"test_{exercise}_hidden_property: failed")


def executed_notebook(lesson: Lesson, result: SubmissionResult, rng: random.Random) -> nbformat.NotebookNode:
    """Return the released notebook as if run: a random output in a scratch cell, and for each exercise that
    raised or timed out, the student's own traceback (stream) and the error (with a grader-style traceback
    that must never reach a page)."""
    nb = copy.deepcopy(lesson.released)
    outcomes = {e.exercise: e.outcome for e in result.exercises}
    scratch = next(c for c in nb.cells if c.cell_type == "code" and not c.metadata.get("nbgrader"))
    scratch.outputs = [nbformat.v4.new_output("stream", name="stdout", text=f"tensor([{rng.random():.4f}])\n")]
    for cell in nb.cells:
        outcome = outcomes.get(cell.metadata.get("nbgrader", {}).get("grade_id"))
        if outcome in ("error", "timeout"):
            name = "KeyboardInterrupt" if outcome == "timeout" else "RuntimeError"
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=student_traceback(name)),
                            nbformat.v4.new_output("error", ename=name, evalue=f"raised in {HOST}",
                                                   traceback=GRADER_TRACEBACK)]
    return nb


def fabricate_class(root: Path, lesson: Lesson, students: int, seed: int = 0) -> dict[str, StoredResult]:
    """Write `students` graded submissions of `lesson` into the course at `root` (records, executed notebooks,
    submitted/ folders with timestamp.txt) and one that could not be graded; return the records by student."""
    rng = random.Random(seed)
    records = {}
    for number in range(students):
        student = f"student{number:03d}"
        ability = rng.random()
        exercises = tuple(exercise_result(e.id, e.points, "passed" if rng.random() < 0.35 + 0.6 * ability else
                                          rng.choice(["failed", "failed", "failed", "error", "timeout", "missing"]), rng)
                          for e in lesson.exercises)
        result = SubmissionResult(lesson.name, exercises, 900_000_001 + number, timings={"total": 1 + rng.random()})
        records[student] = StoredResult(student, lesson.name, f"{number:064x}", result, graders="a1b2c3d4e5f60718")
    records["unreadable_upload"] = StoredResult("unreadable_upload", lesson.name, "f" * 64, None,
                                                "hands_on_dl.ipynb: not a notebook (not UTF-8 text)")
    for student, record in records.items():
        write_stored(root, record)
        submitted = root / "submitted" / student / lesson.name
        submitted.mkdir(parents=True, exist_ok=True)
        (submitted / "timestamp.txt").write_text("2026-01-14 09:30:00.000000 UTC")
        if record.result:
            nbformat.write(executed_notebook(lesson, record.result, rng), executed_path(root, lesson.name, student))
    return records
