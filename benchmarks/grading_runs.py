"""What the grading benchmarks share: one submission graded first on a fresh warm sandbox, then again."""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from autograder.config import Config
from autograder.grade import grade_submission
from autograder.results import SubmissionResult


@dataclass(frozen=True)
class FirstAndWarm:
    """The first grade (its wall time includes the warm sandbox's start) and the wall times of the
    grades after it, with their timings."""

    first: SubmissionResult
    first_wall: float
    warm: list[tuple[float, dict]]


def grade_first_and_warm(path: Path, config: Config, repeat: int) -> FirstAndWarm:
    """Grade `path` with seed 1, then `repeat` times more (seeds 2, 3, ...) on the same warm sandbox."""
    started = time.perf_counter()
    first = grade_submission(path, config, seed=1)
    first_wall = time.perf_counter() - started
    warm = []
    for seed in range(2, 2 + repeat):
        started = time.perf_counter()
        again = grade_submission(path, config, seed=seed)
        warm.append((time.perf_counter() - started, again.timings))
    return FirstAndWarm(first, first_wall, warm)
