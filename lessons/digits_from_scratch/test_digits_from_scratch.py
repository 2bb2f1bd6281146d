"""Hidden graders for digits_from_scratch: each test judges one property of one exercise's probe data.
Feedback says what kind of thing was expected, never the expected value or the hidden inputs."""
from __future__ import annotations

import numpy as np

from autograder.calibration import calibration_of
from autograder.judge import values_close, exercise, expect

from .spec import LAYER_SIZES, autograd_gradients, held_out_images, predict, relative_error

WEIGHT_SHAPES = [[n_out, n_in] for n_in, n_out in zip(LAYER_SIZES[:-1], LAYER_SIZES[1:])]
BIAS_SHAPES = [[n_out] for n_out in LAYER_SIZES[1:]]
LAYER_NAMES = ("hidden1", "hidden2", "output")
LAYER_WORDS = ("first hidden layer", "second hidden layer", "output layer")
SINGULAR = {"weights": "weight", "biases": "bias"}


def _array(summary: dict, what: str, shape: list[int]) -> np.ndarray:
    """Return the values of a probed numpy array after checking its kind and shape."""
    expect(not summary["kind"].startswith("torch"), f"{what} should be a numpy array, not a torch tensor: this "
                                                   "lesson builds the network with numpy only (use np.asarray).")
    expect(summary["kind"] == "ndarray", f"{what} should be a numpy array, not {summary['kind']}.")
    expect(summary["shape"] == list(shape), f"{what} has shape {summary['shape']}; check its size in every dimension.")
    expect(summary.get("values") is not None, f"{what} should hold numbers.")
    return np.asarray(summary["values"], dtype=np.float64)


def _number(summary: dict, what: str) -> float:
    """Return a probed scalar (a Python or numpy number, or a 0-d array)."""
    expect(summary["kind"] in ("number", "ndarray") and summary.get("shape") == [] and summary.get("values") is not None,
           f"{what} should be a single number (a float), not {summary['kind']}"
           + (f" of shape {summary['shape']}" if summary.get("shape") else "") + ": return one number, e.g. float(total).")
    return float(summary["values"])


@exercise("cost_function", weight=2)
def test_cost_function_sums_squared_errors(student, reference):
    for got, expected in zip(student["costs"], reference["costs"]):
        value = _number(got, "`cost_func`")
        expect(values_close(value, expected["values"], rtol=1e-9, atol=1e-12),
               "`cost_func` should return the sum, over every output (and every example of a batch), "
               "of the squared differences between prediction and target.")


@exercise("cost_function", weight=2)
def test_cost_function_derivative(student, reference):
    for got, expected in zip(student["derivatives"], reference["derivatives"]):
        values = _array(got, "`cost_derivative`", expected["shape"])
        expect(values_close(values, expected["values"], rtol=1e-9, atol=1e-12),
               "`cost_derivative` should be the derivative of the cost with respect to each prediction, "
               "one entry per output (with the factor the square brings down, and the sign of pred - target).")


@exercise("get_target")
def test_get_target_one_digit(student):
    for key in ("single", "numpy_single"):
        values = _array(student[key], "`get_target` of one digit", [10])
        expect(np.sum(values == 1) == 1 and np.sum(values == 0) == 9,
               "`get_target` of one digit should be ten zeros with a single 1.")
    expect(values_close(student["single"]["values"], student["numpy_single"]["values"]),
           "`get_target` should give the same target for a Python int and a numpy integer: compare "
           "with ==, not `is`, and index with int(digit).")


@exercise("get_target", weight=2)
def test_get_target_places_the_one(student, reference):
    for key in ("single", "batch"):
        values = _array(student[key], "`get_target`", reference[key]["shape"])
        expect(values_close(values, reference[key]["values"], rtol=0, atol=1e-12),
               "`get_target` should put the 1 at the index equal to the digit (index 0 for the digit 0), "
               "one row per digit when given an array of digits.")


@exercise("forward")
def test_forward_shapes(student):
    _array(student["single"], "`forward` of one image", [10])
    _array(student["batch"], "`forward` of a batch of images", [len(student["batch"]["values"] or []), 10])


@exercise("forward", weight=3)
def test_forward_values(student, reference):
    for key, what in (("single", "one image"), ("batch", "a batch")):
        values = _array(student[key], f"`forward` of {what}", reference[key]["shape"])
        expect(values_close(values, reference[key]["values"], rtol=1e-5, atol=1e-7),
               f"`forward` of {what} gives wrong outputs: every layer (including the output layer) should compute "
               "sigmoid(a @ W.T + b) from the previous layer's activations a.")


def _hand_written(student) -> None:
    calls = student["torch_calls"]
    expect(not calls, "`backprop` must be written by hand with numpy: it called torch "
                      f"({', '.join(calls[:6])}), and gradients computed by torch's autograd (in any thread) do not "
                      "count here.")


@exercise("backprop", weight=2)
def test_backprop_is_hand_written(student):
    _hand_written(student)


@exercise("backprop")
def test_backprop_returns_numpy_gradients(student):
    _hand_written(student)
    for case in student["cases"]:
        expect(case["kind"] == "pair", "`backprop` should return two lists: the weight gradients and the bias "
                                       "gradients, one per layer.")
        expect(len(case["weights"]) == 3 and len(case["biases"]) == 3, "`backprop` should return one weight "
                                                                         "gradient and one bias gradient per layer (3 layers).")
        for summary, shape, word in zip(case["weights"], WEIGHT_SHAPES, LAYER_WORDS):
            _array(summary, f"The weight gradient of the {word}", shape)
        for summary, shape, word in zip(case["biases"], BIAS_SHAPES, LAYER_WORDS):
            _array(summary, f"The bias gradient of the {word}", shape)


@exercise("backprop", weight=4)
def test_backprop_matches_autograd(student, hidden):
    _hand_written(student)
    tolerance = calibration_of(__file__)["backprop_relative_tolerance"]
    for case, inputs in zip(student["cases"], hidden["cases"]):
        expect(case["kind"] == "pair" and len(case["weights"]) == 3 and len(case["biases"]) == 3,
               "`backprop` should return (weight gradients, bias gradients), one per layer.")
        expected = autograd_gradients(hidden["layers"], inputs["x"], inputs["target"])
        for part, name in ((0, "weights"), (1, "biases")):
            for summary, want, word in zip(case[name], expected[part], LAYER_WORDS):
                got = _array(summary, f"The {SINGULAR[name]} gradient of the {word}", list(want.shape))
                expect(relative_error(got, want) <= tolerance,
                       f"The {SINGULAR[name]} gradient of the {word} does not match the gradient of the summed squared "
                       "error (apply the chain rule through each sigmoid, using the layer's input z, and sum over "
                       "the examples of the batch).")


@exercise("sgd_step")
def test_sgd_step_calls_backprop_once(student):
    expect(student["backprop_calls"] == [True], "`sgd_step` should call `backprop(model, x, target)` exactly once, "
                                                "with the batch it was given.")


@exercise("sgd_step", weight=3)
def test_sgd_step_updates_every_parameter(student, hidden):
    rate = hidden["learning_rate"]
    for name, key in (("weights", "weight"), ("biases", "bias")):
        expect(len(student[name]) == 3, f"`model.{name}` should still hold one array per layer after `sgd_step`.")
        for summary, layer, step, word in zip(student[name], hidden["layers"], hidden["gradients"], LAYER_WORDS):
            want = np.asarray(layer[key]) - rate * np.asarray(step[key])
            got = _array(summary, f"The {SINGULAR[name]} of the {word} after `sgd_step`", list(want.shape))
            expect(values_close(got, want, rtol=1e-9, atol=1e-12),
                   f"After `sgd_step` the {name} of the {word} are wrong: each parameter should move by "
                   "learning_rate times its gradient, against the gradient, in the model itself.")


@exercise("train_model", weight=2)
def test_train_model_batches(student, reference):
    got, expected = student["batches"], reference["batches"]
    expect(all(batch["model"] for batch in got), "`train_model` should pass its `model` to `sgd_step`.")
    expect(len(got) == len(expected), "`train_model` should call `sgd_step` once per batch and epoch, including a "
                                      "last, shorter batch when the data do not divide evenly.")
    for g, e in zip(got, expected):
        expect(g["rows"] == e["rows"] and values_close(g["pixel_sum"], e["pixel_sum"], rtol=1e-9),
               "`train_model` should hand `sgd_step` consecutive slices of `batch_size` images, in order.")
        expect(g["target"] is not None and values_close(g["target"], e["target"], rtol=0, atol=1e-12),
               "`train_model` should hand `sgd_step` the one-hot targets (`get_target`) of the batch's labels.")
        expect(values_close(g["learning_rate"], e["learning_rate"], rtol=1e-12), "`train_model` should use its `learning_rate`.")


@exercise("train_model", weight=2)
def test_train_model_costs(student, reference):
    costs, expected = student["costs"], reference["costs"]
    expect(isinstance(costs, list) and len(costs) == len(expected),
           "`train_model` should return a list with one average cost per epoch.")
    expect(all(isinstance(c, float) for c in costs), "The costs `train_model` returns should be numbers (floats): "
                                                      "append float(cost) once per epoch.")
    expect(values_close(costs, expected, rtol=1e-9, atol=1e-12),
           "The costs `train_model` returns should be the cost over the whole training set after each epoch, "
           "divided by the number of images.")


@exercise("accuracy")
def test_accuracy_is_a_fraction(student):
    value = _number(student["value"], "`accuracy`")
    expect(0.0 <= value <= 1.0, "`accuracy` should be the fraction of images classified right (between 0 and 1).")


@exercise("accuracy", weight=2)
def test_accuracy_value(student, reference):
    value = _number(student["value"], "`accuracy`")
    expect(values_close(value, reference["value"]["values"], rtol=0, atol=1e-9),
           "`accuracy` should compare the digit with the largest output (per image) with the label, "
           "and return the fraction that agree.")


def _answer(student, name: str, kind: str):
    given = student[name]
    expect(given["kind"] == kind, f"`{name}` should be a {'number' if kind == 'number' else 'string'}, "
                                  f"not {given['kind']}.")
    return given["value"]


@exercise("questions")
def test_questions_cost_example(student):
    expect(values_close(_answer(student, "cost_example", "number"), 1.25, rtol=1e-9, atol=1e-12),
           "`cost_example` is not the sum of squared differences of the two given lists: compute it by "
           "hand, term by term.")


@exercise("questions")
def test_questions_random_model_accuracy(student):
    expect(values_close(_answer(student, "random_model_accuracy", "number"), 0.1, rtol=0, atol=0.01),
           "`random_model_accuracy` is not the accuracy a model that guesses one of the ten digits at random "
           "reaches (as a fraction).")


@exercise("questions")
def test_questions_accuracy_to_claim(student):
    value = _answer(student, "accuracy_to_claim", "str").strip().lower()
    expect(value in ("training", "validation"), "`accuracy_to_claim` should be \"training\" or \"validation\".")
    expect(value == "validation", "`accuracy_to_claim` names the set that does not tell how the model does on "
                                  "images it has never seen.")


@exercise("trained_model")
def test_trained_model_layout(student):
    expect(student["kind"] == "dict", "`digits_model.pth` should hold a state_dict (save it with `save_model`).")
    shapes = {k: v["shape"] for k, v in student["layers"].items()}
    wanted = {f"{n}.{kind}": shape for n, w, b in zip(LAYER_NAMES, WEIGHT_SHAPES, BIAS_SHAPES)
              for kind, shape in (("weight", w), ("bias", b))}
    expect(shapes == wanted, "`digits_model.pth` should hold the weights and biases of the 784-16-16-10 model "
                             "(hidden1, hidden2 and output), as `save_model` writes them.")


@exercise("trained_model", weight=3)
def test_trained_model_accuracy(student, held_out_labels):
    expect(student["kind"] == "dict", "`digits_model.pth` should hold a state_dict (save it with `save_model`).")
    layers = {k: np.asarray(v["values"], dtype=np.float64) for k, v in student["layers"].items() if v["shape"]}
    wanted = [f"{n}.{kind}" for n in LAYER_NAMES for kind in ("weight", "bias")]
    expect(all(k in layers for k in wanted), "`digits_model.pth` is missing layers of the 784-16-16-10 model.")
    try:
        predictions = predict(layers, held_out_images())
    except ValueError:
        predictions = None
    expect(predictions is not None, "The weights in `digits_model.pth` do not fit the 784-16-16-10 model.")
    score = float(np.mean(predictions == held_out_labels))
    threshold = calibration_of(__file__)["accuracy_threshold"]
    expect(score >= threshold, f"Your model's accuracy on held-out test images is {score:.2%}; it needs at least "
                               f"{threshold:.0%}. Train it for more epochs, then save it again.")
