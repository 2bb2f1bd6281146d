"""What verifying a class's open-ended width claims costs (hands_on_dl minimal_width / deep_minimal_width).

    python benchmarks/bench_claims.py [--claims 40] [--worst] [--stacked]

The graders train each distinct claim (a profile and the training the student states) once, on the
judge's seeds as batched replicas, and remember the verdict on disk per (profile, training).  This times,
through the graders' own `learned_on` with an empty cache in a temporary folder:

  (a) one verification under the default protocol (lr 5e-3, 250 epochs), the unit of cost;
  (b) a class of --claims distinct claims: one- and two-layer networks, the default training and the
      students' own (lr from 1e-3 to 3e-2, 200 to 2000 epochs), a fifth of them at 2000 epochs;
  (c) the same class graded again: every verdict comes from the disk cache;
  (d) with --worst, the dearest claims the bounds allow, 2000 epochs each: 1024 neurons in one layer,
      256 in two layers, 250 in ten (a deep profile's 256 neurons bound its weights: [512, 512] would
      cost about 30 times [128, 128]).
  (e) with --stacked, why claims are not stacked across a class: --claims default-protocol widths (240 to
      400) trained on all the judge's seeds as one padded replica run, against one claim at a time.

CPU time is printed beside wall time: on a shared machine wall time includes waiting for a core.
The judge trains on one thread (as the graders do); run it with OMP_NUM_THREADS=1.

Training is compute-bound at these widths, so stacking saves no CPU ((e): 40 widths, 168 s stacked against
152 s apart on this machine, December 2026); and padding a replica to its classmates' widths changes float
rounding (see test_width_grid_padding_changes_nothing), so a claim near the loss threshold could pass or
fail with its classmates, where a grade must depend on the submission only.  What does save is training
only the seeds a verdict needs, each run stopping once the verdict is known (replicas.verify_claim): (b)
went from 529 s to 271 s of CPU with the same verdicts.
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
from pathlib import Path

from autograder import judge
from autograder.course import import_lesson_module

graders = import_lesson_module(Path(__file__).resolve().parents[1], "hands_on_dl.test_hands_on_dl")


def class_of_claims(count: int, rng: random.Random) -> list[tuple[tuple[int, ...], float, int]]:
    """Return `count` distinct (profile, lr, epochs) claims a class might make; a fifth at 2000 epochs."""
    claims: set[tuple[tuple[int, ...], float, int]] = set()
    while len(claims) < count:
        kind = len(claims) % 5
        if kind == 0:  # the student's own long training, 2000 epochs (the most the bounds allow)
            profile = (rng.randrange(48, 257, 8),) if rng.random() < 0.6 else (rng.randrange(24, 65, 4),) * 2
            claim = (profile, rng.choice([1e-3, 2e-3, 5e-3, 1e-2]), 2000)
        elif kind == 1:  # the default training, a width found by search
            claim = ((rng.randrange(240, 400),), 5e-3, 250)
        elif kind == 2:  # a tuned one-layer training
            claim = ((rng.randrange(96, 257, 8),), rng.choice([5e-3, 1e-2, 2e-2, 3e-2]), rng.randrange(200, 1201, 100))
        elif kind == 3:  # a deep profile with the default training
            claim = ((rng.randrange(32, 97, 8), rng.randrange(32, 97, 8)), 5e-3, 250)
        else:  # a deep profile with its own training
            claim = ((rng.randrange(24, 81, 8),) * rng.choice([2, 3]), rng.choice([1e-3, 2e-3, 3e-3]),
                     rng.randrange(300, 1501, 100))
        claims.add(claim)
    return sorted(claims, key=lambda c: (c[2], c[0]))


def timed(claims, cache: Path) -> tuple[float, float, list[tuple[int, int]]]:
    """Return (wall s, CPU s, verdicts) of verifying `claims` through the graders, remember_on_disk in `cache`."""
    graders.learned_on.cache_clear()  # the in-process memo: only the disk cache may answer
    began, began_cpu = time.perf_counter(), time.process_time()
    verdicts = [graders.learned_on(profile, lr, epochs) for profile, lr, epochs in claims]
    return time.perf_counter() - began, time.process_time() - began_cpu, verdicts


def stacked_widths(count: int, rng: random.Random) -> None:
    """Print the CPU seconds of `count` default-protocol widths trained as one stack and one by one."""
    from autograder.replicas import lesson_data, train_replicas, train_width_grid

    data, seeds = lesson_data(), graders.calibration_of(graders.__file__)["judge_seeds"]
    widths = rng.sample(range(240, 401), count)
    began = time.process_time()
    train_width_grid(widths, seeds, *data)
    stacked = time.process_time() - began
    began = time.process_time()
    for width in widths:
        train_replicas([width], seeds, *data)
    apart = time.process_time() - began
    print(f"(e) {count} default-protocol widths, {count * len(seeds)} replicas: {stacked:.1f} s CPU as one stack, "
          f"{apart:.1f} s CPU one claim at a time ({apart / stacked:.2f}x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--claims", type=int, default=40, help="distinct claims in the class (0: none)")
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--worst", action="store_true", help="also time the dearest claims the bounds allow")
    parser.add_argument("--stacked", action="store_true", help="also time the class's widths trained as one stack")
    args = parser.parse_args()
    claims = class_of_claims(args.claims, random.Random(args.seed))
    with tempfile.TemporaryDirectory(prefix="bench-claims-") as tmp:
        cache = Path(tmp)
        graders.remember_on_disk = lambda name, key, compute, near: judge.remember_on_disk(name, key, compute, near,
                                                                                         cache_dir=cache)
        graders.learned_on((8,), 5e-3, 1)  # warm-up: imports, the data set
        unit_wall, unit_cpu, _ = timed([((192,), 5e-3, 250)], cache)
        print(f"(a) one default-protocol verification ([192], lr 5e-3, 250 epochs, up to "
              f"{len(graders.calibration_of(graders.__file__)['judge_seeds'])} replicas): {unit_wall:.1f} s wall, {unit_cpu:.1f} s CPU")

        if claims:  # --claims 0 times (a) and (d) only
            wall, cpu, verdicts = timed(claims, cache)
            epochs = sum(c[2] for c in claims)
            long = sum(c[2] == 2000 for c in claims)
            learned = sum(n * 2 > seeds for n, seeds in verdicts)
            print(f"(b) a class of {len(claims)} distinct claims ({long} at 2000 epochs, {epochs} epochs in all, "
                  f"{learned} learn f): {wall:.1f} s wall, {cpu:.1f} s CPU = {cpu / unit_cpu:.0f}x (a) in CPU, "
                  f"{wall / unit_wall:.0f}x in wall time")
            for (profile, lr, n_epochs), (n, seeds) in zip(claims, verdicts):
                print(f"      {list(profile)!s:<14} lr {lr:<6g} {n_epochs:>4} epochs: learns on {n}/{seeds}")

            again_wall, again_cpu, again = timed(claims, cache)
            assert again == verdicts
            print(f"(c) the same class graded again (disk cache): {again_wall:.2f} s wall, {again_cpu:.2f} s CPU")

        if args.worst:
            for profile in ((1024,), (128, 128), (25,) * 10):
                w, c, _ = timed([(profile, 5e-3, 2000)], cache)
                print(f"(d) dearest claim {list(profile)}, 2000 epochs: {w:.1f} s wall, {c:.1f} s CPU "
                      f"= {c / unit_cpu:.0f}x (a)")
        if args.stacked:
            stacked_widths(max(args.claims, 2), random.Random(args.seed))
    print(f"load average over the last minute: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
