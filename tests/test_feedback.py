"""Feedback pages and the class report on a fabricated class (records as autograde stores them, no sandbox):
what a student reads, that nothing from the grader side reaches any file the command writes, links that
resolve, and the report's sections. About 10 s in all."""
from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from autograder.config import load_config
from autograder.course import get_lesson
from autograder.democlass import make_course
from autograder.feedback import student_traceback, write_feedback
from autograder.report import write_report
from tests.classfactory import GRADER_TRACEBACK, fabricate_class
from tests.conftest import ROOT
from tests.test_nbgrader_native import leaks

LESSON = "hands_on_dl"


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """A course with 12 fabricated graded students and one ungradable, feedback and report written."""
    root = make_course(tmp_path_factory.mktemp("feedback") / "course", ROOT)
    records = fabricate_class(root, get_lesson(root, LESSON), 12)
    config = load_config(root)
    pages = write_feedback(config, LESSON)
    return root, records, pages, write_report(config, LESSON)


class Anchors(HTMLParser):
    """Collects a page's ids and names, and its links."""

    def __init__(self) -> None:
        super().__init__()
        self.targets, self.links = set(), []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.targets |= {attrs[k] for k in ("id", "name") if attrs.get(k)}
        if tag == "a" and attrs.get("href"):
            self.links.append(attrs["href"])


def anchors(path: Path) -> Anchors:
    parser = Anchors()
    parser.feed(path.read_text())
    return parser


def test_every_file_the_feedback_command_writes_leaks_nothing(course):
    """Every file under feedback/ (pages, and the timestamp and secret copied beside them for nbgrader's
    exchange) is free of hidden-test names, seeds, details, fingerprints, grader tracebacks and host paths."""
    root, records, pages, _ = course
    written = sorted(p for p in (root / "feedback").rglob("*") if p.is_file())
    assert len(pages) == len(records) and {p.name for p in written} >= {f"{LESSON}.html", "timestamp.txt"}
    assert leaks(root, written) == []
    for page in pages:
        text = page.read_text()
        assert not any(line.strip() in text for line in GRADER_TRACEBACK)
        assert "hidden_property" not in text and "a1b2c3d4e5f60718" not in text


def test_a_page_is_the_students_notebook_with_a_summary_and_a_verdict_after_each_answer(course):
    root, records, _, _ = course
    student = next(s for s, r in records.items() if r.result and any(e.outcome == "timeout" for e in r.result.exercises))
    page = (root / "feedback" / student / LESSON / f"{LESSON}.html").read_text()
    result = records[student].result
    assert f"Score: {result.score:g} / {result.max_score:g}" in page
    assert page.count('class="verdict verdict-') == len(result.exercises)
    timed_out = next(e for e in result.exercises if e.outcome == "timeout")
    box = page[page.index(f'id="verdict-{timed_out.exercise}"'):]
    box = box[:box.index("</div>")]
    assert "ran out of time" in box and "Cell In[1], line 3" in box and "loss.backward()" in box
    assert "_tensor.py" not in box  # the library frame is not the student's


def test_every_link_on_a_page_and_in_the_report_resolves(course):
    root, _, pages, report = course
    for page in [*pages, report["html"]]:
        found = anchors(page)
        for link in found.links:
            if link.startswith("#"):
                assert link[1:] in found.targets, (page, link)
            elif not link.startswith(("https://", "http://")):  # the lesson's own references
                assert (page.parent / link).is_file(), (page, link)


def test_an_ungradable_submission_gets_a_page_that_says_why(course):
    root, _, _, _ = course
    page = (root / "feedback" / "unreadable_upload" / LESSON / f"{LESSON}.html").read_text()
    assert "could not be graded" in page and "not a notebook" in page and "0 of 24 points" in page


def test_feedback_is_the_same_bytes_when_written_again(course):
    root, _, pages, _ = course
    before = {p: p.read_bytes() for p in pages}
    write_feedback(load_config(root), LESSON)
    assert {p: p.read_bytes() for p in pages} == before


def test_the_report_tells_what_to_reteach_and_who_needs_help(course):
    root, records, _, report = course
    page = report["html"].read_text()
    for heading in ("Students who need help", "Exercises: difficulty and discrimination", "Common failure messages",
                    "Appendix: grading time"):
        assert heading in page
    assert page.index("Students who need help") < page.index("Appendix")
    assert "unreadable_upload" in page and "not graded" in page
    assert re.search(r'href="\.\./feedback/student\d+/hands_on_dl/hands_on_dl\.html"', page)
    assert "hidden_property" not in page and "900000001" not in page  # details and seeds are not the report's


def test_a_students_traceback_keeps_their_cells_only():
    import nbformat

    from tests.classfactory import student_traceback as printed

    cell = nbformat.v4.new_code_cell("x")
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="\x1b[0;31mhello\n" + printed("ValueError"))]
    kept = student_traceback(cell)
    assert kept.startswith("ValueError") and "Cell In[1], line 3" in kept and "File " not in kept
    assert kept.endswith("ValueError: the student's message") and "-----" not in kept
    assert student_traceback(nbformat.v4.new_code_cell("y")) == ""


def test_the_course_view_lists_every_student_and_marks_who_submitted_nothing(course, tmp_path):
    """`autograder report --roster` (the real entry point) prints the course at 80 columns and writes it."""
    import subprocess
    import sys

    root, records, _, _ = course
    roster = tmp_path / "class.csv"
    roster.write_text("id,first_name,last_name,email\nstudent000,A,B,a@example.org\nzed_never_came,Z,Y,z@example.org\n")
    done = subprocess.run([sys.executable, "-m", "autograder.cli", "report", "--roster", str(roster)], cwd=root,
                          capture_output=True, text=True, env={**__import__("os").environ, "COLUMNS": "80"})
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert max(map(len, lines)) <= 80 and any("zed_never_came" in l and "submitted nothing" in l for l in lines)
    assert any(l.startswith("student001 ") and "not on the roster" in l for l in lines)
    rows = {r.split(",")[0]: r for r in (root / "reports" / "course.csv").read_text().splitlines()}
    assert float(rows["student000"].split(",")[1]) == records["student000"].result.score
    assert rows["zed_never_came"].endswith("submitted nothing") and len(rows) == len(records) + 2  # + header
    page = root / "reports" / "course.html"
    links = anchors(page).links
    assert "../feedback/student000/hands_on_dl/hands_on_dl.html" in links
    assert all((page.parent / link).is_file() for link in links), links
