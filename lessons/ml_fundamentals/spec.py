"""ml_fundamentals: the lesson's spec, the hidden inputs drawn per grading run, and select_degree's judge.

select_degree is judged on clear-cut data sets (SELECTION): noisy samples of random polynomials of known degree,
with enough points and little enough noise that validation, however the data are split, never needs a degree
below the true one; the judge confirms that per data set with its own sound procedures (`sound_picks`).
lessons/ml_fundamentals/calibrate.py draws its samples from `degree_datasets` and records the tolerances."""
from __future__ import annotations

import numpy as np

from autograder.datasets import MNIST_TEST, MNIST_TRAIN_FILES
from autograder.calibration import calibration_of
from autograder.spec import LessonSpec

NETWORKS = {"linear_accuracy": "mnist_linear.pth", "dnn_accuracy": "mnist_dnn.pth", "cnn_accuracy": "mnist_cnn.pth"}
TRUE_MODEL = np.polynomial.Polynomial([0., 2., 0., 0., 0., -10., 0., 0., 0., 0., 15.])
TRUTH_KEY = "select_degree_truth"  # judge-side only: never sent into the sandbox (not an exercise id)

# select_degree's hidden data sets, in two groups. Each data set is a noisy sample of a random polynomial
# sum_k c_k T_k(2x - 1) (Chebyshev) of degree d, whose degree-d coefficient is clearly non-zero (|c_d| in `leading`,
# the others standard normal), at inputs spread over [0, 1] with the ends well covered (jittered arcsine spacing:
# the training part of any split reaches close to both ends, so no sound fit extrapolates far), with Gaussian
# noise of a standard deviation drawn from `noise`.
#   plenty: `copies[d]` samples of each degree d = 0..max_degree at 60 or 90 points: clear-cut, every sound
#           validation procedure picks at least d (under-fitting check); on those of degree <= low_degrees the mean
#           excess of the picks over d is bounded (over-fitting check).
#   few:    samples of degree 0..2 at 30 points with candidate degrees up to 20: a fit of high degree on a training
#           part of such a sample predicts held-out points badly, so validation stays near d, while a loss measured
#           on points the fit has seen keeps falling up to the highest degree (over-fitting check).
# Point counts are multiples of 30, so k-fold splits with np.split work for k = 2, 3, 5, 6, 10.
SELECTION = {"plenty": {"max_degree": 9, "copies": [6, 6, 6, 6, 3, 3, 3, 3, 3, 3], "points": [60, 90], "low_degrees": 3},
             "few": {"max_degree": 20, "copies": [10, 10, 10], "points": [30]},
             "noise": [0.005, 0.02], "leading": [1.0, 2.0]}


def selection_tolerances() -> dict:
    """Return the select_degree tolerances, refusing a calibration made for another data-set protocol."""
    settings = calibration_of(__file__)["selection"]
    if settings["protocol"] != SELECTION:
        raise RuntimeError("lessons/ml_fundamentals/calibration.json was made for another select_degree protocol: "
                           "re-run lessons/ml_fundamentals/calibrate.py selection")
    return settings["tolerances"]


def _noisy(rng: np.random.Generator, model: np.polynomial.Polynomial, count: int, noise: float) -> dict:
    x = rng.uniform(0., 1., count)
    return {"X": x.tolist(), "Y": (model(x) + rng.normal(0., noise, count)).tolist()}


def noisy_polynomial(rng: np.random.Generator, degree: int, count: int, protocol: dict = SELECTION) -> dict:
    """Return one data set {"X", "Y"}: a noisy sample of a random polynomial of exactly `degree` (see SELECTION)."""
    coefficients = rng.normal(0., 1., degree + 1)
    coefficients[degree] = rng.choice([-1., 1.]) * rng.uniform(*protocol["leading"])
    spread = (np.arange(count) + rng.uniform(0., 1., count)) / count
    x = rng.permutation((1. - np.cos(np.pi * spread)) / 2.)
    noise = rng.normal(0., rng.uniform(*protocol["noise"]), count)
    return {"X": x.tolist(), "Y": (np.polynomial.chebyshev.chebval(2. * x - 1., coefficients) + noise).tolist()}


def degree_datasets(rng: np.random.Generator, protocol: dict = SELECTION) -> tuple[list[dict], dict]:
    """Return (data sets {"X", "Y", "max_degree"} in a shuffled order, the truth: per data set its polynomial's
    degree and its group, "plenty" or "few")."""
    datasets, degrees, groups = [], [], []
    for group in ("plenty", "few"):
        settings = protocol[group]
        for degree, copies in enumerate(settings["copies"]):
            for _ in range(copies):
                count = int(rng.choice(settings["points"]))
                datasets.append({**noisy_polynomial(rng, degree, count, protocol), "max_degree": settings["max_degree"]})
                degrees.append(degree)
                groups.append(group)
    order = rng.permutation(len(datasets))
    return [datasets[i] for i in order], {"degrees": [degrees[i] for i in order], "groups": [groups[i] for i in order]}


def hidden_inputs(seed: int) -> dict[str, dict]:
    """Return this run's hidden inputs per exercise, drawn from `seed` (recorded in the result)."""
    rng = np.random.default_rng(seed)
    train_count = int(rng.integers(14, 22))  # more points than the degree-10 fit needs: no exact interpolation
    degrees = sorted(int(d) for d in rng.choice(11, size=5, replace=False))
    etas = [rng.uniform(0.02, 0.3), rng.uniform(0.3, 0.7), rng.uniform(0.7, 0.98), rng.uniform(1.02, 1.2)]
    scales = rng.uniform(0.2, 8., size=(3, 2))
    datasets, truth = degree_datasets(np.random.default_rng([seed, 1]))
    return {
        "poly_losses": {**{f"tr_{k}": v for k, v in _noisy(rng, TRUE_MODEL, train_count, 0.3).items()},
                        **{f"te_{k}": v for k, v in _noisy(rng, TRUE_MODEL, int(rng.integers(30, 80)), 0.3).items()},
                        "degrees": degrees},
        "select_degree": {"datasets": datasets},
        TRUTH_KEY: truth,
        "gd_trajectory": {"cases": [{"theta0": rng.uniform(-5., 5., 2).tolist(), "eta": float(eta),
                                     "epochs": int(rng.integers(5, 26))} for eta in etas]},
        "lr_bound": {"pairs": [[float(a), float(b)] for a, b in scales] + [[float(scales[0, 0])] * 2]},
        **{exercise: {"images": f"/data/{MNIST_TEST.images}", "probe_images": rng.uniform(0., 1., (6, 1, 28, 28)).tolist(),
                      "weight_seed": int(rng.integers(2**31))} for exercise in NETWORKS},
    }


# ---------------------------------------------------------------- the judge's own sound validation procedures
def _basis(x: np.ndarray, lo: float, hi: float, max_degree: int) -> np.ndarray:
    return np.polynomial.chebyshev.chebvander((2. * x - lo - hi) / (hi - lo), max_degree)


def validation_losses(x: np.ndarray, y: np.ndarray, train: np.ndarray, valid: np.ndarray, max_degree: int) -> np.ndarray:
    """Return the mean squared error on `valid` of the least-squares polynomial of each degree 0..max_degree
    fitted on `train`: the fits np.polynomial.Polynomial.fit makes. A degree the training part cannot determine
    (as many coefficients as points, or more) gets an infinite loss.

    With V = QR on the training points, the fit of degree k predicts sum_{j <= k} (V' R^-1)_j (Q^T y)_j at inputs
    whose basis is V' (R is triangular, so its leading blocks invert separately): all degrees in one pass."""
    lo, hi = float(np.min(x[train])), float(np.max(x[train]))
    usable = min(max_degree, len(train) - 2) + 1
    q, r = np.linalg.qr(_basis(x[train], lo, hi, max_degree)[:, :usable])
    basis = _basis(x[valid], lo, hi, max_degree)[:, :usable] @ np.linalg.inv(r)
    predictions = np.cumsum(basis * (q.T @ y[train]), axis=1)
    losses = np.full(max_degree + 1, np.inf)
    losses[:usable] = np.mean((predictions - y[valid][:, None]) ** 2, axis=0)
    return losses


def leave_one_out_losses(x: np.ndarray, y: np.ndarray, max_degree: int) -> np.ndarray:
    """Return the leave-one-out mean squared error of each degree 0..max_degree (exact, from the hat matrix)."""
    q, _ = np.linalg.qr(_basis(x, float(np.min(x)), float(np.max(x)), max_degree))
    fitted = np.cumsum(q * (q.T @ y), axis=1)
    leverage = np.cumsum(q ** 2, axis=1)
    return np.mean(((y[:, None] - fitted) / (1. - leverage)) ** 2, axis=0)


def hold_out_pick(x, y, rng: np.random.Generator, share: float, max_degree: int) -> int:
    """Return the degree a random hold-out of `share` of the points (for validation) picks."""
    order = rng.permutation(len(x))
    n_valid = max(1, int(len(x) * share))
    return int(np.argmin(validation_losses(x, y, order[n_valid:], order[:n_valid], max_degree)))


def k_fold_pick(x, y, rng: np.random.Generator, k: int, max_degree: int) -> int:
    """Return the degree k-fold cross-validation (shuffled folds, summed validation errors) picks."""
    folds = np.array_split(rng.permutation(len(x)), k)
    total = sum(validation_losses(x, y, np.concatenate(folds[:i] + folds[i + 1:]), folds[i], max_degree)
                for i in range(k))
    return int(np.argmin(total))


# the judge's sound procedures: leave-one-out, k-fold for several k, random hold-outs from 10 % (the low end
# the course recommends) to a half, each hold-out share on three random splits
SOUND_K_FOLDS, SOUND_HOLD_OUTS, SOUND_SPLITS = (2, 3, 5, 10), (0.1, 0.2, 1 / 3, 0.5), 3


def sound_picks(x, y, max_degree: int, rng: np.random.Generator) -> list[int]:
    """Return the degrees the judge's own sound validation procedures pick on one data set."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    picks = [int(np.argmin(leave_one_out_losses(x, y, max_degree)))]
    picks += [k_fold_pick(x, y, rng, k, max_degree) for k in SOUND_K_FOLDS]
    picks += [hold_out_pick(x, y, rng, share, max_degree) for share in SOUND_HOLD_OUTS for _ in range(SOUND_SPLITS)]
    return picks


SPEC = LessonSpec(
    hidden_inputs=hidden_inputs,
    files_by_exercise=NETWORKS,
    preload=("torch", "torchvision", "numpy", "matplotlib.pyplot"),
    data_files=(*MNIST_TRAIN_FILES, MNIST_TEST.images),  # never the test labels
    held_out={exercise: MNIST_TEST for exercise in NETWORKS},
)
