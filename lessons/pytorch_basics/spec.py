"""pytorch_basics: the lesson's spec and the hidden inputs drawn per grading run."""
from __future__ import annotations

import numpy as np

from autograder.datasets import MNIST_TEST, MNIST_TRAIN_FILES
from autograder.spec import LessonSpec, float32_values

ACTIVATIONS = ("ReLU", "Tanh", "Sigmoid", "ELU")


def _seed(rng: np.random.Generator) -> int:
    return int(rng.integers(1, 2**31))


def _first_two_case(rng: np.random.Generator, activation: str, batched: bool) -> dict:
    widths = [int(w) for w in rng.integers(2, 7, size=3)]
    shape = (int(rng.integers(2, 5)), widths[0]) if batched else (widths[0],)
    return {"widths": widths, "activation": activation, "weight_seed": _seed(rng),
            "inputs": float32_values(rng.normal(0, 1.5, shape))}


def hidden_inputs(seed: int) -> dict[str, dict]:
    """Return this run's hidden inputs per exercise, drawn from `seed` (recorded in the result)."""
    rng = np.random.default_rng(seed)
    rows, cols = int(rng.integers(2, 5)), int(rng.integers(2, 6))
    int_lists = [rng.integers(-9, 10, size=(rows, cols)).tolist(), rng.integers(-9, 10, size=cols).tolist(),
                 [int(rng.integers(1, 100))]]
    float_list = [round(float(v), 3) for v in rng.normal(0, 2, int(rng.integers(2, 6)))]
    image_shapes = [(int(rng.integers(2, 5)), 3, int(rng.integers(3, 7)), int(rng.integers(3, 7))),
                    (1, 1, 28, 28), (int(rng.integers(2, 4)), 1, int(rng.integers(2, 6)), int(rng.integers(2, 6)))]
    activations = [str(a) for a in rng.permutation(ACTIVATIONS)]
    return {
        "ex_seq_model_layers": {},
        "ex_seq_model_2": {"weight_seed": _seed(rng), "inputs": float32_values(rng.normal(0, 1.5, (int(rng.integers(4, 8)), 4)))},
        "input_tensor": {"cases": [*int_lists, float_list]},
        "flatten_images": {"cases": [float32_values(rng.normal(0, 1, shape)) for shape in image_shapes]},
        "first_two_operations": {"cases": [_first_two_case(rng, activations[0], True),
                                           _first_two_case(rng, activations[1], False),
                                           _first_two_case(rng, activations[2], True)]},
        "model_device": {"widths": [int(w) for w in rng.integers(2, 9, size=3)]},
        "learning_types": {},
        "task_types": {},
        "mnist_sizes": {},
        "num_hidden": {},
        "seq_model": {"weight_seed": _seed(rng), "images": float32_values(rng.uniform(0, 1, (int(rng.integers(3, 6)), 1, 28, 28)))},
        "seq_model_accuracy": {"images": f"/data/{MNIST_TEST.images}"},
    }


SPEC = LessonSpec(
    hidden_inputs=hidden_inputs,
    files_by_exercise={"seq_model_accuracy": "seq_model.pth"},
    preload=("torch", "torchvision", "numpy", "matplotlib.pyplot"),
    data_files=(*MNIST_TRAIN_FILES, MNIST_TEST.images),  # never the test labels
    held_out={"seq_model_accuracy": MNIST_TEST},
    thresholds={"seq_model_accuracy": 0.95},
)
