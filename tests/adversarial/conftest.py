"""The adversarial arena: a throw-away course with other students' gradebook rows, a fake instructor home
with a canary, the combined notebooks built from the catalogue and graded once each through the CLI."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest

from autograder.config import load_config
from autograder.course import get_lesson
from autograder.democlass import make_course
from tests.adversarial.cases import CASES, EDITS, FILES, NOTEBOOKS, Notebook
from tests.conftest import ROOT

SEED = 4242
WATCHED = ("source/hands_on_dl", "release/hands_on_dl", "solutions/hands_on_dl.py", "lessons/hands_on_dl", "data")  # what this lesson
# owns: other engineers edit the rest of the tree while the suite runs


@dataclass(frozen=True)
class CliRun:
    """One `autograder grade` run: its exit code, output and the JSON it wrote."""

    returncode: int
    stdout: str
    stderr: str
    result: dict | None
    seconds: float


def fingerprint_tree(paths: list[Path]) -> dict[str, tuple]:
    """Return size, mtime and (for small files) content hash of every file under `paths`."""
    seen = {}
    for top in paths:
        files = [top] if top.is_file() else sorted(p for p in top.rglob("*") if p.is_file()) if top.exists() else []
        for path in files:
            if "__pycache__" in path.parts:
                continue
            stat = path.stat()
            digest = hashlib.sha256(path.read_bytes()).hexdigest() if stat.st_size < (4 << 20) else ""
            seen[str(path)] = (stat.st_size, stat.st_mtime_ns, digest)
    return seen


@dataclass
class Arena:
    course: Path
    home: Path
    work: Path
    lesson: object

    def placeholders(self, text: str) -> str:
        data = load_config(self.course).data_root
        return (text.replace("@ROOT@", str(ROOT)).replace("@COURSE@", str(self.course))
                .replace("@HOME@", str(self.home)).replace("@DATA@", str(data)))

    def snapshot(self) -> dict:
        """Return everything outside the sandbox that no submission may change."""
        watched = [ROOT / p for p in WATCHED] + [self.course / "gradebook.db", self.home]
        listing = sorted(p.name for p in self.course.iterdir()) + sorted(p.name for p in ROOT.iterdir())
        return {"files": fingerprint_tree(watched), "listing": [n for n in listing if "pwned" in n]}

    def grade(self, notebook: Path, *options: str, json_out: bool = True) -> CliRun:
        out = notebook.with_suffix(".json")
        command = [sys.executable, "-m", "autograder.cli", "grade", str(notebook), *options]
        if json_out:
            command += ["--json", str(out)]
        started = time.monotonic()
        done = subprocess.run(command, cwd=self.course, capture_output=True, text=True, timeout=400,
                              env={**os.environ, "HOME": str(self.home), "COLUMNS": "200"})
        result = json.loads(out.read_text()) if json_out and out.is_file() else None
        return CliRun(done.returncode, done.stdout, done.stderr, result, time.monotonic() - started)


def build_notebook(arena: Arena, notebook: Notebook, folder: Path) -> Path:
    """Return the combined submission of every case in `notebook`, written into `folder` with its files."""
    folder.mkdir(parents=True, exist_ok=True)
    lesson = arena.lesson
    nb = nbformat.read(lesson.source_notebook, as_version=4)
    cases = [c for c in CASES if c.notebook == notebook.name]
    gid = lambda cell: cell.metadata.get("nbgrader", {}).get("grade_id")
    for case in cases:
        if case.answer is not None:
            next(c for c in nb.cells if gid(c) == case.exercise).source = arena.placeholders(case.answer)
    for case in cases:
        if case.after:
            anchor, source = case.after
            at = next(i for i, c in enumerate(nb.cells) if gid(c) == anchor)
            nb.cells.insert(at + 1, nbformat.v4.new_code_cell(arena.placeholders(source)))
    for case in cases:
        if case.edit:
            EDITS[case.edit](nb)
    for weights in lesson.source_notebook.parent.glob("*.pth"):
        shutil.copyfile(weights, folder / weights.name)
    for case in cases:
        for name, maker in case.files.items():
            FILES[maker](folder / name, lesson.source_notebook.parent / name, arena.home)
    path = folder / f"{lesson.name}.ipynb"
    nbformat.write(nb, path)
    return path


@pytest.fixture(scope="session")
def arena(tmp_path_factory) -> Arena:
    from autograder.gradebook import record_submission
    from autograder.release import ensure_in_gradebook
    from autograder.results import ExerciseResult, SubmissionResult

    base = tmp_path_factory.mktemp("adversarial")
    course = make_course(base / "course", ROOT)
    lesson = get_lesson(course, "hands_on_dl")
    if (ROOT / "gradebook.db").is_file():
        shutil.copyfile(ROOT / "gradebook.db", course / "gradebook.db")
    ensure_in_gradebook(lesson)
    for student, share in (("other_student", 1.0), ("another_student", 0.5)):
        exercises = tuple(ExerciseResult(e.id, "passed", e.points * share, e.points) for e in lesson.exercises)
        record_submission(course, "hands_on_dl", student, SubmissionResult("hands_on_dl", exercises, 1))
    home = base / "instructor_home"
    home.mkdir()
    (home / "canary.txt").write_text("the instructor's secret\n")
    return Arena(course, home, base / "work", lesson)


@pytest.fixture(scope="session")
def baseline(arena) -> dict:
    return arena.snapshot()


@pytest.fixture(scope="session")
def graded(arena, baseline) -> dict[str, CliRun]:
    """Every combined notebook (and the reference as nbformat v3) graded once, all at the same time."""
    jobs = {nb.name: (build_notebook(arena, nb, arena.work / nb.name), nb.cli) for nb in NOTEBOOKS}
    v3 = arena.work / "nbformat_v3" / "hands_on_dl.ipynb"
    build_notebook(arena, Notebook("none"), v3.parent)
    nbformat.write(nbformat.convert(nbformat.read(v3, as_version=4), 3), v3)
    jobs["nbformat_v3"] = (v3, ())
    with ThreadPoolExecutor(len(jobs)) as pool:  # each grading process has its own sandbox uid and limits
        futures = {name: pool.submit(arena.grade, path, "--seed", str(SEED), *options)
                   for name, (path, options) in jobs.items()}
        return {name: future.result() for name, future in futures.items()}


@pytest.fixture(scope="session")
def after(arena, graded) -> dict:
    return arena.snapshot()
