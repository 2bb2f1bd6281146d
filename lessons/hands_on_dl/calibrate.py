"""Calibrate the hands-on-DL width exercises under the lesson's default training protocol.

It trains one-hidden-layer nets of many widths on every seed (a coarse grid, then
every width over the range where learning f is hit-and-miss), and records for each
seed the least width whose least loss reaches the threshold, the least width that
learns f on a strict majority of seeds (`w1_least`), and the least width from which
every seed learns f.  Then it searches a small deep profile that learns f.

The graders verify a student's claim (a width, or a deep profile, and the training
the student states) by training it on the judge's own seeds (`judge_seeds`): a claim
that learns f earns the larger share; it is "small" when a one-layer width is at most
`w1_least`, or a deep profile uses fewer neurons in total than `w1_least`.
None of these numbers is ever shown to a student.  On a shared machine run it with
OMP_NUM_THREADS=1.

    python lessons/hands_on_dl/calibrate.py [--seeds N] [--out lessons/hands_on_dl/calibration.json]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from autograder.calibration import calibration_json
from autograder.replicas import learns, lesson_data, train_replicas, train_width_grid

Data = tuple[torch.Tensor, torch.Tensor]
PROTOCOL = {"epochs": 250, "batch_size": 4, "lr": 5e-3}
THRESHOLD = 1e-3
COARSE_WIDTHS = list(range(192, 513, 16))
CHUNK = 16  # widths trained together: little padding, many replicas per step
VERIFICATION_SEEDS = [100, 101, 102, 103, 104]  # also the judge's seeds: never shown to a student
DEEP_QUORUM = 4
DEFINITIONS = {
    "minimal_width_per_seed": "least scanned one-hidden-layer width whose least loss reaches loss_threshold",
    "w1_least": "least scanned one-hidden-layer width whose least loss reaches loss_threshold on a strict majority "
                "of seeds under the default protocol: a claimed w_1 is small when at most this, a deep profile "
                "when its total is less than this",
    "w1_reference": "least width from which every seed learns f at every scanned width",
    "learned_on_per_width": "number of seeds on which each scanned width learns f",
    "judge_seeds": "the seeds the graders train a claim on (one replica each); it learns f on a strict majority",
    "reference_deep_profile": f"first of deep_candidates_tried to learn f on {DEEP_QUORUM}+ verification_seeds",
}
# candidates by total neurons; the first that learns f on DEEP_QUORUM verification seeds is the reference
DEEP_CANDIDATES = [[48, 48], [56, 48], [56, 56], [64, 56], [64, 64], [80, 64], [96, 64], [64, 64, 64], [128, 128]]


def least_losses(widths: list[int], seeds: list[int], data: Data) -> dict[int, list[float]]:
    """Return {width: [least loss per seed]} for one-hidden-layer nets, trained CHUNK widths at a time."""
    table = {}
    for start in range(0, len(widths), CHUNK):
        chunk = widths[start:start + CHUNK]
        began = time.perf_counter()
        grid = train_width_grid(chunk, seeds, *data, **PROTOCOL)
        table.update({width: losses.tolist() for width, losses in grid.items()})
        print(f"  widths {chunk[0]}..{chunk[-1]} x {len(seeds)} seeds: {time.perf_counter() - began:.0f} s", flush=True)
    return table


def scan_widths(seeds: list[int], data: Data) -> dict[int, list[float]]:
    """Return {width: least losses per seed}: a coarse grid, then every width from where the coarse
    grid stops learning on every seed down to a block of CHUNK widths where no seed learns."""
    step = COARSE_WIDTHS[1] - COARSE_WIDTHS[0]
    print(f"coarse scan of widths {COARSE_WIDTHS[0]}..{COARSE_WIDTHS[-1]} step {step}")
    table = least_losses(COARSE_WIDTHS, seeds, data)
    learned = {w: [loss <= THRESHOLD for loss in losses] for w, losses in table.items()}
    failing = [w for w in COARSE_WIDTHS if not all(learned[w])]
    first_any = min((w for w in COARSE_WIDTHS if any(learned[w])), default=None)
    if first_any is None or first_any == COARSE_WIDTHS[0] or failing[-1] == COARSE_WIDTHS[-1]:
        raise SystemExit("the coarse grid does not span from no seed learning f to every seed learning it")
    low = first_any - step + 1
    print(f"fine scan of every width in {low}..{failing[-1] + step - 1}")
    table.update(least_losses([w for w in range(low, failing[-1] + step) if w not in table], seeds, data))
    while any(loss <= THRESHOLD for w in range(low, low + CHUNK) for loss in table[w]) and low > CHUNK:
        low -= CHUNK
        print(f"seeds still learn near the bottom: extending the fine scan down to {low}")
        table.update(least_losses([w for w in range(low, low + CHUNK) if w not in table], seeds, data))
    return dict(sorted(table.items()))


def reference_deep_profile(below: int, data: Data) -> tuple[dict, list[dict]]:
    """Return (the smallest candidate deep profile that learns f, every candidate tried with its losses)."""
    tried = []
    for profile in (p for p in DEEP_CANDIDATES if sum(p) < below):
        began = time.perf_counter()
        losses = train_replicas(profile, VERIFICATION_SEEDS, *data, **PROTOCOL)
        verdict = {"profile": profile, "neurons": sum(profile), "learned_on": int((losses <= THRESHOLD).sum()),
                   "least_loss_per_seed": dict(zip(map(str, VERIFICATION_SEEDS), losses.tolist()))}
        tried.append(verdict)
        print(f"  {profile}: learns on {verdict['learned_on']}/{len(VERIFICATION_SEEDS)} seeds, "
              f"least losses {[f'{v:.1e}' for v in losses.tolist()]} ({time.perf_counter() - began:.0f} s)", flush=True)
        if learns(losses, THRESHOLD, quorum=DEEP_QUORUM):
            return verdict, tried
    raise SystemExit(f"no deep candidate with fewer than {below} neurons learns f")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=8, help="training seeds for the one-layer least width")
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("calibration.json"))
    args = parser.parse_args()
    began, data, seeds = time.perf_counter(), lesson_data(), list(range(args.seeds))
    table = scan_widths(seeds, data)
    minimal = {seed: min(w for w, losses in table.items() if losses[i] <= THRESHOLD) for i, seed in enumerate(seeds)}
    # the least width from which every seed learns f at every scanned width: the notebook's reference w_1
    every = min(w for w in table if all(loss <= THRESHOLD for v in table if v >= w for loss in table[v]))
    learned_on = {w: sum(loss <= THRESHOLD for loss in losses) for w, losses in table.items()}
    least = min(w for w, n in learned_on.items() if n * 2 > len(seeds))
    print(f"least width per seed: {minimal}; a majority of seeds learns first at {least}; "
          f"every seed learns from {every} on")
    print(f"deep candidates with fewer than {least} neurons, verification seeds {VERIFICATION_SEEDS}")
    deep, tried = reference_deep_profile(least, data)
    result = {
        "definitions": DEFINITIONS,
        "protocol": {**PROTOCOL, "optimizer": "Adam", "loss": "BCELoss", "loss_threshold": THRESHOLD,
                     "shuffle": True, "least_loss": "min over epochs of the epoch's mean training batch loss"},
        "seeds": seeds,
        "minimal_width_per_seed": {str(seed): width for seed, width in minimal.items()},
        "w1_least": least,
        "w1_reference": every,
        "learned_on_per_width": {str(width): n for width, n in learned_on.items()},
        "one_layer_least_losses": {str(width): losses for width, losses in table.items()},
        "verification_seeds": VERIFICATION_SEEDS,
        "judge_seeds": VERIFICATION_SEEDS,
        "reference_deep_profile": deep,
        "deep_candidates_tried": tried,
        "generated_by": "lessons/hands_on_dl/calibrate.py",
        "torch": torch.__version__,
        "wall_time_s": round(time.perf_counter() - began, 1),
    }
    args.out.write_text(calibration_json(result))
    print(f"wrote {args.out} in {result['wall_time_s']} s")


if __name__ == "__main__":
    main()
