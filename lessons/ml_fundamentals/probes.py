"""Probes for the ml_fundamentals lesson (polynomial fits, degree selection, gradient descent, MNIST nets)."""
from __future__ import annotations

import math

from autograder.sandboxed.probes.common import (answer, module_leaves, numeric_summary, predict_with_submitted_weights,
                                               tensor_summary)


def _whole(value):
    """Return an integral answer (int, numpy integer, 3.0) as int, anything else as a short repr."""
    import numbers

    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, numbers.Real) and float(value).is_integer():
        return int(value)
    return repr(value)[:60]


def probe_poly_losses(ns: dict, tr_X: list, tr_Y: list, te_X: list, te_Y: list, degrees: list) -> dict:
    """Return `train_test_losses` on the hidden training and test samples for the hidden degrees."""
    import numpy as np

    losses = answer(ns, "train_test_losses")(np.array(tr_X), np.array(tr_Y), np.array(te_X), np.array(te_Y),
                                             list(degrees))
    return numeric_summary(losses)


def probe_select_degree(ns: dict, datasets: list[dict]) -> dict:
    """Return the degree `select_degree` picks on each hidden noisy data set (with its own max_degree)."""
    import numpy as np

    select = answer(ns, "select_degree")
    return {"picks": [_whole(select(np.array(s["X"]), np.array(s["Y"]), s["max_degree"])) for s in datasets]}


def probe_gd_trajectory(ns: dict, cases: list[dict]) -> dict:
    """Return the trajectory `gradient_descent` gives for each hidden start, learning rate and epoch count."""
    import numpy as np

    descend = answer(ns, "gradient_descent")
    return {"trajectories": [numeric_summary(descend(np.array(c["theta0"]), c["eta"], c["epochs"])) for c in cases]}


def probe_lr_bound(ns: dict, pairs: list) -> dict:
    """Return `learning_rate_bound(a, b)` for each hidden pair of curvatures."""
    bound = answer(ns, "learning_rate_bound")
    return {"bounds": [numeric_summary(bound(a, b)) for a, b in pairs]}


def seeded_parameter(seed: int, index: int, shape: tuple[int, ...]):
    """Return the float32 numpy values the grader puts in the index-th parameter tensor (definition order) of a
    probed network: weights N(0, 1.5 / sqrt(fan-in)), biases N(0, 0.5), drawn from (seed, index). The judge redraws
    them to recompute the network's output itself."""
    import numpy as np

    rng = np.random.default_rng([seed, index])
    if len(shape) >= 2:
        return rng.normal(0.0, 1.5 / math.sqrt(max(math.prod(shape[1:]), 1)), shape).astype(np.float32)
    return rng.normal(0.0, 0.5, shape).astype(np.float32)


def _seeded_output(net, weight_seed: int, images: list) -> dict:
    """Return the output of a copy of `net` on `images` ([N, 1, 28, 28]) with every parameter tensor, in definition
    order, set to seeded_parameter(weight_seed, i, its shape)."""
    import copy

    import torch

    net = copy.deepcopy(net)
    index = 0
    with torch.no_grad():
        for leaf in module_leaves(net):
            for parameter in dict.values(object.__getattribute__(leaf, "__dict__").get("_parameters") or {}):
                if parameter is not None:
                    parameter.copy_(torch.from_numpy(seeded_parameter(weight_seed, index, tuple(parameter.shape))))
                    index += 1
        net.to("cpu").eval()
        dtype = next((p.dtype for p in net.parameters() if p.is_floating_point()), torch.float32)
        return tensor_summary(net(torch.tensor(images, dtype=dtype)))


def _net_probe(ns: dict, name: str, weights_file: str, images: str, probe_images: list, weight_seed: int) -> dict:
    """Return the predictions of `name` with the submitted weights on the held-out images (no labels here), and
    its outputs on a few hidden random images with parameters set by the grader (the judge recomputes them)."""
    result = predict_with_submitted_weights(ns, name, weights_file, images, (1, 28, 28))
    try:
        result["seeded"] = {"output": _seeded_output(answer(ns, name), weight_seed, probe_images)}
    except Exception as exc:  # judged by the exercise's structure test; the predictions above still count
        result["seeded"] = {"error": type(exc).__name__}
    return result


def probe_linear_accuracy(ns: dict, images: str, probe_images: list, weight_seed: int) -> dict:
    """Return predictions of `linear_net` with `mnist_linear.pth`, and its outputs with grader-set parameters."""
    return _net_probe(ns, "linear_net", "mnist_linear.pth", images, probe_images, weight_seed)


def probe_dnn_accuracy(ns: dict, images: str, probe_images: list, weight_seed: int) -> dict:
    """Return predictions of `dnn_net` with `mnist_dnn.pth`, and its outputs with grader-set parameters."""
    return _net_probe(ns, "dnn_net", "mnist_dnn.pth", images, probe_images, weight_seed)


def probe_cnn_accuracy(ns: dict, images: str, probe_images: list, weight_seed: int) -> dict:
    """Return predictions of `cnn_net` with `mnist_cnn.pth`, and its outputs with grader-set parameters."""
    return _net_probe(ns, "cnn_net", "mnist_cnn.pth", images, probe_images, weight_seed)
