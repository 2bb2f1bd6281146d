"""The `autograder` command: thin verbs over the library. Exit codes are ExitCode values."""
from __future__ import annotations

import argparse
import json
import sys
from enum import IntEnum
from pathlib import Path

from rich.console import Console
from rich.table import Table

from .results import SubmissionResult

console = Console(stderr=False)
errors = Console(stderr=True)


class ExitCode(IntEnum):
    OK = 0  # a grade was produced (whatever the score) / the check passed
    FAILED = 1  # validation found problems, or some submissions could not be graded
    USAGE = 2  # bad arguments or input that cannot be graded at all
    INTERNAL = 3  # the grader itself failed (sandbox, graders): never the student's fault


STATUS_STYLE = {"passed": "green", "failed": "yellow", "error": "red", "timeout": "magenta", "missing": "dim"}


def result_table(result: SubmissionResult, title: str) -> Table:
    """Return a rich table of one submission's per-exercise grades."""
    table = Table(title=title, title_justify="left")
    for column, justify in (("exercise", "left"), ("score", "right"), ("status", "left"), ("feedback", "left")):
        table.add_column(column, justify=justify, overflow="fold")
    for e in result.exercises:
        table.add_row(e.exercise, f"{e.score:g}/{e.max_score:g}", f"[{STATUS_STYLE[e.outcome]}]{e.outcome}[/]", e.feedback)
    table.add_section()
    table.add_row("total", f"{result.score:g}/{result.max_score:g}", "", f"seed {result.seed}, sandbox: {result.sandbox}")
    return table


def cmd_grade(args: argparse.Namespace) -> ExitCode:
    from .config import load_config
    from .grade import grade_submission

    config = load_config().with_limits(notebook_timeout=args.timeout, cell_timeout=args.cell_timeout)
    with console.status(f"grading {args.submission.name} in the sandbox…"):
        result = grade_submission(args.submission, config, lesson=args.lesson, seed=args.seed)
    console.print(result_table(result, f"{args.submission.name} ({result.lesson})"))
    for note in result.notes:
        console.print(f"[yellow]note:[/] {note}")
    if args.json:
        Path(args.json).write_text(result.dumps() + "\n")
    return ExitCode.OK


def cmd_validate(args: argparse.Namespace) -> ExitCode:
    from .config import load_config
    from .validate import print_report, validate_lesson

    config = load_config()
    from .course import lesson_names

    names = args.lessons or lesson_names(config.course_root)
    ok = True
    for name in names:
        report = validate_lesson(name, config, workers=args.workers, mutants=not args.no_mutants)
        print_report(report, console)
        ok &= report.ok
    return ExitCode.OK if ok else ExitCode.FAILED


def cmd_demo(args: argparse.Namespace) -> ExitCode:
    from .config import load_config
    from .demo import run_demo

    outcomes = run_demo(load_config(), console, workers=args.workers)
    return ExitCode.INTERNAL if any(o.internal for o in outcomes.values()) else ExitCode.OK


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
    validate.set_defaults(run=cmd_validate)
    demo = verbs.add_parser("demo", help="grade the built-in demo class of hands_on_dl",
                            epilog="example: autograder demo --workers 2")
    demo.add_argument("--workers", type=int, help="parallel sandbox runs (default: one per core)")
    demo.set_defaults(run=cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; return the exit code (one line on stderr for anything that is not a grade)."""
    from .course import UnknownLessonError
    from .grade import GraderError
    from .notebook import NotebookError
    from .sandbox import SandboxUnavailableError

    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args))
    except (NotebookError, UnknownLessonError) as exc:
        errors.print(f"autograder: cannot grade: {exc}", highlight=False, soft_wrap=True)
        return ExitCode.USAGE
    except (SandboxUnavailableError, GraderError) as exc:
        errors.print(f"autograder: internal error: {exc}", highlight=False, soft_wrap=True)
        return ExitCode.INTERNAL
    except KeyboardInterrupt:
        errors.print("autograder: interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
