"""What a class's grades tell the instructor, as data: the common failure messages per exercise, item
analysis (difficulty, discrimination) and the students who need help. Pure functions over stored records;
report.py turns them into a page. Only student-facing messages are read, never the record's details."""
from __future__ import annotations

import math
import re
from collections import defaultdict
from dataclasses import dataclass

from .results import StoredResult

EASY = 0.95  # mean fraction of points above which nearly everyone passes
HARD = 0.25  # ... below which nearly nobody does
WEAK_DISCRIMINATION = 0.2  # correlation with the rest of the lesson below which it does not separate
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:e-?\d+)?")


@dataclass(frozen=True)
class CommonFailure:
    """One failure message (numbers folded together) of one exercise, and who got it."""

    exercise: str
    message: str  # the first student's wording
    students: tuple[str, ...]
    variants: int  # how many different wordings (numbers) were folded into it


@dataclass(frozen=True)
class ItemStats:
    """Item analysis of one exercise over the graded submissions."""

    exercise: str
    max_score: float
    difficulty: float  # mean fraction of points earned (1: everyone full marks)
    discrimination: float | None  # correlation of its score with the rest of the lesson's; None if undefined
    flag: str  # "" or why the instructor should look at it


@dataclass(frozen=True)
class NeedsHelp:
    """A student the instructor should look at, and why."""

    student: str
    score: float | None  # None: not graded
    max_score: float
    reasons: tuple[str, ...]


def common_failures(records: dict[str, StoredResult], limit: int = 5) -> dict[str, list[CommonFailure]]:
    """Return, per exercise, its most common failure messages (most students first, at most `limit`)."""
    groups: dict[tuple[str, str], list[tuple[str, str]]] = defaultdict(list)
    for student, record in sorted(records.items()):
        for e in record.result.exercises if record.result else ():
            if e.outcome != "passed":
                groups[e.exercise, _NUMBER.sub("#", e.feedback)].append((student, e.feedback))
    by_exercise: dict[str, list[CommonFailure]] = defaultdict(list)
    for (exercise, _), found in groups.items():
        by_exercise[exercise].append(CommonFailure(exercise, found[0][1], tuple(s for s, _ in found),
                                                   len({m for _, m in found})))
    return {x: sorted(fs, key=lambda f: (-len(f.students), f.message))[:limit] for x, fs in by_exercise.items()}


def _correlation(xs: list[float], ys: list[float]) -> float | None:
    n = len(xs)
    if n < 3:
        return None
    mx, my = sum(xs) / n, sum(ys) / n
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys))
    sxx, syy = sum((x - mx) ** 2 for x in xs), sum((y - my) ** 2 for y in ys)
    return None if sxx == 0 or syy == 0 else sxy / math.sqrt(sxx * syy)


def item_analysis(records: dict[str, StoredResult], exercises: list[str]) -> list[ItemStats]:
    """Return each exercise's difficulty and discrimination (corrected item-total correlation: its score
    against the rest of the lesson's), flagged when nearly everyone or nearly nobody passes it or when it
    does not separate strong from weak students."""
    graded = [r.result for r in records.values() if r.result]
    stats = []
    for exercise in exercises:
        mine, rest, top = [], [], 0.0
        for result in graded:
            by_id = {e.exercise: e for e in result.exercises}
            if exercise not in by_id:
                continue
            mine.append(by_id[exercise].score)
            rest.append(result.score - by_id[exercise].score)
            top = max(top, by_id[exercise].max_score)
        if not mine or not top:
            stats.append(ItemStats(exercise, top, 0.0, None, "no graded submission"))
            continue
        difficulty = sum(mine) / len(mine) / top
        discrimination = _correlation(mine, rest)
        flag = ("nearly everyone passes" if difficulty >= EASY else "nearly nobody passes" if difficulty <= HARD
                else "does not separate strong from weak students"
                if discrimination is not None and discrimination < WEAK_DISCRIMINATION else "")
        stats.append(ItemStats(exercise, top, difficulty, discrimination, flag))
    return stats


def students_needing_help(records: dict[str, StoredResult], lowest: int = 5) -> list[NeedsHelp]:
    """Return the students to look at: not graded, any crash, timeout or missing file, and the `lowest`
    scores below the class median; lowest score first."""
    graded = sorted(r.result.score for r in records.values() if r.result)
    median = graded[len(graded) // 2] if graded else 0.0
    low = set(sorted((r.result.score, s) for s, r in records.items() if r.result and r.result.score < median)[:lowest])
    found = []
    for student, record in records.items():
        result = record.result
        if result is None:
            found.append(NeedsHelp(student, None, 0.0, (f"not graded: {record.error}",)))
            continue
        reasons = [f"{e.exercise}: {e.outcome}" for e in result.exercises if e.outcome in ("error", "timeout")]
        reasons += [f"{e.exercise}: missing file" for e in result.exercises
                    if e.outcome == "missing" and "not submitted" in e.feedback]
        if (result.score, student) in low:
            reasons.insert(0, f"low score ({result.score:g} of {result.max_score:g}; median {median:g})")
        if reasons:
            found.append(NeedsHelp(student, result.score, result.max_score, tuple(reasons)))
    return sorted(found, key=lambda h: (-1 if h.score is None else h.score, h.student))
