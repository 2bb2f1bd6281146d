"""Import submissions (a folder or an LMS zip) into nbgrader's layout submitted/<student>/<lesson>/.

A zip is hostile input: only members whose name collect takes are unpacked, each within a size and a
compression-ratio limit and all within a total, counted on the bytes written (a member's header may lie)."""
from __future__ import annotations

import csv
import os
import re
import secrets
import shutil
import tempfile
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
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


ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)  # a member stored without a time: the archive's own time stands in
TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S.%f %Z"  # nbgrader's exchange writes timestamp.txt in this format


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
    stamp = time.mktime(member.date_time + (0, 0, -1))  # "newest wins" and timestamp.txt use the upload time
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
    archive_time = archive.stat().st_mtime
    with zipped:
        for number, member in enumerate(sorted(zipped.infolist(), key=lambda m: m.filename)):
            taken = None if member.is_dir() else take(member.filename)
            if taken is None:
                continue
            target = into / str(number)  # never a path from the archive
            try:
                left -= _unpack(zipped, member, target, left)
                if member.date_time == ZIP_EPOCH:  # stored without a time: the archive's (its download) stands in
                    os.utime(target, (archive_time, archive_time))
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
    several notebooks, the newest wins and the others are listed as duplicates. Like nbgrader's own
    collect, each submission gets a timestamp.txt (when the notebook was submitted: its time in the
    archive, else the file's time) and a submission_secret.txt (nbgrader's exchange names released
    feedback by it; kept when the folder has one)."""
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
                (target / kind).unlink(missing_ok=True)
                shutil.copy2(path, target / kind)
                if kind.endswith(".ipynb") and not _looks_like_notebook(path):
                    report.unreadable.append(f"{student}: {PurePosixPath(relative).name} is not a readable notebook "
                                             "(imported; autograde will record why)")
            submitted_at = files.get(f"{lesson}.ipynb", max(files.values(), key=lambda f: f[1].stat().st_mtime))[1]
            write_submission_files(target, submitted_at.stat().st_mtime)
            report.imported[student] = sorted(files)
            if roster is not None and student not in roster:
                report.unknown_students.append(student)
    return report


def write_submission_files(target: Path, submitted_at: float) -> None:
    """Write what nbgrader's own collect leaves in a submission folder: timestamp.txt (UTC, nbgrader's
    format) and, unless there is one, submission_secret.txt (as nbgrader's submit makes it)."""
    stamp = datetime.fromtimestamp(submitted_at, timezone.utc).strftime(TIMESTAMP_FORMAT)
    (target / "timestamp.txt").write_text(stamp)
    secret = target / "submission_secret.txt"
    if not secret.is_file():
        secret.write_text(secrets.token_hex(64))


ROSTER_FIELDS = ("first_name", "last_name", "email")


def read_roster(path: Path) -> dict[str, dict[str, str]]:
    """Return the students of a roster: id -> first_name, last_name, email. A roster is a CSV file with
    the columns id, first name, last name, email (in that order, or named in a header row, as nbgrader's
    `db student import` takes them), or a plain list of ids."""
    text = Path(path).read_text(encoding="utf-8-sig")
    if "," not in text and ";" not in text:
        return {student: dict.fromkeys(ROSTER_FIELDS, "") for student in text.split()}
    try:
        dialect = csv.Sniffer().sniff(text[:4096], ",;")
    except csv.Error:
        dialect = csv.excel
    rows = [[cell.strip() for cell in row] for row in csv.reader(text.splitlines(), dialect)
            if any(cell.strip() for cell in row)]
    header = [re.sub(r"[^a-z]", "", cell.lower()) for cell in rows[0]] if rows else []
    names = {"id": "id", "studentid": "id", "student": "id", "username": "id", "firstname": "first_name",
             "first": "first_name", "givenname": "first_name", "lastname": "last_name", "last": "last_name",
             "surname": "last_name", "familyname": "last_name", "email": "email", "emailaddress": "email", "mail": "email"}
    if header and header[0] in names and names[header[0]] == "id":
        columns, rows = [names.get(cell, "") for cell in header], rows[1:]
    else:
        columns = ["id", *ROSTER_FIELDS]
    roster = {}
    for row in rows:
        record = dict(zip(columns, row))
        if record.get("id"):
            roster[record["id"]] = {name: record.get(name, "") for name in ROSTER_FIELDS}
    return roster


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
