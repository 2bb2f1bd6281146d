"""Import submissions (a folder or an LMS zip) into nbgrader's layout submitted/<student>/<lesson>/."""
from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_PATTERN = r"^(?P<student>[A-Za-z0-9.@-]+?)(?:_|/)"
MAX_ARCHIVE_MEMBER_MB = 256


class CollectError(Exception):
    """The archive or folder cannot be read at all."""


@dataclass
class CollectReport:
    """What collect did with every file it saw: nothing is dropped without a line here."""

    imported: dict[str, list[str]] = field(default_factory=dict)  # student -> files
    duplicates: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)
    unknown_students: list[str] = field(default_factory=list)
    unmatched: list[str] = field(default_factory=list)


def _extract(archive: Path, into: Path) -> Path:
    """Unpack a zip safely (no absolute paths, no '..', size-capped members); return the folder."""
    try:
        with zipfile.ZipFile(archive) as zipped:
            for member in zipped.infolist():
                name = Path(member.filename)
                if member.is_dir() or name.is_absolute() or ".." in name.parts:
                    continue
                if member.file_size > MAX_ARCHIVE_MEMBER_MB << 20:
                    raise CollectError(f"{archive.name}: {member.filename} is larger than {MAX_ARCHIVE_MEMBER_MB} MB")
                target = into / name
                target.parent.mkdir(parents=True, exist_ok=True)
                with zipped.open(member) as source, open(target, "wb") as sink:
                    shutil.copyfileobj(source, sink)
                stamp = time.mktime(member.date_time + (0, 0, -1))  # "newest wins" uses the upload time
                os.utime(target, (stamp, stamp))
    except zipfile.BadZipFile:
        raise CollectError(f"{archive.name}: not a zip archive") from None
    return into


def collect(lesson: str, source: Path, course_root: Path, wanted_files: tuple[str, ...],
            pattern: str = DEFAULT_PATTERN, roster: set[str] | None = None) -> CollectReport:
    """Copy each student's notebook and side files into submitted/<student>/<lesson>/; return the report.

    A student's id comes from `pattern` (named group `student`) applied to the path inside `source`;
    a notebook is renamed to <lesson>.ipynb, side files lose the student prefix. Where one student has
    several notebooks, the newest wins and the others are listed as duplicates."""
    source = Path(source)
    if not source.exists():
        raise CollectError(f"{source}: no such file or folder")
    regex = re.compile(pattern)
    with tempfile.TemporaryDirectory(prefix="collect-") as tmp:
        folder = _extract(source, Path(tmp)) if source.is_file() else source
        report = CollectReport()
        chosen: dict[str, dict[str, Path]] = {}
        for path in sorted(p for p in folder.rglob("*") if p.is_file() and not p.is_symlink() and "__MACOSX" not in p.parts):
            relative = path.relative_to(folder).as_posix()
            match = regex.search(relative)
            kind = _kind(path, lesson, wanted_files)
            if not match or kind is None:
                report.unmatched.append(relative)
                continue
            student = match.group("student")
            files = chosen.setdefault(student, {})
            if kind in files:
                keep, drop = sorted([files[kind], path], key=lambda p: p.stat().st_mtime, reverse=True)
                report.duplicates.append(f"{student}: kept {keep.relative_to(folder)}, ignored {drop.relative_to(folder)}")
                files[kind] = keep
            else:
                files[kind] = path
        for student, files in sorted(chosen.items()):
            target = course_root / "submitted" / student / lesson
            target.mkdir(parents=True, exist_ok=True)
            for kind, path in files.items():
                shutil.copy2(path, target / kind)
                if kind.endswith(".ipynb") and not _looks_like_notebook(path):
                    report.unreadable.append(f"{student}: {path.name} is not a readable notebook "
                                             "(imported; autograde will record why)")
            report.imported[student] = sorted(files)
            if roster is not None and student not in roster:
                report.unknown_students.append(student)
    return report


def _kind(path: Path, lesson: str, wanted_files: tuple[str, ...]) -> str | None:
    """Return the name a file takes in the submission folder, or None for files we do not collect."""
    if path.suffix == ".ipynb" and ".ipynb_checkpoints" not in path.parts:
        return f"{lesson}.ipynb"
    return next((w for w in wanted_files if path.name == w or path.name.endswith("_" + w)), None)


def _looks_like_notebook(path: Path) -> bool:
    from .notebook import NotebookError, read_notebook

    try:
        read_notebook(path)
        return True
    except NotebookError:
        return False
