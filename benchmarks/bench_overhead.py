"""Per-submission overhead over a floor, measured in one run: a light and a full hands_on_dl submission.

    .venv/bin/python benchmarks/bench_overhead.py [--repeat 5]

The floor: the submission's own code cells (those graded: not the ones tagged to skip) run with exec() in a plain interpreter that has already
imported what the notebook imports (torch, torchvision, matplotlib), one torch thread as in the
sandbox, no sandbox, no probes, no judge (a child process kept for the whole run and forked for each run, so
that every run starts right after the imports, as a sandboxed job does: first-use costs included). Ours: `grade_submission` on a warm sandbox (its start is not counted). Runs are interleaved (floor,
grade, floor, grade, ...) so both see the same machine state; medians are reported, with overhead =
grade / floor. The grade is split into: the cells as the sandbox ran them (IPython per cell), the probes,
the rest of execution (fork, job set-up, protocol, clean-up between submissions), and the judge (hidden
pytest graders, of which a bare pytest session on one trivial test is the session set-up).

The light submission is hands_on_dl cut after its last light exercise (twin_tower), as in bench_class.py;
the full one is the whole reference notebook with its weights.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from autograder.config import load_config  # noqa: E402
from autograder.course import get_lesson  # noqa: E402
from autograder.notebook import cell_index, skip_ids  # noqa: E402

FLOOR_SERVER = r"""
import contextlib, io, json, os, sys, time
os.environ.setdefault("MPLBACKEND", "Agg")
import torch, torchvision, matplotlib.pyplot  # what the notebook imports, paid before any run
import nbformat
torch.set_num_threads(1)
print("ready", flush=True)
for line in sys.stdin:
    path, skipped = json.loads(line)
    cells = [c.source for c in nbformat.read(path, as_version=4).cells
             if c.cell_type == "code" and c.get("id") not in skipped and "skip-grading" not in c.metadata.get("tags", [])]
    read_end, write_end = os.pipe()
    started = time.perf_counter()
    if os.fork() == 0:  # each run starts from the state right after the imports, as a forked sandbox job does
        os.chdir(os.path.dirname(path))
        namespace = {"__name__": "__main__"}
        torch.manual_seed(0)
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            for source in cells:  # output is kept, as the sandbox keeps it
                try:
                    exec(compile(source, "<cell>", "exec"), namespace)
                except Exception:
                    pass  # a cell that raises in the reference (a demonstrated error) costs what it cost
        os.write(write_end, b"x")
        os._exit(0)
    os.close(write_end)
    os.read(read_end, 1)
    elapsed = time.perf_counter() - started
    os.close(read_end)
    os.wait()
    print(json.dumps(elapsed), flush=True)
"""
LAST_LIGHT_CELL = "test_twin_tower"


class Floor:
    """The plain interpreter that runs a notebook's cells with exec(), kept warm for the whole run."""

    def __init__(self, data_root: Path):
        env = {**os.environ, "AUTOGRADER_DATA": str(data_root), "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        self.process = subprocess.Popen([sys.executable, "-c", FLOOR_SERVER], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, text=True, env=env)
        assert self.process.stdout.readline().strip() == "ready"

    def run(self, notebook: Path, skipped: set[str]) -> float:
        """Return the seconds the notebook's code cells take, those skipped at grading left out."""
        self.process.stdin.write(json.dumps([str(notebook), sorted(skipped)]) + "\n")
        self.process.stdin.flush()
        return float(json.loads(self.process.stdout.readline()))

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait()


def submissions(lesson, directory: Path) -> dict[str, Path]:
    """Return the light and full submissions, each in its own folder with the lesson's weights."""
    from tests.conftest import make_submission

    full = make_submission(lesson, directory / "full")
    light_dir = directory / "light"
    light = make_submission(lesson, light_dir)
    nb = nbformat.read(light, as_version=4)
    nb.cells = nb.cells[: cell_index(nb, LAST_LIGHT_CELL) + 1]
    nbformat.write(nb, light)
    return {"light": light, "full": full}


def pytest_session_floor(tmp: Path) -> float:
    """Return the wall seconds of a pytest session running one trivial test, with the judge's flags."""
    import pytest

    (tmp / "test_trivial.py").write_text("def test_nothing():\n    pass\n")
    started = time.perf_counter()
    pytest.main([str(tmp / "test_trivial.py"), "-p", "no:cacheprovider", "-p", "no:terminal",
                 "-p", "no:unraisableexception", "--rootdir", str(tmp)])
    return time.perf_counter() - started


def grade_split(notebook: Path, config) -> dict[str, float]:
    """Return one warm grade's wall seconds, split into cells, probes, the rest of execution and the judge."""
    from autograder.grade import judge_submission, probe_submission

    started = time.perf_counter()
    probed = probe_submission(notebook, config, seed=1)
    executed = time.perf_counter()
    judge_submission(probed, config, started)
    ended = time.perf_counter()
    outcomes = probed.execution.outcomes
    cells = sum(o.seconds for i, o in outcomes.items() if i.kind != "probe")
    probes = sum(o.seconds for i, o in outcomes.items() if i.kind == "probe")
    return {"grade": ended - started, "cells": cells, "probes": probes,
            "execution rest": executed - started - cells - probes, "judge": ended - executed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    config = load_config(ROOT)
    lesson = get_lesson(ROOT, "hands_on_dl")
    from autograder.grade import grade_submission

    with tempfile.TemporaryDirectory() as tmp:
        paths = submissions(lesson, Path(tmp))
        floor = Floor(config.data_root)
        grade_submission(paths["full"], config, seed=1)  # warm sandbox, judge imports, graders loaded
        pytest_session_floor(Path(tmp))
        rows: dict[str, list[dict[str, float]]] = {kind: [] for kind in paths}
        sessions = []
        for _ in range(args.repeat):
            for kind, path in paths.items():
                base = floor.run(path, skip_ids(lesson.released))
                rows[kind].append({"floor": base, **grade_split(path, config)})
            sessions.append(pytest_session_floor(Path(tmp)))
        floor.close()
    load = os.getloadavg()
    print(f"per-submission overhead over the floor, median of {args.repeat} interleaved runs "
          f"(load average {load[0]:.1f} on {os.cpu_count()} cores)")
    header = f"{'submission':<10} {'floor':>7} {'grade':>7} {'overhead':>8} | {'cells':>6} {'probes':>6} " \
             f"{'exec rest':>9} {'judge':>6}"
    print(header)
    print("-" * len(header))
    for kind, runs in rows.items():
        m = {key: statistics.median(r[key] for r in runs) for key in runs[0]}
        ratio = statistics.median(r["grade"] / r["floor"] for r in runs)
        print(f"{kind:<10} {m['floor']:6.2f}s {m['grade']:6.2f}s {ratio:7.2f}x | {m['cells']:5.2f}s "
              f"{m['probes']:5.2f}s {m['execution rest']:8.2f}s {m['judge']:5.2f}s")
    print(f"a bare pytest session on one trivial test (the judge's session set-up): "
          f"{statistics.median(sessions):.3f} s")


if __name__ == "__main__":
    main()
