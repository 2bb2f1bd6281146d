"""Feedback pages and the class report for a large class, measured in one run on a fabricated class
(records and executed notebooks as `autograde` stores them; nothing is graded): `autograder feedback`'s
write_feedback and `autograder report`'s write_report, against the baseline of rendering the same executed
notebooks with nbconvert's HTMLExporter on nbgrader's feedback template as nbgrader's generate_feedback
does (one page per student, no verdicts), timed on a sample and scaled to the class.

    .venv/bin/python benchmarks/bench_feedback.py [--students 200] [--baseline-sample 10]

Wall time and CPU time are both printed: on a shared machine the wall time is mostly waiting for a core.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from autograder.config import load_config  # noqa: E402
from autograder.course import get_lesson  # noqa: E402
from autograder.democlass import make_course  # noqa: E402
from autograder.feedback import write_feedback  # noqa: E402
from autograder.report import write_report  # noqa: E402
from autograder.results import executed_path  # noqa: E402
from tests.classfactory import fabricate_class  # noqa: E402

LESSON = "hands_on_dl"


def nbconvert_page_seconds(root: Path, students: list[str]) -> float:
    """Return the mean seconds per page of nbconvert's HTMLExporter with nbgrader's feedback template."""
    import nbformat
    import nbgrader
    from nbconvert.exporters import HTMLExporter
    from traitlets.config import Config

    here = Path(nbgrader.__file__).parent / "server_extensions" / "formgrader"
    config = Config()
    config.HTMLExporter.template_name = "feedback"
    config.HTMLExporter.extra_template_basedirs = [str(here / "templates")]
    config.HTMLExporter.extra_template_paths = [str(here / "static" / "node_modules" / "bootstrap" / "dist" / "css")]
    exporter = HTMLExporter(config=config)
    resources = {"nbgrader": {"notebook": LESSON, "score": 0, "max_score": 24, "late_penalty": 0}}

    def page(student: str) -> None:
        nb = nbformat.read(executed_path(root, LESSON, student), 4)
        for cell in nb.cells:  # what nbgrader's GetGrades sets from the gradebook
            cell.metadata.get("nbgrader", {}).setdefault("score", 0.0)
        exporter.from_notebook_node(nb, resources=resources)

    page(students[0])
    start = time.perf_counter()
    for student in students:
        page(student)
    return (time.perf_counter() - start) / len(students)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--students", type=int, default=200)
    parser.add_argument("--baseline-sample", type=int, default=10, help="pages the baseline renders (then scaled)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-feedback-") as tmp:
        root = make_course(Path(tmp) / "course", ROOT)
        start = time.perf_counter()
        records = fabricate_class(root, get_lesson(root, LESSON), args.students)
        print(f"fabricated {len(records)} submissions in {time.perf_counter() - start:.1f} s")
        config = load_config(root)
        start, cpu = time.perf_counter(), time.process_time()
        pages = write_feedback(config, LESSON)
        feedback, feedback_cpu = time.perf_counter() - start, time.process_time() - cpu
        start, cpu = time.perf_counter(), time.process_time()
        write_report(config, LESSON)
        report, report_cpu = time.perf_counter() - start, time.process_time() - cpu
        graded = [s for s, r in records.items() if r.result][: args.baseline_sample]
        baseline = nbconvert_page_seconds(root, graded) * len(pages)
        size = sum(p.stat().st_size for p in pages) / len(pages) / 1e3
        print(f"feedback: {len(pages)} pages in {feedback:.1f} s ({1e3 * feedback / len(pages):.0f} ms a page, "
              f"{size:.0f} kB each; {feedback_cpu:.1f} s of CPU)")
        print(f"report:   {report:.1f} s ({report_cpu:.1f} s of CPU)")
        print(f"baseline: nbconvert + nbgrader's feedback template, {baseline:.1f} s for {len(pages)} pages "
              f"(scaled from {len(graded)}); feedback takes {feedback / baseline:.2f}x of it")


if __name__ == "__main__":
    main()
