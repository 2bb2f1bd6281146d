"""Every attack in the catalogue, graded through `autograder grade` as a real submission is: its exercise
gets exactly the verdict it must, the judge survives, nothing outside the sandbox changes, and the
feedback leaks no hidden input, expected value or grader source."""
from __future__ import annotations

import json
import re

import pytest

from lessons.hands_on_dl.spec import hidden_inputs
from tests.conftest import ROOT
from tests.adversarial.cases import CASES, MALFORMED, NOTEBOOKS, make_malformed

GRADER_TESTS = sorted(set(re.findall(r"^def (test_\w+)", (ROOT / "lessons/hands_on_dl/test_hands_on_dl.py").read_text(), re.M)))
FORBIDDEN_WORDS = ("Traceback", "test_hands_on_dl", "BEGIN SOLUTION", "solutions/", "AssertionError", "GradingFailure",
                   "/work/", "File \"")


def student_text(result: dict) -> str:
    """Return everything a student sees: per-exercise feedback and the notes."""
    return json.dumps([e["feedback"] for e in result["exercises"]] + result["notes"])


def hidden_values(seed: int) -> list[str]:
    """Return hidden inputs as they would appear if printed (4 decimals), for the leak check."""
    inputs = hidden_inputs(seed)
    values = list(inputs["gradient_loop"]["x"][:8]) + list(inputs["gradient_loop"]["y"][:8])
    values += [v for row in inputs["twin_tower"]["inputs"] for v in row] + list(inputs["twin_tower"]["equal_row"])
    values += [v for case in inputs["deep_forward"]["cases"] for v in (case["inputs"][0] if isinstance(
        case["inputs"][0], list) else case["inputs"])]
    return [f"{v:.4f}" for v in values if abs(v) > 0.01]


def assert_contained(run, baseline, after) -> None:
    """The judge survived with a grade, nothing outside the sandbox changed, feedback leaks nothing."""
    assert run.returncode == 0, run.stderr[-2000:]
    assert "Traceback" not in run.stderr and run.result is not None
    assert run.result["max_score"] == 24 and len(run.result["exercises"]) == 11
    assert after["listing"] == [] and after["files"] == baseline["files"]
    text = student_text(run.result)
    for word in FORBIDDEN_WORDS:
        assert word not in text, word
    for name in GRADER_TESTS:
        assert not re.search(rf"\b{name}\b", text), name
    leaked = [v for v in hidden_values(run.result["seed"]) if v in text]
    assert not leaked, leaked


def case_params():
    for case in CASES:
        marks = [pytest.mark.xfail(strict=True, reason=case.xfail)] if case.xfail else []
        yield pytest.param(case, id=case.name, marks=marks)


@pytest.mark.parametrize("case", list(case_params()))
def test_attack_gets_its_verdict_and_is_contained(case, graded, baseline, after):
    run = graded[case.notebook]
    assert_contained(run, baseline, after)
    got = {e["id"]: e for e in run.result["exercises"]}[case.exercise]
    assert got["status"] == case.status, (got, run.result["notes"])
    if case.status != "passed":
        assert got["score"] < got["max_score"], got
    if case.score is not None:
        assert got["score"] == case.score, got
    if case.max_score is not None:
        assert got["max_score"] == case.max_score


@pytest.mark.parametrize("notebook", [nb.name for nb in NOTEBOOKS])
def test_exercises_no_attack_touches_still_pass(notebook, graded):
    result = graded[notebook].result
    touched = {c.exercise for c in CASES if c.notebook == notebook}
    untouched = {e["id"]: e["status"] for e in result["exercises"] if e["id"] not in touched}
    assert set(untouched.values()) <= {"passed"}, untouched
    assert result["sandbox"] == "bubblewrap"


def test_reference_as_nbformat_v3_scores_full_marks(graded, baseline, after):
    run = graded["nbformat_v3"]
    assert_contained(run, baseline, after)
    assert run.result["score"] == 24, run.result


def test_other_students_gradebook_rows_are_untouched(arena, graded):
    from autograder.gradebook import recorded_scores

    full = recorded_scores(arena.course, "hands_on_dl", "other_student")
    half = recorded_scores(arena.course, "hands_on_dl", "another_student")
    assert sum(full.values()) == 24 and sum(half.values()) == 12


@pytest.mark.parametrize("case", MALFORMED, ids=lambda m: m.name)
def test_malformed_input_is_refused_in_one_line(case, arena, tmp_path, capsys, monkeypatch):
    """In process (`autograder.cli.main`, the CLI's own entry): no sandbox starts for these."""
    from autograder.cli import main

    path = tmp_path / "hands_on_dl.ipynb"
    make_malformed(case.make, path)
    monkeypatch.chdir(arena.course)
    code = main(["grade", str(path)])
    err = capsys.readouterr().err
    assert code == 2, (code, err[-2000:])
    lines = err.strip().splitlines()
    assert len(lines) == 1 and case.message in lines[0], err[-2000:]


def test_malformed_input_is_refused_by_the_real_command(arena, tmp_path):
    path = tmp_path / "hands_on_dl.ipynb"
    make_malformed("nested", path)
    run = arena.grade(path, json_out=False)
    assert run.returncode == 2 and len(run.stderr.strip().splitlines()) == 1, run.stderr[-2000:]
    assert "nested too deeply" in run.stderr
