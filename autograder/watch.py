"""Grade submissions as they arrive (`autograder watch LESSON`): warm workers kept running, every new or
changed submission under submitted/<student>/<lesson>/ graded once it is complete, its result, feedback
page and gradebook row written as `autograde` and `feedback` write them (the page right after the result,
so that the student does not wait for the gradebook).

The tree is polled with a stat-only scan (no file is read until its folder is quiet). A folder is read
once nothing in it was written, created or renamed for `settle` seconds (by ctime, which no copy tool
can set back) if it looks complete: its notebook parses, every file the lesson asks for is there and
each zip (torch weights) has its central directory, which a file still being written has not. A folder
that does not look complete is read once it has been quiet for `patience` seconds (it may be what the
student handed in: no weights, a broken notebook). A folder that changes while it is graded gets that grade thrown away (it
may have been read half-written) and is graded again once quiet. Grading goes through the same
functions as `autograde` (`pending_work`, `settle_outcome`, `resync`): a stored grade whose submission
and graders have not changed stands, so a restart grades only what is new. Only this process writes
results, the gradebook and feedback, in one thread of its own (`Store`), so that scanning and handing out
work never wait for the gradebook; workers only grade."""
from __future__ import annotations

import json
import os
import queue
import signal
import sys
import threading
import time
import zipfile
from collections import deque
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from .autograde import ClassOutcome, Pending, pending_work, read_submission, resync, result_path, settle_outcome
from .batch import BatchOutcome, Grader, default_workers
from .config import Config
from .course import get_lesson
from .seeds import graders_fingerprint

SETTLE = 0.1  # seconds a folder that looks complete must be quiet before it is read
PATIENCE = 2.0  # seconds after which a quiet folder that does not look complete is graded as it is
POLL = 0.1  # seconds between two scans of submitted/
GRADERS_CHECK = 2.0  # seconds between two checks that the graders did not change


Signature = tuple[tuple[str, int, int, int], ...]  # (name, size, mtime_ns, ctime_ns) of each entry


def scan_folder(folder: Path) -> tuple[Signature, float] | None:
    """Return what a submission folder looks like (its entries' sizes and times) and the wall time of its
    newest change (a file written, created, removed or renamed), or None when it is gone. Stat only."""
    try:
        newest = folder.stat().st_ctime
        entries = []
        with os.scandir(folder) as found:
            for entry in found:
                stat = entry.stat(follow_symlinks=False)
                entries.append((entry.name, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns))
                newest = max(newest, stat.st_ctime)
    except OSError:
        return None
    return tuple(sorted(entries)), newest


def looks_complete(notebook: Path, folder: Path, side_files: tuple[str, ...]) -> bool:
    """Return True when the notebook parses as JSON, every side file the lesson asks for is there and each
    that is a zip archive (torch weights) has its central directory: nothing is still being written."""
    try:
        json.loads(notebook.read_bytes())
        for name in side_files:
            path = folder / name
            if not os.path.lexists(path):
                return False
            if path.is_file() and not path.is_symlink():
                with open(path, "rb") as handle:
                    is_zip = handle.read(4) == b"PK\x03\x04"
                if is_zip and not zipfile.is_zipfile(path):
                    return False
    except (OSError, ValueError, RecursionError):
        return False
    return True


def percentile(values: list[float], q: float) -> float:
    """Return the q-quantile of `values` (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


@dataclass
class Tracked:
    """One submission folder as the watcher knows it."""

    folder: Path
    signature: Signature = ()
    newest: float = 0.0  # wall time of its newest change
    handled: Signature | None = None  # the version whose grade stands, is being made, or failed
    seen: bool = False  # looked at once this session (a stored grade is then re-synced once)


@dataclass(frozen=True)
class Flight:
    """A submission given to the workers."""

    work: Pending
    signature: Signature
    arrived: float  # wall time its folder was complete (its newest change)
    given: float  # wall time it was given to the workers
    counted: bool  # it arrived while watching (not a backlog found at start): its latency counts


@dataclass(frozen=True)
class Stored:
    """What the store did with one grade (or stored grade), for the loop to count and log."""

    student: str
    outcome: ClassOutcome
    latency: float | None = None
    split: tuple[float, float, float] | None = None
    why: str = ""
    resynced: bool = False


class Store(threading.Thread):
    """The one thread that writes: each grade as it comes back (result.json, then its feedback page, then its
    gradebook row), and, while no grade waits, the gradebook rows of grades stored before this session
    (`resync`), so that new grades never queue behind a whole class of them."""

    def __init__(self, write_grade: Callable[..., Stored], write_resync: Callable[[Pending], Stored]):
        super().__init__(name="autograder-store", daemon=True)
        self.write_grade, self.write_resync = write_grade, write_resync
        self.grades: deque[tuple] = deque()
        self.resyncs: deque[Pending] = deque()
        self.done: queue.SimpleQueue[Stored] = queue.SimpleQueue()
        self.lock, self.wake = threading.Lock(), threading.Event()
        self.busy = self.closing = False

    @property
    def pending(self) -> int:
        """Return how many writes are waiting or under way."""
        with self.lock:
            return len(self.grades) + len(self.resyncs) + self.busy

    def grade(self, *job) -> None:
        self.grades.append(job)
        self.wake.set()

    def resync(self, work: Pending) -> None:
        self.resyncs.append(work)
        self.wake.set()

    def close(self) -> None:
        """Write every grade that came back, drop the re-syncs left (the next start does them), and end."""
        self.closing = True
        self.wake.set()
        self.join()

    def run(self) -> None:
        while True:
            with self.lock:
                job = (self.write_grade, *self.grades.popleft()) if self.grades else (
                    (self.write_resync, self.resyncs.popleft()) if self.resyncs and not self.closing else None)
                self.busy = job is not None
            if job is None:
                if self.closing:
                    return
                self.wake.wait(0.1)
                self.wake.clear()
                continue
            try:
                self.done.put(job[0](*job[1:]))
            except Exception as exc:  # noqa: BLE001 (a bug of ours costs that write, never the others)
                work = job[1] if isinstance(job[1], Pending) else job[2].work
                self.done.put(Stored(work.submission.student, ClassOutcome(work.submission.student, "not recorded",
                                                                           None, f"{type(exc).__name__}: {exc}")))
            finally:
                with self.lock:
                    self.busy = False


@dataclass(frozen=True)
class Event:
    """One line of the watcher's log."""

    at: float
    student: str
    what: str  # graded | failed | already graded | superseded | note
    text: str
    latency: float | None = None  # seconds from complete to feedback written
    split: tuple[float, float, float] | None = None  # of which: to a worker, grading, storing


@dataclass
class Stats:
    """What the live view shows."""

    graded: int = 0
    failed: int = 0
    already: int = 0
    superseded: int = 0
    abandoned: int = 0  # still being graded when it stopped: graded by the next run
    latencies: list[float] = field(default_factory=list)
    splits: list[tuple[float, float, float]] = field(default_factory=list)  # to a worker, grading, storing
    recent: deque = field(default_factory=lambda: deque(maxlen=8))


class Watcher:
    """Grades every new or changed submission of a lesson as it arrives, on warm workers, until stopped."""

    def __init__(self, config: Config, lesson: str, workers: int | None = None, scheduler: str | None = None,
                 settle: float = SETTLE, patience: float = PATIENCE, poll: float = POLL, limits: dict | None = None,
                 on_event: Callable[[Event], None] | None = None, on_tick: Callable[[], None] | None = None):
        self.config, self.lesson = config, get_lesson(config.course_root, lesson)
        self.workers, self.scheduler, self.limits = workers or default_workers(), scheduler, limits
        self.settle, self.patience, self.poll = settle, patience, poll
        self.on_event, self.on_tick = on_event, on_tick
        self.side_files = self.lesson.spec.submitted_files
        self.tracked: dict[str, Tracked] = {}
        self.flights: dict[str, Flight] = {}
        self.store = Store(self._write_grade, self._write_resync)
        self.stats = Stats()
        self.stop = threading.Event()
        self.grader: Grader | None = None
        self.graders = ""
        self.started = time.time()

    # ------------------------------------------------------------------ what the view reads
    @property
    def arriving(self) -> int:
        """Return how many folders changed and are not given to the workers yet (still being written,
        or waiting to be quiet)."""
        return sum(t.handled != t.signature and t.folder.parent.name not in self.flights for t in self.tracked.values())

    @property
    def grading(self) -> int:
        return min(len(self.flights), self.grader.workers if self.grader else self.workers)

    @property
    def queued(self) -> int:
        return len(self.flights) - self.grading

    @property
    def idle(self) -> bool:
        """Return True when everything seen is handled and nothing is being graded."""
        return (not self.flights and not self.store.pending and self.store.done.empty()
                and all(t.handled == t.signature for t in self.tracked.values()))

    # ------------------------------------------------------------------ the loop
    def run(self, once: bool = False) -> Stats:
        """Watch until stopped (`stop`, SIGINT, SIGTERM), or with `once` until everything pending is graded;
        return what was done. Grades still running when it stops are abandoned: a restart grades them."""
        from .release import ensure_in_gradebook

        ensure_in_gradebook(self.lesson)
        restore = self._catch_signals()
        self.store.start()
        try:
            self._start_grader()
            next_graders_check = time.monotonic() + GRADERS_CHECK
            while not self.stop.is_set():
                self._scan()
                wake = self._dispatch()
                if once and self.idle:
                    break
                if time.monotonic() >= next_graders_check:
                    next_graders_check = time.monotonic() + GRADERS_CHECK
                    self._check_graders()
                self._collect(min(self.poll, max(0.0, wake - time.time())))
                self._account()
                if self.on_tick:
                    self.on_tick()
        finally:
            self.stop.set()
            if self.grader is not None:
                self.grader.close()
            self.stats.abandoned = len(self.flights)
            self.flights.clear()
            self.store.close()
            self._account()
            restore()
        return self.stats

    def _catch_signals(self) -> Callable[[], None]:
        """Make SIGINT and SIGTERM stop the loop at its next step (a second Ctrl-C interrupts at once)."""
        if threading.current_thread() is not threading.main_thread():
            return lambda: None
        previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}

        def stop(signum, frame) -> None:
            if self.stop.is_set() and signum == signal.SIGINT:
                raise KeyboardInterrupt
            self.stop.set()

        for sig in previous:
            signal.signal(sig, stop)
        return lambda: [signal.signal(sig, handler) for sig, handler in previous.items() if handler is not None]

    def _start_grader(self) -> None:
        self.graders = graders_fingerprint(self.lesson)
        self.grader = Grader(self.config.course_root, self.workers, self.limits, self.scheduler)
        self.grader.warm_up(self.lesson.name)

    def _check_graders(self) -> None:
        """When the graders, probes, reference or calibration changed, start fresh workers (they import the
        new ones) and grade every submission again, as `autograde` would."""
        if graders_fingerprint(self.lesson) == self.graders:
            return
        self._event("", "note", "the graders changed: fresh workers, every submission is graded again")
        self.grader.close()
        self.flights.clear()
        self.store.resyncs.clear()
        for tracked in self.tracked.values():
            tracked.handled, tracked.seen = None, False
        self._start_grader()

    def _scan(self) -> None:
        """Stat every submission folder of the lesson; remember what changed and when."""
        present = set()
        for folder in (self.config.course_root / "submitted").glob(f"*/{self.lesson.name}"):
            student = folder.parent.name
            seen = scan_folder(folder)
            if seen is None:
                continue
            present.add(student)
            tracked = self.tracked.setdefault(student, Tracked(folder))
            tracked.signature, tracked.newest = seen
        for student in set(self.tracked) - present - set(self.flights):
            del self.tracked[student]  # removed: nothing to grade

    def _dispatch(self) -> float:
        """Give the workers every changed folder that is complete; return the wall time at which the next
        folder that is not quiet yet will be."""
        now, wake = time.time(), float("inf")
        for student in sorted(self.tracked):
            tracked = self.tracked[student]
            if tracked.handled == tracked.signature or student in self.flights:
                continue
            quiet = now - tracked.newest
            if quiet < self.settle:
                wake = min(wake, tracked.newest + self.settle)
                continue
            submission = read_submission(tracked.folder, self.lesson.name, self.side_files)
            if not looks_complete(submission.notebook, tracked.folder, self.side_files) and quiet < self.patience:
                wake = min(wake, tracked.newest + self.patience)
                continue
            again = scan_folder(tracked.folder)
            if again is None or again[0] != tracked.signature:  # written to while it was read: not yet
                if again is not None:
                    tracked.signature, tracked.newest = again
                    wake = min(wake, tracked.newest + self.settle)
                continue
            work = pending_work(self.config, self.lesson.name, submission, self.graders)
            tracked.handled = tracked.signature
            first_look, tracked.seen = not tracked.seen, True
            if work.item is None:  # its stored grade stands (same submission, same graders)
                if first_look:
                    self.store.resync(work)
                continue
            self.flights[student] = Flight(work, tracked.signature, tracked.newest, time.time(),
                                           tracked.newest >= self.started)
            self.grader.submit(work.item)
        return wake

    def _collect(self, timeout: float) -> None:
        """Store every grade that finishes within `timeout` seconds (then any that finished meanwhile)."""
        outcome = self.grader.next_outcome(timeout)
        while outcome is not None:
            self._finish(outcome)
            outcome = self.grader.next_outcome(0)

    def _finish(self, outcome: BatchOutcome) -> None:
        """Hand one grade to the store unless its folder changed while it was graded (then it is thrown away:
        it may have read the folder half-written; the folder is graded again once complete)."""
        back = time.time()
        flight = self.flights.pop(outcome.key, None)
        tracked = self.tracked.get(outcome.key)
        if flight is None or tracked is None:
            return
        now = scan_folder(tracked.folder)
        if now is None or now[0] != flight.signature:
            tracked.handled = None
            self.stats.superseded += 1
            self._event(outcome.key, "superseded", "changed while it was graded; graded again once complete")
            return
        self.store.grade(outcome, flight, back)

    def _write_grade(self, outcome: BatchOutcome, flight: Flight, back: float) -> Stored:
        """In the store: result.json, then the feedback page (the student's latency ends there), then the
        gradebook row."""
        from .feedback import write_feedback

        written: list[float | str] = []

        def feedback() -> None:
            try:
                write_feedback(self.config, self.lesson.name, [outcome.key])
                written.append(time.time())
            except Exception as exc:  # noqa: BLE001 (the disk, a record: this student's, never the loop's)
                written.append(f"its feedback page could not be written: {type(exc).__name__}: {exc}")

        done = settle_outcome(self.config, self.lesson.name, flight.work, outcome, on_stored=feedback)
        if written and isinstance(written[0], str):
            done = ClassOutcome(done.student, "not recorded", None, written[0])
        fed = written[0] if written and isinstance(written[0], float) else time.time()
        latency = fed - flight.arrived if flight.counted else None
        return Stored(outcome.key, done, latency, (flight.given - flight.arrived, back - flight.given, fed - back),
                      flight.work.why)

    def _write_resync(self, work: Pending) -> Stored:
        """In the store: a submission graded before this session: re-sync its gradebook row, and write its
        feedback page where it is missing or older than its grade."""
        from .feedback import feedback_path, write_feedback

        student = work.submission.student
        done = resync(self.config, self.lesson.name, work)
        page = feedback_path(self.config.course_root, self.lesson.name, student)
        stored = result_path(self.config, self.lesson.name, student)
        try:
            if not page.is_file() or page.stat().st_mtime < stored.stat().st_mtime:
                write_feedback(self.config, self.lesson.name, [student])
        except OSError:
            pass
        return Stored(student, done, resynced=True)

    def _account(self) -> None:
        """Count and log what the store did since the last call."""
        while True:
            try:
                stored = self.store.done.get_nowait()
            except queue.Empty:
                return
            done = stored.outcome
            if stored.resynced:
                self.stats.already += 1
                if done.action == "not recorded":
                    self.stats.failed += 1
                    self._event(stored.student, "failed", f"{done.action}: {done.error}")
            elif done.result is not None and done.action == "graded":
                self.stats.graded += 1
                if stored.latency is not None:
                    self.stats.latencies.append(stored.latency)
                    self.stats.splits.append(stored.split)
                why = "" if stored.why == "first grade" else f" ({stored.why})"
                self._event(stored.student, "graded", f"{done.result.score:g}/{done.result.max_score:g}{why}",
                            stored.latency, stored.split if stored.latency is not None else None)
            else:  # it cannot be graded (stored, with its reason), or we failed (left for a restart)
                self.stats.failed += 1
                what = {"graded": "cannot be graded", "not graded": "grader failed, left for a restart"}.get(
                    done.action, done.action)
                self._event(stored.student, "failed", f"{what}: {done.error}", stored.latency)

    def _event(self, student: str, what: str, text: str, latency: float | None = None,
               split: tuple[float, float, float] | None = None) -> None:
        event = Event(time.time(), student, what, text, latency, split)
        self.stats.recent.append(event)
        if self.on_event:
            self.on_event(event)


# ---------------------------------------------------------------------- the command's live view
STYLE = {"graded": "green", "failed": "red", "superseded": "yellow", "note": "cyan"}


def event_line(event: Event):
    """Return one log line for an event (student text is never read as markup)."""
    from rich.text import Text

    from .text import safe_text

    stamp = time.strftime("%H:%M:%S", time.localtime(event.at))
    latency = f" in {event.latency:.2f} s" if event.latency is not None else ""
    if event.split:
        latency += ": {:.2f} wait, {:.2f} grade, {:.2f} store".format(*event.split)
    return Text.assemble(f"{stamp} ", (event.what, STYLE.get(event.what, "")), " ",
                         (safe_text(event.student, 40), "bold"), f" {safe_text(event.text, 300)}{latency}")


def view(watcher: Watcher, backend: str):
    """Return the live view: workers, the queue, counts, latency percentiles and the latest events."""
    from rich.console import Group
    from rich.panel import Panel
    from rich.table import Table
    from rich.text import Text

    stats = watcher.stats
    warm, warming = watcher.grader.warm if watcher.grader else (0, 0)
    workers = f"{backend}, {'stopped' if watcher.stop.is_set() else 'warm' if warm == warming else f'warming up {warm}/{warming}'}"
    counts = Table.grid(padding=(0, 2))
    for _ in range(6):
        counts.add_column(justify="right")
    counts.add_row("arriving", "queued", "grading", "graded", "failed", "already graded")
    counts.add_row(str(watcher.arriving), str(watcher.queued), str(watcher.grading), Text(str(stats.graded), "green"),
                   Text(str(stats.failed), "red" if stats.failed else ""), str(stats.already))
    lat = stats.latencies
    latency = (Text(f"latency to feedback (n={len(lat)}): p50 {percentile(lat, .5):.2f} s  "
                    f"p90 {percentile(lat, .9):.2f} s  p99 {percentile(lat, .99):.2f} s")
               if lat else Text("latency to feedback: nothing graded yet", "dim"))
    recent = Table(box=None, show_header=False, pad_edge=False, expand=True)
    recent.add_column(no_wrap=True, overflow="ellipsis", ratio=1)
    for event in stats.recent:
        recent.add_row(event_line(event))
    superseded = f", {stats.superseded} superseded (changed while graded)" if stats.superseded else ""
    return Panel(Group(counts, latency, recent),
                 title=Text(f"watch {watcher.lesson.name}: {workers}"), title_align="left",
                 subtitle=Text(f"Ctrl-C stops; a restart resumes{superseded}", "dim"), subtitle_align="left")


def run_watch(config: Config, lesson: str, console, workers: int | None = None, scheduler: str | None = None,
              once: bool = False, settle: float = SETTLE) -> Stats:
    """Run the watcher with a rich live view on `console`, each event logged above it."""
    from rich.live import Live
    from rich.text import Text

    backend = (f"Dask {scheduler}" if scheduler and scheduler != "local" else
               f"Dask LocalCluster, {workers or default_workers()} workers" if scheduler else
               f"{workers or default_workers()} local workers")
    watcher = Watcher(config, lesson, workers, scheduler, settle=settle)
    from .notebook_page import page_renderer

    page_renderer()  # nbconvert's templates load now, not on the first student's page (not in a thread: nbgrader's
    # and nbconvert's packages import in cycles, which break when two threads import them at once)
    with Live(Text(f"watch {lesson}: starting ({backend}) …"), console=console, refresh_per_second=4,
              transient=False, redirect_stdout=False, redirect_stderr=False) as live:
        shown, ready = [0.0], [False]

        def tick() -> None:  # in the watcher's thread: the view is built from a consistent state
            warm, warming = watcher.grader.warm
            if not ready[0] and warming and warm == warming:
                ready[0] = True
                live.console.print(f"ready: {warming} workers warm, {time.time() - watcher.started:.1f} s after "
                                   "start", highlight=False)
            if time.monotonic() - shown[0] >= 0.25:
                shown[0] = time.monotonic()
                live.update(view(watcher, backend))

        watcher.on_event = lambda event: live.console.print(event_line(event), highlight=False, soft_wrap=True)
        watcher.on_tick = tick
        with _no_echo_of_ctrl_c():
            stats = watcher.run(once=once)
        live.update(view(watcher, backend))
    if not console.is_terminal:  # the last view is printed without its line end there
        console.line()
    return stats


@contextmanager
def _no_echo_of_ctrl_c():
    """At a terminal, keep Ctrl-C from echoing "^C" into the live view (it would shift it by a line)."""
    try:
        import termios

        fd = sys.stdin.fileno()
        saved = termios.tcgetattr(fd)
    except Exception:  # noqa: BLE001 (not a terminal: termios.error, OSError, ValueError, no termios)
        yield
        return
    quiet = list(saved)
    quiet[3] &= ~termios.ECHOCTL
    termios.tcsetattr(fd, termios.TCSANOW, quiet)
    try:
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSANOW, saved)
