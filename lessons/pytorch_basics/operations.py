"""The judge's own copy of a probed nn.Sequential: standard torch.nn operations rebuilt from their class names (an
allow-list, never an arbitrary name) and the settings and parameters the probe reports, linear layers holding the
grader's seeded weights. Trusted code: nothing from the sandbox is run, only numbers and names are read."""
from __future__ import annotations

import inspect

import numpy as np

# torch.nn's activation functions ("Non-linear Activations" in its documentation)
ACTIVATIONS = frozenset({
    "CELU", "ELU", "GELU", "GLU", "Hardshrink", "Hardsigmoid", "Hardswish", "Hardtanh", "LeakyReLU", "LogSigmoid",
    "LogSoftmax", "Mish", "PReLU", "RReLU", "ReLU", "ReLU6", "SELU", "SiLU", "Sigmoid", "Softmax", "Softmin",
    "Softplus", "Softshrink", "Softsign", "Tanh", "Tanhshrink", "Threshold"})
# operations that pass their input through unchanged in evaluation mode (the probe runs the model in eval mode)
PASS_THROUGH = frozenset({"Identity", "Dropout", "AlphaDropout"})
SETTING_TYPES = (bool, int, float, str)


class CannotRebuild(ValueError):
    """An operation the judge does not rebuild (not a standard torch.nn operation, or settings it cannot use)."""


def rebuild(entry: dict):
    """Return a float64 torch.nn module equal to the probed operation `entry` (type, settings, parameters):
    its class is taken from the allow-list by name and built with the reported settings its constructor takes."""
    import torch

    kind = entry.get("type")
    if kind not in ACTIVATIONS | PASS_THROUGH:
        raise CannotRebuild(f"cannot rebuild a {kind!r} operation")
    cls = getattr(torch.nn, kind)
    accepted = inspect.signature(cls).parameters
    settings = entry.get("settings") or {}
    if not isinstance(settings, dict):
        raise CannotRebuild("settings are not a dict")
    kwargs = {key: value for key, value in settings.items()
              if key in accepted and key != "inplace" and type(value) in SETTING_TYPES}
    try:
        module = cls(**kwargs)
    except (TypeError, ValueError, RuntimeError) as exc:
        raise CannotRebuild(f"cannot build {kind} with {kwargs}") from exc
    module = module.double().eval()
    reported = entry.get("parameters") or {}
    if not isinstance(reported, dict) or set(reported) != {k for k, v in module._parameters.items() if v is not None}:
        raise CannotRebuild(f"{kind} should report exactly its own parameters")
    with torch.no_grad():
        for name, summary in reported.items():
            current = module._parameters[name]
            if not isinstance(summary, dict) or summary.get("kind") != "tensor" or summary.get("values") is None \
                    or list(summary.get("shape", ())) != list(current.shape):
                raise CannotRebuild(f"{kind}'s {name} is not a tensor of the expected shape")
            try:
                current.copy_(torch.tensor(summary["values"], dtype=torch.float64).reshape(current.shape))
            except (TypeError, ValueError, RuntimeError) as exc:  # non-finite values arrive as strings
                raise CannotRebuild(f"{kind}'s {name} holds values that are not finite numbers") from exc
    return module


def forward(structure: list[dict], seed: int, inputs) -> np.ndarray:
    """Return the output, in float64, of the operations of `structure` applied in order to `inputs`, the i-th
    nn.Linear holding seeded_linear_parameters(seed, i, ...) as the probe set it; raise CannotRebuild for an
    operation outside nn.Linear, nn.Flatten and the allow-list."""
    import torch

    from autograder.sandboxed.probes.common import seeded_linear_parameters

    x, linear_index = torch.tensor(np.asarray(inputs, dtype=np.float64)), 0
    with torch.no_grad():
        for entry in structure:
            kind = entry.get("type")
            if kind == "Linear":
                weight, bias = seeded_linear_parameters(seed, linear_index, entry["in"], entry["out"])
                x = x @ torch.from_numpy(weight.astype(np.float64)).T
                x = x + torch.from_numpy(bias.astype(np.float64)) if entry["bias"] else x
                linear_index += 1
            elif kind == "Flatten":
                x = torch.flatten(x, entry["start_dim"], entry["end_dim"])
            else:
                try:
                    x = rebuild(entry)(x)
                except CannotRebuild:
                    raise
                except (TypeError, ValueError, RuntimeError, IndexError) as exc:
                    raise CannotRebuild(f"{kind} failed on its input") from exc
    return x.numpy()


def is_affine(operations: list[dict], width: int, seed: int = 0) -> bool:
    """Return True when the operations (none of them nn.Linear) together act as an affine map on inputs of `width`
    features, over the range of values a hidden layer takes: then two nn.Linear maps around them still compose to
    one linear map. Raise CannotRebuild for an operation the judge does not rebuild."""
    import torch

    x = np.random.default_rng(seed).normal(0.0, 3.0, (16 * (width + 1), width))
    y = x
    with torch.no_grad():
        for entry in operations:
            if entry.get("type") == "Flatten":
                continue
            try:
                y = rebuild(entry)(torch.tensor(y)).numpy()
            except CannotRebuild:
                raise
            except (TypeError, ValueError, RuntimeError, IndexError) as exc:
                raise CannotRebuild(f"{entry.get('type')} failed on its input") from exc
    design = np.hstack([x, np.ones((len(x), 1))])
    fit, *_ = np.linalg.lstsq(design, y.reshape(len(x), -1), rcond=None)
    residual = np.abs(design @ fit - y.reshape(len(x), -1)).max()
    return bool(residual <= 1e-6 * max(1.0, np.abs(y).max()))
