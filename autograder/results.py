"""Grades as data: what one exercise and one submission earned, and why.

Their text fields may hold student text (error messages, output): they are made safe (`safe_text`) when a
result is built, so every reader (rich, sqlite, HTML, JSON) gets valid, printable text, also from
result.json files written by older versions."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Literal

from .text import safe_text

Outcome = Literal["passed", "failed", "error", "timeout", "missing"]
OUTCOMES: tuple[Outcome, ...] = ("passed", "failed", "error", "timeout", "missing")


@dataclass(frozen=True)
class ExerciseResult:
    """The grade of one exercise: score, outcome and a message the student can act on."""

    exercise: str
    outcome: Outcome
    score: float
    max_score: float
    feedback: str = ""  # for the student: never hidden inputs, expected values or grader internals
    detail: str = ""  # for the instructor: which checks failed, sandbox status

    def __post_init__(self) -> None:
        if self.outcome not in OUTCOMES or not all(isinstance(x, (int, float)) for x in (self.score, self.max_score)):
            raise ValueError(f"not a grade: {self.outcome!r}, {self.score!r} of {self.max_score!r}")
        _make_text_safe(self, "exercise", "feedback", "detail")


@dataclass(frozen=True)
class SubmissionResult:
    """The grade of one submitted notebook, with the seed that reproduces it."""

    lesson: str
    exercises: tuple[ExerciseResult, ...]
    seed: int
    sandbox: str = "bubblewrap"  # or "none (UNSANDBOXED)" when the fallback ran
    timings: dict[str, float] = field(default_factory=dict)
    notes: tuple[str, ...] = ()  # submission-level remarks (missing files, skipped cells)

    def __post_init__(self) -> None:
        _make_text_safe(self, "lesson", "sandbox")
        object.__setattr__(self, "notes", tuple(safe_text(note) for note in self.notes))

    @property
    def score(self) -> float:
        """Return the total score over all exercises."""
        return round(sum(e.score for e in self.exercises), 6)

    @property
    def max_score(self) -> float:
        """Return the total points available."""
        return round(sum(e.max_score for e in self.exercises), 6)

    def to_json(self) -> dict:
        """Return the result as the documented JSON shape (plus seed, timings and notes)."""
        return {
            "lesson": self.lesson,
            "score": self.score,
            "max_score": self.max_score,
            "exercises": [
                {"id": e.exercise, "score": e.score, "max_score": e.max_score,
                 "status": e.outcome, "feedback": e.feedback}
                for e in self.exercises
            ],
            "seed": self.seed,
            "sandbox": self.sandbox,
            "timings": self.timings,
            "notes": list(self.notes),
            "details": {e.exercise: e.detail for e in self.exercises if e.detail},
        }

    @classmethod
    def from_json(cls, data: dict) -> "SubmissionResult":
        """Return the result read back from `to_json` output (KeyError, TypeError or ValueError when
        `data` is not such output)."""
        details = data.get("details", {})
        exercises = tuple(
            ExerciseResult(e["id"], e["status"], e["score"], e["max_score"], e["feedback"],
                           details.get(e["id"], ""))
            for e in data["exercises"]
        )
        timings = dict(data.get("timings", {}))
        if not all(isinstance(v, (int, float)) for v in timings.values()):
            raise ValueError(f"timings are not numbers: {timings!r}")
        return cls(data["lesson"], exercises, int(data["seed"]), data.get("sandbox", "bubblewrap"),
                   timings, tuple(data.get("notes", ())))

    def dumps(self) -> str:
        """Return the JSON text of the result, byte-stable for the same grade."""
        return json.dumps(self.to_json(), indent=2, sort_keys=False)


def _make_text_safe(result: object, *names: str) -> None:
    """Replace the named text fields of a frozen result by their `safe_text`."""
    for name in names:
        object.__setattr__(result, name, safe_text(getattr(result, name)))
