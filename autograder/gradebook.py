"""Write grades into nbgrader's own gradebook.db through nbgrader's API (the only writer is the
trusted main process; one transaction per submission), so formgrader and `nbgrader export` see them."""
from __future__ import annotations

import warnings
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

from .config import ensure_tools_on_path
from .results import ExerciseResult, SubmissionResult
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


def submission_timestamp(course_root: Path, lesson: str, student: str):
    """Return the submission's time from submitted/<student>/<lesson>/timestamp.txt as nbgrader reads it
    (naive UTC), or None when there is none (or it cannot be read)."""
    from nbgrader.utils import parse_utc

    path = course_root / "submitted" / student / lesson / "timestamp.txt"
    try:
        return parse_utc(path.read_text().strip()) if path.is_file() else None
    except (OSError, ValueError, OverflowError):
        return None


def _is_manual(cell, solution_names: set[str]) -> bool:
    """Return True for a grade cell a person grades: a graded answer (nbgrader's "manually graded answer")
    or a markdown cell. Autograded test cells are neither."""
    return cell.name in solution_names or cell.cell_type == "markdown"


def record_submission(course_root: Path, lesson: str, student: str, result: SubmissionResult | None,
                      reason: str = "") -> None:
    """Store one submission's auto scores and feedback (or zeros and the reason it was not graded), its
    timestamp and nbgrader's late penalty. Autograded cells are not left for manual grading (unless a
    person already changed their score, as nbgrader's own autograde does); cells the lesson leaves to a
    person keep nbgrader's flag."""
    timestamp = submission_timestamp(course_root, lesson, student)
    with open_gradebook(course_root) as gradebook:
        gradebook.update_or_create_student(student)
        gradebook.update_or_create_submission(lesson, student, timestamp=timestamp)
        assignment = gradebook.find_assignment(lesson)
        notebook = assignment.notebooks[0].name
        solution_names = {cell.name for cell in assignment.notebooks[0].solution_cells}
        scores = {e.exercise: e for e in result.exercises} if result else {}
        for cell in assignment.notebooks[0].grade_cells:
            if _is_manual(cell, solution_names):
                continue
            grade = gradebook.find_grade(cell.name, notebook, lesson, student)
            exercise = scores.get(cell.name.removeprefix("test_"))
            grade.auto_score = exercise.score if exercise else 0.0
            grade.needs_manual_grade = grade.manual_score is not None
        for cell in assignment.notebooks[0].solution_cells:
            comment = gradebook.find_comment(cell.name, notebook, lesson, student)
            exercise = scores.get(cell.name)
            comment.auto_comment = auto_comment(exercise) if exercise else safe_text(f"not graded: {reason}")
        gradebook.db.commit()
    apply_late_penalty(course_root, lesson, student)


def auto_comment(exercise: ExerciseResult) -> str:
    """Return the comment an exercise's grade leaves on its answer cell in the gradebook."""
    return safe_text(f"{exercise.outcome}: {exercise.feedback}")


def apply_late_penalty(course_root: Path, lesson: str, student: str) -> None:
    """Set the submission's late penalty with nbgrader's own AssignLatePenalties step, configured by the
    course's nbgrader_config.py (LateSubmissionPlugin.penalty_method, or a plugin of the course's)."""
    import nbformat
    from nbgrader.preprocessors import AssignLatePenalties

    with open_gradebook(course_root) as gradebook:
        notebook = gradebook.find_assignment(lesson).notebooks[0].name
    step = AssignLatePenalties(config=nbgrader_config(course_root))
    resources = {"nbgrader": {"notebook": notebook, "assignment": lesson, "student": student,
                              "db_url": db_url(course_root)}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        step.preprocess(nbformat.v4.new_notebook(), resources)


def nbgrader_config(course_root: Path):
    """Return the course's nbgrader configuration (its nbgrader_config.py), as nbgrader's commands see it."""
    path = course_root / "nbgrader_config.py"
    return _load_nbgrader_config(path, path.stat().st_mtime_ns if path.is_file() else 0)


@lru_cache(maxsize=8)
def _load_nbgrader_config(path: Path, mtime: int):
    from traitlets.config import Config as TraitletsConfig
    from traitlets.config.loader import PyFileConfigLoader

    return PyFileConfigLoader(path.name, str(path.parent)).load_config() if mtime else TraitletsConfig()


def add_students(course_root: Path, roster: dict[str, dict[str, str]]) -> None:
    """Create or update students in nbgrader's student table: id -> first_name, last_name, email."""
    with open_gradebook(course_root) as gradebook:
        for student, fields in roster.items():
            gradebook.update_or_create_student(student, **{k: v or None for k, v in fields.items()})


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


def late_penalties(course_root: Path, lesson: str) -> dict[str, float]:
    """Return the late penalty nbgrader's gradebook holds for each student of a lesson (only those with one)."""
    from nbgrader.api import MissingEntry

    if not (course_root / "gradebook.db").exists():
        return {}
    with open_gradebook(course_root) as gradebook:
        try:
            submissions = gradebook.find_assignment(lesson).submissions
        except MissingEntry:
            return {}
        return {s.student.id: sum(nb.late_submission_penalty or 0 for nb in s.notebooks) for s in submissions
                if any(nb.late_submission_penalty for nb in s.notebooks)}
