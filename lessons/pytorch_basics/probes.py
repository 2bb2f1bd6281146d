"""Probes for the pytorch_basics lesson (nn.Sequential models, tensors, devices, an MNIST classifier)."""
from __future__ import annotations

from autograder.sandboxed.probes.common import (MissingAnswer, answer, choice_answers, describe_module, load_linear_layers, module_leaves,
                     numeric_summary, own_parameters, predict_with_submitted_weights, run_with_seeded_weights,
                     seeded_linear_parameters, tensor, tensor_summary)

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


SETTING_TYPES = (bool, int, float, str)
MAX_REPORTED_VALUES = 4096


def _with_settings(model, structure: list[dict]) -> list[dict]:
    """Return `structure` (describe_module's) with, for each operation other than nn.Linear and nn.Flatten, its
    settings (the plain attributes it was built with, e.g. negative_slope, alpha, min_val) and its own parameters
    (e.g. nn.PReLU's weight): the judge rebuilds each standard activation with them and recomputes the output."""
    for entry, leaf in zip(structure, module_leaves(model)):
        if entry["type"] in ("Linear", "Flatten"):
            continue
        attributes = object.__getattribute__(leaf, "__dict__")
        entry["settings"] = {key: value for key, value in attributes.items()
                             if not key.startswith("_") and key != "training" and type(value) in SETTING_TYPES}
        parameters = {key: value for key, value in dict.items(attributes.get("_parameters") or {}) if value is not None}
        if parameters:
            entry["parameters"] = {key: tensor_summary(value) if value.numel() <= MAX_REPORTED_VALUES
                                   else {"kind": "too large"} for key, value in parameters.items()}
    return structure


def _module_run(ns: dict, name: str, weight_seed: int, inputs) -> dict:
    import torch

    model = answer(ns, name)
    if not isinstance(model, torch.nn.Module):
        return {"kind": type(model).__name__}
    try:
        result = {"kind": "module", **run_with_seeded_weights(model, weight_seed, inputs)}
    except (RuntimeError, ValueError, TypeError, IndexError) as exc:  # mismatched sizes: judged, not crashed
        result = {"kind": "module", "structure": describe_module(model), "error": type(exc).__name__}
    result["structure"] = _with_settings(model, result["structure"])
    return result


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

    a, b, c = widths

    def fresh():
        return torch.nn.Sequential(torch.nn.Linear(a, b), torch.nn.ReLU(), torch.nn.Linear(b, c))

    def devices(module):
        return sorted({str(p.device) for p in own_parameters(module)}) if isinstance(module, torch.nn.Module) else None

    def reported(module):
        value = answer(ns, "model_device")(module)
        try:
            return str(torch.device(value))
        except (TypeError, RuntimeError):
            return {"kind": type(value).__name__}

    def moved(target):
        model = fresh()
        returned = answer(ns, "move_to_device")(model, target)
        return {"returned": devices(returned), "original": devices(model)}

    # each function is judged on its own: one that raises does not cost the other its credit
    result = {"meta": _attempt(moved, "meta"), "meta_device": _attempt(moved, torch.device("meta"))}
    result["reports_meta"] = _attempt(lambda: reported(fresh().to("meta")))
    result["reports_cpu"] = _attempt(lambda: reported(fresh()))
    _unanswered_if_all([result["meta"], result["meta_device"], result["reports_meta"], result["reports_cpu"]])
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


SIZES = ("num_in", "num_hidden", "num_out")


def _whole(value) -> bool:
    """Return True for a size nn.Linear accepts: an int (numpy's and 0-d integer tensors too), never a float or
    a bool."""
    import operator

    import numpy as np

    if isinstance(value, (bool, np.bool_)) or getattr(value, "dtype", None) is not None and "bool" in str(value.dtype):
        return False
    try:
        operator.index(value)
    except TypeError:
        return False
    return True


def _sizes(ns: dict) -> dict:
    """Return the sizes as plain numbers, and whether each is a whole number nn.Linear accepts."""
    return {"sizes": {name: _numbers(ns.get(name)) for name in SIZES},
            "whole": {name: name in ns and _whole(ns[name]) for name in SIZES}}


def _unbuilt_because_of_sizes(ns: dict) -> str | None:
    """Return the size that is not a whole number when `seq_model` is missing because of it (the seq_model cell
    raised inside nn.Linear, and the feedback should name the size), else None."""
    if ns.get("seq_model") is not None:
        return None
    return next((name for name in ("num_hidden", "num_in", "num_out") if name in ns and not _whole(ns[name])), None)


def probe_num_hidden(ns: dict) -> dict:
    """Return num_in, num_hidden and num_out as plain numbers (or their kinds), and whether each is an int."""
    values = {name: _numbers(answer(ns, name)) for name in SIZES}
    return {**values, "whole": _sizes(ns)["whole"]}


def probe_seq_model(ns: dict, weight_seed: int, images: list) -> dict:
    """Return the structure of `seq_model`, its outputs on hidden images with grader-set weights, and the sizes
    (when it could not be built because a size is not a whole number, only the sizes: the feedback names them)."""
    if _unbuilt_because_of_sizes(ns):
        return {"kind": "unbuilt", **_sizes(ns)}
    result = _module_run(ns, "seq_model", weight_seed, images)
    result.update(_sizes(ns))
    return result


def probe_seq_model_accuracy(ns: dict, images: str) -> dict:
    """Return predictions of `seq_model` with `seq_model.pth` on the held-out images (no labels here)."""
    culprit = _unbuilt_because_of_sizes(ns)
    if culprit:
        raise MissingAnswer(f"`seq_model` is not defined: nn.Linear could not build it because `{culprit}` is not an "
                            "int; make it a whole number (use // or int()).")
    return predict_with_submitted_weights(ns, "seq_model", "seq_model.pth", images)


def _attempt(function, *args) -> dict:
    """Return {"value": function(*args)} or, when it raised, {"raised": its type, "message": its text} (a missing
    answer as {"missing": why}): one function that raises costs only the checks that need it."""
    try:
        return {"value": function(*args)}
    except MissingAnswer as exc:
        return {"missing": str(exc)}
    except (Exception, SystemExit) as exc:  # the student's code raised; a timeout (KeyboardInterrupt) ends the probe
        return {"raised": type(exc).__name__, "message": str(exc)[:300]}


def _unanswered_if_all(attempts: list[dict]) -> None:
    """Raise as the exercise's own cell would when none of its functions is answered yet (the stubs raise
    NotImplementedError, or the names are missing), so that the exercise reads "missing", not "failed"."""
    if all(a.get("raised") == "NotImplementedError" for a in attempts):
        raise NotImplementedError()
    if all("missing" in a for a in attempts):
        raise MissingAnswer(attempts[0]["missing"])
