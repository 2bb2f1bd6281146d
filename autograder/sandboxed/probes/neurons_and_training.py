"""Probes for the neurons_and_training lesson (activations, neurons, derivatives, gradient descent, AND/XOR, MLP)."""
from __future__ import annotations

from .common import (answer, call_quietly, choice_answers, module_leaves, numeric_summary,
                     predict_images_with_submitted_weights, seeded_linear_parameters, tensor, tensor_summary)

MLP_SHAPES = [[512, 784], [512, 512], [10, 512]]  # [out, in] of linear1, linear2, linear3
XOR_KEYS = ["and_single_layer", "xor_single_layer", "why", "hidden_layer_xor", "linear_hidden_layer_xor"]


def _identity(z):
    return z


def _scalar(value):
    """Return a one-element numeric value as a float, anything else as {"kind": its type}."""
    summary = numeric_summary(value)
    return summary["values"][0] if summary["kind"] == "array" and len(summary["values"]) == 1 else {"kind": summary["kind"]}


def probe_activations(ns: dict, vector: list, matrix: list, large: list, scalars: list) -> dict:
    """Return `sigmoid` and `relu` on hidden arrays (large magnitudes included) and scalars; numpy warnings
    such as an overflow in exp are silenced, only the values count."""
    import numpy as np

    results = {}
    for name in ("sigmoid", "relu"):
        function = answer(ns, name)
        results[name] = {"vector": numeric_summary(call_quietly(function, np.array(vector))),
                         "matrix": numeric_summary(call_quietly(function, np.array(matrix))),
                         "large": numeric_summary(call_quietly(function, np.array(large))),
                         "scalars": [numeric_summary(call_quietly(function, s)) for s in scalars]}
    results["relu"]["integers"] = numeric_summary(call_quietly(answer(ns, "relu"),
                                                               np.array([int(round(v)) for v in vector])))
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

    value = answer(ns, "derivative_at_2")
    formula = answer(ns, "cubic_derivative")
    return {"at_2": numeric_summary(value), "kind_at_2": type(value).__name__,
            "formula": numeric_summary(call_quietly(formula, np.array(points)))}


def probe_autograd_derivative(ns: dict, points: list) -> dict:
    """Return `cubic_gradient(x0)` for each hidden point."""
    gradient = answer(ns, "cubic_gradient")
    return {"gradients": [numeric_summary(gradient(x0)) for x0 in points]}


def probe_neuron_torch(ns: dict, cases: list[dict]) -> dict:
    """Return `neuron_in_pytorch` values and the autograd gradients through it, and `neuron_gradients`,
    on hidden float64 inputs."""
    import torch

    neuron, gradients = answer(ns, "neuron_in_pytorch"), answer(ns, "neuron_gradients")
    activations = {"default": None, "sigmoid": torch.sigmoid, "identity": _identity}
    results = []
    for case in cases:
        activation = activations[case["activation"]]
        extra = () if activation is None else (activation,)
        x = tensor(case["x"], "float64").requires_grad_(True)
        w = tensor(case["w"], "float64").requires_grad_(True)
        b = tensor(case["b"], "float64").requires_grad_(True)
        y = neuron(x, w, b, *extra)
        result = {"value": numeric_summary(y), "differentiable": isinstance(y, torch.Tensor) and y.requires_grad}
        if result["differentiable"] and y.numel() == 1:
            grad_x, grad_w, grad_b = torch.autograd.grad(y.sum(), (x, w, b), allow_unused=True)
            result["through"] = [numeric_summary(g) if g is not None else {"kind": "None"} for g in (grad_x, grad_w, grad_b)]
        given = gradients(tensor(case["x"], "float64"), tensor(case["w"], "float64"), tensor(case["b"], "float64"), *extra)
        result["gradients"] = ([numeric_summary(g) for g in given] if isinstance(given, (tuple, list))
                               else {"kind": type(given).__name__})
        results.append(result)
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

    result = predict_images_with_submitted_weights(ns, "mlp", "mnist_mlp.pth", images)
    net = answer(ns, "mlp")
    result["linear_shapes"] = [list(m.weight.shape) for m in net.modules() if isinstance(m, torch.nn.Linear)]
    try:
        result["seeded"] = {"output": _seeded_mlp_output(net, weight_seed, probe_images)}
    except Exception as exc:  # judged on this exercise's architecture test; the predictions above still count
        result["seeded"] = {"error": type(exc).__name__}
    return result
