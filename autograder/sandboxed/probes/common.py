"""Helpers shared by every lesson's probes: fetching answers, calling student code, returning plain data."""
from __future__ import annotations

import math
import os
import struct

SUBMISSION_DIR = os.environ.get("AUTOGRADER_SUBMISSION", "/submission")


def data_path(path: str) -> str:
    """Return where a data file given as /data/... lives here (elsewhere only in the unsandboxed fallback)."""
    root = os.environ.get("AUTOGRADER_DATA", "/data")
    return os.path.join(root, path[len("/data/"):]) if path.startswith("/data/") and root != "/data" else path


class MissingAnswer(Exception):
    """The exercise's answer (a name or a submitted file) is not there."""


def answer(ns: dict, name: str):
    """Return the student's value for `name`; raise MissingAnswer when undefined or left as None."""
    if name not in ns:
        raise MissingAnswer(f"`{name}` is not defined: run the exercise's cell and check its name.")
    value = ns[name]
    if value is None:
        raise MissingAnswer(f"`{name}` is still None: replace the placeholder with your answer.")
    return value


def json_ready(value, depth: int = 0):
    """Return `value` as JSON-able data (tensors and arrays become lists); refuse anything else."""
    if depth > 20:
        raise TypeError("answer is nested too deeply")
    if value is None or type(value) in (bool, int, str):
        return value
    if type(value) is float:
        return value if math.isfinite(value) else repr(value)
    if type(value) in (list, tuple):
        return [json_ready(v, depth + 1) for v in value]
    if type(value) is dict:
        return {str(k): json_ready(v, depth + 1) for k, v in value.items()}
    raise TypeError(f"probe returned {type(value).__name__}, which is not plain data")


def tensor_summary(value) -> dict:
    """Return what a grader needs to know about a tensor-like answer: kind, dtype, shape and values."""
    import torch

    if not isinstance(value, torch.Tensor):
        return {"kind": type(value).__name__}
    t = torch.Tensor.detach(value).cpu()
    return {"kind": "tensor", "dtype": str(t.dtype).replace("torch.", ""), "shape": list(t.shape),
            "values": torch.Tensor.tolist(t.double()) if t.numel() <= 100_000 else None}


def tensor(data, dtype: str = "float32"):
    """Return a tensor built from probe input lists."""
    import torch

    return torch.tensor(data, dtype=getattr(torch, dtype))


def own_parameters(module) -> list:
    """Return the parameters a module really holds, found through its own `_modules`/`_parameters` dicts:
    a submission may override parameters(), named_parameters() or modules() to hide a second network."""
    stack, seen, found = [module], set(), []
    while stack:
        current = stack.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        attributes = object.__getattribute__(current, "__dict__")
        for parameter in dict.values(attributes.get("_parameters") or {}):
            if parameter is not None and all(parameter is not p for p in found):
                found.append(parameter)
        stack += [m for m in dict.values(attributes.get("_modules") or {}) if m is not None]
    return found


def load_linear_layers(module, layers: list[dict]) -> None:
    """Copy weights into the nn.Linear layers of `module`, in definition order."""
    import torch

    linears = [m for m in module.modules() if isinstance(m, torch.nn.Linear)]
    if len(linears) != len(layers):
        raise ValueError(f"the network has {len(linears)} linear layers, the architecture asks for {len(layers)}")
    with torch.no_grad():
        for linear, params in zip(linears, layers):
            linear.weight.copy_(tensor(params["weight"]))
            linear.bias.copy_(tensor(params["bias"]))


def read_idx_images(path: str):
    """Return the images of an IDX file as a float tensor [N, 784] scaled to [0, 1] (as ToTensor does)."""
    import torch

    with open(data_path(path), "rb") as handle:
        magic, count, rows, cols = struct.unpack(">IIII", handle.read(16))
        if magic != 2051:
            raise ValueError(f"{path} is not an IDX image file")
        data = bytearray(handle.read(count * rows * cols))
    return torch.frombuffer(data, dtype=torch.uint8).reshape(count, rows * cols).float() / 255.0


def predict_with_submitted_weights(ns: dict, net_name: str, weights_file: str, images: str,
                                   image_shape: tuple[int, ...] | None = None) -> dict:
    """Return the class predictions of the student's net, loaded from their weights file, on `images` (rows of
    784 pixels, or a batch of `image_shape` tensors such as (1, 28, 28) for convolutional nets)."""
    import torch

    net = answer(ns, net_name)
    path = os.path.join(SUBMISSION_DIR, weights_file)
    if not os.path.isfile(path):
        raise MissingAnswer(f"`{weights_file}` was not submitted: save your trained weights beside the notebook.")
    net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    net.to("cpu").eval()
    x = read_idx_images(images)
    x = x.reshape(-1, *image_shape) if image_shape else x
    with torch.no_grad():
        predictions = torch.cat([net(batch).argmax(dim=1) for batch in x.split(1000)])
    return {"predictions": torch.Tensor.tolist(predictions)}


def numeric_summary(value) -> dict:
    """Return a numeric answer (int, float, numpy scalar or array, nested list, tensor) as
    {"kind": "array", "shape", "values"} with float values (non-finite ones as strings), or {"kind": its type}."""
    import numbers

    import numpy as np

    if isinstance(value, (bool, np.bool_, str, bytes)) or value is None:
        return {"kind": type(value).__name__}
    try:
        if hasattr(value, "detach"):
            value = value.detach().cpu().double().numpy()
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError, RuntimeError):
        return {"kind": type(value).__name__}
    if array.dtype == object or (array.ndim == 0 and not isinstance(value, (numbers.Number, np.ndarray, np.generic))
                                 and not hasattr(value, "shape")):
        return {"kind": type(value).__name__}
    values = [v if math.isfinite(v) else repr(float(v)) for v in array.reshape(-1).tolist()]
    return {"kind": "array", "shape": list(array.shape), "values": values}


def choice_answers(value, keys: list[str]) -> dict:
    """Return a dict of choice answers as plain data: each of `keys` maps to its str/bool/number answer,
    None when absent, or {"kind": type} for anything else; {"kind": type} when `value` is not a dict."""
    import numbers

    if not isinstance(value, dict):
        return {"kind": type(value).__name__}
    items = {}
    for key in keys:
        item = value.get(key)
        if item is None or isinstance(item, (str, bool)):
            items[key] = item if not isinstance(item, str) else item[:200]
        elif isinstance(item, numbers.Real):
            items[key] = float(item) if math.isfinite(float(item)) else repr(float(item))
        else:
            items[key] = {"kind": type(item).__name__}
    return {"kind": "dict", "items": items}


def call_quietly(function, *args, **kwargs):
    """Return function(*args, **kwargs) with numpy floating-point warnings and Python warnings silenced
    (an overflow in exp(-x) for large |x| is judged by the values it gives, never turned into an error)."""
    import warnings

    import numpy as np

    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return function(*args, **kwargs)


def seeded_linear_parameters(seed: int, index: int, n_in: int, n_out: int):
    """Return (weight [n_out, n_in], bias [n_out]) as float32 numpy arrays drawn from (seed, index): the weights a
    grader sets in the index-th linear layer of a probed module (the judge redraws them to recompute outputs)."""
    import numpy as np

    rng = np.random.default_rng([seed, index])
    weight = rng.normal(0.0, 1.5 / math.sqrt(max(n_in, 1)), (n_out, n_in)).astype(np.float32)
    return weight, rng.normal(0.0, 0.5, n_out).astype(np.float32)


def module_leaves(module, limit: int = 200) -> list:
    """Return the leaf operations of `module` in definition order, found through the modules' own `_modules`
    dicts (overriding children() or modules() hides nothing)."""
    leaves, stack = [], [(module, 0)]
    while stack:
        current, depth = stack.pop()
        if depth > 20 or len(leaves) > limit:
            raise ValueError("the module is nested too deeply or holds too many operations")
        children = [m for m in dict.values(object.__getattribute__(current, "__dict__").get("_modules") or {})
                    if m is not None]
        if children:
            stack += [(child, depth + 1) for child in reversed(children)]
        else:
            leaves.append(current)
    return leaves


def describe_module(module) -> list[dict]:
    """Return a module's leaf operations in order as plain data: {"type": class name}, plus "in"/"out"/"bias"
    for nn.Linear (read from its weight's shape), start_dim/end_dim for nn.Flatten, negative_slope for LeakyReLU."""
    import torch

    described = []
    for leaf in module_leaves(module):
        entry = {"type": type(leaf).__name__}
        if isinstance(leaf, torch.nn.Linear):
            shape = tuple(leaf.weight.shape)
            entry.update({"in": int(shape[-1]), "out": int(shape[0]), "bias": leaf.bias is not None})
        elif isinstance(leaf, torch.nn.Flatten):
            entry.update({"start_dim": int(leaf.start_dim), "end_dim": int(leaf.end_dim)})
        elif isinstance(leaf, torch.nn.LeakyReLU):
            entry["negative_slope"] = float(leaf.negative_slope)
        described.append(entry)
    return described


def run_with_seeded_weights(module, seed: int, inputs) -> dict:
    """Return {"structure": describe_module(...), "output": tensor_summary(...)} of a copy of `module` whose
    linear layers hold seeded_linear_parameters(seed, i, ...) (i counts linear layers), run on `inputs`."""
    import copy

    import torch

    net = copy.deepcopy(module)
    structure = describe_module(net)
    linears = [leaf for leaf in module_leaves(net) if isinstance(leaf, torch.nn.Linear)]
    with torch.no_grad():
        for index, linear in enumerate(linears):
            weight, bias = seeded_linear_parameters(seed, index, *reversed(tuple(linear.weight.shape)))
            linear.weight.copy_(torch.from_numpy(weight))
            if linear.bias is not None:
                linear.bias.copy_(torch.from_numpy(bias))
        net.eval()
        output = net(tensor(inputs))
    return {"structure": structure, "output": tensor_summary(output)}
