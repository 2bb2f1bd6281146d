"""Prove a lesson: fresh release, no leaks, reference at full marks, every mutant caught where it should be,
and every right answer written in another style than the reference at full marks."""
from __future__ import annotations

import json
import secrets
import shutil
import tempfile
import time
import tomllib
from dataclasses import dataclass, field
from collections.abc import Callable
from pathlib import Path

import nbformat
from rich.console import Console
from rich.table import Table

from .batch import BatchItem, grade_many
from .budgets import recheck_cell_times
from .config import Config
from .course import Lesson, get_lesson
from .notebook import cell_index
from .release import find_leaks, release_is_fresh
from .results import SubmissionResult

MIN_MUTANTS_PER_EXERCISE = 3


@dataclass(frozen=True)
class Mutant:
    """A wrong-but-plausible submission: one answer cell replaced, or one submitted file changed."""

    exercise: str
    name: str
    answer: str | None = None
    files: dict = field(default_factory=dict)  # name -> "missing" | "untrained" | another submitted file
    affects: tuple[str, ...] = ()  # later exercises that use this answer by design and may lose points too
    right: bool = False  # a right answer in another style ([[right]] in the catalogue): must earn full marks


@dataclass(frozen=True)
class MutantVerdict:
    mutant: Mutant
    result: SubmissionResult | None
    error: str = ""

    @property
    def caught(self) -> bool:
        """True when the mutant lost points on its exercise."""
        mine = self.result and next(e for e in self.result.exercises if e.exercise == self.mutant.exercise)
        return bool(mine) and mine.score < mine.max_score

    @property
    def holds(self) -> bool:
        """True when a wrong answer lost points on its exercise only, or a right one earned full marks."""
        if self.mutant.right:
            return self.result is not None and self.result.score == self.result.max_score
        return self.caught and not self.collateral

    @property
    def collateral(self) -> list[str]:
        """Return the other exercises that lost points (a grader must judge its own exercise only)."""
        if not self.result:
            return []
        return [e.exercise for e in self.result.exercises
                if e.exercise != self.mutant.exercise and e.exercise not in self.mutant.affects
                and e.score < e.max_score]


@dataclass(frozen=True)
class ValidationReport:
    lesson: str
    release_fresh: bool
    leaks: list[str]
    reference: SubmissionResult | None
    reference_error: str
    mutants: list[MutantVerdict]
    thin_exercises: list[str]
    seconds: float
    reference_reruns: list[SubmissionResult | None] = field(default_factory=list)  # on further random seeds
    step_budgets: str = ""  # what the recheck of the reference's recorded step times found or did

    @property
    def reference_full(self) -> bool:
        """True when the reference scored full marks on every seed it was graded with."""
        runs = [self.reference, *self.reference_reruns]
        return all(r is not None and r.score == r.max_score for r in runs)

    @property
    def ok(self) -> bool:
        return (self.release_fresh and not self.leaks and self.reference_full and not self.thin_exercises
                and all(v.holds for v in self.mutants))


def load_mutants(lesson: Lesson) -> list[Mutant]:
    """Return the lesson's mutant catalogue (lessons/<lesson>/mutants.toml), calibrated values filled in."""
    path = lesson.mutants_file
    if not path.is_file():
        return []
    calibration_file = lesson.calibration_file
    calibration = json.loads(calibration_file.read_text()) if calibration_file.is_file() else {}
    mutants = []
    catalogue = tomllib.loads(path.read_text())
    for kind in ("mutant", "right"):
        for entry in catalogue.get(kind, []):
            answer = entry.get("answer")
            if answer and entry.get("calibrated"):
                answer = answer.format_map(calibration)
            mutants.append(Mutant(entry["exercise"], entry["name"], answer and answer.strip() + "\n",
                                  entry.get("files", {}), tuple(entry.get("affects", ())), kind == "right"))
    return mutants


def build_submission(lesson: Lesson, mutant: Mutant | None, directory: Path) -> Path:
    """Return a notebook path in `directory`: the source notebook with its weights, one mutant applied."""
    import torch

    nb = nbformat.read(lesson.source_notebook, as_version=4)
    source_dir = lesson.source_notebook.parent
    for name in lesson.spec.submitted_files:
        if (source_dir / name).is_file():
            shutil.copyfile(source_dir / name, directory / name)
    if mutant and mutant.answer is not None:
        nb.cells[cell_index(nb, mutant.exercise)].source = mutant.answer
    for name, change in (mutant.files.items() if mutant else ()):
        if change == "missing":
            (directory / name).unlink(missing_ok=True)
        elif change == "untrained":
            state = torch.load(directory / name, weights_only=True)
            generator = torch.Generator().manual_seed(0)
            torch.save({k: torch.randn(v.shape, generator=generator) * 0.01 for k, v in state.items()}, directory / name)
        else:
            shutil.copyfile(source_dir / change, directory / name)
    path = directory / f"{lesson.name}.ipynb"
    nbformat.write(nb, path)
    return path


def validate_lesson(name: str, config: Config, workers: int = 2, mutants: bool = True,
                    seed: int | None = None, check_release: bool = True, reference_seeds: int = 1,
                    on_progress: Callable[[str], None] | None = None) -> ValidationReport:
    """Return the validation report of one lesson; the reference is graded on `reference_seeds` seeds
    (`seed` first, then random ones), each must score full marks."""
    started = time.monotonic()
    lesson = get_lesson(config.course_root, name)
    fresh = release_is_fresh(lesson) if check_release else True
    leaks = find_leaks(lesson) if check_release else []
    catalogue = load_mutants(lesson) if mutants else []
    counts = {e.id: sum(m.exercise == e.id and not m.right for m in catalogue) for e in lesson.exercises}
    thin = [e for e, n in counts.items() if mutants and n < MIN_MUTANTS_PER_EXERCISE]
    with tempfile.TemporaryDirectory(prefix="validate-") as tmp:
        items = []
        for index, mutant in enumerate([None, *catalogue]):
            directory = Path(tmp) / f"{index:03d}"
            directory.mkdir()
            items.append(BatchItem(str(index), build_submission(lesson, mutant, directory), name, seed,
                                   measure=mutant is None))  # the reference, unbudgeted, times each step
        reruns = []
        for index in range(1, reference_seeds):
            reruns.append(BatchItem(f"rerun-{index}", items[0].notebook, name, seed=secrets.randbits(31)))
        items += reruns
        names = ["reference", *(f"{m.exercise}: {m.name}" for m in catalogue),
                 *(f"reference, seed run {i}" for i in range(1, reference_seeds))]
        done = []

        def progress(outcome) -> None:
            done.append(outcome.key)
            if on_progress:
                score = f"{outcome.result.score:g}/{outcome.result.max_score:g}" if outcome.result else outcome.error
                label = names[int(outcome.key)] if outcome.key.isdigit() else names[len(catalogue) + int(outcome.key[6:])]
                on_progress(f"[{len(done)}/{len(items)}] {label}: {score}")

        outcomes = list(grade_many(items, config.course_root, workers, on_done=progress).values())
    reference, reference_error = outcomes[0].result, outcomes[0].error
    verdicts = [MutantVerdict(m, o.result, o.error) for m, o in zip(catalogue, outcomes[1:])]
    rerun_results = [o.result for o in outcomes[1 + len(catalogue):]]
    budgets = recheck_cell_times(lesson.cell_times_file, outcomes[0].step_cpu, config.limits)
    return ValidationReport(name, fresh, leaks, reference, reference_error, verdicts, thin, time.monotonic() - started,
                            rerun_results, budgets)


def print_report(report: ValidationReport, console: Console) -> None:
    """Print a validation report: checks, the reference's grade, and one row per mutant."""
    mark = lambda ok: "[green]ok[/]" if ok else "[red]FAIL[/]"
    console.print(f"[bold]{report.lesson}[/]: release fresh {mark(report.release_fresh)}, "
                  f"no leaks {mark(not report.leaks)}")
    for leak in report.leaks:
        console.print(f"  [red]leak:[/] {leak}")
    ref = report.reference
    if ref is None:
        console.print(f"  [red]reference could not be graded:[/] {report.reference_error}")
    else:
        console.print(f"  reference: {ref.score:g}/{ref.max_score:g} {mark(ref.score == ref.max_score)} "
                      f"(seed {ref.seed}, {ref.timings.get('total', 0):.1f} s)")
        for e in ref.exercises:
            if e.score < e.max_score:
                console.print(f"    [red]{e.exercise}[/]: {e.outcome}: {e.feedback} {e.detail[:300]}")
    if report.step_budgets:
        console.print(f"  {report.step_budgets}")
    if report.reference_reruns:
        full = [r for r in report.reference_reruns if r is not None and r.score == r.max_score]
        console.print(f"  reference on {len(report.reference_reruns)} more random seeds: "
                      f"{len(full)}/{len(report.reference_reruns)} full marks {mark(len(full) == len(report.reference_reruns))}")
        for r in report.reference_reruns:
            lost = [e for e in (r.exercises if r else ()) if e.score < e.max_score]
            for e in lost:
                console.print(f"    [red]seed {r.seed}: {e.exercise}[/]: {e.outcome}: {e.feedback} {e.detail[:300]}")
            if r is None:
                console.print("    [red]a seed run could not be graded[/]")
    wrong = [v for v in report.mutants if not v.mutant.right]
    if wrong:
        table = Table(title=f"{report.lesson}: mutants", title_justify="left")
        for column in ("exercise", "mutant", "caught", "score on it", "status", "other exercises hit"):
            table.add_column(column)
        for v in wrong:
            mine = v.result and next(e for e in v.result.exercises if e.exercise == v.mutant.exercise)
            table.add_row(v.mutant.exercise, v.mutant.name, mark(v.caught),
                          f"{mine.score:g}/{mine.max_score:g}" if mine else v.error[:60],
                          mine.outcome if mine else "-", ", ".join(v.collateral) or "-")
        console.print(table)
        console.print(f"  mutants caught on their own exercise only: {sum(v.holds for v in wrong)}/{len(wrong)}")
    right = [v for v in report.mutants if v.mutant.right]
    for v in right:
        if not v.holds:
            lost = [f"{e.exercise} ({e.feedback})" for e in (v.result.exercises if v.result else ()) if e.score < e.max_score]
            console.print(f"  [red]right answer lost points:[/] {v.mutant.exercise}: {v.mutant.name}: "
                          f"{'; '.join(lost) or v.error}")
    if right:
        console.print(f"  right answers in other styles at full marks: {sum(v.holds for v in right)}/{len(right)}")
    for exercise in report.thin_exercises:
        console.print(f"  [red]{exercise}[/] has fewer than {MIN_MUTANTS_PER_EXERCISE} mutants")
    console.print(f"  {report.lesson}: {'[green]VALID[/]' if report.ok else '[red]INVALID[/]'} "
                  f"in {report.seconds:.0f} s")
