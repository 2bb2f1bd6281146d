"""Terminal tables of a class that fit the terminal (80 columns and up): every student id readable in full
(up to 16 characters) and each student on one line. A lesson's grid has one compact cell per exercise (`1`,
`0.5F`, `0E`: score and a letter for what went wrong) and falls back to one line per student listing only
what was not passed when the grid would be too wide. Built here, printed only by the CLI (and the demo)."""
from __future__ import annotations

from collections.abc import Sequence

from rich import box
from rich.console import Group
from rich.table import Table
from rich.text import Text

from .results import ExerciseResult, SubmissionResult
from .text import safe_text

STUDENT_WIDTH = 16
LETTER = {"passed": "", "failed": "F", "error": "E", "timeout": "T", "missing": "M"}
LEGEND = "F failed, E error, T timeout, M missing"


def plain(value: object, style: str = "") -> Text:
    """Return text that may come from a student (messages, names, file names) for rich: made safe, and
    never read as markup."""
    return Text(safe_text(value), style=style)


def compact(exercise: ExerciseResult) -> Text:
    """Return an exercise's grade in a few characters: its score and a letter unless it passed."""
    style = "green" if exercise.outcome == "passed" else "yellow" if exercise.score else "red"
    return Text(f"{exercise.score:g}{LETTER[exercise.outcome]}", style=style)


def _framed(table: Table) -> Group:
    """Return the table with its title above and its caption below at the terminal's width (rich would
    wrap both to the width of a narrow table)."""
    title, caption = table.title, table.caption
    table.title = table.caption = None
    return Group(plain(title, "bold"), table, plain(caption, "dim"))


def _student(table: Table, width: int) -> None:
    table.add_column("student", no_wrap=True, overflow="ellipsis", min_width=min(width, STUDENT_WIDTH),
                     max_width=STUDENT_WIDTH)


def grid_width(students: Sequence[str], exercises: Sequence[str], cell: int = 4) -> int:
    """Return the columns a lesson grid takes: student, one cell per exercise, the total (one space apart)."""
    name = min(STUDENT_WIDTH, max((len(s) for s in students), default=7))
    return name + len(exercises) * (max(cell, len(str(len(exercises)))) + 1) + len(" 24.5/35")  # │-less columns


def lesson_table(rows: Sequence[tuple[str, SubmissionResult | None, str]], exercises: Sequence[str], title: str,
                 width: int = 80) -> Group:
    """Return a lesson's grades: rows of (student, result or None, why not graded). A grid of compact cells
    (exercises numbered, named in the caption) when it fits `width`, else one line per student with the
    exercises not passed."""
    cells = [len(compact(e).plain) for _, r, _ in rows if r for e in r.exercises] or [1]
    if grid_width([s for s, _, _ in rows], exercises, max(cells)) <= width:
        return _framed(_grid(rows, exercises, title))
    return _framed(_list(rows, title))


def _grid(rows, exercises, title: str) -> Table:
    table = Table(title=title, box=box.SIMPLE_HEAD, padding=(0, 0), show_edge=False)
    _student(table, max((len(s) for s, _, _ in rows), default=7))
    for number, _ in enumerate(exercises, 1):
        table.add_column(str(number), justify="right", no_wrap=True, min_width=4)
    table.add_column("total", justify="right", no_wrap=True, min_width=7)
    for student, result, why in rows:
        if result is None:
            table.add_row(plain(student), *["-"] * len(exercises), Text("-", "red"))
            continue
        by_id = {e.exercise: e for e in result.exercises}
        table.add_row(plain(student), *(compact(by_id[x]) if x in by_id else "" for x in exercises),
                      f"{result.score:g}/{result.max_score:g}")
    ungraded = [student for student, result, _ in rows if result is None]
    table.caption = (", ".join(f"{n} {x}" for n, x in enumerate(exercises, 1)) + f". {LEGEND}"
                     + (f". Not graded: {', '.join(ungraded)}" if ungraded else ""))
    return table


def _list(rows, title: str) -> Table:
    table = Table(title=title, box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    _student(table, max((len(s) for s, _, _ in rows), default=7))
    table.add_column("score", justify="right", no_wrap=True)
    table.add_column("not passed", overflow="fold")
    for student, result, why in rows:
        if result is None:
            table.add_row(plain(student), "-", plain(f"not graded: {why}", "red"))
            continue
        missed = [Text.assemble(plain(e.exercise), " ", compact(e)) for e in result.exercises if e.outcome != "passed"]
        table.add_row(plain(student), f"{result.score:g}/{result.max_score:g}",
                      Text(", ").join(missed) if missed else Text("all passed", "green"))
    table.caption = LEGEND
    return table


def course_table(students: Sequence[str], lessons: Sequence[str], scores: dict[tuple[str, str], float | None],
                 points: dict[str, float], marks: dict[str, str], width: int = 80) -> Group:
    """Return the course view: one row per student, one column per lesson (its score, `-` when not
    submitted), the total, and a mark (e.g. "submitted nothing"). Lessons are numbered, named in the caption."""
    table = Table(title="course: total per lesson", box=box.SIMPLE_HEAD, padding=(0, 0),
                  show_edge=False)
    _student(table, max((len(s) for s in students), default=7))
    for number, _ in enumerate(lessons, 1):
        table.add_column(str(number), justify="right", no_wrap=True, min_width=5)
    table.add_column("total", justify="right", no_wrap=True, min_width=9)
    table.add_column("", no_wrap=True, overflow="ellipsis")
    for student in students:
        got = [scores.get((student, lesson)) for lesson in lessons]
        table.add_row(plain(student), *("-" if s is None else f"{s:g}" for s in got),
                      f"{sum(s or 0 for s in got):g}/{sum(points[x] for x in lessons):g}",
                      plain(f" {marks[student]}" if student in marks else "", "yellow"))
    table.caption = ", ".join(f"{n} {x} ({points[x]:g})" for n, x in enumerate(lessons, 1)) + "; - not submitted"
    return _framed(table)
