"""Terminal tables at 80 columns: every student id up to 16 characters in full, each student on one line
(a grid of compact cells, or one line per student when the lesson is too wide). Milliseconds."""
import io

from rich.console import Console

from autograder.results import ExerciseResult, SubmissionResult
from autograder.tables import course_table, lesson_table

LONGEST = "sixteen_chars_id"  # 16 characters


def render(table, width: int = 80) -> list[str]:
    console = Console(file=io.StringIO(), width=width, color_system=None)
    console.print(table)
    return console.file.getvalue().splitlines()


def result(exercises: list[str], wrong: str = "") -> SubmissionResult:
    return SubmissionResult("lesson", tuple(
        ExerciseResult(x, "failed" if x == wrong else "passed", 0.5 if x == wrong else 2, 2, "m") for x in exercises), 1)


def test_a_lesson_of_eleven_exercises_is_a_grid_with_one_line_per_student():
    exercises = [f"exercise_{n}" for n in range(11)]
    rows = [(LONGEST, result(exercises, "exercise_3"), ""), ("bo", result(exercises), ""), ("cy", None, "not a notebook")]
    lines = render(lesson_table(rows, exercises, "lesson"))
    assert max(len(line) for line in lines) <= 80
    mine = [line for line in lines if LONGEST in line]
    assert len(mine) == 1 and "0.5F" in mine[0] and mine[0].rstrip().endswith("20.5/22")
    assert any(line.startswith("bo ") and line.rstrip().endswith("22/22") for line in lines)
    assert "Not graded: cy" in " ".join(lines)


def test_a_lesson_too_wide_for_a_grid_lists_what_each_student_did_not_pass():
    exercises = [f"exercise_{n}" for n in range(12)]  # with a 16-character id: 84 columns as a grid
    lines = render(lesson_table([(LONGEST, result(exercises, "exercise_7"), ""), ("bo", result(exercises), "")],
                                exercises, "wide"))
    assert max(len(line) for line in lines) <= 80
    assert any(LONGEST in line and "exercise_7 0.5F" in line for line in lines)
    assert any(line.startswith("bo ") and "all passed" in line for line in lines)


def test_the_course_view_fits_and_marks_who_submitted_nothing():
    lessons = ["pytorch_basics", "hands_on_dl", "neurons_and_training", "digits_from_scratch", "ml_fundamentals"]
    points = dict(zip(lessons, [35, 24, 29, 26, 17]))
    scores = {(LONGEST, x): points[x] - 1.5 for x in lessons} | {("bo", "hands_on_dl"): 24}
    lines = render(course_table([LONGEST, "bo", "zed"], lessons, scores, points, {"zed": "submitted nothing"}))
    assert max(len(line) for line in lines) <= 80
    assert any(LONGEST in line and "123.5/131" in line for line in lines)
    assert any(line.startswith("zed") and "submitted nothing" in line for line in lines)
    assert any(line.startswith("bo ") and " 24 " in line and " - " in line for line in lines)


def test_a_narrow_lesson_keeps_its_title_and_legend_on_full_lines():
    exercises = ["scaled", "area", "net"]
    lines = render(lesson_table([("right", result(exercises), "")], exercises, "week_1: 1 submission (1 graded)"))
    assert lines[0].rstrip() == "week_1: 1 submission (1 graded)"  # rich wrapped both to the grid's 30 columns
    assert lines[-1].rstrip() == "1 scaled, 2 area, 3 net. F failed, E error, T timeout, M missing"
