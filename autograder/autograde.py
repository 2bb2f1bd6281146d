"""Grade a whole class: every collected submission in the sandbox, in parallel, resumable.

State per submission lives in autograded/<student>/<lesson>/result.json, written atomically after the
grade and before the gradebook; a run after `kill -9` re-grades only submissions without a current
result, and re-syncs the gradebook from results it finds there. Only this process writes gradebook.db.
One student's record that cannot be read (graded again) or stored (reported) never stops the others."""
from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from .batch import BatchItem, BatchOutcome, grade_many
from .config import Config
from .course import get_lesson
from .gradebook import record_submission, recorded_scores
from .results import StoredResult, SubmissionResult, executed_path, read_stored, stored_path, write_stored
from .seeds import graders_fingerprint, hidden_seed
from .text import safe_text


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
    action: str  # graded | skipped (already graded) | resynced | not graded | not recorded (gradebook write failed)
    result: SubmissionResult | None
    error: str = ""
    previous: SubmissionResult | None = None  # the grade before this run, where it was graded again
    why: str = ""  # why it was graded: first grade | submission changed | graders changed | forced


@dataclass(frozen=True)
class GradeChange:
    """One exercise of one student whose score moved in a run, and why."""

    student: str
    exercise: str
    old: float | None  # None: no grade before
    new: float | None  # None: not graded now
    why: str


def grade_changes(outcomes: list[ClassOutcome]) -> list[GradeChange]:
    """Return every (student, exercise) whose score this run differs from the one stored before it (a
    student graded for the first time: one change, of the total)."""
    changes = []
    for outcome in outcomes:
        if not outcome.why:
            continue
        if outcome.previous is None:  # a first grade is one line: its total
            changes.append(GradeChange(outcome.student, "(total)", None, outcome.result.score if outcome.result else None,
                                       outcome.why))
            continue
        old = {e.exercise: e.score for e in outcome.previous.exercises} if outcome.previous else {}
        new = {e.exercise: e.score for e in outcome.result.exercises} if outcome.result else {}
        for exercise in dict.fromkeys([*new, *old]):
            if old.get(exercise) != new.get(exercise):
                changes.append(GradeChange(outcome.student, exercise, old.get(exercise), new.get(exercise), outcome.why))
    return changes


def result_path(config: Config, lesson: str, student: str) -> Path:
    """Return where a submission's stored-result record lives."""
    return stored_path(config.course_root, lesson, student)


def fingerprint(folder: Path, notebook: Path, side_files: tuple[str, ...]) -> str:
    """Return a hash of everything a grade depends on in a submission folder."""
    digest = hashlib.sha256()
    for path in [notebook, *(folder / name for name in side_files)]:
        digest.update(path.name.encode())
        digest.update(path.read_bytes() if path.is_file() else b"<absent>")
    return digest.hexdigest()


def read_submission(folder: Path, lesson: str, side_files: tuple[str, ...]) -> Submission:
    """Return the submission in one folder submitted/<student>/<lesson>/: its notebook (<lesson>.ipynb, else
    the first .ipynb) and the fingerprint of what its grade depends on."""
    notebooks = sorted(folder.glob("*.ipynb"))
    notebook = folder / f"{lesson}.ipynb" if (folder / f"{lesson}.ipynb").exists() else (notebooks or [folder / f"{lesson}.ipynb"])[0]
    return Submission(folder.parent.name, folder, notebook, fingerprint(folder, notebook, side_files))


def find_submissions(config: Config, lesson: str, students: list[str] | None = None) -> list[Submission]:
    """Return the collected submissions of a lesson (optionally only some students), sorted by student."""
    side_files = get_lesson(config.course_root, lesson).spec.submitted_files
    return [read_submission(folder, lesson, side_files)
            for folder in sorted((config.course_root / "submitted").glob(f"*/{lesson}"))
            if not students or folder.parent.name in students]


def student_seed(run_seed: int, student: str) -> int:
    """Return the hidden-input seed of one student in a run given with --seed (reproduces that run)."""
    return int.from_bytes(hashlib.sha256(f"{run_seed}:{student}".encode()).digest()[:4], "big") >> 1


def load_state(config: Config, lesson: str, student: str) -> StoredResult | None:
    """Return the stored record of a submission, or None when there is none."""
    path = result_path(config, lesson, student)
    return read_stored(path) if path.exists() else None


def _gradebook_matches(config: Config, lesson: str, student: str, result: SubmissionResult | None) -> bool:
    stored = recorded_scores(config.course_root, lesson, student)
    if stored is None:
        return False
    wanted = {f"test_{e.exercise}": e.score for e in result.exercises} if result else {}
    # a row nbgrader created before a crash has no auto_score yet (None): not a match
    return all(stored.get(k) is not None and abs(stored[k] - v) < 1e-9 for k, v in wanted.items())


def _settle(config: Config, lesson: str, student: str, result: SubmissionResult | None, error: str,
            state: StoredResult | None = None, on_stored: Callable[[], None] | None = None) -> ClassOutcome:
    """Return a grade's outcome after storing it where it is missing: a new grade's record (`state`; then
    `on_stored()`, which must not raise), then the gradebook unless it holds the grade already. A write that
    fails is this student's outcome ("not recorded", with the reason), never the class's."""
    try:
        if state is not None:
            write_stored(config.course_root, state)
            if on_stored:  # `watch`: the feedback page, from the record, before the slower gradebook
                on_stored()
        elif _gradebook_matches(config, lesson, student, result):
            return ClassOutcome(student, "skipped", result, error)
        from .nbgrader_engine import publish_autograded

        publish_autograded(config, lesson, student, result, error)  # what nbgrader's tools read beside the grade
        record_submission(config.course_root, lesson, student, result, error)
    except Exception as exc:  # sqlite, nbgrader, the disk: whatever this student's data trips on
        return ClassOutcome(student, "not recorded", None,
                            f"graded, but the grade could not be stored: {type(exc).__name__}: {safe_text(exc, 300)}")
    return ClassOutcome(student, "graded" if state is not None else "resynced", result, error)


def _why(stored: StoredResult | None, submission: Submission, graders: str, force: bool) -> str:
    """Return why a submission must be graded this run, or "" when its stored grade stands."""
    if stored is None or not stored.readable:
        return "first grade"
    if stored.fingerprint != submission.fingerprint:
        return "submission changed"
    if stored.graders != graders:
        return "graders changed"
    return "forced" if force else ""


@dataclass(frozen=True)
class Pending:
    """What one submission needs: its stored grade, why it is graded now ("" when the stored grade stands)
    and, then, the work for a grading worker."""

    submission: Submission
    stored: StoredResult | None
    why: str
    item: BatchItem | None  # None when the stored grade stands
    graders: str  # seeds.graders_fingerprint of the lesson, recorded with the grade
    run_seed: int | None = None  # --seed, recorded with the grade


def pending_work(config: Config, lesson: str, submission: Submission, graders: str, force: bool = False,
                 seed: int | None = None, dry_run: bool = False) -> Pending:
    """Return the work pending for one submission: none when it was graded already (same submission, same
    graders), else a BatchItem with its hidden-input seed (from the course secret, or the run `seed`) and
    where its executed notebook goes (nowhere in a dry run)."""
    stored = load_state(config, lesson, submission.student)
    why = _why(stored, submission, graders, force)
    if not why:
        return Pending(submission, stored, "", None, graders, seed)
    executed = None if dry_run else executed_path(config.course_root, lesson, submission.student)
    hidden = hidden_seed(config.course_root, lesson, submission.student) if seed is None else student_seed(seed, submission.student)
    item = BatchItem(submission.student, submission.notebook, lesson, hidden, executed)
    return Pending(submission, stored, why, item, graders, seed)


def resync(config: Config, lesson: str, pending: Pending, dry_run: bool = False) -> ClassOutcome:
    """Return the outcome of a submission whose stored grade stands, after re-syncing the gradebook with it."""
    stored, student = pending.stored, pending.submission.student
    if dry_run:
        return ClassOutcome(student, "skipped", stored.result, stored.error)
    return _settle(config, lesson, student, stored.result, stored.error)


def settle_outcome(config: Config, lesson: str, pending: Pending, outcome: BatchOutcome,
                   dry_run: bool = False, on_stored: Callable[[], None] | None = None) -> ClassOutcome:
    """Return what became of one graded submission: its record (autograded/<student>/<lesson>/result.json)
    written (then `on_stored()`), then its gradebook row. A failure of ours ("internal") stores nothing: it
    stays pending."""
    before = pending.stored.result if pending.stored else None
    if outcome.internal:  # our failure: leave it pending for the next run, never a student's zero
        return ClassOutcome(outcome.key, "not graded", None, outcome.error)
    if dry_run:
        return ClassOutcome(outcome.key, "graded (dry run)", outcome.result, outcome.error, before, pending.why)
    state = StoredResult(outcome.key, lesson, pending.submission.fingerprint, outcome.result, outcome.error,
                         pending.graders, pending.run_seed, outcome.internal)
    return replace(_settle(config, lesson, outcome.key, outcome.result, outcome.error, state, on_stored),
                   previous=before, why=pending.why)


def autograde(config: Config, lesson: str, students: list[str] | None = None, workers: int | None = None,
              force: bool = False, seed: int | None = None, limits: dict | None = None, scheduler: str | None = None,
              on_event: Callable[[str, ClassOutcome | None], None] | None = None,
              dry_run: bool = False) -> list[ClassOutcome]:
    """Grade every pending submission of `lesson` (new, changed, or graded with other graders); return one
    outcome per submission, in student order. Hidden inputs come from the course secret, the lesson and
    the student (`seed` draws them from a run seed instead). With `dry_run` nothing is written."""
    from .release import ensure_in_gradebook

    the_lesson = get_lesson(config.course_root, lesson)
    if not dry_run:
        ensure_in_gradebook(the_lesson)
    graders = graders_fingerprint(the_lesson)
    submissions = find_submissions(config, lesson, students)
    outcomes: dict[str, ClassOutcome] = {}
    pending: dict[str, Pending] = {}
    for submission in submissions:
        work = pending_work(config, lesson, submission, graders, force, seed, dry_run)
        if work.item is None:  # graded already with these graders: re-sync the gradebook
            outcomes[submission.student] = resync(config, lesson, work, dry_run)
        else:
            pending[submission.student] = work
    if on_event:
        on_event(f"{len(pending)} to grade, {len(outcomes)} already graded", None)

    def finish(outcome: BatchOutcome) -> None:
        done = settle_outcome(config, lesson, pending[outcome.key], outcome, dry_run)
        outcomes[outcome.key] = done
        if on_event:
            on_event("done", done)

    if pending:
        grade_many([work.item for work in pending.values()], config.course_root, workers, limits, on_done=finish,
                   scheduler=scheduler)
    return [outcomes[s.student] for s in submissions]
