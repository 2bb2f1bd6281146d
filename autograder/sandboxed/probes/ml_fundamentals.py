"""Probes for the ml_fundamentals lesson (polynomial fits, degree selection, gradient descent, MNIST nets)."""
from __future__ import annotations

from .common import answer, predict_images_with_submitted_weights


def _array(value) -> dict:
    """Return a numeric answer as {"shape", "values"} (floats; non-finite ones as strings), or its kind."""
    import numpy as np

    try:
        array = np.asarray(value.detach().cpu() if hasattr(value, "detach") else value, dtype=np.float64)
    except (TypeError, ValueError):
        return {"kind": type(value).__name__}
    values = [v if np.isfinite(v) else repr(float(v)) for v in array.reshape(-1).tolist()]
    return {"kind": "array", "shape": list(array.shape), "values": values}


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
    return _array(losses)


def probe_select_degree(ns: dict, max_degree: int, true_model: list[dict], low_degree: list[dict]) -> dict:
    """Return the degrees `select_degree` picks on each hidden noisy sample of both generator families."""
    import numpy as np

    select = answer(ns, "select_degree")
    pick = lambda sample: _whole(select(np.array(sample["X"]), np.array(sample["Y"]), max_degree))
    return {"true_model": [pick(s) for s in true_model], "low_degree": [pick(s) for s in low_degree]}


def probe_gd_trajectory(ns: dict, cases: list[dict]) -> dict:
    """Return the trajectory `gradient_descent` gives for each hidden start, learning rate and epoch count."""
    import numpy as np

    descend = answer(ns, "gradient_descent")
    return {"trajectories": [_array(descend(np.array(c["theta0"]), c["eta"], c["epochs"])) for c in cases]}


def probe_lr_bound(ns: dict, pairs: list) -> dict:
    """Return `learning_rate_bound(a, b)` for each hidden pair of curvatures."""
    bound = answer(ns, "learning_rate_bound")
    return {"bounds": [_array(bound(a, b)) for a, b in pairs]}


def probe_linear_accuracy(ns: dict, images: str) -> dict:
    """Return predictions of `linear_net` with `mnist_linear.pth` on the held-out images (no labels here)."""
    return predict_images_with_submitted_weights(ns, "linear_net", "mnist_linear.pth", images)


def probe_dnn_accuracy(ns: dict, images: str) -> dict:
    """Return predictions of `dnn_net` with `mnist_dnn.pth` on the held-out images (no labels here)."""
    return predict_images_with_submitted_weights(ns, "dnn_net", "mnist_dnn.pth", images)


def probe_cnn_accuracy(ns: dict, images: str) -> dict:
    """Return predictions of `cnn_net` with `mnist_cnn.pth` on the held-out images (no labels here)."""
    return predict_images_with_submitted_weights(ns, "cnn_net", "mnist_cnn.pth", images)
