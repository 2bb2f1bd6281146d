"""A student's feedback page: their own executed notebook, rendered by nbgrader's feedback template (the
page nbgrader's generate_feedback makes), with a summary at the top (score, each exercise's status linked to
its answer) and, after each answer cell, a verdict box (points, status, the message, and for an error or a
timeout the student's own traceback: their cell and line only).

What it is built from: the stored-result record (`results.StoredResult`: scores, outcomes, student-facing
messages) and the executed notebook (the student's own outputs). Never from the record's instructor fields
(details with hidden-test names, seeds, fingerprints); every output passes `make_student_safe` (no grader
tracebacks, no host paths). Pages go to feedback/<student>/<lesson>/<lesson>.html with the submission's
timestamp.txt beside them, where nbgrader's release_feedback finds them."""
from __future__ import annotations

import copy
import html
import json
import re
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from .config import Config
from .notebook_page import PageRenderer, new_cell, page_renderer
from .results import ExerciseResult, StoredResult, executed_path, stored_results
from .text import safe_text

STATUS_WORDS = {"passed": "passed", "failed": "not yet right", "error": "raised an error",
                "timeout": "ran out of time", "missing": "missing"}
STATUS_COLOURS = {"passed": "#2e7d32", "failed": "#b26a00", "error": "#c62828", "timeout": "#6a1b9a",
                  "missing": "#616161"}
_ANSI = re.compile(r"\x1b\[[0-9;]*m|\\x1b\[[0-9;]*m")
_TRACEBACK_HEAD = re.compile(r"Traceback \(most recent call last\)")
TRACEBACK_LINES = 30


@dataclass(frozen=True)
class LessonFacts:
    """What every page of a lesson shares: exercise ids with points, and the released notebook."""

    name: str
    points: dict[str, float]
    released: NotebookNode


def lesson_facts(course_root: Path, lesson: str) -> LessonFacts:
    """Return what every feedback page of a lesson shares."""
    from .course import get_lesson

    the_lesson = get_lesson(course_root, lesson)
    return LessonFacts(lesson, {e.id: e.points for e in the_lesson.exercises}, the_lesson.released)


def student_traceback(cell: NotebookNode) -> str:
    """Return the traceback the student's own answer cell printed, their cells' frames only ("Cell In[..],
    line N" and its code), without library frames; "" when it printed none."""
    for output in cell.get("outputs", []):
        text = _ANSI.sub("", output.get("text", "")) if output.get("output_type") == "stream" else ""
        if not _TRACEBACK_HEAD.search(text):
            continue
        lines = text.splitlines()
        start = next(i for i, line in enumerate(lines) if _TRACEBACK_HEAD.search(line))
        kept, in_library_frame = [], False
        for line in lines[start:]:  # IPython separates frames by a blank line
            if line.startswith(("File ", "  File ")):
                in_library_frame = True
            elif not line.strip() or line.startswith("Cell In["):
                in_library_frame = False
            if not in_library_frame and not line.startswith("-" * 20) and not (kept and not kept[-1] and not line):
                kept.append(line.rstrip())
        while kept and not kept[-1]:
            kept.pop()
        return "\n".join(kept[-TRACEBACK_LINES:])
    return ""


def verdict_html(exercise: ExerciseResult, traceback: str = "") -> str:
    """Return the verdict box shown after an answer cell: points, status, message, the student's traceback."""
    colour = STATUS_COLOURS[exercise.outcome]
    body = (f"<div class=\"verdict verdict-{exercise.outcome}\" id=\"verdict-{html.escape(exercise.exercise)}\" "
            f"style=\"border-left:6px solid {colour};background:#f7f7f7;padding:.5em .8em;margin:.3em 0 1em\">"
            f"<strong style=\"color:{colour}\">{html.escape(exercise.exercise)}: {exercise.score:g} / "
            f"{exercise.max_score:g} points, {STATUS_WORDS[exercise.outcome]}</strong>"
            f"<p style=\"margin:.3em 0\">{html.escape(exercise.feedback)}</p>")
    if traceback and exercise.outcome in ("error", "timeout"):
        body += ("<details open><summary>Where your cell stopped</summary><pre style=\"white-space:pre-wrap\">"
                 f"{html.escape(traceback)}</pre></details>")
    return body + "</div>"


def summary_html(record: StoredResult, facts: LessonFacts, late_penalty: float = 0.0) -> str:
    """Return the summary at the top of the page: the score and each exercise's status, linked to its answer."""
    result = record.result
    if result is None:
        return ("<div class=\"verdict-summary\"><h2>Not graded</h2><p>Your submission could not be graded: "
                f"{html.escape(record.error or 'unknown reason')}</p><p>Every exercise scores 0 of "
                f"{sum(facts.points.values()):g} points. Fix the file and submit it again.</p></div>")
    rows = "".join(
        f"<tr><td><a href=\"#comment-{html.escape(e.exercise)}\">{html.escape(e.exercise)}</a></td>"
        f"<td style=\"text-align:right\">{e.score:g} / {e.max_score:g}</td>"
        f"<td style=\"color:{STATUS_COLOURS[e.outcome]}\">{STATUS_WORDS[e.outcome]}</td></tr>"
        for e in result.exercises)
    late = f"<p>Late submission penalty: -{late_penalty:g}</p>" if late_penalty else ""
    notes = "".join(f"<li>{html.escape(note)}</li>" for note in result.notes)
    return (f"<div class=\"verdict-summary\"><h2>Score: {result.score - late_penalty:g} / {result.max_score:g}</h2>"
            f"{late}<table class=\"table table-condensed\"><tr><th>exercise</th><th style=\"text-align:right\">"
            f"points</th><th>status</th></tr>{rows}</table>"
            + (f"<p>Notes:</p><ul>{notes}</ul>" if notes else "") + "</div>")


def add_verdicts(nb: NotebookNode, record: StoredResult, facts: LessonFacts, late_penalty: float = 0.0) -> NotebookNode:
    """Return the notebook with the summary cell first and a verdict box after each answer cell; the answer's
    comment is dropped where it is only our automatic one (the box says it). Shared by `autograder feedback`
    and nbgrader's generate_feedback (`nbgrader_engine.AddVerdicts`)."""
    from .gradebook import auto_comment

    by_id = {e.exercise: e for e in record.result.exercises} if record.result else {}
    cells = [_markdown(summary_html(record, facts, late_penalty), "summary")]
    for cell in nb.cells:
        cells.append(cell)
        meta = cell.metadata.get("nbgrader") or {}
        exercise = by_id.get(str(meta.get("grade_id", "")))
        if meta.get("solution") and exercise is not None:
            if meta.get("comment") == auto_comment(exercise):
                meta["comment"] = None
            cells.append(_markdown(verdict_html(exercise, student_traceback(cell)), exercise.exercise))
    nb.cells = cells
    return nb


def set_scores(nb: NotebookNode, record: StoredResult, facts: LessonFacts,
               late_penalty: float = 0.0) -> tuple[NotebookNode, dict]:
    """Return the notebook with nbgrader's score metadata on graded cells taken from the record (what
    nbgrader's GetGrades takes from the gradebook), and the resources nbgrader's feedback template reads."""
    by_id = {e.exercise: e for e in record.result.exercises} if record.result else {}
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader") or {}
        if meta.get("grade"):
            exercise = by_id.get(str(meta.get("grade_id", "")).removeprefix("test_"))
            meta["score"] = exercise.score if exercise and meta.get("grade_id", "").startswith("test_") else 0.0
            meta["points"] = meta.get("points", 0)
    score = record.result.score if record.result else 0.0
    max_score = record.result.max_score if record.result else sum(facts.points.values())
    return nb, {"nbgrader": {"notebook": facts.name, "score": score - late_penalty, "max_score": max_score,
                             "late_penalty": late_penalty}}


def _markdown(text: str, name: str) -> NotebookNode:
    return new_cell("markdown", text, f"verdict-{re.sub(r'[^A-Za-z0-9_-]', '-', name)}"[:64])


def feedback_notebook(record: StoredResult, facts: LessonFacts, course_root: Path) -> NotebookNode:
    """Return the notebook the page shows: the executed one, or the release (outputs cleared) where there is
    none (a submission that could not be run)."""
    try:  # our own file (autograde wrote it with nbformat, which checked it): read without checking it again
        from nbformat.v4.rwbase import rejoin_lines  # what nbformat.read does to a v4 file, minus validation

        nb = rejoin_lines(nbformat.from_dict(json.loads(executed_path(course_root, facts.name, record.student).read_text())))
        # the reason an ungradable submission heads nbgrader's copy with: the summary says it already
        nb.cells = [c for c in nb.cells if not c.metadata.get("autograder", {}).get("ungradable")]
        return nb
    except (OSError, ValueError, AttributeError, TypeError):
        nb = copy.deepcopy(facts.released)
        for cell in nb.cells:
            if cell.cell_type == "code":
                cell.outputs, cell.execution_count = [], None
        return nb


def render_feedback(record: StoredResult, facts: LessonFacts, course_root: Path, renderer: PageRenderer,
                    late_penalty: float = 0.0) -> str:
    """Return one student's feedback page."""
    from .nbgrader_engine import host_paths, make_student_safe

    nb = make_student_safe(feedback_notebook(record, facts, course_root), host_paths(course_root))
    nb, resources = set_scores(add_verdicts(nb, record, facts, late_penalty), record, facts, late_penalty)
    return renderer.render(nb, resources)


def feedback_path(course_root: Path, lesson: str, student: str) -> Path:
    """Return where a student's feedback page goes (where nbgrader's generate_feedback puts it)."""
    return course_root / "feedback" / student / lesson / f"{lesson}.html"


def write_feedback(config: Config, lesson: str, students: list[str] | None = None) -> list[Path]:
    """Write feedback/<student>/<lesson>/<lesson>.html for every graded submission; return the paths. The
    submission's timestamp.txt and submission_secret.txt go beside each page, as nbgrader's
    generate_feedback puts them, so `nbgrader release_feedback` delivers these pages too."""
    from .gradebook import late_penalties
    from .nbgrader_engine import copy_submission_files

    facts = lesson_facts(config.course_root, lesson)
    records = {s: r for s, r in stored_results(config.course_root, lesson).items() if not students or s in students}
    penalties = late_penalties(config.course_root, lesson) if records else {}
    renderer = page_renderer()
    written = []
    for student, record in records.items():
        target = feedback_path(config.course_root, lesson, student)
        target.parent.mkdir(parents=True, exist_ok=True)
        page = render_feedback(record, facts, config.course_root, renderer, penalties.get(student, 0.0))
        target.write_text(safe_text(page, limit=50_000_000), encoding="utf-8")
        copy_submission_files(config.course_root / "submitted" / student / lesson, target.parent)
        written.append(target)
    return written
