"""Reference solutions for the lesson ``ml_fundamentals`` (polynomial regression and overfitting,
gradient descent on a parabola, MNIST with a linear layer, a 784-50-10 DNN and a small CNN).

It mirrors the answer cells of ``source/ml_fundamentals/ml_fundamentals.ipynb``; keep the two in sync.
Importing it is cheap: numpy and torch only, nothing is trained or read from disk.
"""
from __future__ import annotations

import numpy as np
import torch

__all__ = [
    "TRUE_COEFFICIENTS", "poly", "NOISE", "sample_true_model",
    "train_test_losses", "select_degree",
    "surface", "gradient", "gradient_descent", "learning_rate_bound",
    "make_linear_net", "make_dnn", "make_cnn", "linear_net", "dnn_net", "cnn_net",
]

# ---------------------------------------------------------------- polynomial regression
# the true model f*(x) = 2x - 10x^5 + 15x^10, sampled with white Gaussian noise of sd 0.3 on [0, 1]
TRUE_COEFFICIENTS = (0., 2., 0., 0., 0., -10., 0., 0., 0., 0., 15.)
poly = np.polynomial.Polynomial(TRUE_COEFFICIENTS)
NOISE = 0.3


def sample_true_model(rng: np.random.Generator, count: int, noise: float = NOISE,
                      model: np.polynomial.Polynomial = poly) -> tuple[np.ndarray, np.ndarray]:
    """Return (X, Y): `count` inputs uniform on [0, 1] and the model's values plus Gaussian noise."""
    x = rng.uniform(0., 1., count)
    return x, model(x) + rng.normal(0., noise, count)


# poly_losses
def train_test_losses(tr_X, tr_Y, te_X, te_Y, degrees):
    """Return an array [len(degrees), 2]: the training and the test MSE of a least-squares
    polynomial fit of each degree to the training data."""
    losses = []
    for deg in degrees:
        fit_poly = np.polynomial.Polynomial.fit(tr_X, tr_Y, deg)
        losses.append([np.mean((fit_poly(X) - Y) ** 2) for X, Y in ((tr_X, tr_Y), (te_X, te_Y))])
    return np.array(losses)


# select_degree (self-contained, as in the notebook: it does not depend on train_test_losses)
def select_degree(X, Y, max_degree=10):
    """Return the degree (0..max_degree) with the least validation MSE: a third of the data, chosen
    at random, is held out for validation; the fits use the other two thirds."""
    X, Y = np.asarray(X, dtype=float), np.asarray(Y, dtype=float)
    order = np.random.default_rng(0).permutation(len(X))
    n_val = len(X) // 3
    va, tr = order[:n_val], order[n_val:]
    val_losses = []
    for deg in range(max_degree + 1):
        fit_poly = np.polynomial.Polynomial.fit(X[tr], Y[tr], deg)
        val_losses.append(np.mean((fit_poly(X[va]) - Y[va]) ** 2))
    return int(np.argmin(val_losses))


# ---------------------------------------------------------------- gradient descent
def surface(theta):
    return np.sum(theta ** 2, axis=0)


def gradient(theta):
    return 2 * theta


# gd_trajectory
def gradient_descent(theta0, eta, epochs):
    """Return the positions [epochs + 1, 2] of plain gradient descent on E = theta_0^2 + theta_1^2,
    starting at theta0 (the start included)."""
    theta = [np.asarray(theta0, dtype=float)]
    for _ in range(epochs):
        theta.append(theta[-1] - eta * gradient(theta[-1]))
    return np.stack(theta, axis=0)


# lr_bound
def learning_rate_bound(a, b):
    """Return the least upper bound of the learning rates for which gradient descent on
    E = a theta_0^2 + b theta_1^2 (a, b > 0) converges from every start: theta_i <- (1 - 2 eta a_i) theta_i
    converges iff |1 - 2 eta a_i| < 1, i.e. 0 < eta < 1 / max(a, b)."""
    return 1.0 / max(a, b)


# ---------------------------------------------------------------- MNIST networks
def make_linear_net() -> torch.nn.Module:
    """Return the dense single layer with softmax: 784 -> 10."""
    return torch.nn.Sequential(
        torch.nn.Flatten(),
        torch.nn.Linear(784, 10),
        torch.nn.Softmax(dim=1),
    )


def make_dnn() -> torch.nn.Module:
    """Return the two-layer network 784 -> 50 (ReLU) -> 10 (softmax)."""
    return torch.nn.Sequential(
        torch.nn.Flatten(),
        torch.nn.Linear(784, 50),
        torch.nn.ReLU(),
        torch.nn.Linear(50, 10),
        torch.nn.Softmax(dim=1),
    )


def make_cnn() -> torch.nn.Module:
    """Return the tutorial's small convolutional network (1x28x28 -> 10)."""
    return torch.nn.Sequential(          #  1x28x28
        torch.nn.Conv2d(1, 12, (9, 9)),   # 12x20x20
        torch.nn.MaxPool2d((2, 2)),       # 12x10x10
        torch.nn.ReLU(),
        torch.nn.Conv2d(12, 24, (5, 5)),  # 24x 6x 6
        torch.nn.ReLU(),
        torch.nn.MaxPool2d((3, 3)),       # 24x 2x 2
        torch.nn.Flatten(),               #       96
        torch.nn.Linear(96, 16),
        torch.nn.ReLU(),
        torch.nn.Linear(16, 10),
        torch.nn.Softmax(dim=1),
    )


linear_net = make_linear_net()
dnn_net = make_dnn()
cnn_net = make_cnn()
