"""Import submissions (a folder or an LMS zip) into nbgrader's layout submitted/<student>/<lesson>/.

A zip is hostile input: only members whose name collect takes are unpacked, each within a size and a
compression-ratio limit and all within a total, counted on the bytes written (a member's header may lie)."""
from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

DEFAULT_PATTERN = r"^(?P<student>[A-Za-z0-9.@-]+?)(?:_|/)"
MAX_ARCHIVE_MEMBER_MB = 256  # one unpacked file
MAX_ARCHIVE_TOTAL_MB = 4096  # everything unpacked from one archive
MAX_COMPRESSION_RATIO = 200  # unpacked : packed bytes of one member (notebooks and weights stay far below)
RATIO_FREE_MB = 1  # a member unpacking to less is never refused for its ratio

Take = Callable[[str], "tuple[str, str] | None"]  # path inside the source -> (student, file name) or None
Found = tuple[str, str, str, Path]  # student, file name in the submission folder, path inside the source, file


class CollectError(Exception):
    """The archive or folder cannot be read at all."""


class _Refused(Exception):
    """An archive member over one of the limits."""


@dataclass
class CollectReport:
    """What collect did with every file it saw: nothing is dropped without a line here."""

    imported: dict[str, list[str]] = field(default_factory=dict)  # student -> files
    duplicates: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # not imported: over a limit, damaged, no usable student id
    unknown_students: list[str] = field(default_factory=list)
    unmatched: list[str] = field(default_factory=list)


def _unpack(zipped: zipfile.ZipFile, member: zipfile.ZipInfo, target: Path, left: int) -> int:
    """Write one member to `target` within its limits, checked on its header and again on the bytes
    written; return how many were written."""
    allowed, why = min((MAX_ARCHIVE_MEMBER_MB << 20, f"larger than {MAX_ARCHIVE_MEMBER_MB} MB"),
                       (left, f"past the {MAX_ARCHIVE_TOTAL_MB} MB one archive may unpack to"),
                       (max(MAX_COMPRESSION_RATIO * member.compress_size, RATIO_FREE_MB << 20),
                        f"compressed more than {MAX_COMPRESSION_RATIO}:1 (a zip bomb?)"))
    if member.file_size > allowed:
        raise _Refused(why)
    written = 0
    with zipped.open(member) as source, open(target, "wb") as sink:
        while chunk := source.read(1 << 20):
            written += len(chunk)
            if written > allowed:
                raise _Refused(why)
            sink.write(chunk)
    stamp = time.mktime(member.date_time + (0, 0, -1))  # "newest wins" uses the upload time
    os.utime(target, (stamp, stamp))
    return written


def _extract(archive: Path, into: Path, take: Take, report: CollectReport) -> list[Found]:
    """Return every member of a zip that `take` takes, each unpacked to a file of its own in `into`; a member
    over a limit or damaged is refused, with the reason."""
    try:
        zipped = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:  # ValueError: a member name that is not text
        raise CollectError(f"{archive.name}: not a readable zip archive ({exc})") from None
    found, left = [], MAX_ARCHIVE_TOTAL_MB << 20
    with zipped:
        for number, member in enumerate(sorted(zipped.infolist(), key=lambda m: m.filename)):
            taken = None if member.is_dir() else take(member.filename)
            if taken is None:
                continue
            target = into / str(number)  # never a path from the archive
            try:
                left -= _unpack(zipped, member, target, left)
            except Exception as exc:  # over a limit, damaged, encrypted: it costs this member only
                target.unlink(missing_ok=True)
                reason = str(exc) if isinstance(exc, _Refused) else f"cannot be unpacked ({type(exc).__name__}: {exc})"
                report.refused.append(f"{member.filename}: {reason}")
                continue
            found.append((*taken, member.filename, target))
    return found


def _walk(folder: Path, take: Take) -> list[Found]:
    """Return every file under `folder` that `take` takes."""
    found = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and not p.is_symlink()):
        relative = path.relative_to(folder).as_posix()
        if taken := take(relative):
            found.append((*taken, relative, path))
    return found


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
    report = CollectReport()

    def take(relative: str) -> tuple[str, str] | None:
        """Return (student, name in the submission folder) for a file collect takes; report the others."""
        path = PurePosixPath(relative)
        if "__MACOSX" in path.parts:
            return None
        match, kind = regex.search(relative), _kind(path, lesson, wanted_files)
        if not match or kind is None:
            report.unmatched.append(relative)
            return None
        student = match.group("student")
        if student in ("", ".", "..") or "/" in student:
            report.refused.append(f"{relative}: {student!r} cannot be a student id")
            return None
        return student, kind

    with tempfile.TemporaryDirectory(prefix="collect-") as tmp:
        found = _extract(source, Path(tmp), take, report) if source.is_file() else _walk(source, take)
        chosen: dict[str, dict[str, tuple[str, Path]]] = {}
        for student, kind, relative, path in found:
            files = chosen.setdefault(student, {})
            if kind in files:
                keep, drop = sorted([files[kind], (relative, path)], key=lambda f: f[1].stat().st_mtime, reverse=True)
                report.duplicates.append(f"{student}: kept {keep[0]}, ignored {drop[0]}")
                files[kind] = keep
            else:
                files[kind] = (relative, path)
        for student, files in sorted(chosen.items()):
            target = course_root / "submitted" / student / lesson
            target.mkdir(parents=True, exist_ok=True)
            for kind, (relative, path) in files.items():
                shutil.copy2(path, target / kind)
                if kind.endswith(".ipynb") and not _looks_like_notebook(path):
                    report.unreadable.append(f"{student}: {PurePosixPath(relative).name} is not a readable notebook "
                                             "(imported; autograde will record why)")
            report.imported[student] = sorted(files)
            if roster is not None and student not in roster:
                report.unknown_students.append(student)
    return report


def _kind(path: PurePosixPath, lesson: str, wanted_files: tuple[str, ...]) -> str | None:
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
