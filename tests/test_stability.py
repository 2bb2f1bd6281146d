"""Grades are facts: a class of right and wrong submissions graded under five run seeds gets the same score
on every (student, exercise); partial credit never rests on the luck of a draw."""
import tempfile
from pathlib import Path

import pytest

from autograder.batch import BatchItem, grade_many
from autograder.course import get_lesson
from autograder.sandbox import bubblewrap_available
from autograder.validate import build_submission, load_mutants
from tests.conftest import ROOT

pytestmark = pytest.mark.skipif(not bubblewrap_available(), reason="bubblewrap cannot run here")
SEEDS = (1, 22, 333, 4444, 55555)


def test_no_score_moves_with_the_seed(config):
    lesson = get_lesson(ROOT, "hands_on_dl")
    wrong = {}
    for mutant in load_mutants(lesson):  # one wrong answer per exercise: a class with a bit of everything
        if not mutant.right and mutant.answer is not None:
            wrong.setdefault(mutant.exercise, mutant)
    with tempfile.TemporaryDirectory() as tmp:
        items = []
        for index, mutant in enumerate([None, *wrong.values()]):
            directory = Path(tmp) / str(index)
            directory.mkdir()
            notebook = build_submission(lesson, mutant, directory)
            items += [BatchItem(f"{index}:{seed}", notebook, lesson.name, seed) for seed in SEEDS]
        outcomes = grade_many(items, config.course_root, workers=2)
    scores: dict[tuple, set] = {}
    for key, outcome in outcomes.items():
        assert outcome.result is not None, outcome.error
        for exercise in outcome.result.exercises:
            scores.setdefault((key.split(":")[0], exercise.exercise), set()).add(exercise.score)
    moved = {pair: sorted(values) for pair, values in scores.items() if len(values) > 1}
    assert not moved, f"{len(moved)} of {len(scores)} (submission, exercise) scores moved with the seed: {moved}"
