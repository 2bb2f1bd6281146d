"""Calibrate the judgements of ml_fundamentals that involve randomness; write them to
lessons/ml_fundamentals/calibration.json (read by lessons/ml_fundamentals).

  selection: how the select_degree judgements (lessons/ml_fundamentals) treat validation procedures
             the notebook allows and biased ones, on the grader's own hidden data sets (`degree_datasets`: clear-cut
             noisy samples of random polynomials, "plenty" of points for every degree 0..9 and "few" points for
             degrees 0..2 with candidate degrees up to 20). Sound procedures: random hold-outs of 10 % (the low end
             the course recommends), 20 %, a third and a half, the reference's fixed split, k-fold for k = 2, 3, 5,
             10, leave-one-out, a repeated hold-out, with np.polynomial and np.polyfit fits. Over SEEDS simulated
             grading runs it records per procedure how often a pick falls below the true degree (the under-fitting
             check allows ALLOWED_BELOW per run) and the distribution of the mean excess over the true degree in
             each group; max_mean_excess_<group> is the least value (on a grid of 1/8) that no sound procedure
             exceeds with probability > TAIL (exact, from its per-degree excess histograms convolved over the
             group's data sets; Hoeffding's distribution-free bound is recorded beside it). It then checks, run by
             run, that no sound procedure fails and that every biased procedure (a constant degree, max_degree, a
             sound pick shifted down by one, the least training loss, validation points also fitted) fails.
  networks:  trains the three MNIST reference nets under the notebook's protocol (BCELoss on the
             softmax output, SGD lr 0.1, batch 32, EPOCHS epochs) on several seeds, records their test
             accuracies, saves the first seed's weights as the committed reference weights, and sets each
             threshold MARGIN below the worst seed (rounded down to 0.5 %), checking that a net that
             predicts one class, or an untrained one, stays far below it.

    OMP_NUM_THREADS=1 python lessons/ml_fundamentals/calibrate.py selection [--seeds 300] [--workers 2]
    OMP_NUM_THREADS=1 python lessons/ml_fundamentals/calibrate.py networks [--seeds 3]
"""
from __future__ import annotations

import argparse
import functools
import importlib.util
import json
import math
import time
from collections import Counter
from pathlib import Path

import numpy as np

from autograder.calibration import calibration_json

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
OUT = HERE / "calibration.json"
WEIGHTS_DIR = ROOT / "source" / "ml_fundamentals"
WEIGHT_FILES = {"linear_accuracy": "mnist_linear.pth", "dnn_accuracy": "mnist_dnn.pth", "cnn_accuracy": "mnist_cnn.pth"}
FACTORIES = {"linear_accuracy": "make_linear_net", "dnn_accuracy": "make_dnn", "cnn_accuracy": "make_cnn"}

TAIL = 1e-6  # accepted probability, per sound procedure and grading run, of failing the over-fitting check
ALLOWED_BELOW = 1  # picks below the true degree tolerated per run (clear-cut data: sound procedures make none)
SELECTION_BASE = 20211012  # simulated runs draw their data sets from ([SELECTION_BASE, run, 1]), never a grading seed
EPOCHS, MARGIN = 2, 0.01


@functools.cache
def solutions():
    spec = importlib.util.spec_from_file_location("_ml_fundamentals_reference", ROOT / "solutions" / "ml_fundamentals.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@functools.cache
def grader():
    import sys

    sys.path.insert(0, str(ROOT))
    import lessons.ml_fundamentals.spec as module

    return module


def sound_procedures(sol, g, rng: np.random.Generator) -> dict:
    """Return {name: select(X, Y, max_degree)}: validation procedures the notebook allows (fit on a training part,
    return the degree with the least loss on the held-out part), as students write them."""
    def hold_out(share):
        return lambda X, Y, m: g.hold_out_pick(X, Y, rng, share, m)

    def k_fold(k):
        return lambda X, Y, m: g.k_fold_pick(X, Y, rng, k, m)

    def repeated(share, repeats):
        def select(X, Y, m):
            n_valid, total = int(len(X) * share), 0.
            for _ in range(repeats):
                order = rng.permutation(len(X))
                total = total + g.validation_losses(X, Y, order[n_valid:], order[:n_valid], m)
            return int(np.argmin(total))
        return select

    def written_out(fit, share):  # as a student writes it: shuffle, slice, fit every degree, argmin
        def select(X, Y, m):
            order = rng.permutation(len(X))
            n_valid = round(len(X) * share)
            va, tr = order[:n_valid], order[n_valid:]
            losses = [np.mean((fit(X[tr], Y[tr], deg)(X[va]) - Y[va]) ** 2) for deg in range(m + 1)]
            return int(np.argmin(losses))
        return select

    polynomial_fit = lambda x, y, deg: np.polynomial.Polynomial.fit(x, y, deg)
    polyfit = lambda x, y, deg: np.poly1d(np.polyfit(x, y, deg))
    return {"reference (hold-out 1/3, fixed split)": sol.select_degree,
            **{f"hold-out {share:.0%}": hold_out(share) for share in (0.1, 0.2, 1 / 3, 0.5)},
            "hold-out 10%, Polynomial.fit, written out": written_out(polynomial_fit, 0.1),
            "hold-out 1/3, np.polyfit, written out": written_out(polyfit, 1 / 3),
            **{f"{k}-fold cross-validation": k_fold(k) for k in (2, 3, 5, 10)},
            "leave-one-out": lambda X, Y, m: int(np.argmin(g.leave_one_out_losses(X, Y, m))),
            "hold-out 1/3 repeated 10 times": repeated(1 / 3, 10)}


def training_loss(X, Y, m):
    return int(np.argmin([np.mean((np.polynomial.Polynomial.fit(X, Y, d)(X) - Y) ** 2) for d in range(m + 1)]))


def validation_points_also_fitted(X, Y, m):
    va = np.random.default_rng(0).permutation(len(X))[:len(X) // 3]
    return int(np.argmin([np.mean((np.polynomial.Polynomial.fit(X, Y, d)(X[va]) - Y[va]) ** 2) for d in range(m + 1)]))


def simulate_run(run: int) -> dict:
    """Return the picks of every sound procedure and of the biased ones that need the data, on one simulated run's
    data sets, the truth (degrees, groups), and whether the judge's own procedures confirm each "plenty" data set
    as clear-cut."""
    import warnings

    warnings.simplefilter("ignore")  # np.polyfit / Polynomial.fit warn on the underdetermined high degrees
    sol, g = solutions(), grader()
    datasets, truth = g.degree_datasets(np.random.default_rng([SELECTION_BASE, run, 1]))
    rng = np.random.default_rng([SELECTION_BASE, run, 3])
    procedures = {**sound_procedures(sol, g, rng), "least training loss": training_loss,
                  "validation points also fitted": validation_points_also_fitted}
    picks = {name: [] for name in procedures}
    judge_rng, confirmed = np.random.default_rng([SELECTION_BASE, run, 2]), []
    for dataset, degree, group in zip(datasets, truth["degrees"], truth["groups"]):
        X, Y, m = np.asarray(dataset["X"]), np.asarray(dataset["Y"]), dataset["max_degree"]
        for name, select in procedures.items():
            picks[name].append(int(select(X, Y, m)))
        confirmed.append(group == "plenty" and min(g.sound_picks(X, Y, m, judge_rng)) >= degree)
    return {**truth, "max_degrees": [d["max_degree"] for d in datasets], "picks": picks, "confirmed": confirmed}


def mean_excess(picks: list[int], run: dict, group: str, up_to: int) -> float:
    return float(np.mean([p - d for p, d, g in zip(picks, run["degrees"], run["groups"]) if g == group and d <= up_to]))


def verdicts(picks: list[int], run: dict, protocol: dict, tolerances: dict) -> dict:
    """Return how one procedure's picks on one run fare in the grader's checks (as the grader judges them)."""
    below = sum(p < d for p, d, c in zip(picks, run["degrees"], run["confirmed"]) if c)
    plenty = mean_excess(picks, run, "plenty", protocol["plenty"]["low_degrees"])
    few = mean_excess(picks, run, "few", len(protocol["few"]["copies"]))
    failed = {"out of range": any(not 0 <= p <= m for p, m in zip(picks, run["max_degrees"])),
              "under-fits": below > tolerances["allowed_below"],
              "over-fits (plenty)": plenty > tolerances["max_mean_excess_plenty"],
              "over-fits (few)": few > tolerances["max_mean_excess_few"]}
    return {"below": below, "plenty": plenty, "few": few, "failed": [k for k, v in failed.items() if v]}


def mean_excess_tail(histograms: dict[int, Counter], copies: list[int], tail: float) -> float:
    """Return the least t on the grid of possible means such that P(mean excess > t) <= tail, the data sets'
    excesses being independent draws from their degree's histogram (copies[d] data sets of degree d)."""
    total, count = np.array([1.]), 0  # distribution of the summed excess, index = sum
    for degree, copies_of_degree in enumerate(copies):
        counts = histograms[degree]
        pmf = np.zeros(max(max(counts), 0) + 1)
        for excess, n in counts.items():
            pmf[max(excess, 0)] += n  # an under-fit counts as excess 0 here (the other check judges it)
        pmf /= pmf.sum()
        for _ in range(copies_of_degree):
            total = np.convolve(total, pmf)
            count += 1
    survival = total[::-1].cumsum()[::-1]  # survival[s] = P(sum >= s)
    over = next(s for s in range(len(total)) if s + 1 >= len(total) or survival[s + 1] <= tail)
    return over / count


def hoeffding(mean: float, threshold: float, ranges: list[int]) -> float:
    """Return Hoeffding's bound on P(mean excess > threshold) when its expectation is `mean` (excess i in [0, r_i])."""
    n, gap = len(ranges), threshold - mean
    return float(math.exp(-2 * n * n * gap * gap / sum(r * r for r in ranges))) if gap > 0 else 1.0


def calibrate_selection(seeds: int, workers: int) -> dict:
    """Return the select_degree tolerances with the figures behind them."""
    import multiprocessing

    g = grader()
    protocol = g.SELECTION
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        runs = pool.map(simulate_run, range(seeds), chunksize=4)
    biased_names = ("least training loss", "validation points also fitted")
    sound = [name for name in runs[0]["picks"] if name not in biased_names]
    groups = {"plenty": (protocol["plenty"]["copies"][:protocol["plenty"]["low_degrees"] + 1],
                         protocol["plenty"]["max_degree"]),
              "few": (protocol["few"]["copies"], protocol["few"]["max_degree"])}
    figures, thresholds = {}, {group: {} for group in groups}
    for name in sound:
        figures[name] = {}
        for group, (copies, top) in groups.items():
            histograms = {d: Counter() for d in range(len(protocol[group]["copies"]))}
            for run in runs:
                for p, d, gr in zip(run["picks"][name], run["degrees"], run["groups"]):
                    if gr == group:
                        histograms[d][p - d] += 1
            thresholds[group][name] = mean_excess_tail(histograms, copies, TAIL)
            means = [mean_excess(run["picks"][name], run, group, len(copies) - 1) for run in runs]
            picks = sum(histograms[d].total() for d in histograms)
            figures[name][group] = {
                "picks": picks, "below_true_degree": sum(n for d in histograms for e, n in histograms[d].items() if e < 0),
                "exact_share_by_degree": [round(histograms[d][0] / histograms[d].total(), 3) for d in histograms],
                "mean_excess": round(float(np.mean(means)), 3), "mean_excess_max_over_runs": round(float(np.max(means)), 3),
                "mean_excess_threshold_at_tail": round(thresholds[group][name], 3)}
        print(f"{name}: {figures[name]}", flush=True)
    tolerances = {"allowed_below": ALLOWED_BELOW}
    for group, (copies, top) in groups.items():
        # the least threshold every sound procedure respects at TAIL, on a grid of 1/8
        tolerances[f"max_mean_excess_{group}"] = math.ceil(max(thresholds[group].values()) * 8) / 8
        ranges = [top - d for d, c in enumerate(copies) for _ in range(c)]
        for name in sound:
            figures[name][group]["hoeffding_bound_at_threshold"] = hoeffding(
                figures[name][group]["mean_excess"], tolerances[f"max_mean_excess_{group}"], ranges)
    # every run judged as the grader judges it: sound procedures pass, biased ones fail
    sound_failures = {name: sum(bool(verdicts(r["picks"][name], r, protocol, tolerances)["failed"]) for r in runs)
                      for name in sound}
    biased = {f"constant {c}": (lambda r, c=c: [c] * len(r["degrees"])) for c in range(11)}
    biased["max_degree"] = lambda r: list(r["max_degrees"])
    biased["min(10, max_degree)"] = lambda r: [min(10, m) for m in r["max_degrees"]]
    biased.update({f"{name}, one degree lower": (lambda r, n=name: [max(p - 1, 0) for p in r["picks"][n]])
                   for name in sound})
    biased.update({name: (lambda r, n=name: r["picks"][n]) for name in biased_names})
    biased_passes, caught_by = {}, {}
    for name, make in biased.items():
        failed = [verdicts(make(r), r, protocol, tolerances)["failed"] for r in runs]
        biased_passes[name] = sum(not f for f in failed)
        caught_by[name] = dict(Counter(k for f in failed for k in f))
    one_higher = {name: sum(not verdicts([min(p + 1, m) for p, m in zip(r["picks"][name], r["max_degrees"])], r,
                                         protocol, tolerances)["failed"] for r in runs) for name in sound}
    unconfirmed = sum(not c for r in runs for c, g_ in zip(r["confirmed"], r["groups"]) if g_ == "plenty")
    print(f"tolerances {tolerances}; sound runs failed {sound_failures}; biased runs passed {biased_passes}; "
          f"caught by {caught_by}; judge-unconfirmed data sets {unconfirmed}", flush=True)
    if any(sound_failures.values()) or any(biased_passes.values()):
        raise SystemExit("the select_degree checks do not separate sound from biased procedures on every run")
    return {"protocol": protocol, "runs": seeds, "tail": TAIL, "tolerances": tolerances,
            "judge_unconfirmed_plenty_data_sets": unconfirmed,
            "sound_procedures": figures, "sound_runs_failed": sound_failures,
            "biased_runs_passed": biased_passes, "biased_caught_by": caught_by,
            "sound_pick_one_higher_runs_passed (not required to fail)": one_higher}


def mnist(train: bool):
    import torchvision

    ds = torchvision.datasets.MNIST(root=str(ROOT / "data"), train=train, download=False)
    return ds.data.unsqueeze(1).float() / 255., ds.targets.clone()


def train_net(factory, seed: int, x, y):
    """Return a net trained as in the notebook (BCELoss on softmax outputs, SGD lr 0.1, batch 32)."""
    import torch

    torch.manual_seed(seed)
    net = factory()
    crit, opt = torch.nn.BCELoss(), torch.optim.SGD(net.parameters(), lr=0.1)
    targets = torch.nn.functional.one_hot(y, 10).float()
    net.train()
    for _ in range(EPOCHS):
        for batch in torch.randperm(len(x)).split(32):
            opt.zero_grad()
            crit(net(x[batch]), targets[batch]).backward()
            opt.step()
    return net.eval()


def test_accuracy(net, x, y) -> float:
    import torch

    with torch.no_grad():
        predictions = torch.cat([net(b).argmax(dim=1) for b in x.split(1000)])
    return float((predictions == y).float().mean())


def calibrate_networks(seeds: int) -> dict:
    import torch

    torch.set_num_threads(1)
    sol = solutions()
    (x, y), (tx, ty) = mnist(True), mnist(False)
    majority = float(torch.bincount(ty).max()) / len(ty)
    result = {"protocol": {"loss": "BCELoss on softmax outputs", "optimizer": "SGD", "lr": 0.1, "batch_size": 32,
                           "epochs": EPOCHS}, "seeds": list(range(seeds)), "margin": MARGIN,
              "one_class_accuracy": majority, "nets": {}}
    for exercise, factory in FACTORIES.items():
        accuracies, untrained = [], test_accuracy(getattr(sol, factory)(), tx, ty)
        for seed in range(seeds):
            began = time.perf_counter()
            net = train_net(getattr(sol, factory), seed, x, y)
            accuracies.append(test_accuracy(net, tx, ty))
            print(f"{exercise} seed {seed}: test accuracy {accuracies[-1]:.4f} ({time.perf_counter() - began:.0f} s)",
                  flush=True)
            if seed == 0:
                torch.save(net.state_dict(), WEIGHTS_DIR / WEIGHT_FILES[exercise])
        threshold = math.floor((min(accuracies) - MARGIN) * 200) / 200
        if threshold < max(majority, untrained) + 0.3:
            raise SystemExit(f"{exercise}: threshold {threshold} is too close to a trivial net's accuracy")
        result["nets"][exercise] = {"test_accuracy_per_seed": accuracies, "untrained_accuracy": untrained,
                                    "threshold": threshold, "committed_weights": WEIGHT_FILES[exercise],
                                    "committed_accuracy": accuracies[0]}
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("part", choices=("selection", "networks"))
    parser.add_argument("--seeds", type=int, default=None,
                        help="simulated grading runs (selection, default 300) or training seeds per net (networks, default 3)")
    parser.add_argument("--workers", type=int, default=2, help="processes for the selection runs")
    args = parser.parse_args()
    began = time.perf_counter()
    part = (calibrate_selection(args.seeds or 300, args.workers) if args.part == "selection"
            else calibrate_networks(args.seeds or 3))
    import torch

    result = json.loads(OUT.read_text()) if OUT.is_file() else {}
    result[args.part] = {**part, "wall_time_s": round(time.perf_counter() - began, 1), "torch": torch.__version__,
                         "numpy": np.__version__}
    result["generated_by"] = "lessons/ml_fundamentals/calibrate.py"
    OUT.write_text(calibration_json(dict(sorted(result.items()))))
    print(f"wrote {args.part} to {OUT} in {time.perf_counter() - began:.0f} s")


if __name__ == "__main__":
    main()
