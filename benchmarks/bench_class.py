"""Class grading throughput, measured in one run on the same generated class of light submissions:
nbgrader 0.9.6's own `nbgrader autograde` against our sandboxed engine with 1 and 2 workers.

    .venv/bin/python benchmarks/bench_class.py [--students 10]

The light class: the hands_on_dl source notebook cut after its last light exercise (twin_tower), so
nothing trains; every student hands in that reference solution. nbgrader grades by running the notebook
with its public test cells in a kernel (no sandbox, no hidden graders); we grade the same notebooks in
bubblewrap with probes and hidden pytest graders (the exercises that were cut count as missing).
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from autograder.batch import BatchItem, grade_many  # noqa: E402
from autograder.notebook import cell_index  # noqa: E402

LAST_LIGHT_CELL = "test_twin_tower"


def light_notebook() -> nbformat.NotebookNode:
    nb = nbformat.read(ROOT / "source" / "hands_on_dl" / "hands_on_dl.ipynb", as_version=4)
    nb.cells = nb.cells[: cell_index(nb, LAST_LIGHT_CELL) + 1]
    return nb


def time_nbgrader(course: Path, students: int) -> float:
    """Return the wall time of `nbgrader autograde light` over the class in an nbgrader course dir."""
    (course / "source" / "light").mkdir(parents=True)
    nbformat.write(light_notebook(), course / "source" / "light" / "light.ipynb")
    (course / "nbgrader_config.py").write_text("c = get_config()\nc.CourseDirectory.course_id = 'bench'\n")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    nbgrader = [str(Path(sys.executable).parent / "nbgrader")]
    subprocess.run(nbgrader + ["generate_assignment", "light", "--force"], cwd=course, env=env, check=True,
                   capture_output=True)
    for k in range(students):
        folder = course / "submitted" / f"s{k:03d}" / "light"
        folder.mkdir(parents=True)
        nbformat.write(light_notebook(), folder / "light.ipynb")
    started = time.perf_counter()
    done = subprocess.run(nbgrader + ["autograde", "light", "--force"], cwd=course, env=env, capture_output=True,
                          text=True)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"nbgrader autograde failed:\n{done.stderr[-2000:]}")
    return elapsed


def time_ours(folder: Path, students: int, workers: int) -> tuple[float, list[float]]:
    """Return our wall time for the class with `workers` parallel sandboxes, and the per-submission totals."""
    items = []
    for k in range(students):
        (folder / f"s{k:03d}").mkdir(parents=True)
        path = folder / f"s{k:03d}" / "hands_on_dl.ipynb"
        nbformat.write(light_notebook(), path)
        items.append(BatchItem(f"s{k:03d}", path, "hands_on_dl", seed=k))
    started = time.perf_counter()
    outcomes = grade_many(items, ROOT, workers)
    elapsed = time.perf_counter() - started
    bad = [o.key for o in outcomes.values() if o.result is None]
    assert not bad, f"not graded: {bad}"
    light = ("identity_tensor", "tensor_shape", "sqrt_b_cubed", "gradients_for_p", "gradient_loop",
             "deep_forward", "twin_tower")
    for outcome in outcomes.values():
        assert all(e.outcome == "passed" for e in outcome.result.exercises if e.exercise in light), outcome.result
    return elapsed, sorted(o.result.timings["total"] for o in outcomes.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=10)
    args = parser.parse_args()
    n = args.students
    with tempfile.TemporaryDirectory(prefix="bench-class-") as tmp:
        nbgrader_s = time_nbgrader(Path(tmp) / "nbgrader", n)
        one, latencies = time_ours(Path(tmp) / "ours1", n, 1)
        two, _ = time_ours(Path(tmp) / "ours2", n, 2)
    print(f"{n} light submissions of hands_on_dl, same notebooks, one run:")
    print(f"  nbgrader autograde (no sandbox, public tests): {nbgrader_s:7.1f} s  {n / nbgrader_s:5.2f} subm/s  (baseline)")
    print(f"  ours, 1 worker (sandbox + hidden graders):     {one:7.1f} s  {n / one:5.2f} subm/s  "
          f"ratio {nbgrader_s / one:.2f}x nbgrader")
    print(f"  ours, 2 workers:                               {two:7.1f} s  {n / two:5.2f} subm/s  "
          f"ratio {nbgrader_s / two:.2f}x nbgrader, {one / two:.2f}x 1 worker")
    p50, p90 = latencies[len(latencies) // 2], latencies[int(len(latencies) * 0.9) - 1 if n >= 10 else -1]
    print(f"  our per-submission latency (1 worker): p50 {p50:.1f} s, p90 {p90:.1f} s")


if __name__ == "__main__":
    main()
