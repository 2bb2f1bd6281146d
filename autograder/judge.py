"""What hidden graders use to judge probe data: failures that carry student-facing feedback,
and comparisons that never put the expected value into that feedback."""
from __future__ import annotations

import hashlib
import json
import math
import os
import threading
from collections.abc import Sequence
from functools import cache
from pathlib import Path

import numpy as np
import pytest

EXERCISE_MARK = "exercise"


class GradingFailure(AssertionError):
    """A check the submission did not pass; the message is shown to the student as is."""


class CannotJudge(RuntimeError):
    """The grader cannot reach a verdict (an instructor's problem, never a student's): the submission is not
    graded and the run reports this message as an internal error, instead of charging the student."""


def exercise(name: str, weight: float = 1.0):
    """Return a pytest mark tying a test to an exercise; the exercise's points split by weight."""
    return getattr(pytest.mark, EXERCISE_MARK)(name, weight=weight)


def expect(condition: object, feedback: str) -> None:
    """Raise GradingFailure(feedback) unless `condition` holds."""
    if not condition:
        raise GradingFailure(feedback)


def expect_tensor(summary: dict, what: str, shape: Sequence[int] | None = None, floating: bool = False) -> np.ndarray:
    """Return the values of a probed tensor after checking its kind, dtype family and shape."""
    expect(summary.get("kind") == "tensor", f"{what} should be a torch tensor, not {summary.get('kind')}: "
                                            "build it with torch.tensor(...) or a torch function.")
    if floating:
        expect(summary["dtype"].startswith(("float", "bfloat")),
               f"{what} should have a floating-point dtype (it is {summary['dtype']}): create it from floats "
               "or convert it with .float().")
    if shape is not None:
        expect(list(summary["shape"]) == list(shape),
               f"{what} has shape {summary['shape']}; check its size in every dimension.")
    expect(summary.get("values") is not None, f"{what} is far too large for the grader to read: check its shape.")
    return np.asarray(summary["values"], dtype=np.float64)


def values_close(actual, expected, rtol: float = 1e-5, atol: float = 1e-6) -> bool:
    """Return True when two arrays (or numbers) have one shape and agree within tolerance."""
    a, b = np.asarray(actual, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=rtol, atol=atol, equal_nan=False))


def is_number(value: object) -> bool:
    """Return True for a finite int or float (bools excluded)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def as_int(value: object) -> int | None:
    """Return an integral number as int (3 and 3.0 alike), else None."""
    return int(value) if is_number(value) and float(value).is_integer() else None


def accuracy(predictions: Sequence[int], labels: np.ndarray) -> float:
    """Return the fraction of predictions equal to the held-out labels (0 for a wrong count)."""
    if not isinstance(predictions, list) or len(predictions) != len(labels):
        return 0.0
    return float(np.mean(np.asarray(predictions) == labels))


@cache
def read_labels(path: Path) -> np.ndarray:
    """Return held-out labels from an IDX file (trusted side only: labels are never mounted)."""
    from .datasets import read_idx

    return read_idx(path).astype(np.int64)


def remember_on_disk(name: str, key: str, compute, near: str | Path, cache_dir: Path | None = None):
    """Return compute() for `key`, kept on disk across runs and workers (for deterministic, costly judgements
    such as training a submitted architecture): the same answer is never computed twice for one class.

    Kept in the course of `near` (a lesson file: its graders' __file__), under .autograder/cache/<name>/,
    one file per key written atomically, so workers on one machine or on a Dask cluster that shares the
    course directory add results side by side and never lose one another's."""
    from .config import find_course_root

    folder = (cache_dir or find_course_root(Path(near).parent) / ".autograder" / "cache") / name
    path = _entry(folder, key)
    _unpack_single_file_cache(folder)
    try:
        stored = json.loads(path.read_text())
        if stored["key"] == key:
            return stored["value"]
    except (OSError, ValueError, KeyError, TypeError):
        pass
    value = compute()
    _write_atomically(path, {"key": key, "value": value})
    return value


def _entry(folder: Path, key: str) -> Path:
    return folder / f"{hashlib.sha256(key.encode()).hexdigest()[:32]}.json"


def _write_atomically(path: Path, record: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
    temporary.write_text(json.dumps(record))
    os.replace(temporary, path)


def _unpack_single_file_cache(folder: Path) -> None:
    """Move results kept in one <name>.json file (before one file per key) into the folder, once."""
    single = folder.with_suffix(".json")
    try:
        known = json.loads(single.read_text())
    except (OSError, ValueError):
        return
    for key, value in known.items() if isinstance(known, dict) else ():
        _write_atomically(_entry(folder, key), {"key": key, "value": value})
    single.unlink(missing_ok=True)


def expect_array(summary: dict, what: str, shape: Sequence[int] | None = None) -> np.ndarray:
    """Return the values of a numeric answer probed with `numeric_summary` (number, list, array or tensor alike),
    after checking it is numeric, has `shape` and holds only finite numbers."""
    expect(summary.get("kind") == "array", f"{what} should be a number or an array of numbers "
                                           f"(not {summary.get('kind')}): return a float or a numpy array.")
    if shape is not None:
        expect(list(summary["shape"]) == list(shape),
               f"{what} has shape {summary['shape']}; check its size in every dimension.")
    expect(all(is_number(v) for v in summary["values"]), f"{what} contains nan or inf: look for a division by "
                                                         "zero, a log of 0 or a learning rate so large that values overflow.")
    return np.asarray(summary["values"], dtype=np.float64).reshape(summary["shape"])


def same_choice(given: object, expected: object) -> bool:
    """Return True when a choice answer equals the expected option in any equivalent form: strings ignore case,
    surrounding blanks, brackets and a final dot ("(B)." is "b"); True/False stand for "yes"/"true" and
    "no"/"false"; numbers compare by value (2 is 2.0)."""
    def normal(value):
        if isinstance(value, bool):
            return value
        if isinstance(value, str):
            text = value.strip().strip("()[]").rstrip(".").strip().lower()
            return {"yes": True, "true": True, "no": False, "false": False}.get(text, text)
        if is_number(value):
            return float(value)
        return value

    a, b = normal(given), normal(expected)
    return type(a) is type(b) and a == b


def choice_kinds(options: Sequence[object]) -> str:
    """Return how to describe the accepted form of a choice among `options` (for feedback, never the answer)."""
    return "one of " + ", ".join(repr(o) for o in options)


def forward_described(structure: list[dict], seed: int, inputs) -> np.ndarray:
    """Return, in numpy, the output a module described by probes.common.describe_module gives on `inputs` when
    its linear layers hold seeded_linear_parameters(seed, ...); raise ValueError for an operation it cannot redo."""
    import math as _math

    from .sandboxed.probes.common import seeded_linear_parameters

    erf = np.vectorize(_math.erf)
    activations = {"ReLU": lambda x: np.maximum(x, 0), "Sigmoid": lambda x: 1 / (1 + np.exp(-x)), "Tanh": np.tanh,
                   "ELU": lambda x: np.where(x > 0, x, np.expm1(np.minimum(x, 0))),
                   "GELU": lambda x: 0.5 * x * (1 + erf(x / _math.sqrt(2))), "Identity": lambda x: x,
                   "Softplus": lambda x: np.logaddexp(0, x), "SiLU": lambda x: x / (1 + np.exp(-x))}
    x, linear_index = np.asarray(inputs, dtype=np.float64), 0
    for op in structure:
        kind = op.get("type")
        if kind == "Linear":
            weight, bias = seeded_linear_parameters(seed, linear_index, op["in"], op["out"])
            x = x @ weight.astype(np.float64).T + (bias.astype(np.float64) if op["bias"] else 0)
            linear_index += 1
        elif kind == "Flatten":
            start = op["start_dim"] % x.ndim
            end = op["end_dim"] % x.ndim
            x = x.reshape(*x.shape[:start], -1, *x.shape[end + 1:])
        elif kind == "LeakyReLU":
            x = np.where(x > 0, x, x * op["negative_slope"])
        elif kind in activations:
            x = activations[kind](x)
        else:
            raise ValueError(f"cannot recompute a {kind} operation")
    return x


def expect_results_like(student: dict, reference: dict, what: str, rtol: float = 1e-5, atol: float = 1e-8) -> None:
    """Fail unless every result of a call_probe agrees with the reference's on the same hidden case (numbers
    and arrays alike); the feedback names the function, never a value."""
    expect(len(student["results"]) == len(reference["results"]), f"{what} did not return a result for every call.")
    for got, expected in zip(student["results"], reference["results"]):
        values = expect_array(got, f"The result of {what}", expected["shape"])
        expect(values_close(values, np.asarray(expected["values"], dtype=np.float64).reshape(expected["shape"]),
                            rtol=rtol, atol=atol), f"{what} gives a wrong result on some of the grader's inputs.")


def expect_module_outputs(student: dict, hidden: dict, what: str, rtol: float = 1e-4, atol: float = 1e-5) -> None:
    """Fail unless a module_probe's output is what the module's own reported operations compute with the
    grader's weights (the judge recomputes it from the structure, so a forged output earns nothing)."""
    try:
        expected = forward_described(student["structure"], hidden["weight_seed"], hidden["inputs"])
    except (ValueError, KeyError, IndexError, TypeError):
        expect(False, f"{what} uses an operation the grader cannot check; build it from nn.Linear, "
                      "nn.Flatten and the usual activations.")
    values = expect_tensor(student["output"], f"The output of {what}", shape=list(expected.shape))
    expect(values_close(values, expected, rtol=rtol, atol=atol),
           f"{what} does not compute what its layers compute, in order (tested with weights set by the grader).")


def expect_accuracy(student: dict, labels: np.ndarray, threshold: float, what: str) -> None:
    """Fail unless a weights_probe's predictions reach `threshold` accuracy on the held-out labels."""
    score = accuracy(student.get("predictions"), labels)
    expect(score >= threshold, f"{what} reaches {score:.2%} accuracy on held-out test images; it needs at least "
                               f"{threshold:.0%}. Train it (longer), then save its weights again.")
