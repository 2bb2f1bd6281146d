"""Execute a submission in the sandbox: cells in order, each exercise's probe right after its test cell.

A step that kills or hangs the sandbox, or interferes with the grader (breaks the message protocol), is
recorded and the notebook is run again without it in a fresh sandbox, so one infinite loop, `os._exit`
or forged message costs that step only. Every wait has a deadline no message can extend."""
from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from nbformat import NotebookNode

from .budgets import StepBudget, cell_key, probe_key
from .config import Config
from .notebook import cell_index, grade_id, is_skipped
from .protocol import JobProtocol, ProtocolViolation, StepEnd
from .sandbox import SandboxRun
from .sandboxed.runner import ORPHANED, RUNNER_FAILED
from .warm import SandboxStartError, WarmSandbox, warm_sandbox

StepStatus = Literal["ok", "error", "timeout", "crashed", "interfered", "missing", "skipped", "not_run"]
StepKind = Literal["cell", "answer", "probe"]
TimeLimit = Literal["step", "notebook"]  # which budget stopped a step that timed out
MAX_RERUNS = 3
READY_WAIT = 60.0  # a fresh fork is ready in well under a second, even on a loaded machine
INTERFERED = "the notebook interfered with the grader"
START_UP = "start-up"  # the culprit when no step ran: the sandbox itself did not start


@dataclass(frozen=True)
class StepId:
    """Which step: a notebook cell (by index), an exercise's answer cell, or an exercise's probe. Its text
    names the step to the sandbox; nothing parses it back (the protocol hands back the id it was given)."""

    kind: StepKind
    key: str  # the cell's index, or the exercise's id

    @classmethod
    def cell(cls, index: int) -> "StepId":
        """Return the id of the notebook's code cell at `index`, run as a plain cell."""
        return cls("cell", str(index))

    @classmethod
    def answer(cls, exercise: str) -> "StepId":
        """Return the id of an exercise's answer cell."""
        return cls("answer", exercise)

    @classmethod
    def probe(cls, exercise: str) -> "StepId":
        """Return the id of an exercise's probe."""
        return cls("probe", exercise)

    def __str__(self) -> str:
        return f"{self.kind}-{self.key}"

    @property
    def label(self) -> str:
        """Return the step as a reader names it ("answer identity_tensor", "cell 12")."""
        return f"{self.kind} {self.key}"


@dataclass(frozen=True)
class Step:
    """One unit of sandboxed work: a notebook cell, or the probe of one exercise."""

    id: StepId
    source: str = ""
    inputs: dict = field(default_factory=dict)
    key: str = ""  # what the reference's time for this step is recorded under (budgets.py)
    budget: StepBudget | None = None  # None: the configured cell timeout, wall clock only

    @property
    def kind(self) -> Literal["cell", "probe"]:
        return "probe" if self.id.kind == "probe" else "cell"

    def limit(self, cell_timeout: float) -> StepBudget:
        """Return how long this step may run."""
        return self.budget or StepBudget(None, cell_timeout)

    def job(self, cell_timeout: float) -> dict:
        """Return the step as the sandbox's runner reads it (its id as text, its time limits)."""
        body = {"source": self.source} if self.kind == "cell" else {"exercise": self.id.key, "inputs": self.inputs}
        limit = self.limit(cell_timeout)
        return {"id": str(self.id), "kind": self.kind, "timeout": limit.wall, "cpu_timeout": limit.cpu, **body}


@dataclass(frozen=True)
class StepOutcome:
    """What one step did: status, the student's error (type and message), output and probe data."""

    status: StepStatus
    seconds: float = 0.0
    output: str = ""
    error: dict = field(default_factory=dict)
    message: str = ""
    data: object = None
    ran_out_of: TimeLimit | None = None  # for a timeout: the step's own budget, or the notebook's
    budget: StepBudget | None = None  # the step's own budget, when it ran out of it
    cpu_seconds: float = 0.0  # as the sandbox reported it (trusted only for the reference's record)


@dataclass(frozen=True)
class Execution:
    """Every step's outcome, and the sandbox runs it took."""

    outcomes: dict[StepId, StepOutcome]
    runs: tuple[SandboxRun, ...]
    preload_seconds: float
    wall_seconds: float
    limits_note: str = ""  # where limits could not be set for the sandbox as a whole
    steps: tuple[Step, ...] = ()

    def cpu_seconds_by_key(self) -> dict[str, float]:
        """Return the CPU seconds of every step that ran to its end, by the key budgets are recorded under."""
        seconds: dict[str, float] = {}
        for step in self.steps:
            outcome = self.outcomes.get(step.id)
            if step.key and outcome is not None and outcome.status in ("ok", "error", "missing"):
                seconds[step.key] = max(seconds.get(step.key, 0.0), outcome.cpu_seconds)
        return seconds

    def probe(self, exercise: str) -> StepOutcome:
        """Return the outcome of an exercise's probe (every planned probe has one)."""
        return self.outcomes[StepId.probe(exercise)]

    def answer(self, exercise: str) -> StepOutcome | None:
        """Return the outcome of an exercise's answer cell, None if the notebook has none."""
        return self.outcomes.get(StepId.answer(exercise))

    def cell(self, index: int | None) -> StepOutcome | None:
        """Return the outcome of the code cell at `index` run as a plain cell, None if it was not."""
        return None if index is None else self.outcomes.get(StepId.cell(index))


def plan_steps(nb: NotebookNode, probe_inputs: dict[str, dict], skip_ids: set[str],
               budget_of: Callable[[str], StepBudget | None] = lambda key: None) -> list[Step]:
    """Return the steps for a notebook: its code cells, with each exercise's probe after its anchor cell,
    each step with the budget `budget_of` gives its key."""
    anchors: dict[int, list[str]] = {}
    unanchored = []
    for exercise in probe_inputs:
        at = cell_index(nb, f"test_{exercise}")
        at = cell_index(nb, exercise) if at is None else at
        (anchors.setdefault(at, []) if at is not None else unanchored).append(exercise)
    steps, answered = [], set()
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and not is_skipped(cell, skip_ids):
            gid = grade_id(cell)
            name = StepId.answer(gid) if gid in probe_inputs and gid not in answered else StepId.cell(index)
            answered.add(gid)
            steps.append(Step(name, source=cell.source, key=cell_key(cell), budget=budget_of(cell_key(cell))))
        for exercise in anchors.get(index, []):
            steps.append(_probe_step(exercise, probe_inputs[exercise], budget_of))
    steps += [_probe_step(e, probe_inputs[e], budget_of) for e in unanchored]
    return steps


def _probe_step(exercise: str, inputs: dict, budget_of: Callable[[str], StepBudget | None]) -> Step:
    return Step(StepId.probe(exercise), inputs=inputs, key=probe_key(exercise), budget=budget_of(probe_key(exercise)))


def _outcome(end: StepEnd, step: Step) -> StepOutcome:
    status = "timeout" if end.status in ("interrupted", "timeout") else end.status
    ran_out = status == "timeout"
    return StepOutcome(status, end.seconds, end.output, end.error, end.message, end.data, "step" if ran_out else None,
                       step.budget if ran_out else None, end.cpu_seconds)


def _run_once(steps: list[Step], skip: dict[StepId, StepOutcome], job: dict, warm: WarmSandbox,
              files: dict[str, Path], config: Config, deadline: float,
              outcomes: dict[StepId, StepOutcome]) -> tuple[SandboxRun, StepId | str | None, str]:
    """Run the steps not in `skip` once in a forked state of `warm`; return the run, the step that hung,
    crashed or interfered with it (None if none) and, if the job broke the protocol, how."""
    limits = config.limits
    todo = [s for s in steps if s.id not in skip]
    planned = {s.id: s for s in todo}
    protocol = JobProtocol(secrets.token_hex(8), [s.id for s in todo], job["output_cap"], job["output_total"])
    run = warm.run({**job, "id": protocol.job_id, "steps": [s.job(limits.cell_timeout) for s in todo]}, files)
    current, last = None, None
    step_deadline = time.monotonic() + READY_WAIT
    try:
        while True:
            line = run.next_line(min(step_deadline, deadline))
            if line is None:  # the job ended: normally after "done", else a step crashed it
                culprit = None if protocol.state == "done" else current or (START_UP if protocol.state == "new" else last)
                return run.finish(), culprit, ""
            kind, payload = protocol.accept(line)
            wait = limits.cell_timeout
            if kind == "start":
                current = payload
                wait = planned[payload].limit(limits.cell_timeout).wall  # the sandbox interrupts it by then
            elif kind == "end":
                outcomes[payload.id] = _outcome(payload, planned[payload.id])
                current, last = None, payload.id
            elif kind == "done":
                step_deadline = time.monotonic() + limits.grace  # the job must now end by itself
                continue
            elif kind == "runner-error":
                run.failure = payload
            step_deadline = time.monotonic() + wait + limits.grace
    except TimeoutError:
        run.kill()
        culprit = None if protocol.state == "done" else current or (START_UP if protocol.state == "new" else last)
        return run.finish(), culprit, ""
    except ProtocolViolation as exc:
        run.abandon()
        culprit = None if protocol.state == "done" else current or last or (todo[0].id if todo else None)
        return run.finish(), culprit, str(exc)
    except BaseException:
        run.abandon()  # whatever went wrong here, that sandbox is not used again
        raise


def execute(steps: list[Step], job: dict, files: dict[str, Path], config: Config, preload: tuple[str, ...],
            data_files: tuple[str, ...], while_starting: Callable[[], None] | None = None,
            probes: Path | None = None) -> Execution:
    """Return the outcome of every step, re-running without any step that hangs or kills the sandbox.
    Runs in this process's warm sandbox for the lesson (started here if needed, `while_starting` meanwhile)."""
    started = time.monotonic()
    deadline = started + config.limits.notebook_timeout
    outcomes: dict[StepId, StepOutcome] = {}
    skip: dict[StepId, StepOutcome] = {}
    runs, start_seconds, culprit, reason, limits_note = [], 0.0, None, "", ""
    suspected: set[StepId] = set()  # steps during which the sandbox itself died once
    while len(skip) <= MAX_RERUNS and len(suspected) <= MAX_RERUNS:  # a fresh re-run is not a skip
        outcomes.clear()
        try:
            warm, seconds = warm_sandbox(config, job["lesson"], preload, data_files, while_starting, probes)
        except SandboxStartError as exc:
            culprit, reason = START_UP, str(exc)
            break
        start_seconds += seconds
        limits_note = warm.limits_note
        deadline += seconds  # the notebook's budget is the student's: starting a sandbox is not
        run, culprit, violation = _run_once(steps, skip, job, warm, files, config, deadline, outcomes)
        runs.append(run)
        if violation:  # that sandbox is gone; the step that carried the violation is skipped, in a fresh one
            if culprit is not None:
                skip[culprit] = StepOutcome("interfered", message=f"{INTERFERED}: {violation}")
            if culprit is None or time.monotonic() >= deadline:
                break
            continue
        if culprit == START_UP:
            reason = "the sandbox did not start: " + (run.stderr.strip().splitlines() or [_describe_exit(run)])[-1][:300]
        if culprit is None or culprit == START_UP or time.monotonic() >= deadline:
            break
        hung = run.status == "timeout"
        if not hung and warm.broken and culprit not in suspected:
            suspected.add(culprit)  # the whole sandbox died: maybe not this step's doing; once more, fresh
            continue
        why = "it ignored the interrupt at its time limit" if hung else _describe_exit(run)
        skip[culprit] = StepOutcome("timeout" if hung else "crashed", message=why, ran_out_of="step" if hung else None,
                                    budget=next((s.budget for s in steps if s.id == culprit), None) if hung else None)
    outcomes.update(skip)
    if culprit == START_UP:
        for step in steps:
            outcomes.setdefault(step.id, StepOutcome("crashed", message=reason))
    elif culprit is not None:  # out of reruns or notebook time: everything unfinished is recorded as such
        over_time = time.monotonic() >= deadline
        outcomes.setdefault(culprit, StepOutcome("timeout", message="the notebook ran out of time here", ran_out_of="notebook")
                            if over_time else StepOutcome("crashed", message="the process ended here"))
    for step in steps:
        outcomes.setdefault(step.id, StepOutcome("not_run", message="not reached: an earlier cell used up the notebook's time"))
    return Execution(outcomes, tuple(runs), start_seconds, time.monotonic() - started, limits_note, tuple(steps))


def _describe_exit(run: SandboxRun) -> str:
    if run.signal is None and run.exit_code is None:
        return "the whole grading sandbox ended during it (the step killed its server, or it was killed from outside)"
    if run.signal:
        return f"killed by signal {run.signal}" + (" — out of memory?" if run.signal == 9 else "")
    if run.exit_code == ORPHANED:
        return "it killed the grading sandbox's server"
    if run.exit_code == RUNNER_FAILED and run.stderr.strip():
        return f"the runner failed: {run.stderr.strip().splitlines()[-1][:200]}"
    return f"exit code {run.exit_code}"
