"""`autograder check` (the student's self-check) on every lesson: the released notebook says what is left
to do, the reference passes every public check."""
import pytest

from autograder.check import check_notebook
from autograder.course import get_lesson, lesson_names
from autograder.sandbox import bubblewrap_available
from tests.conftest import ROOT

pytestmark = pytest.mark.skipif(not bubblewrap_available(), reason="bubblewrap cannot run here")


@pytest.mark.parametrize("name", lesson_names(ROOT))
def test_check_runs_on_every_lesson(config, name):
    lesson = get_lesson(ROOT, name)
    _, released = check_notebook(lesson.release_notebook, config, name)
    assert {line.exercise for line in released} == {e.id for e in lesson.exercises}
    assert all(line.status != "ok" for line in released), [(l.exercise, l.status) for l in released if l.status == "ok"]
    _, reference = check_notebook(lesson.source_notebook, config, name)
    assert all(line.status == "ok" for line in reference), [(l.exercise, l.status, l.message) for l in reference if l.status != "ok"]
