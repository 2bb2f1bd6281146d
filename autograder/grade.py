"""Grade one submission: read it, run it in the sandbox with probes, judge with hidden pytest graders."""
from __future__ import annotations

import copy
import time
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import nbformat
import pytest
from nbformat import NotebookNode

from .budgets import budget_for, read_cell_times
from .config import Config
from .course import Lesson, get_lesson, lesson_grade_ids
from .execute import Execution, StepOutcome, execute, plan_steps
from .notebook import NotebookError, grade_id, lesson_of, read_notebook, restore_locked_cells, skip_ids
from .pytest_plugin import GradingSession, OutcomeCollector, ProvidedSession
from .results import ExerciseResult, SubmissionResult
from .sandbox import SandboxUnavailableError, bubblewrap_available
from .seeds import hidden_seed
from .warm import warm_sandbox

UNSANDBOXED = "none (UNSANDBOXED: student code ran without isolation)"
UNSANDBOXED_NOTE = ("UNSANDBOXED: this submission ran without bubblewrap isolation (allow_unsandboxed = true); "
                    "its code could read and change anything the grading user can")


class GraderError(RuntimeError):
    """The graders themselves could not run (an infrastructure failure, never a student's zero)."""


@dataclass(frozen=True)
class ProbedSubmission:
    """A submission executed in the sandbox: its probe records and everything needed to judge them."""

    lesson: Lesson
    seed: int
    inputs: dict
    records: dict[str, dict]
    execution: Execution
    notes: tuple[str, ...]
    notebook: NotebookNode  # as executed: locked cells restored


# what a cell's output says when the sandbox reports no message of its own (a step stopped by its budget)
STOPPED_BECAUSE = {"timeout": "this cell was stopped: it ran far longer than it should",
                   "crashed": "the Python process ended in this cell"}


def executed_notebook(probed: ProbedSubmission) -> NotebookNode:
    """Return the executed notebook: each run cell with its captured output and the student's error."""
    nb = copy.deepcopy(probed.notebook)
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        outcome = probed.execution.answer(grade_id(cell)) or probed.execution.cell(index)
        cell.outputs = []
        if outcome is None:
            continue
        if outcome.output:
            cell.outputs.append(nbformat.v4.new_output("stream", name="stdout", text=outcome.output))
        if outcome.status in ("error", "timeout", "crashed", "interfered"):
            error = outcome.error or {"ename": outcome.status.capitalize(),
                                      "evalue": outcome.message or STOPPED_BECAUSE.get(outcome.status, "")}
            cell.outputs.append(nbformat.v4.new_output("error", ename=str(error.get("ename", "")),
                                                       evalue=str(error.get("evalue", "")), traceback=[]))
    return nb


@cache
def _sandbox_ready() -> bool:
    return bubblewrap_available()


def require_sandbox(config: Config) -> None:
    """Raise SandboxUnavailableError unless student code can run isolated here (or the course allows
    running it without isolation)."""
    if not config.allow_unsandboxed and not _sandbox_ready():
        raise SandboxUnavailableError("bubblewrap cannot run here (apt-get install bubblewrap); "
                                      "set allow_unsandboxed only where you accept running student code unisolated")


def submitted_files(notebook: Path, names: tuple[str, ...], max_mb: int) -> tuple[dict[str, Path], list[str]]:
    """Return the side files found beside the notebook (regular files under the size cap), and notes."""
    found, notes = {}, []
    for name in names:
        path = notebook.parent / name
        if not path.exists():
            continue
        if path.is_symlink() or not path.is_file():
            notes.append(f"`{name}` is not a regular file and was ignored")
        elif path.stat().st_size > max_mb << 20:
            notes.append(f"`{name}` is larger than {max_mb} MB and was ignored")
        else:
            found[name] = path.resolve()
    return found, notes


def open_submission(notebook: Path, config: Config, lesson: str | None = None) -> tuple[Lesson, NotebookNode, list[str]]:
    """Return the submission's lesson and notebook, locked cells restored, with notes on what was restored."""
    nb = read_notebook(notebook)
    name = lesson or lesson_of(nb, lesson_grade_ids(config.course_root))
    if name is None:
        raise NotebookError(f"{Path(notebook).name}: no exercise of any lesson in this course was found; pass --lesson")
    code_cells = sum(cell.cell_type == "code" for cell in nb.cells)
    if code_cells > config.limits.max_code_cells:
        raise NotebookError(f"{Path(notebook).name}: {code_cells} code cells; at most {config.limits.max_code_cells} are graded")
    the_lesson = get_lesson(config.course_root, name)
    nb, notes = restore_locked_cells(nb, the_lesson.released)
    return the_lesson, nb, notes


def run_notebook(lesson: Lesson, nb: NotebookNode, notebook: Path, config: Config,
                 probe_inputs: dict[str, dict], budgeted: bool = True) -> tuple[Execution, list[str]]:
    """Return the sandboxed execution of a submission (probes for `probe_inputs`) and notes on its files.
    Each step runs within the budget derived from the reference's time for it (`budgeted`), else within
    the configured cell timeout."""
    require_sandbox(config)
    files, notes = submitted_files(Path(notebook), lesson.spec.submitted_files, config.limits.max_weight_file_mb)
    times = read_cell_times(lesson.cell_times_file) if budgeted else {}
    steps = plan_steps(nb, probe_inputs, skip_ids(lesson.released), lambda key: budget_for(key, times, config.limits))
    job = {"lesson": lesson.name, "files": sorted(files), "seed": 0, "output_cap": config.limits.output_kb << 10,
           "output_total": config.limits.output_total_kb << 10}
    return execute(steps, job, files, config, *sandbox_spec(lesson), while_starting=lambda: warm_up_judge(lesson),
                   probes=lesson.probes_file), notes


def sandbox_spec(lesson: Lesson) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Return what the lesson's sandbox imports before any submission, and the data files it mounts."""
    return lesson.spec.preload, lesson.spec.data_files


def start_sandbox(lesson: Lesson, config: Config) -> float:
    """Start this process's warm sandbox for `lesson` unless it runs already, importing the judge (torch,
    the reference solutions) meanwhile; return the seconds spent. A fresh grading worker calls this
    first, so that its two big imports, trusted and sandboxed, overlap."""
    require_sandbox(config)
    return warm_sandbox(config, lesson.name, *sandbox_spec(lesson), lambda: warm_up_judge(lesson),
                        lesson.probes_file)[1]


def warm_up_judge(lesson: Lesson) -> None:
    """Import what the judge needs (torch, the reference solutions, the probes, the graders' test modules
    through a first pytest collection) while a sandbox starts."""
    import torch  # noqa: F401  (reference probes run on torch)

    lesson.solutions()
    lesson.probes()
    pytest.main([*judge_arguments(lesson), "--collect-only"])  # the modules stay imported for every later session


def judge_arguments(lesson: Lesson) -> list[str]:
    """Return the pytest arguments of a judge session over the lesson's hidden graders."""
    return [str(lesson.home), "-p", "no:cacheprovider", "-p", "no:terminal", "-p", "no:unraisableexception",
            "--rootdir", str(lesson.root)]


def probe_submission(notebook: Path, config: Config, lesson: str | None = None, seed: int | None = None,
                     budgeted: bool = True) -> ProbedSubmission:
    """Return the probe records of a notebook run in the sandbox (raises NotebookError if ungradable);
    without `budgeted`, every step may take the configured cell timeout (to measure the reference)."""
    the_lesson, nb, notes = open_submission(notebook, config, lesson)
    seed = hidden_seed(config.course_root, the_lesson.name, "") if seed is None else seed
    inputs = the_lesson.spec.hidden_inputs(seed)
    execution, file_notes = run_notebook(the_lesson, nb, notebook, config,
                                         {e.id: inputs.get(e.id, {}) for e in the_lesson.exercises}, budgeted)
    records = {}
    for exercise in the_lesson.exercises:
        outcome = execution.probe(exercise.id)
        records[exercise.id] = {"status": outcome.status, "data": outcome.data}
    return ProbedSubmission(the_lesson, seed, inputs, records, execution, tuple(notes + file_notes), nb)


def grading_session(probed: ProbedSubmission, config: Config) -> GradingSession:
    """Return what the hidden graders judge of a probed submission."""
    return GradingSession(probed.lesson.name, probed.seed, probed.inputs, probed.records, config.course_root)


def run_graders(probed: ProbedSubmission, config: Config) -> list[dict]:
    """Return one record per hidden test (exercise, weight, outcome, feedback), from pytest."""
    collector = OutcomeCollector()
    code = pytest.main(judge_arguments(probed.lesson), plugins=[collector, ProvidedSession(grading_session(probed, config))])
    if code not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
        raise GraderError(f"the hidden graders of {probed.lesson.name} could not run (pytest exit code {int(code)})")
    broken = [r["detail"] for r in collector.records if r.get("internal")]
    if broken:
        raise GraderError(broken[0])
    return collector.records


NO_ANSWER = "No answer was found for this exercise: check that its cell defines what the exercise names, and run it."
UNEXPLAINED_FAILURE = ("Some hidden checks failed on this exercise; re-read the cell's wording and the public test "
                       "cell.")


def score_exercise(exercise: str, points: float, probe: StepOutcome, answer: StepOutcome | None,
                   tests: list[dict], cell_timeout: float) -> ExerciseResult:
    """Return one exercise's grade from its answer cell, its probe and its hidden tests."""
    fail = lambda outcome, feedback, detail="": ExerciseResult(exercise, outcome, 0.0, points, feedback, detail)
    if answer is not None and answer.status == "timeout" and answer.ran_out_of == "notebook":
        return fail("timeout", "Your answer cell was still running when the notebook's total time ran out, "
                               "and was stopped.", answer.message)
    if answer is not None and answer.status == "timeout":
        return fail("timeout", f"Your answer cell {_overran(answer, cell_timeout)}.", answer.message)
    if answer is not None and answer.status == "crashed":
        return fail("error", f"Your answer cell ended the Python process ({answer.message}); it was skipped.")
    if answer is not None and answer.status == "interfered":
        return fail("error", f"Your answer cell was skipped: {answer.message}.")
    if probe.status == "interfered":
        return fail("error", f"Your code was not graded: while the grader called it, {probe.message}.")
    cell_error = ""
    if answer is not None and answer.status == "error" and answer.error:
        cell_error = f" Your answer cell raised {answer.error.get('ename')}: {answer.error.get('evalue', '')[:200]}"
        cell_error = cell_error.rstrip(": ") + "."
    if probe.status == "error" and probe.error.get("ename") == "NotImplementedError":
        return fail("missing", "Not answered yet: the answer cell still raises NotImplementedError; "
                                "replace that line with your code.")
    if probe.status == "missing":
        return fail("missing", (probe.message or NO_ANSWER) + cell_error)
    if probe.status == "error":
        error = probe.error
        return fail("error", f"Calling your code on the grader's inputs raised {error.get('ename', 'an error')}: "
                             f"{error.get('evalue', '')[:300]}".rstrip(": ") + ". Call it yourself with inputs of "
                             "other sizes and values than the notebook's, and read where it stops.",
                    error.get("summary", ""))
    if probe.status in ("timeout", "not_run"):
        return fail("timeout", probe.message or f"When the grader called it, your code {_overran(probe, cell_timeout)}.")
    if probe.status != "ok":
        return fail("error", f"Your code ended the Python process when the grader called it ({probe.message}): "
                             "remove exit() or os._exit() calls and very large allocations.")
    if not tests:
        return fail("error", "This exercise has no hidden grader; please tell your instructor.",
                    "no tests collected for this exercise")
    total = sum(t["weight"] for t in tests)
    earned = sum(t["weight"] for t in tests if t["outcome"] == "passed")
    score = round(points * earned / total, 4) if total else 0.0
    failing = list(dict.fromkeys(t["feedback"] for t in tests if t["outcome"] != "passed" and t["feedback"]))
    detail = "; ".join(f"{t['nodeid'].split('::')[-1]}: {t['outcome']}" for t in tests if t["outcome"] != "passed")
    detail += "".join("\n" + t["detail"] for t in tests if t.get("detail"))
    if earned == total:
        return ExerciseResult(exercise, "passed", points, points, "All checks passed.")
    return ExerciseResult(exercise, "failed", score, points, " ".join(failing[:3]) or UNEXPLAINED_FAILURE, detail)


def _overran(outcome: StepOutcome, cell_timeout: float) -> str:
    """Return how a step that timed out overran its budget, in words for the student."""
    budget = outcome.budget
    if budget is None or budget.cpu is None:
        return f"did not finish within {cell_timeout:.0f} s (an endless loop?) and was stopped"
    return (f"did not finish: it ran far longer than it should and was stopped after {budget.cpu:.0f} s of "
            f"computing ({budget.wall:.0f} s in all), many times what it needs (an endless loop?)")


def grade_submission(notebook: Path, config: Config, lesson: str | None = None, seed: int | None = None,
                     executed_to: Path | None = None) -> SubmissionResult:
    """Return the grade of one submitted notebook (raises NotebookError for input that cannot be graded);
    with `executed_to`, also write the executed notebook there."""
    started = time.monotonic()
    return judge_submission(probe_submission(notebook, config, lesson, seed), config, started, executed_to)


def measure_submission(notebook: Path, config: Config, lesson: str | None = None,
                       seed: int | None = None) -> tuple[SubmissionResult, dict[str, float]]:
    """Return the grade of a notebook run without step budgets (the reference, for `validate`) and the
    CPU seconds of each of its steps, by the key budgets are recorded under."""
    started = time.monotonic()
    probed = probe_submission(notebook, config, lesson, seed, budgeted=False)
    return judge_submission(probed, config, started), probed.execution.cpu_seconds_by_key()


def judge_submission(probed: ProbedSubmission, config: Config, started: float, executed_to: Path | None = None) -> SubmissionResult:
    """Return the grade of a probed submission: hidden graders run, each exercise scored, notes gathered."""
    executed = time.monotonic()
    if executed_to:
        Path(executed_to).parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(executed_notebook(probed), executed_to)
    tests = run_graders(probed, config)
    results = []
    for exercise in probed.lesson.exercises:
        mine = [t for t in tests if t["exercise"] == exercise.id]
        results.append(score_exercise(exercise.id, exercise.points, probed.execution.probe(exercise.id),
                                      probed.execution.answer(exercise.id), mine, config.limits.cell_timeout))
    runs = probed.execution.runs
    timings = {"sandbox_start": round(probed.execution.preload_seconds, 3),
               "execution": round(probed.execution.wall_seconds, 3),
               "grading": round(time.monotonic() - executed, 3),
               "total": round(time.monotonic() - started, 3), "sandbox_runs": len(runs)}
    notes = list(probed.notes)
    notes += [f"{sid.label} was skipped on a re-run ({o.message})" for sid, o in
              probed.execution.outcomes.items() if o.status in ("timeout", "crashed", "interfered") and o.message]
    if probed.execution.limits_note:
        notes.append(probed.execution.limits_note)
    sandbox = UNSANDBOXED if config.allow_unsandboxed else "bubblewrap"
    if config.allow_unsandboxed:  # loud in every result, not only in a field nobody reads
        notes.insert(0, UNSANDBOXED_NOTE)
    return SubmissionResult(probed.lesson.name, tuple(results), probed.seed, sandbox, timings, tuple(notes))
