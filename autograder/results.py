"""Grades as data: what one exercise and one submission earned, and why.

Their text fields may hold student text (error messages, output): they are made safe (`safe_text`) when a
result is built, so every reader (rich, sqlite, HTML, JSON) gets valid, printable text, also from
result.json files written by older versions."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
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


# ------------------------------------------------------------------------------ the stored-result record

RESULT_FILE = "result.json"  # instructor-only: nbgrader_config.py lists it in CourseDirectory.ignore


def autograded_folder(course_root: Path, lesson: str, student: str) -> Path:
    """Return autograded/<student>/<lesson>/: the stored record, the executed notebook, nbgrader's files."""
    return course_root / "autograded" / student / lesson


def stored_path(course_root: Path, lesson: str, student: str) -> Path:
    """Return where a submission's stored-result record lives."""
    return autograded_folder(course_root, lesson, student) / RESULT_FILE


def executed_path(course_root: Path, lesson: str, student: str) -> Path:
    """Return where a submission's executed notebook lives (nbgrader's autograded copy)."""
    return autograded_folder(course_root, lesson, student) / f"{lesson}.ipynb"


@dataclass(frozen=True)
class StoredResult:
    """One submission's grade as `autograde` stores it (autograded/<student>/<lesson>/result.json) and
    feedback, report, gradebook and watch read it back: the only shape of that file.

    `result` is None when the submission could not be graded (`error` says why) or when the record itself
    could not be read (`fingerprint` is then "", so the submission is graded again). Instructor-only: the
    fingerprints, run seed and `result.details` never go to students."""

    student: str
    lesson: str
    fingerprint: str  # content hash of the submission it judged ("" when unreadable)
    result: SubmissionResult | None
    error: str = ""  # why it was not graded (for the student: never grader internals)
    graders: str = ""  # seeds.graders_fingerprint of what judged it ("" in records older than it)
    run_seed: int | None = None  # autograde --seed, when hidden inputs came from a run seed
    internal: bool = False  # our failure, not the student's: never stored by autograde, kept for old records

    def __post_init__(self) -> None:
        _make_text_safe(self, "student", "lesson", "error")

    @property
    def readable(self) -> bool:
        """Return True unless the record could not be read back."""
        return bool(self.fingerprint)

    def to_json(self) -> dict:
        """Return the record as stored in result.json."""
        return {"student": self.student, "lesson": self.lesson, "fingerprint": self.fingerprint,
                "graders": self.graders, "run_seed": self.run_seed,
                "result": self.result.to_json() if self.result else None, "error": self.error,
                "internal": self.internal}

    @classmethod
    def from_json(cls, data: dict, student: str = "", lesson: str = "") -> "StoredResult":
        """Return the record read back from `to_json` output (KeyError, TypeError or ValueError when it is not);
        `student` and `lesson` fill in records that do not name them."""
        result = SubmissionResult.from_json(data["result"]) if data.get("result") else None
        seed = data.get("run_seed")
        return cls(str(data.get("student") or student), str(data.get("lesson") or lesson), str(data["fingerprint"]),
                   result, str(data.get("error") or ""), str(data.get("graders") or ""),
                   None if seed is None else int(seed), bool(data.get("internal", False)))


def read_stored(path: Path) -> StoredResult:
    """Return the record in `path` (autograded/<student>/<lesson>/result.json); one that cannot be read is
    an unreadable record whose error says why, never an exception."""
    student, lesson = path.parent.parent.name, path.parent.name
    try:
        return StoredResult.from_json(json.loads(path.read_text()), student, lesson)
    except (OSError, ValueError, LookupError, TypeError, AttributeError, RecursionError) as exc:
        return StoredResult(student, lesson, "", None, f"its stored grade could not be read ({type(exc).__name__})")


def write_stored(course_root: Path, record: StoredResult) -> Path:
    """Write the record atomically (a crash leaves the old one or the new one, never half); return its path."""
    path = stored_path(course_root, record.lesson, record.student)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(record.to_json(), indent=1))
    os.replace(temporary, path)
    return path


def stored_results(course_root: Path, lesson: str) -> dict[str, StoredResult]:
    """Return every stored record of a lesson by student (sorted), readable or not."""
    paths = sorted((course_root / "autograded").glob(f"*/{lesson}/{RESULT_FILE}"))
    return {record.student: record for record in map(read_stored, paths)}
