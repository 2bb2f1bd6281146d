"""Grade many submissions in parallel worker processes, each result or failure kept per submission.

Two backends share one task function: a local pool of worker processes, or a Dask distributed cluster
(`scheduler="local"` starts a LocalCluster here; "tcp://host:port" joins a running one, whose workers must
see the course directory at the same path). Either way each worker keeps a warm sandbox per lesson, and
only the calling process sees results (it alone writes the gradebook)."""
from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Callable
from contextlib import suppress
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

from .results import SubmissionResult


MAX_ATTEMPTS = 3  # a submission whose worker died is graded again, at most this many times in all


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


_ONE_AT_A_TIME = threading.Lock()  # a process has one warm sandbox: a Dask worker's threads take turns


def _grade(item: BatchItem, course_root: str, limits: dict) -> tuple[dict | None, str, bool]:
    from .config import load_config
    from .course import UnknownLessonError, get_lesson
    from .grade import GraderError, grade_submission, start_sandbox
    from .notebook import NotebookError
    from .warm import SandboxStartError

    config = load_config(Path(course_root)).with_limits(**limits)
    with _ONE_AT_A_TIME:
        started = 0.0
        try:
            if item.lesson:  # a fresh worker starts its sandbox before importing torch: the two overlap
                with suppress(UnknownLessonError, SandboxStartError):  # grading below records either
                    started = start_sandbox(get_lesson(config.course_root, item.lesson), config)
            result = grade_submission(item.notebook, config, lesson=item.lesson, seed=item.seed,
                                      executed_to=item.executed_to)
            if started:  # the start this submission waited for is part of its latency
                result.timings.update(sandbox_start=round(started, 3), total=round(result.timings["total"] + started, 3))
            return result.to_json(), "", False
        except NotebookError as exc:
            return None, str(exc), False
        except GraderError as exc:
            return None, str(exc), True
        except Exception as exc:  # anything else is ours: recorded against this submission, batch goes on
            return None, f"{type(exc).__name__}: {exc}", True


# What every grading worker inherits from the fork server: the judge's modules, but not torch, which a
# fresh worker imports while its sandbox starts (start_sandbox), on the core the sandbox leaves idle.
WORKER_PRELOAD = ["autograder.batch", "autograder.grade"]


def worker_context():
    """Return the multiprocessing context for grading workers: a fork server that has imported the
    judge's light modules (pytest, nbformat) once, so every further worker starts without them."""
    context = get_context("forkserver")
    context.set_forkserver_preload(WORKER_PRELOAD)
    return context


def default_workers() -> int:
    """Return one worker per core."""
    return max(1, len(os.sched_getaffinity(0)))


def _outcome(item: BatchItem, future) -> BatchOutcome:
    try:
        data, error, internal = future.result()
    except Exception as exc:  # the worker process itself died (killed, out of memory), past any retries
        data, error, internal = None, f"grading worker died: {type(exc).__name__}: {exc}", True
    return BatchOutcome(item.key, SubmissionResult.from_json(data) if data else None, error, internal)


def grade_many(items: list[BatchItem], course_root: Path, workers: int | None = None, limits: dict | None = None,
               on_done: Callable[[BatchOutcome], None] | None = None,
               scheduler: str | None = None) -> dict[str, BatchOutcome]:
    """Return every item's outcome, grading `workers` at a time in worker processes, or on Dask workers
    when `scheduler` is "local" or a scheduler address."""
    outcomes: dict[str, BatchOutcome] = {}

    def record(outcome: BatchOutcome) -> None:
        outcomes[outcome.key] = outcome
        if on_done:
            on_done(outcome)

    if scheduler:
        _grade_on_dask(items, course_root, workers, limits or {}, scheduler, record)
    else:
        _grade_locally(items, course_root, workers or default_workers(), limits or {}, record)
    return {item.key: outcomes[item.key] for item in items}


def _grade_locally(items: list[BatchItem], course_root: Path, workers: int, limits: dict,
                   record: Callable[[BatchOutcome], None]) -> None:
    """Grade in a pool of worker processes; when a worker dies (killed, out of memory) the pool is
    started again for what was left, each submission at most MAX_ATTEMPTS times."""
    attempts = {item.key: 0 for item in items}
    pending = list(items)
    while pending:
        for item in pending:
            attempts[item.key] += 1
        with ProcessPoolExecutor(max_workers=workers, mp_context=worker_context()) as pool:
            futures = {pool.submit(_grade, item, str(course_root), limits): item for item in pending}
            pending = []
            for future in as_completed(futures):
                item = futures[future]
                if isinstance(future.exception(), BrokenProcessPool) and attempts[item.key] < MAX_ATTEMPTS:
                    pending.append(item)
                else:
                    record(_outcome(item, future))


def _grade_on_dask(items: list[BatchItem], course_root: Path, workers: int | None, limits: dict, scheduler: str,
                   record: Callable[[BatchOutcome], None]) -> None:
    """Grade on a Dask cluster; a worker lost mid-task only means the scheduler runs its tasks elsewhere."""
    import logging

    from distributed import Client, LocalCluster
    from distributed import as_completed as dask_completed

    cluster = None
    if scheduler == "local":
        import dask
        from distributed.utils import get_mp_context

        with dask.config.set({"distributed.worker.multiprocessing-method": "forkserver"}):
            context = get_mp_context()  # Dask's fork server, with the judge's light modules imported too
            context.set_forkserver_preload(["distributed", *WORKER_PRELOAD])
            cluster = LocalCluster(n_workers=workers or default_workers(), threads_per_worker=1, processes=True,
                                   dashboard_address=None, silence_logs=logging.ERROR)
    with Client(cluster or scheduler) as client:
        futures = {client.submit(_grade, item, str(course_root), limits, pure=False, retries=MAX_ATTEMPTS - 1,
                                 key=f"grade-{item.key}-{uuid.uuid4().hex[:8]}"): item for item in items}
        for future in dask_completed(futures):
            record(_outcome(futures[future], future))
    if cluster is not None:
        cluster.close()
