"""ml_fundamentals: hidden inputs drawn per grading run, the files a submission carries, the data it reads.

The select_degree samples come from the same generators as the calibration in
solutions/calibrate_ml_fundamentals.py (its SELECTION protocol, recorded in the calibration file)."""
from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import numpy as np

CALIBRATION = Path(__file__).resolve().parents[3] / "solutions" / "ml_fundamentals_calibration.json"
FILES_BY_EXERCISE = {"linear_accuracy": "mnist_linear.pth", "dnn_accuracy": "mnist_dnn.pth",
                     "cnn_accuracy": "mnist_cnn.pth"}
SUBMITTED_FILES = tuple(FILES_BY_EXERCISE.values())
PRELOAD = ("torch", "torchvision", "numpy", "matplotlib.pyplot")
TEST_IMAGES = "MNIST/raw/t10k-images-idx3-ubyte"
TEST_LABELS = "MNIST/raw/t10k-labels-idx1-ubyte"
# what the sandbox may read: the training set and the test images; never the test labels
DATA_FILES = ("MNIST/raw/train-images-idx3-ubyte", "MNIST/raw/train-labels-idx1-ubyte", TEST_IMAGES)
TRUE_MODEL = np.polynomial.Polynomial([0., 2., 0., 0., 0., -10., 0., 0., 0., 0., 15.])
TRUTH_KEY = "select_degree_truth"  # judge-side only: never sent into the sandbox (not an exercise id)


@cache
def calibration() -> dict:
    """Return the lesson's calibration (solutions/ml_fundamentals_calibration.json)."""
    return json.loads(CALIBRATION.read_text())


def _noisy(rng: np.random.Generator, model: np.polynomial.Polynomial, count: int, noise: float) -> dict:
    x = rng.uniform(0., 1., count)
    return {"X": x.tolist(), "Y": (model(x) + rng.normal(0., noise, count)).tolist()}


def _low_degree_model(rng: np.random.Generator, degree: int, scale: float) -> np.polynomial.Polynomial:
    coefficients = rng.normal(0., scale, degree + 1)  # as calibrate_ml_fundamentals.low_degree_model
    coefficients[-1] = rng.choice([-1, 1]) * rng.uniform(1., 2.) * scale
    return np.polynomial.Polynomial(coefficients)


def hidden_inputs(seed: int) -> dict[str, dict]:
    """Return this run's hidden inputs per exercise, drawn from `seed` (recorded in the result)."""
    rng = np.random.default_rng(seed)
    settings = calibration()["selection"]
    protocol, batch = settings["protocol"], settings["batch"]
    train_count = int(rng.integers(14, 22))  # more points than the degree-10 fit needs: no exact interpolation
    degrees = sorted(int(d) for d in rng.choice(11, size=5, replace=False))
    low_degrees = [int(rng.choice(protocol["low_degrees"])) for _ in range(batch)]
    low_models = [_low_degree_model(rng, d, protocol["low_coefficient_scale"]) for d in low_degrees]
    etas = [rng.uniform(0.02, 0.3), rng.uniform(0.3, 0.7), rng.uniform(0.7, 0.98), rng.uniform(1.02, 1.2)]
    scales = rng.uniform(0.2, 8., size=(3, 2))
    return {
        "poly_losses": {**{f"tr_{k}": v for k, v in _noisy(rng, TRUE_MODEL, train_count, 0.3).items()},
                        **{f"te_{k}": v for k, v in _noisy(rng, TRUE_MODEL, int(rng.integers(30, 80)), 0.3).items()},
                        "degrees": degrees},
        "select_degree": {
            "max_degree": protocol["max_degree"],
            "true_model": [_noisy(rng, TRUE_MODEL, protocol["count"], protocol["true_model_noise"]) for _ in range(batch)],
            "low_degree": [_noisy(rng, m, protocol["count"], protocol["low_noise"]) for m in low_models]},
        TRUTH_KEY: {"low_degrees": low_degrees},
        "gd_trajectory": {"cases": [{"theta0": rng.uniform(-5., 5., 2).tolist(), "eta": float(eta),
                                     "epochs": int(rng.integers(5, 26))} for eta in etas]},
        "lr_bound": {"pairs": [[float(a), float(b)] for a, b in scales] + [[float(scales[0, 0])] * 2]},
        **{exercise: {"images": f"/data/{TEST_IMAGES}"} for exercise in FILES_BY_EXERCISE},
    }


def held_out_labels() -> np.ndarray:
    """Return the MNIST test labels, read in the trusted process only."""
    from autograder.config import load_config
    from autograder.datasets import read_idx

    return read_idx(load_config().data_root / TEST_LABELS).astype(np.int64)
