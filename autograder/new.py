"""`autograder new LESSON`: a lesson that validates at once, every file wired, one worked example exercise.

It writes the nbgrader source notebook (an answer cell and a locked public test cell), the reference
(solutions/<lesson>.py) and the lesson's own folder lessons/<lesson>/ (spec, probe, hidden graders, three
mutants and a right answer in another style), then releases it with nbgrader. AUTHORING.md goes on from here."""
from __future__ import annotations

import keyword
import re
from pathlib import Path

import nbformat

from .course import Lesson

LESSONS_INIT = '"""The course\'s lessons, one folder each (spec, probes, hidden graders, mutants, calibration).\n\n' \
               'Trusted code: only lessons/<lesson>/probes.py is ever mounted in a sandbox, and nothing here is released."""\n'
LESSONS_CONFTEST = '''"""Hidden graders get their fixtures and hooks from the autograder plugin (autograder/lesson_conftest.py)."""
from autograder.lesson_conftest import *  # noqa: F401,F403  (fixtures and hooks must be module globals here)
'''

SPEC = '''"""{name}: the lesson's spec and the hidden inputs drawn per grading run (AUTHORING.md)."""
from __future__ import annotations

from autograder.spec import LessonSpec


def hidden_inputs(seed: int) -> dict[str, dict]:
    """Return this run's hidden inputs per exercise, drawn from `seed` (never shown to the student)."""
    return {{
        "scaled": {{}},  # a variable's value needs no hidden input
    }}


SPEC = LessonSpec(hidden_inputs=hidden_inputs)
'''

PROBES = '''"""Probes for {name}: called in the sandbox on the student's namespace right after each exercise's test
cell; each returns plain data (never a verdict). The same probe on solutions/{name}.py gives the reference."""
from __future__ import annotations

from autograder.sandboxed.probes.ready_made import value_probe

probe_scaled = value_probe("scaled")
'''

GRADERS = '''"""Hidden graders for {name}: each test judges one property of one exercise's probe data, and an exercise's
points are split by its tests' weights. Feedback says what is wrong, never the expected value."""
from __future__ import annotations

import numpy as np

from autograder.judge import exercise, expect, expect_array, values_close


@exercise("scaled", weight=1)
def test_scaled_has_one_number_per_entry(student, reference):
    expect_array(student, "`scaled`", reference["shape"])


@exercise("scaled", weight=2)
def test_scaled_values(student, reference):
    values = expect_array(student, "`scaled`", reference["shape"])
    expect(values_close(values, np.reshape(reference["values"], reference["shape"])),
           "`scaled` should hold every number of `numbers` multiplied by 3.")
'''

MUTANTS = '''# Wrong-but-plausible answers for {name}: each replaces one answer cell (by grade_id) of the source notebook,
# or one submitted file ("missing" or "untrained" weights). `autograder validate` proves each loses points on
# its own exercise and only there; every [[right]] answer (written in another style) must earn full marks.

[[mutant]]
exercise = "scaled"
name = "multiplied by 2"
answer = "scaled = 2 * numbers"

[[mutant]]
exercise = "scaled"
name = "only the first three numbers"
answer = "scaled = 3 * numbers[:3]"

[[mutant]]
exercise = "scaled"
name = "the formula as a string"
answer = 'scaled = "3 * numbers"'

[[right]]
exercise = "scaled"
name = "a list comprehension"
answer = "scaled = [3 * n for n in numbers]"
'''

SOLUTIONS = '''"""Reference solutions for {name}: the graders compare each submission's probe data with these (trusted)."""
import numpy as np

numbers = np.arange(1, 6)
scaled = 3 * numbers
'''


class NewLessonError(ValueError):
    """The lesson cannot be created (a bad name, or it exists); the message says which."""


def _grade_cell(source: str, grade_id: str, cell_id: str, points: float | None = None) -> nbformat.NotebookNode:
    """Return an nbgrader answer cell, or with `points` the locked public test cell graded for them."""
    meta = {"grade": points is not None, "grade_id": grade_id, "locked": points is not None, "schema_version": 3,
            "solution": points is None, "task": False}
    if points is not None:
        meta["points"] = points
    cell = nbformat.v4.new_code_cell(source, id=cell_id)
    cell.metadata["nbgrader"] = meta
    return cell


def example_notebook(name: str) -> nbformat.NotebookNode:
    """Return the new lesson's source notebook: set-up, one worked example exercise and its public check."""
    nb = nbformat.v4.new_notebook()
    nb.metadata.update({"autograder": {"lesson": name}, "language_info": {"name": "python"},
                        "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}})
    nb.cells = [
        nbformat.v4.new_markdown_cell(f"# {name}\n\nA worked example exercise; AUTHORING.md shows how to add yours.",
                                      id="intro"),
        nbformat.v4.new_code_cell("import numpy as np\n\nnumbers = np.arange(1, 6)", id="setup"),
        nbformat.v4.new_markdown_cell("**Exercise `scaled`** (3 points): set `scaled` to the numbers of `numbers`, "
                                      "each multiplied by 3 (a numpy array or a list).", id="scaled-text"),
        _grade_cell("# scaled = ...\n### BEGIN SOLUTION\nscaled = 3 * numbers\n### END SOLUTION", "scaled", "scaled"),
        _grade_cell("# Public sanity checks: run this cell to check the form of your answer.\n"
                    "assert len(scaled) == len(numbers), \"scaled should hold one number per entry of numbers\"",
                    "test_scaled", "test-scaled", points=3),
    ]
    return nb


def check_new_name(root: Path, name: str) -> None:
    """Raise NewLessonError unless `name` is a fresh lesson name: a lowercase Python identifier used by no
    lesson, notebook or reference of the course."""
    if not (name.isidentifier() and not keyword.iskeyword(name) and re.fullmatch(r"[a-z][a-z0-9_]*", name)):
        raise NewLessonError(f"{name!r} is not a lesson name: use a lowercase Python identifier such as "
                             "'convolutions' or 'week_3' (it names the notebook, the folder and the graders' package)")
    lesson = Lesson(name, root)
    taken = [p for p in (lesson.source_notebook.parent, lesson.home, lesson.solutions_file, lesson.release_notebook.parent)
             if p.exists()]
    if taken:
        raise NewLessonError(f"lesson {name!r} exists already ({', '.join(str(p.relative_to(root)) for p in taken)}); "
                             "pick another name or edit it")


def create_lesson(root: Path, name: str) -> list[Path]:
    """Write a new lesson `name` into the course at `root` and release it with nbgrader; return the files
    written (raises NewLessonError for a bad or taken name)."""
    from .release import release_lesson

    check_new_name(root, name)
    lesson = Lesson(name, root)
    files = {lesson.home / "__init__.py": f'"""{name}: spec.py declares the lesson, probes.py runs in the sandbox, '
                                          f'test_{name}.py judges (hidden)."""\n',
             lesson.home / "spec.py": SPEC.format(name=name), lesson.probes_file: PROBES.format(name=name),
             lesson.home / f"test_{name}.py": GRADERS.format(name=name), lesson.mutants_file: MUTANTS.format(name=name),
             lesson.solutions_file: SOLUTIONS.format(name=name)}
    for shared, text in ((root / "lessons" / "__init__.py", LESSONS_INIT), (root / "lessons" / "conftest.py", LESSONS_CONFTEST)):
        if not shared.exists():
            files[shared] = text
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    lesson.source_notebook.parent.mkdir(parents=True)
    nbformat.write(example_notebook(name), lesson.source_notebook)
    release_lesson(lesson)
    return sorted([*files, lesson.source_notebook, lesson.release_notebook])
