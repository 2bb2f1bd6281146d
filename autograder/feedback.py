"""Per-student HTML feedback: each exercise's score, status and student-facing message, nothing else
(no hidden inputs, expected values, grader source, seeds or internal tracebacks)."""
from __future__ import annotations

import html
from pathlib import Path

from .autograde import StoredGrade, stored_grades
from .config import Config
from .text import safe_text

PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font-family:sans-serif;max-width:60em;margin:2em auto}}table{{border-collapse:collapse;width:100%}}
td,th{{border:1px solid #ccc;padding:.4em;text-align:left;vertical-align:top}}.passed{{color:#070}}
.failed{{color:#a60}}.error,.timeout{{color:#b00}}.missing{{color:#666}}</style></head>
<body><h1>{title}</h1><p><strong>Score: {score:g} / {max_score:g}</strong></p>
<table><tr><th>exercise</th><th>score</th><th>status</th><th>feedback</th></tr>
{rows}</table>{notes}</body></html>
"""


def render_feedback(student: str, lesson: str, grade: StoredGrade, max_score: float | None = None) -> str:
    """Return the feedback page for one graded (or ungradable) submission; `max_score` is the lesson's
    points, shown for a submission that could not be graded."""
    title = html.escape(safe_text(f"{lesson}: feedback for {student}"))
    result = grade.result
    if result is None:
        page = PAGE.format(title=title, score=0, max_score=max_score or 0, rows="",
                           notes=f"<p>Your submission could not be graded: {html.escape(grade.error)}</p>")
        return page if max_score else page.replace("<p><strong>Score: 0 / 0</strong></p>", "<p><strong>Not graded</strong></p>")
    rows = "\n".join(
        f"<tr><td>{html.escape(e.exercise)}</td><td>{e.score:g} / {e.max_score:g}</td>"
        f"<td class=\"{e.outcome}\">{e.outcome}</td><td>{html.escape(e.feedback)}</td></tr>"
        for e in result.exercises)
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in result.notes)
    return PAGE.format(title=title, score=result.score, max_score=result.max_score, rows=rows,
                       notes=f"<h2>Notes</h2><ul>{notes}</ul>" if notes else "")


def write_feedback(config: Config, lesson: str, students: list[str] | None = None) -> list[Path]:
    """Write feedback/<student>/<lesson>/<lesson>.html for every graded submission; return the paths. The
    submission's timestamp.txt and submission_secret.txt go beside each page, as nbgrader's
    generate_feedback puts them, so `nbgrader release_feedback` delivers these pages too."""
    from .course import get_lesson
    from .nbgrader_engine import copy_submission_files

    points = sum(e.points for e in get_lesson(config.course_root, lesson).exercises)
    written = []
    for student, grade in stored_grades(config, lesson).items():
        if students and student not in students:
            continue
        target = config.course_root / "feedback" / student / lesson / f"{lesson}.html"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(render_feedback(student, lesson, grade, points), encoding="utf-8")
        copy_submission_files(config.course_root / "submitted" / student / lesson, target.parent)
        written.append(target)
    return written
