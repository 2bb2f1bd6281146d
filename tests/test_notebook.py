"""Reading submissions defensively and finding exercises by grade_id."""
import json

import pytest
from nbformat import v4

from autograder.notebook import (NotebookError, find_exercises, lesson_of, read_notebook, restore_locked_cells,
                                 skip_ids)


def answer_cell(gid, source="x = 1"):
    return v4.new_code_cell(source, metadata={"nbgrader": {"grade": False, "solution": True, "locked": False,
                                                             "grade_id": gid, "schema_version": 3}})


def graded_cell(gid, points, source="assert True"):
    return v4.new_code_cell(source, metadata={"nbgrader": {"grade": True, "solution": False, "locked": True,
                                                             "grade_id": f"test_{gid}", "points": points,
                                                             "schema_version": 3}})


def released():
    return v4.new_notebook(cells=[v4.new_markdown_cell("intro"), answer_cell("a"), graded_cell("a", 2),
                                  v4.new_code_cell("train()", metadata={"tags": ["skip-grading"]}),
                                  answer_cell("b"), graded_cell("b", 1.5)])


def write(tmp_path, text, name="nb.ipynb"):
    path = tmp_path / name
    path.write_text(text) if isinstance(text, str) else path.write_bytes(text)
    return path


def test_exercises_carry_points_of_their_test_cells():
    assert [(e.id, e.points) for e in find_exercises(released())] == [("a", 2.0), ("b", 1.5)]


@pytest.mark.parametrize("content, reason", [
    ("{not json", "invalid JSON"),
    ('{"hello": 1}', "not a Jupyter notebook"),
    ("[1, 2]", "not a Jupyter notebook"),
    (b"\x89PNG\r\n\x1a\n\xff\xfe", "not UTF-8"),
    ('{"cells": "nope", "metadata": {}, "nbformat": 4, "nbformat_minor": 5}', "not a readable notebook"),
])
def test_unusable_files_get_a_one_line_reason(tmp_path, content, reason):
    with pytest.raises(NotebookError, match=reason) as error:
        read_notebook(write(tmp_path, content))
    assert "\n" not in str(error.value)


def test_missing_file_is_reported(tmp_path):
    with pytest.raises(NotebookError, match="no such file"):
        read_notebook(tmp_path / "absent.ipynb")


def test_oversized_notebook_is_refused_without_parsing(tmp_path, monkeypatch):
    monkeypatch.setattr("autograder.notebook.MAX_NOTEBOOK_MB", 1)
    with pytest.raises(NotebookError, match="larger than"):
        read_notebook(write(tmp_path, " " * (2 << 20)))


def test_nbformat_v3_notebooks_are_upgraded(tmp_path):
    v3 = {"nbformat": 3, "nbformat_minor": 0, "metadata": {},
          "worksheets": [{"cells": [{"cell_type": "code", "input": "x = 1", "language": "python",
                                     "outputs": [], "metadata": {}}]}]}
    nb = read_notebook(write(tmp_path, json.dumps(v3)))
    assert nb.nbformat == 4 and nb.cells[0].source == "x = 1"


def test_edited_and_deleted_test_cells_are_restored_from_the_release():
    submitted = released()
    submitted.cells[2].source = "pass  # the student's own 'test'"
    del submitted.cells[5]
    nb, notes = restore_locked_cells(submitted, released())
    assert nb.cells[2].source == "assert True"
    assert [c.metadata["nbgrader"]["grade_id"] for c in nb.cells if "nbgrader" in c.metadata] == \
        ["a", "test_a", "b", "test_b"]
    assert len(notes) == 2 and "edited" in notes[0] and "missing" in notes[1]


def test_skip_tags_come_from_the_release_even_if_the_student_removed_them():
    nb = released()
    assert skip_ids(nb) == {nb.cells[3].id}


def test_lesson_is_inferred_from_metadata_then_from_grade_ids():
    nb = released()
    lessons = {"one": {"a", "test_a"}, "two": {"a", "b", "test_a", "test_b"}}
    assert lesson_of(nb, lessons) == "two"
    nb.metadata["autograder"] = {"lesson": "one"}
    assert lesson_of(nb, lessons) == "one"
    assert lesson_of(v4.new_notebook(cells=[answer_cell("zzz")]), lessons) is None
