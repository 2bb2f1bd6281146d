"""A lesson's declared spec: checked when the course loads, with an error that names the lesson and the field.
No sandbox, no torch: these take milliseconds."""
from __future__ import annotations

import types

import pytest

from autograder.course import Lesson, get_lesson, import_lesson_module, lesson_names
from autograder.datasets import MNIST_TEST
from autograder.spec import HeldOut, LessonSpec, LessonSpecError, checked_spec
from tests.conftest import ROOT


def draw(seed: int) -> dict:
    return {"sum": {"x": seed}}


def test_a_sound_spec_has_no_problems_and_lists_each_submitted_file_once():
    spec = LessonSpec(draw, files_by_exercise={"a": "w.pth", "b": "w.pth"}, data_files=(MNIST_TEST.images,),
                      held_out={"a": MNIST_TEST}, thresholds={"a": 0.9})
    assert spec.problems({"a", "b"}) == [] and spec.submitted_files == ("w.pth",)


@pytest.mark.parametrize("changes, words", [
    ({"files_by_exercise": {"a": "../w.pth"}}, "plain file name"),
    ({"data_files": ("/etc/passwd",)}, "under the data root"),
    ({"data_files": (MNIST_TEST.labels,), "held_out": {"a": MNIST_TEST}}, "would read the answers"),
    ({"held_out": {"a": ("images", "labels")}}, "HeldOut("),
    ({"files_by_exercise": {"nope": "w.pth"}}, "nope, not an exercise"),
    ({"thresholds": {"a": "high"}}, "thresholds must be numbers"),
    ({"hidden_inputs": 3}, "hidden_inputs must be a function"),
])
def test_a_bad_field_is_named(changes, words):
    spec = LessonSpec(**{"hidden_inputs": draw, **changes})
    assert any(words in p for p in spec.problems({"a"})), spec.problems({"a"})


def test_a_module_without_spec_or_with_another_object_is_refused_by_name():
    with pytest.raises(LessonSpecError, match="lesson 'x': no SPEC = LessonSpec"):
        checked_spec("x", types.SimpleNamespace())
    with pytest.raises(LessonSpecError, match=r"SPEC must be a LessonSpec\(...\), not dict"):
        checked_spec("x", types.SimpleNamespace(SPEC={}))


def test_every_lesson_of_the_course_declares_a_sound_spec():
    for name in lesson_names(ROOT):
        spec = get_lesson(ROOT, name).spec
        assert not set(spec.submitted_files) & set(spec.data_files)
        assert all(split.labels not in spec.data_files for split in spec.held_out.values())


def test_a_lesson_whose_spec_does_not_import_says_why(tmp_path):
    home = tmp_path / "lessons" / "broken"
    home.mkdir(parents=True)
    (tmp_path / "lessons" / "__init__.py").write_text("")
    (home / "__init__.py").write_text("")
    (home / "spec.py").write_text("import not_a_module_anywhere\n")
    try:
        with pytest.raises(LessonSpecError, match=r"lesson 'broken': spec.py cannot be imported \(ModuleNotFoundError"):
            Lesson("broken", tmp_path).spec
        (home / "spec.py").unlink()
        with pytest.raises(LessonSpecError, match="lesson 'broken': no spec.py"):
            Lesson("broken", tmp_path).spec
    finally:
        import_lesson_module(ROOT, "pytorch_basics")  # this course's lessons again, for the tests after this one
