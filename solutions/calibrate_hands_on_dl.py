"""Calibrate the hands-on-DL width exercises under the lesson's training protocol.

For each training seed it finds the least one-hidden-layer width whose least loss
reaches the threshold (a coarse grid of widths, then every width in the brackets
where seeds first succeed), and it searches a small deep profile that learns f.

    python solutions/calibrate_hands_on_dl.py [--seeds N] [--out solutions/hands_on_dl_calibration.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch

from autograder.replicas import learns, lesson_data, train_replicas, train_width_grid

PROTOCOL = {"epochs": 250, "batch_size": 4, "lr": 5e-3}
THRESHOLD = 1e-3
COARSE_WIDTHS = list(range(192, 513, 16))
CHUNK = 16  # widths trained together: little padding, many replicas per step
VERIFICATION_SEEDS = [100, 101, 102, 103, 104]
DEEP_QUORUM = 4
# candidates by total neurons; the first that learns f on DEEP_QUORUM verification seeds is the reference
DEEP_CANDIDATES = [[64, 64], [96, 64], [96, 96], [128, 96], [64, 64, 64], [128, 128], [96, 96, 64], [160, 128]]


def least_losses(widths: list[int], seeds: list[int], data: tuple[torch.Tensor, torch.Tensor]) -> dict[int, list[float]]:
    """Return {width: [least loss per seed]} for one-hidden-layer nets, trained CHUNK widths at a time."""
    table = {}
    for start in range(0, len(widths), CHUNK):
        chunk = widths[start:start + CHUNK]
        began = time.perf_counter()
        grid = train_width_grid(chunk, seeds, *data, **PROTOCOL)
        table.update({width: losses.tolist() for width, losses in grid.items()})
        print(f"  widths {chunk[0]}..{chunk[-1]} x {len(seeds)} seeds: {time.perf_counter() - began:.0f} s", flush=True)
    return table


def minimal_widths(seeds: list[int], data: tuple[torch.Tensor, torch.Tensor]) -> tuple[dict[int, int], dict[int, list[float]]]:
    """Return ({seed: least width reaching THRESHOLD}, {width: least losses}) from a coarse then a fine scan."""
    print(f"coarse scan of widths {COARSE_WIDTHS[0]}..{COARSE_WIDTHS[-1]} step {COARSE_WIDTHS[1] - COARSE_WIDTHS[0]}")
    table = least_losses(COARSE_WIDTHS, seeds, data)
    firsts = [min((w for w in COARSE_WIDTHS if table[w][i] <= THRESHOLD), default=None) for i in range(len(seeds))]
    if None in firsts or min(firsts) == COARSE_WIDTHS[0]:
        raise SystemExit(f"the coarse grid does not bracket every seed's least width: {dict(zip(seeds, firsts))}")
    step = COARSE_WIDTHS[1] - COARSE_WIDTHS[0]
    fine = [w for w in range(min(firsts) - step + 1, max(firsts)) if w not in table]
    print(f"fine scan of every width in {fine[0]}..{fine[-1]}")
    table.update(least_losses(fine, seeds, data))
    table = dict(sorted(table.items()))
    minimal = {seed: min(w for w, losses in table.items() if losses[i] <= THRESHOLD) for i, seed in enumerate(seeds)}
    return minimal, table


def reference_deep_profile(below: int, data: tuple[torch.Tensor, torch.Tensor]) -> tuple[dict, list[dict]]:
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
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("hands_on_dl_calibration.json"))
    args = parser.parse_args()
    began, data, seeds = time.perf_counter(), lesson_data(), list(range(args.seeds))
    minimal, table = minimal_widths(seeds, data)
    print(f"least width per seed: {minimal}")
    band = [min(minimal.values()) - 1, max(minimal.values()) + 1]
    print(f"deep candidates with fewer than {band[0]} neurons, verification seeds {VERIFICATION_SEEDS}")
    deep, tried = reference_deep_profile(band[0], data)
    result = {
        "protocol": {**PROTOCOL, "optimizer": "Adam", "loss": "BCELoss", "loss_threshold": THRESHOLD,
                     "shuffle": True, "least_loss": "min over epochs of the epoch's mean training batch loss"},
        "seeds": seeds,
        "minimal_width_per_seed": {str(seed): width for seed, width in minimal.items()},
        "w1_reference": statistics.median_low(minimal.values()),
        "w1_band": band,
        "one_layer_least_losses": {str(width): losses for width, losses in table.items()},
        "verification_seeds": VERIFICATION_SEEDS,
        "reference_deep_profile": deep,
        "deep_candidates_tried": tried,
        "generated_by": "solutions/calibrate_hands_on_dl.py",
        "torch": torch.__version__,
        "wall_time_s": round(time.perf_counter() - began, 1),
    }
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {args.out} in {result['wall_time_s']} s")


if __name__ == "__main__":
    main()
