"""Hidden graders for hands_on_dl: each test judges one property of one exercise's probe data.
Feedback says what kind of thing was expected, never the expected value or the hidden inputs."""
from __future__ import annotations

from functools import cache

import numpy as np

from autograder.calibration import calibration_of
from autograder.judge import accuracy, as_int, values_close, exercise, expect, expect_tensor, is_number, remember_on_disk



@exercise("identity_tensor")
def test_identity_tensor_is_float_3x3(student):
    expect_tensor(student, "`I_tensor`", shape=[3, 3], floating=True)


@exercise("identity_tensor")
def test_identity_tensor_values(student):
    values = expect_tensor(student, "`I_tensor`", shape=[3, 3])
    expect(values_close(values, np.eye(3), rtol=0, atol=1e-6),
           "`I_tensor` has the right shape but not the values of an identity matrix: it should hold ones on the "
           "diagonal and zeros elsewhere.")


@exercise("tensor_shape")
def test_tensor_shape_intended(student):
    expect(student["intended"] == [3, 3], "`I_tensor_shape_intended` should be the shape a 3x3 identity "
                                             "matrix has, written by hand (a torch.Size, tuple or list of numbers).")


@exercise("tensor_shape")
def test_tensor_shape_read_from_tensor(student):
    expect(student["shape_kind"] in ("Size", "tuple", "list"),
           f"`I_tensor_shape` should be a torch.Size, not {student['shape_kind']}: read it with I_tensor.shape.")
    expect(student["matches_I_tensor"], "`I_tensor_shape` should be read from `I_tensor` itself (its .shape or .size()).")


@exercise("sqrt_b_cubed")
def test_sqrt_b_cubed_values(student, reference):
    values = expect_tensor(student, "`B_sqrt_cubed`", shape=reference["shape"], floating=True)
    expect(values_close(values, reference["values"], rtol=1e-5),
           "`B_sqrt_cubed` has the right shape and dtype but other values than the square root of B^3, element by "
           "element: cube B_tensor first, then take the square root.")


@exercise("gradients_for_p")
def test_gradients_for_p_keys(student, reference):
    expect(student["kind"] == "dict", f"`p_gradients` should be a dict mapping each p to its gradient, not "
                                      f"{student['kind']}: start from an empty dict and set one entry per p.")
    wanted = sorted(p for p, _ in reference["gradients"])
    expect(values_close(sorted(p for p, _ in student["gradients"]), wanted, atol=1e-9),
           "`p_gradients` should have exactly the keys 0.75, 0.5, 0.25 and 0.2: use each p itself as the key.")


@exercise("gradients_for_p", weight=3)
def test_gradients_for_p_values(student, reference):
    expect(student["kind"] == "dict", f"`p_gradients` should be a dict mapping each p to its gradient, not "
                                      f"{student['kind']}: start from an empty dict and set one entry per p.")
    got = {round(p, 6): g for p, g in student["gradients"]}
    for p, gradient in reference["gradients"]:
        value = got.get(round(p, 6))
        expect(is_number(value), f"`p_gradients[{p}]` should be a number (use p.grad.item()).")
        expect(abs(value - gradient) <= 1e-4, f"`p_gradients[{p}]` is not what autograd gives for the "
                                              "loss (p*x - 1)**2 at x = 5.2: make p a tensor that requires grad, "
                                              "call backward() on the loss (not on f(x)), read p.grad, and start "
                                              "each p from a fresh tensor so that gradients do not add up.")


P_NOT_A_TENSOR = ("After `train_f` runs, the global `p` should hold a one-element tensor (found something else or "
                  "nothing): assign it with `global p` inside train_f.")
DEFAULT_RATE = ("`train_f` called without a learning rate does not follow gradient descent: give learning_rate the "
                "default value the cell states.")


@exercise("gradient_loop", weight=2)
def test_gradient_loop_trajectory(student, reference, hidden):
    finals, expected = student["p_after_runs"], reference["p_after_runs"]
    expect(all(is_number(v) for v in finals), P_NOT_A_TENSOR)
    expect(values_close(finals[:4], expected[:4], rtol=1e-4, atol=1e-6), _gradient_loop_diagnosis(finals[:4], hidden))


@exercise("gradient_loop")
def test_gradient_loop_default_learning_rate(student, reference, hidden):
    finals, expected = student["p_after_runs"], reference["p_after_runs"]
    if is_number(finals[4]) and values_close(finals[4], expected[4], rtol=1e-4, atol=1e-6):
        return
    if not all(is_number(v) for v in finals):
        expect(False, P_NOT_A_TENSOR)
    # a loop that is wrong with any learning rate is told once, by its diagnosis (feedback repeats only once)
    loop_right = values_close(finals[:4], expected[:4], rtol=1e-4, atol=1e-6)
    expect(False, DEFAULT_RATE if loop_right else _gradient_loop_diagnosis(finals[:4], hidden))


# Which step of train_f's loop went wrong, told from the runs' final p by replaying typical wrong loops (the
# mutants' kinds) in the judge; the diagnosis changes only the message, never the score.
GRADIENT_LOOP_STEPS = {
    "init": "`train_f` updates p as gradient descent does, but does not start from the value torch.rand(1) draws "
            "(the initialisation is wrong): draw p as the cell asks, inside train_f.",
    "zeroing": "`train_f` lets the gradients of successive iterations add up (the zeroing of the gradient is "
               "missing): set p.grad to zero after each update.",
    "sign": "`train_f` moves p up the gradient, which increases the loss (the update's sign is wrong): subtract "
            "learning_rate times the gradient.",
    "fixed rate": "`train_f` ignores its learning_rate argument (the update uses another step size): use "
                  "learning_rate in the update.",
    "sum loss": "`train_f`'s loss is the sum of the squared errors, not their mean (the loss is wrong): divide by "
                "the number of points.",
    "count": "`train_f` makes another number of updates than number_of_iterations: loop exactly that many times.",
    "no loop": "`train_f` gives the same p whatever number_of_iterations is: take one gradient step per iteration.",
}
GRADIENT_LOOP_UNKNOWN = ("The values of `p` after 1, 3, 10 and 50 iterations do not follow gradient descent from "
                         "the value drawn by torch.rand (check the initialisation, the loss, the update and the "
                         "zeroing of p.grad).")


def _descent(p: float, x: np.ndarray, y: np.ndarray, rate: float, steps: int, accumulate=False, sign=-1.0) -> float:
    """Return p after `steps` updates on the mean squared error of p * x against y (optionally wrong ways)."""
    gradient = 0.0
    for _ in range(steps):
        now = float(np.mean(2 * x * (p * x - y)))
        gradient = gradient + now if accumulate else now
        p += sign * rate * gradient
    return p


def _gradient_loop_diagnosis(finals: list[float], hidden: dict) -> str:
    """Return the message naming the step of train_f's loop that went wrong, where a replay recognises it."""
    import torch

    x, y = (np.asarray(hidden[k], dtype=np.float64) for k in "xy")
    runs = hidden["runs"][:4]
    if max(finals) - min(finals) <= 1e-6 * max(1.0, abs(finals[0])):
        return GRADIENT_LOOP_STEPS["no loop"]
    drawn = lambda run, draw: float(draw(torch.Generator().manual_seed(run["seed"])))
    starts = {"right": lambda r: drawn(r, lambda g: torch.rand(1, generator=g)),
              "init": lambda r: drawn(r, lambda g: torch.randn(1, generator=g)),
              "zero": lambda r: 0.0, "one": lambda r: 1.0}
    loops = {"right": lambda p, r: _descent(p, x, y, r["learning_rate"], r["iterations"]),
             "zeroing": lambda p, r: _descent(p, x, y, r["learning_rate"], r["iterations"], accumulate=True),
             "sign": lambda p, r: _descent(p, x, y, r["learning_rate"], r["iterations"], sign=1.0),
             "fixed rate": lambda p, r: _descent(p, x, y, 0.01, r["iterations"]),
             "sum loss": lambda p, r: _descent(p, x, y, r["learning_rate"] * len(x), r["iterations"]),
             "count": lambda p, r: _descent(p, x, y, r["learning_rate"], r["iterations"] + 1)}
    for loop_name, loop in loops.items():
        for start_name, start in starts.items():
            replayed = [loop(start(run), run) for run in runs]
            if (loop_name, start_name) != ("right", "right") and values_close(finals, replayed, rtol=1e-3, atol=1e-5):
                return GRADIENT_LOOP_STEPS["init" if loop_name == "right" else loop_name]
    return GRADIENT_LOOP_UNKNOWN


def _forward_right(got: list, expected: list) -> bool:
    """Return True when every probed deep_forward output has the reference's shape and values."""
    return len(got) == len(expected) and all(
        g["shape"] == e["shape"] and values_close(g["values"], e["values"], rtol=1e-4, atol=1e-5) for g, e in zip(got, expected))


@exercise("deep_forward")
def test_deep_forward_structure(student, reference):
    expect(student["has_layer_list"] is True and student["has_output_layer"] is True,
           "`DeepNeuralNet` should keep `self.layers` as an nn.ModuleList and `self.output_layer` as its final "
           "nn.Linear: keep the attributes the cell's __init__ creates.")
    # the two facts above are reported from the sandbox and could be forged: they count only with outputs the
    # judge has checked on hidden inputs (right with or without an output activation)
    got, expected = student["outputs"], reference["outputs"]
    expect(_forward_right(got[:2], expected[:2]) or _forward_right(got[2:], expected[2:]),
           "The structure of `DeepNeuralNet` counts once `forward` gives right outputs: fix forward first.")


@exercise("deep_forward", weight=2)
def test_deep_forward_without_output_activation(student, reference):
    for got, expected in zip(student["outputs"][:2], reference["outputs"][:2]):
        expect(got["shape"] == expected["shape"], "The output of `DeepNeuralNet.forward` has the "
                                                  "wrong shape (for a single input vector or for a batch): return the "
                                                  "output layer's result without flattening or indexing it.")
        expect(values_close(got["values"], expected["values"], rtol=1e-4, atol=1e-5),
               "`DeepNeuralNet.forward` gives wrong outputs: pass the input through every layer in `self.layers`, "
               "then `self.output_layer`.")


@exercise("deep_forward", weight=2)
def test_deep_forward_with_output_activation(student, reference):
    for got, expected in zip(student["outputs"][2:], reference["outputs"][2:]):
        expect(got["shape"] == expected["shape"] and values_close(got["values"], expected["values"], rtol=1e-4, atol=1e-5),
               "With an output activation, `forward` must apply `self.output_activation` to the output layer's result.")


def _tower_is_right(grading) -> bool:
    """Return True when the student's DeepNeuralNet passed its own exercise (judged on hidden inputs)."""
    record = grading.records.get("deep_forward", {})
    if record.get("status") != "ok":
        return False
    return _forward_right(record["data"]["outputs"], grading.reference("deep_forward")["outputs"])


TWIN_ON_A_WRONG_TOWER = ("`TwinDeepNeuralNet` does not build its tower by calling `DeepNeuralNet(...)` in its "
                         "constructor, so it can only be checked together with your `DeepNeuralNet`, which does "
                         "not pass its own exercise: build the tower with `DeepNeuralNet(...)` inside `__init__`, "
                         "or fix `DeepNeuralNet` first.")


def twin_outputs_feedback(student, hidden, grading) -> str:
    """Return "" when the twin's outputs on the hidden rows are what the judge computes, else why not.

    The probe puts a known tower (tanh of one linear layer) in DeepNeuralNet's place, loads the hidden
    weights into the first tower the twin builds and other weights into any further one: the expected
    outputs are computed here, so they hold whatever the student's DeepNeuralNet does, and a forger needs the
    right answer. A twin that does not take the known tower is judged with the judge's own ReLU tower, and
    only when the student's DeepNeuralNet is right; nothing the probe computes is taken as the expectation."""
    from .spec import _known_tower, _relu_net

    rows, equal_rows = np.asarray(hidden["inputs"]), np.asarray([hidden["equal_row"]] * 2)
    if student.get("known_tower_used") is True:
        wanted_arguments = [hidden["input_width"], list(hidden["profile"]), hidden["output_width"]]
        if student.get("tower_arguments") != wanted_arguments:
            return ("`TwinDeepNeuralNet` should build its DeepNeuralNet with the input width, hidden layer profile "
                    "and output width it is given.")
        wanted = [_known_tower(hidden["known_layer"], rows), _known_tower(hidden["known_layer"], equal_rows)]
    else:
        if not _tower_is_right(grading):
            return TWIN_ON_A_WRONG_TOWER
        wanted = [_relu_net(hidden["layers"], rows), _relu_net(hidden["layers"], equal_rows)]
    got = [student.get("outputs"), student.get("equal_row_outputs")]
    if got[0] is None or got[1] is None:
        return "`TwinDeepNeuralNet` should be built from a single DeepNeuralNet."
    if not all(values_close(g, w, rtol=1e-5, atol=1e-5) for g, w in zip(got, wanted)):
        return ("The output should be one tower, shared by both rows, applied to row 0 (query) and to row 1 "
                "(value), in that order.")
    return ""


def _one_tower_parameter_count(student, hidden) -> int:
    """Return how many parameters one tower holds, computed here from the hidden architecture."""
    if student.get("known_tower_used") is True:
        return (hidden["input_width"] + 1) * hidden["output_width"]
    return sum(np.asarray(layer["weight"]).size + np.asarray(layer["bias"]).size for layer in hidden["layers"])


STRUCTURE_NEEDS_OUTPUTS = "This check of the twin's structure counts once its outputs are right."


@exercise("twin_tower", weight=2)
def test_twin_tower_outputs(student, hidden, grading):
    feedback = twin_outputs_feedback(student, hidden, grading)
    expect(not feedback, feedback)


# The two structure checks rest on facts the probe reports from the sandbox (a forger can report any): they
# count only when the outputs check, computed here on hidden weights and rows, passes as well.
@exercise("twin_tower")
def test_twin_tower_has_one_tower(student, hidden, grading):
    expect(student.get("parameter_count") == _one_tower_parameter_count(student, hidden),
           "`TwinDeepNeuralNet` should hold the parameters of exactly one DeepNeuralNet, shared by both inputs: "
           "build one tower in __init__ and use it for both inputs.")
    expect(not twin_outputs_feedback(student, hidden, grading), STRUCTURE_NEEDS_OUTPUTS)


@exercise("twin_tower")
def test_twin_tower_shares_weights(student, hidden, grading):
    expect(student.get("rows_share_parameters") is True, "`TwinDeepNeuralNet.forward` should send the query "
                                                         "row and the value row through the same parameters: call the "
                                                         "same tower for both.")
    expect(not twin_outputs_feedback(student, hidden, grading), STRUCTURE_NEEDS_OUTPUTS)


# minimal_width / deep_minimal_width: the student claims a network (w_1, or a deep profile) and, optionally,
# the training they used (w_1_training / w_2_training: lr and epochs; batch 4, Adam and BCE as in the
# notebook). The judge trains the claim as stated on its own seeds: "learns f" (a least epoch-mean loss of at
# most 0.001 on a strict majority of them) earns the larger share, "small" (at most the calibrated least
# width that learns f under the default training; a deep profile: fewer neurons in total) the rest. Feedback
# gives the student's own numbers and how many seeds learned, never the calibrated numbers or the seeds.


def _default_training() -> dict:
    protocol = calibration_of(__file__)["protocol"]
    return {"lr": protocol["lr"], "epochs": protocol["epochs"]}


def stated_training(summary: dict | None, name: str) -> dict:
    """Return {"lr", "epochs"} as the student states them in `name` (the default where it says nothing),
    after checking the keys, types and bounds the notebook gives."""
    from .spec import EPOCH_BOUNDS, LR_BOUNDS  # the notebook states them: 1e-5 <= lr <= 1, 1 <= epochs <= 2000

    training = _default_training()
    if not isinstance(summary, dict) or not summary.get("given"):
        return training
    form = f'`{name}` should be a dict such as {{"lr": 0.01, "epochs": 600}}'
    expect(summary.get("kind") == "dict" and isinstance(summary.get("items"), dict), f"{form}.")
    items = summary["items"]
    expect(set(items) <= {"lr", "epochs"}, f'{form}: only "lr" and "epochs" can be changed (batch size 4, '
                                           "Adam and BCELoss stay as in the notebook).")
    lr, epochs = items.get("lr", training["lr"]), items.get("epochs", training["epochs"])
    shown = lambda v: f" (it is {v:g})" if is_number(v) else ""
    expect(is_number(lr) and LR_BOUNDS[0] <= lr <= LR_BOUNDS[1],
           f'`{name}["lr"]` should be a number from 1e-5 to 1{shown(lr)}.')
    expect(as_int(epochs) is not None and EPOCH_BOUNDS[0] <= as_int(epochs) <= EPOCH_BOUNDS[1],
           f'`{name}["epochs"]` should be a whole number from {EPOCH_BOUNDS[0]} to {EPOCH_BOUNDS[1]}{shown(epochs)}.')
    return {"lr": float(lr), "epochs": as_int(epochs)}


def describe_training(training: dict, name: str) -> str:
    """Return how the judge trained a claim, in the student's terms."""
    stated = f"as you stated in `{name}`" if training != _default_training() else "with the default training"
    return f"Trained {stated} (Adam, lr {training['lr']:g}, batch size 4, {training['epochs']} epochs)"


@cache
def learned_on(profile: tuple[int, ...], lr: float, epochs: int) -> tuple[int, int]:
    """Return (judge seeds on which `profile` trained with lr and epochs reaches the loss threshold, judge seeds
    trained): it learns f when the first is a strict majority of the judge's seeds.  verify_claim trains only
    the seeds the verdict needs.  Deterministic, so remembered on disk per (profile, training): each distinct
    claim in a class is trained once."""
    import torch

    from autograder.replicas import verify_claim

    from .spec import boolean_function

    settings = calibration_of(__file__)
    seeds, threshold = settings["judge_seeds"], settings["protocol"]["loss_threshold"]

    def train() -> list[float]:
        threads = torch.get_num_threads()
        torch.set_num_threads(1)  # small matmuls: one thread is faster, and fair to parallel workers
        try:
            losses = verify_claim(list(profile), seeds, *boolean_function(), threshold, epochs=epochs, lr=lr)
        finally:
            torch.set_num_threads(threads)
        return [float(v) for v in losses.tolist()]

    key = (f"{list(profile)} lr={lr!r} epochs={epochs} seeds={seeds} threshold={threshold} torch={torch.__version__}"
           " verify_claim")
    losses = remember_on_disk("hands_on_dl.claims", key, train, near=__file__)
    return sum(loss <= threshold for loss in losses), len(losses)  # a NaN loss never counts as learned


def learns_feedback(profile: tuple[int, ...], training: dict, what: str, name: str) -> str:
    """Return "" when the claim learns f on a strict majority of the judge's seeds, else what happened."""
    learned, seeds = learned_on(profile, training["lr"], training["epochs"])
    if learned * 2 > len(calibration_of(__file__)["judge_seeds"]):
        return ""
    return (f"{describe_training(training, name)}, {what} "
            f"reached a loss of 0.001 on {learned} of {seeds} seeds; it should on most of them. Train longer, "
            "change the learning rate or use more neurons, and check it in the cell after the exercise.")


def claimed_width(student) -> int:
    """Return the claimed w_1 after checking it is a whole number the judge will train."""
    from .spec import MAX_NEURONS

    width = as_int(student.get("value"))
    expect(width is not None and width >= 1, "`w_1` should be a whole, positive number of neurons.")
    expect(width <= MAX_NEURONS, f"`w_1` should be at most {MAX_NEURONS} neurons (the most the judge trains).")
    return width


def claimed_profile(student) -> tuple[int, ...]:
    """Return the claimed deep profile after checking it is one the judge will train."""
    from .spec import MAX_DEEP_NEURONS, MAX_LAYERS

    profile = student.get("profile")
    widths = [as_int(w) for w in profile] if isinstance(profile, list) else []
    expect(len(widths) >= 2 and all(w is not None and w >= 1 for w in widths),
           "`hidden_layer_profile_2` should list at least two positive layer widths.")
    expect(len(widths) <= MAX_LAYERS and sum(widths) <= MAX_DEEP_NEURONS,
           f"`hidden_layer_profile_2` should have at most {MAX_LAYERS} layers and {MAX_DEEP_NEURONS} neurons in total "
           "(the shallow network of the demo has 256: a deep one should need fewer).")
    return tuple(widths)


def minimal_width_learns(student) -> str:
    width = claimed_width(student)
    training = stated_training(student.get("training"), "w_1_training")
    return learns_feedback((width,), training, f"a network with w_1 = {width} hidden neurons", "w_1_training")


def deep_profile_learns(student) -> str:
    profile = claimed_profile(student)
    training = stated_training(student.get("training"), "w_2_training")
    return learns_feedback(profile, training, f"a network with hidden layers {list(profile)}", "w_2_training")


NEEDS_LEARNING = "This check counts once your network learns f as you trained it (see the other message)."


@exercise("minimal_width", weight=2)
def test_minimal_width_learns_f(student):
    feedback = minimal_width_learns(student)
    expect(not feedback, feedback)


@exercise("minimal_width")
def test_minimal_width_is_small(student):
    width = claimed_width(student)
    stated_training(student.get("training"), "w_1_training")
    expect(width <= calibration_of(__file__)["w1_least"],
           f"w_1 = {width} is not the least width that learns f: narrower networks learn f, even with the default "
           "training. Look for fewer neurons (a longer training or another learning rate can help).")
    expect(not minimal_width_learns(student), NEEDS_LEARNING)


@exercise("deep_minimal_width", weight=2)
def test_deep_minimal_width_learns_f(student):
    feedback = deep_profile_learns(student)
    expect(not feedback, feedback)


@exercise("deep_minimal_width")
def test_deep_minimal_width_is_small(student):
    profile = claimed_profile(student)
    stated_training(student.get("training"), "w_2_training")
    expect(sum(profile) < calibration_of(__file__)["w1_least"],
           f"`hidden_layer_profile_2` uses {sum(profile)} neurons in total: a deep network should learn f with fewer "
           "neurons than the least one-layer network that learns f with the default training.")
    expect(not deep_profile_learns(student), NEEDS_LEARNING)


def _judge_accuracy(student, labels, threshold: float) -> None:
    score = accuracy(student["predictions"], labels)
    expect(score >= threshold, f"Your network's test accuracy is {score:.2%}; it needs at least {threshold:.0%}. "
                               "Train longer or change the architecture, then save the weights again.")


@exercise("fashion_accuracy")
def test_fashion_accuracy_reaches_threshold(student, held_out_labels, threshold):
    _judge_accuracy(student, held_out_labels, threshold)


@exercise("mnist_accuracy")
def test_mnist_accuracy_reaches_threshold(student, held_out_labels, threshold):
    _judge_accuracy(student, held_out_labels, threshold)
