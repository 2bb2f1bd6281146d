"""The engine's policy, mostly without a sandbox: step planning with typed ids, the time limit a timeout
names, step budgets from the reference's times, the one-way import order judge <- engine (milliseconds
each); and one sandboxed run proving an endless loop costs seconds (~10 s)."""
import subprocess
import sys
import time

import nbformat.v4 as v4
import pytest

from autograder.budgets import StepBudget, budget_for, read_cell_times, recheck_cell_times, stale_steps
from autograder.config import Limits
from autograder.execute import Execution, Step, StepId, StepOutcome, execute, plan_steps
from autograder.grade import score_exercise
from autograder.sandbox import bubblewrap_available


def graded_cell(grade_id: str, source: str):
    cell = v4.new_code_cell(source)
    cell.metadata["nbgrader"] = {"grade_id": grade_id, "solution": True}
    return cell


def test_plan_names_answers_probes_and_plain_cells_by_typed_ids():
    """Is every step named by kind and key, each probe right after its exercise's test cell?"""
    nb = v4.new_notebook(cells=[v4.new_code_cell("import torch"), graded_cell("ex", "x = 1"),
                                graded_cell("test_ex", "assert x"), v4.new_markdown_cell("text")])
    steps = plan_steps(nb, {"ex": {"n": 3}, "lost": {}}, set())
    assert [s.id for s in steps] == [StepId.cell(0), StepId.answer("ex"), StepId.cell(2), StepId.probe("ex"),
                                     StepId.probe("lost")]
    assert [str(s.id) for s in steps] == ["cell-0", "answer-ex", "cell-2", "probe-ex", "probe-lost"]
    assert steps[3].job(5)["exercise"] == "ex" and steps[3].job(5)["inputs"] == {"n": 3}
    assert steps[1].job(5)["kind"] == "cell" and steps[3].kind == "probe"


def test_execution_finds_outcomes_by_kind():
    """Do the lookups find an exercise's probe and answer, and a plain cell by index?"""
    ok = StepOutcome("ok")
    execution = Execution({StepId.probe("ex"): ok, StepId.answer("ex"): ok, StepId.cell(4): ok}, (), 0, 0)
    assert execution.probe("ex") is ok and execution.answer("ex") is ok and execution.cell(4) is ok
    assert execution.answer("other") is None and execution.cell(None) is None and execution.cell(5) is None


def test_a_timeout_says_which_budget_ran_out():
    """Is a cell stopped by the notebook's budget told so, and one stopped by its own budget told that?"""
    probe = StepOutcome("not_run")
    notebook = score_exercise("ex", 2, probe, StepOutcome("timeout", ran_out_of="notebook"), [], 60)
    own = score_exercise("ex", 2, probe, StepOutcome("timeout", ran_out_of="step"), [], 60)
    assert notebook.outcome == own.outcome == "timeout" and notebook.score == own.score == 0
    assert "notebook's total time" in notebook.feedback and "did not finish" in own.feedback


def test_the_judge_never_imports_the_engine():
    """Does importing the pytest plugin leave the engine (grade.py) unimported: no circle?"""
    code = "import sys, autograder.pytest_plugin; print('autograder.grade' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "False"


def test_budgets_follow_the_reference_with_floors_and_the_cell_timeout_as_ceiling():
    """Does a step get a multiple of the reference's CPU time, never under the floors nor over the cell
    timeout, and the plain cell timeout when the reference has no time for it?"""
    limits = Limits(cell_timeout=60, cell_cpu_multiple=10, cell_cpu_floor=5, cell_wall_multiple=3, cell_wall_floor=30)
    times = {"quick": 0.1, "training": 4.0, "huge": 30.0}
    assert budget_for("quick", times, limits) == StepBudget(5, 30)
    assert budget_for("training", times, limits) == StepBudget(40, 60)
    assert budget_for("huge", times, limits) == StepBudget(60, 60)
    assert budget_for("added-by-student", times, limits) == budget_for("", times, limits) == StepBudget(None, 60)


def test_a_record_is_stale_when_steps_change_or_get_much_slower(tmp_path):
    """Does the recheck keep a record that still fits, and re-record one with new or much slower steps, but not
    one whose steps only vary under the budget floor (as CPU times do on a loaded machine)?"""
    limits = Limits(cell_timeout=60, cell_cpu_multiple=10, cell_cpu_floor=5, cell_wall_multiple=3, cell_wall_floor=30)
    path = tmp_path / "lessons" / "x" / "cell_times.json"
    assert "recorded for 2 steps" in recheck_cell_times(path, {"a": 0.5, "probe:e": 0.01}, limits)
    assert read_cell_times(path) == {"a": 0.5, "probe:e": 0.01}
    assert "hold" in recheck_cell_times(path, {"a": 0.8, "probe:e": 0.3}, limits)  # probe:e 30x, still at the floor
    assert stale_steps({"a": 0.5}, {"a": 2.0, "b": 0.1}, limits) == ["b", "a"]
    assert "re-recorded" in recheck_cell_times(path, {"a": 2.0, "probe:e": 0.01}, limits)
    assert read_cell_times(path)["a"] == 2.0
    path.write_text("not json")
    assert read_cell_times(path) == {}


@pytest.mark.skipif(not bubblewrap_available(), reason="bubblewrap cannot run here")
def test_an_endless_loop_is_stopped_by_its_cpu_budget_and_a_wait_by_its_wall_backstop(config):
    """Is a busy loop in a cell budgeted 1 CPU second stopped within seconds (not the 60 s cell timeout),
    a sleeping cell stopped at its wall backstop, and the cell after each still run? (~10 s)"""
    config = config.with_limits(notebook_timeout=120, cell_timeout=60)
    quick = StepBudget(1.0, 30.0)
    steps = [Step(StepId.cell(0), "x = 0\nwhile True:\n    x += 1", budget=quick),
             Step(StepId.cell(1), "import time\ntime.sleep(100)", budget=StepBudget(1.0, 3.0)),
             Step(StepId.cell(2), "print('after', x > 0)", budget=quick)]
    job = {"lesson": "none", "files": [], "seed": 0, "output_cap": 65536, "output_total": 1 << 20}
    started = time.monotonic()
    execution = execute(steps, job, {}, config, ("numpy",), ())
    loop, wait, after = (execution.cell(i) for i in range(3))
    assert (loop.status, wait.status, after.status) == ("timeout", "timeout", "ok")
    assert loop.ran_out_of == "step" and loop.budget == quick and after.output.strip() == "after True"
    assert loop.seconds < 15 and 2.5 < wait.seconds < 15 and len(execution.runs) == 1
    assert time.monotonic() - started < 45


@pytest.mark.skipif(not bubblewrap_available(), reason="bubblewrap cannot run here")
def test_a_loop_is_stopped_where_the_grader_was_started_with_sigint_ignored(config):
    """A grader started as a background job of a script (CI, cron, nohup) inherits SIGINT ignored, and so did
    its sandbox: the watchdog's interrupt did nothing and every loop cost the wall backstop and a re-run. (~5 s)"""
    import signal

    job = {"lesson": "none", "files": [], "seed": 0, "output_cap": 65536, "output_total": 1 << 20}
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:  # a preload of its own: a sandbox started now, inheriting the ignored SIGINT
        execution = execute([Step(StepId.cell(0), "while True:\n    pass", budget=StepBudget(1.0, 30.0))], job, {},
                            config.with_limits(notebook_timeout=120, cell_timeout=60), ("numpy", "json"), ())
    finally:
        signal.signal(signal.SIGINT, previous)
    loop = execution.cell(0)
    assert (loop.status, loop.ran_out_of, len(execution.runs)) == ("timeout", "step", 1) and loop.seconds < 15
