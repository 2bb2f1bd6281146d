"""The course directory: which lessons exist and where each lesson's files live.

A lesson's notebooks are nbgrader's (source/<lesson>/, release/<lesson>/) and its reference is
solutions/<lesson>.py; everything else it owns sits in lessons/<lesson>/ (spec, probes, hidden graders,
mutants, calibration, training scripts). Only lessons/<lesson>/probes.py is ever mounted in a sandbox."""
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
from .spec import LessonSpec, LessonSpecError, checked_spec


class UnknownLessonError(Exception):
    """No lesson of that name in this course."""


@dataclass(frozen=True)
class Lesson:
    """One lesson: source, release, reference solutions and its own folder, all named after it."""

    name: str
    root: Path

    @property
    def home(self) -> Path:
        """Return the lesson's own folder, lessons/<lesson>/ (trusted: never mounted, never released)."""
        return self.root / "lessons" / self.name

    @property
    def probes_file(self) -> Path:
        """Return the lesson's probe module: the only file of its folder a sandbox may read."""
        return self.home / "probes.py"

    @property
    def mutants_file(self) -> Path:
        return self.home / "mutants.toml"

    @property
    def calibration_file(self) -> Path:
        return self.home / "calibration.json"

    @property
    def judge_files(self) -> list[Path]:
        """Return the lesson's files that decide its grades: its modules (spec, probes, graders, helpers)
        and calibration; not the scripts that make weights or calibration, nor mutants or timings."""
        scripts = ("calibrate", "train", "build")
        modules = [p for p in sorted(self.home.glob("*.py")) if not p.stem.startswith(scripts)]
        return modules + [self.calibration_file]

    @property
    def grader_files(self) -> list[Path]:
        """Return the lesson's hidden pytest graders (lessons/<lesson>/test_*.py)."""
        return sorted(self.home.glob("test_*.py"))

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
        return self.home / "cell_times.json"

    @cached_property
    def released(self) -> NotebookNode:
        """Return the released student notebook (the trusted copy of test cells and skip tags)."""
        return read_notebook(self.release_notebook)

    @cached_property
    def exercises(self) -> tuple[Exercise, ...]:
        """Return the lesson's exercises with points, from the released notebook."""
        return find_exercises(self.released)

    @cached_property
    def spec(self) -> LessonSpec:
        """Return the lesson's declared LessonSpec (lessons/<lesson>/spec.py), checked against its
        exercises; raises LessonSpecError naming the lesson and the missing or bad field."""
        if not (self.home / "spec.py").is_file():
            raise LessonSpecError(self.name, "no spec.py (autograder new writes one)")
        try:
            module = import_lesson_module(self.root, f"{self.name}.spec")
        except Exception as exc:  # an instructor's file: say which and why, never a traceback
            raise LessonSpecError(self.name, f"spec.py cannot be imported ({type(exc).__name__}: {exc})") from None
        exercises = ({e.id for e in find_exercises(read_notebook(self.source_notebook))}  # what the instructor edits
                     if self.source_notebook.is_file() else None)
        return checked_spec(self.name, module, exercises)

    def probes(self) -> ModuleType:
        """Return the lesson's probe module, imported in the trusted process to probe the reference."""
        return import_lesson_module(self.root, f"{self.name}.probes")

    def solutions(self) -> ModuleType:
        """Return the reference solutions module, imported once (trusted code)."""
        name = f"_solutions_{self.name}"
        if name not in sys.modules:
            spec = importlib.util.spec_from_file_location(name, self.solutions_file)
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            spec.loader.exec_module(module)
        return sys.modules[name]


def import_lesson_module(root: Path, dotted: str) -> ModuleType:
    """Return the module lessons.<dotted> of the course at `root` (trusted code). The course root goes
    first on sys.path; lessons of another course imported earlier in this process are forgotten."""
    root = Path(root).resolve()
    loaded = sys.modules.get("lessons")
    if loaded is not None and (root / "lessons").resolve() not in {Path(p).resolve() for p in loaded.__path__}:
        for name in [n for n in sys.modules if n == "lessons" or n.startswith("lessons.")]:
            del sys.modules[name]
        sys.path[:] = [p for p in sys.path if p != str(Path(loaded.__path__[0]).parent)]  # where it was found
        importlib.invalidate_caches()
    if not sys.path or sys.path[0] != str(root):
        sys.path.insert(0, str(root))
    return importlib.import_module(f"lessons.{dotted}")


def lesson_names(root: Path) -> list[str]:
    """Return the lessons of the course: those with a source notebook."""
    return sorted(p.name for p in (root / "source").iterdir() if (p / f"{p.name}.ipynb").is_file())


def get_lesson(root: Path, name: str) -> Lesson:
    """Return the lesson `name` with its spec checked, or raise UnknownLessonError listing the known ones
    (LessonSpecError when its spec is missing or wrong)."""
    known = lesson_names(root)
    if name not in known:
        raise UnknownLessonError(f"unknown lesson {name!r}; this course has: {', '.join(known) or 'none'}")
    lesson = Lesson(name, root)
    lesson.spec  # noqa: B018  (checked when the course loads: every command fails early, naming the field)
    return lesson


def lesson_grade_ids(root: Path) -> dict[str, set[str]]:
    """Return each lesson's set of grade_ids, for telling which lesson a notebook belongs to."""
    ids = {}
    for name in lesson_names(root):
        lesson = Lesson(name, root)
        path = lesson.release_notebook if lesson.release_notebook.is_file() else lesson.source_notebook
        ids[name] = {grade_id(c) for c in read_notebook(path).cells} - {None}
    return ids
