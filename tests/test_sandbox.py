"""The sandbox contract: what untrusted code can and cannot do, and how its run is recorded."""
import sys
import time
from pathlib import Path

import pytest

from autograder.config import Limits
from autograder.sandbox import Mount, Sandbox, bubblewrap_available

pytestmark = pytest.mark.skipif(not bubblewrap_available(), reason="bubblewrap cannot run here")
ROOT = Path(__file__).resolve().parents[1]
PYTHON_MOUNTS = [Mount(Path(p), p) for p in sorted({sys.base_prefix, sys.prefix})]


def run(code: str, limits: Limits = Limits(), wait: float = 30.0, mounts=()):
    """Run `code` in a sandboxed python; return (run record, messages it sent)."""
    program = ("import json, os\nchannel = os.fdopen(int(os.environ['AUTOGRADER_MESSAGE_FD']), 'w', buffering=1)\n"
               "def send(**m): channel.write(json.dumps(m) + '\\n')\n" + code)
    box = Sandbox([sys.executable, "-c", program], [*PYTHON_MOUNTS, *mounts], limits, {"HOME": "/home/student"}, b"")
    messages = []
    try:
        while (message := box.read_message(wait)) is not None:
            messages.append(message)
    except TimeoutError:
        box.kill()
    return box.finish(), messages


def test_network_is_unreachable():
    record, messages = run("import socket\ntry:\n socket.create_connection(('1.1.1.1', 80), timeout=3)\n"
                           " send(net='open')\nexcept OSError as e:\n send(net=type(e).__name__)")
    assert len(messages) == 1 and messages[0]["net"] != "open"


def test_course_files_and_home_are_invisible():
    record, messages = run(f"send(seen=[os.path.exists(p) for p in {[str(ROOT / 'solutions'), str(ROOT / 'lessons'), '/root/.bashrc', str(ROOT / 'data')]!r}])")
    assert messages == [{"seen": [False, False, False, False]}]


def test_a_lessons_sandbox_sees_its_probe_module_and_nothing_else_of_its_folder(tmp_path):
    """Mounted as a lesson's warm sandbox mounts it: can the code import the probes, but not read the
    spec, the graders, the mutants or the calibration beside them?"""
    from autograder.config import load_config
    from autograder.course import get_lesson
    from autograder.warm import SANDBOX_PYTHONPATH, sandbox_mounts

    lesson = get_lesson(ROOT, "hands_on_dl")
    mounts = sandbox_mounts(load_config(ROOT), (), tmp_path, lesson.probes_file)
    record, messages = run(
        f"import sys, importlib\nsys.path.insert(0, {SANDBOX_PYTHONPATH!r})\n"
        "probes = importlib.import_module('lessons.hands_on_dl.probes')\n"
        "def can_import(name):\n try:\n  importlib.import_module(name)\n  return True\n except ImportError:\n  return False\n"
        f"send(probes=hasattr(probes, 'probe_tensor_shape'), files=sorted(os.listdir({SANDBOX_PYTHONPATH!r} + '/lessons/hands_on_dl')),"
        " spec=can_import('lessons.hands_on_dl.spec'), graders=can_import('lessons.hands_on_dl.test_hands_on_dl'),"
        " package=os.path.exists('/opt/autograder/lessons/hands_on_dl/__init__.py'))", mounts=mounts)
    assert messages == [{"probes": True, "files": ["probes.py"], "spec": False, "graders": False, "package": False}]


def test_system_is_read_only_and_work_dir_is_writable():
    record, messages = run("open('mine.txt', 'w').write('ok')\ntry:\n open('/usr/evil', 'w')\n send(usr='written')\n"
                           "except OSError as e:\n send(usr=e.errno, cwd=os.getcwd(), uid=os.getuid())")
    assert messages[0]["usr"] == 30 and messages[0]["cwd"] == "/home/student/work"  # EROFS
    assert messages[0]["uid"] != 0


def test_mounted_files_are_read_only(tmp_path):
    (tmp_path / "weights.pth").write_bytes(b"w")
    record, messages = run("try:\n open('/submission/weights.pth', 'ab')\n send(ok=False)\nexcept OSError:\n send(ok=True)",
                           mounts=[Mount(tmp_path / "weights.pth", "/submission/weights.pth")])
    assert messages == [{"ok": True}] and (tmp_path / "weights.pth").read_bytes() == b"w"


def test_work_dir_size_is_capped():
    record, messages = run("try:\n open('big', 'wb').write(b'x' * (40 << 20))\n send(full=False)\n"
                           "except OSError as e:\n send(full=True)", Limits(workdir_mb=16))
    assert messages == [{"full": True}]


def test_memory_bomb_fails_inside_the_sandbox():
    record, messages = run("try:\n x = bytearray(3 << 30)\n send(got=True)\nexcept MemoryError:\n send(got=False)",
                           Limits(memory_mb=1024))
    assert messages == [{"got": False}]


def test_fork_bomb_is_contained_and_killed_with_the_sandbox():
    started = time.monotonic()
    record, messages = run("import time\nsend(go=1)\nwhile True:\n try:\n  os.fork()\n except OSError:\n  time.sleep(0.01)",
                           Limits(processes=64), wait=3)
    assert messages == [{"go": 1}]
    assert record.status == "timeout" and time.monotonic() - started < 20


def test_background_processes_die_with_the_sandbox(tmp_path):
    record, messages = run("import subprocess\np = subprocess.Popen(['sleep', '1000'], start_new_session=True)\n"
                           "send(pid=p.pid)")
    assert record.status == "ok"
    # the sleeper lived in the sandbox's pid namespace, which ended with it
    import subprocess
    assert subprocess.run(["pgrep", "-f", "sleep 1000"], capture_output=True).stdout.strip() == b""


def test_huge_output_is_capped_and_counted():
    record, messages = run("import sys\nfor _ in range(100):\n sys.stdout.write('x' * (1 << 20))\nsend(done=True)",
                           Limits(output_kb=16))
    assert messages == [{"done": True}]
    assert len(record.stdout) < 17_000 and "more bytes of output dropped" in record.stdout


def test_silence_past_the_deadline_is_a_timeout():
    record, _ = run("import time\ntime.sleep(60)", wait=1)
    assert record.status == "timeout"


def test_dataloader_workers_share_tensors_through_dev_shm():
    record, messages = run("import torch\nfrom torch.utils.data import DataLoader, TensorDataset\n"
                           "data = TensorDataset(torch.arange(64.).reshape(32, 2))\n"
                           "total = sum(float(b[0].sum()) for b in DataLoader(data, batch_size=8, num_workers=2))\n"
                           "send(total=total)", wait=120)
    assert messages == [{"total": float(sum(range(64)))}], record.stderr[-500:]


def test_dev_shm_size_is_capped():
    record, messages = run("try:\n open('/dev/shm/big', 'wb').write(b'x' * (200 << 20))\n send(full=False)\n"
                           "except OSError as e:\n send(full=True)")
    assert messages == [{"full": True}]
