"""A throw-away course beside the real one, sharing its lessons, for demos and tests of the class loop."""
from __future__ import annotations

import shutil
from pathlib import Path

SHARED = ("source", "release", "solutions", "lessons", "tests", "data")
COPIED = ("nbgrader_config.py", "pyproject.toml")


def make_course(target: Path, origin: Path) -> Path:
    """Return `target` set up as a fresh course directory whose lessons are `origin`'s (symlinked)."""
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    for name in SHARED:
        if (origin / name).exists():
            (target / name).symlink_to((origin / name).resolve())
    for name in COPIED:
        shutil.copyfile(origin / name, target / name)
    return target
