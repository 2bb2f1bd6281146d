"""Probes for the hands_on_dl lesson (tensors, autograd, training loops, DNNs, image classifiers)."""
from __future__ import annotations

from .common import answer, load_linear_layers, own_parameters, plain, predict_with_submitted_weights, tensor, tensor_summary


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


def probe_twin_tower(ns: dict, input_width: int, profile: list, output_width: int, layers: list[dict],
                     inputs: list, equal_row: list) -> dict:
    """Return the twin's parameter count against one of the student's own towers, whether both rows reach
    the same parameters, and its outputs against that tower applied per row (same weights): judged on
    the student's own DeepNeuralNet, so a bug there does not cost this exercise too."""
    import torch

    net = answer(ns, "TwinDeepNeuralNet")(input_width, list(profile), output_width)
    parameters = own_parameters(net)  # not net.parameters(): a submission may override it to hide a tower
    result = {"parameter_count": sum(p.numel() for p in parameters),
              "linear_count": sum(isinstance(m, torch.nn.Linear) for m in net.modules())}
    tower = ns.get("DeepNeuralNet")
    tower = tower(input_width, list(profile), output_width) if tower is not None else None
    result["tower_parameter_count"] = sum(p.numel() for p in own_parameters(tower)) if tower is not None else None
    reached = []
    for row in (0, 1):  # which parameters does each row's output depend on?
        net.zero_grad(set_to_none=True)
        net(tensor(inputs))[row].sum().backward()
        reached.append([i for i, p in enumerate(parameters) if p.grad is not None])
    result["rows_share_parameters"] = bool(reached[0]) and reached[0] == reached[1]
    if result["linear_count"] == len(layers) and tower is not None:
        load_linear_layers(net, layers)
        load_linear_layers(tower, layers)
        with torch.no_grad():
            result["outputs"] = torch.Tensor.tolist(net(tensor(inputs)).double())
            result["per_row_outputs"] = [torch.Tensor.tolist(tower(tensor(row)).double()) for row in inputs]
            same = net(tensor([equal_row, equal_row]))
            result["equal_rows_equal"] = bool(torch.equal(same[0], same[1]))
    return result


def probe_minimal_width(ns: dict) -> dict:
    """Return `w_1` as given."""
    value = answer(ns, "w_1")
    return {"kind": type(value).__name__, "value": value if isinstance(value, (int, float)) else repr(value)[:80]}


def probe_deep_minimal_width(ns: dict) -> dict:
    """Return `hidden_layer_profile_2` as a plain list when it is one."""
    value = answer(ns, "hidden_layer_profile_2")
    if not isinstance(value, (list, tuple)):
        return {"kind": type(value).__name__}
    return {"kind": "list", "profile": plain([v if isinstance(v, (int, float)) or v is None else repr(v) for v in value])}


def probe_fashion_accuracy(ns: dict, images: str) -> dict:
    """Return predictions of `best_net` with `fashion_model.pth` on the held-out images (no labels here)."""
    return predict_with_submitted_weights(ns, "best_net", "fashion_model.pth", images)


def probe_mnist_accuracy(ns: dict, images: str) -> dict:
    """Return predictions of `mnist_net` with `mnist_model.pth` on the held-out images (no labels here)."""
    return predict_with_submitted_weights(ns, "mnist_net", "mnist_model.pth", images)
