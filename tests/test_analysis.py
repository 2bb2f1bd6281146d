"""The report's analysis as pure functions on a few hand-made records (milliseconds, no course)."""
from autograder.analysis import common_failures, item_analysis, students_needing_help
from autograder.results import ExerciseResult, StoredResult, SubmissionResult


def record(student: str, *grades: tuple[str, str, float, str]) -> StoredResult:
    exercises = tuple(ExerciseResult(x, outcome, score, 1.0, message) for x, outcome, score, message in grades)
    return StoredResult(student, "lesson", "f" * 64, SubmissionResult("lesson", exercises, 1))


OK = "All checks passed."
CLASS = {
    "ann": record("ann", ("a", "passed", 1, OK), ("b", "passed", 1, OK), ("c", "passed", 1, OK)),
    "bob": record("bob", ("a", "passed", 1, OK), ("b", "failed", 0, "`x` has shape [2, 2]"), ("c", "passed", 1, OK)),
    "cid": record("cid", ("a", "passed", 1, OK), ("b", "failed", 0, "`x` has shape [3, 3]"), ("c", "failed", 0, "no")),
    "dee": record("dee", ("a", "passed", 1, OK), ("b", "timeout", 0, "did not finish"), ("c", "failed", 0, "no")),
    "eve": StoredResult("eve", "lesson", "e" * 64, None, "not a notebook"),
}


def test_failure_messages_that_differ_only_in_numbers_are_one_misconception():
    failures = common_failures(CLASS)
    assert [(f.students, f.variants) for f in failures["b"]] == [(("bob", "cid"), 2), (("dee",), 1)]
    assert "a" not in failures and failures["c"][0].students == ("cid", "dee")


def test_item_analysis_flags_an_exercise_everyone_passes_and_measures_discrimination():
    stats = {s.exercise: s for s in item_analysis(CLASS, ["a", "b", "c"])}
    assert stats["a"].difficulty == 1 and stats["a"].discrimination is None and stats["a"].flag == "nearly everyone passes"
    assert stats["b"].difficulty == 0.25 and stats["b"].flag == "nearly nobody passes"
    assert stats["c"].difficulty == 0.5 and round(stats["c"].discrimination, 3) == 0.577 and stats["c"].flag == ""


def test_students_needing_help_are_the_ungraded_the_stuck_and_the_lowest():
    helped = {h.student: h.reasons for h in students_needing_help(CLASS, lowest=1)}
    assert list(helped) == ["eve", "cid", "dee"]  # ungraded first, then by score
    assert helped["eve"] == ("not graded: not a notebook",)
    assert helped["cid"] == ("low score (1 of 3; median 2)",) and helped["dee"] == ("b: timeout",)
