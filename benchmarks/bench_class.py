"""Class grading at scale, measured in one run on the same generated class of light submissions:
nbgrader 0.9.6's own `nbgrader autograde` (the baseline), our local pool with 1 and 2 workers, and our
Dask backend (LocalCluster) with 1 and 2 workers, started for this class or already running (warm).
Prints throughput and ratios, per-submission latency percentiles, the marginal cost of a submission on a
warm worker, and peak memory per worker. Then a class of *full* hands_on_dl submissions (full_class:
distinct width claims, right, partly wrong and crashing) against the same nbgrader baseline: 2 local
workers from cold (no remembered claim verdict), the same class again with its claims remembered, and a
standing Dask cluster of 2 (warm sandboxes, claims from cold).

    .venv/bin/python benchmarks/bench_class.py [--students 40] [--skip-nbgrader] [--full-only]
    .venv/bin/python benchmarks/bench_class.py --memory-class 1000   # memory growth over a large class

The light class: the hands_on_dl source notebook cut after its last light exercise (twin_tower), so
nothing trains; every student hands in that reference solution. nbgrader grades by running the notebook
with its public test cells in a kernel (no sandbox, no hidden graders); we grade the same notebooks in
bubblewrap with probes and hidden pytest graders (the exercises that were cut count as missing).
Memory: proportional set size (shared pages split between sharers) of each worker process plus its
sandbox, sampled once a second. "Once every worker is warm": the rate after each worker's first grade,
which carries its start-up (sandbox, imports).
"""
from __future__ import annotations

import argparse
import contextlib
import logging
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import nbformat
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from autograder.batch import BatchItem, grade_many  # noqa: E402
from autograder.notebook import cell_index  # noqa: E402

LAST_LIGHT_CELL = "test_twin_tower"
LIGHT = ("identity_tensor", "tensor_shape", "sqrt_b_cubed", "gradients_for_p", "gradient_loop", "deep_forward",
         "twin_tower")


def light_notebook() -> nbformat.NotebookNode:
    nb = nbformat.read(ROOT / "source" / "hands_on_dl" / "hands_on_dl.ipynb", as_version=4)
    nb.cells = nb.cells[: cell_index(nb, LAST_LIGHT_CELL) + 1]
    return nb


class MemorySampler(threading.Thread):
    """Samples the PSS of every grading worker (a process tree under this one) once a second and keeps
    each worker's peak. Reading PSS walks page tables (about 8 ms per torch-sized process), so sampling
    faster would itself slow the runs it measures."""

    INTERVAL = 1.0

    def __init__(self):
        super().__init__(daemon=True)
        self.peaks: dict[int, float] = {}
        self.series: list[tuple[float, float]] = []  # (time, total MB of all workers)
        self.stopped = threading.Event()
        self.started_at = time.perf_counter()

    def run(self) -> None:
        while not self.stopped.wait(self.INTERVAL):
            total = 0.0
            for worker, tree in self.worker_trees().items():
                mb = sum(_pss(p) for p in tree) / 2**20
                self.peaks[worker] = max(self.peaks.get(worker, 0.0), mb)
                total += mb
            self.series.append((time.perf_counter() - self.started_at, total))

    @staticmethod
    def worker_trees() -> dict[int, list[psutil.Process]]:
        """Return each grading worker (a pool or Dask worker process: the innermost multiprocessing
        processes, so not the fork server they come from) with the processes under it (its sandbox),
        from one pass over /proc."""
        kids: dict[int, list[psutil.Process]] = {}
        for p in psutil.process_iter(["ppid", "cmdline"]):
            kids.setdefault(p.info["ppid"], []).append(p)

        def tree(pid: int) -> list[psutil.Process]:
            return [q for child in kids.get(pid, []) for q in (child, *tree(child.pid))]

        line = lambda p: " ".join(p.info["cmdline"] or ())  # noqa: E731
        candidates = {p.pid: p for p in tree(os.getpid()) if "multiprocessing" in line(p)
                      and "resource_tracker" not in line(p)}
        return {pid: [p, *tree(pid)] for pid, p in candidates.items()
                if not any(q.pid in candidates for q in tree(pid))}

    def stop(self) -> None:
        self.stopped.set()
        self.join()


def _pss(process: psutil.Process) -> int:
    try:
        return process.memory_full_info().pss
    except psutil.Error:
        return 0


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
        folder = course / "submitted" / f"s{k:04d}" / "light"
        folder.mkdir(parents=True)
        nbformat.write(light_notebook(), folder / "light.ipynb")
    started = time.perf_counter()
    done = subprocess.run(nbgrader + ["autograde", "light", "--force"], cwd=course, env=env, capture_output=True,
                          text=True)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"nbgrader autograde failed:\n{done.stderr[-2000:]}")
    return elapsed


def light_class(folder: Path, students: int) -> list[BatchItem]:
    items = []
    for k in range(students):
        (folder / f"s{k:04d}").mkdir(parents=True)
        path = folder / f"s{k:04d}" / "hands_on_dl.ipynb"
        nbformat.write(light_notebook(), path)
        items.append(BatchItem(f"s{k:04d}", path, "hands_on_dl", seed=k))
    return items


CLAIM_EXERCISES = ("minimal_width", "deep_minimal_width")


def full_class(folder: Path, students: int, seed: int = 19) -> list[BatchItem]:
    """Return a class of full hands_on_dl submissions (every exercise, weights included) as a real class
    hands in: each student claims their own w_1 and deep profile, half of them with their own training;
    three in four are otherwise right, one in six has one wrong answer (a mutant of another exercise) and
    one in twelve crashes in an early answer cell."""
    from autograder.course import get_lesson
    from autograder.validate import build_submission, load_mutants

    rng = random.Random(seed)
    lesson = get_lesson(ROOT, "hands_on_dl")
    wrong = [m for m in load_mutants(lesson) if not m.right and m.exercise not in CLAIM_EXERCISES and m.answer]
    widths = rng.sample(range(150, 420), students)
    profiles = rng.sample([(a, b) for a in range(24, 97, 4) for b in range(24, 97, 4)], students)
    items = []
    for k in range(students):
        folder_k = folder / f"s{k:04d}"
        folder_k.mkdir(parents=True)
        kind = "crashing" if k % 12 == 11 else "partly wrong" if k % 6 == 5 else "right"
        path = build_submission(lesson, rng.choice(wrong) if kind == "partly wrong" else None, folder_k)
        nb = nbformat.read(path, as_version=4)
        nb.cells[cell_index(nb, "minimal_width")].source = f"w_1 = {widths[k]}\n" + _training("w_1", rng)
        nb.cells[cell_index(nb, "deep_minimal_width")].source = (f"hidden_layer_profile_2 = {list(profiles[k])}\n"
                                                                 + _training("w_2", rng))
        if kind == "crashing":
            nb.cells[cell_index(nb, "sqrt_b_cubed")].source = "b = torch.tensor(2.0)\nsqrt_b_cubed = b.sqrt(3)"
        nbformat.write(nb, path)
        items.append(BatchItem(f"s{k:04d}", path, "hands_on_dl", seed=k))
    return items


def _training(name: str, rng: random.Random) -> str:
    """Return a claim's stated training: the default for half the class, else the student's own."""
    if rng.random() < 0.5:
        return ""
    return f"{name}_training = {{'lr': {rng.choice([1e-3, 2e-3, 5e-3, 1e-2, 2e-2])}, " \
           f"'epochs': {rng.choice([200, 300, 400, 600, 800, 1000])}}}\n"


@contextlib.contextmanager
def no_remembered_claims():
    """Set the course's remembered claim verdicts aside for a run from cold, and put them back after."""
    cache = ROOT / ".autograder" / "cache"
    aside = Path(tempfile.mkdtemp(prefix="bench-claims-aside-"))
    kept = [p for p in cache.glob("hands_on_dl.claims*")]
    for path in kept:
        shutil.move(path, aside / path.name)
    try:
        yield
    finally:
        for path in cache.glob("hands_on_dl.claims*"):
            shutil.rmtree(path) if path.is_dir() else path.unlink()
        for path in kept:
            shutil.move(aside / path.name, path)
        aside.rmdir()


def time_ours(folder: Path, students: int, workers: int, scheduler: str | None = None,
              on_done=None, full: bool = False) -> dict:
    """Grade the light class (or the full one); return wall time, latencies, warm marginal costs and peak
    memory per worker."""
    items = full_class(folder, students) if full else light_class(folder, students)
    sampler = MemorySampler()
    sampler.start()
    done: list[float] = []

    def finished(outcome) -> None:
        done.append(time.perf_counter() - started)
        if on_done:
            on_done(outcome)

    started = time.perf_counter()
    outcomes = grade_many(items, ROOT, workers, scheduler=scheduler, on_done=finished)
    elapsed = time.perf_counter() - started
    sampler.stop()
    bad = [o.key for o in outcomes.values() if o.result is None]
    assert not bad, f"not graded: {bad}: {[outcomes[k].error for k in bad][:2]}"
    for outcome in outcomes.values() if not full else ():
        assert all(e.outcome == "passed" for e in outcome.result.exercises if e.exercise in LIGHT), outcome.result
    timings = [o.result.timings for o in outcomes.values()]
    return {"wall": elapsed, "latency": sorted(t["total"] for t in timings),
            "warm": sorted(t["total"] for t in timings if t["sandbox_start"] == 0),
            "starts": sum(t["sandbox_start"] > 0 for t in timings),
            "peak_mb": sorted(sampler.peaks.values(), reverse=True)[:workers], "series": sampler.series,
            "first": done[0], "steady": (students - workers) / (done[-1] - done[workers - 1]), "outcomes": outcomes}


def time_standing_cluster(folder: Path, students: int, workers: int, full: bool = False) -> dict:
    """Grade the class on a Dask cluster that was already running and had graded before (what
    `autograde --scheduler` meets on a cluster kept up through a deadline): its workers' sandboxes are warm."""
    from distributed import LocalCluster

    with LocalCluster(n_workers=workers, threads_per_worker=1, dashboard_address=None,
                      silence_logs=logging.ERROR) as cluster:
        time_ours(folder / "earlier", 2 * workers, workers, scheduler=cluster.scheduler_address)
        with no_remembered_claims() if full else contextlib.nullcontext():
            return time_ours(folder / "class", students, workers, scheduler=cluster.scheduler_address, full=full)


def full_rows(tmp: Path, n: int, nbgrader_s: float | None) -> None:
    """Grade the full class from cold (no warm worker, no remembered claim) on 2 local workers, again with
    its claims remembered, and on a standing Dask cluster of 2 (warm sandboxes, claims from cold)."""
    with no_remembered_claims():
        cold = time_ours(tmp / "full-cold", n, 2, full=True)
        remembered = time_ours(tmp / "full-again", n, 2, full=True)
    standing = time_standing_cluster(tmp / "full-standing", n, 2, full=True)
    scores = sorted(sum(e.score for e in o.result.exercises) for o in cold["outcomes"].values())
    print(f"{n} full submissions of hands_on_dl (every exercise, {2 * n} distinct width claims, 3 in 4 otherwise "
          f"right, 1 in 6 partly wrong, 1 in 12 crashing; points from {scores[0]:g} to {scores[-1]:g}), "
          "against nbgrader's light-lesson run above:")
    print_row("ours, local, 2 workers, cold", cold, n, nbgrader_s)
    print_row("  the same, claims remembered", remembered, n, nbgrader_s)
    print_row("ours, Dask standing cluster, 2", standing, n, nbgrader_s)


def percentile(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def print_row(name: str, run: dict, n: int, baseline: float | None, one: dict | None = None) -> None:
    rate = n / run["wall"]
    ratio = f"  {baseline / run['wall']:5.1f}x nbgrader" if baseline else ""
    scale = f"  {one['wall'] / run['wall']:4.2f}x 1 worker" if one else ""
    lat = run["latency"]
    peak = ", ".join(f"{mb:.0f}" for mb in run["peak_mb"]) or "-"
    print(f"  {name:<31} {run['wall']:7.1f} s  {rate:6.2f} subm/s{ratio}{scale}")
    steady = f" ({run['steady'] / one['steady']:4.2f}x 1 worker)" if one else ""
    print(f"  {'':<31} start-up to the first grade {run['first']:.1f} s; once every worker is warm "
          f"{run['steady']:.2f} subm/s{steady}")
    print(f"  {'':<31} latency p50 {percentile(lat, .5):.2f} s  p90 {percentile(lat, .9):.2f} s  "
          f"p99 {percentile(lat, .99):.2f} s; warm sandbox starts {run['starts']}; peak MB per worker: {peak}")


def memory_class(n: int) -> None:
    """Grade a class of `n` light submissions with 2 workers and print the memory over time."""
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as tmp:
        run = time_ours(Path(tmp), n, 2)
    series = run["series"]
    print(f"{n} light submissions, 2 local workers: {run['wall']:.0f} s, {n / run['wall']:.2f} subm/s, "
          f"marginal (warm) p50 {percentile(run['warm'], .5):.2f} s")
    print("  total PSS of both workers and their sandboxes over the run:")
    for fraction in (0.1, 0.25, 0.5, 0.75, 1.0):
        t, mb = series[min(len(series) - 1, int(fraction * (len(series) - 1)))]
        print(f"    at {t:6.0f} s ({fraction:4.0%} of the run): {mb:7.0f} MB")
    tenth = statistics.mean(mb for _, mb in series[len(series) // 10: len(series) // 5])
    last = statistics.mean(mb for _, mb in series[-len(series) // 10:])
    print(f"  growth from the first fifth to the last tenth: {last - tenth:+.0f} MB ({100 * (last / tenth - 1):+.1f}%)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=40)
    parser.add_argument("--skip-nbgrader", action="store_true", help="leave out the (slow) nbgrader baseline")
    parser.add_argument("--memory-class", type=int, metavar="N", help="only the memory-growth run over N submissions")
    parser.add_argument("--full-only", action="store_true", help="nbgrader's baseline and the full class only")
    args = parser.parse_args()
    if args.memory_class:
        return memory_class(args.memory_class)
    n = args.students
    with tempfile.TemporaryDirectory(prefix="bench-class-") as tmp:
        nbgrader_s = None if args.skip_nbgrader else time_nbgrader(Path(tmp) / "nbgrader", n)
        if nbgrader_s:
            print(f"nbgrader autograde, {n} light submissions: {nbgrader_s:.1f} s ({nbgrader_s / n:.2f} s each)")
        if args.full_only:
            return full_rows(Path(tmp), n, nbgrader_s)
        one = time_ours(Path(tmp) / "ours1", n, 1)
        two = time_ours(Path(tmp) / "ours2", n, 2)
        dask1 = time_ours(Path(tmp) / "dask1", n, 1, scheduler="local")
        dask = time_ours(Path(tmp) / "dask2", n, 2, scheduler="local")
        standing1 = time_standing_cluster(Path(tmp) / "standing1", n, 1)
        standing2 = time_standing_cluster(Path(tmp) / "standing2", n, 2)
    print(f"{n} light submissions of hands_on_dl, same notebooks, one run, {os.cpu_count()} cores:")
    if nbgrader_s:
        print(f"  {'nbgrader autograde':<31} {nbgrader_s:7.1f} s  {n / nbgrader_s:6.2f} subm/s  (baseline: no sandbox, "
              "public tests only)")
    print_row("ours, local, 1 worker", one, n, nbgrader_s)
    print_row("ours, local, 2 workers", two, n, nbgrader_s, one)
    print_row("ours, Dask LocalCluster, 1", dask1, n, nbgrader_s, one)
    print_row("ours, Dask LocalCluster, 2", dask, n, nbgrader_s, one)
    print(f"  Dask 2 workers against Dask 1 worker: {dask1['wall'] / dask['wall']:.2f}x end to end, "
          f"{dask['steady'] / dask1['steady']:.2f}x once warm")
    print_row("ours, Dask standing cluster, 1", standing1, n, nbgrader_s, one)
    print_row("ours, Dask standing cluster, 2", standing2, n, nbgrader_s, one)
    print(f"  standing cluster, 2 workers against 1: {standing1['wall'] / standing2['wall']:.2f}x end to end "
          "(its sandboxes started for an earlier class)")
    print(f"  marginal cost of a light submission on a warm worker (1 worker): p50 {percentile(one['warm'], .5):.2f} s, "
          f"p90 {percentile(one['warm'], .9):.2f} s")
    with tempfile.TemporaryDirectory(prefix="bench-class-full-") as tmp:
        full_rows(Path(tmp), n, nbgrader_s)


if __name__ == "__main__":
    main()
