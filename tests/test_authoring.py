"""AUTHORING.md is proven: on a fresh course, `autograder new week_1`, then every block of the guide applied as
written (files, notebook cells, the training command), then release, validate, and `autograde` of a class of
three (right, partly wrong, crashing), all through the real CLI. About 90 s on 2 idle cores."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from autograder.results import stored_results
from autograder.config import load_config
from autograder.sandbox import bubblewrap_available
from tests.conftest import ROOT

pytestmark = pytest.mark.skipif(not bubblewrap_available(), reason="bubblewrap cannot run here")
LESSON = "week_1"
BLOCK = re.compile(r"^```(\w+)((?: \S+)*)\n(.*?)^```$", re.M | re.S)
AUTOGRADER = Path(sys.executable).parent / "autograder"


def guide_steps(text: str) -> list[tuple[dict, str]]:
    """Return the guide's actionable blocks in order: (their info attributes, their text)."""
    steps = []
    for lang, info, body in BLOCK.findall(text):
        attributes = dict(item.split("=", 1) if "=" in item else (item, True) for item in info.split())
        if {"to", "as", "cell", "run"} & set(attributes):
            steps.append(({"lang": lang, **attributes}, body))
    return steps


def apply_step(root: Path, attributes: dict, body: str) -> None:
    """Do one step of the guide in the course at `root`: write or extend a file, add a notebook cell, or run
    the command lines of a `console run` block."""
    if "as" in attributes:
        (root / attributes["as"]).write_text(body)
    elif "to" in attributes:
        with open(root / attributes["to"], "a") as handle:
            handle.write(body)
    elif "cell" in attributes:
        path = root / "source" / LESSON / f"{LESSON}.ipynb"
        nb = nbformat.read(path, as_version=4)
        source = body.rstrip("\n")
        if attributes["lang"] == "markdown":
            cell = nbformat.v4.new_markdown_cell(source, id=attributes["id"])
        else:
            cell = nbformat.v4.new_code_cell(source, id=attributes["id"])
        if attributes["cell"] in ("answer", "test"):
            test = attributes["cell"] == "test"
            cell.metadata["nbgrader"] = {"grade": test, "grade_id": attributes["id"], "locked": test,
                                         "schema_version": 3, "solution": not test, "task": False}
            if test:
                cell.metadata["nbgrader"]["points"] = float(attributes["points"])
        if "tags" in attributes:
            cell.metadata["tags"] = attributes["tags"].split(",")
        nb.cells.append(cell)
        nbformat.write(nb, path)
    else:
        for line in body.splitlines():
            if line.startswith("$ "):
                command = line[2:].replace(".venv/bin/python", sys.executable)
                subprocess.run(command, shell=True, cwd=root, check=True, timeout=300)


def cli(root: Path, *args: str) -> subprocess.CompletedProcess:
    """Run `autograder ARGS` in the course at `root`, as an instructor would."""
    env = {**os.environ, "COLUMNS": "100"}
    return subprocess.run([str(AUTOGRADER), *args], cwd=root, capture_output=True, text=True, timeout=600, env=env)


def answer_replaced(notebook: Path, exercise: str, source: str) -> None:
    nb = nbformat.read(notebook, as_version=4)
    next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == exercise).source = source
    nbformat.write(nb, notebook)


def test_the_guide_makes_a_lesson_that_validates_releases_and_grades_a_class(tmp_path):
    root = tmp_path / "course"
    root.mkdir()
    for name in ("nbgrader_config.py", "pyproject.toml"):
        shutil.copyfile(ROOT / name, root / name)
    (root / "data").symlink_to((ROOT / "data").resolve())
    made = cli(root, "new", LESSON)
    assert made.returncode == 0, made.stderr
    assert f"created lesson {LESSON}" in made.stdout
    steps = guide_steps((ROOT / "AUTHORING.md").read_text())
    assert sum("cell" in a for a, _ in steps) == 7 and sum("run" in a for a, _ in steps) == 1
    for attributes, body in steps:
        apply_step(root, attributes, body)

    released = cli(root, "release", LESSON)
    assert released.returncode == 0, released.stdout + released.stderr
    validated = cli(root, "validate", LESSON, "--reference-seeds", "1")
    assert validated.returncode == 0, validated.stdout + validated.stderr
    assert "reference: 8/8" in validated.stdout and "mutants caught on their own exercise only: 9/9" in validated.stdout
    assert "right answers in other styles at full marks: 2/2" in validated.stdout

    source = root / "source" / LESSON
    for student in ("right", "partly", "crashing"):
        folder = root / "submitted" / student / LESSON
        folder.mkdir(parents=True)
        shutil.copyfile(source / f"{LESSON}.ipynb", folder / f"{LESSON}.ipynb")
        shutil.copyfile(source / "net.pth", folder / "net.pth")
    answer_replaced(root / "submitted" / "partly" / LESSON / f"{LESSON}.ipynb", "area",
                    "def area(width, height):\n    return width + height")
    answer_replaced(root / "submitted" / "crashing" / LESSON / f"{LESSON}.ipynb", "area", "import os\nos._exit(0)")
    graded = cli(root, "autograde", LESSON)
    assert graded.returncode == 0, graded.stdout + graded.stderr
    grades = stored_results(load_config(root).course_root, LESSON)
    scores = {s: {e.exercise: e.score for e in grades[s].result.exercises} for s in ("right", "partly", "crashing")}
    assert scores["right"] == {"scaled": 3, "area": 3, "net": 2}
    assert scores["partly"] == {"scaled": 3, "area": 1, "net": 2}  # numbers returned (1 of 3 parts), wrong values
    assert scores["crashing"] == {"scaled": 3, "area": 0, "net": 2}  # the crash costs its own exercise only
    crashed = next(e for e in grades["crashing"].result.exercises if e.exercise == "area")
    assert crashed.outcome == "error" and "ended the Python process" in crashed.feedback


def test_a_new_course_gets_the_lessons_package_this_course_has():
    """`autograder new` writes lessons/__init__.py and lessons/conftest.py from text of its own: it must stay
    what this course's lessons run with."""
    from autograder.new import LESSONS_CONFTEST, LESSONS_INIT

    assert (ROOT / "lessons" / "conftest.py").read_text() == LESSONS_CONFTEST
    assert (ROOT / "lessons" / "__init__.py").read_text() == LESSONS_INIT
