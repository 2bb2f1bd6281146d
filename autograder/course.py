"""The course directory: which lessons exist and where each lesson's files live."""
from __future__ import annotations

import importlib
import importlib.util
import sys
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from types import ModuleType

from nbformat import NotebookNode

from .notebook import Exercise, find_exercises, grade_id, read_notebook


class UnknownLessonError(Exception):
    """No lesson of that name in this course."""


@dataclass(frozen=True)
class Lesson:
    """One lesson: source, release, reference solutions and hidden graders, all named after it."""

    name: str
    root: Path

    @property
    def source_notebook(self) -> Path:
        return self.root / "source" / self.name / f"{self.name}.ipynb"

    @property
    def release_notebook(self) -> Path:
        return self.root / "release" / self.name / f"{self.name}.ipynb"

    @property
    def solutions_file(self) -> Path:
        return self.root / "solutions" / f"{self.name}.py"

    @property
    def cell_times_file(self) -> Path:
        """The reference's CPU seconds per step, recorded by `validate` (each step's time budget comes from it)."""
        return self.root / "lessons" / self.name / "cell_times.json"

    @property
    def grader_dir(self) -> Path:
        return Path(__file__).parent / "graders" / self.name

    @cached_property
    def released(self) -> NotebookNode:
        """Return the released student notebook (the trusted copy of test cells and skip tags)."""
        return read_notebook(self.release_notebook)

    @cached_property
    def exercises(self) -> tuple[Exercise, ...]:
        """Return the lesson's exercises with points, from the released notebook."""
        return find_exercises(self.released)

    @cached_property
    def grader(self) -> ModuleType:
        """Return the lesson's grader package (hidden inputs, submitted files, data it needs)."""
        return importlib.import_module(f"autograder.graders.{self.name}")

    def solutions(self) -> ModuleType:
        """Return the reference solutions module, imported once (trusted code)."""
        name = f"_solutions_{self.name}"
        if name not in sys.modules:
            spec = importlib.util.spec_from_file_location(name, self.solutions_file)
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            spec.loader.exec_module(module)
        return sys.modules[name]


def lesson_names(root: Path) -> list[str]:
    """Return the lessons of the course: those with a source notebook."""
    return sorted(p.name for p in (root / "source").iterdir() if (p / f"{p.name}.ipynb").is_file())


def get_lesson(root: Path, name: str) -> Lesson:
    """Return the lesson `name`, or raise UnknownLessonError listing the known ones."""
    known = lesson_names(root)
    if name not in known:
        raise UnknownLessonError(f"unknown lesson {name!r}; this course has: {', '.join(known) or 'none'}")
    return Lesson(name, root)


def lesson_grade_ids(root: Path) -> dict[str, set[str]]:
    """Return each lesson's set of grade_ids, for telling which lesson a notebook belongs to."""
    ids = {}
    for name in lesson_names(root):
        lesson = Lesson(name, root)
        path = lesson.release_notebook if lesson.release_notebook.is_file() else lesson.source_notebook
        ids[name] = {grade_id(c) for c in read_notebook(path).cells} - {None}
    return ids
