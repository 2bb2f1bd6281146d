"""The gradient-loop graders name the step that went wrong (issue 18): each typical wrong loop, replayed on
one seed's hidden inputs, gets its own message, which names the function and shows no hidden value. Each test
takes under 1 s; importing torch and the lessons' modules takes the rest (15-35 s on a loaded machine)."""
import numpy as np
import pytest
import torch

from autograder.judge import GradingFailure
from lessons.hands_on_dl import spec as hands_on_spec
from lessons.hands_on_dl import test_hands_on_dl as hands_on
from lessons.neurons_and_training import spec as neurons_spec
from lessons.neurons_and_training import test_neurons_and_training as neurons


def _hidden_text(hidden: dict) -> list[str]:
    """Return the hidden numbers as they would be printed, to look for in feedback."""
    numbers = [v for v in np.ravel(hidden.get("x", [])).tolist() + np.ravel(hidden.get("y", [])).tolist()]
    numbers += [value for run in hidden["runs"] for key, value in run.items() if key not in ("iterations", "n_iterations")]
    return [f"{n:.3g}" for n in numbers if abs(n) > 1e-3 and f"{n:.3g}" not in ("0.01", "0.1")]


@pytest.mark.parametrize("way, start, expected", [
    (dict(accumulate=True), "rand", "zeroing"), (dict(sign=1.0), "rand", "sign"),
    (dict(rate=0.01), "rand", "fixed rate"), (dict(sum_loss=True), "rand", "sum loss"),
    (dict(extra=1), "rand", "count"), (dict(), "randn", "init"), (dict(), "zeros", "init")])
def test_train_f_diagnosis_names_the_wrong_step(way, start, expected):
    hidden = hands_on_spec.hidden_inputs(7)["gradient_loop"]
    x, y = np.asarray(hidden["x"]), np.asarray(hidden["y"])
    finals = []
    for run in hidden["runs"][:4]:
        draw = {"rand": torch.rand, "randn": torch.randn, "zeros": lambda n, generator: torch.zeros(n)}[start]
        p = float(draw(1, generator=torch.Generator().manual_seed(run["seed"])))
        rate = way.get("rate", run["learning_rate"]) * (len(x) if way.get("sum_loss") else 1)
        finals.append(hands_on._descent(p, x, y, rate, run["iterations"] + way.get("extra", 0),
                                        accumulate=way.get("accumulate", False), sign=way.get("sign", -1.0)))
    message = hands_on._gradient_loop_diagnosis(finals, hidden)
    assert message == hands_on.GRADIENT_LOOP_STEPS[expected]
    assert message.startswith("`train_f`") and not any(n in message for n in _hidden_text(hidden))


def test_train_f_diagnosis_of_an_unrecognised_loop_is_the_general_message():
    hidden = hands_on_spec.hidden_inputs(7)["gradient_loop"]
    assert hands_on._gradient_loop_diagnosis([0.1, 0.3, 0.2, 0.4], hidden) == hands_on.GRADIENT_LOOP_UNKNOWN
    assert hands_on._gradient_loop_diagnosis([0.5] * 4, hidden) == hands_on.GRADIENT_LOOP_STEPS["no loop"]


@pytest.mark.parametrize("way, expected", [(dict(accumulate=True), "zeroing"), (dict(sign=1.0), "sign"),
                                           (dict(early=True), "recorded early")])
def test_gradient_descent_diagnosis_names_the_wrong_step(way, expected):
    hidden = neurons_spec.hidden_inputs(7)["gradient_descent"]
    for run in hidden["runs"]:
        steps = neurons._replayed_descent(run["x0"], run["learning_rate"], run["n_iterations"], **way)
        message = neurons._descent_diagnosis(steps, run)
        assert message == neurons.DESCENT_STEPS[expected]
        assert message.startswith("`") and not any(n in message for n in _hidden_text(hidden))


def test_gradient_descent_diagnosis_recognises_a_fixed_learning_rate():
    run = next(r for r in neurons_spec.hidden_inputs(7)["gradient_descent"]["runs"] if r["learning_rate"] != 0.1)
    steps = neurons._replayed_descent(run["x0"], 0.1, run["n_iterations"])
    assert neurons._descent_diagnosis(steps, run) == neurons.DESCENT_STEPS["fixed rate"]


def _default_rate_feedback(finals: list, expected: list) -> str:
    """Return the feedback of train_f's default-learning-rate grader on these final values of p."""
    hidden = hands_on_spec.hidden_inputs(7)["gradient_loop"]
    with pytest.raises(GradingFailure) as failure:
        hands_on.test_gradient_loop_default_learning_rate({"p_after_runs": finals}, {"p_after_runs": expected}, hidden)
    return str(failure.value)


def test_default_learning_rate_grader_blames_the_default_only_when_the_loop_is_right():
    expected = [0.1, 0.2, 0.3, 0.4, 0.5]
    assert _default_rate_feedback(expected[:4] + [0.9], expected) == hands_on.DEFAULT_RATE
    assert _default_rate_feedback([0.9] * 5, expected) == hands_on.GRADIENT_LOOP_STEPS["no loop"]
    assert _default_rate_feedback([0.9, None, 0.9, 0.9, 0.7], expected) == hands_on.P_NOT_A_TENSOR
