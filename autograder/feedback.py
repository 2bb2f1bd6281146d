"""Per-student HTML feedback: each exercise's score, status and student-facing message, nothing else
(no hidden inputs, expected values, grader source, seeds or internal tracebacks)."""
from __future__ import annotations

import html
import json
from pathlib import Path

from .config import Config

PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font-family:sans-serif;max-width:60em;margin:2em auto}}table{{border-collapse:collapse;width:100%}}
td,th{{border:1px solid #ccc;padding:.4em;text-align:left;vertical-align:top}}.passed{{color:#070}}
.failed{{color:#a60}}.error,.timeout{{color:#b00}}.missing{{color:#666}}</style></head>
<body><h1>{title}</h1><p><strong>Score: {score:g} / {max_score:g}</strong></p>
<table><tr><th>exercise</th><th>score</th><th>status</th><th>feedback</th></tr>
{rows}</table>{notes}</body></html>
"""


def render_feedback(student: str, state: dict) -> str:
    """Return the feedback page for one graded (or ungradable) submission."""
    title = html.escape(f"{state['lesson']}: feedback for {student}")
    result = state.get("result")
    if not result:
        return PAGE.format(title=title, score=0, max_score=0, rows="",
                           notes=f"<p>Your submission could not be graded: {html.escape(state.get('error', ''))}</p>")
    rows = "\n".join(
        f"<tr><td>{html.escape(e['id'])}</td><td>{e['score']:g} / {e['max_score']:g}</td>"
        f"<td class=\"{html.escape(e['status'])}\">{html.escape(e['status'])}</td><td>{html.escape(e['feedback'])}</td></tr>"
        for e in result["exercises"])
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in result.get("notes", []))
    return PAGE.format(title=title, score=result["score"], max_score=result["max_score"], rows=rows,
                       notes=f"<h2>Notes</h2><ul>{notes}</ul>" if notes else "")


def write_feedback(config: Config, lesson: str, students: list[str] | None = None) -> list[Path]:
    """Write feedback/<student>/<lesson>/<lesson>.html for every graded submission; return the paths."""
    written = []
    for state_file in sorted((config.course_root / "autograded").glob(f"*/{lesson}/result.json")):
        student = state_file.parent.parent.name
        if students and student not in students:
            continue
        target = config.course_root / "feedback" / student / lesson / f"{lesson}.html"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(render_feedback(student, json.loads(state_file.read_text())))
        written.append(target)
    return written
