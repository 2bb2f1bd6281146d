"""Pure policy of the engine, no sandbox: step planning with typed ids, the time limit a timeout names,
and the one-way import order judge <- engine (each test runs in milliseconds)."""
import subprocess
import sys

import nbformat.v4 as v4

from autograder.execute import Execution, StepId, StepOutcome, plan_steps
from autograder.grade import score_exercise


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
