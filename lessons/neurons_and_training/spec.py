"""neurons_and_training: the lesson's spec and the hidden inputs drawn per grading run."""
from __future__ import annotations

import numpy as np

from autograder.datasets import MNIST_TEST, MNIST_TRAIN_FILES
from autograder.spec import LessonSpec

AND_TABLE = ((0, 0, 0), (0, 1, 0), (1, 0, 0), (1, 1, 1))


def _round(values) -> list:
    """Return values rounded to 4 decimals (exact in JSON, never one the notebook prints)."""
    return np.round(np.asarray(values, dtype=np.float64), 4).tolist()


def _off_grid(rng: np.random.Generator, low: float, high: float, size) -> np.ndarray:
    """Return uniform values that are not on the notebook's 0.1 grid (a fresh value, never a printed one)."""
    values = rng.uniform(low, high, size)
    return np.where(np.isclose(np.round(values, 1), values, atol=1e-3), values + 0.0371, values)


MLP_SHAPES = ((512, 784), (512, 512), (10, 512))  # (out, in) of linear1, linear2, linear3


def _mlp_probe(rng: np.random.Generator) -> tuple[list, int]:
    """Return probe images and a weight seed for the MLP whose scores (before the softmax) hold, for every image,
    a clearly negative value: an output activation the notebook does not ask for (a ReLU before the softmax)
    then changes the probabilities on every draw, never by luck on some."""
    from autograder.sandboxed.probes.common import seeded_linear_parameters

    while True:
        images, weight_seed = _round(rng.uniform(0, 1, (3, 784))), int(rng.integers(1, 2**31))
        x = np.asarray(images, dtype=np.float64)
        for index, (n_out, n_in) in enumerate(MLP_SHAPES):
            weight, bias = seeded_linear_parameters(weight_seed, index, n_in, n_out)
            x = x @ weight.astype(np.float64).T + bias
            x = np.maximum(x, 0.0) if index < len(MLP_SHAPES) - 1 else x
        if (x.min(axis=1) < -1.0).all():
            return images, weight_seed


def hidden_inputs(seed: int) -> dict[str, dict]:
    """Return this run's hidden inputs per exercise, drawn from `seed` (recorded in the result)."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(7, 13))
    vector = np.concatenate([_off_grid(rng, -6, 6, n), [0.0, -float(rng.integers(1, 9))]])
    large = np.concatenate([rng.uniform(700, 1000, 2), -rng.uniform(700, 1000, 2), [float(rng.uniform(40, 60))],
                            [-float(rng.uniform(40, 60))]])
    scalars = [float(_off_grid(rng, -5, -0.5, 1)[0]), float(_off_grid(rng, 0.5, 5, 1)[0]), -float(rng.integers(2, 7))]
    neuron_cases = []
    for activation in ("default", "identity", "relu"):
        d = int(rng.integers(2, 6))
        neuron_cases.append({"x": _round(rng.normal(0, 1.5, d)), "w": _round(rng.normal(0, 1, d)),
                             "b": float(_round(rng.normal(0, 1))), "activation": activation})
    d = int(rng.integers(2, 5))  # a batch of inputs: np.dot of [N, d] and [d]
    neuron_cases.append({"x": _round(rng.normal(0, 1.5, (int(rng.integers(3, 6)), d))), "w": _round(rng.normal(0, 1, d)),
                         "b": float(_round(rng.normal(0, 1))), "activation": "relu"})
    torch_cases = []
    for activation in ("default", "sigmoid", "identity"):
        d = int(rng.integers(2, 6))
        torch_cases.append({"x": _round(rng.normal(0, 1, d)), "w": _round(rng.normal(0, 1, d)),
                            "b": float(_round(rng.normal(0, 0.5))), "activation": activation})
    runs = [{"x0": float(_round(s * rng.uniform(3, 30))), "learning_rate": float(_round(lr)),
             "n_iterations": int(rng.integers(4, 25))}
            for s, lr in ((1, rng.uniform(0.02, 0.08)), (-1, rng.uniform(0.15, 0.45)), (1, rng.uniform(0.55, 0.95)))]
    order = rng.permutation(4)
    inputs = {
        "activations": {"vector": _round(vector), "matrix": _round(_off_grid(rng, -4, 4, (3, 4))),
                        "large": _round(large), "scalars": _round(scalars)},
        "neuron_numpy": {"cases": neuron_cases},
        "derivative_by_hand": {"points": _round(np.concatenate([_off_grid(rng, -4, 4, 5), [0.0]]))},
        "autograd_derivative": {"points": _round(_off_grid(rng, -4, 4, 4))},
        "neuron_torch": {"cases": torch_cases},
        "gradient_descent": {"runs": runs},
        "and_gate": {"inputs": [list(AND_TABLE[i][:2]) for i in order]},
        "xor_hidden_layer": {},
    }
    probe_images, weight_seed = _mlp_probe(rng)  # drawn last, as before: the other exercises' draws stay the same
    inputs["mlp_accuracy"] = {"images": f"/data/{MNIST_TEST.images}", "probe_images": probe_images,
                              "weight_seed": weight_seed}
    return inputs


SPEC = LessonSpec(
    hidden_inputs=hidden_inputs,
    files_by_exercise={"mlp_accuracy": "mnist_mlp.pth"},
    preload=("torch", "torchvision", "numpy", "matplotlib.pyplot"),
    data_files=(*MNIST_TRAIN_FILES, MNIST_TEST.images),  # never the test labels
    held_out={"mlp_accuracy": MNIST_TEST},
    thresholds={"mlp_accuracy": 0.95},  # the reference MLP (2 epochs of SGD) reaches about 0.97
)
