"""Calibrate the judgements of ml_fundamentals that involve randomness; write them to
solutions/ml_fundamentals_calibration.json (read by autograder/graders/ml_fundamentals).

  selection: which polynomial degrees a validation procedure picks on fresh noisy samples of the
             lesson's generators (the true model f*, and random low-degree polynomials), over many
             samples and several procedures (the reference's hold-out 1/3, random hold-out 1/3 and 1/2,
             5-fold cross-validation). One pick is too noisy to judge (hold-out validation sometimes picks
             any degree), so the grader judges the MEDIAN pick over BATCH samples: from each procedure's
             pick histogram the exact distribution of that median follows (binomial tails), and the
             accepted range runs from the lowest to the highest median any procedure reaches with
             probability above TAIL.
  networks:  trains the three MNIST reference nets under the notebook's protocol (BCELoss on the
             softmax output, SGD lr 0.1, batch 32, EPOCHS epochs) on several seeds, records their test
             accuracies, saves the first seed's weights as the committed reference weights, and sets each
             threshold MARGIN below the worst seed (rounded down to 0.5 %), checking that a net that
             predicts one class, or an untrained one, stays far below it.

    OMP_NUM_THREADS=1 python solutions/calibrate_ml_fundamentals.py selection [--samples 600]
    OMP_NUM_THREADS=1 python solutions/calibrate_ml_fundamentals.py networks [--seeds 3]
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import math
import re
import time
from collections import Counter
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
OUT = HERE / "ml_fundamentals_calibration.json"
WEIGHTS_DIR = HERE.parent / "source" / "ml_fundamentals"
WEIGHT_FILES = {"linear_accuracy": "mnist_linear.pth", "dnn_accuracy": "mnist_dnn.pth", "cnn_accuracy": "mnist_cnn.pth"}
FACTORIES = {"linear_accuracy": "make_linear_net", "dnn_accuracy": "make_dnn", "cnn_accuracy": "make_cnn"}

# the sampling protocol of the select_degree exercise (the grader draws its hidden samples the same way)
SELECTION = {"count": 45, "max_degree": 12, "true_model_noise": 0.3,
             "low_degrees": [1, 2, 3], "low_noise": 0.05, "low_coefficient_scale": 2.0}
BATCH = 31  # samples per generator family in one grading run
TAIL = 1e-6  # probability of a median pick outside the range, per procedure and side
EPOCHS, MARGIN = 2, 0.01


def solutions():
    spec = importlib.util.spec_from_file_location("_ml_fundamentals_reference", HERE / "ml_fundamentals.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def low_degree_model(rng: np.random.Generator, degree: int, scale: float) -> np.polynomial.Polynomial:
    """Return a random polynomial of exactly `degree` whose leading coefficient is clearly non-zero."""
    coefficients = rng.normal(0., scale, degree + 1)
    coefficients[-1] = rng.choice([-1, 1]) * rng.uniform(1., 2.) * scale
    return np.polynomial.Polynomial(coefficients)


def validation_losses(sol, X, Y, train: np.ndarray, valid: np.ndarray, max_degree: int) -> np.ndarray:
    return sol.train_test_losses(X[train], Y[train], X[valid], Y[valid], range(max_degree + 1))[:, 1]


def procedures(sol, rng: np.random.Generator):
    """Return {name: select(X, Y, max_degree)}: validation procedures a student may reasonably use."""
    def hold_out(share):
        def select(X, Y, max_degree):
            order = rng.permutation(len(X))
            n_val = int(len(X) * share)
            return int(np.argmin(validation_losses(sol, X, Y, order[n_val:], order[:n_val], max_degree)))
        return select

    def k_fold(X, Y, max_degree, k=5):
        folds = np.array_split(rng.permutation(len(X)), k)
        total = sum(validation_losses(sol, X, Y, np.concatenate(folds[:i] + folds[i + 1:]), folds[i], max_degree)
                    for i in range(k))
        return int(np.argmin(total))

    return {"reference (hold-out 1/3, fixed split)": sol.select_degree, "hold-out 1/3": hold_out(1 / 3),
            "hold-out 1/2": hold_out(1 / 2), "5-fold cross-validation": k_fold}


def calibrate_selection(samples: int) -> dict:
    """Return the degrees (true model) and excess degrees (low-degree models) validation picks."""
    sol, rng = solutions(), np.random.default_rng(20211012)
    picks = {"true_model": {}, "low_degree_excess": {}}
    for name, select in procedures(sol, rng).items():
        true_counts, low_counts = Counter(), Counter()
        for _ in range(samples):
            X, Y = sol.sample_true_model(rng, SELECTION["count"], SELECTION["true_model_noise"])
            true_counts[select(X, Y, SELECTION["max_degree"])] += 1
            degree = int(rng.choice(SELECTION["low_degrees"]))
            model = low_degree_model(rng, degree, SELECTION["low_coefficient_scale"])
            X, Y = sol.sample_true_model(rng, SELECTION["count"], SELECTION["low_noise"], model)
            low_counts[select(X, Y, SELECTION["max_degree"]) - degree] += 1
        picks["true_model"][name] = {str(k): v for k, v in sorted(true_counts.items())}
        picks["low_degree_excess"][name] = {str(k): v for k, v in sorted(low_counts.items())}
        print(f"{name}: true model picks {dict(sorted(true_counts.items()))}; "
              f"low-degree excess {dict(sorted(low_counts.items()))}", flush=True)
    return {"protocol": SELECTION, "batch": BATCH, "tail": TAIL, "samples_per_procedure": samples, "picks": picks,
            "median_range_true_model": median_range(picks["true_model"]),
            "median_excess_range_low_degree": median_range(picks["low_degree_excess"])}


def median_range(table: dict[str, dict[str, int]]) -> list[int]:
    """Return [low, high]: the medians of BATCH picks that some procedure reaches with probability > TAIL."""
    at_least = lambda k, n, f: sum(math.comb(n, j) * f ** j * (1 - f) ** (n - j) for j in range(k, n + 1))
    low, high = math.inf, -math.inf
    for counts in table.values():
        values = sorted(int(k) for k in counts)
        total = sum(counts.values())
        cdf = np.cumsum([counts[str(v)] for v in values]) / total
        need = BATCH // 2 + 1  # the median is <= m iff at least `need` of the BATCH picks are <= m
        p_le = [at_least(need, BATCH, f) for f in cdf]          # P(median <= v)
        p_ge = [1.0] + [1 - p for p in p_le[:-1]]                    # P(median >= v)
        low = min(low, min(v for v, p in zip(values, p_le) if p > TAIL))
        high = max(high, max(v for v, p in zip(values, p_ge) if p > TAIL))
    return [int(low), int(high)]


def mnist(train: bool):
    import torchvision

    ds = torchvision.datasets.MNIST(root=str(HERE.parent / "data"), train=train, download=False)
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


def to_json(result: dict) -> str:
    """Return `result` as indented JSON with every list of numbers on one line."""
    text = json.dumps(result, indent=1)
    return re.sub(r"\[\s+([^][{}]*?)\s+\]", lambda m: "[" + " ".join(m.group(1).split()) + "]", text) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("part", choices=("selection", "networks"))
    parser.add_argument("--samples", type=int, default=600, help="noisy samples per validation procedure")
    parser.add_argument("--seeds", type=int, default=3, help="training seeds per reference net")
    args = parser.parse_args()
    began = time.perf_counter()
    part = calibrate_selection(args.samples) if args.part == "selection" else calibrate_networks(args.seeds)
    import torch

    result = json.loads(OUT.read_text()) if OUT.is_file() else {}
    result[args.part] = {**part, "wall_time_s": round(time.perf_counter() - began, 1), "torch": torch.__version__,
                         "numpy": np.__version__}
    result["generated_by"] = "solutions/calibrate_ml_fundamentals.py"
    OUT.write_text(to_json(dict(sorted(result.items()))))
    print(f"wrote {args.part} to {OUT} in {time.perf_counter() - began:.0f} s")


if __name__ == "__main__":
    main()
