"""Grading wall time of every lesson's reference submission, measured in one run: the first grade of a
lesson (its warm sandbox starting) and further grades on the warm sandbox (the marginal cost).

    .venv/bin/python benchmarks/bench_lessons.py [--repeat 3] [LESSON ...]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from autograder.config import load_config  # noqa: E402
from autograder.course import get_lesson, lesson_names  # noqa: E402
from autograder.validate import build_submission  # noqa: E402
from autograder.warm import close_all  # noqa: E402
from grading_runs import grade_first_and_warm  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("lessons", nargs="*")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    config = load_config(ROOT)
    print(f"{'lesson':<22} {'score':>7} {'first grade':>12} {'(sandbox start)':>16} {'warm grade':>11}")
    for name in args.lessons or lesson_names(ROOT):
        lesson = get_lesson(ROOT, name)
        close_all()
        with tempfile.TemporaryDirectory() as tmp:
            runs = grade_first_and_warm(build_submission(lesson, None, Path(tmp)), config, args.repeat)
        first = runs.first
        print(f"{name:<22} {first.score:>3g}/{first.max_score:<3g} {runs.first_wall:>10.2f} s "
              f"{first.timings['sandbox_start']:>14.2f} s {statistics.median(w for w, _ in runs.warm):>9.2f} s")


if __name__ == "__main__":
    main()
