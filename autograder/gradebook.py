"""Write grades into nbgrader's own gradebook.db through nbgrader's API (the only writer is the
trusted main process; one transaction per submission), so formgrader and `nbgrader export` see them."""
from __future__ import annotations

import warnings
from contextlib import contextmanager
from pathlib import Path

from .config import ensure_tools_on_path
from .results import SubmissionResult
from .text import safe_text


def db_url(course_root: Path) -> str:
    """Return the gradebook URL nbgrader uses for this course."""
    return f"sqlite:///{course_root / 'gradebook.db'}"


@contextmanager
def open_gradebook(course_root: Path):
    """Yield nbgrader's Gradebook for the course (creating the database on first use)."""
    from nbgrader.api import Gradebook
    from sqlalchemy.exc import SAWarning

    ensure_tools_on_path()  # nbgrader runs `alembic` by name to check the schema
    with warnings.catch_warnings():  # nbgrader's add_submission trips SQLAlchemy autoflush warnings; harmless
        warnings.simplefilter("ignore", SAWarning)
        with Gradebook(db_url(course_root), "pytorch-course") as gradebook:
            yield gradebook


def has_assignment(course_root: Path, lesson: str) -> bool:
    """Return True when the lesson was released into the gradebook (its grade cells are known)."""
    from nbgrader.api import MissingEntry

    with open_gradebook(course_root) as gradebook:
        try:
            gradebook.find_assignment(lesson)
            return True
        except MissingEntry:
            return False


def record_submission(course_root: Path, lesson: str, student: str, result: SubmissionResult | None,
                      reason: str = "") -> None:
    """Store one submission's auto scores and feedback (or zeros and the reason it was not graded)."""
    from nbgrader.api import MissingEntry

    with open_gradebook(course_root) as gradebook:
        gradebook.update_or_create_student(student)
        try:
            gradebook.find_submission(lesson, student)
        except MissingEntry:
            gradebook.add_submission(lesson, student)
        assignment = gradebook.find_assignment(lesson)
        notebook = assignment.notebooks[0].name
        scores = {e.exercise: e for e in result.exercises} if result else {}
        for cell in assignment.notebooks[0].grade_cells:
            grade = gradebook.find_grade(cell.name, notebook, lesson, student)
            exercise = scores.get(cell.name.removeprefix("test_"))
            grade.auto_score = exercise.score if exercise else 0.0
        for cell in assignment.notebooks[0].solution_cells:
            comment = gradebook.find_comment(cell.name, notebook, lesson, student)
            exercise = scores.get(cell.name)
            comment.auto_comment = safe_text(f"{exercise.outcome}: {exercise.feedback}" if exercise
                                             else f"not graded: {reason}")
        gradebook.db.commit()


def recorded_scores(course_root: Path, lesson: str, student: str) -> dict[str, float] | None:
    """Return the auto scores stored for a student's submission by test cell, or None if none."""
    from nbgrader.api import MissingEntry

    with open_gradebook(course_root) as gradebook:
        try:
            submission = gradebook.find_submission(lesson, student)
        except MissingEntry:
            return None
        return {g.name: g.auto_score for nb in submission.notebooks for g in nb.grades}


def known_students(course_root: Path) -> set[str]:
    """Return the student ids in the gradebook (empty when there is no gradebook yet)."""
    if not (course_root / "gradebook.db").exists():
        return set()
    with open_gradebook(course_root) as gradebook:
        return {s.id for s in gradebook.students}
