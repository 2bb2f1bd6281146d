"""`collect` against hostile LMS archives: only members it takes are unpacked, each within a size and a
compression-ratio limit and all within a total, counted on the bytes written; every refusal is a line in the
report (and in the CLI's output), a whole archive that cannot be read one line and exit 2."""
import io
import os
import struct
import subprocess
import sys
import zipfile

import pytest

from autograder import collect as collect_module
from autograder.collect import collect
from autograder.course import get_lesson
from autograder.democlass import make_course
from tests.conftest import ROOT

HOSTILE_NAME = "eve_[/]\x1b[2J.txt"  # not collected, but printed


def write_zeros(zipped: zipfile.ZipFile, name: str, megabytes: int) -> None:
    with zipped.open(name, "w", force_zip64=True) as sink:
        for _ in range(megabytes):
            sink.write(bytes(1 << 20))


def lie_about_size(archive, name: str, size: int) -> None:
    """Rewrite the unpacked size of member `name` in its local and central headers."""
    data = bytearray(archive.read_bytes())
    with zipfile.ZipFile(archive) as zipped:
        struct.pack_into("<I", data, zipped.getinfo(name).header_offset + 22, size)
    central = data.index(b"PK\x01\x02")
    while data[central + 46:central + 46 + len(name)] != name.encode():
        central = data.index(b"PK\x01\x02", central + 1)
    struct.pack_into("<I", data, central + 24, size)
    archive.write_bytes(data)


@pytest.fixture
def course(tmp_path):
    return make_course(tmp_path / "course", ROOT)


@pytest.fixture
def unpacked(monkeypatch) -> dict[str, int]:
    """Bytes each unpacked member had on disk when its unpacking ended (refused or not), by member name."""
    seen = {}
    real = collect_module._unpack

    def spy(zipped, member, target, left):
        try:
            return real(zipped, member, target, left)
        finally:
            seen[member.filename] = target.stat().st_size if target.exists() else 0

    monkeypatch.setattr(collect_module, "_unpack", spy)
    return seen


@pytest.fixture(scope="module")
def bomb(tmp_path_factory):
    """An LMS zip of about 1 MB: two notebooks, 300 MB of unmatched zeros, a 100 MB weight file of zeros."""
    lesson = get_lesson(ROOT, "hands_on_dl")
    archive = tmp_path_factory.mktemp("bomb") / "lms.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
        zipped.write(lesson.release_notebook, "alice_hands_on_dl.ipynb")
        for n in range(3):
            write_zeros(zipped, f"alice_lecture_{n}.mp4", 100)
        write_zeros(zipped, "bob_fashion_model.pth", 100)
        zipped.write(lesson.release_notebook, "bob_hands_on_dl.ipynb")
        zipped.writestr(HOSTILE_NAME, "hello")
    assert archive.stat().st_size < 2 << 20
    return archive


def test_unmatched_members_are_never_unpacked_and_a_matched_bomb_is_refused(bomb, course, unpacked):
    lesson = get_lesson(course, "hands_on_dl")
    report = collect("hands_on_dl", bomb, course, lesson.spec.submitted_files)
    size = lesson.release_notebook.stat().st_size
    assert unpacked == {"alice_hands_on_dl.ipynb": size, "bob_fashion_model.pth": 0, "bob_hands_on_dl.ipynb": size}
    assert report.unmatched == [f"alice_lecture_{n}.mp4" for n in range(3)] + [HOSTILE_NAME]
    assert report.imported == {"alice": ["hands_on_dl.ipynb"], "bob": ["hands_on_dl.ipynb"]}
    assert report.refused == ["bob_fashion_model.pth: compressed more than 200:1 (a zip bomb?)"]
    assert sorted(p.name for p in (course / "submitted").rglob("*") if p.is_file()) == sorted(
        ["hands_on_dl.ipynb", "submission_secret.txt", "timestamp.txt"] * 2)  # what nbgrader's collect writes too


def test_the_cli_prints_every_refusal(bomb, course):
    done = subprocess.run([sys.executable, "-m", "autograder.cli", "collect", "hands_on_dl", str(bomb)], cwd=course,
                          capture_output=True, text=True, timeout=120, env={**os.environ, "COLUMNS": "200"})
    assert done.returncode == 0, done.stderr[-2000:]
    assert "refused (not imported): bob_fashion_model.pth: compressed more than 200:1" in done.stdout
    assert "files not matched (ignored): alice_lecture_0.mp4" in done.stdout
    assert "files not matched (ignored): eve_[/]\\x1b[2J.txt" in done.stdout


def test_a_lying_header_a_total_and_a_student_id_outside_submitted(course, tmp_path, unpacked, monkeypatch):
    monkeypatch.setattr(collect_module, "MAX_ARCHIVE_TOTAL_MB", 1)
    source = ROOT / "source" / "hands_on_dl"
    archive = tmp_path / "lms.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
        zipped.write(source / "fashion_model.pth", "alice_fashion_model.pth")  # 817 kB
        zipped.write(source / "hands_on_dl.ipynb", "alice_hands_on_dl.ipynb")  # 78 kB: 895 kB so far
        zipped.write(source / "mnist_model.pth", "alice_mnist_model.pth")  # past the 1 MB total
        zipped.writestr("carol_mnist_model.pth", bytes(20 << 20))
        zipped.writestr("../../.._hands_on_dl.ipynb", "{}")
    lie_about_size(archive, "carol_mnist_model.pth", 1000)
    before = {p.name for p in course.iterdir()}
    report = collect("hands_on_dl", archive, course, ("fashion_model.pth", "mnist_model.pth"))
    assert report.imported == {"alice": ["fashion_model.pth", "hands_on_dl.ipynb"]}
    refused = dict(line.split(": ", 1) for line in report.refused)
    assert refused["alice_mnist_model.pth"] == "past the 1 MB one archive may unpack to"
    assert refused["carol_mnist_model.pth"].startswith("cannot be unpacked (BadZipFile")  # its CRC, after 1000 bytes
    assert unpacked["carol_mnist_model.pth"] <= 1000
    assert refused["../../.._hands_on_dl.ipynb"] == "'..' cannot be a student id"
    assert {p.name for p in course.iterdir()} - before == {"submitted"}
    assert [p.name for p in (course / "submitted").iterdir()] == ["alice"]


def test_the_limits_count_bytes_written_not_the_header(tmp_path):
    """A zip reader that believed the data rather than the header would still be stopped at the limit."""
    class Liar:
        def open(self, member):
            return io.BytesIO(bytes(3 << 20))

    member = zipfile.ZipInfo("dave_hands_on_dl.ipynb")
    member.file_size = member.compress_size = 1000
    with pytest.raises(collect_module._Refused, match="200:1"):
        collect_module._unpack(Liar(), member, tmp_path / "unpacked", 1 << 30)
    assert (tmp_path / "unpacked").stat().st_size <= collect_module.RATIO_FREE_MB << 20


def test_an_archive_that_is_not_a_zip_is_one_line(course, tmp_path):
    fake = tmp_path / "lms.zip"
    fake.write_bytes(b"PK\x03\x04 not really")
    done = subprocess.run([sys.executable, "-m", "autograder.cli", "collect", "hands_on_dl", str(fake)], cwd=course,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert "lms.zip: not a readable zip archive" in done.stderr
