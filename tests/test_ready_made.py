"""The one-line probes (autograder/sandboxed/probes/ready_made.py) and their judges (autograder.judge), run
in-process on small namespaces: honest answers pass, wrong or forged ones fail with feedback that names the
answer, never an expected value. No sandbox; about 2 s (importing torch)."""
from __future__ import annotations

import struct

import numpy as np
import pytest
import torch
from torch import nn

from autograder.judge import GradingFailure, expect_accuracy, expect_module_outputs, expect_results_like
from autograder.sandboxed.probes import common
from autograder.sandboxed.probes.common import MissingAnswer
from autograder.sandboxed.probes.ready_made import call_probe, module_probe, value_probe, weights_probe


def test_value_probe_reports_numbers_and_a_missing_answer():
    assert value_probe("x")({"x": [1, 2]}) == {"kind": "array", "shape": [2], "values": [1.0, 2.0]}
    with pytest.raises(MissingAnswer, match="`x` is not defined"):
        value_probe("x")({})


def test_call_probe_and_its_judge_tell_a_right_function_from_a_wrong_one():
    cases = [[2.0, 3.0], [0.5, 4.0]]
    reference = call_probe("area")({"area": lambda w, h: w * h}, cases)
    expect_results_like(call_probe("area")({"area": lambda w, h: h * w}, cases), reference, "`area`")
    with pytest.raises(GradingFailure) as failure:
        expect_results_like(call_probe("area")({"area": lambda w, h: w + h}, cases), reference, "`area`")
    assert "`area` gives a wrong result" in str(failure.value) and "6" not in str(failure.value)


def test_module_probe_is_judged_by_recomputing_it_so_a_forged_output_fails():
    hidden = {"weight_seed": 7, "inputs": np.linspace(-1, 1, 8).reshape(2, 4).tolist()}
    class Net(nn.Sequential):  # a class is built without arguments
        def __init__(self):
            super().__init__(nn.Flatten(), nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))

    probed = module_probe("Net")({"Net": Net}, **hidden)
    expect_module_outputs(probed, hidden, "`Net`")
    forged = {**probed, "output": {**probed["output"], "values": [[0.0, 0.0], [0.0, 0.0]]}}
    with pytest.raises(GradingFailure, match="does not compute what its layers compute"):
        expect_module_outputs(forged, hidden, "`Net`")


def test_weights_probe_predicts_held_out_images_and_its_judge_needs_the_threshold(tmp_path, monkeypatch):
    images = np.zeros((4, 28, 28), dtype=np.uint8)
    images[2:, 0, 0] = 255  # two dark images, two with one bright pixel
    (tmp_path / "images").write_bytes(struct.pack(">IIII", 2051, 4, 28, 28) + images.tobytes())
    net = nn.Sequential(nn.Flatten(), nn.Linear(784, 2))
    with torch.no_grad():
        net[1].weight.zero_(), net[1].bias.copy_(torch.tensor([0.5, 0.0]))
        net[1].weight[1, 0] = 1.0  # class 1 when the first pixel is bright
    torch.save(net.state_dict(), tmp_path / "net.pth")
    monkeypatch.setattr(common, "SUBMISSION_DIR", str(tmp_path))
    probed = weights_probe("net", "net.pth", image_shape=(1, 28, 28))({"net": net}, str(tmp_path / "images"))
    assert probed == {"predictions": [0, 0, 1, 1]}
    expect_accuracy(probed, np.array([0, 0, 1, 1]), 1.0, "`net`")
    with pytest.raises(GradingFailure, match="reaches 50.00% accuracy"):
        expect_accuracy(probed, np.array([0, 1, 0, 1]), 0.85, "`net`")
    (tmp_path / "net.pth").unlink()
    with pytest.raises(MissingAnswer, match="`net.pth` was not submitted"):
        weights_probe("net", "net.pth")({"net": net}, str(tmp_path / "images"))
