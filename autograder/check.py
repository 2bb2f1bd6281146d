"""What a student runs before submitting: their notebook in the same sandbox, public checks only."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from .config import Config
from .grade import open_submission, run_notebook, submitted_files
from .notebook import cell_index

CheckStatus = Literal["ok", "failing", "missing", "error", "timeout"]


@dataclass(frozen=True)
class CheckLine:
    """One exercise as the public checks see it (the hidden graders may still disagree)."""

    exercise: str
    status: CheckStatus
    message: str


def check_notebook(notebook: Path, config: Config, lesson: str | None = None) -> tuple[str, list[CheckLine]]:
    """Return the lesson and, per exercise, whether its answer ran and its public checks passed."""
    the_lesson, nb, _ = open_submission(notebook, config, lesson)
    execution, _ = run_notebook(the_lesson, nb, notebook, config, {})
    files, _ = submitted_files(Path(notebook), the_lesson.spec.submitted_files, config.limits.max_weight_file_mb)
    lines = []
    for exercise in the_lesson.exercises:
        answer = execution.cell(cell_index(nb, exercise.id))
        test = execution.cell(cell_index(nb, "test_" + exercise.id))
        needed = the_lesson.spec.files_by_exercise.get(exercise.id)
        lines.append(_judge_publicly(exercise.id, answer, test, needed if needed and needed not in files else None))
    return the_lesson.name, lines


def _judge_publicly(exercise: str, answer, test, absent_file: str | None) -> CheckLine:
    if answer is None:
        return CheckLine(exercise, "missing", "the answer cell is gone: restore it from the released notebook")
    ename = answer.error.get("ename", "")
    if answer.status in ("timeout", "not_run"):
        return CheckLine(exercise, "timeout", "the answer cell did not finish in time")
    if ename == "NotImplementedError":
        return CheckLine(exercise, "missing", "not answered yet")
    if answer.status in ("crashed", "interfered"):
        return CheckLine(exercise, "error", f"the answer cell was skipped: {answer.message[:200]}")
    if answer.status != "ok":
        return CheckLine(exercise, "error", f"the answer cell raised {ename}: {answer.error.get('evalue', '')[:200]}")
    if test is not None and test.status != "ok":
        message = test.error.get("evalue") or test.error.get("ename") or test.message
        return CheckLine(exercise, "failing", f"public check failed: {message[:200]}")
    if absent_file:
        return CheckLine(exercise, "missing", f"`{absent_file}` is not beside the notebook: save your trained weights")
    return CheckLine(exercise, "ok", "public checks pass")
