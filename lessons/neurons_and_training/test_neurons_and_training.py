"""Hidden graders for neurons_and_training: each test judges one property of one exercise's probe data.
Feedback says what kind of answer was expected, never the expected value or the hidden inputs."""
from __future__ import annotations

import math

import numpy as np
import pytest

from autograder.judge import (accuracy, choice_kinds, values_close, exercise, expect, expect_array, expect_tensor,
                              is_number, same_choice)


XOR_OPTIONS = {"and_single_layer": ("yes", "no"), "xor_single_layer": ("yes", "no"), "why": ("a", "b", "c", "d"),
               "hidden_layer_xor": ("yes", "no"), "linear_hidden_layer_xor": ("yes", "no")}
XOR_EXPECTED = {"and_single_layer": "yes", "xor_single_layer": "no", "why": "b", "hidden_layer_xor": "yes",
                "linear_hidden_layer_xor": "no"}


def _judged(got) -> None:
    """Fail with what went wrong when the probe reports that the student's function raised or is missing (each
    function of a cell is called on its own, so the others are still judged)."""
    if not isinstance(got, dict):
        return
    if got.get("kind") == "raised":
        if got.get("error") == "NotImplementedError":
            expect(False, f"`{got.get('function')}` is not answered yet: it still raises NotImplementedError.")
        expect(False, f"`{got.get('function')}` raised {got.get('error')}: {got.get('message', '')}".rstrip(": ") + ".")
    expect(got.get("kind") != "missing", got.get("message") or f"`{got.get('function')}` is missing.")


def _same(got: dict, expected: dict, what: str, feedback: str, rtol: float = 1e-6, atol: float = 1e-9) -> None:
    _judged(got)
    values = expect_array(got, what, expected["shape"])
    expect(values_close(values, np.reshape(expected["values"], expected["shape"]), rtol=rtol, atol=atol), feedback)


# ---------------------------------------------------------------- activations
@exercise("activations")
def test_sigmoid_values(student, reference):
    for key in ("vector", "matrix"):
        _same(student["sigmoid"][key], reference["sigmoid"][key], "`sigmoid(x)` of an array",
              "`sigmoid` should return 1 / (1 + e^(-x)) for every element of its input: use np.exp on "
              "the whole array, not a Python loop over math.exp.")
    for got, expected in zip(student["sigmoid"]["scalars"], reference["sigmoid"]["scalars"]):
        _same(got, expected, "`sigmoid` of a single number",
              "`sigmoid` of a single number should be a number between 0 and 1 (1 / (1 + e^(-x))): check that it "
              "also works when x is a plain float.")


@exercise("activations")
def test_sigmoid_large_magnitudes(student, reference):
    _same(student["sigmoid"]["large"], reference["sigmoid"]["large"], "`sigmoid` of inputs of large magnitude",
          "`sigmoid` of inputs of large magnitude (hundreds, positive or negative) should come out close to 1 "
          "and 0, never nan.", atol=1e-12)


@exercise("activations")
def test_relu_values(student, reference):
    for key in ("vector", "matrix", "integers"):
        _same(student["relu"][key], reference["relu"][key], "`relu(x)` of an array",
              "`relu` should return max(0, x) for every element: negative inputs give 0, others are kept.")
    for got, expected in zip(student["relu"]["scalars"], reference["relu"]["scalars"]):
        _same(got, expected, "`relu` of a single number", "`relu` of a single number (negative ones too) should be "
              "max(0, x): use a function that works for numbers and arrays alike.")


# ---------------------------------------------------------------- neuron in numpy
@exercise("neuron_numpy", weight=2)
def test_neuron_numpy_values(student, reference):
    for got, expected in zip(student["outputs"], reference["outputs"]):
        _same(got, expected, "The output of `neuron`",
              "`neuron(x, w, b, activation_function)` should apply the activation to the weighted sum "
              "x . w plus the bias b (and use np.tanh when no activation is given).")


@exercise("neuron_numpy")
def test_neuron_numpy_uses_the_given_activation(student, reference):
    for got, expected in zip(student["outputs"][1:], reference["outputs"][1:]):
        _same(got, expected, "The output of `neuron`",
              "`neuron` should use the activation function it is given, not a fixed one: call "
              "activation_function(z).")


# ---------------------------------------------------------------- derivative by hand
@exercise("derivative_by_hand")
def test_derivative_at_2(student, reference):
    _judged(student["at_2"])
    expect(student["at_2"].get("kind") == "array" and student["at_2"]["shape"] == [],
           f"`derivative_at_2` should be a single number (int or float), not {student['kind_at_2']}.")
    got = expect_array(student["at_2"], "`derivative_at_2`", [])
    expect(values_close(got, reference["at_2"]["values"][0], rtol=1e-9, atol=1e-9),
           "`derivative_at_2` is not dy/dx of y = 2x^3 + x + 1 at x = 2: differentiate term by term.")


@exercise("derivative_by_hand", weight=2)
def test_cubic_derivative_formula(student, reference):
    _same(student["formula"], reference["formula"], "`cubic_derivative(x)` of an array",
          "`cubic_derivative(x)` should be the derivative of 2x^3 + x + 1 at every x (the power rule on each "
          "term; the constant's derivative is 0).")


# ---------------------------------------------------------------- autograd
@exercise("autograd_derivative")
def test_cubic_gradient_is_a_number(student):
    for g in student["gradients"]:
        expect_array(g, "The result of `cubic_gradient`")
        expect(g["shape"] in ([], [1]), f"`cubic_gradient` should return one number (e.g. `x.grad.item()`), not "
                                        f"an array of shape {g['shape']}.")


@exercise("autograd_derivative", weight=2)
def test_cubic_gradient_values(student, reference):
    for got, expected in zip(student["gradients"], reference["gradients"]):
        values = expect_array(got, "The result of `cubic_gradient`")
        expect(values.size == 1, "`cubic_gradient` should return one number (e.g. `x.grad.item()`).")
        expect(values_close(values.reshape(-1)[0], expected["values"][0], rtol=1e-5, atol=1e-6),
               "`cubic_gradient(x0)` is not dy/dx of y = 2x^3 + x + 1 at x0: build y from a tensor x with "
               "requires_grad=True, call y.backward() and read x.grad.")


# ---------------------------------------------------------------- neuron in PyTorch
@exercise("neuron_torch")
def test_neuron_in_pytorch_values(student, reference):
    for got, expected in zip(student["cases"], reference["cases"]):
        _same(got["value"], expected["value"], "The output of `neuron_in_pytorch`",
              "`neuron_in_pytorch(x, w, b, activation_function)` should return the activation of torch.dot(x, w) + b "
              "(torch.tanh when no activation is given).", rtol=1e-6)


@exercise("neuron_torch")
def test_neuron_in_pytorch_is_differentiable(student, reference):
    for got, expected in zip(student["cases"], reference["cases"]):
        _judged(got["value"])
        expect(got["differentiable"], "`neuron_in_pytorch` should return a tensor autograd can differentiate: "
                                      "compute it with torch operations on the input tensors.")
        # the claim is judged by the gradients through it (a bare "differentiable" flag from the sandbox proves nothing)
        expect(isinstance(got.get("through"), list) and len(got["through"]) == 3,
               "`neuron_in_pytorch` should return a single number: a tensor with one element.")
        for grad, ref in zip(got["through"], expected["through"]):
            _same(grad, ref, "A gradient through `neuron_in_pytorch`",
                  "The gradients autograd finds through `neuron_in_pytorch` are wrong: keep every step a torch "
                  "operation on x, w and b.", rtol=1e-6)


@exercise("neuron_torch", weight=2)
def test_neuron_gradients(student, reference):
    names = ("dy/dx", "dy/dw", "dy/db")
    for got, expected in zip(student["cases"], reference["cases"]):
        _judged(got["gradients"])
        expect(isinstance(got["gradients"], list) and len(got["gradients"]) == 3,
               "`neuron_gradients` should return a tuple of three tensors: (dy/dx, dy/dw, dy/db); it returned "
               + (f"{len(got['gradients'])} values." if isinstance(got["gradients"], list) else "something else."))
        for name, grad, ref in zip(names, got["gradients"], expected["gradients"]):
            _same(grad, ref, f"`neuron_gradients`' {name}",
                  f"`neuron_gradients`' {name} is wrong: make x, w and b tensors with requires_grad=True, compute y "
                  "with `neuron_in_pytorch`, call y.backward() and read each .grad.", rtol=1e-6)


# ---------------------------------------------------------------- gradient descent
def _run_trajectory(got: dict, run: dict) -> list:
    expect(got.get("kind") == "pair", f"`gradient_descent` should return two things: (x, x_list), not "
                                      f"{got.get('kind')}.")
    steps = got["x_list"]
    expect(isinstance(steps, list) and all(isinstance(v, float) for v in steps),
           "`x_list` should be a list of numbers (x after each update, e.g. `x.item()`).")
    expect(len(steps) == run["n_iterations"],
           "`x_list` should hold one value per iteration: x after each of the n_iterations updates "
           "(the starting value not included).")
    return steps


@exercise("gradient_descent")
def test_gradient_descent_length(student, hidden):
    for got, run in zip(student["runs"], hidden["runs"]):
        _run_trajectory(got, run)


@exercise("gradient_descent", weight=3)
def test_gradient_descent_trajectory(student, reference, hidden):
    for got, expected, run in zip(student["runs"], reference["runs"], hidden["runs"]):
        steps = _run_trajectory(got, run)
        expect(values_close(steps, expected["x_list"], rtol=1e-6, atol=1e-9), _descent_diagnosis(steps, run))


# Which step of gradient_descent's loop went wrong, told by replaying typical wrong loops (the mutants' kinds) on
# the run's own start and learning rate; the diagnosis changes only the message, never the score.
DESCENT_STEPS = {
    "zeroing": "`gradient_descent` lets the gradients of successive steps add up (the gradient is not reset): set "
               "x.grad to zero after each update.",
    "sign": "`gradient_descent` moves x up the gradient, which increases y (the update's sign is wrong): subtract "
            "learning_rate times the gradient.",
    "fixed rate": "`gradient_descent` ignores its learning_rate argument (the update uses another step size): use "
                  "the learning_rate it is given.",
    "recorded early": "`x_list` holds x before each update (the start is in it, the last x is not): append x after "
                      "the update.",
}
DESCENT_UNKNOWN = ("The trajectory of `gradient_descent` on y = x^2 is wrong for some starts, learning rates and "
                   "iteration counts: each step is x <- x - learning_rate * dy/dx, with the learning rate given as an "
                   "argument and the gradient reset after each step.")


def _replayed_descent(x: float, rate: float, steps: int, accumulate=False, sign=-1.0, early=False) -> list[float]:
    """Return x after each of `steps` updates of gradient descent on y = x^2 (optionally one of the wrong ways)."""
    trajectory, gradient = [], 0.0
    for _ in range(steps):
        if early:
            trajectory.append(x)
        gradient = gradient + 2 * x if accumulate else 2 * x
        x += sign * rate * gradient
        if not early:
            trajectory.append(x)
    return trajectory


def _descent_diagnosis(steps: list[float], run: dict) -> str:
    """Return the message naming the step of gradient_descent's loop that went wrong, where a replay recognises it."""
    x, rate, count = run["x0"], run["learning_rate"], run["n_iterations"]
    wrong_ways = {"zeroing": _replayed_descent(x, rate, count, accumulate=True),
                  "sign": _replayed_descent(x, rate, count, sign=1.0),
                  "fixed rate": _replayed_descent(x, 0.1, count) if rate != 0.1 else None,
                  "recorded early": _replayed_descent(x, rate, count, early=True)}
    for name, trajectory in wrong_ways.items():
        if trajectory is not None and values_close(steps, trajectory, rtol=1e-6, atol=1e-9):
            return DESCENT_STEPS[name]
    return DESCENT_UNKNOWN


@exercise("gradient_descent")
def test_gradient_descent_final_x(student, reference):
    for got, expected in zip(student["runs"], reference["runs"]):
        expect(got.get("kind") == "pair", f"`gradient_descent` should return two things: (x, x_list), not "
                                      f"{got.get('kind')}.")
        _same(got["final"], expected["final"], "The x `gradient_descent` returns",
              "The x `gradient_descent` returns should be the tensor after the last update.", rtol=1e-6)


# ---------------------------------------------------------------- AND gate
def _and_outputs(student: dict, hidden: dict) -> np.ndarray:
    """Return sigmoid(x @ and_weights + and_bias) on the hidden order of the AND inputs, computed here from the
    reported weights and bias (never from outputs the sandbox reports)."""
    for name, key in (("and_weights", "weights"), ("and_bias", "bias")):
        expect(student[key].get("kind") == "array", f"`{name}` should be a tensor (or array) of numbers, "
                                                    f"not {student[key].get('kind')}.")
    weights, bias = student["weights"], student["bias"]
    expect(weights["shape"] in ([2, 1], [2]), "`and_weights` should have shape (2, 1): one weight per input.")
    expect(len(bias.get("values", ())) == 1, "`and_bias` should hold one number (shape (1, 1), (1,) or a scalar).")
    expect(all(is_number(v) for v in weights["values"] + bias["values"]),
           "`and_weights` and `and_bias` should hold finite numbers.")
    z = np.asarray(hidden["inputs"], dtype=np.float64) @ np.asarray(weights["values"], dtype=np.float64) \
        + bias["values"][0]
    return 1.0 / (1.0 + np.exp(-np.clip(z, -500, 500)))


@exercise("and_gate", weight=2)
def test_and_gate_truth_table(student, hidden):
    outputs = _and_outputs(student, hidden)
    targets = np.asarray([x1 * x2 for x1, x2 in hidden["inputs"]])
    expect(np.array_equal(outputs > 0.5, targets == 1),
           "`and_weights` and `and_bias` do not make sigmoid(x @ and_weights + and_bias) exceed 0.5 exactly for the "
           "inputs where AND is 1 "
           "(check all four rows of the truth table).")


@exercise("and_gate")
def test_and_gate_is_confident(student, hidden):
    outputs = _and_outputs(student, hidden)
    targets = np.asarray([x1 * x2 for x1, x2 in hidden["inputs"]])
    expect(np.all(np.abs(outputs - targets) < 0.1),
           "With `and_weights` and `and_bias`, the layer's outputs should be within 0.1 of the truth table on all "
           "four inputs: scale the weights "
           "and bias up so that the sigmoid saturates.")


# ---------------------------------------------------------------- XOR: a choice answer, one test per item
@pytest.mark.parametrize("item", list(XOR_EXPECTED))
@exercise("xor_hidden_layer")
def test_xor_answer(student, item):
    expect(student.get("kind") == "dict", f"`xor_answers` should be a dict, not {student.get('kind')}.")
    given = student["items"].get(item)
    options = XOR_OPTIONS[item]
    expect(given is not None, f"`xor_answers['{item}']` is missing.")
    expect(isinstance(given, (str, bool)) and any(same_choice(given, o) for o in options),
           f"`xor_answers['{item}']` should be {choice_kinds(options)}.")
    expect(same_choice(given, XOR_EXPECTED[item]), f"`xor_answers['{item}']` is not the answer the section's "
                                                   "reasoning gives: re-read the paragraph on XOR and linear "
                                                   "separability.")


# ---------------------------------------------------------------- MNIST MLP
MLP_SHAPES = [[512, 784], [512, 512], [10, 512]]  # [out, in] of linear1, linear2, linear3
# the hidden activations the architecture test accepts (the notebook asks for ReLU; the test has always judged the
# layers and the softmax only, so other usual activations keep passing it)
HIDDEN_ACTIVATIONS = {"relu": lambda z: np.maximum(z, 0.0), "identity": lambda z: z,
                      "sigmoid": lambda z: 1.0 / (1.0 + np.exp(-z)), "tanh": np.tanh,
                      "leaky_relu": lambda z: np.where(z > 0, z, 0.01 * z),
                      "elu": lambda z: np.where(z > 0, z, np.expm1(np.minimum(z, 0.0))),
                      "silu": lambda z: z / (1.0 + np.exp(-z)),
                      "softplus": lambda z: np.logaddexp(0.0, z),
                      "gelu": lambda z: 0.5 * z * (1.0 + np.vectorize(math.erf)(z / math.sqrt(2.0)))}


def _mlp_outputs(weight_seed: int, images) -> list[np.ndarray]:
    """Return the softmax outputs of 784 -> 512 -> 512 -> 10 MLPs holding the weights the probe sets from
    `weight_seed`, on `images`, for every pair of hidden activations: computed here, never taken from the sandbox."""
    from autograder.sandboxed.probes.common import seeded_linear_parameters

    layers = [tuple(p.astype(np.float64) for p in seeded_linear_parameters(weight_seed, i, n_in, n_out))
              for i, (n_out, n_in) in enumerate(MLP_SHAPES)]

    def linear(x, layer):
        return x @ layer[0].T + layer[1]

    x, outputs = np.asarray(images, dtype=np.float64).reshape(-1, 784), []
    for first in HIDDEN_ACTIVATIONS.values():
        h1 = first(linear(x, layers[0]))
        for second in HIDDEN_ACTIVATIONS.values():
            z = linear(second(linear(h1, layers[1])), layers[2])
            e = np.exp(z - z.max(axis=1, keepdims=True))
            outputs.append(e / e.sum(axis=1, keepdims=True))
    return outputs


@exercise("mlp_accuracy")
def test_mlp_architecture(student, hidden):
    expect(student["linear_shapes"] == MLP_SHAPES, "`mlp` should have three linear layers, 784 -> 512 -> 512 -> 10; "
                                                   f"its weights have shapes {student['linear_shapes']}.")
    seeded = student["seeded"]
    expect("error" not in seeded, "`mlp` raised an error on a batch of images once the grader set its weights: "
                                  "check that forward flattens each image to 784 values.")
    out = expect_tensor(seeded["output"], "The output of `mlp`")
    expect(out.ndim == 2 and out.shape[1] == 10, "`mlp` should give 10 outputs per image.")
    # judged by the judge's own forward pass with the same weights (row sums reported by the sandbox prove nothing)
    expect(any(values_close(out, expected, rtol=1e-3, atol=1e-5) for expected in _mlp_outputs(hidden["weight_seed"],
                                                                                         hidden["probe_images"])),
           "`mlp` should flatten each image, apply linear1, linear2 (each followed by its ReLU) and linear3, then a "
           "softmax over the 10 outputs, with nothing between linear3 and the softmax: each image's outputs are "
           "probabilities summing to 1 (tested with weights set by the grader).")


@exercise("mlp_accuracy", weight=3)
def test_mlp_accuracy_reaches_threshold(student, held_out_labels, threshold):
    score = accuracy(student["predictions"], held_out_labels)
    expect(score >= threshold, f"Your network's test accuracy is {score:.2%}; it needs at least "
                               f"{threshold:.0%}. Train it (longer), then save its weights again.")
