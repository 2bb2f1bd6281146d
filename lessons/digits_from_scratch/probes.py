"""Probes for the digits_from_scratch lesson (a 784-16-16-10 sigmoid network written in numpy).

Each probe calls one exercise's function with the helpers it uses from earlier exercises replaced by plain
stand-ins (patched into the notebook's namespace for the call only), so a bug is judged once, where it is."""
from __future__ import annotations

import os
from contextlib import contextmanager

from autograder.sandboxed.probes.common import SUBMISSION_DIR, MissingAnswer, answer, json_ready

LAYER_NAMES = ("hidden1", "hidden2", "output")


def _np():
    import numpy

    return numpy


def _sigmoid(z):
    return 1.0 / (1.0 + _np().exp(-z))


def _sigmoid_derivative(z):
    return _sigmoid(z) * (1.0 - _sigmoid(z))


def _squared_error_derivative(pred, target):
    return 2.0 * (_np().asarray(pred) - _np().asarray(target))


def _squared_error(pred, target):
    return _np().sum((_np().asarray(pred) - _np().asarray(target)) ** 2)


def _one_hot(digits):
    return _np().eye(10)[_np().asarray(digits)]


@contextmanager
def _patched(ns: dict, **names):
    """Run with `names` replaced in the student's namespace (their functions look globals up there)."""
    saved = {name: ns[name] for name in names if name in ns}
    ns.update(names)
    try:
        yield
    finally:
        for name in names:
            ns.pop(name, None)
        ns.update(saved)


def _summary(value) -> dict:
    """Return kind, shape and values of an array-like answer (values only for real numeric arrays)."""
    np = _np()
    kind = type(value).__name__
    if type(value).__module__.startswith("torch"):
        return {"kind": f"torch.{kind}"}
    if isinstance(value, (int, float, np.number)) and not isinstance(value, (bool, np.bool_)):
        return {"kind": "number", "shape": [], "values": float(value)}
    if not isinstance(value, np.ndarray):
        return {"kind": kind}
    if value.dtype.kind not in "biuf":
        return {"kind": "ndarray", "dtype": str(value.dtype), "shape": list(value.shape)}
    return {"kind": "ndarray", "dtype": str(value.dtype), "shape": list(value.shape),
            "values": json_ready(value.astype(np.float64).tolist())}


def _model(ns: dict, layers: list[dict]):
    """Return the student's NN_Model holding the given weights and biases (float64 arrays)."""
    np = _np()
    model = answer(ns, "NN_Model")()
    model.weights = [np.array(layer["weight"], dtype=np.float64) for layer in layers]
    model.biases = [np.array(layer["bias"], dtype=np.float64) for layer in layers]
    return model


@contextmanager
def _counting_autograd():
    """Yield a list that records every use of autograd, in any thread, while the context is open.

    Grad mode and torch function modes are per thread: work a submission hands to another thread (a new one, or a
    pool started earlier) escapes both. Every backward pass, whichever thread runs it (Tensor.backward,
    torch.autograd.grad or .backward, torch.func.grad and vjp), reaches the one C++ engine through the class
    attribute Variable._execution_engine, and forward-mode AD (torch.autograd.forward_ad, torch.func.jvp and
    jacfwd) makes its dual tensors with forward_ad.make_dual: both are replaced here, process-wide, by counting
    wrappers."""
    from torch.autograd import forward_ad
    from torch.autograd.variable import Variable

    engine, make_dual, used = Variable._execution_engine, forward_ad.make_dual, []

    class CountingEngine:
        def __getattr__(self, name):
            return getattr(engine, name)

        def run_backward(self, *args, **kwargs):
            used.append("autograd backward pass")
            return engine.run_backward(*args, **kwargs)

    def counting_make_dual(*args, **kwargs):
        used.append("autograd forward mode")
        return make_dual(*args, **kwargs)

    Variable._execution_engine, forward_ad.make_dual = CountingEngine(), counting_make_dual
    try:
        yield used
    finally:
        Variable._execution_engine, forward_ad.make_dual = engine, make_dual


def _recording_torch(call):
    """Return (call(), names of the torch functions it used), run with autograd disabled: hand-written
    numpy code uses no torch at all, and autograd cannot silently do the work. Torch functions are recorded in
    the calling thread; autograd is recorded in every thread (_counting_autograd)."""
    import torch
    from torch.overrides import TorchFunctionMode

    class Recorder(TorchFunctionMode):
        def __init__(self):
            super().__init__()
            self.names = []

        def __torch_function__(self, func, types, args=(), kwargs=None):
            self.names.append(getattr(func, "__name__", type(func).__name__))
            return func(*args, **(kwargs or {}))

    recorder = Recorder()
    with _counting_autograd() as autograd_uses, torch.no_grad(), recorder:
        result = call()
    return result, sorted(set(recorder.names) | set(autograd_uses))


def probe_cost_function(ns: dict, cases: list[dict]) -> dict:
    """Return `cost_func` and `cost_derivative` on each (prediction, target) pair, as numpy arrays."""
    np = _np()
    cost_func, derivative = answer(ns, "cost_func"), answer(ns, "cost_derivative")
    result = {"costs": [], "derivatives": []}
    for case in cases:
        pred, target = np.array(case["pred"]), np.array(case["target"])
        result["costs"].append(_summary(cost_func(pred, target)))
        result["derivatives"].append(_summary(derivative(pred, target)))
    return result


def probe_get_target(ns: dict, digit: int, digits: list[int]) -> dict:
    """Return `get_target` of one digit (a Python int and a numpy integer) and of an array of digits."""
    np = _np()
    get_target = answer(ns, "get_target")
    return {"single": _summary(get_target(digit)), "numpy_single": _summary(get_target(np.int64(digit))),
            "batch": _summary(get_target(np.array(digits)))}


def probe_forward(ns: dict, layers: list[dict], single: list, batch: list) -> dict:
    """Return NN_Model.forward on one image and on a batch, with the given weights."""
    np = _np()
    with _patched(ns, sigmoid=_sigmoid):
        model = _model(ns, layers)
        return {"single": _summary(model.forward(np.array(single))),
                "batch": _summary(model.forward(np.array(batch)))}


def probe_backprop(ns: dict, layers: list[dict], cases: list[dict]) -> dict:
    """Return what `backprop` gives per case (weight and bias gradients), the kinds it returns, and the torch
    functions it called (run without autograd, with the notebook's helpers)."""
    np = _np()
    backprop = answer(ns, "backprop")
    outputs, torch_calls = [], set()
    with _patched(ns, sigmoid=_sigmoid, sigmoid_derivative=_sigmoid_derivative,
                  cost_derivative=_squared_error_derivative):
        for case in cases:
            model = _model(ns, layers)
            result, names = _recording_torch(lambda: backprop(model, np.array(case["x"]), np.array(case["target"])))
            torch_calls.update(names)
            if not (isinstance(result, (tuple, list)) and len(result) == 2
                    and all(isinstance(part, (tuple, list)) for part in result)):
                outputs.append({"kind": type(result).__name__})
                continue
            outputs.append({"kind": "pair", "weights": [_summary(g) for g in result[0]],
                            "biases": [_summary(g) for g in result[1]]})
    return {"cases": outputs, "torch_calls": sorted(torch_calls)}


def probe_sgd_step(ns: dict, layers: list[dict], x: list, target: list, gradients: list[dict],
                   learning_rate: float) -> dict:
    """Return the weights and biases after one `sgd_step`, with `backprop` replaced by a stand-in that
    returns the given gradients (and records how it was called)."""
    np = _np()
    sgd_step = answer(ns, "sgd_step")
    model = _model(ns, layers)
    x, target = np.array(x), np.array(target)
    calls = []

    def fixed_backprop(called_model, called_x, called_target):
        calls.append(called_model is model and np.array_equal(called_x, x) and np.array_equal(called_target, target))
        return ([np.array(g["weight"]) for g in gradients], [np.array(g["bias"]) for g in gradients])

    with _patched(ns, backprop=fixed_backprop, sigmoid=_sigmoid, sigmoid_derivative=_sigmoid_derivative,
                  cost_derivative=_squared_error_derivative, cost_func=_squared_error):
        sgd_step(model, x, target, learning_rate)
    return {"backprop_calls": calls,
            "weights": [_summary(w) for w in model.weights], "biases": [_summary(b) for b in model.biases]}


def probe_train_model(ns: dict, epochs: int, batch_size: int, learning_rate: float, data: list, labels: list,
                      projection: list) -> dict:
    """Return what `train_model` returns and every batch it hands to `sgd_step`, on a stand-in model whose
    output moves with each step taken (so costs show when and how often the steps happened)."""
    np = _np()
    train_model = answer(ns, "train_model")
    data, labels, projection = np.array(data), np.array(labels), np.array(projection)

    class SteppedModel:
        def __init__(self):
            self.steps = 0
            self.weights = [projection.T.copy()]
            self.biases = [np.zeros(10)]

        def forward(self, x):
            return _sigmoid(np.asarray(x) @ projection + 0.25 * self.steps - 1.0)

    model = SteppedModel()
    batches = []

    def recording_sgd_step(called_model, x, target, rate):
        x, target = np.asarray(x), np.asarray(target)
        batches.append({"model": called_model is model, "rows": int(len(x)), "pixel_sum": float(np.sum(x)),
                        "target": json_ready(target.astype(np.float64).tolist()) if target.dtype.kind in "biuf" else None,
                        "learning_rate": float(rate)})
        model.steps += 1

    with _patched(ns, sgd_step=recording_sgd_step, get_target=_one_hot, cost_func=_squared_error):
        costs = train_model(epochs, batch_size, learning_rate, data, labels, model)
    if isinstance(costs, (list, tuple, np.ndarray)):
        costs = [float(c) if isinstance(c, (int, float, np.number)) else repr(c)[:40] for c in costs]
    else:
        costs = repr(type(costs).__name__)
    return {"batches": batches, "costs": costs}


def probe_accuracy(ns: dict, scores: list, labels: list) -> dict:
    """Return `accuracy` of a stand-in model whose outputs are the given scores (row i of data is image i)."""
    np = _np()
    accuracy = answer(ns, "accuracy")
    scores = np.array(scores)

    class ScoredModel:
        weights, biases = [], []

        def forward(self, x):
            x = np.asarray(x)
            rows = scores[np.atleast_2d(x)[:, 0].astype(int)]
            return rows if x.ndim == 2 else rows[0]

    data = np.zeros((len(scores), 784))
    data[:, 0] = np.arange(len(scores))
    return {"value": _summary(accuracy(ScoredModel(), data, np.array(labels)))}


def probe_questions(ns: dict) -> dict:
    """Return the three answers as plain data (numbers as floats, text as given)."""
    import fractions
    import numbers

    def given(name):
        value = ns.get(name)
        if isinstance(value, numbers.Real) and not isinstance(value, bool):
            return {"kind": "number", "value": float(fractions.Fraction(value)) if isinstance(value, fractions.Fraction)
                    else float(value)}
        if isinstance(value, str):
            return {"kind": "str", "value": value[:80]}
        return {"kind": type(value).__name__}

    return {name: given(name) for name in ("cost_example", "random_model_accuracy", "accuracy_to_claim")}


def probe_trained_model(ns: dict) -> dict:
    """Return the submitted weights (loaded with weights_only=True) as plain lists; the judge evaluates them
    on the held-out test images, whose labels never enter the sandbox."""
    import torch

    path = os.path.join(SUBMISSION_DIR, "digits_model.pth")
    if not os.path.isfile(path):
        raise MissingAnswer("`digits_model.pth` was not submitted: run the cell that saves your trained model.")
    state = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(state, dict):
        return {"kind": type(state).__name__}
    layers = {}
    for key, value in state.items():
        if isinstance(key, str) and isinstance(value, torch.Tensor) and value.numel() <= 784 * 16:
            layers[key] = {"shape": list(value.shape), "values": torch.Tensor.tolist(value.detach().double())}
        else:
            layers[str(key)[:40]] = {"shape": None}
    return {"kind": "dict", "layers": layers}
