"""Train the reference weights of digits_from_scratch and calibrate its judgements; writes
source/digits_from_scratch/digits_model.pth (seed 0), digits_model_undertrained.pth (a mutant's file) and
lessons/digits_from_scratch/calibration.json.

Run from the course root with one thread (about two minutes):
    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 .venv/bin/python lessons/digits_from_scratch/calibrate.py
"""
from __future__ import annotations

import contextlib
import io
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "solutions"))

import digits_from_scratch as reference  # noqa: E402

from autograder.config import load_config  # noqa: E402
from autograder.datasets import MNIST_TEST  # noqa: E402
from autograder.judge import read_labels  # noqa: E402
from lessons.digits_from_scratch import spec as grader  # noqa: E402

TRAINING_SEEDS = [0, 1, 2, 3, 4]  # NN_Model initialisations; seed 0's weights are submitted
GRADIENT_SEEDS = list(range(10))  # hidden-input seeds for the backprop check
ACCURACY_THRESHOLD = 0.90  # from the issue; the reference must clear it on every training seed
UNDERTRAINED_STEPS = 40  # SGD steps of the mutant file "under-trained"


def held_out_accuracy(path: Path) -> float:
    state = {k: v.double().numpy() for k, v in torch.load(path, weights_only=True).items()}
    return float(np.mean(grader.predict(state, grader.held_out_images()) == read_labels(load_config(ROOT).data_root / MNIST_TEST.labels)))


def backprop_errors() -> list[float]:
    """Return, per hidden-input seed, the reference backprop's largest relative error against autograd."""
    worst = []
    for seed in GRADIENT_SEEDS:
        inputs = grader.hidden_inputs(seed)["backprop"]
        model = reference.NN_Model()
        model.weights = [np.array(layer["weight"]) for layer in inputs["layers"]]
        model.biases = [np.array(layer["bias"]) for layer in inputs["layers"]]
        errors = []
        for case in inputs["cases"]:
            got = reference.backprop(model, np.array(case["x"]), np.array(case["target"]))
            expected = grader.autograd_gradients(inputs["layers"], case["x"], case["target"])
            errors += [grader.relative_error(g, e) for part in (0, 1) for g, e in zip(got[part], expected[part])]
        worst.append(max(errors))
    return worst


def main() -> None:
    torch.set_num_threads(1)
    (image_train, label_train), (image_valid, label_valid), _ = reference.load_data(ROOT / "data" / "mnist_from_scratch" / "mnist.pkl.gz")
    lesson = ROOT / "source" / "digits_from_scratch"
    runs = []
    for seed in TRAINING_SEEDS:
        started = time.monotonic()
        model = reference.NN_Model(seed=seed)
        with contextlib.redirect_stdout(io.StringIO()):
            costs = reference.train_model(reference.num_epochs, reference.batch_size, reference.learning_rate,
                                          image_train, label_train, model)
        path = lesson / "digits_model.pth" if seed == 0 else Path(f"/tmp/digits_model_seed{seed}.pth")
        reference.save_model(model, path)
        runs.append({"seed": seed, "final_cost": costs[-1], "seconds": round(time.monotonic() - started, 1),
                     "validation_accuracy": reference.accuracy(model, image_valid, label_valid),
                     "test_accuracy": held_out_accuracy(path)})
        print(runs[-1], flush=True)
    model = reference.NN_Model(seed=0)
    for step in range(UNDERTRAINED_STEPS):
        batch = slice(step * reference.batch_size, (step + 1) * reference.batch_size)
        reference.sgd_step(model, image_train[batch], reference.get_target(label_train[batch]), reference.learning_rate)
    reference.save_model(model, lesson / "digits_model_undertrained.pth")
    undertrained = held_out_accuracy(lesson / "digits_model_undertrained.pth")
    errors = backprop_errors()
    accuracies = [run["test_accuracy"] for run in runs]
    assert min(accuracies) >= ACCURACY_THRESHOLD + 0.02, "the reference does not clear the threshold comfortably"
    assert undertrained < ACCURACY_THRESHOLD - 0.05, "the under-trained file is too good to be a mutant"
    assert max(errors) < 1e-9, "the reference backprop disagrees with autograd"
    result = {
        "protocol": {"learning_rate": reference.learning_rate, "batch_size": reference.batch_size,
                     "epochs": reference.num_epochs, "cost": "sum of squared errors over the batch",
                     "threads": 1},
        "training_runs": runs,
        "test_accuracy_min": min(accuracies), "test_accuracy_median": float(np.median(accuracies)),
        "accuracy_threshold": ACCURACY_THRESHOLD,
        "undertrained": {"sgd_steps": UNDERTRAINED_STEPS, "test_accuracy": undertrained},
        "backprop_relative_error_per_seed": errors,
        "backprop_relative_tolerance": 1e-6,
    }
    out = Path(__file__).with_name("calibration.json")
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "training_runs"}, indent=1))


if __name__ == "__main__":
    main()
