"""Where the time goes when one reference submission of hands_on_dl is graded, measured in one run.

    .venv/bin/python benchmarks/bench_grading.py [--repeat 3]

Prints: a bare `python -c "import torch"` (the baseline), the same command inside the sandbox, and the
ratio between them (runs interleaved, medians); the reference grade in a fresh process, split into warm
sandbox start (interpreter + preloaded imports), notebook execution (cells and probes) and grading (hidden
pytest graders, judge-side training included); the same grade again on the now warm sandbox (the marginal
cost of a submission); and the cost of the judge's minimal-width verification (5 seeds as batched replicas).
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from autograder.config import load_config  # noqa: E402
from autograder.sandbox import Mount, Sandbox  # noqa: E402


def bare_import() -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import torch"], check=True)
    return time.perf_counter() - started


def sandboxed_import() -> float:
    limits = load_config(ROOT).limits
    mounts = [Mount(Path(p), p) for p in sorted({sys.base_prefix, sys.prefix})]
    started = time.perf_counter()
    box = Sandbox([sys.executable, "-c", "import torch"], mounts, limits, {"HOME": "/home/student"}, b"")
    while box.read_message(60) is not None:
        pass
    assert box.finish().status == "ok"
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    pairs = [(bare_import(), sandboxed_import()) for _ in range(args.repeat)]  # interleaved: same machine state
    bare, boxed = statistics.median(b for b, _ in pairs), statistics.median(s for _, s in pairs)
    print(f"import torch, bare python:     {bare:6.2f} s (baseline)")
    print(f"import torch, in the sandbox:  {boxed:6.2f} s  ratio {boxed / bare:.2f}  "
          f"(sandbox start overhead {100 * (boxed / bare - 1):+.0f}%)")

    from autograder.course import get_lesson
    from grading_runs import grade_first_and_warm
    from tests.conftest import make_submission

    config = load_config(ROOT)
    lesson = get_lesson(ROOT, "hands_on_dl")
    with tempfile.TemporaryDirectory() as tmp:
        runs = grade_first_and_warm(make_submission(lesson, Path(tmp)), config, args.repeat)
    result, wall, warm = runs.first, runs.first_wall, runs.warm
    t = result.timings
    print(f"reference grade in a fresh process: {result.score:g}/{result.max_score:g} in {wall:.2f} s wall "
          f"({wall / bare:.1f}x the bare torch import)")
    print(f"  warm sandbox start (python + preload of torch, torchvision, matplotlib): {t['sandbox_start']:6.2f} s")
    print(f"  notebook execution incl. that start and the probes:                    {t['execution']:6.2f} s")
    print(f"  grading (hidden pytest graders, judge-side training, first imports):   {t['grading']:6.2f} s")
    marginal = statistics.median(w for w, _ in warm)
    t = min(warm)[1]
    print(f"the same grade on the warm sandbox (marginal cost, median of {len(warm)}): {marginal:.2f} s "
          f"(execution {t['execution']:.2f} s, grading {t['grading']:.2f} s)")

    import json

    from autograder.replicas import lesson_data, train_replicas

    calibration = json.loads((ROOT / "lessons" / "hands_on_dl" / "calibration.json").read_text())
    profile, seeds = calibration["reference_deep_profile"]["profile"], calibration["verification_seeds"]
    import torch

    torch.set_num_threads(1)  # as the grader trains: small matmuls, one thread
    started = time.perf_counter()
    losses = train_replicas(profile, seeds, *lesson_data())
    print(f"minimal-width verification of {profile} on {len(seeds)} seeds as batched replicas, uncached: "
          f"{time.perf_counter() - started:.2f} s (least losses {[f'{v:.1e}' for v in losses.tolist()]}); "
          "a profile seen before in the class costs nothing (remember_on_disk on disk)")


if __name__ == "__main__":
    main()
