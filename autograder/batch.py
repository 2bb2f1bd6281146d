"""Grade many submissions in parallel worker processes, each result or failure kept per submission."""
from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

from .results import SubmissionResult


@dataclass(frozen=True)
class BatchItem:
    """One submission to grade: a key (student, mutant) and its notebook."""

    key: str
    notebook: Path
    lesson: str | None = None
    seed: int | None = None
    executed_to: Path | None = None  # where to write the executed notebook


@dataclass(frozen=True)
class BatchOutcome:
    """A submission's grade, or the one-line reason it could not be graded."""

    key: str
    result: SubmissionResult | None
    error: str = ""
    internal: bool = False  # the grader failed, not the submission


def _grade(item: BatchItem, course_root: str, limits: dict) -> tuple[dict | None, str, bool]:
    from .config import load_config
    from .grade import GraderError, grade_submission
    from .notebook import NotebookError

    config = load_config(Path(course_root)).with_limits(**limits)
    try:
        return grade_submission(item.notebook, config, lesson=item.lesson, seed=item.seed,
                                executed_to=item.executed_to).to_json(), "", False
    except NotebookError as exc:
        return None, str(exc), False
    except GraderError as exc:
        return None, str(exc), True
    except Exception as exc:  # anything else is ours: recorded against this submission, batch goes on
        return None, f"{type(exc).__name__}: {exc}", True


def default_workers() -> int:
    """Return one worker per core."""
    return max(1, len(os.sched_getaffinity(0)))


def grade_many(items: list[BatchItem], course_root: Path, workers: int | None = None, limits: dict | None = None,
               on_done: Callable[[BatchOutcome], None] | None = None) -> dict[str, BatchOutcome]:
    """Return every item's outcome, grading `workers` at a time in spawned processes."""
    outcomes: dict[str, BatchOutcome] = {}
    with ProcessPoolExecutor(max_workers=workers or default_workers(), mp_context=get_context("spawn")) as pool:
        futures = {pool.submit(_grade, item, str(course_root), limits or {}): item for item in items}
        for future in as_completed(futures):
            item = futures[future]
            try:
                data, error, internal = future.result()
            except Exception as exc:  # the worker process itself died (killed, out of memory)
                data, error, internal = None, f"grading worker died: {type(exc).__name__}: {exc}", True
            outcome = BatchOutcome(item.key, SubmissionResult.from_json(data) if data else None, error, internal)
            outcomes[item.key] = outcome
            if on_done:
                on_done(outcome)
    return {item.key: outcomes[item.key] for item in items}
