"""End to end: submissions graded in the sandbox, bad behaviour contained exercise by exercise."""
import json
import subprocess
import sys

import pytest

from autograder.grade import grade_submission
from tests.conftest import ROOT, make_submission

CHAOS = {
    # an endless loop after a correct answer: that exercise times out, nothing else suffers
    "identity_tensor": "I_tensor = torch.eye(3)\nwhile True:\n  pass\n",
    # a memory bomb: the allocation fails inside the sandbox, the answer is never defined
    "tensor_shape": "big = torch.zeros(10 ** 11)\nI_tensor_shape_intended = torch.Size([3, 3])\n",
    # ending the process: recorded, the notebook is run again without that cell
    "sqrt_b_cubed": "import os\nos._exit(0)\n",
    # a process bomb, then a correct answer: the forks die after the cell, the answer counts
    "gradients_for_p": ("import os\nfor _ in range(40):\n  if os.fork() == 0:\n    while True:\n      pass\n"
                        "p_gradients = {}\nfor p_value in [0.75, 0.5, 0.25, 0.2]:\n"
                        "  p = torch.tensor([p_value], requires_grad=True)\n"
                        "  ((f(x) - expected_output) ** 2).backward()\n  p_gradients[p_value] = p.grad.item()\n"),
    # 100 MB of output, then a correct answer
    "twin_tower": ("print('x' * 100_000_000)\nclass TwinDeepNeuralNet(nn.Module):\n"
                   "  def __init__(self, i, h, o):\n    super().__init__()\n    self.tower = DeepNeuralNet(i, h, o)\n"
                   "  def forward(self, input):\n    return torch.stack([self.tower(input[0]), self.tower(input[1])])\n"),
    # a network call
    "minimal_width": "import urllib.request\nurllib.request.urlopen('http://example.com', timeout=5)\nw_1 = 20\n",
    # reading the course's solutions and the test labels by path
    "deep_minimal_width": "hidden_layer_profile_2 = open('/work/main/solutions/hands_on_dl.py').read()\n",
}


@pytest.fixture(scope="module")
def reference(config, lesson, tmp_path_factory):
    """The reference solution with every test cell deleted and one edited: grades never depend on them."""
    def vandalise(nb):
        nb.cells[:] = [c for c in nb.cells if not c.metadata.get("nbgrader", {}).get("grade")]
    path = make_submission(lesson, tmp_path_factory.mktemp("reference"), edit=vandalise)
    return grade_submission(path, config, seed=12345)


@pytest.fixture(scope="module")
def chaos(config, lesson, tmp_path_factory):
    path = make_submission(lesson, tmp_path_factory.mktemp("chaos"), CHAOS)
    return grade_submission(path, config.with_limits(cell_timeout=15), seed=7)


def by_id(result):
    return {e.exercise: e for e in result.exercises}


def test_reference_scores_full_marks_without_its_test_cells(reference):
    assert reference.score == reference.max_score == 24
    assert all(e.outcome == "passed" for e in reference.exercises)
    assert any("missing" in note for note in reference.notes)


def test_chaos_is_contained_per_exercise(chaos):
    got = {e.exercise: e.outcome for e in chaos.exercises}
    assert got == {"identity_tensor": "timeout", "tensor_shape": "missing", "sqrt_b_cubed": "error",
                   "gradients_for_p": "passed", "gradient_loop": "passed", "deep_forward": "passed",
                   "twin_tower": "passed", "minimal_width": "missing", "deep_minimal_width": "missing",
                   "fashion_accuracy": "passed", "mnist_accuracy": "passed"}


def test_chaos_feedback_names_the_students_own_errors(chaos):
    results = by_id(chaos)
    assert "did not finish" in results["identity_tensor"].feedback
    assert "ended the Python process" in results["sqrt_b_cubed"].feedback
    assert "RuntimeError" in results["tensor_shape"].feedback or "MemoryError" in results["tensor_shape"].feedback
    assert "URLError" in results["minimal_width"].feedback
    assert "FileNotFoundError" in results["deep_minimal_width"].feedback
    assert "Traceback" not in json.dumps(chaos.to_json()["exercises"])


def test_same_submission_and_seed_give_the_same_grade(config, lesson, tmp_path, reference):
    path = make_submission(lesson, tmp_path)
    again = grade_submission(path, config, seed=12345)
    assert [(e.exercise, e.score, e.outcome, e.feedback) for e in again.exercises] == \
        [(e.exercise, e.score, e.outcome, e.feedback) for e in reference.exercises]


def test_feedback_leaks_no_hidden_inputs(config, lesson, tmp_path):
    wrong = {"gradient_loop": "def train_f(x, y, learning_rate=0.01, number_of_iterations=50):\n  global p\n"
                              "  p = torch.tensor([0.5], requires_grad=True)\n"}
    result = grade_submission(make_submission(lesson, tmp_path, wrong), config, seed=99)
    loop = by_id(result)["gradient_loop"]
    assert loop.outcome == "failed" and loop.score == 0
    hidden = lesson.spec.hidden_inputs(99)["gradient_loop"]
    text = json.dumps(result.to_json()["exercises"])
    assert not any(f"{v:.4f}"[:6] in text for v in hidden["x"][:5])


def test_cli_grades_and_writes_the_documented_json(tmp_path, lesson):
    path = make_submission(lesson, tmp_path / "sub", {"identity_tensor": "I_tensor = torch.eye(2)"})
    out = tmp_path / "out.json"
    done = subprocess.run([sys.executable, "-m", "autograder.cli", "grade", str(path), "--json", str(out)],
                          capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    data = json.loads(out.read_text())
    assert data["lesson"] == "hands_on_dl" and data["max_score"] == 24 and data["score"] == 23
    first = data["exercises"][0]
    assert set(first) == {"id", "score", "max_score", "status", "feedback"}
    assert first["status"] == "failed" and "identity_tensor" in done.stdout


@pytest.mark.parametrize("content, message", [
    (None, "no such file"),
    ("{broken", "invalid JSON"),
    ('{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}', "no exercise of any lesson"),
])
def test_cli_refuses_ungradable_input_in_one_line(tmp_path, content, message):
    path = tmp_path / "sub.ipynb"
    if content is not None:
        path.write_text(content)
    done = subprocess.run([sys.executable, "-m", "autograder.cli", "grade", str(path)],
                          capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 2
    assert message in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_cli_refuses_an_unknown_lesson(tmp_path, lesson):
    path = make_submission(lesson, tmp_path)
    done = subprocess.run([sys.executable, "-m", "autograder.cli", "grade", str(path), "--lesson", "nope"],
                          capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 2 and "unknown lesson 'nope'" in done.stderr
