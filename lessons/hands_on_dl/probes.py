"""Probes for the hands_on_dl lesson (tensors, autograd, training loops, DNNs, image classifiers)."""
from __future__ import annotations

from autograder.sandboxed.probes.common import answer, json_ready, load_linear_layers, own_parameters, tensor, tensor_summary
from autograder.sandboxed.probes.ready_made import weights_probe


def probe_identity_tensor(ns: dict) -> dict:
    """Return dtype, shape and values of `I_tensor`."""
    return tensor_summary(answer(ns, "I_tensor"))


def probe_tensor_shape(ns: dict) -> dict:
    """Return both shape answers as lists, and whether the second matches `I_tensor`'s real shape."""
    import torch

    intended, shape = answer(ns, "I_tensor_shape_intended"), answer(ns, "I_tensor_shape")
    actual = ns.get("I_tensor")
    as_list = lambda s: [int(d) for d in s] if isinstance(s, (torch.Size, tuple, list)) else repr(s)[:80]
    return {"intended": as_list(intended), "intended_kind": type(intended).__name__,
            "shape": as_list(shape), "shape_kind": type(shape).__name__,
            "matches_I_tensor": isinstance(actual, torch.Tensor) and as_list(shape) == list(actual.shape)}


def probe_sqrt_b_cubed(ns: dict) -> dict:
    """Return dtype, shape and values of `B_sqrt_cubed`."""
    return tensor_summary(answer(ns, "B_sqrt_cubed"))


def probe_gradients_for_p(ns: dict) -> dict:
    """Return `p_gradients` as {p: gradient} with plain float keys and values."""
    import torch

    gradients = answer(ns, "p_gradients")
    if not isinstance(gradients, dict):
        return {"kind": type(gradients).__name__}
    to_float = lambda v: float(torch.as_tensor(v).detach().reshape(-1)[0]) if torch.as_tensor(v).numel() else None
    return {"kind": "dict", "gradients": [[float(k), to_float(v)] for k, v in gradients.items()]}


def probe_gradient_loop(ns: dict, x: list, y: list, runs: list[dict]) -> dict:
    """Return the global `p` after each `train_f` run (same seed, growing iteration counts)."""
    import torch

    train_f = answer(ns, "train_f")
    finals = []
    for run in runs:
        torch.manual_seed(run["seed"])
        train_f(tensor(x), tensor(y), learning_rate=run["learning_rate"],
                number_of_iterations=run["iterations"])
        p = ns.get("p")
        finals.append(float(torch.as_tensor(p).detach().reshape(-1)[0]) if p is not None else None)
    return {"p_after_runs": finals}


def _activation(name: str | None):
    import torch

    return {None: None, "sigmoid": torch.nn.Sigmoid(), "tanh": torch.nn.Tanh(), "softmax": torch.nn.Softmax(dim=-1)}[name]


def probe_deep_forward(ns: dict, cases: list[dict]) -> dict:
    """Return the outputs of `DeepNeuralNet` built per case, with the given weights, on the given inputs."""
    import torch

    net_class = answer(ns, "DeepNeuralNet")
    outputs = []
    for case in cases:
        net = net_class(case["input_width"], list(case["profile"]), case["output_width"],
                        output_activation=_activation(case["activation"]))
        load_linear_layers(net, case["layers"])
        with torch.no_grad():
            out = net(tensor(case["inputs"]))
        outputs.append({"shape": list(out.shape), "values": torch.Tensor.tolist(out.detach().double())})
    structure = net_class(4, [3, 2], 1)
    return {"outputs": outputs,
            "has_layer_list": isinstance(getattr(structure, "layers", None), torch.nn.ModuleList),
            "has_output_layer": isinstance(getattr(structure, "output_layer", None), torch.nn.Linear)}


def _known_tower_class(built: list):
    """Return a class with DeepNeuralNet's constructor that stands in for it while the twin is probed: one
    nn.Linear(input_width, output_width) then tanh, whatever the hidden profile, so it is no solution of
    deep_forward and the twin is judged on its own. Each instance is appended to `built` with its arguments."""
    import torch

    class KnownTower(torch.nn.Module):
        def __init__(self, input_width, hidden_layer_profile, output_width, output_activation=None):
            super().__init__()
            self.layers = torch.nn.ModuleList()  # DeepNeuralNet's attributes, for a twin that reads them
            self.output_layer = torch.nn.Linear(int(input_width), int(output_width))
            self.output_activation = torch.nn.Tanh()
            self.extra_activation = output_activation  # the notebook's twin passes none
            built.append((self, _plain_arguments(input_width, hidden_layer_profile, output_width)))

        def forward(self, input):
            x = input
            for layer in self.layers:
                x = layer(x)
            x = self.output_activation(self.output_layer(x))
            return x if self.extra_activation is None else self.extra_activation(x)

    return KnownTower


def _plain_arguments(*arguments) -> list:
    """Return a tower's constructor arguments as plain data (ints where they are whole numbers)."""
    def one(value):
        if isinstance(value, (list, tuple)):
            return [one(v) for v in value][:20]
        try:
            return int(value) if int(value) == value else repr(value)[:40]
        except (TypeError, ValueError, OverflowError):
            return repr(value)[:40]
    return [one(a) for a in arguments]


def _load_layer(linear, layer: dict) -> bool:
    """Copy one layer's weight and bias into `linear`; return False when the shapes do not fit."""
    import torch

    weight, bias = tensor(layer["weight"]), tensor(layer["bias"])
    if not isinstance(linear, torch.nn.Linear) or linear.weight.shape != weight.shape or linear.bias is None \
            or linear.bias.shape != bias.shape:
        return False
    with torch.no_grad():
        linear.weight.copy_(weight)
        linear.bias.copy_(bias)
    return True


def probe_twin_tower(ns: dict, input_width: int, profile: list, output_width: int, known_layer: dict,
                     other_layer: dict, layers: list[dict], inputs: list, equal_row: list) -> dict:
    """Return the twin's outputs on the hidden rows with a known tower in DeepNeuralNet's place (the judge
    computes what that tower gives, so the verdict never depends on the student's DeepNeuralNet): the
    first tower built gets `known_layer`, any other `other_layer`, so two towers show in the outputs. A
    twin that does not build its tower through the name DeepNeuralNet (a subclass, a class captured at
    definition time) is run as it is, with `layers` (judged only where the student's DeepNeuralNet is
    right). Also its parameter count and whether both rows reach the same parameters (facts that count
    only with right outputs)."""
    import torch

    twin_class = answer(ns, "TwinDeepNeuralNet")
    built = []
    missing = object()
    saved = ns.get("DeepNeuralNet", missing)
    ns["DeepNeuralNet"] = _known_tower_class(built)
    try:
        net = twin_class(input_width, list(profile), output_width)
        result = {"known_tower_used": bool(built), "towers_built": len(built),
                  "tower_arguments": built[0][1] if built else None}
        if built:
            loaded = [_load_layer(tower.output_layer, known_layer if index == 0 else other_layer)
                      for index, (tower, _) in enumerate(built)]
            result["weights_fit"] = all(loaded)
        else:
            linear_count = sum(isinstance(m, torch.nn.Linear) for m in net.modules())
            result["weights_fit"] = linear_count == len(layers)
            if result["weights_fit"]:
                load_linear_layers(net, layers)
        parameters = own_parameters(net)  # not net.parameters(): a submission may override it to hide a tower
        result["parameter_count"] = sum(p.numel() for p in parameters)
        reached = []
        for row in (0, 1):  # which parameters does each row's output depend on?
            net.zero_grad(set_to_none=True)
            net(tensor(inputs))[row].sum().backward()
            reached.append([i for i, p in enumerate(parameters) if p.grad is not None])
        result["rows_share_parameters"] = bool(reached[0]) and reached[0] == reached[1]
        if result["weights_fit"]:
            with torch.no_grad():
                result["outputs"] = torch.Tensor.tolist(net(tensor(inputs)).double())
                result["equal_row_outputs"] = torch.Tensor.tolist(net(tensor([equal_row, equal_row])).double())
    finally:
        if saved is missing:
            ns.pop("DeepNeuralNet", None)
        else:
            ns["DeepNeuralNet"] = saved
    return result


def _stated_training(ns: dict, name: str) -> dict:
    """Return the training a student states in `name` as plain data for the judge to check (it checks
    the keys, types and bounds): {"given": False} when the name is undefined or None."""
    value = ns.get(name)
    if value is None:
        return {"given": False}
    if not isinstance(value, dict):
        return {"given": True, "kind": type(value).__name__[:40]}

    def number(v):
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            return {"not_a_number": type(v).__name__[:40]}
        if isinstance(v, int):
            return int(v) if abs(int(v)) < 2**53 else float("inf")
        return float(v)

    items = {}
    for key, v in list(value.items())[:10]:
        v = number(v)
        items[str(key)[:40]] = v if not isinstance(v, float) or v == v and abs(v) != float("inf") else repr(v)
    return {"given": True, "kind": "dict", "items": items}


def probe_minimal_width(ns: dict) -> dict:
    """Return `w_1` as given, and the training stated in `w_1_training` (optional)."""
    value = answer(ns, "w_1")
    return {"kind": type(value).__name__, "value": value if isinstance(value, (int, float)) else repr(value)[:80],
            "training": _stated_training(ns, "w_1_training")}


def probe_deep_minimal_width(ns: dict) -> dict:
    """Return `hidden_layer_profile_2` as a plain list when it is one, and the training stated in
    `w_2_training` (optional)."""
    value = answer(ns, "hidden_layer_profile_2")
    training = _stated_training(ns, "w_2_training")
    if not isinstance(value, (list, tuple)):
        return {"kind": type(value).__name__, "training": training}
    return {"kind": "list", "profile": json_ready([v if isinstance(v, (int, float)) or v is None else repr(v) for v in value]),
            "training": training}


probe_fashion_accuracy = weights_probe("best_net", "fashion_model.pth")
probe_mnist_accuracy = weights_probe("mnist_net", "mnist_model.pth")
