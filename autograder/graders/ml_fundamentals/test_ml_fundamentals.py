"""Hidden graders for ml_fundamentals: each test judges one property of one exercise's probe data.
Judgements on noisy data use the calibration in solutions/ml_fundamentals_calibration.json
(re-made by solutions/calibrate_ml_fundamentals.py). Feedback never shows expected values or hidden inputs."""
from __future__ import annotations

import numpy as np

from autograder.judge import accuracy, close, exercise, expect, is_number

from . import TRUTH_KEY, calibration, held_out_labels


def _values(summary: dict, what: str, shape: list[int]) -> np.ndarray:
    expect(summary.get("kind") == "array", f"{what} should be a numpy array (or nested list) of numbers.")
    expect(summary["shape"] == shape, f"{what} has shape {summary['shape']}; check its size in every dimension.")
    expect(all(is_number(v) for v in summary["values"]), f"{what} contains values that are not finite numbers.")
    return np.asarray(summary["values"], dtype=np.float64).reshape(shape)


@exercise("poly_losses")
def test_poly_losses_shape(student, hidden):
    _values(student, "The result of `train_test_losses`", [len(hidden["degrees"]), 2])


@exercise("poly_losses", weight=2)
def test_poly_losses_values(student, reference, hidden):
    got = _values(student, "The result of `train_test_losses`", [len(hidden["degrees"]), 2])
    expected = np.asarray(reference["values"], dtype=np.float64).reshape(got.shape)
    expect(close(got[:, 0], expected[:, 0], rtol=1e-4, atol=1e-9),
           "The first column should be the training loss: the mean squared error of each degree's least-squares "
           "fit on the training data it was fitted to.")
    expect(close(got[:, 1], expected[:, 1], rtol=1e-4, atol=1e-9),
           "The second column should be the test loss: the mean squared error of the same fit on the test data.")


def _median_pick(picks: list, offsets: list[int] | None = None) -> float:
    return float(np.median(np.asarray(picks, dtype=np.float64) - np.asarray(offsets or 0)))


@exercise("select_degree")
def test_select_degree_returns_a_degree(student, hidden):
    picks = student["true_model"] + student["low_degree"]
    expect(all(isinstance(p, int) for p in picks), "`select_degree` should return a whole number (a degree).")
    expect(all(0 <= p <= hidden["max_degree"] for p in picks),
           "`select_degree` should return a degree between 0 and max_degree.")


@exercise("select_degree", weight=2)
def test_select_degree_on_the_true_model(student):
    picks = student["true_model"]
    expect(all(isinstance(p, int) for p in picks), "`select_degree` should return a whole number (a degree).")
    low, high = calibration()["selection"]["median_range_true_model"]
    expect(low <= _median_pick(picks) <= high,
           "On fresh noisy samples of f*, the degrees your `select_degree` picks are not those a validation "
           "procedure picks: fit on one part of the data, and choose the degree with the least loss on the "
           "held-out part (not on the data the fit has seen).")


@exercise("select_degree", weight=2)
def test_select_degree_on_low_degree_models(student, grading):
    picks = student["low_degree"]
    expect(all(isinstance(p, int) for p in picks), "`select_degree` should return a whole number (a degree).")
    low, high = calibration()["selection"]["median_excess_range_low_degree"]
    excess = _median_pick(picks, grading.inputs[TRUTH_KEY]["low_degrees"])
    expect(low <= excess <= high,
           "On noisy samples of other, low-degree polynomials, your `select_degree` does not pick the degrees a "
           "validation procedure picks: the choice must come from the data, not be fixed in advance.")


@exercise("gd_trajectory")
def test_gd_trajectory_shape(student, hidden):
    for summary, case in zip(student["trajectories"], hidden["cases"]):
        _values(summary, "The result of `gradient_descent`", [case["epochs"] + 1, 2])


@exercise("gd_trajectory", weight=2)
def test_gd_trajectory_values(student, reference, hidden):
    for summary, expected, case in zip(student["trajectories"], reference["trajectories"], hidden["cases"]):
        got = _values(summary, "The result of `gradient_descent`", [case["epochs"] + 1, 2])
        expect(close(got, np.reshape(expected["values"], got.shape), rtol=1e-9, atol=1e-12),
               "`gradient_descent` does not follow theta <- theta - eta * grad E(theta) from the start "
               "(row 0 is the start) for every learning rate, converging or not.")


@exercise("lr_bound")
def test_lr_bound_is_a_number(student):
    expect(all(b.get("kind") == "array" and b["shape"] == [] and is_number(b["values"][0])
               for b in student["bounds"]), "`learning_rate_bound` should return one finite number.")


@exercise("lr_bound", weight=2)
def test_lr_bound_matches_the_analytic_bound(student, reference):
    expect(all(b.get("kind") == "array" and b["shape"] == [] and is_number(b["values"][0])
               for b in student["bounds"]), "`learning_rate_bound` should return one finite number.")
    got = [b["values"][0] for b in student["bounds"]]
    expected = [b["values"][0] for b in reference["bounds"]]
    expect(close(got, expected, rtol=1e-6, atol=0),
           "`learning_rate_bound(a, b)` is not the largest learning rate below which gradient descent on "
           "a*theta_0^2 + b*theta_1^2 converges from every start (work out the update of each coordinate).")


def _judge_accuracy(name: str, student) -> None:
    score = accuracy(student["predictions"], held_out_labels())
    threshold = calibration()["networks"]["nets"][name]["threshold"]
    expect(score >= threshold, f"Your network's test accuracy is {score:.2%}; it needs at least {threshold:.1%}. "
                               "Train it (longer), then save its weights again.")


@exercise("linear_accuracy")
def test_linear_accuracy_reaches_threshold(student):
    _judge_accuracy("linear_accuracy", student)


@exercise("dnn_accuracy")
def test_dnn_accuracy_reaches_threshold(student):
    _judge_accuracy("dnn_accuracy", student)


@exercise("cnn_accuracy")
def test_cnn_accuracy_reaches_threshold(student):
    _judge_accuracy("cnn_accuracy", student)
