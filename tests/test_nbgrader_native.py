"""nbgrader's own tools on this course run our engine: `nbgrader autograde` grades in the sandbox with the
hidden graders (the same grades as `autograder autograde`, crash and hang cases contained), formgrader shows
the grades as finished (names, timestamps, an ungradable submission with its reason), generate_feedback and
release_feedback give students nothing internal, a student fetches feedback through the course's exchange,
and `nbgrader validate` runs the public checks in the sandbox."""
from __future__ import annotations

import json
import os
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
import zipfile
from datetime import datetime
from pathlib import Path

import nbformat
import pytest

from autograder.autograde import autograde
from autograder.config import load_config
from autograder.course import get_lesson
from autograder.democlass import make_course
from autograder.feedback import write_feedback
from autograder.gradebook import open_gradebook
from tests.adversarial.cases import CASES
from tests.conftest import ROOT, make_submission

BIN = Path(sys.executable).parent
ENV = {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}"}
LESSON = "hands_on_dl"
# zip member times are the upload times an LMS recorded; the lesson is due 2026-01-15 12:00 UTC
UPLOADED = {"alice": (2026, 1, 14, 9, 30, 0), "carol": (2026, 1, 14, 10, 0, 0), "dave": (2026, 1, 14, 11, 0, 0),
            "hacker": (2026, 1, 14, 12, 0, 0), "lena": (2026, 1, 16, 8, 0, 0)}
DUE = datetime(2026, 1, 15, 12, 0, 0)
ATTACKS = ("infinite_loop_in_answer_cell", "os_exit_in_cell", "read_solutions_by_path")  # hang, crash, escape


def nbgrader(course: Path, *args: str, env: dict | None = None, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run([BIN / "nbgrader", *args], cwd=course, env=env or ENV, capture_output=True, text=True,
                          timeout=600)
    assert not check or done.returncode == 0, done.stdout + done.stderr
    return done


def attack_answers() -> dict[str, str]:
    cases = {case.name: case for case in CASES}
    return {cases[name].exercise: cases[name].answer.replace("@ROOT@", str(ROOT)) for name in ATTACKS}


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """A course graded by `nbgrader autograde`: right (alice), one wrong answer (dave), not a notebook
    (carol), a hang, a crash and an escape attempt (hacker), right but late (lena), collected from an
    LMS-style zip with a roster; and one student who fetched and submitted through the course's exchange
    (collected by nbgrader's own collect). Returns the course, nbgrader's log and that student."""
    root = make_course(tmp_path_factory.mktemp("native") / "course", ROOT)
    pyproject = root / "pyproject.toml"  # short cell budget: the hang costs seconds, not a minute
    pyproject.write_text(pyproject.read_text().replace("cell_timeout = 60", "cell_timeout = 6"))
    with open(root / "nbgrader_config.py", "a") as config:
        config.write('\nc.LateSubmissionPlugin.penalty_method = "zero"\n')
    lesson = get_lesson(root, LESSON)
    staging = tmp_path_factory.mktemp("lms")
    make_submission(lesson, staging / "alice")
    make_submission(lesson, staging / "dave", {"sqrt_b_cubed": "B_sqrt_cubed = B_tensor ** 3"})
    (staging / "carol").mkdir()
    (staging / "carol" / f"{LESSON}.ipynb").write_bytes(b"\x89PNG\r\n\x1a\n not a notebook at all")
    make_submission(lesson, staging / "hacker", attack_answers())
    make_submission(lesson, staging / "lena")
    archive = staging / "lms.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for path in sorted(staging.glob("*/*")):
            zipped.writestr(zipfile.ZipInfo(f"{path.parent.name}_{path.name}", UPLOADED[path.parent.name]),
                            path.read_bytes())
    roster = staging / "roster.csv"
    roster.write_text("id,first_name,last_name,email\nalice,Alice,Ahmed,alice@example.org\n"
                      "carol,Carol,Chen,carol@example.org\ndave,Dave,Diaz,dave@example.org\n"
                      "hacker,Hal,Hacker,hal@example.org\nlena,Lena,Lind,lena@example.org\n")
    done = subprocess.run([BIN / "autograder", "collect", LESSON, str(archive), "--roster", str(roster)], cwd=root,
                          env=ENV, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    with open_gradebook(root) as gradebook:
        gradebook.update_or_create_assignment(LESSON, duedate=DUE)
    home = tmp_path_factory.mktemp("student")  # the exchange: release, a student fetches and submits, collect
    nbgrader(root, "release_assignment", LESSON)
    nbgrader(home, "fetch_assignment", LESSON, *EXCHANGE(root), env=student_env(home))
    nbgrader(home, "submit", LESSON, *EXCHANGE(root), env=student_env(home))
    nbgrader(root, "collect", LESSON)
    exchanged = next(p.parent.parent.name for p in root.glob(f"submitted/*/{LESSON}/submission_secret.txt")
                     if p.parent.parent.name not in UPLOADED)
    started = time.monotonic()
    graded = nbgrader(root, "autograde", LESSON)
    print(f"nbgrader autograde of {len(UPLOADED) + 1} students: {time.monotonic() - started:.1f} s")
    return root, graded.stdout + graded.stderr, (exchanged, home)


def EXCHANGE(root: Path) -> list[str]:  # noqa: N802 (a student's view of the course's exchange)
    return ["--Exchange.root", str(root / "exchange"), "--course", "pytorch-course"]


def student_env(home: Path) -> dict:
    return {**ENV, "JUPYTER_DATA_DIR": str(home / ".jupyter-data"), "HOME": str(home)}


def stored(root: Path, student: str) -> dict:
    return json.loads((root / "autograded" / student / LESSON / "result.json").read_text())


def statuses(root: Path, student: str) -> dict[str, tuple[str, float]]:
    result = stored(root, student)["result"]
    return {e["id"]: (e["status"], e["score"]) for e in result["exercises"]} if result else {}


def test_nbgrader_autograde_runs_the_sandboxed_engine(course):
    root, log, _ = course
    assert "in the autograder sandbox" in log and "Execute" not in log
    assert sum(s for _, s in statuses(root, "alice").values()) == 24
    assert statuses(root, "dave")["sqrt_b_cubed"] == ("failed", 0.0)
    assert sum(s for _, s in statuses(root, "dave").values()) == 23
    assert stored(root, "carol")["result"] is None and "not a notebook" in stored(root, "carol")["error"]
    assert "not a notebook" in log  # nbgrader's log says why carol was not graded


def test_crash_hang_and_escape_are_contained_through_nbgrader(course):
    root, _, _ = course
    verdicts = statuses(root, "hacker")
    for name in ATTACKS:
        case = next(c for c in CASES if c.name == name)
        assert verdicts[case.exercise][0] == case.status, (name, verdicts[case.exercise])
    untouched = {e for e in verdicts} - {c.exercise for c in CASES if c.name in ATTACKS}
    assert all(verdicts[e][0] == "passed" for e in untouched), verdicts


def test_the_same_grades_as_autograder_autograde(course):
    root, _, _ = course
    before = {s: statuses(root, s) for s in ("alice", "carol", "dave")}
    outcomes = autograde(load_config(root), LESSON, ["alice", "carol", "dave"], workers=1, force=True)
    assert [o.action for o in outcomes] == ["graded"] * 3
    assert {s: statuses(root, s) for s in before} == before


def test_formgrader_data_is_finished_named_and_timed(course):
    root, _, _ = course
    db = sqlite3.connect(root / "gradebook.db")
    assert db.execute("select count(*) from grade where needs_manual_grade").fetchone()[0] == 0
    names = dict(((i, (f, l, e)) for i, f, l, e in db.execute("select id, first_name, last_name, email from student")))
    assert names["dave"] == ("Dave", "Diaz", "dave@example.org")
    with open_gradebook(root) as gradebook:
        for student, uploaded in UPLOADED.items():
            submission = gradebook.find_submission(LESSON, student)
            assert submission.timestamp == datetime.utcfromtimestamp(time.mktime((*uploaded, 0, 0, -1))), student
        lena = gradebook.find_submission(LESSON, "lena")
        assert lena.total_seconds_late > 0 and lena.notebooks[0].late_submission_penalty == 24  # "zero" policy
        assert gradebook.find_submission(LESSON, "alice").notebooks[0].late_submission_penalty is None
    ungradable = nbformat.read(root / "autograded" / "carol" / LESSON / f"{LESSON}.ipynb", as_version=4)
    assert "could not be graded" in ungradable.cells[0].source and "not a notebook" in ungradable.cells[0].source


# A grader's traceback is Python's ("Traceback ...:" and 'File "/...' frames); a student's own cell errors
# keep IPython's short form ("Cell In[1], line 6"), with host paths taken out.
LEAK_PATTERNS = ("Traceback (most recent call last):", 'File "/', "site-packages", ".pyenv", "result.json",
                 "fingerprint", "hidden_seed", "course_secret", "lessons/", "_pytest")


def leaks(root: Path, files: list[Path]) -> list[str]:
    """Return every place a file students may get holds something internal."""
    secrets = set()
    for record in root.glob(f"autograded/*/{LESSON}/result.json"):
        state = json.loads(record.read_text())
        secrets |= {state["fingerprint"], state["graders"]}
        if state["result"]:
            secrets |= {str(state["result"]["seed"]), *state["result"].get("details", {}).values()} - {""}
    hidden = set(re.findall(r"def (test_\w+)", "".join(p.read_text() for p in get_lesson(ROOT, LESSON).grader_files)))
    assert hidden, "no hidden test names found: the leak scan would not look for them"
    host = {str(ROOT), str(root), str(Path(sys.prefix)), str(Path.home())}
    typed = "".join(p.read_text(errors="replace") for p in root.glob(f"submitted/*/{LESSON}/*.ipynb"))
    found = []
    for path in files:
        text = path.read_text(errors="replace")
        found += [f"{path.name}: {needle[:40]!r}" for needle in (*LEAK_PATTERNS, *secrets, *hidden, *host)
                  if needle and needle in text and needle not in typed]  # what a student typed is theirs
    return found


def test_feedback_through_nbgrader_leaks_nothing_and_reaches_the_exchange(course):
    root, _, _ = course
    nbgrader(root, "generate_feedback", LESSON)
    ours = write_feedback(load_config(root), LESSON, ["carol"])  # `autograder feedback`'s page replaces nbgrader's
    assert (ours[0].parent / "timestamp.txt").is_file()  # so release_feedback delivers it too
    nbgrader(root, "release_feedback", LESSON)
    written = sorted(p for p in [*root.glob("feedback/**/*"), *root.glob("exchange/**/*")] if p.is_file())
    assert {p.parent.parent.name for p in written if p.suffix == ".html" and "feedback" == p.parts[-4]} >= set(UPLOADED)
    assert len(list(root.glob("exchange/pytorch-course/feedback/*.html"))) == len(UPLOADED) + 1
    assert not [p for p in written if p.name in ("result.json", "fashion_model.pth", "mnist_model.pth")]
    assert leaks(root, written) == []
    carol = (root / "feedback" / "carol" / LESSON / f"{LESSON}.html").read_text()
    assert "could not be graded" in carol and "not a notebook" in carol
    dave = (root / "feedback" / "dave" / LESSON / f"{LESSON}.html").read_text()  # nbgrader's own page
    assert dave.count('class="verdict verdict-') == 11 and "sqrt_b_cubed: 0 / 1 points, not yet right" in dave


def test_a_student_fetches_feedback_through_the_course_exchange(course):
    """The exchange end to end: the student released to, fetched, submitted and collected in the fixture
    was graded by our engine with the others; feedback generated and released above reaches them."""
    root, _, (student, home) = course
    assert stored(root, student)["result"]["score"] < 24  # the released notebook, unanswered
    assert (root / "feedback" / student / LESSON / f"{LESSON}.html").is_file()
    nbgrader(home, "fetch_feedback", LESSON, *EXCHANGE(root), env=student_env(home))
    fetched = list(home.glob(f"{LESSON}/feedback/*/{LESSON}.html"))
    assert len(fetched) == 1 and leaks(root, fetched) == []


def test_nbgrader_validate_runs_the_public_checks_in_the_sandbox(course, tmp_path):
    root, _, _ = course
    notebook = tmp_path / f"{LESSON}.ipynb"
    shutil.copyfile(root / "release" / LESSON / f"{LESSON}.ipynb", notebook)
    done = nbgrader(root, "validate", str(notebook), check=False)
    assert "runs `autograder check`" in done.stderr and "hidden graders decide the grade" in done.stderr
    assert "VALIDATION FAILED" in done.stdout and "not answered yet" in done.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == [notebook.name]  # nothing written beside it


def test_nbgrader_never_executes_student_code_itself(course):
    """A course config that let nbgrader's Execute run would run student code unsandboxed: its kernel does
    not exist here, so any such step fails instead."""
    from jupyter_client.kernelspec import NoSuchKernel
    from nbgrader.preprocessors import Execute

    from autograder.gradebook import nbgrader_config

    root, _, _ = course
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("open('/tmp/escaped', 'w')")])
    with pytest.raises(NoSuchKernel):
        Execute(config=nbgrader_config(root)).preprocess(nb, {})


# ------------------------------------------------------------------------------------------- browser

def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def formgrader(course, tmp_path_factory):
    """formgrader on loopback (a token; only nbgrader's extension), with a browser profile logged in."""
    root, _, _ = course
    port, token = free_port(), "formgrader-test-token"
    command = [BIN / "jupyter", "server", "--no-browser", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
               "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
               "--ServerApp.jpserver_extensions={'jupyterlab': False, 'notebook': False, 'jupyter_lsp': False, "
               "'jupyter_server_terminals': False}"]
    if os.geteuid() == 0:
        command.append("--allow-root")
    log = tmp_path_factory.mktemp("server") / "server.log"
    server = subprocess.Popen(command, cwd=root, env=ENV, stdout=open(log, "w"), stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    profile = tmp_path_factory.mktemp("chromium")
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert server.poll() is None, log.read_text()
                time.sleep(0.3)
        page(profile, f"{base}/formgrader?token={token}")  # the login cookie (path /) for the pages below
        yield base, profile
    finally:
        server.terminate()
        server.wait(timeout=30)


def page(profile: Path, url: str) -> str:
    """Return the DOM of `url` after its scripts ran, in headless Chromium."""
    return subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                           "--disable-background-networking", "--disable-component-update", "--disable-sync",
                           f"--user-data-dir={profile}", "--virtual-time-budget=10000", "--dump-dom", url],
                          capture_output=True, text=True, timeout=120).stdout


def rows(dom: str) -> list[list[str]]:
    """Return the text of each cell of each row of the page's main table."""
    body = dom.split('id="main-table"', 1)[1].split("</tbody>", 1)[0]
    return [[re.sub(r"<[^>]+>|\s+", " ", cell).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
            for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)]


@pytest.mark.skipif(not shutil.which("chromium"), reason="chromium is not installed")
def test_formgrader_shows_finished_grades_comments_and_the_ungradable_reason(course, formgrader):
    root, _, _ = course
    base, profile = formgrader
    submissions = {row[1]: row for row in rows(page(profile, f"{base}/formgrader/manage_submissions/{LESSON}"))}
    assert submissions["alice"][0] == "Ahmed, Alice" and submissions["alice"][3:5] == ["graded", "24 / 24"]
    assert submissions["dave"][3:5] == ["graded", "23 / 24"] and submissions["carol"][3:5] == ["graded", "0 / 24"]
    assert "2026-01-14" in submissions["dave"][2]
    notebooks = rows(page(profile, f"{base}/formgrader/gradebook/{LESSON}/{LESSON}"))
    assert len(notebooks) >= len(UPLOADED)  # every submission is listed, the ungradable one too
    assert all(row[6] == "" for row in notebooks)  # "Needs Manual Grade?" is blank for every one
    with open_gradebook(root) as gradebook:
        ids = {s: gradebook.find_submission_notebook(LESSON, LESSON, s).id for s in ("carol", "dave")}
    dave = page(profile, f"{base}/formgrader/submissions/{ids['dave']}/")
    assert 'placeholder="failed: ' in dave  # our comment on the wrong answer
    assert 'placeholder="passed: All checks passed."' in dave
    carol = page(profile, f"{base}/formgrader/submissions/{ids['carol']}/")
    assert "This submission could not be graded:" in carol and "not a notebook" in carol
    assert 'placeholder="not graded: ' in carol


# ------------------------------------------------------------------------------ collect (no grading)

def test_a_roster_is_read_with_or_without_a_header(tmp_path):
    from autograder.collect import read_roster

    cases = {"with header": "Student ID,Last Name,First Name,Email\nada,Lovelace,Ada,ada@example.org\n",
             "positional": "ada,Ada,Lovelace,ada@example.org\n",
             "semicolons": "id;first_name;last_name;email\nada;Ada;Lovelace;ada@example.org\n"}
    for name, text in cases.items():
        (tmp_path / "roster.csv").write_text(text)
        assert read_roster(tmp_path / "roster.csv") == {
            "ada": {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.org"}}, name
    (tmp_path / "ids.txt").write_text("ada\nbob\n")
    assert sorted(read_roster(tmp_path / "ids.txt")) == ["ada", "bob"]


def test_collect_writes_what_nbgraders_collect_writes(tmp_path):
    from autograder.collect import collect
    from nbgrader.utils import parse_utc

    root = make_course(tmp_path / "course", ROOT)
    lesson = get_lesson(root, LESSON)
    archive = tmp_path / "lms.zip"
    with zipfile.ZipFile(archive, "w") as zipped:  # one member with its upload time, one without any
        zipped.writestr(zipfile.ZipInfo(f"ada_{LESSON}.ipynb", (2026, 3, 1, 8, 0, 0)), "{}")
        zipped.writestr(zipfile.ZipInfo(f"bob_{LESSON}.ipynb", (1980, 1, 1, 0, 0, 0)), "{}")
    downloaded = datetime(2026, 3, 2, 9, 30).timestamp()
    os.utime(archive, (downloaded, downloaded))
    collect(LESSON, archive, root, lesson.spec.submitted_files)
    stamp = lambda s: parse_utc((root / "submitted" / s / LESSON / "timestamp.txt").read_text())  # noqa: E731
    assert stamp("ada") == datetime.utcfromtimestamp(time.mktime((2026, 3, 1, 8, 0, 0, 0, 0, -1)))
    assert stamp("bob") == datetime.utcfromtimestamp(downloaded)  # the archive's (download) time
    secret = (root / "submitted" / "ada" / LESSON / "submission_secret.txt").read_text()
    assert re.fullmatch(r"[0-9a-f]{128}", secret)  # as nbgrader's submit makes it
    collect(LESSON, archive, root, lesson.spec.submitted_files)  # collected again: the same secret
    assert (root / "submitted" / "ada" / LESSON / "submission_secret.txt").read_text() == secret
