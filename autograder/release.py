"""Release a lesson with nbgrader's own generate_assignment, and check that a release leaks nothing."""
from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import nbformat

from .config import ensure_tools_on_path
from .course import Lesson

SOLUTION_REGION = re.compile(r"### BEGIN SOLUTION\n(.*?)### END SOLUTION", re.S)
FORBIDDEN_MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS",
                     "lessons/", "calibration.json", "mutants.toml")


class ReleaseError(RuntimeError):
    """nbgrader could not generate the student version."""


def generate_release(lesson: Lesson, course_root: Path, output_root: Path, db_url: str | None = None) -> Path:
    """Return the path of the student notebook nbgrader generated from `course_root`/source into `output_root`
    (recording the assignment in the gradebook at `db_url`, or in a throw-away one)."""
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config import Config as TraitletsConfig

    from .nbgrader_engine import IGNORE

    ensure_tools_on_path()
    config = TraitletsConfig()
    config.CourseDirectory.root = str(course_root)
    config.CourseDirectory.release_directory = str(output_root)
    config.CourseDirectory.db_url = db_url or f"sqlite:///{output_root}/.release-gradebook.db"
    config.CourseDirectory.ignore = list(IGNORE)
    config.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
    config.ClearSolutions.enforce_metadata = True
    config.Application.log_level = "ERROR"
    api = NbGraderAPI(CourseDirectory(config=config), config=config)
    result = api.generate_assignment(lesson.name, force=True, create=True)
    if not result["success"]:
        raise ReleaseError(f"nbgrader could not release {lesson.name}: {result['error'].strip().splitlines()[-1]}")
    Path(f"{output_root}/.release-gradebook.db").unlink(missing_ok=True)
    return output_root / lesson.name / f"{lesson.name}.ipynb"


def ensure_in_gradebook(lesson: Lesson) -> None:
    """Record the lesson's notebook and grade cells in the course gradebook, if not there yet."""
    from .gradebook import db_url, has_assignment

    if not has_assignment(lesson.root, lesson.name):
        with tempfile.TemporaryDirectory(prefix="release-") as tmp:
            generate_release(lesson, lesson.root, Path(tmp), db_url(lesson.root))


def release_lesson(lesson: Lesson, check: Callable[[Path], list[str]] | None = None) -> Path:
    """Return the path of `release/<lesson>/`, regenerated from the source notebook with nbgrader.

    `check` sees the generated notebook before it replaces the committed one; problems it returns
    raise ReleaseError and leave `release/` untouched."""
    from .gradebook import db_url

    target = lesson.release_notebook.parent
    with tempfile.TemporaryDirectory(prefix="release-") as tmp:
        built = generate_release(lesson, lesson.root, Path(tmp), db_url(lesson.root))
        problems = check(built) if check else []
        if problems:
            raise ReleaseError(f"{lesson.name} was not released: " + "; ".join(problems))
        target.mkdir(parents=True, exist_ok=True)
        for item in built.parent.iterdir():
            destination = target / item.name
            if item.is_dir():
                shutil.copytree(item, destination, dirs_exist_ok=True)
            else:
                shutil.copyfile(item, destination)
    return target


def release_is_fresh(lesson: Lesson) -> bool:
    """Return True when regenerating the release from source gives the committed student notebook."""
    with tempfile.TemporaryDirectory(prefix="release-check-") as tmp:
        built = generate_release(lesson, lesson.root, Path(tmp))
        fresh = nbformat.read(built, as_version=4)
    committed = nbformat.read(lesson.release_notebook, as_version=4)
    return nbformat.writes(fresh) == nbformat.writes(committed)


def find_leaks(lesson: Lesson, release_dir: Path | None = None) -> list[str]:
    """Return every piece of solution text, hidden-test marker or grader name found in a release."""
    release_dir = release_dir or lesson.release_notebook.parent
    release_text = "\n".join(p.read_text(errors="replace") for p in release_dir.rglob("*") if p.is_file())
    source = nbformat.read(lesson.source_notebook, as_version=4)
    leaks = [f"marker {m!r}" for m in FORBIDDEN_MARKERS if m in release_text]
    public = "\n".join(SOLUTION_REGION.sub("", cell.source) for cell in source.cells)
    for cell in source.cells:
        for region in SOLUTION_REGION.findall(cell.source):
            for line in region.splitlines():
                line = line.strip()  # a line the tutorial also shows outside solutions is not a leak
                if len(line) >= 12 and not line.startswith("#") and line in release_text and line not in public:
                    leaks.append(f"solution line {line[:60]!r}")
    test_names = re.findall(r"def (test_\w+)", "".join(p.read_text() for p in lesson.grader_files))
    leaks += [f"grader name {n!r}" for n in test_names if n in release_text]
    leaks += [f"file {p.name!r}" for p in release_dir.rglob("*.pth")]
    return leaks
