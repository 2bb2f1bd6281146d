"""Latency of `autograder watch`: full hands_on_dl submissions (right, partly wrong, crashing) dropped into a
throw-away course (autograder.democlass.make_course) at random times over a minute, while watch runs on 2
workers; prints p50/p90/p99 of the time from a submission's arrival (the moment its last file is complete)
to its feedback page written. Target: p90 <= 1.5 s.

    .venv/bin/python benchmarks/bench_watch.py [--students 40] [--over 60] [--workers 2] [--dask] [--seed 1]

Each submission is copied straight into submitted/<student>/hands_on_dl/ (weights first, then the notebook),
as a file copied in is, so watch's wait for a complete folder (--settle, 0.1 s) is part of what is measured.
Arrival is taken here, after the last file is closed; the feedback time is the page's modification time.
watch's own log splits each latency into: to a worker (settle and scan), grading (on the worker, queueing
included), storing (result.json and the feedback page; the gradebook row is written right after it). The submissions, like bench_class's light
class, all derive from the lesson's reference: right ones are the reference; partly wrong ones replace one
or two light answers (their claims, minimal widths, are the reference's, whose training the judge remembers
across runs); crashing ones raise in an answer cell or end the process (`os._exit`, which costs a re-run
without that cell). Start-up (warm sandboxes) happens before the first drop and is printed apart.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from autograder.course import get_lesson  # noqa: E402
from autograder.democlass import make_course  # noqa: E402

LESSON = "hands_on_dl"
WRONG = [  # partly wrong: one or two light answers replaced
    {"sqrt_b_cubed": "B_sqrt_cubed = B_tensor ** 3"},
    {"identity_tensor": "I_tensor = torch.ones(3, 3)"},
    {"tensor_shape": "I_tensor_shape_intended = torch.Size([3])\nI_tensor_shape = I_tensor.shape",
     "sqrt_b_cubed": "B_sqrt_cubed = torch.sqrt(B_tensor) ** 3 + 1"},
    {"gradient_loop": "def train_f(x, y, learning_rate=0.01, number_of_iterations=50):\n  global p\n"
                      "  p = torch.rand((1,), requires_grad=True)\n"},
]
CRASHING = [  # an answer cell that raises, one that ends the process
    {"identity_tensor": "raise RuntimeError('I give up')"},
    {"sqrt_b_cubed": "import os\nos._exit(1)"},
]
EVENT = re.compile(r"^\d\d:\d\d:\d\d (graded|failed) (\S+) .* in ([\d.]+) s: ([\d.]+) wait, ([\d.]+) grade, "
                   r"([\d.]+) store$", re.M)


def notebook(source: nbformat.NotebookNode, answers: dict[str, str]) -> bytes:
    nb = nbformat.from_dict(source)
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid in answers:
            cell.source = answers[gid]
    return nbformat.writes(nb).encode()


def make_class(students: int, rng: random.Random) -> list[tuple[str, str, bytes]]:
    """Return (student, kind, notebook bytes): 40% right, 40% partly wrong, 20% crashing, in random order."""
    source = nbformat.read(get_lesson(ROOT, LESSON).source_notebook, as_version=4)
    kinds = ["right"] * (students * 2 // 5) + ["crashing"] * (students // 5)
    kinds += ["partly wrong"] * (students - len(kinds))
    rng.shuffle(kinds)
    made = []
    for index, kind in enumerate(kinds):
        answers = {} if kind == "right" else rng.choice(WRONG if kind == "partly wrong" else CRASHING)
        made.append((f"s{index:03d}", kind, notebook(source, answers)))
    return made


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def row(name: str, values: list[float]) -> str:
    if not values:
        return f"    {name:<14} {0:>3}"
    return (f"    {name:<14} {len(values):>3}  {percentile(values, .5):6.2f}  {percentile(values, .9):6.2f}  "
            f"{percentile(values, .99):6.2f}  {max(values):6.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=40)
    parser.add_argument("--over", type=float, default=60.0, help="seconds over which submissions arrive")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--dask", action="store_true", help="watch --dask local instead of local workers")
    parser.add_argument("--seed", type=int, default=1, help="random arrival times and class make-up")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    weights = {p.name: p.read_bytes() for p in get_lesson(ROOT, LESSON).source_notebook.parent.glob("*.pth")}
    students = make_class(args.students, rng)
    times = sorted(rng.uniform(0, args.over) for _ in students)
    load_before = os.getloadavg()

    with tempfile.TemporaryDirectory(prefix="bench-watch-") as tmp:
        course = make_course(Path(tmp) / "course", ROOT)
        log = Path(tmp) / "watch.log"
        command = [sys.executable, "-m", "autograder.cli", "watch", LESSON, "--workers", str(args.workers)]
        command += ["--dask", "local"] if args.dask else []
        started = time.monotonic()
        with open(log, "w") as out:
            watch = subprocess.Popen(command, cwd=course, stdout=out, stderr=subprocess.PIPE, text=True,
                                     start_new_session=True, env={**os.environ, "COLUMNS": "200"})
        while "ready:" not in log.read_text():
            if watch.poll() is not None or time.monotonic() - started > 600:
                raise SystemExit(f"watch did not get ready:\n{log.read_text()[-2000:]}\n{watch.stderr.read()[-2000:]}")
            time.sleep(0.05)
        ready = time.monotonic() - started

        arrived: dict[str, float] = {}
        kind_of = {student: kind for student, kind, _ in students}
        zero = time.monotonic()
        for at, (student, kind, data) in zip(times, students):
            time.sleep(max(0.0, at - (time.monotonic() - zero)))
            folder = course / "submitted" / student / LESSON
            folder.mkdir(parents=True)
            for name, blob in weights.items():
                (folder / name).write_bytes(blob)
            (folder / f"{LESSON}.ipynb").write_bytes(data)
            arrived[student] = time.time()

        latency: dict[str, float] = {}
        deadline = time.monotonic() + 300
        while len(latency) < len(students) and time.monotonic() < deadline:
            for student in arrived.keys() - latency.keys():
                page = course / "feedback" / student / LESSON / f"{LESSON}.html"
                if page.is_file():
                    latency[student] = page.stat().st_mtime - arrived[student]
            time.sleep(0.02)
        os.killpg(watch.pid, signal.SIGINT)
        _, stderr = watch.communicate(timeout=120)
        output = log.read_text()
        scores = {}
        for student in arrived:
            result = course / "autograded" / student / LESSON / "result.json"
            if result.is_file():
                data = json.loads(result.read_text())
                scores[student] = (data["result"] or {}).get("score"), (data["result"] or {}).get("timings", {})
    load_after = os.getloadavg()

    own = {m[1]: [float(x) for x in m[2:]] for m in EVENT.findall(output)}
    backend = "Dask LocalCluster" if args.dask else "local"
    print(f"watch {LESSON} --workers {args.workers} ({backend}): {len(students)} full submissions arriving at random "
          f"over {args.over:.0f} s, {os.cpu_count()} cores")
    print(f"  load average before {load_before[0]:.1f}, after {load_after[0]:.1f} (other work on this machine slows every row)")
    print(f"  start-up to every worker warm: {ready:.1f} s (before the first arrival, not in the latencies)")
    print("  latency from arrival (last file complete) to feedback written, seconds:")
    print(f"    {'submissions':<14} {'n':>3}  {'p50':>6}  {'p90':>6}  {'p99':>6}  {'max':>6}")
    print(row("all", list(latency.values())))
    for kind in ("right", "partly wrong", "crashing"):
        print(row(kind, [v for s, v in latency.items() if kind_of[s] == kind]))
    p90 = percentile(list(latency.values()), .9) if latency else float("inf")
    print(f"  target p90 <= 1.5 s: {'met' if p90 <= 1.5 else 'NOT met'} (p90 {p90:.2f} s)")
    if own:
        splits = list(own.values())
        print(f"  watch's own measure (complete -> feedback, by ctime): p50 {percentile([s[0] for s in splits], .5):.2f} s, "
              f"p90 {percentile([s[0] for s in splits], .9):.2f} s; medians of its split: "
              f"{statistics.median(s[1] for s in splits):.2f} s to a worker (settle, scan), "
              f"{statistics.median(s[2] for s in splits):.2f} s grading (queue included), "
              f"{statistics.median(s[3] for s in splits):.2f} s storing (result, feedback; the gradebook row after)")
    totals = [t.get("total", 0.0) for _, t in scores.values() if t]
    if totals:
        print(f"  a grade on the worker (result timings total): p50 {percentile(totals, .5):.2f} s, "
              f"p90 {percentile(totals, .9):.2f} s")
    added = [own[s][0] - scores[s][1]["total"] for s in own if s in scores and scores[s][1]]
    waiting = [own[s][2] - scores[s][1]["total"] for s in own if s in scores and scores[s][1]]
    if added:
        print(f"  what watch adds to the worker's grade (latency - grade): p50 {percentile(added, .5):.2f} s, "
              f"p90 {percentile(added, .9):.2f} s; of which waiting for a free worker and the hand-over: "
              f"p50 {percentile(waiting, .5):.2f} s, p90 {percentile(waiting, .9):.2f} s")
    by_kind = {kind: sorted({scores[s][0] for s in scores if kind_of[s] == kind}, key=lambda v: -1 if v is None else v)
               for kind in ("right", "partly wrong", "crashing")}
    print(f"  scores seen: {by_kind}")
    missing = sorted(arrived.keys() - latency.keys())
    if missing:
        print(f"  NO FEEDBACK for {len(missing)}: {missing[:10]}")
    print(f"  Ctrl-C: exit status {watch.returncode}, {'a traceback' if 'Traceback' in stderr + output else 'no traceback'}")


if __name__ == "__main__":
    main()
