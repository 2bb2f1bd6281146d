"""The class report: one self-contained HTML page with matplotlib plots, a CSV, and Gradescope results."""
from __future__ import annotations

import base64
import csv
import html
import io
import json
from pathlib import Path

from .autograde import StoredGrade, stored_grades
from .config import Config
from .results import OUTCOMES
from .text import safe_text

FAILURE_COLOURS = {"failed": "#e0a030", "error": "#c03030", "timeout": "#8040a0", "missing": "#909090"}


def _figure_png(draw) -> str:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 3.6))
    draw(axes)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90)
    plt.close(figure)
    return base64.b64encode(buffer.getvalue()).decode()


def plots(grades: dict[str, StoredGrade], exercises: list[str]) -> dict[str, str]:
    """Return the report's plots as base64 PNGs, by title."""
    graded = [g.result for g in grades.values() if g.result]
    scores = [r.score for r in graded]
    max_score = graded[0].max_score if graded else 1
    counts = {o: [sum(1 for r in graded for e in r.exercises if e.exercise == x and e.outcome == o) for x in exercises]
              for o in OUTCOMES}
    times = [r.timings.get("total", 0) for r in graded]

    def distribution(ax):
        ax.hist(scores, bins=min(20, max(5, len(set(scores)))), range=(0, max_score), color="#3070b0")
        ax.set_xlabel("score"), ax.set_ylabel("students")

    def pass_rate(ax):
        rates = [100 * p / max(1, len(graded)) for p in counts["passed"]]
        ax.barh(exercises, rates, color="#40a040"), ax.set_xlim(0, 100), ax.set_xlabel("% of submissions passed")
        ax.invert_yaxis()

    def reasons(ax):
        left = [0] * len(exercises)
        for outcome, colour in FAILURE_COLOURS.items():
            ax.barh(exercises, counts[outcome], left=left, color=colour, label=outcome)
            left = [a + b for a, b in zip(left, counts[outcome])]
        ax.invert_yaxis(), ax.legend(fontsize=8), ax.set_xlabel("submissions")

    def timing(ax):
        ax.bar(range(len(times)), times, color="#3070b0")
        ax.set_xlabel("submission"), ax.set_ylabel("grading wall time (s)")

    return {"Score distribution": _figure_png(distribution), "Pass rate per exercise": _figure_png(pass_rate),
            "Why exercises were not passed": _figure_png(reasons), "Grading time per submission": _figure_png(timing)}


def write_report(config: Config, lesson: str) -> dict[str, Path]:
    """Write reports/<lesson>.html, reports/<lesson>.csv and reports/gradescope/<student>/results.json."""
    from .course import get_lesson

    exercises = [e.id for e in get_lesson(config.course_root, lesson).exercises]
    grades = stored_grades(config, lesson)
    out = config.course_root / "reports"
    out.mkdir(parents=True, exist_ok=True)
    csv_path = out / f"{lesson}.csv"
    with open(csv_path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["student", "score", "max_score", *exercises, *(f"{x}_status" for x in exercises),
                         "grading_seconds", "error"])
        for student, grade in grades.items():
            result = grade.result
            by_id = {e.exercise: e for e in result.exercises} if result else {}
            writer.writerow([safe_text(student), result.score if result else 0, result.max_score if result else "",
                             *(by_id[x].score if x in by_id else 0 for x in exercises),
                             *(by_id[x].outcome if x in by_id else "not graded" for x in exercises),
                             result.timings.get("total", "") if result else "", grade.error])
    for student, grade in grades.items():
        result = grade.result
        tests = [{"name": e.exercise, "score": e.score, "max_score": e.max_score,
                  "status": "passed" if e.outcome == "passed" else "failed", "output": e.feedback}
                 for e in (result.exercises if result else [])]
        gradescope = {"score": result.score if result else 0, "tests": tests,
                      "execution_time": result.timings.get("total", 0) if result else 0}
        if not result:
            gradescope["output"] = f"Your submission could not be graded: {grade.error}"
        target = out / "gradescope" / student / "results.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(gradescope, indent=1))
    figures = "".join(f'<h2>{html.escape(t)}</h2><img alt="{html.escape(t)}" src="data:image/png;base64,{png}">'
                      for t, png in plots(grades, exercises).items())
    ungraded = "".join(f"<li>{html.escape(safe_text(student))}: {html.escape(grade.error)}</li>"
                       for student, grade in grades.items() if not grade.result)
    graded = [grade.result.score for grade in grades.values() if grade.result]
    mean = sum(graded) / len(graded) if graded else 0
    page = (f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{lesson}: class report</title>"
            "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto}img{max-width:100%}</style>"
            # marks how many plots actually rendered: a headless browser test reads it back
            "<script>addEventListener('load', () => document.body.dataset.renderedImages = "
            "[...document.images].filter(i => i.complete && i.naturalWidth > 0).length)</script></head>"
            f"<body><h1>{html.escape(lesson)}: class report</h1><p>{len(grades)} submissions, {len(graded)} graded, "
            f"mean score {mean:.2f}. Per-student scores: <a href=\"{lesson}.csv\">{lesson}.csv</a>.</p>{figures}"
            + (f"<h2>Not graded</h2><ul>{ungraded}</ul>" if ungraded else "") + "</body></html>")
    html_path = out / f"{lesson}.html"
    html_path.write_text(page, encoding="utf-8")
    return {"html": html_path, "csv": csv_path, "gradescope": out / "gradescope"}
