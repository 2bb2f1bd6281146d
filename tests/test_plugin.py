"""The report hook: each hidden test becomes a student-safe record, and a grader's own failure is not charged."""
import pytest

from autograder import pytest_plugin
from autograder.pytest_plugin import OutcomeCollector

GRADERS = '''
from autograder.judge import CannotJudge, exercise, expect

@exercise("undecided")
def test_no_verdict_on_this_draw():
    raise CannotJudge("no hidden data set was clear-cut on this draw")

@exercise("wrong")
def test_a_wrong_answer():
    expect(False, "`f` should return 2.")
'''


def test_a_grader_that_cannot_judge_is_an_internal_error_not_a_failed_check(tmp_path):
    (tmp_path / "test_graders.py").write_text(GRADERS)
    collector = OutcomeCollector()
    pytest.main([str(tmp_path), "-p", "no:cacheprovider", "-p", "no:terminal", "--rootdir", str(tmp_path)],
                plugins=[collector, pytest_plugin])
    records = {r["exercise"]: r for r in collector.records}
    assert records["undecided"]["internal"] and records["undecided"]["feedback"] == ""
    assert "clear-cut" in records["undecided"]["detail"]
    assert not records["wrong"]["internal"] and records["wrong"]["feedback"] == "`f` should return 2."
