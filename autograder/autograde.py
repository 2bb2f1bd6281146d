"""Grade a whole class: every collected submission in the sandbox, in parallel, resumable.

State per submission lives in autograded/<student>/<lesson>/result.json, written atomically after the
grade and before the gradebook; a run after `kill -9` re-grades only submissions without a current
result, and re-syncs the gradebook from results it finds there. Only this process writes gradebook.db."""
from __future__ import annotations

import hashlib
import json
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .batch import BatchItem, BatchOutcome, grade_many
from .config import Config
from .course import get_lesson
from .gradebook import record_submission, recorded_scores
from .results import SubmissionResult


@dataclass(frozen=True)
class Submission:
    """One collected submission folder: submitted/<student>/<lesson>/."""

    student: str
    folder: Path
    notebook: Path
    fingerprint: str  # content hash of the notebook and side files: a changed submission is re-graded


@dataclass(frozen=True)
class ClassOutcome:
    """What autograde did with one submission this run."""

    student: str
    action: str  # graded | skipped (already graded) | resynced | not graded
    result: SubmissionResult | None
    error: str = ""


def result_path(config: Config, lesson: str, student: str) -> Path:
    return config.course_root / "autograded" / student / lesson / "result.json"


def fingerprint(folder: Path, notebook: Path, side_files: tuple[str, ...]) -> str:
    """Return a hash of everything a grade depends on in a submission folder."""
    digest = hashlib.sha256()
    for path in [notebook, *(folder / name for name in side_files)]:
        digest.update(path.name.encode())
        digest.update(path.read_bytes() if path.is_file() else b"<absent>")
    return digest.hexdigest()


def find_submissions(config: Config, lesson: str, students: list[str] | None = None) -> list[Submission]:
    """Return the collected submissions of a lesson (optionally only some students), sorted by student."""
    side_files = get_lesson(config.course_root, lesson).grader.SUBMITTED_FILES
    found = []
    for folder in sorted((config.course_root / "submitted").glob(f"*/{lesson}")):
        student = folder.parent.name
        if students and student not in students:
            continue
        notebooks = sorted(folder.glob("*.ipynb"))
        notebook = folder / f"{lesson}.ipynb" if (folder / f"{lesson}.ipynb").exists() else (notebooks or [folder / f"{lesson}.ipynb"])[0]
        found.append(Submission(student, folder, notebook, fingerprint(folder, notebook, side_files)))
    return found


def student_seed(run_seed: int, student: str) -> int:
    """Return the hidden-input seed of one student in a run (different per student, reproducible)."""
    return int.from_bytes(hashlib.sha256(f"{run_seed}:{student}".encode()).digest()[:4], "big") >> 1


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(text)
    os.replace(temporary, path)


def load_state(config: Config, lesson: str, student: str) -> dict | None:
    """Return the stored grade record of a submission, or None."""
    path = result_path(config, lesson, student)
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _gradebook_matches(config: Config, lesson: str, student: str, state: dict) -> bool:
    stored = recorded_scores(config.course_root, lesson, student)
    if stored is None:
        return False
    wanted = {f"test_{e['id']}": e["score"] for e in state["result"]["exercises"]} if state.get("result") else {}
    # a row nbgrader created before a crash has no auto_score yet (None): not a match
    return all(stored.get(k) is not None and abs(stored[k] - v) < 1e-9 for k, v in wanted.items())


def autograde(config: Config, lesson: str, students: list[str] | None = None, workers: int | None = None,
              force: bool = False, seed: int | None = None, limits: dict | None = None, scheduler: str | None = None,
              on_event: Callable[[str, ClassOutcome | None], None] | None = None) -> list[ClassOutcome]:
    """Grade every pending submission of `lesson`; return one outcome per submission, in student order."""
    from .release import ensure_in_gradebook

    ensure_in_gradebook(get_lesson(config.course_root, lesson))
    run_seed = secrets.randbits(31) if seed is None else seed
    submissions = find_submissions(config, lesson, students)
    outcomes: dict[str, ClassOutcome] = {}
    pending: list[BatchItem] = []
    by_student = {s.student: s for s in submissions}
    for submission in submissions:
        state = load_state(config, lesson, submission.student)
        if not force and state and state.get("fingerprint") == submission.fingerprint:
            result = SubmissionResult.from_json(state["result"]) if state.get("result") else None
            if _gradebook_matches(config, lesson, submission.student, state):
                outcomes[submission.student] = ClassOutcome(submission.student, "skipped", result, state.get("error", ""))
            else:  # graded before a crash, gradebook not yet written: write it, do not grade again
                record_submission(config.course_root, lesson, submission.student, result, state.get("error", ""))
                outcomes[submission.student] = ClassOutcome(submission.student, "resynced", result, state.get("error", ""))
            continue
        executed = config.course_root / "autograded" / submission.student / lesson / f"{lesson}.ipynb"
        pending.append(BatchItem(submission.student, submission.notebook, lesson,
                                 student_seed(run_seed, submission.student), executed))
    if on_event:
        on_event(f"{len(pending)} to grade, {len(outcomes)} already graded", None)

    def finish(outcome: BatchOutcome) -> None:
        submission = by_student[outcome.key]
        state = {"student": outcome.key, "lesson": lesson, "fingerprint": submission.fingerprint,
                 "run_seed": run_seed, "result": outcome.result.to_json() if outcome.result else None,
                 "error": outcome.error, "internal": outcome.internal}
        if outcome.internal:  # our failure: leave it pending for the next run, never a student's zero
            done = ClassOutcome(outcome.key, "not graded", None, outcome.error)
        else:
            _write_atomically(result_path(config, lesson, outcome.key), json.dumps(state, indent=1))
            record_submission(config.course_root, lesson, outcome.key, outcome.result, outcome.error)
            done = ClassOutcome(outcome.key, "graded", outcome.result, outcome.error)
        outcomes[outcome.key] = done
        if on_event:
            on_event("done", done)

    if pending:
        grade_many(pending, config.course_root, workers, limits, on_done=finish, scheduler=scheduler)
    return [outcomes[s.student] for s in submissions]
