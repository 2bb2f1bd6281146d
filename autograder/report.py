"""The class report: one self-contained HTML page that tells the instructor what to re-teach (common
failure messages and who got them, item analysis, students who need help, plots; grading times in an
appendix), a CSV, and Gradescope results. Built from the stored-result records; never from their
instructor-only details (hidden-test names), seeds or fingerprints."""
from __future__ import annotations

import base64
import csv
import html
import io
import json
from pathlib import Path

from .analysis import common_failures, item_analysis, students_needing_help
from .config import Config
from .results import OUTCOMES, StoredResult, stored_results
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


def plots(grades: dict[str, StoredResult], exercises: list[str]) -> dict[str, str]:
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
            "Why exercises were not passed": _figure_png(reasons), APPENDIX_PLOT: _figure_png(timing)}


APPENDIX_PLOT = "Grading time per submission"
STYLE = ("body{font-family:sans-serif;max-width:62em;margin:2em auto;padding:0 1em}img{max-width:100%}"
         "table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:.25em .5em;text-align:left;"
         "vertical-align:top}td.n{text-align:right}.flag{color:#b00}nav a{margin-right:1em}")


def _student_link(course_root: Path, lesson: str, student: str) -> str:
    """Return the student's name, linked to their feedback page when it was written."""
    name = html.escape(safe_text(student))
    from .feedback import feedback_path

    if feedback_path(course_root, lesson, student).is_file():
        return f'<a href="../feedback/{html.escape(student)}/{lesson}/{lesson}.html">{name}</a>'
    return name


def _table(head: list[str], rows: list[list[str]], numeric: set[int] = frozenset()) -> str:
    """Return an HTML table; cells are HTML already."""
    header = "".join(f"<th>{h}</th>" for h in head)
    body = "".join("<tr>" + "".join(f'<td class="n">{c}</td>' if i in numeric else f"<td>{c}</td>"
                                    for i, c in enumerate(row)) + "</tr>" for row in rows)
    return f"<table><tr>{header}</tr>{body}</table>"


def failures_section(course_root: Path, lesson: str, grades: dict[str, StoredResult], exercises: list[str]) -> str:
    """Return the section listing each exercise's most common failure messages, how many got each, and who."""
    by_exercise = common_failures(grades)
    parts = []
    for exercise in exercises:
        failures = by_exercise.get(exercise)
        if not failures:
            continue
        rows = [[html.escape(f.message) + (f" <small>({f.variants} wordings)</small>" if f.variants > 1 else ""),
                 str(len(f.students)), ", ".join(_student_link(course_root, lesson, s) for s in f.students)]
                for f in failures]
        parts.append(f'<h3 id="fail-{html.escape(exercise)}">{html.escape(exercise)}</h3>'
                     + _table(["message the students read", "students", "who"], rows, {1}))
    return "".join(parts) or "<p>No exercise was failed.</p>"


def items_section(grades: dict[str, StoredResult], exercises: list[str]) -> str:
    """Return the item-analysis table: difficulty and discrimination per exercise, flagged ones marked."""
    failed = set(common_failures(grades))
    name = lambda x: f'<a href="#fail-{html.escape(x)}">{html.escape(x)}</a>' if x in failed else html.escape(x)  # noqa: E731
    rows = [[name(i.exercise), f"{i.max_score:g}",
             f"{100 * i.difficulty:.0f}%", "-" if i.discrimination is None else f"{i.discrimination:.2f}",
             f'<span class="flag">{i.flag}</span>' if i.flag else ""] for i in item_analysis(grades, exercises)]
    return (_table(["exercise", "points", "difficulty (mean % of points)",
                    "discrimination (correlation with the rest)", "look at it"], rows, {1, 2, 3})
            + "<p><small>Difficulty: mean fraction of the exercise's points earned. Discrimination: correlation "
              "of the exercise's score with the score on the rest of the lesson; below 0.2 it does not separate "
              "strong from weak students (undefined when everyone scored the same).</small></p>")


def help_section(course_root: Path, lesson: str, grades: dict[str, StoredResult]) -> str:
    """Return the list of students who need help: lowest scores, crashes, timeouts, missing files, ungraded."""
    rows = [[_student_link(course_root, lesson, h.student),
             "not graded" if h.score is None else f"{h.score:g} / {h.max_score:g}",
             html.escape("; ".join(h.reasons))] for h in students_needing_help(grades)]
    return _table(["student", "score", "why"], rows, {1}) if rows else "<p>Nobody stands out.</p>"


def render_report(course_root: Path, lesson: str, grades: dict[str, StoredResult], exercises: list[str]) -> str:
    """Return the class report page (self-contained: plots are inline PNGs)."""
    figures = plots(grades, exercises)
    image = lambda title: (f'<h3>{html.escape(title)}</h3><img alt="{html.escape(title)}" '  # noqa: E731
                           f'src="data:image/png;base64,{figures[title]}">')
    graded = sorted(g.result.score for g in grades.values() if g.result)
    mean = sum(graded) / len(graded) if graded else 0
    median = graded[len(graded) // 2] if graded else 0
    sections = [("help", "Students who need help", help_section(course_root, lesson, grades)),
                ("items", "Exercises: difficulty and discrimination", items_section(grades, exercises)),
                ("failures", "Common failure messages", failures_section(course_root, lesson, grades, exercises)),
                ("plots", "Plots", "".join(image(t) for t in figures if t != APPENDIX_PLOT)),
                ("appendix", "Appendix: grading time (for whoever runs the service)", image(APPENDIX_PLOT))]
    nav = "".join(f'<a href="#{anchor}">{title.split(":")[0]}</a>' for anchor, title, _ in sections)
    body = "".join(f'<h2 id="{anchor}">{title}</h2>{content}' for anchor, title, content in sections)
    return (f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{lesson}: class report</title>"
            f"<style>{STYLE}</style>"
            # marks how many plots actually rendered: a headless browser test reads it back
            "<script>addEventListener('load', () => document.body.dataset.renderedImages = "
            "[...document.images].filter(i => i.complete && i.naturalWidth > 0).length)</script></head>"
            f"<body><h1>{html.escape(lesson)}: class report</h1><p>{len(grades)} submissions, {len(graded)} graded, "
            f"mean score {mean:.2f}, median {median:g}. Per-student scores: <a href=\"{lesson}.csv\">{lesson}.csv"
            f"</a>.</p><nav>{nav}</nav>{body}</body></html>")


def write_report(config: Config, lesson: str) -> dict[str, Path]:
    """Write reports/<lesson>.html, reports/<lesson>.csv and reports/gradescope/<student>/results.json."""
    from .course import get_lesson

    exercises = [e.id for e in get_lesson(config.course_root, lesson).exercises]
    grades = stored_results(config.course_root, lesson)
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
    page = render_report(config.course_root, lesson, grades, exercises)
    html_path = out / f"{lesson}.html"
    html_path.write_text(page, encoding="utf-8")
    return {"html": html_path, "csv": csv_path, "gradescope": out / "gradescope"}
