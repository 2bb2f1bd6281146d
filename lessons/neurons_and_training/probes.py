"""Probes for the neurons_and_training lesson (activations, neurons, derivatives, gradient descent, AND/XOR, MLP)."""
from __future__ import annotations

from autograder.sandboxed.probes.common import (MissingAnswer, answer, call_quietly, choice_answers, module_leaves, numeric_summary,
                     predict_with_submitted_weights, seeded_linear_parameters, tensor, tensor_summary)

MLP_SHAPES = [[512, 784], [512, 512], [10, 512]]  # [out, in] of linear1, linear2, linear3
XOR_KEYS = ["and_single_layer", "xor_single_layer", "why", "hidden_layer_xor", "linear_hidden_layer_xor"]


def _identity(z):
    return z


def _scalar(value):
    """Return a one-element numeric value as a float, anything else as {"kind": its type}."""
    summary = numeric_summary(value)
    return summary["values"][0] if summary["kind"] == "array" and len(summary["values"]) == 1 else {"kind": summary["kind"]}


def _attempt(name: str, compute) -> dict:
    """Return compute() or, when the student's code raised (or the name is missing), what happened, named after
    the function `name`: each function of a cell is judged on its own, one that raises costs only its checks."""
    try:
        return compute()
    except MissingAnswer as exc:
        return {"kind": "missing", "function": name, "message": str(exc)}
    except (Exception, SystemExit) as exc:  # a timeout (KeyboardInterrupt) still ends the probe
        return {"kind": "raised", "function": name, "error": type(exc).__name__, "message": str(exc)[:300]}


def _call(ns: dict, name: str, *args) -> dict:
    """Return the numeric summary of the student's function `name` called on `args`, or what went wrong."""
    return _attempt(name, lambda: numeric_summary(call_quietly(answer(ns, name), *args)))


def _unanswered_if_all(attempts: list) -> None:
    """Raise as the answer cell would when none of its functions is answered yet (every call raised
    NotImplementedError, or every name is missing): the exercise then reads "missing", not "failed"."""
    if all(isinstance(a, dict) and a.get("error") == "NotImplementedError" for a in attempts):
        raise NotImplementedError()
    if all(isinstance(a, dict) and a.get("kind") == "missing" for a in attempts):
        raise MissingAnswer(attempts[0]["message"])


def probe_activations(ns: dict, vector: list, matrix: list, large: list, scalars: list) -> dict:
    """Return `sigmoid` and `relu` on hidden arrays (large magnitudes included) and scalars, each call on its own
    (an error is reported in place of its value); numpy warnings such as an overflow in exp are silenced, only the
    values count."""
    import numpy as np

    results = {}
    for name in ("sigmoid", "relu"):
        results[name] = {"vector": _call(ns, name, np.array(vector)), "matrix": _call(ns, name, np.array(matrix)),
                         "large": _call(ns, name, np.array(large)), "scalars": [_call(ns, name, s) for s in scalars]}
    results["relu"]["integers"] = _call(ns, "relu", np.array([int(round(v)) for v in vector]))
    _unanswered_if_all([results[name][key] for name in ("sigmoid", "relu") for key in ("vector", "matrix", "large")])
    return results


def probe_neuron_numpy(ns: dict, cases: list[dict]) -> dict:
    """Return `neuron(x, w, b, ...)` on hidden inputs with the default activation, the identity and a ReLU."""
    import numpy as np

    neuron = answer(ns, "neuron")
    activations = {"default": None, "identity": _identity, "relu": lambda z: np.maximum(0.0, z)}
    outputs = []
    for case in cases:
        x, w = np.array(case["x"]), np.array(case["w"])
        activation = activations[case["activation"]]
        args = (x, w, case["b"]) if activation is None else (x, w, case["b"], activation)
        outputs.append(numeric_summary(call_quietly(neuron, *args)))
    return {"outputs": outputs}


def probe_derivative_by_hand(ns: dict, points: list) -> dict:
    """Return the number `derivative_at_2` and the hand-derived `cubic_derivative` at hidden points (one array)."""
    import numpy as np

    at_2 = _attempt("derivative_at_2", lambda: numeric_summary(answer(ns, "derivative_at_2")))
    formula = _call(ns, "cubic_derivative", np.array(points))
    _unanswered_if_all([at_2, formula])
    return {"at_2": at_2, "kind_at_2": type(ns.get("derivative_at_2")).__name__, "formula": formula}


def probe_autograd_derivative(ns: dict, points: list) -> dict:
    """Return `cubic_gradient(x0)` for each hidden point."""
    gradient = answer(ns, "cubic_gradient")
    return {"gradients": [numeric_summary(gradient(x0)) for x0 in points]}


def probe_neuron_torch(ns: dict, cases: list[dict]) -> dict:
    """Return `neuron_in_pytorch` values and the autograd gradients through it, and `neuron_gradients`,
    on hidden float64 inputs."""
    import torch

    activations = {"default": None, "sigmoid": torch.sigmoid, "identity": _identity}

    def through_neuron(case: dict, extra: tuple) -> dict:
        x = tensor(case["x"], "float64").requires_grad_(True)
        w = tensor(case["w"], "float64").requires_grad_(True)
        b = tensor(case["b"], "float64").requires_grad_(True)
        y = answer(ns, "neuron_in_pytorch")(x, w, b, *extra)
        result = {"value": numeric_summary(y), "differentiable": isinstance(y, torch.Tensor) and y.requires_grad}
        if result["differentiable"] and y.numel() == 1:
            grad_x, grad_w, grad_b = torch.autograd.grad(y.sum(), (x, w, b), allow_unused=True)
            result["through"] = [numeric_summary(g) if g is not None else {"kind": "None"} for g in (grad_x, grad_w, grad_b)]
        return result

    def gradients_of(case: dict, extra: tuple):
        given = answer(ns, "neuron_gradients")(tensor(case["x"], "float64"), tensor(case["w"], "float64"),
                                               tensor(case["b"], "float64"), *extra)
        if not isinstance(given, (tuple, list)):
            return {"kind": type(given).__name__}
        return [numeric_summary(g) for g in given]

    results = []
    for case in cases:  # each function on its own: one that raises costs only its own checks
        activation = activations[case["activation"]]
        extra = () if activation is None else (activation,)
        neuron = _attempt("neuron_in_pytorch", lambda: through_neuron(case, extra))
        result = neuron if "value" in neuron else {"value": neuron, "differentiable": False}
        result["gradients"] = _attempt("neuron_gradients", lambda: gradients_of(case, extra))
        results.append(result)
    _unanswered_if_all([r["value"] for r in results] + [r["gradients"] for r in results])
    return {"cases": results}


def probe_gradient_descent(ns: dict, runs: list[dict]) -> dict:
    """Return, for each hidden start, learning rate and iteration count, the x_list and final x of
    `gradient_descent`."""
    import torch

    descend = answer(ns, "gradient_descent")
    results = []
    for run in runs:
        x = torch.tensor(run["x0"], dtype=torch.float64, requires_grad=True)
        returned = descend(x, learning_rate=run["learning_rate"], n_iterations=run["n_iterations"])
        if not isinstance(returned, (tuple, list)) or len(returned) != 2:
            results.append({"kind": type(returned).__name__})
            continue
        final, x_list = returned
        summary = numeric_summary(x_list)
        if isinstance(x_list, (list, tuple)):
            steps = [_scalar(v) for v in x_list]
        elif summary["kind"] == "array" and len(summary["shape"]) == 1:
            steps = summary["values"]
        else:
            steps = {"kind": type(x_list).__name__}
        results.append({"kind": "pair", "final": numeric_summary(final), "x_list": steps})
    return {"runs": results}


def probe_and_gate(ns: dict, inputs: list) -> dict:
    """Return `and_weights` and `and_bias` as numbers (the judge computes sigmoid(x @ and_weights + and_bias) on
    the four AND inputs itself: outputs reported from here could be forged without any weights)."""
    def small(value):  # the answer is two weights and one bias: larger arrays are judged by their shape alone
        summary = numeric_summary(value)
        return {key: summary[key] for key in ("kind", "shape")} if len(summary.get("values", ())) > 16 else summary

    return {"weights": small(answer(ns, "and_weights")), "bias": small(answer(ns, "and_bias"))}


def probe_xor_hidden_layer(ns: dict) -> dict:
    """Return the choice answers of `xor_answers`."""
    return choice_answers(answer(ns, "xor_answers"), XOR_KEYS)


def _seeded_mlp_output(net, weight_seed: int, images: list) -> dict:
    """Return the output of a copy of `net` on `images` (as [N, 1, 28, 28]) with each nn.Linear holding the weights
    seeded_linear_parameters draws for the MLP layer of its shape (784->512, 512->512, 512->10: the judge redraws
    them and recomputes the output itself)."""
    import copy

    import torch

    net = copy.deepcopy(net)
    linears = [leaf for leaf in module_leaves(net) if isinstance(leaf, torch.nn.Linear)]
    with torch.no_grad():
        for position, linear in enumerate(linears):
            shape = list(linear.weight.shape)  # [out, in]
            index = MLP_SHAPES.index(shape) if shape in MLP_SHAPES else len(MLP_SHAPES) + position
            weight, bias = seeded_linear_parameters(weight_seed, index, shape[-1], shape[0])
            linear.weight.copy_(torch.from_numpy(weight).reshape(linear.weight.shape))
            if linear.bias is not None:
                linear.bias.copy_(torch.from_numpy(bias).reshape(linear.bias.shape))
        net.eval()
        return tensor_summary(net(tensor(images).reshape(-1, 1, 28, 28)))


def probe_mlp_accuracy(ns: dict, images: str, probe_images: list, weight_seed: int) -> dict:
    """Return predictions of `mlp` with `mnist_mlp.pth` on the held-out images (no labels here), the shapes of
    its linear layers, and its outputs on a few hidden random images with weights drawn from `weight_seed`."""
    import torch

    result = predict_with_submitted_weights(ns, "mlp", "mnist_mlp.pth", images, (1, 28, 28))
    net = answer(ns, "mlp")
    result["linear_shapes"] = [list(m.weight.shape) for m in net.modules() if isinstance(m, torch.nn.Linear)]
    try:
        result["seeded"] = {"output": _seeded_mlp_output(net, weight_seed, probe_images)}
    except Exception as exc:  # judged on this exercise's architecture test; the predictions above still count
        result["seeded"] = {"error": type(exc).__name__}
    return result
