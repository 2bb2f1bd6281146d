"""Grade many submissions in parallel worker processes, each result or failure kept per submission.

Two backends share one task function: a local pool of worker processes, or a Dask distributed cluster
(`scheduler="local"` starts a LocalCluster here; "tcp://host:port" joins a running one, whose workers must
see the course directory at the same path). Either way each worker keeps a warm sandbox per lesson, and
only the calling process sees results (it alone writes the gradebook). A `Grader` keeps the workers
running and takes submissions as they come (`autograder watch`); `grade_many` grades a list with one."""
from __future__ import annotations

import itertools
import os
import queue
import signal
import threading
import time
import uuid
from collections.abc import Callable
from contextlib import suppress
from concurrent.futures import ProcessPoolExecutor
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
    measure: bool = False  # run without step budgets and report each step's CPU seconds (the reference)


@dataclass(frozen=True)
class BatchOutcome:
    """A submission's grade, or the one-line reason it could not be graded."""

    key: str
    result: SubmissionResult | None
    error: str = ""
    internal: bool = False  # the grader failed, not the submission
    step_cpu: dict[str, float] | None = None  # for a measured item: CPU seconds per step


_ONE_AT_A_TIME = threading.Lock()  # a process has one warm sandbox: a Dask worker's threads take turns


def _grade(item: BatchItem, course_root: str, limits: dict) -> tuple[dict | None, str, bool]:
    from .config import load_config
    from .course import UnknownLessonError, get_lesson
    from .grade import GraderError, grade_submission, measure_submission, start_sandbox
    from .notebook import NotebookError
    from .warm import SandboxStartError

    config = load_config(Path(course_root)).with_limits(**limits)
    with _ONE_AT_A_TIME:
        started = 0.0
        try:
            if item.lesson:  # a fresh worker starts its sandbox before importing torch: the two overlap
                with suppress(UnknownLessonError, SandboxStartError):  # grading below records either
                    started = start_sandbox(get_lesson(config.course_root, item.lesson), config)
            measured = None
            if item.measure:
                result, measured = measure_submission(item.notebook, config, lesson=item.lesson, seed=item.seed)
            else:
                result = grade_submission(item.notebook, config, lesson=item.lesson, seed=item.seed,
                                          executed_to=item.executed_to)
            if started:  # the start this submission waited for is part of its latency
                result.timings.update(sandbox_start=round(started, 3), total=round(result.timings["total"] + started, 3))
            return result.to_json() | ({"step_cpu": measured} if measured is not None else {}), "", False
        except NotebookError as exc:
            return None, str(exc), False
        except GraderError as exc:
            return None, str(exc), True
        except Exception as exc:  # anything else is ours: recorded against this submission, batch goes on
            return None, f"{type(exc).__name__}: {exc}", True


def _warm(lesson: str, course_root: str, limits: dict) -> float:
    """Make this worker ready for `lesson` before any submission waits for it: start its warm sandbox (the
    judge's imports meanwhile), then grade the lesson's release notebook once and throw the grade away, so
    that the judge's first pytest session and the graders are loaded too. Return the seconds spent (0 when
    it was warm already). Whatever fails here is reported by the first real grade."""
    from .config import load_config
    from .course import get_lesson
    from .grade import grade_submission, start_sandbox

    config = load_config(Path(course_root)).with_limits(**limits)
    with _ONE_AT_A_TIME:
        started = time.monotonic()
        try:
            the_lesson = get_lesson(config.course_root, lesson)
            if start_sandbox(the_lesson, config):
                grade_submission(the_lesson.release_notebook, config, lesson=lesson, seed=0)
        except Exception:  # noqa: BLE001
            pass
        return time.monotonic() - started


def _worker_init() -> None:
    """Run first in every local grading worker: Ctrl-C at the terminal is for the calling process (which
    stops the workers), and SIGTERM stops this worker's sandboxes before it ends. Ctrl-C is caught and
    dropped, never ignored (SIG_IGN): an ignored SIGINT would be inherited by the sandboxes this worker
    starts, and a student's endless cell could no longer be interrupted."""
    signal.signal(signal.SIGINT, _not_for_workers)
    signal.signal(signal.SIGTERM, _stop_worker)


def _not_for_workers(signum, frame) -> None:
    """Ctrl-C in a worker: nothing (the calling process stops the workers)."""


def _stop_worker(signum, frame) -> None:
    from .warm import close_all

    with suppress(Exception):
        close_all()
    os._exit(0)


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
    measured = data.pop("step_cpu", None) if data else None
    return BatchOutcome(item.key, SubmissionResult.from_json(data) if data else None, error, internal, measured)


class Grader:
    """Grading workers kept running between submissions: a local pool of worker processes, or a Dask
    client kept open (`scheduler` "local" starts a LocalCluster of `workers` here; an address joins a
    running cluster). Submissions are given as they come (`submit`) and their outcomes come back in the
    calling thread as they finish (`next_outcome`). A submission whose local worker died is graded again,
    at most MAX_ATTEMPTS times in all (Dask re-runs those of a lost worker itself). `close` stops the local
    workers and their sandboxes; grades still running then are abandoned, nothing of them is returned."""

    def __init__(self, course_root: Path, workers: int | None = None, limits: dict | None = None,
                 scheduler: str | None = None):
        self.course_root, self.limits, self.scheduler = str(course_root), limits or {}, scheduler
        self.workers = workers or default_workers()
        self._finished: queue.SimpleQueue[int] = queue.SimpleQueue()  # tickets of futures that are done
        self._tickets = itertools.count()
        self._running: dict[int, tuple[BatchItem, object, object]] = {}  # ticket: item, future, its pool
        self._attempts: dict[int, int] = {}
        self._warming: list = []
        self._lesson: str | None = None
        self._pool = self._client = self._cluster = None
        if scheduler:
            self._client, self._cluster = _dask_client(scheduler, workers)
        else:
            self._pool = self._new_pool()

    def __enter__(self) -> "Grader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def in_flight(self) -> int:
        """Return how many submissions were given and have not come back yet."""
        return len(self._running)

    @property
    def warm(self) -> tuple[int, int]:
        """Return (workers whose warm-up ended, workers being warmed up)."""
        return sum(f.done() for f in self._warming), len(self._warming)

    def warm_up(self, lesson: str) -> None:
        """Start every worker's sandbox for `lesson` now, so that no submission waits for a start-up (a
        worker that is warm already only says so)."""
        self._lesson = lesson
        if self._client is not None:
            addresses = list(self._client.scheduler_info()["workers"])
            self.workers = len(addresses) or self.workers
            self._warming = [self._client.submit(_warm, lesson, self.course_root, self.limits, pure=False,
                                                 workers=[address], allow_other_workers=False,
                                                 key=f"warm-{uuid.uuid4().hex[:8]}") for address in addresses]
        else:
            self._warming = [self._pool.submit(_warm, lesson, self.course_root, self.limits) for _ in range(self.workers)]

    def submit(self, item: BatchItem) -> None:
        """Give one submission to the workers."""
        ticket = next(self._tickets)
        self._attempts[ticket] = 0
        self._send(ticket, item)

    def _send(self, ticket: int, item: BatchItem) -> None:
        self._attempts[ticket] += 1
        if self._client is not None:
            future = self._client.submit(_grade, item, self.course_root, self.limits, pure=False,
                                         retries=MAX_ATTEMPTS - 1, key=f"grade-{item.key}-{uuid.uuid4().hex[:8]}")
        else:
            try:
                future = self._pool.submit(_grade, item, self.course_root, self.limits)
            except BrokenProcessPool:  # a worker died while it was idle
                self._restart_pool()
                future = self._pool.submit(_grade, item, self.course_root, self.limits)
        self._running[ticket] = (item, future, self._pool)
        future.add_done_callback(lambda _, ticket=ticket: self._finished.put(ticket))

    def next_outcome(self, timeout: float | None = None) -> BatchOutcome | None:
        """Return the outcome of the next submission that finishes, or None when none does within `timeout`
        seconds (None: wait as long as it takes)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            try:
                ticket = self._finished.get(timeout=None if deadline is None else max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                return None
            item, future, pool = self._running.pop(ticket)
            if (pool is not None and not future.cancelled() and isinstance(future.exception(), BrokenProcessPool)
                    and self._attempts[ticket] < MAX_ATTEMPTS):  # its worker died: again, on a new pool
                if pool is self._pool:
                    self._restart_pool()
                self._send(ticket, item)
                continue
            del self._attempts[ticket]
            return _outcome(item, future)

    def _new_pool(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(max_workers=self.workers, mp_context=worker_context(), initializer=_worker_init)

    def _restart_pool(self) -> None:
        """Replace a broken pool (a worker died: killed, out of memory) by a fresh one, warmed up again."""
        broken, self._pool = self._pool, self._new_pool()
        broken.shutdown(wait=True)
        if self._lesson:
            self.warm_up(self._lesson)

    def close(self) -> None:
        """Stop grading: queued submissions are dropped, running ones abandoned, and each local worker
        stops its sandboxes and ends; a Dask cluster started here is closed, a running one left as it is."""
        if self._client is not None:
            with suppress(Exception):
                self._client.cancel([future for _, future, _ in self._running.values()] + self._warming)
            self._client.close()
            if self._cluster is not None:
                self._cluster.close()
            self._client = self._cluster = None
        elif self._pool is not None:
            pool, self._pool = self._pool, None
            processes = list((getattr(pool, "_processes", None) or {}).values())  # the executor keeps them here
            pool.shutdown(wait=False, cancel_futures=True)
            for process in processes:  # each stops its sandboxes (_stop_worker) and ends, busy or idle
                with suppress(OSError, ValueError):
                    process.terminate()
            for process in processes:
                process.join(5)
                if process.is_alive():
                    process.kill()
            pool.shutdown(wait=True)
        self._running.clear()


def grade_many(items: list[BatchItem], course_root: Path, workers: int | None = None, limits: dict | None = None,
               on_done: Callable[[BatchOutcome], None] | None = None,
               scheduler: str | None = None) -> dict[str, BatchOutcome]:
    """Return every item's outcome, grading `workers` at a time in worker processes, or on Dask workers
    when `scheduler` is "local" or a scheduler address."""
    outcomes: dict[str, BatchOutcome] = {}
    with Grader(course_root, workers, limits, scheduler) as grader:
        for item in items:
            grader.submit(item)
        while grader.in_flight:
            outcome = grader.next_outcome()
            outcomes[outcome.key] = outcome
            if on_done:
                on_done(outcome)
    return {item.key: outcomes[item.key] for item in items}


def _dask_client(scheduler: str, workers: int | None):
    """Return a Dask client for `scheduler` and the LocalCluster started for it ("local"), else None."""
    import logging

    from distributed import Client, LocalCluster

    cluster = None
    if scheduler == "local":
        import dask
        from distributed.utils import get_mp_context

        with dask.config.set({"distributed.worker.multiprocessing-method": "forkserver"}):
            context = get_mp_context()  # Dask's fork server, with the judge's light modules imported too
            context.set_forkserver_preload(["distributed", *WORKER_PRELOAD])
            cluster = LocalCluster(n_workers=workers or default_workers(), threads_per_worker=1, processes=True,
                                   dashboard_address=None, silence_logs=logging.ERROR)
    client = Client(cluster or scheduler)
    if cluster is not None:  # its worker processes share our terminal: Ctrl-C is ours to handle
        client.register_plugin(_quiet_interrupts_plugin()())
    return client, cluster


def _quiet_interrupts_plugin():
    """Return a Dask worker plugin that drops Ctrl-C in the worker processes of a LocalCluster started here
    (as _worker_init does for local workers)."""
    from distributed import WorkerPlugin

    class QuietInterrupts(WorkerPlugin):
        name = "autograder-quiet-interrupts"

        def setup(self, worker) -> None:
            if threading.current_thread() is threading.main_thread():
                signal.signal(signal.SIGINT, _not_for_workers)

    return QuietInterrupts
