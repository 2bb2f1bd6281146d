"""The common probes, each made by one call in a lesson's probes.py (the runner calls probe_<exercise>):

    probe_learning_rate = value_probe("learning_rate")          # a variable's value
    probe_area = call_probe("area")                              # a function called on hidden inputs
    probe_tiny_net = module_probe("TinyNet")                     # a module's outputs with grader-set weights
    probe_net_accuracy = weights_probe("net", "net.pth")         # submitted weights on held-out images

Each returns plain data the judge reads with its counterpart in autograder.judge (expect_array,
expect_results_like, expect_module_outputs, expect_accuracy); the hidden inputs they take are those
the lesson's spec draws: call_probe {"cases": [[arg, ...], ...]}, module_probe {"weight_seed", "inputs"},
weights_probe {"images": "/data/<test images>"}."""
from __future__ import annotations

from collections.abc import Callable

from .common import answer, call_quietly, numeric_summary, predict_with_submitted_weights, run_with_seeded_weights


def value_probe(name: str, summarize: Callable[[object], dict] = numeric_summary) -> Callable[[dict], dict]:
    """Return a probe that reports the student's variable `name`, summarized (numbers by default)."""
    def probe(ns: dict) -> dict:
        return summarize(answer(ns, name))

    probe.__doc__ = f"Return the value of `{name}`, summarized."
    return probe


def call_probe(name: str, summarize: Callable[[object], dict] = numeric_summary) -> Callable[..., dict]:
    """Return a probe that calls the student's function `name` on each hidden case (a list of arguments) and
    reports each result, summarized: {"results": [...]}."""
    def probe(ns: dict, cases: list[list]) -> dict:
        function = answer(ns, name)
        return {"results": [summarize(call_quietly(function, *case)) for case in cases]}

    probe.__doc__ = f"Return `{name}` called on each hidden case."
    return probe


def module_probe(name: str) -> Callable[..., dict]:
    """Return a probe that builds the student's module `name` (a class is called without arguments), sets
    grader-drawn weights in its linear layers and reports its structure and its output on hidden inputs."""
    def probe(ns: dict, weight_seed: int, inputs: list) -> dict:
        module = answer(ns, name)
        return run_with_seeded_weights(module() if isinstance(module, type) else module, weight_seed, inputs)

    probe.__doc__ = f"Return the structure and outputs of `{name}` with grader-set weights."
    return probe


def weights_probe(net_name: str, weights_file: str, image_shape: tuple[int, ...] | None = None) -> Callable[..., dict]:
    """Return a probe that loads the submitted `weights_file` into the student's net `net_name` and reports
    its predictions on the held-out images (the labels stay with the judge)."""
    def probe(ns: dict, images: str) -> dict:
        return predict_with_submitted_weights(ns, net_name, weights_file, images, image_shape)

    probe.__doc__ = f"Return the predictions of `{net_name}` with `{weights_file}` on the held-out images."
    return probe
