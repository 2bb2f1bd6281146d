"""digits_from_scratch: the lesson's spec, the hidden inputs drawn per grading run, and what its judge computes."""
from __future__ import annotations

import numpy as np

from autograder.datasets import FROM_SCRATCH_PICKLE, MNIST_TEST
from autograder.spec import LessonSpec

LAYER_SIZES = (784, 16, 16, 10)


def _layers(rng: np.random.Generator, bias_scale: float = 0.5) -> list[dict]:
    """Return weights and biases of a 784-16-16-10 net, drawn afresh (as nested lists)."""
    return [{"weight": rng.normal(0, 1.5 / np.sqrt(n_in), (n_out, n_in)).tolist(),
             "bias": rng.normal(0, bias_scale, n_out).tolist()}
            for n_in, n_out in zip(LAYER_SIZES[:-1], LAYER_SIZES[1:])]


def _images(rng: np.random.Generator, count: int) -> list:
    """Return `count` image-like rows in [0, 1): mostly dark, some bright pixels, as MNIST is."""
    pixels = rng.uniform(0, 1, (count, LAYER_SIZES[0]))
    return np.where(rng.uniform(0, 1, pixels.shape) < 0.2, pixels, 0.0).tolist()


def _one_hot(digits: np.ndarray) -> list:
    return np.eye(10)[digits].tolist()


def hidden_inputs(seed: int) -> dict[str, dict]:
    """Return this run's hidden inputs per exercise, drawn from `seed` (recorded in the result)."""
    rng = np.random.default_rng(seed)
    batch = int(rng.integers(3, 8))
    single_target = int(rng.integers(0, 10))
    cost_batch = int(rng.integers(2, 6))
    cost_cases = [
        {"pred": rng.uniform(0, 1, 10).tolist(), "target": _one_hot(single_target)},
        {"pred": rng.uniform(0, 1, (cost_batch, 10)).tolist(), "target": _one_hot(rng.integers(0, 10, cost_batch))},
        {"pred": _one_hot(single_target), "target": _one_hot(single_target)},  # a perfect prediction
    ]
    digits = rng.permutation(np.concatenate([[0, 9], rng.integers(0, 10, int(rng.integers(4, 10)))]))
    train_count, train_batch = int(rng.integers(17, 30)), int(rng.integers(4, 7))
    if train_count % train_batch == 0:  # always a last, shorter batch
        train_count += 1
    accuracy_count = int(rng.integers(25, 50))
    accuracy_labels = rng.integers(0, 10, accuracy_count)
    scores = rng.normal(0, 1, (accuracy_count, 10))  # the scores a model gives; most rows are right
    right = rng.uniform(0, 1, accuracy_count) < rng.uniform(0.4, 0.8)
    scores[np.flatnonzero(right), accuracy_labels[right]] += 4.0
    return {
        "cost_function": {"cases": cost_cases},
        "get_target": {"digit": int(rng.integers(1, 9)), "digits": [int(d) for d in digits]},
        "forward": {"layers": _layers(rng), "single": _images(rng, 1)[0], "batch": _images(rng, batch)},
        "backprop": {"layers": _layers(rng),
                     "cases": [{"x": _images(rng, batch), "target": _one_hot(rng.integers(0, 10, batch))},
                               {"x": _images(rng, 1)[0], "target": _one_hot(int(rng.integers(0, 10)))}]},
        "sgd_step": {"layers": _layers(rng), "x": _images(rng, batch), "target": _one_hot(rng.integers(0, 10, batch)),
                     "gradients": _layers(rng), "learning_rate": float(rng.choice([0.02, 0.07, 0.3]))},
        "train_model": {"epochs": int(rng.integers(2, 4)), "batch_size": train_batch,
                        "learning_rate": float(rng.choice([0.03, 0.2, 0.6])),
                        "data": _images(rng, train_count), "labels": [int(d) for d in rng.integers(0, 10, train_count)],
                        "projection": rng.normal(0, 0.3, (LAYER_SIZES[0], 10)).tolist()},
        "accuracy": {"scores": scores.tolist(),
                     "labels": [int(d) for d in accuracy_labels]},
    }


def held_out_images() -> np.ndarray:
    """Return the MNIST test images as the tutorial's pickle holds them: [N, 784] float32, pixel / 256."""
    from autograder.config import load_config
    from autograder.datasets import read_idx

    pixels = read_idx(load_config().data_root / MNIST_TEST.images).reshape(-1, LAYER_SIZES[0])
    return pixels.astype(np.float32) / np.float32(256)


def autograd_gradients(layers: list[dict], x: list, target: list) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Return torch autograd's gradients (float64) of the summed squared error of the sigmoid net with `layers`
    on `x` against `target`: what a hand-written backprop must reproduce."""
    import torch

    weights = [torch.tensor(layer["weight"], dtype=torch.float64, requires_grad=True) for layer in layers]
    biases = [torch.tensor(layer["bias"], dtype=torch.float64, requires_grad=True) for layer in layers]
    a = torch.atleast_2d(torch.tensor(x, dtype=torch.float64))
    for W, b in zip(weights, biases):
        a = torch.sigmoid(a @ W.T + b)
    ((a - torch.atleast_2d(torch.tensor(target, dtype=torch.float64))) ** 2).sum().backward()
    return [W.grad.numpy() for W in weights], [b.grad.numpy() for b in biases]


def relative_error(actual, expected) -> float:
    """Return ||actual - expected|| / ||expected|| (inf when the shapes differ)."""
    actual, expected = np.asarray(actual, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    if actual.shape != expected.shape:
        return float("inf")
    return float(np.linalg.norm(actual - expected) / max(np.linalg.norm(expected), 1e-300))


def predict(layers: dict[str, np.ndarray], images: np.ndarray) -> np.ndarray:
    """Return the digits the sigmoid net with the state_dict-like `layers` predicts for `images` (trusted side)."""
    a = images.astype(np.float64)
    for name in ("hidden1", "hidden2", "output"):
        z = a @ layers[f"{name}.weight"].T + layers[f"{name}.bias"]
        a = 1.0 / (1.0 + np.exp(-np.clip(z, -500, 500)))
    return np.argmax(a, axis=1)


SPEC = LessonSpec(
    hidden_inputs=hidden_inputs,
    files_by_exercise={"trained_model": "digits_model.pth"},
    preload=("torch", "numpy", "matplotlib.pyplot"),
    # the tutorial's pickle, rebuilt with the training and validation splits and the test images only
    data_files=(FROM_SCRATCH_PICKLE.as_posix(),),
    held_out={"trained_model": MNIST_TEST},  # the judge predicts on the images itself
)
