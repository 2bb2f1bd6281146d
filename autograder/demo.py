"""The built-in demo class: a handful of hands_on_dl submissions with the troubles real classes have."""
from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
from rich.console import Console
from rich.table import Table

from .batch import BatchItem, BatchOutcome, grade_many
from .config import Config
from .course import get_lesson
from .validate import build_submission, load_mutants

DEMO_LESSON = "hands_on_dl"
INFINITE_LOOP = "def train_f(x, y, learning_rate=0.01, number_of_iterations=50):\n  global p\n  p = torch.rand(1, requires_grad=True)\n\nwhile True:\n  pass\n"
CRASH = "import os\nos._exit(0)\n"


def build_demo_class(config: Config, directory: Path) -> list[BatchItem]:
    """Return the demo class written under `directory`, one folder per student."""
    lesson = get_lesson(config.course_root, DEMO_LESSON)
    mutants = {(m.exercise, m.name): m for m in load_mutants(lesson)}
    shutil.rmtree(directory, ignore_errors=True)
    items = []

    def student(name: str, mutant=None, edit=None) -> None:
        folder = directory / name
        folder.mkdir(parents=True)
        path = build_submission(lesson, mutant, folder)
        if edit:
            nb = nbformat.read(path, as_version=4)
            edit(nb)
            nbformat.write(nb, path)
        items.append(BatchItem(name, path))

    def answer(exercise: str, source: str):
        def edit(nb):
            next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == exercise).source = source
        return edit

    def several(*edits):
        return lambda nb: [e(nb) for e in edits]

    student("alice")  # the reference solution
    twin = mutants[("twin_tower", "two independent towers")]
    student("bob", twin, several(answer("identity_tensor", "I_tensor = torch.eye(2)"),
                                 answer("minimal_width", "w_1 = 256")))  # partly wrong
    student("carol", None, answer("deep_forward", CRASH))  # ends the Python process in a cell
    student("dave", None, answer("gradient_loop", INFINITE_LOOP))  # an endless loop
    student("erin", mutants[("mnist_accuracy", "weights not submitted")])
    blank = directory / "frank"
    blank.mkdir(parents=True)
    shutil.copyfile(lesson.release_notebook, blank / f"{DEMO_LESSON}.ipynb")  # handed in untouched
    items.append(BatchItem("frank", blank / f"{DEMO_LESSON}.ipynb"))
    junk = directory / "grace"
    junk.mkdir(parents=True)
    (junk / f"{DEMO_LESSON}.ipynb").write_bytes(b"\x89PNG\r\n\x1a\n not a notebook")
    items.append(BatchItem("grace", junk / f"{DEMO_LESSON}.ipynb"))
    return items


def class_table(outcomes: dict[str, BatchOutcome], exercises: list[str]) -> Table:
    """Return a per-student, per-exercise table of scores (status initials where not passed)."""
    table = Table(title="demo class: hands_on_dl", title_justify="left")
    table.add_column("student")
    short = {"failed": "F", "error": "E", "timeout": "T", "missing": "M"}
    for exercise in exercises:
        table.add_column(exercise.replace("_", " "), justify="right")
    table.add_column("total", justify="right")
    for key, outcome in outcomes.items():
        if outcome.result is None:
            table.add_row(key, *[""] * len(exercises), f"[red]not graded: {outcome.error}[/]")
            continue
        cells = []
        for e in outcome.result.exercises:
            style = "green" if e.outcome == "passed" else "yellow" if e.score else "red"
            cells.append(f"[{style}]{e.score:g}{'' if e.outcome == 'passed' else ' ' + short[e.outcome]}[/]")
        table.add_row(key, *cells, f"{outcome.result.score:g}/{outcome.result.max_score:g}")
    table.caption = "F failed, E error, T timeout, M missing"
    return table


def run_demo(config: Config, console: Console, workers: int | None = None) -> dict[str, BatchOutcome]:
    """Build the demo class, grade it in the sandbox, print the class table; return the outcomes."""
    directory = config.course_root / "demo_class"
    items = build_demo_class(config, directory)
    console.print(f"grading {len(items)} demo submissions of {DEMO_LESSON} in {directory} …")
    outcomes = grade_many(items, config.course_root, workers, limits={"cell_timeout": 20},
                          on_done=lambda o: console.print(f"  graded {o.key}: "
                                                          + (f"{o.result.score:g}/{o.result.max_score:g}"
                                                             if o.result else f"not graded ({o.error})")))
    for key, outcome in outcomes.items():
        if outcome.result:
            (directory / key / "result.json").write_text(outcome.result.dumps() + "\n")
    console.print(class_table(outcomes, [e.id for e in get_lesson(config.course_root, DEMO_LESSON).exercises]))
    console.print(f"per-student results (JSON, with feedback): {directory}/<student>/result.json")
    return outcomes
