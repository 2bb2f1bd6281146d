"""Wall time of the lesson's training loop against the vectorised replicas, for 2 widths x 5 seeds.

    python benchmarks/bench_replicas.py [--widths 256 320] [--reference-runs 1]

The lesson loop (`train_one`) is timed on the first --reference-runs seeds of each
width and extrapolated to all 5; the batched version trains all 10 at once.  CPU
time is printed beside wall time, as on a shared machine wall time includes waiting;
there, OMP_NUM_THREADS=1 avoids torch's threads waiting on each other.
Each replica retraces `train_one` for its seed, so the least losses are printed
side by side: they differ only by float rounding amplified over 16,000 steps.
"""

from __future__ import annotations

import argparse
import os
import time

import torch

from autograder.replicas import lesson_data, train_one, train_width_grid

SEEDS = [0, 1, 2, 3, 4]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--widths", type=int, nargs=2, default=[256, 320])
    parser.add_argument("--reference-runs", type=int, choices=range(1, len(SEEDS) + 1), default=1)
    args = parser.parse_args()
    data = lesson_data()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, widths {args.widths}, seeds {SEEDS}")
    train_width_grid(args.widths, SEEDS[:1], *data, epochs=1)  # warm-up both: first-use imports and allocations
    train_one(args.widths[:1], SEEDS[0], *data, epochs=1)

    began, began_cpu = time.perf_counter(), time.process_time()
    batched = train_width_grid(args.widths, SEEDS, *data)
    batched_s, batched_cpu = time.perf_counter() - began, time.process_time() - began_cpu

    reference = {}
    began, began_cpu = time.perf_counter(), time.process_time()
    for width in args.widths:
        for seed in SEEDS[:args.reference_runs]:
            reference[width, seed] = train_one([width], seed, *data)
    reference_s, reference_cpu = time.perf_counter() - began, time.process_time() - began_cpu
    runs, total = len(args.widths) * args.reference_runs, len(args.widths) * len(SEEDS)
    loop_s, loop_cpu = reference_s * total / runs, reference_cpu * total / runs

    for width in args.widths:
        for seed, least in zip(SEEDS, batched[width].tolist()):
            lesson = f"{reference[width, seed]:.3e}" if (width, seed) in reference else "not run"
            print(f"  width {width} seed {seed}: least loss batched {least:.3e}, lesson loop {lesson}")
    how = "measured" if runs == total else f"extrapolated x{total / runs:g} from {runs} runs ({reference_s:.1f} s)"
    print(f"(a) lesson loop, {total} trainings: {loop_s:.1f} s wall, {loop_cpu:.1f} s CPU, {how}")
    print(f"(b) batched replicas, {total} trainings as one model: {batched_s:.1f} s wall, {batched_cpu:.1f} s CPU")
    print(f"speed-up (a)/(b): {loop_s / batched_s:.1f}x wall, {loop_cpu / batched_cpu:.1f}x CPU")
    print(f"load average over the last minute: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
