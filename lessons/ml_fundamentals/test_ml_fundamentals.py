"""Hidden graders for ml_fundamentals: each test judges one property of one exercise's probe data.
Judgements on noisy data use the calibration in lessons/ml_fundamentals/calibration.json
(re-made by lessons/ml_fundamentals/calibrate.py). Feedback never shows expected values or hidden inputs."""
from __future__ import annotations

import numpy as np

from autograder.calibration import calibration_of
from autograder.judge import CannotJudge, accuracy, exercise, expect, expect_array, is_number, values_close

from .probes import seeded_parameter
from .spec import SELECTION, TRUTH_KEY, selection_tolerances, sound_picks


@exercise("poly_losses")
def test_poly_losses_shape(student, hidden):
    expect_array(student, "The result of `train_test_losses`", [len(hidden["degrees"]), 2])


@exercise("poly_losses", weight=2)
def test_poly_lossesexpect_array(student, reference, hidden):
    got = expect_array(student, "The result of `train_test_losses`", [len(hidden["degrees"]), 2])
    expected = np.asarray(reference["values"], dtype=np.float64).reshape(got.shape)
    expect(values_close(got[:, 0], expected[:, 0], rtol=1e-4, atol=1e-9),
           "Column 0 of what `train_test_losses` returns should be the training loss: the mean squared error of "
           "each degree's least-squares fit on the training data it was fitted to.")
    expect(values_close(got[:, 1], expected[:, 1], rtol=1e-4, atol=1e-9),
           "Column 1 of what `train_test_losses` returns should be the test loss: the mean squared error of the "
           "same fit on the test data.")


def _picks(student, hidden) -> list[int]:
    picks = student["picks"]
    expect(isinstance(picks, list) and len(picks) == len(hidden["datasets"]),
           "`select_degree` did not return one degree per data set.")
    expect(all(isinstance(p, int) for p in picks), "`select_degree` should return a whole number (a degree).")
    return picks


@exercise("select_degree")
def test_select_degree_returns_a_degree(student, hidden):
    picks = _picks(student, hidden)
    expect(all(0 <= p <= s["max_degree"] for p, s in zip(picks, hidden["datasets"])),
           "`select_degree` should return a degree between 0 and max_degree (an int); it returned one outside "
           "that range: return one of the degrees you fitted.")


@exercise("select_degree", weight=2)
def test_select_degree_finds_the_degree_the_data_need(student, hidden, grading):
    """On the clear-cut data sets ("plenty": many points, little noise, a clearly non-zero leading coefficient)
    every sound validation procedure picks at least the polynomial's degree. The judge confirms it per data set
    with its own procedures on the same data (sound_picks); the student's pick may fall below the degree on at
    most `allowed_below` of the confirmed ones."""
    picks, truth = _picks(student, hidden), grading.inputs[TRUTH_KEY]
    rng = np.random.default_rng([grading.seed, 2])
    judged = below = 0
    for pick, dataset, degree, group in zip(picks, hidden["datasets"], truth["degrees"], truth["groups"]):
        if group != "plenty" or min(sound_picks(dataset["X"], dataset["Y"], dataset["max_degree"], rng)) < degree:
            continue  # a data set the judge's own procedures do not all find clear-cut on this draw is not judged
        judged += 1
        below += pick < degree
    if not judged:
        raise CannotJudge("select_degree: no hidden data set was clear-cut to the judge's own procedures on this draw")
    expect(below <= selection_tolerances()["allowed_below"],
           f"On {below} of {judged} noisy samples of polynomials where validation clearly needs the polynomial's own "
           "degree (plenty of points, little noise), your `select_degree` picked a lower one. Fit each degree on the "
           "training part only and return the degree with the least loss on the held-out part, never a degree "
           "fixed in advance or shifted.")


def _mean_excess(picks: list[int], truth: dict, group: str, up_to: int) -> float:
    return float(np.mean([p - d for p, d, g in zip(picks, truth["degrees"], truth["groups"]) if g == group and d <= up_to]))


@exercise("select_degree")
def test_select_degree_does_not_overfit_plenty_of_points(student, hidden, grading):
    """On the clear-cut samples of degree <= low_degrees, the mean excess of the picks over the true degree stays
    within what every sound procedure reaches (calibrated down to 10 % hold-outs)."""
    excess = _mean_excess(_picks(student, hidden), grading.inputs[TRUTH_KEY], "plenty", SELECTION["plenty"]["low_degrees"])
    expect(excess <= selection_tolerances()["max_mean_excess_plenty"],
           "On noisy samples of low-degree polynomials your `select_degree` picks degrees far above the ones "
           "validation picks: the degree must come from the data (the least loss on held-out points), not be "
           "fixed in advance.")


@exercise("select_degree")
def test_select_degree_does_not_overfit_few_points(student, hidden, grading):
    """On small samples of low-degree polynomials with many candidate degrees, a loss measured on held-out points
    stays near the true degree, a loss on points the fit has seen runs to the highest degrees (calibrated)."""
    excess = _mean_excess(_picks(student, hidden), grading.inputs[TRUTH_KEY], "few", len(SELECTION["few"]["copies"]))
    expect(excess <= selection_tolerances()["max_mean_excess_few"],
           "On small noisy samples of low-degree polynomials your `select_degree` picks far too high degrees: "
           "the validation points must not be used in the fit (fit on the training part only, then measure the "
           "loss on the held-out part).")


@exercise("gd_trajectory")
def test_gd_trajectory_shape(student, hidden):
    for summary, case in zip(student["trajectories"], hidden["cases"]):
        expect_array(summary, "The result of `gradient_descent`", [case["epochs"] + 1, 2])


@exercise("gd_trajectory", weight=2)
def test_gd_trajectoryexpect_array(student, reference, hidden):
    for summary, expected, case in zip(student["trajectories"], reference["trajectories"], hidden["cases"]):
        got = expect_array(summary, "The result of `gradient_descent`", [case["epochs"] + 1, 2])
        expected = np.reshape(expected["values"], got.shape)
        expect(values_close(got, expected, rtol=1e-9, atol=1e-12), _trajectory_diagnosis(got, expected))


def _trajectory_diagnosis(got: np.ndarray, expected: np.ndarray) -> str:
    """Return the message naming where gradient_descent's rows first go wrong: the start, the first update or a
    later one (the student's rows against the reference's, never showing a value)."""
    same = lambda row: values_close(got[row], expected[row], rtol=1e-9, atol=1e-12)
    if not same(0):
        return "`gradient_descent` should put the start itself as row 0 of what it returns."
    if not same(1):
        return ("`gradient_descent`'s first update (row 1) does not follow theta <- theta - eta * grad E(theta): "
                "check grad E and the sign of the update.")
    return ("`gradient_descent` follows theta <- theta - eta * grad E(theta) at first but not for every epoch and "
            "learning rate: keep iterating all epochs, even for a learning rate where it diverges (no early stop, "
            "no clipping).")


@exercise("lr_bound")
def test_lr_bound_is_a_number(student):
    expect(all(b.get("kind") == "array" and b["shape"] == [] and is_number(b["values"][0])
               for b in student["bounds"]), "`learning_rate_bound` should return one finite number "
                                                                "(a float): return it, not a list or a tensor.")


@exercise("lr_bound", weight=2)
def test_lr_bound_matches_the_analytic_bound(student, reference):
    expect(all(b.get("kind") == "array" and b["shape"] == [] and is_number(b["values"][0])
               for b in student["bounds"]), "`learning_rate_bound` should return one finite number "
                                                                "(a float): return it, not a list or a tensor.")
    got = [b["values"][0] for b in student["bounds"]]
    expected = [b["values"][0] for b in reference["bounds"]]
    expect(values_close(got, expected, rtol=1e-6, atol=0),
           "`learning_rate_bound(a, b)` is not the largest learning rate below which gradient descent on "
           "a*theta_0^2 + b*theta_1^2 converges from every start (work out the update of each coordinate).")


def _judge_accuracy(name: str, student, labels) -> None:
    score = accuracy(student["predictions"], labels)
    threshold = calibration_of(__file__)["networks"]["nets"][name]["threshold"]
    expect(score >= threshold, f"Your network's test accuracy is {score:.2%}; it needs at least {threshold:.1%}. "
                               "Train it (longer), then save its weights again.")


# the networks the notebook asks for, as (kind, parameter shapes) layer by layer; the judge recomputes their
# outputs with the parameters the probe sets (seeded_parameter, in definition order) and compares
NETWORKS = {
    "linear_accuracy": [("flatten",), ("linear", (10, 784)), ("softmax",)],
    "dnn_accuracy": [("flatten",), ("linear", (50, 784)), ("relu",), ("linear", (10, 50)), ("softmax",)],
    "cnn_accuracy": [("conv", (12, 1, 9, 9)), ("maxpool", 2), ("relu",), ("conv", (24, 12, 5, 5)), ("relu",),
                     ("maxpool", 3), ("flatten",), ("linear", (16, 96)), ("relu",), ("linear", (10, 16)),
                     ("softmax",)],
}
DESCRIPTIONS = {
    "linear_accuracy": "`linear_net` should flatten each image, apply one dense layer of 10 neurons "
                       "(nn.Linear(784, 10)) and a softmax over the 10 classes",
    "dnn_accuracy": "`dnn_net` should flatten each image, apply nn.Linear(784, 50), a ReLU, nn.Linear(50, 10) and "
                    "a softmax over the 10 classes",
    "cnn_accuracy": "`cnn_net` should apply the layers the exercise lists, in order, ending with a softmax over "
                    "the 10 classes",
}


def expected_output(exercise_id: str, weight_seed: int, images) -> np.ndarray:
    """Return, computed here, the output of the network the notebook asks for with the probe's seeded parameters."""
    import torch
    import torch.nn.functional as F

    x, index = torch.tensor(np.asarray(images, dtype=np.float64)), 0

    def parameters(*shapes):
        nonlocal index
        values = [torch.from_numpy(seeded_parameter(weight_seed, index + i, s).astype(np.float64))
                  for i, s in enumerate(shapes)]
        index += len(shapes)
        return values

    for layer in NETWORKS[exercise_id]:
        kind = layer[0]
        if kind == "flatten":
            x = x.flatten(1)
        elif kind == "linear":
            x = F.linear(x, *parameters(layer[1], layer[1][:1]))
        elif kind == "conv":
            x = F.conv2d(x, *parameters(layer[1], layer[1][:1]))
        elif kind == "maxpool":
            x = F.max_pool2d(x, layer[1])
        elif kind == "relu":
            x = F.relu(x)
        elif kind == "softmax":
            x = F.softmax(x, dim=1)
    return x.numpy()


def _judge_structure(exercise_id: str, student, hidden) -> None:
    seeded = student["seeded"]
    expect("error" not in seeded, f"{DESCRIPTIONS[exercise_id]}: it raised {seeded.get('error')} on a batch of "
                                  "images once the grader set its parameters.")
    out = seeded["output"]
    expect(out.get("kind") == "tensor" and out["shape"] == [len(hidden["probe_images"]), 10] and out["values"],
           f"{DESCRIPTIONS[exercise_id]}: it should map a batch of 1x28x28 images to 10 class probabilities each.")
    expected = expected_output(exercise_id, hidden["weight_seed"], hidden["probe_images"])
    expect(values_close(out["values"], expected, rtol=1e-3, atol=1e-5),
           f"{DESCRIPTIONS[exercise_id]} (tested with parameters set by the grader: its outputs are not that "
           "network's; each image's 10 outputs should be probabilities summing to 1).")


@exercise("linear_accuracy")
def test_linear_net_structure(student, hidden):
    _judge_structure("linear_accuracy", student, hidden)


@exercise("linear_accuracy", weight=2)
def test_linear_accuracy_reaches_threshold(student, held_out_labels):
    _judge_accuracy("linear_accuracy", student, held_out_labels)


@exercise("dnn_accuracy")
def test_dnn_net_structure(student, hidden):
    _judge_structure("dnn_accuracy", student, hidden)


@exercise("dnn_accuracy", weight=2)
def test_dnn_accuracy_reaches_threshold(student, held_out_labels):
    _judge_accuracy("dnn_accuracy", student, held_out_labels)


@exercise("cnn_accuracy")
def test_cnn_net_structure(student, hidden):
    _judge_structure("cnn_accuracy", student, hidden)


@exercise("cnn_accuracy", weight=2)
def test_cnn_accuracy_reaches_threshold(student, held_out_labels):
    _judge_accuracy("cnn_accuracy", student, held_out_labels)
