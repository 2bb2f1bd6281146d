"""Where a grade's randomness comes from, and what a grade was made with: so that a grade moves only when
the submission, the graders or the reference change.

A student's hidden inputs are drawn from a seed derived from the course secret (created once in
.autograder/course_secret, never released, never mounted in a sandbox, never in feedback), the lesson and
the student id. `--seed` still overrides it to reproduce a grade. The graders' fingerprint is a hash of
everything on the judge's side of a lesson: graders, probes, reference solutions, calibration and the
reference's recorded step times (each step's time budget comes from them)."""
from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from .course import Lesson

SECRET_FILE = Path(".autograder") / "course_secret"


def course_secret(course_root: Path) -> bytes:
    """Return the course's secret, creating it (readable by its owner only) the first time."""
    path = course_root / SECRET_FILE
    if not path.is_file():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secrets.token_hex(32))
    return bytes.fromhex(path.read_text().strip())


def hidden_seed(course_root: Path, lesson: str, student: str) -> int:
    """Return the seed of a student's hidden inputs for a lesson: the same on every run."""
    digest = hmac.new(course_secret(course_root), f"{lesson}\0{student}".encode(), hashlib.sha256).digest()
    return int.from_bytes(digest[:4], "big") >> 1


def graders_fingerprint(lesson: Lesson) -> str:
    """Return a short hash of what judges the lesson: its graders, probes, reference, calibration and step times."""
    files = [*lesson.judge_files, lesson.solutions_file, Path(__file__).parent / "sandboxed" / "probes" / "common.py",
             Path(__file__).parent / "judge.py", lesson.cell_times_file]
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.name.encode() + b"\0")
        digest.update(path.read_bytes() if path.is_file() else b"<absent>")
    return digest.hexdigest()[:16]
