"""hands_on_dl: the lesson's spec, the hidden inputs drawn per grading run, and what its judge computes."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from autograder.datasets import FASHION_TEST, FASHION_TRAIN_FILES, MNIST_TEST, MNIST_TRAIN_FILES
from autograder.spec import LessonSpec, float32_values

TEST_SPLITS = {"fashion_accuracy": FASHION_TEST, "mnist_accuracy": MNIST_TEST}
# what a student may claim for minimal_width / deep_minimal_width (stated in the notebook's cells): the
# training (Adam, batch 4, BCE) with a learning rate and a number of epochs in these bounds, a shallow width
# of at most MAX_NEURONS, a deep profile of at most MAX_DEEP_NEURONS in at most MAX_LAYERS hidden layers (the
# demo's shallow width: deep is meant to need fewer). They bound what one claim costs the judge: at most
# about 20 default verifications (benchmarks/bench_claims.py --worst)
LR_BOUNDS = (1e-5, 1.0)
EPOCH_BOUNDS = (1, 2000)
MAX_NEURONS = 1024
MAX_DEEP_NEURONS = 256
MAX_LAYERS = 10


def _layers(rng: np.random.Generator, widths: list[int]) -> list[dict]:
    return [{"weight": float32_values(rng.normal(0, 0.6, (n_out, n_in))), "bias": float32_values(rng.normal(0, 0.3, n_out))}
            for n_in, n_out in zip(widths[:-1], widths[1:])]


def _relu_net(layers: list[dict], x: np.ndarray) -> np.ndarray:
    """Return the reference MLP's output (ReLU after every hidden layer) on `x`, in numpy."""
    for index, layer in enumerate(layers):
        x = x @ np.asarray(layer["weight"]).T + np.asarray(layer["bias"])
        x = np.maximum(x, 0) if index < len(layers) - 1 else x
    return x


def _known_tower(layer: dict, x: np.ndarray) -> np.ndarray:
    """Return, in numpy, what the probe's known tower gives on `x` with `layer` loaded: tanh(x W^T + b).
    The twin_tower probe puts that tower in DeepNeuralNet's place, so a twin is judged on its own."""
    return np.tanh(np.asarray(x, dtype=np.float64) @ np.asarray(layer["weight"]).T + np.asarray(layer["bias"]))


def _every_layer_has_a_negative(layers: list[dict], x: np.ndarray) -> bool:
    """Return True when every linear layer's result on `x` holds a negative value (so a ReLU missing, or added
    to the output, changes the output whatever the depth of the network)."""
    x = np.asarray(x, dtype=np.float64)
    for index, layer in enumerate(layers):
        x = x @ np.asarray(layer["weight"]).T + np.asarray(layer["bias"])
        if not (x < -1e-3).any():
            return False
        x = np.maximum(x, 0) if index < len(layers) - 1 else x
    return True


def _forward_case(rng: np.random.Generator, activation: str | None, batched: bool, least_depth: int = 1) -> dict:
    """Return one deep_forward case; every layer's result holds a negative value (every ReLU matters)."""
    while True:
        width_in, width_out = int(rng.integers(3, 10)), int(rng.integers(1, 5))
        profile = [int(w) for w in rng.integers(2, 9, size=int(rng.integers(least_depth, 4)))]
        shape = (int(rng.integers(2, 6)), width_in) if batched else (width_in,)
        layers, inputs = _layers(rng, [width_in, *profile, width_out]), float32_values(rng.normal(0, 1, shape))
        if _every_layer_has_a_negative(layers, np.asarray(inputs)):
            return {"input_width": width_in, "profile": profile, "output_width": width_out, "activation": activation,
                    "layers": layers, "inputs": inputs}


def hidden_inputs(seed: int) -> dict[str, dict]:
    """Return this run's hidden inputs per exercise, drawn from `seed` (recorded in the result)."""
    rng = np.random.default_rng(seed)
    count = int(rng.integers(8, 40))
    x = rng.uniform(0.2, 1.0, count)
    p_true = float(rng.choice([-1, 1]) * rng.uniform(0.5, 3.0))
    learning_rate = float(rng.choice([0.03, 0.05, 0.1]))  # never the default: that run is separate
    runs = [{"seed": int(rng.integers(1, 2**31)), "learning_rate": learning_rate, "iterations": n} for n in (1, 3, 10, 50)]
    runs.append({"seed": int(rng.integers(1, 2**31)), "learning_rate": 0.01, "iterations": 50})
    width_in, width_out = int(rng.integers(4, 9)), int(rng.integers(1, 4))
    profile = [int(w) for w in rng.integers(3, 8, size=2)]
    # the twin is probed with a known tower in DeepNeuralNet's place (tanh of one linear layer): its first
    # instance gets `known_layer`, any other instance `other_layer`; `layers` are for a twin that does not
    # take the known tower (judged with the judge's own ReLU tower, when the student's is right)
    gap = lambda a, b: float(np.abs(np.asarray(a) - np.asarray(b)).max())
    while True:  # rows whose outputs differ clearly: swapping query and value, or a second tower, must show
        known_layer, other_layer = _layers(rng, [width_in, width_out])[0], _layers(rng, [width_in, width_out])[0]
        twin_layers = _layers(rng, [width_in, *profile, width_out])
        rows = float32_values(rng.normal(0, 1, (2, width_in)))
        known, other = _known_tower(known_layer, np.asarray(rows)), _known_tower(other_layer, np.asarray(rows))
        relu = _relu_net(twin_layers, np.asarray(rows))
        if min(gap(known[0], known[1]), gap(known[0], other[0]), gap(known[1], other[1]), gap(relu[0], relu[1])) > 0.1:
            break
    return {
        "gradient_loop": {"x": float32_values(x), "y": float32_values(p_true * np.asarray(float32_values(x))), "runs": runs},
        # the first case of each deep_forward test has two or three hidden layers: a forward that is right
        # only for one hidden layer fails on every seed
        "deep_forward": {"cases": [_forward_case(rng, None, True, 2), _forward_case(rng, None, False),
                                   _forward_case(rng, "sigmoid", True, 2), _forward_case(rng, "tanh", False)]},
        "twin_tower": {"input_width": width_in, "profile": profile, "output_width": width_out,
                       "known_layer": known_layer, "other_layer": other_layer,
                       "layers": twin_layers, "inputs": rows,
                       "equal_row": float32_values(rng.normal(0, 1, width_in))},
        **{exercise: {"images": f"/data/{split.images}"} for exercise, split in TEST_SPLITS.items()},
    }


def boolean_function():
    """Return the notebook's seeded Boolean function as (data_x, data_y) tensors."""
    from autograder.course import Lesson
    from autograder.config import find_course_root

    solutions = Lesson("hands_on_dl", find_course_root(Path(__file__))).solutions()
    return solutions.boolean_function_dataset()


SPEC = LessonSpec(
    hidden_inputs=hidden_inputs,
    files_by_exercise={"fashion_accuracy": "fashion_model.pth", "mnist_accuracy": "mnist_model.pth"},
    preload=("torch", "torchvision", "numpy", "matplotlib.pyplot"),
    # training sets and test images; never the test labels
    data_files=(*FASHION_TRAIN_FILES, FASHION_TEST.images, *MNIST_TRAIN_FILES, MNIST_TEST.images),
    held_out=TEST_SPLITS,
    thresholds={"fashion_accuracy": 0.85, "mnist_accuracy": 0.97},
)
