"""Cross-student pairs through one warm sandbox (`autograde --workers 1`, students graded in name order):
each attacker is followed by the student it tries to reach. The attacker earns what its honest work
earns; the student after it gets exactly the grade it gets alone."""
import nbformat
import pytest

from autograder.autograde import autograde
from autograder.config import load_config
from autograder.course import get_lesson
from autograder.democlass import make_course
from autograder.sandbox import bubblewrap_available
from tests.adversarial.test_hostile_sandbox import JOB_ID, MESSAGE_FD
from tests.conftest import ROOT, make_submission

pytestmark = pytest.mark.skipif(not bubblewrap_available(), reason="bubblewrap cannot run here")

ORPHAN = f"""
import json, os, threading, time
fd, job = {MESSAGE_FD}, {JOB_ID}
def feed_the_next_job():  # the old orphan: still running, it answered for the next student
    while True:
        for name in os.listdir('/submission'):
            os.write(fd, (json.dumps({{"type": "ready", "job": job, "seen": name}}) + "\\n").encode())
        time.sleep(0.05)
threading.Thread(target=feed_the_next_job, daemon=True).start()
os.write(fd, b'{{"type": "end", "seconds": "not-a-number"}}\\n')
"""

FLAGS = f"""
import fcntl, os
fd = {MESSAGE_FD}
fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) | os.O_NONBLOCK)
fcntl.fcntl(fd, 1031, 4096)  # F_SETPIPE_SZ: the smallest pipe
"""

LEAVE_IPC = """
import ctypes, os
rt = ctypes.CDLL('librt.so.1')
queue = rt.mq_open(b'/answers', os.O_CREAT | os.O_RDWR, 0o600, None)
rt.mq_send(queue, b'I_tensor = torch.eye(3)', 23, 0)
ctypes.CDLL(None).syscall(248, b'user', b'answers', b'eye', 3, -4)  # add_key to the user keyring
"""

SPY = """
import ctypes, os
rt, libc = ctypes.CDLL('librt.so.1'), ctypes.CDLL(None)
if os.listdir('/dev/mqueue') or rt.mq_open(b'/answers', os.O_RDONLY, 0, None) >= 0 \\
        or libc.syscall(250, 0, -4, 0) >= 0:  # keyctl(GET_KEYRING_ID, @u) without creating it
    I_tensor = None  # found something the previous student left: this student's grade shows it
"""


def insert_after(grade_id: str, source: str):
    def edit(nb):
        at = next(i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)
        nb.cells.insert(at + 1, nbformat.v4.new_code_cell(source))
    return edit


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = make_course(tmp_path_factory.mktemp("cross") / "course", ROOT)
    lesson = get_lesson(root, "hands_on_dl")
    submitted = root / "submitted"
    make_submission(lesson, submitted / "a1_orphan" / "hands_on_dl", edit=insert_after("identity_tensor", ORPHAN))
    (submitted / "a2_blank" / "hands_on_dl").mkdir(parents=True)
    (submitted / "a2_blank" / "hands_on_dl" / "hands_on_dl.ipynb").write_bytes(lesson.release_notebook.read_bytes())
    make_submission(lesson, submitted / "b1_flags" / "hands_on_dl", edit=insert_after("identity_tensor", FLAGS))
    make_submission(lesson, submitted / "b2_right" / "hands_on_dl")
    make_submission(lesson, submitted / "c1_ipc" / "hands_on_dl", edit=insert_after("identity_tensor", LEAVE_IPC))
    make_submission(lesson, submitted / "c2_spy" / "hands_on_dl", edit=insert_after("identity_tensor", SPY))
    (submitted / "z_blank" / "hands_on_dl").mkdir(parents=True)
    (submitted / "z_blank" / "hands_on_dl" / "hands_on_dl.ipynb").write_bytes(lesson.release_notebook.read_bytes())
    config = load_config(root)
    return {o.student: o for o in autograde(config, "hands_on_dl", workers=1, seed=11)}


def test_an_orphaned_job_cannot_answer_for_the_next_student(graded):
    assert graded["a2_blank"].result.score == graded["z_blank"].result.score
    attacker = graded["a1_orphan"].result
    assert attacker.score == attacker.max_score  # its honest work, minus nothing: the cell was not an answer
    assert any("interfered with the grader" in note for note in attacker.notes), attacker.notes


def test_pipe_flags_do_not_reach_the_next_student(graded):
    for student in ("b1_flags", "b2_right"):
        result = graded[student].result
        assert result.score == result.max_score, [(e.exercise, e.feedback) for e in result.exercises if e.score < e.max_score]


def test_ipc_objects_and_keys_do_not_reach_the_next_student(graded):
    spy = graded["c2_spy"].result
    assert spy.score == spy.max_score, [(e.exercise, e.feedback) for e in spy.exercises if e.score < e.max_score]
