"""The built-in demo: a generated class of hands_on_dl submissions taken through the whole loop
(LMS zip -> collect -> autograde -> feedback -> report) in a throw-away course beside the real one."""
from __future__ import annotations

import itertools
import shutil
import tempfile
import zipfile
from pathlib import Path

import nbformat
from rich.console import Console

from .config import Config, load_config
from .course import Lesson, get_lesson
from .democlass import make_course
from .tables import lesson_table, plain
from .validate import build_submission, load_mutants

DEMO_LESSON = "hands_on_dl"
ENDLESS_LOOP = "while True:\n  pass\n"
CRASH = "import os\nos._exit(0)\n"
NAMES = ("alice ahmed amara bruno chen dana elif farid greta hiro ines jonas kofi lena mateo nadia omar priya "
         "quinn rosa sven tariq uma").split()


def _replace_answer(path: Path, exercise: str, source: str) -> None:
    nb = nbformat.read(path, as_version=4)
    next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == exercise).source = source
    nbformat.write(nb, path)


def build_class(lesson: Lesson, folder: Path) -> dict[str, str]:
    """Write the demo class into `folder` (one sub-folder per student); return each student's story."""
    mutants = [m for m in load_mutants(lesson) if m.answer]
    missing_weights = [m for m in load_mutants(lesson) if "missing" in m.files.values()]
    cycle = itertools.cycle(mutants)
    stories = {}
    plan = (["correct"] * 6 + ["partly wrong"] * 8 + ["crashes", "crashes", "endless loop", "endless loop"]
            + ["no weights"] * 2 + ["untouched", "not a notebook"])
    for name, story in zip(NAMES, plan):
        where = folder / name
        where.mkdir(parents=True)
        if story == "partly wrong":
            first, second = next(cycle), next(cycle)
            path = build_submission(lesson, first, where)
            if second.exercise != first.exercise:
                _replace_answer(path, second.exercise, second.answer)
            story = f"{story}: {first.exercise} ({first.name}), {second.exercise} ({second.name})"
        elif story == "no weights":
            build_submission(lesson, missing_weights[len(stories) % len(missing_weights)], where)
        elif story == "untouched":
            shutil.copyfile(lesson.release_notebook, where / f"{lesson.name}.ipynb")
        elif story == "not a notebook":
            (where / f"{lesson.name}.ipynb").write_bytes(b"\x89PNG\r\n\x1a\n not a notebook at all")
        else:
            path = build_submission(lesson, None, where)
            if story == "crashes":
                _replace_answer(path, "deep_forward" if name.startswith("c") else "gradients_for_p", CRASH)
            elif story == "endless loop":
                _replace_answer(path, "gradient_loop", ENDLESS_LOOP)
        stories[name] = story
    return stories


def zip_like_an_lms(folder: Path, archive: Path) -> Path:
    """Return a zip of the class with LMS-style flat names: <student>_<file>."""
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
        for path in sorted(folder.glob("*/*")):
            zipped.write(path, f"{path.parent.name}_{path.name}")
    return archive


def run_demo(origin: Config, console: Console, workers: int | None = None) -> Path:
    """Run the whole loop on the demo class; return the demo course directory."""
    from .autograde import autograde
    from .collect import collect
    from .feedback import write_feedback
    from .report import write_report

    course = make_course(origin.course_root / "demo_course", origin.course_root)
    config = load_config(course)
    lesson = get_lesson(course, DEMO_LESSON)
    with tempfile.TemporaryDirectory(prefix="demo-class-") as tmp:
        stories = build_class(lesson, Path(tmp) / "class")
        archive = zip_like_an_lms(Path(tmp) / "class", course / "lms_download.zip")
    console.print(f"[bold]1. an LMS download[/] of {len(stories)} students: {archive}")
    from .gradebook import add_students

    add_students(course, {name: {"first_name": name.capitalize(), "last_name": "Demo", "email": f"{name}@example.org"}
                          for name in stories})  # what `collect --roster` does with a class list
    report = collect(DEMO_LESSON, archive, course, lesson.spec.submitted_files)
    console.print(f"[bold]2. collected[/] {len(report.imported)} students into submitted/; "
                  f"unreadable: {len(report.unreadable)}, duplicates: {len(report.duplicates)}")
    console.print("[bold]3. autograding[/] in the sandbox …")
    outcomes = autograde(config, DEMO_LESSON, workers=workers, limits={"cell_timeout": 20}, on_event=lambda e, o: console.print(
        plain(f"   {o.student}: {o.result.score:g}/{o.result.max_score:g}" if o and o.result
              else f"   {o.student}: not graded ({o.error})" if o else f"   {e}")))
    console.print(lesson_table([(o.student, o.result, o.error) for o in outcomes], [e.id for e in lesson.exercises],
                               f"demo class: {DEMO_LESSON}", console.width))
    for outcome in outcomes:
        console.print(plain(f"   {outcome.student}: {stories[outcome.student]}"
                            + (f" -> not graded: {outcome.error}" if outcome.result is None else "")))
    pages = write_feedback(config, DEMO_LESSON)
    paths = write_report(config, DEMO_LESSON)
    console.print(f"[bold]4. feedback[/]: {len(pages)} pages under {course / 'feedback'}")
    console.print(f"[bold]5. report[/]: {paths['html']}\n   scores: {paths['csv']}\n   Gradescope: {paths['gradescope']}/")
    console.print(f"   gradebook: {course / 'gradebook.db'} (try: cd {course} && nbgrader export)")
    console.print(f"   formgrader: cd {course} && jupyter server, then open /formgrader; nbgrader autograde, "
                  "generate_feedback and release_feedback there run this engine (README: nbgrader's own tools)")
    return course
