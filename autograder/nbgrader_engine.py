"""nbgrader's own tools on this course run our engine, through nbgrader's extension points.

`nbgrader_config.py` calls `configure(c, root)`, which sets:

- **autograde** (`nbgrader autograde LESSON [--student S]`, formgrader's Autograde button): the Autograde
  converter's reader (`SubmissionStub`) never parses a student's file (our engine reads it defensively), its
  sanitising steps are dropped and its autograde steps are one, `SandboxedAutograde`: the student is graded
  by `autograder.autograde.grade_student`, the same call `autograder autograde` makes (sandbox, hidden
  graders, the same hidden inputs, result record, gradebook, late penalty), and the notebook nbgrader keeps
  in autograded/ is our executed one (or, for a file that is not a notebook, the release with the reason).
- **validate** (`nbgrader validate`, the Validate button): `SandboxedValidator` runs `autograder check` (the
  public checks, in the sandbox) and says that hidden graders decide the grade. nbgrader's Validator has no
  configurable steps, so `configure` puts this class where nbgrader's apps look it up.
- **generate_feedback**: `StudentSafeOutputs` strips tracebacks and host paths from what students get and
  `AddVerdicts` adds the summary and verdict boxes `autograder feedback` shows (the same page); our
  instructor-only record (result.json) is in `CourseDirectory.ignore`, so nbgrader never copies it.
- **nbgrader's own execution** (`Execute`) names a kernel that does not exist: any nbgrader step that would
  run a notebook outside the sandbox fails loudly instead.
- a local **exchange** root (`exchange/` in the course) for release_feedback and fetch_feedback.

`publish_autograded` writes, beside a grade, what nbgrader's tools expect in autograded/<student>/<lesson>/
(the submission's timestamp and secret; a notebook that says why an ungradable submission was not graded),
for both `autograder autograde` and `nbgrader autograde`."""
from __future__ import annotations

import html
import os
import re
import shutil
import sys
import sysconfig
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import nbformat
from nbconvert.exporters import NotebookExporter
from nbformat import NotebookNode
from nbgrader.preprocessors import NbGraderPreprocessor
from nbgrader.validator import Validator

from .config import Config, find_course_root, load_config
from .results import autograded_folder, executed_path
from .text import safe_text
from .warm import SANDBOX_PYTHONPATH

# What nbgrader never copies (release, autograded -> feedback, exchange): editor and build clutter, our
# reference weights (never released) and submitted weights, and our instructor-only grade record (its run
# seed, hidden test names in details, fingerprints, timings): autograde.RESULT_FILE and its temporary twin.
IGNORE = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", "*.pth", "result.json", "result.tmp"]
NO_UNSANDBOXED_KERNEL = "nbgrader-execution-is-off-in-this-course--student-code-runs-only-in-the-autograder-sandbox"
VALIDATE_NOTE = ("nbgrader validate in this course runs `autograder check`: the notebook runs in the autograder "
                 "sandbox and only its public checks (the test cells you can see) are judged; hidden graders "
                 "decide the grade, so passing here is necessary, not sufficient.")


def configure(c, course_root: str | os.PathLike) -> None:
    """Set nbgrader's configuration `c` so that its commands run this course's engine (see the module)."""
    root = Path(course_root).resolve()
    c.CourseDirectory.root = str(root)
    c.CourseDirectory.db_url = f"sqlite:///{root / 'gradebook.db'}"
    c.CourseDirectory.ignore = list(IGNORE)
    c.Execute.kernel_name = NO_UNSANDBOXED_KERNEL
    c.Autograde.exporter_class = SubmissionStub
    c.Autograde.sanitize_preprocessors = []
    c.Autograde.autograde_preprocessors = [SandboxedAutograde]
    c.Autograde.permissions = 644  # our next `autograder autograde` rewrites these files (nbgrader's default: 444)
    from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
    from nbgrader.preprocessors import GetGrades

    c.GenerateFeedback.preprocessors = [StudentSafeOutputs, GetGrades, AddVerdicts, CSSHTMLHeaderPreprocessor]
    c.Exchange.root = str(root / "exchange")
    try:
        (root / "exchange").mkdir(exist_ok=True)  # nbgrader's exchange must exist before its first use
    except OSError:
        pass  # a read-only course: nbgrader says so when the exchange is used
    use_sandboxed_validator()


# ------------------------------------------------------------------------------------------- autograde

class SubmissionStub(NotebookExporter):
    """The Autograde converter's reader: it hands nbgrader an empty notebook instead of parsing a student's
    file (which may be hostile, huge, or not a notebook at all); `SandboxedAutograde` replaces it with the
    notebook our engine executed, and our engine reads the submission defensively itself."""

    def from_filename(self, filename, resources=None, **kw):
        stub = nbformat.v4.new_notebook()
        stub.metadata["autograder"] = {"stub": True}
        return self.from_notebook_node(stub, resources=resources, **kw)


def _course_root(configurable) -> Path:
    """Return the course directory of an nbgrader object (its converter's coursedir), else of the cwd."""
    node = configurable
    while node is not None:
        coursedir = getattr(node, "coursedir", None)
        if coursedir is not None and getattr(coursedir, "root", None):
            return Path(coursedir.root)
        node = getattr(node, "parent", None)
    return find_course_root()


_WORKER: ProcessPoolExecutor | None = None
_WORKER_FOR: tuple = ()  # the course and graders' fingerprint the kept worker has loaded


def grade_on_kept_worker(item, course_root: Path, graders: str):
    """Return the BatchOutcome of one submission graded on a grading worker this process keeps: its warm
    sandbox serves every student nbgrader grades in this process (formgrader's server: every click), so
    only the first pays the start-up. A worker that dies (a submission that kills it) is replaced, as
    batch.grade_many does, and so is one that loaded other graders than `graders` (they were edited)."""
    from .batch import MAX_ATTEMPTS, _grade, _outcome, worker_context

    global _WORKER, _WORKER_FOR
    if _WORKER is not None and _WORKER_FOR != (str(course_root), graders):
        _WORKER.shutdown(wait=False, cancel_futures=True)
        _WORKER = None
    _WORKER_FOR = (str(course_root), graders)
    for attempt in range(1, MAX_ATTEMPTS + 1):
        if _WORKER is None:
            _WORKER = ProcessPoolExecutor(max_workers=1, mp_context=worker_context())
        future = _WORKER.submit(_grade, item, str(course_root), {})
        if not isinstance(future.exception(), BrokenProcessPool):
            break
        _WORKER = None
    return _outcome(item, future)


def grade_student(config: Config, lesson: str, student: str, force: bool = False):
    """Grade one student's collected submission exactly as `autograder autograde` grades it in a class (the
    same steps: pending_work, the batch task, settle_outcome; so the same hidden inputs, record, executed
    notebook, gradebook row and late penalty); return its ClassOutcome, or None when there is none."""
    try:
        from .autograde import find_submissions, pending_work, resync, settle_outcome
    except ImportError:  # an autograde without its per-submission steps: its class call, for one student
        from .autograde import autograde

        return next(iter(autograde(config, lesson, [student], workers=1, force=force)), None)
    from .course import get_lesson
    from .release import ensure_in_gradebook
    from .seeds import graders_fingerprint

    the_lesson = get_lesson(config.course_root, lesson)
    ensure_in_gradebook(the_lesson)
    submissions = find_submissions(config, lesson, [student])
    if not submissions:
        return None
    graders = graders_fingerprint(the_lesson)
    work = pending_work(config, lesson, submissions[0], graders, force)
    if work.item is None:
        return resync(config, lesson, work)
    return settle_outcome(config, lesson, work, grade_on_kept_worker(work.item, config.course_root, graders))


class SandboxedAutograde(NbGraderPreprocessor):
    """nbgrader's autograde step on this course: grade the student with our engine (never nbgrader's
    Execute), store the grade, and give nbgrader the executed notebook to keep in autograded/."""

    def preprocess(self, nb: NotebookNode, resources: dict) -> tuple[NotebookNode, dict]:
        student, lesson = resources["nbgrader"]["student"], resources["nbgrader"]["assignment"]
        config = load_config(_course_root(self))
        self.log.info("Grading %s/%s in the autograder sandbox with the hidden graders", student, lesson)
        outcome = grade_student(config, lesson, student, force=True)
        if outcome is None:
            raise RuntimeError(f"no submission of {lesson} by {student} in submitted/")
        if outcome.action in ("not graded", "not recorded"):  # ours, never the student's zero: nbgrader fails it
            raise RuntimeError(f"{student}/{lesson} was not graded: {outcome.error}")
        if outcome.result is None:
            self.log.warning("%s/%s cannot be graded: %s", student, lesson, outcome.error)
        else:
            self.log.info("%s/%s: %g / %g", student, lesson, outcome.result.score, outcome.result.max_score)
        return nbformat.read(executed_path(config.course_root, lesson, student), as_version=4), resources


def publish_autograded(config: Config, lesson: str, student: str, result, reason: str = "") -> None:
    """Put beside a grade in autograded/<student>/<lesson>/ what nbgrader's tools read there: the files
    nbgrader's autograde copies from the submission (timestamp.txt, submission_secret.txt; never weights
    or anything in IGNORE), and, for a submission that could not be graded, the released notebook headed
    by the reason, so that formgrader lists it and says why."""
    target = autograded_folder(config.course_root, lesson, student)
    copy_submission_files(config.course_root / "submitted" / student / lesson, target)
    if result is None:
        notebook = target / f"{lesson}.ipynb"
        notebook.unlink(missing_ok=True)
        nbformat.write(ungradable_notebook(config, lesson, reason), notebook)


def copy_submission_files(submitted: Path, target: Path) -> None:
    """Copy into `target` the files nbgrader copies along with a submission (all but notebooks and what
    IGNORE names: timestamp.txt and submission_secret.txt here), as its autograde and generate_feedback do."""
    from nbgrader.utils import find_all_files

    target.mkdir(parents=True, exist_ok=True)
    if not submitted.is_dir():
        return
    for name in find_all_files(str(submitted), IGNORE + ["*.ipynb", "*.html"]):
        source = Path(name)
        if source.is_symlink() or not source.is_file() or source.parent != submitted:
            continue
        destination = target / source.name
        destination.unlink(missing_ok=True)  # nbgrader leaves its copies read-only
        shutil.copyfile(source, destination)


def ungradable_notebook(config: Config, lesson: str, reason: str) -> NotebookNode:
    """Return the lesson's released notebook (every graded cell, scored 0 in the gradebook) headed by a
    cell that says why the submission could not be graded."""
    from .course import get_lesson

    nb = nbformat.read(get_lesson(config.course_root, lesson).release_notebook, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    why = html.escape(safe_text(reason or "unknown reason", 500))
    nb.cells.insert(0, nbformat.v4.new_markdown_cell(
        f"<div class=\"alert alert-danger\"><strong>This submission could not be graded:</strong> {why}</div>\n\n"
        "Every exercise scores 0. The notebook below is the released one, not the student's file."))
    nb.cells[0].metadata["autograder"] = {"ungradable": True}
    return nb


# -------------------------------------------------------------------------------------------- feedback

def host_paths(course_root: Path | None = None) -> list[str]:
    """Return the host directories that must not show in what students get, longest first."""
    candidates = {sys.prefix, sys.base_prefix, sys.exec_prefix, str(Path.home()), *sysconfig.get_paths().values(),
                  SANDBOX_PYTHONPATH}
    if course_root is not None:
        candidates |= {str(course_root), str(Path(course_root).resolve())}
    paths = {os.path.realpath(p) for p in candidates if p} | {p for p in candidates if p}
    return sorted((p.rstrip("/") for p in paths if len(p.strip("/")) > 1), key=len, reverse=True)


# any installed library's path, wherever its environment lives (the grader's, another machine's, the sandbox's)
LIBRARY_PATH = re.compile(r"(?:/[^\s'\"<>:,)/]+)+/(?:site|dist)-packages(?:/[^\s'\"<>:,)]*)?")


def scrub(text: str, paths: list[str]) -> str:
    """Return `text` with host paths and library paths shortened to `…/last-part` and traceback frames
    dropped."""
    for path in paths:
        text = re.sub(re.escape(path) + r"(?:(/[^\s'\"<>:,)]*)|(?![\w.\-]))",
                      lambda m: "…/" + (m.group(1) or "").rsplit("/", 1)[-1] if m.group(1) else "…", text)
    text = LIBRARY_PATH.sub(lambda m: "…/" + m.group(0).rsplit("/", 1)[-1], text)
    return re.sub(r"Traceback \(most recent call last\):(\n[ \t].*)*\n?", "", text)


def make_cell_student_safe(cell: NotebookNode, paths: list[str]) -> NotebookNode:
    """Return the cell with only nbgrader's metadata and outputs a student may see: their outputs, error
    names and messages, but no traceback frames and no host paths."""
    cell.metadata = {k: v for k, v in cell.metadata.items() if k in ("nbgrader", "tags")}
    for output in cell.get("outputs", []):
        if output.output_type == "error":  # its name and message only, as the last line of a traceback
            output.evalue = scrub(str(output.get("evalue", "")), paths)
            output.traceback = [f"{output.get('ename', 'Error')}: {output.evalue}"]
        elif output.output_type == "stream":
            output.text = scrub(output.text, paths)
        elif "data" in output:
            for mime in ("text/plain", "text/html", "text/markdown", "text/latex"):
                if isinstance(output.data.get(mime), str):
                    output.data[mime] = scrub(output.data[mime], paths)
    return cell


def make_student_safe(nb: NotebookNode, paths: list[str]) -> NotebookNode:
    """Return the notebook with nbgrader's metadata only and every cell made student-safe."""
    nb.metadata = {k: v for k, v in nb.metadata.items() if k in ("kernelspec", "language_info")}
    for cell in nb.cells:
        make_cell_student_safe(cell, paths)
    return nb


class StudentSafeOutputs(NbGraderPreprocessor):
    """generate_feedback's first step on this course: `make_student_safe` (see there)."""

    def preprocess(self, nb: NotebookNode, resources: dict) -> tuple[NotebookNode, dict]:
        return make_student_safe(nb, host_paths(_course_root(self))), resources


class AddVerdicts(NbGraderPreprocessor):
    """generate_feedback's step after GetGrades on this course: the summary and a verdict box after each answer
    from the student's stored-result record (`feedback.add_verdicts`, as `autograder feedback` adds them), so
    the two commands give the same page. Scores stay GetGrades' (the gradebook: a person's grades count)."""

    def preprocess(self, nb: NotebookNode, resources: dict) -> tuple[NotebookNode, dict]:
        from .feedback import add_verdicts, lesson_facts
        from .results import read_stored, stored_path

        root, lesson, student = _course_root(self), resources["nbgrader"]["assignment"], resources["nbgrader"]["student"]
        path = stored_path(root, lesson, student)
        if path.is_file():
            nb = add_verdicts(nb, read_stored(path), lesson_facts(root, lesson),
                              resources["nbgrader"].get("late_penalty") or 0.0)
        return nb, resources


# -------------------------------------------------------------------------------------------- validate

class SandboxedValidator(Validator):
    """nbgrader's Validator on this course: the notebook is not run by nbgrader but by `autograder check`
    in the sandbox; each exercise whose public checks do not pass shows as a failed test cell."""

    def validate(self, filename: str):
        self._notebook = Path(filename).resolve()
        self.log.warning(VALIDATE_NOTE)
        return super().validate(filename)

    def _preprocess(self, nb: NotebookNode) -> NotebookNode:
        from .check import check_notebook
        from .notebook import grade_id

        root = self.config.CourseDirectory.get("root") or find_course_root(self._notebook.parent)
        _, lines = check_notebook(self._notebook, load_config(Path(root)))
        verdicts = {f"test_{line.exercise}": line for line in lines}
        for cell in nb.cells:
            if cell.cell_type != "code":
                continue
            cell.outputs, cell.execution_count = [], None
            line = verdicts.get(grade_id(cell))
            if line is not None and line.status != "ok":
                message = safe_text(f"{line.exercise}: {line.status}: {line.message}", 2000)
                cell.outputs.append(nbformat.v4.new_output("error", ename=f"PublicCheck{line.status.capitalize()}",
                                                           evalue=message, traceback=[message]))
        return nb

    def _print_num_failed(self, num_failed: int) -> None:
        if num_failed == 0:
            self.stream.write("Success! Your notebook passes all the public checks (run in the autograder "
                              "sandbox). Hidden graders decide the grade.\n")
        else:
            super()._print_num_failed(num_failed)


def use_sandboxed_validator() -> None:
    """Make nbgrader's validate command and its Validate button use SandboxedValidator. nbgrader offers no
    setting for the validator's steps, so this replaces the name both look the class up by."""
    import importlib

    for name in ("nbgrader.apps.validateapp", "nbgrader.server_extensions.validate_assignment.handlers"):
        module = sys.modules.get(name) or (importlib.import_module(name) if name.endswith("validateapp") else None)
        if module is not None:
            module.Validator = SandboxedValidator
