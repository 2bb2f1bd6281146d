"""Probes for the pytorch_basics lesson (nn.Sequential models, tensors, devices, an MNIST classifier)."""
from __future__ import annotations

from .common import (answer, choice_answers, describe_module, load_linear_layers, numeric_summary, own_parameters,
                     predict_with_submitted_weights, run_with_seeded_weights, seeded_linear_parameters, tensor,
                     tensor_summary)

LEARNING_TASKS = ("image classification", "clustering", "language translation", "dimensionality reduction",
                  "anomaly detection")
PREDICTION_TASKS = ("time series forecasting", "sentiment analysis", "housing price prediction")


def _numbers(value):
    """Return a number or a flat sequence of numbers as plain data, or {"kind": type} for anything else."""
    summary = numeric_summary(value)
    if summary.get("kind") != "array" or len(summary["shape"]) > 1:
        return {"kind": type(value).__name__}
    return summary["values"] if summary["shape"] else summary["values"][0]


def probe_ex_seq_model_layers(ns: dict) -> dict:
    """Return the counts in `ex_seq_model_layers` (numbers, or the node counts as a list)."""
    given = answer(ns, "ex_seq_model_layers")
    if not isinstance(given, dict):
        return {"kind": type(given).__name__}
    return {"kind": "dict", "items": {key: _numbers(given.get(key)) if given.get(key) is not None else None
                                      for key in ("layers", "hidden_layers", "nodes_per_layer")}}


def _module_run(ns: dict, name: str, weight_seed: int, inputs) -> dict:
    import torch

    model = answer(ns, name)
    if not isinstance(model, torch.nn.Module):
        return {"kind": type(model).__name__}
    try:
        return {"kind": "module", **run_with_seeded_weights(model, weight_seed, inputs)}
    except (RuntimeError, ValueError, TypeError, IndexError) as exc:  # mismatched sizes: judged, not crashed
        return {"kind": "module", "structure": describe_module(model), "error": type(exc).__name__}


def probe_ex_seq_model_2(ns: dict, weight_seed: int, inputs: list) -> dict:
    """Return the structure of `ex_seq_model_2` and its outputs on hidden inputs with grader-set weights."""
    return _module_run(ns, "ex_seq_model_2", weight_seed, inputs)


def probe_input_tensor(ns: dict, cases: list) -> dict:
    """Return to_input_tensor(values) for each hidden list of values (ints, nested ints, floats)."""
    to_input_tensor = answer(ns, "to_input_tensor")
    return {"outputs": [tensor_summary(to_input_tensor(values)) for values in cases]}


def probe_flatten_images(ns: dict, cases: list) -> dict:
    """Return flatten_images(images) for each hidden image batch."""
    flatten_images = answer(ns, "flatten_images")
    return {"outputs": [tensor_summary(flatten_images(tensor(images))) for images in cases]}


def _activation_model(case: dict):
    import torch

    a, b, c = case["widths"]
    model = torch.nn.Sequential(torch.nn.Linear(a, b), getattr(torch.nn, case["activation"])(),
                                torch.nn.Linear(b, c), torch.nn.Sigmoid())
    layers = [seeded_linear_parameters(case["weight_seed"], i, n_in, n_out)
              for i, (n_in, n_out) in enumerate(((a, b), (b, c)))]
    load_linear_layers(model, [{"weight": w.tolist(), "bias": v.tolist()} for w, v in layers])
    return model


def probe_first_two_operations(ns: dict, cases: list) -> dict:
    """Return first_two_operations(model, x) on hidden models (various activations) and inputs."""
    import torch

    first_two_operations = answer(ns, "first_two_operations")
    outputs = []
    for case in cases:
        with torch.no_grad():
            outputs.append(tensor_summary(first_two_operations(_activation_model(case), tensor(case["inputs"]))))
    return {"outputs": outputs}


def probe_model_device(ns: dict, widths: list) -> dict:
    """Return where move_to_device puts a fresh model's parameters ("meta" stands in for a GPU on a CPU-only
    grader), and what model_device reports for a model on "meta" and one on the CPU."""
    import torch

    move_to_device, model_device = answer(ns, "move_to_device"), answer(ns, "model_device")
    a, b, c = widths

    def fresh():
        return torch.nn.Sequential(torch.nn.Linear(a, b), torch.nn.ReLU(), torch.nn.Linear(b, c))

    def devices(module):
        return sorted({str(p.device) for p in own_parameters(module)}) if isinstance(module, torch.nn.Module) else None

    def reported(module):
        value = model_device(module)
        try:
            return str(torch.device(value))
        except (TypeError, RuntimeError):
            return {"kind": type(value).__name__}

    result = {}
    for label, target in (("meta", "meta"), ("meta_device", torch.device("meta"))):
        model = fresh()
        returned = move_to_device(model, target)
        result[label] = {"returned": devices(returned), "original": devices(model)}
    result["reports_meta"] = reported(fresh().to("meta"))
    result["reports_cpu"] = reported(fresh())
    return result


def probe_learning_types(ns: dict) -> dict:
    """Return the labels in `learning_types`."""
    return choice_answers(answer(ns, "learning_types"), list(LEARNING_TASKS))


def probe_task_types(ns: dict) -> dict:
    """Return the labels in `task_types`."""
    return choice_answers(answer(ns, "task_types"), list(PREDICTION_TASKS))


def probe_mnist_sizes(ns: dict) -> dict:
    """Return the numbers in `mnist_sizes` (the colour image shape as a list)."""
    import torch

    given = answer(ns, "mnist_sizes")
    if not isinstance(given, dict):
        return {"kind": type(given).__name__}
    shape = given.get("colour_image_shape")
    if isinstance(shape, torch.Size):
        shape = list(shape)
    return {"kind": "dict", "items": {"input_nodes": _numbers(given.get("input_nodes")),
                                      "output_nodes": _numbers(given.get("output_nodes")),
                                      "colour_image_shape": _numbers(shape) if shape is not None else None}}


def probe_num_hidden(ns: dict) -> dict:
    """Return num_in, num_hidden and num_out as plain numbers (or their kinds)."""
    return {name: _numbers(answer(ns, name)) for name in ("num_in", "num_hidden", "num_out")}


def probe_seq_model(ns: dict, weight_seed: int, images: list) -> dict:
    """Return the structure of `seq_model`, its outputs on hidden images with grader-set weights, and the sizes."""
    result = _module_run(ns, "seq_model", weight_seed, images)
    result["sizes"] = {name: _numbers(ns.get(name)) for name in ("num_in", "num_hidden", "num_out")}
    return result


def probe_seq_model_accuracy(ns: dict, images: str) -> dict:
    """Return predictions of `seq_model` with `seq_model.pth` on the held-out images (no labels here)."""
    return predict_with_submitted_weights(ns, "seq_model", "seq_model.pth", images)
