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
import hashlib
import html
import json
import re
import secrets
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from .config import Config
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
    return _new_cell("markdown", text, f"verdict-{re.sub(r'[^A-Za-z0-9_-]', '-', name)}"[:64])


def _new_cell(cell_type: str, source: str, cell_id: str, **metadata: str) -> NotebookNode:
    """Return a cell built as nbformat.v4 builds it, without checking each one against the schema (for 200
    students, checking every inserted cell cost more than rendering it; the page's notebook is checked once)."""
    return nbformat.from_dict({"cell_type": cell_type, "id": cell_id, "metadata": metadata, "source": source})


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


def _feedback_exporter_class():
    """Return nbconvert's HTMLExporter without its closing BeautifulSoup pass, with cached filters.

    That pass parses the whole page again to add alt text to images and tab stops to JupyterLab cells (the
    classic template nbgrader's feedback extends has none): it took half of each page's time. Alt text is
    added here by `_add_alt_text`. Code highlighting and markdown are the same for most cells of every
    student (the lesson's text, its locked test cells), so they are computed once per distinct text."""
    from functools import lru_cache

    from nbconvert.exporters import HTMLExporter, TemplateExporter

    class FeedbackExporter(HTMLExporter):
        def from_notebook_node(self, nb, resources=None, **kw):
            from nbconvert.filters.highlight import Highlight2HTML

            language = nb.metadata.get("language_info", {})
            lexer = language.get("pygments_lexer", language.get("name", None))
            if "highlight_code" not in self._cached_filters:
                highlight = Highlight2HTML(pygments_lexer=lexer, parent=self)
                self._cached_filters["highlight_code"] = lru_cache(maxsize=4096)(
                    lambda source, language=None: highlight(source, language))
            cached = self._cached_filters["highlight_code"]
            self.register_filter("highlight_code", lambda source, language=None, metadata=None, **_: cached(source, language))
            resources = self._init_resources(resources)
            page, resources = TemplateExporter.from_notebook_node(self, nb, resources, **kw)
            return _add_alt_text(page), resources

    FeedbackExporter._cached_filters = {}
    return FeedbackExporter


_IMG_WITHOUT_ALT = re.compile(r"<img(?![^>]*\balt=)")


def _add_alt_text(page: str) -> str:
    """Return the page with alt text on every image that has none (what nbconvert's closing pass adds)."""
    return _IMG_WITHOUT_ALT.sub('<img alt="No description has been provided for this image"', page)


class PageRenderer:
    """nbgrader's feedback template (as generate_feedback configures it) on nbconvert, built once and
    reused for every page."""

    def __init__(self) -> None:
        import nbgrader
        from jupyter_core.paths import jupyter_config_dir
        from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
        from traitlets.config import Config as TraitletsConfig

        here = Path(nbgrader.__file__).parent / "server_extensions" / "formgrader"
        config = TraitletsConfig()
        config.HTMLExporter.template_name = "feedback"
        config.HTMLExporter.optimistic_validation = True  # validate the page's notebook once, not per step
        config.HTMLExporter.extra_template_basedirs = [str(here / "templates")]
        config.HTMLExporter.extra_template_paths = [str(here / "static" / "node_modules" / "bootstrap" / "dist" / "css")]
        self.exporter = _feedback_exporter_class()(config=config)
        # the page's inline CSS (pygments, the course's custom.css) as generate_feedback adds it: once, not per page
        _, header = CSSHTMLHeaderPreprocessor(config=config).preprocess(nbformat.v4.new_notebook(),
                                                                         {"config_dir": jupyter_config_dir()})
        self.inlining = header["inlining"]
        self.fragments: dict[str, str] = {}  # a cell's content hash -> its HTML
        self.nonce = "agcell" + secrets.token_hex(8)  # a student cannot type a token that we replace

    def render(self, nb: NotebookNode, resources: dict) -> str:
        """Return the page's HTML. A cell without nbgrader metadata (the lesson's text, a student's scratch
        cell) renders the same for every student who has it unchanged: it is rendered once and its HTML
        reused. Graded cells, whose scores differ per student, always go through the template."""
        cached: dict[str, list[str]] = {}  # token in this page -> the keys of the run of cached cells it stands for
        fresh: dict[str, str] = {}  # token around a cell rendered now -> its key
        cells: list[NotebookNode] = []
        for index, cell in enumerate(nb.cells):
            if cell.cell_type == "raw" or cell.metadata.get("nbgrader"):
                cells.append(cell)
                continue
            key = hashlib.sha256(json.dumps(cell, sort_keys=True).encode()).hexdigest()
            token = f"{self.nonce}x{index}x"
            if key not in self.fragments:
                fresh[token] = key
                cells += [_token_cell(token + "s"), cell, _token_cell(token + "e")]
            elif cells and cells[-1].source in cached:  # one token for a run of cached cells
                cached[cells[-1].source].append(key)
            else:
                cached[token] = [key]
                cells.append(_token_cell(token))
        nb = copy.copy(nb)
        nb.cells = cells
        page, _ = self.exporter.from_notebook_node(nb, resources={**resources, "inlining": self.inlining})
        # a cell rendered now and the same cell taken from the cache give the same bytes: each is its HTML,
        # stripped, on lines of its own, whatever whitespace the template put around the placeholders
        def fill(match: re.Match) -> str:
            if match.group(1) is None:  # a run of cached cells
                return "".join(f"\n{self.fragments[k]}\n" for k in cached.get(match.group(3), ()))
            fragment = match.group(2).strip()  # a cell rendered now, remembered
            if len(self.fragments) < MAX_REMEMBERED_CELLS:
                self.fragments[fresh[match.group(1)]] = fragment
            return f"\n{fragment}\n"

        nonce = re.escape(self.nonce)
        page = re.sub(rf"\s*(?:({nonce}x\d+x)s(.*?)\1e|({nonce}x\d+x))\s*", fill, page, flags=re.S)
        # the template's table of contents leaves blank lines per cell, and placeholders change the count
        return _TOC.sub(lambda m: m.group(1) + re.sub(r"\n\s*(?=\n)", "", m.group(2)) + m.group(3), page, count=1)


MAX_REMEMBERED_CELLS = 20_000
_TOC = re.compile(r'(<div id="toc">)(.*?)(</div>)', re.S)


def _token_cell(token: str) -> NotebookNode:
    """Return a raw HTML cell holding only `token` (letters and digits: nbconvert renders it as is)."""
    return _new_cell("raw", token, token[-60:], raw_mimetype="text/html")


@lru_cache(maxsize=1)
def page_renderer() -> PageRenderer:
    """Return this process's renderer: built once (nbconvert's templates take a second to load), so that
    `watch`, which writes one page per grade, pays it once, and cells every student shares stay rendered."""
    return PageRenderer()


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
