"""The course view: every student's score in every lesson and their total, from the stored-result records
(late penalties from nbgrader's gradebook), as data, a CSV and a page (reports/course.csv, course.html).
With a roster, students who submitted nothing are listed and marked."""
from __future__ import annotations

import csv
import html
from dataclasses import dataclass, field
from pathlib import Path

from .config import Config
from .results import stored_results
from .text import safe_text


@dataclass(frozen=True)
class CourseView:
    """Scores by (student, lesson): a lesson's score after its late penalty, 0 for a submission that could
    not be graded; a pair that is absent was not submitted."""

    lessons: tuple[str, ...]
    points: dict[str, float]
    students: tuple[str, ...]
    scores: dict[tuple[str, str], float] = field(default_factory=dict)
    marks: dict[str, str] = field(default_factory=dict)  # student -> "submitted nothing" | "not on the roster"

    def total(self, student: str) -> float:
        """Return the student's score summed over the lessons."""
        return round(sum(self.scores.get((student, lesson), 0.0) for lesson in self.lessons), 6)

    @property
    def max_total(self) -> float:
        """Return the points of all the lessons."""
        return sum(self.points.values())


def build_course_view(course_root: Path, roster: set[str] | None = None) -> CourseView:
    """Return the course view of every lesson with a graded submission (and every roster student)."""
    from .course import get_lesson, lesson_names
    from .gradebook import late_penalties

    lessons, points, scores = [], {}, {}
    for lesson in lesson_names(course_root):
        records = stored_results(course_root, lesson)
        if not records:
            continue
        lessons.append(lesson)
        points[lesson] = sum(e.points for e in get_lesson(course_root, lesson).exercises)
        penalties = late_penalties(course_root, lesson)
        for student, record in records.items():
            earned = record.result.score if record.result else 0.0
            scores[student, lesson] = max(0.0, earned - penalties.get(student, 0.0))
    submitted = {student for student, _ in scores}
    marks = {s: "submitted nothing" for s in (roster or set()) - submitted}
    marks |= {s: "not on the roster" for s in submitted - (roster or submitted)}
    return CourseView(tuple(lessons), points, tuple(sorted(submitted | (roster or set()))), scores, marks)


def write_course_report(config: Config, view: CourseView) -> dict[str, Path]:
    """Write reports/course.csv and reports/course.html; return their paths."""
    out = config.course_root / "reports"
    out.mkdir(parents=True, exist_ok=True)
    csv_path = out / "course.csv"
    with open(csv_path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["student", *view.lessons, "total", "max_total", "note"])
        for student in view.students:
            writer.writerow([safe_text(student), *(view.scores.get((student, x), "") for x in view.lessons),
                             view.total(student), view.max_total, view.marks.get(student, "")])
    html_path = out / "course.html"
    html_path.write_text(render_course(config.course_root, view), encoding="utf-8")
    return {"html": html_path, "csv": csv_path}


def render_course(course_root: Path, view: CourseView) -> str:
    """Return the course page: the table, each lesson linked to its class report where there is one and each
    score to the student's feedback page."""
    from .feedback import feedback_path

    def link(path: Path, text: str) -> str:
        relative = path.relative_to(course_root)
        return f'<a href="../{html.escape(relative.as_posix())}">{text}</a>' if path.is_file() else text

    head = "".join(f"<th>{link(course_root / 'reports' / f'{x}.html', html.escape(x))} ({view.points[x]:g})</th>"
                   for x in view.lessons)
    rows = []
    for student in view.students:
        cells = "".join(
            "<td class=\"n\">-</td>" if (student, x) not in view.scores else
            f"<td class=\"n\">{link(feedback_path(course_root, x, student), f'{view.scores[student, x]:g}')}</td>"
            for x in view.lessons)
        mark = html.escape(view.marks.get(student, ""))
        rows.append(f"<tr><td>{html.escape(safe_text(student))}</td>{cells}<td class=\"n\">{view.total(student):g}"
                    f"</td><td class=\"flag\">{mark}</td></tr>")
    return ("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Course: scores per lesson</title>"
            "<style>body{font-family:sans-serif;max-width:70em;margin:2em auto;padding:0 1em}table{border-collapse:"
            "collapse}td,th{border:1px solid #ccc;padding:.25em .5em;text-align:left}td.n{text-align:right}"
            ".flag{color:#b00}</style></head><body><h1>Course: scores per lesson</h1>"
            f"<p>{len(view.students)} students, {len(view.lessons)} lessons, {view.max_total:g} points in all "
            "(after late penalties; - not submitted). As a spreadsheet: <a href=\"course.csv\">course.csv</a>.</p>"
            f"<table><tr><th>student</th>{head}<th>total ({view.max_total:g})</th><th></th></tr>{''.join(rows)}"
            "</table></body></html>")
