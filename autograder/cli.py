"""The `autograder` command: thin verbs over the library. Exit codes are ExitCode values."""
from __future__ import annotations

import argparse
import shutil
import sys
from collections import Counter
from enum import IntEnum
from pathlib import Path

from rich.console import Console
from rich.table import Table
from rich.text import Text

from .results import SubmissionResult
from .tables import lesson_table, plain

console = Console(stderr=False)
errors = Console(stderr=True)


class ExitCode(IntEnum):
    OK = 0  # a grade was produced (whatever the score) / the check passed
    FAILED = 1  # validation found problems, or some submissions could not be graded
    USAGE = 2  # bad arguments or input that cannot be graded at all
    INTERNAL = 3  # the grader itself failed (sandbox, graders): never the student's fault


STATUS_STYLE = {"passed": "green", "failed": "yellow", "error": "red", "timeout": "magenta", "missing": "dim"}


def say(where: Console, label: str, style: str, value: object) -> None:
    """Print one line: a styled label, then text that may come from a student."""
    where.print(Text.assemble((label, style), plain(value)), highlight=False, soft_wrap=True)


def result_table(result: SubmissionResult, title: str | Text) -> Table:
    """Return a rich table of one submission's per-exercise grades."""
    table = Table(title=title, title_justify="left")
    for column, justify in (("exercise", "left"), ("score", "right"), ("status", "left"), ("feedback", "left")):
        table.add_column(column, justify=justify, overflow="fold")
    for e in result.exercises:
        table.add_row(plain(e.exercise), f"{e.score:g}/{e.max_score:g}", plain(e.outcome, STATUS_STYLE[e.outcome]),
                      plain(e.feedback))
    table.add_section()
    table.add_row("total", f"{result.score:g}/{result.max_score:g}", "",
                  plain(f"seed {result.seed}, sandbox: {result.sandbox}"))
    return table


def cmd_grade(args: argparse.Namespace) -> ExitCode:
    from .config import load_config
    from .grade import grade_submission

    config = load_config().with_limits(notebook_timeout=args.timeout, cell_timeout=args.cell_timeout)
    with console.status(plain(f"grading {args.submission.name} in the sandbox…")):
        result = grade_submission(args.submission, config, lesson=args.lesson, seed=args.seed)
    if args.json:  # first: whatever happens to the terminal, the grade is kept
        Path(args.json).write_text(result.dumps() + "\n")
    console.print(result_table(result, plain(f"{args.submission.name} ({result.lesson})")))
    for note in result.notes:
        say(console, "note: ", "yellow", note)
    return ExitCode.OK


def cmd_validate(args: argparse.Namespace) -> ExitCode:
    from .config import load_config
    from .validate import print_report, validate_lesson

    config = load_config()
    from .course import lesson_names

    names = args.lessons or lesson_names(config.course_root)
    ok = True
    for name in names:
        report = validate_lesson(name, config, workers=args.workers, mutants=not args.no_mutants,
                                 reference_seeds=args.reference_seeds, on_progress=lambda line: console.print(f"  {line}", highlight=False))
        print_report(report, console)
        ok &= report.ok
    return ExitCode.OK if ok else ExitCode.FAILED


def cmd_demo(args: argparse.Namespace) -> ExitCode:
    from .config import load_config
    from .demo import run_demo

    run_demo(load_config(), console, workers=args.workers)
    return ExitCode.OK


def cmd_release(args: argparse.Namespace) -> ExitCode:
    from .config import load_config
    from .course import get_lesson
    from .release import find_leaks, release_lesson
    from .validate import validate_lesson

    config = load_config()
    lesson = get_lesson(config.course_root, args.lesson)
    leak_check = lambda built: find_leaks(lesson, built.parent)  # noqa: E731
    first = not lesson.release_notebook.is_file()
    if first:  # grading reads the release (the trusted copy of test cells): a first one is provisional
        with console.status(f"generating a first release/{lesson.name}/ with nbgrader …"):
            release_lesson(lesson, check=leak_check)
    with console.status(f"checking {lesson.name}: reference solution at full marks …"):
        report = validate_lesson(lesson.name, config, mutants=False, check_release=False)
    full = report.reference is not None and report.reference.score == report.reference.max_score
    if not full:
        if first:
            shutil.rmtree(lesson.release_notebook.parent, ignore_errors=True)
        errors.print(f"autograder: {lesson.name} was not released: the source notebook does not score full marks "
                     f"({report.reference_error or 'see autograder validate ' + lesson.name})", soft_wrap=True)
        return ExitCode.FAILED
    with console.status(f"generating release/{lesson.name}/ with nbgrader …"):
        target = release_lesson(lesson, check=leak_check)
    console.print(f"released {lesson.name} to {target} (gradebook updated); commit it")
    return ExitCode.OK


def cmd_new(args: argparse.Namespace) -> ExitCode:
    from .config import load_config
    from .new import create_lesson

    root = load_config().course_root
    with console.status(f"writing {args.lesson} and releasing it with nbgrader …"):
        written = create_lesson(root, args.lesson)
    console.print(plain(f"created lesson {args.lesson}: one worked example exercise (scaled, 3 points), all wired"))
    for path in written:
        console.print(plain(f"  {path.relative_to(root)}"))
    console.print(plain(f"next: autograder validate {args.lesson}   (then add exercises: AUTHORING.md)"))
    return ExitCode.OK


def cmd_collect(args: argparse.Namespace) -> ExitCode:
    from .collect import CollectError, collect, read_roster
    from .config import load_config
    from .course import get_lesson
    from .gradebook import add_students, known_students

    config = load_config()
    lesson = get_lesson(config.course_root, args.lesson)
    if args.roster:
        try:
            students = read_roster(args.roster)
        except (OSError, UnicodeDecodeError) as exc:
            raise CollectError(f"{args.roster}: the roster cannot be read ({exc})") from None
        add_students(config.course_root, students)  # names and emails into nbgrader's student table
        console.print(plain(f"roster: {len(students)} students in the gradebook ({args.roster.name})"))
        roster = set(students)
    else:
        roster = known_students(config.course_root)
    report = collect(lesson.name, args.source, config.course_root, lesson.spec.submitted_files, args.pattern,
                     roster or None)
    from .release import ensure_in_gradebook

    ensure_in_gradebook(lesson)  # nbgrader autograde and formgrader need the lesson in the gradebook
    table = Table(title=f"collected {lesson.name} into submitted/", title_justify="left")
    table.add_column("student"), table.add_column("files")
    for student, files in report.imported.items():
        table.add_row(plain(student), plain(", ".join(files)))
    console.print(table)
    for title, lines in (("duplicates", report.duplicates), ("unreadable (imported anyway)", report.unreadable),
                         ("refused (not imported)", report.refused),
                         ("unknown students (imported anyway)", report.unknown_students),
                         ("files not matched (ignored)", report.unmatched)):
        for line in lines:
            say(console, f"{title}: ", "yellow", line)
    return ExitCode.OK


def cmd_autograde(args: argparse.Namespace) -> ExitCode:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from .autograde import autograde
    from .config import load_config
    from .course import get_lesson

    config = load_config()
    lesson = get_lesson(config.course_root, args.lesson)
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console) as progress:
        task = progress.add_task(f"grading {lesson.name}", total=None)

        def on_event(event: str, outcome) -> None:
            if outcome is None:
                pending = int(event.split()[0])
                progress.update(task, total=pending)
                progress.console.print(plain(event))
            else:
                progress.advance(task)
                score = f"{outcome.result.score:g}/{outcome.result.max_score:g}" if outcome.result else outcome.error
                progress.console.print(plain(f"  {outcome.student}: {outcome.action} {score}"))

        outcomes = autograde(config, lesson.name, args.student or None, args.workers, args.force, args.seed,
                             scheduler=args.scheduler or args.dask, on_event=on_event, dry_run=args.dry_run)
    actions = Counter(o.action for o in outcomes)
    title = f"{lesson.name}: {len(outcomes)} submissions (" + ", ".join(f"{n} {a}" for a, n in actions.items()) + ")"
    console.print(lesson_table([(o.student, o.result, o.error) for o in outcomes], [e.id for e in lesson.exercises],
                               title, console.width))
    for action in actions:
        if action != "graded":  # each graded one was logged as it came back
            say(console, f"{action}: ", "yellow", ", ".join(o.student for o in outcomes if o.action == action))
    for o in outcomes:
        if o.error:
            say(console, f"{o.student}: {o.action}: ", "red", o.error)
    console.print(changes_table(outcomes))
    if args.dry_run:
        console.print("dry run: nothing was written (results, gradebook, executed notebooks)")
    else:
        console.print(f"gradebook: {config.course_root / 'gradebook.db'}; executed notebooks: autograded/")
    return ExitCode.FAILED if any(o.action in ("not graded", "not recorded") for o in outcomes) else ExitCode.OK


WHY = {"first grade": "first grade", "submission changed": "submission changed", "graders changed":
       "graders, probes, reference or calibration changed", "forced": "--force, nothing changed (should not move!)"}


def changes_table(outcomes) -> Table | str:
    """Return the table of every grade that moved this run, exercise by exercise, old -> new, and why."""
    from .autograde import grade_changes

    changes = grade_changes(outcomes)
    if not changes:
        return "no grade changed since the last run"
    students = len({c.student for c in changes})
    table = Table(title=f"grades changed this run ({students} student{'s' * (students != 1)})", title_justify="left")
    table.add_column("student", no_wrap=True, max_width=16)
    for column in ("exercise", "before", "now", "why"):
        table.add_column(column, overflow="fold")
    score = lambda value: "-" if value is None else f"{value:g}"  # noqa: E731
    for change in changes:
        table.add_row(plain(change.student), plain(change.exercise), score(change.old), score(change.new), WHY[change.why])
    return table


def cmd_watch(args: argparse.Namespace) -> ExitCode:
    from .config import load_config
    from .course import get_lesson
    from .watch import run_watch

    config = load_config()
    lesson = get_lesson(config.course_root, args.lesson)
    stats = run_watch(config, lesson.name, console, args.workers, args.scheduler or args.dask, once=args.once,
                      settle=args.settle)
    left = f", {stats.abandoned} left being graded" if stats.abandoned else ""
    console.print(f"stopped: {stats.graded} graded, {stats.failed} failed, {stats.already} already graded{left}; "
                  "a restart grades only what is new", highlight=False)
    return ExitCode.OK


def cmd_feedback(args: argparse.Namespace) -> ExitCode:
    from .config import load_config
    from .feedback import write_feedback

    config = load_config()
    paths = write_feedback(config, args.lesson, args.student or None)
    console.print(f"wrote {len(paths)} feedback pages under {config.course_root / 'feedback'}")
    return ExitCode.OK


def cmd_report(args: argparse.Namespace) -> ExitCode:
    from .config import load_config

    config = load_config()
    if args.lesson is None:
        return report_course(config, args.roster)
    from .course import get_lesson
    from .report import write_report
    from .results import stored_results

    lesson = get_lesson(config.course_root, args.lesson)
    paths = write_report(config, lesson.name)
    records = stored_results(config.course_root, lesson.name)
    console.print(lesson_table([(s, r.result, r.error) for s, r in records.items()], [e.id for e in lesson.exercises],
                               f"{lesson.name}: {len(records)} submissions", console.width))
    console.print(f"report: {paths['html']}\nscores: {paths['csv']}\nGradescope results: {paths['gradescope']}/",
                  highlight=False, soft_wrap=True)
    return ExitCode.OK


def report_course(config, roster_path: Path | None) -> ExitCode:
    """The course view: print it and write reports/course.html and course.csv."""
    from .collect import CollectError, read_roster
    from .course_view import build_course_view, write_course_report
    from .tables import course_table

    try:
        roster = set(read_roster(roster_path)) if roster_path else None
    except (OSError, UnicodeDecodeError) as exc:
        raise CollectError(f"{roster_path}: the roster cannot be read ({exc})") from None
    view = build_course_view(config.course_root, roster)
    if not view.lessons:
        say(errors, "autograder: ", "", "no graded submissions yet: run autograder autograde LESSON first")
        return ExitCode.FAILED
    paths = write_course_report(config, view)
    console.print(course_table(view.students, view.lessons, view.scores, view.points, view.marks, console.width))
    console.print(f"course: {paths['html']}\nscores: {paths['csv']}", highlight=False, soft_wrap=True)
    return ExitCode.OK


def cmd_check(args: argparse.Namespace) -> ExitCode:
    from .check import check_notebook
    from .config import load_config

    with console.status(plain(f"running {args.notebook.name} in the sandbox (public checks only) …")):
        lesson, lines = check_notebook(args.notebook, load_config(), args.lesson)
    table = Table(title=plain(f"{args.notebook.name} ({lesson}): public checks"), title_justify="left")
    table.add_column("exercise"), table.add_column("status"), table.add_column("what to do")
    style = {"ok": "green", "failing": "yellow", "missing": "dim", "error": "red", "timeout": "magenta"}
    for line in lines:
        table.add_row(plain(line.exercise), plain(line.status, style[line.status]), plain(line.message))
    console.print(table)
    console.print("Hidden graders decide the grade; passing the public checks is necessary, not sufficient.")
    return ExitCode.OK if all(line.status == "ok" for line in lines) else ExitCode.FAILED


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="autograder", description="Grade PyTorch course notebooks in a sandbox "
                                     "with hidden pytest graders.")
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")
    grade = verbs.add_parser("grade", help="grade one submitted notebook",
                             description="Grade one submitted notebook (weight files beside it) and print a table.",
                             epilog="example: autograder grade submitted/alice/hands_on_dl/hands_on_dl.ipynb --json alice.json",
                             formatter_class=argparse.RawDescriptionHelpFormatter)
    grade.add_argument("submission", type=Path, help="the student's .ipynb")
    grade.add_argument("--lesson", help="lesson name (default: inferred from the notebook)")
    grade.add_argument("--json", metavar="OUT.json", help="also write the result as JSON")
    grade.add_argument("--timeout", type=float, help="wall seconds for the whole notebook (default from config: 300)")
    grade.add_argument("--cell-timeout", type=float, help="wall seconds per cell and per probe (default 60)")
    grade.add_argument("--seed", type=int, help="hidden-input seed, to reproduce an earlier grade")
    grade.set_defaults(run=cmd_grade)
    validate = verbs.add_parser("validate", help="prove a lesson: release fresh, no leaks, reference full marks, "
                                "every mutant caught",
                                epilog="example: autograder validate hands_on_dl --workers 2")
    validate.add_argument("lessons", nargs="*", help="lessons to validate (default: all)")
    validate.add_argument("--workers", type=int, default=2, help="parallel sandbox runs (default 2)")
    validate.add_argument("--no-mutants", action="store_true", help="skip the mutant catalogue")
    validate.add_argument("--reference-seeds", type=int, default=10, metavar="N",
                          help="grade the reference on N hidden-input seeds; each must score full marks (default 10)")
    validate.set_defaults(run=cmd_validate)
    new = verbs.add_parser("new", help="create a lesson that validates at once (one worked example exercise)",
                           description="Create a lesson: source notebook with one worked example exercise (answer "
                                       "cell, public test cell), its probe, hidden graders, reference and three "
                                       "mutants, all wired, and its first release. AUTHORING.md goes on from there.",
                           epilog="example: autograder new convolutions && autograder validate convolutions")
    new.add_argument("lesson", help="the new lesson's name: a lowercase Python identifier")
    new.set_defaults(run=cmd_new)
    demo = verbs.add_parser("demo", help="run the whole loop on a built-in class of 22 hands_on_dl students",
                            epilog="example: autograder demo --workers 2")
    demo.add_argument("--workers", type=int, help="parallel sandbox runs (default: one per core)")
    demo.set_defaults(run=cmd_demo)
    release = verbs.add_parser("release", help="regenerate release/LESSON/ from source/ with nbgrader",
                               description="Regenerate the student version with nbgrader; refuses when the source "
                               "notebook does not score full marks or the release would leak solutions.",
                               epilog="example: autograder release hands_on_dl")
    release.add_argument("lesson")
    release.set_defaults(run=cmd_release)
    collect = verbs.add_parser("collect", help="import submissions into submitted/<student>/LESSON/",
                               description="Import notebooks and weight files from a folder or a zip (e.g. an LMS "
                               "bulk download). The student id comes from each file's path by --pattern. Like "
                               "nbgrader's collect, each submission gets timestamp.txt (its time in the zip, else "
                               "the file's time: nbgrader's late penalties use it) and submission_secret.txt.",
                               epilog="example: autograder collect hands_on_dl lms_download.zip "
                                      "--pattern '^(?P<student>[^_]+)_'")
    collect.add_argument("lesson")
    collect.add_argument("source", type=Path, help="a folder or a .zip")
    from .collect import DEFAULT_PATTERN
    collect.add_argument("--pattern", default=DEFAULT_PATTERN,
                         help=f"regex with a (?P<student>...) group, matched on the path inside SOURCE "
                              f"(default {DEFAULT_PATTERN!r}: 'alice/x.ipynb' or 'alice_x.ipynb')")
    collect.add_argument("--roster", type=Path, metavar="CSV",
                         help="the class list: CSV with id, first name, last name, email (a header row naming "
                              "them is optional), or a file of ids; its students and names go into nbgrader's "
                              "student table (default: the gradebook's students)")
    collect.set_defaults(run=cmd_collect)
    autograde_ = verbs.add_parser("autograde", help="grade every collected submission into gradebook.db",
                                  description="Grade submitted/*/LESSON in the sandbox, in parallel. Resumable: "
                                  "only new or changed submissions are graded.",
                                  epilog="examples: autograder autograde hands_on_dl --workers 2\n"
                                         "          autograder autograde hands_on_dl --dask local --workers 2\n"
                                         "          autograder autograde hands_on_dl --scheduler tcp://10.0.0.5:8786",
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
    autograde_.add_argument("lesson")
    autograde_.add_argument("--student", action="append", help="only this student (repeatable)")
    autograde_.add_argument("--workers", type=int, help="parallel sandboxes (default: one per core)")
    autograde_.add_argument("--force", action="store_true", help="grade again even where nothing changed (the table then shows any grade that moved)")
    autograde_.add_argument("--seed", type=int, help="draw hidden inputs from this run seed instead of the course "
                                                     "secret (recorded; reproduces a run)")
    autograde_.add_argument("--dry-run", action="store_true", help="grade and show what would change; write nothing")
    backend = autograde_.add_mutually_exclusive_group()
    backend.add_argument("--dask", choices=["local"], help="grade on a Dask LocalCluster started here (--workers of them)")
    backend.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                         help="grade on a running Dask cluster; its workers need this course at the same path, "
                              "this package and bubblewrap; lost workers' submissions are retried")
    autograde_.set_defaults(run=cmd_autograde)
    watch = verbs.add_parser("watch", help="grade submissions as they arrive, on warm workers, until Ctrl-C",
                             description="Keep warm workers and grade every new or changed submitted/*/LESSON as\n"
                             "soon as it is complete (quiet for --settle seconds, its files whole), writing\n"
                             "its result, gradebook row and feedback page as autograde and feedback do. A live\n"
                             "view shows the queue and latency. Ctrl-C stops; a restart grades only what is new.",
                             epilog="examples: autograder watch hands_on_dl --workers 2\n"
                                    "          autograder watch hands_on_dl --scheduler tcp://10.0.0.5:8786\n"
                                    "          autograder watch hands_on_dl --once   # grade what is pending, then exit",
                             formatter_class=argparse.RawDescriptionHelpFormatter)
    watch.add_argument("lesson")
    watch.add_argument("--workers", type=int, help="parallel sandboxes (default: one per core)")
    watch.add_argument("--once", action="store_true", help="grade what is pending (waiting for it to be complete), "
                                                           "then exit")
    watch.add_argument("--settle", type=float, default=0.1, metavar="S",
                       help="seconds a complete-looking submission folder must go unwritten before it is read "
                            "(default 0.1; one that does not look complete waits 2 s)")
    watch_backend = watch.add_mutually_exclusive_group()
    watch_backend.add_argument("--dask", choices=["local"], help="grade on a Dask LocalCluster started here (--workers of them)")
    watch_backend.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                               help="grade on a running Dask cluster (its workers stay warm between runs)")
    watch.set_defaults(run=cmd_watch)
    feedback = verbs.add_parser("feedback", help="write per-student HTML feedback",
                                epilog="example: autograder feedback hands_on_dl")
    feedback.add_argument("lesson")
    feedback.add_argument("--student", action="append", help="only this student (repeatable)")
    feedback.set_defaults(run=cmd_feedback)
    report = verbs.add_parser("report", help="class report of a lesson, or the course view of all lessons",
                              description="With a lesson: reports/LESSON.html (who needs help, item analysis,\n"
                              "common failure messages, plots), LESSON.csv and Gradescope results.json.\n"
                              "Without: the course view, one row per student and one column per lesson\n"
                              "(reports/course.html, course.csv).",
                              epilog="examples: autograder report hands_on_dl\n"
                                     "          autograder report --roster class.csv   # the course; marks who "
                                     "submitted nothing",
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    report.add_argument("lesson", nargs="?", help="a lesson (default: the course view of every lesson)")
    report.add_argument("--roster", type=Path, metavar="CSV", help="the class list (as for collect): students "
                        "without any submission are listed and marked")
    report.set_defaults(run=cmd_report)
    check = verbs.add_parser("check", help="student self-check: run the notebook, public checks only",
                             epilog="example: autograder check hands_on_dl.ipynb")
    check.add_argument("notebook", type=Path)
    check.add_argument("--lesson", help="lesson name (default: inferred)")
    check.set_defaults(run=cmd_check)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; return the exit code (one line on stderr for anything that is not a grade)."""
    from .collect import CollectError
    from .course import UnknownLessonError
    from .new import NewLessonError
    from .spec import LessonSpecError
    from .grade import GraderError
    from .release import ReleaseError
    from .notebook import NotebookError
    from .sandbox import SandboxUnavailableError

    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args))
    except (NewLessonError, LessonSpecError) as exc:
        say(errors, "autograder: ", "", exc)
        return ExitCode.USAGE
    except (NotebookError, UnknownLessonError, CollectError) as exc:
        say(errors, "autograder: cannot grade: ", "", exc)
        return ExitCode.USAGE
    except ReleaseError as exc:
        say(errors, "autograder: ", "", exc)
        return ExitCode.FAILED
    except (SandboxUnavailableError, GraderError) as exc:
        say(errors, "autograder: internal error: ", "", exc)
        return ExitCode.INTERNAL
    except KeyboardInterrupt:
        errors.print("autograder: interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
