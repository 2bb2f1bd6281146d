"""The adversarial catalogue: every way a submission may attack or break grading, with the verdict it must get.

A sandboxed case is one attack on the hands_on_dl source notebook (its answer cell replaced, a cell inserted
after one, a cell or its metadata edited, a submitted file replaced) and the status its exercise must get.
Compatible attacks share a notebook (one grading run each) so the suite stays fast: every exercise of a
notebook that no case touches must still pass. Attacks against escape write `_escaped` entries when they
get anywhere; the answer is only given when nothing escaped, so `passed` proves the attack was contained.
A malformed case is raw bytes for the submission file and the one-line refusal it must get (exit 2).

Placeholders filled in per run: @ROOT@ (the course repository), @COURSE@ (the grading course, its
gradebook), @HOME@ (a fake instructor home with a canary), @DATA@ (the data root)."""
from __future__ import annotations

import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import nbformat


@dataclass(frozen=True)
class Case:
    """One attack inside a graded notebook, and the status its exercise must get."""

    name: str
    notebook: str  # attacks sharing a notebook are graded in one run
    exercise: str
    status: str  # passed | failed | error | timeout | missing
    answer: str | None = None  # replaces the exercise's answer cell
    after: tuple[str, str] | None = None  # (grade_id, source): a code cell inserted after that cell
    edit: str | None = None  # name of a notebook edit in EDITS
    files: dict[str, str] = field(default_factory=dict)  # side file -> name of a file maker in FILES
    max_score: float | None = None  # the exercise's points must stay what the lesson says
    score: float | None = None  # the exact score, where a lie must not earn even partial credit
    xfail: str = ""  # a known hole: the verdict the case must get once it is fixed


@dataclass(frozen=True)
class Notebook:
    """How one combined notebook is graded."""

    name: str
    cli: tuple[str, ...] = ()  # extra `autograder grade` options


@dataclass(frozen=True)
class Malformed:
    """A file that is not a gradable submission, and the words its one-line refusal must contain."""

    name: str
    make: str  # name of a maker in MALFORMED_MAKERS
    message: str


def contained(attack: str, answer: str, sabotage: str = "pass") -> str:
    """Return cell source running `attack` (which appends to `_escaped` when it gets through), then the
    answer only if nothing escaped (else `sabotage`)."""
    return (
        "_escaped = []\n"
        "def _attempt(label, action):\n"
        "    try:\n"
        "        action()\n"
        "        _escaped.append(label)\n"
        "    except BaseException:\n"
        "        pass\n"
        + textwrap.dedent(attack).strip() + "\n"
        "print('escaped:', _escaped)\n"
        "if not _escaped:\n" + textwrap.indent(textwrap.dedent(answer).strip(), "    ") + "\n"
        "else:\n" + textwrap.indent(textwrap.dedent(sabotage).strip(), "    ") + "\n"
    )


SOURCE_NOTEBOOK = Path(__file__).resolve().parents[2] / "source" / "hands_on_dl" / "hands_on_dl.ipynb"


def reference_answer(grade_id: str) -> str:
    """Return the instructor's answer cell `grade_id` of the hands_on_dl source notebook, without its
    solution markers: the correct answer an attack put before it must not spoil."""
    nb = nbformat.read(SOURCE_NOTEBOOK, as_version=4)
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)
    markers = ("### BEGIN SOLUTION", "### END SOLUTION")
    return "\n".join(line for line in cell.source.splitlines() if line.strip() not in markers) + "\n"


# correct answers, to put after an attack that must cost nothing
I_TENSOR = reference_answer("identity_tensor")
SHAPES = reference_answer("tensor_shape")
SQRT = reference_answer("sqrt_b_cubed")
GRADIENTS = reference_answer("gradients_for_p")
TRAIN_F = reference_answer("gradient_loop")
DEEP = reference_answer("deep_forward")
TWIN = reference_answer("twin_tower")


def _replaced(answer: str, old: str, new: str) -> str:
    """Return `answer` with its one line `old` replaced (an attack edits the reference answer)."""
    assert answer.count(old) == 1, f"{old!r} is not one line of the reference answer"
    return answer.replace(old, new)



NOTEBOOKS = (
    Notebook("resource", ("--timeout", "900", "--cell-timeout", "10")),
    Notebook("crashes", ("--timeout", "900", "--cell-timeout", "10")),  # apart from resource's hangs: a crash
    # re-runs the notebook, and every hang in it with it
    Notebook("escape", ("--cell-timeout", "20")),
    Notebook("cheat", ("--cell-timeout", "20")),
    Notebook("edits", ("--timeout", "120", "--cell-timeout", "150")),
)

CASES = (
    # ---------------------------------------------------------------- resource
    Case("infinite_loop_in_answer_cell", "resource", "identity_tensor", "timeout",
         answer=I_TENSOR + "\nwhile True:\n    pass\n"),
    Case("thread_bomb", "resource", "tensor_shape", "passed", answer="""
import threading, time
_threads = []
try:
    for _ in range(64):  # bounded: the sandbox user's process limit is shared with parallel sandboxes
        _threads.append(threading.Thread(target=time.sleep, args=(3600,), daemon=True))
        _threads[-1].start()
except RuntimeError:
    pass
""" + SHAPES),
    Case("memory_bomb_numpy", "resource", "sqrt_b_cubed", "passed", answer="""
import numpy as np
def _hog():
    hog = []
    try:
        while True:
            hog.append(np.empty(10 ** 8))  # 800 MB a time, until the data limit refuses
    except MemoryError:
        return len(hog)
print('numpy blocks before MemoryError:', _hog())
""" + SQRT),
    Case("memory_bomb_torch", "resource", "gradients_for_p", "passed", answer="""
def _hog():
    hog = []
    try:
        while True:
            hog.append(torch.empty(10 ** 8))
    except RuntimeError:
        return len(hog)
print('torch blocks before the allocator refused:', _hog())
""" + GRADIENTS),
    Case("deep_recursion_in_probed_function", "crashes", "gradient_loop", "error", answer="""
def train_f(x, y, learning_rate=0.01, number_of_iterations=50):
    return train_f(x, y, learning_rate, number_of_iterations)
"""),
    Case("process_bomb", "resource", "deep_forward", "passed", answer="""
import os, time
for _ in range(32):  # bounded, as the thread bomb; the children outlive the cell until the runner kills them
    try:
        if os.fork() == 0:
            time.sleep(3600)
    except OSError:
        break
""" + DEEP),
    Case("busy_loop_in_forward", "resource", "twin_tower", "timeout",
         answer=_replaced(TWIN, "    return output", "    while True:\n      pass\n    return output")),
    Case("disk_filler_in_work_dir", "resource", "minimal_width", "passed", answer="""
import os
written = 0
try:
    with open('filler.bin', 'wb') as handle:
        while True:
            handle.write(b'\\0' * (1 << 20))
            written += 1
except OSError as error:
    print('stopped after', written, 'MB:', type(error).__name__)
try:
    for i in range(100):
        with open(f'/tmp/filler{i}', 'wb') as handle:
            handle.write(b'\\0' * (32 << 20))
except OSError:
    pass
w_1 = 192
w_1_training = {"lr": 5e-3, "epochs": 1000}
"""),
    Case("hundred_mb_of_output", "resource", "deep_minimal_width", "passed", answer="""
import os, sys
for _ in range(100):
    print('x' * 1_000_000)
os.write(1, b'y' * 20_000_000)
os.write(2, b'z' * 20_000_000)
sys.__stdout__.write('w' * 10_000_000)
hidden_layer_profile_2 = [56, 56]
"""),
    # kill(-1) spares the caller: the sleep keeps this cell running until the sandbox is torn down, else the
    # next step may be blamed (see the report of issue 8: the step running when the server died is not known)
    Case("kill_every_process_in_reach", "crashes", "fashion_accuracy", "passed",
         after=("fashion_accuracy", "import os, signal, time\nos.kill(-1, signal.SIGKILL)\ntime.sleep(5)\n")),
    Case("truncated_weights_file", "resource", "mnist_accuracy", "error", files={"mnist_model.pth": "truncated"}),

    # ---------------------------------------------------------------- escape
    Case("network_connection", "escape", "identity_tensor", "passed", answer=contained("""
import socket, urllib.request
_attempt('tcp', lambda: socket.create_connection(('1.1.1.1', 80), timeout=3))
_attempt('dns', lambda: socket.getaddrinfo('example.com', 80))
_attempt('http', lambda: urllib.request.urlopen('http://example.com', timeout=3))
_attempt('udp', lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'x', ('8.8.8.8', 53)))
""", I_TENSOR)),
    Case("read_solutions_by_path", "escape", "tensor_shape", "passed", answer=contained("""
_attempt('solutions', lambda: open('@ROOT@/solutions/hands_on_dl.py').read())
_attempt('source', lambda: open('@ROOT@/source/hands_on_dl/hands_on_dl.ipynb').read())
_attempt('listing', lambda: __import__('os').listdir('@ROOT@/solutions'))
""", SHAPES)),
    Case("read_grader_files", "escape", "sqrt_b_cubed", "passed", answer=contained("""
_attempt('grader', lambda: open('@ROOT@/lessons/hands_on_dl/test_hands_on_dl.py').read())
_attempt('hidden inputs', lambda: open('@ROOT@/lessons/hands_on_dl/spec.py').read())
_attempt('mounted spec', lambda: open('/opt/autograder/lessons/hands_on_dl/spec.py').read())
_attempt('import graders', lambda: __import__('lessons.hands_on_dl.test_hands_on_dl'))
_attempt('calibration', lambda: open('@ROOT@/lessons/hands_on_dl/calibration.json').read())
""", SQRT)),
    Case("read_test_labels", "escape", "gradients_for_p", "passed", answer=contained("""
_attempt('host labels', lambda: open('@DATA@/FashionMNIST/raw/t10k-labels-idx1-ubyte', 'rb').read())
_attempt('mounted labels', lambda: open('/data/FashionMNIST/raw/t10k-labels-idx1-ubyte', 'rb').read())
_attempt('mnist labels', lambda: open('/data/MNIST/raw/t10k-labels-idx1-ubyte', 'rb').read())
""", GRADIENTS)),
    Case("read_instructor_home", "escape", "gradient_loop", "passed", answer=contained("""
_attempt('canary', lambda: open('@HOME@/canary.txt').read())
_attempt('root bashrc', lambda: open('/root/.bashrc').read())
_attempt('root gitconfig', lambda: open('/root/.gitconfig').read())
_attempt('ssh keys', lambda: open('/root/.ssh/id_rsa').read())
_attempt('environ', lambda: [1 for k in __import__('os').environ if 'TOKEN' in k or 'KEY' in k][0])
""", TRAIN_F)),
    # escape's DeepNeuralNet is wrong (for forged_probe_data); these two attacks live in the edits notebook
    Case("wrong_tower_under_a_forged_twin", "escape", "deep_forward", "failed", answer=_replaced(
        DEEP, "      x = layer(x)", "      if isinstance(layer, nn.Linear):  # wrong: the ReLUs are skipped\n"
                                    "        x = layer(x)")),
    # issue 14 item 8: a wrong DeepNeuralNet (wrong_tower_under_a_forged_twin), two towers, and a replaced probe
    # reporting everything the twin's graders once trusted: the outputs "checked" against the student's own
    # tower, a twin that does not take the probe's known tower, one tower's parameter count, shared rows
    Case("forged_probe_data", "escape", "twin_tower", "failed", score=0.0, answer="""
class TwinDeepNeuralNet(nn.Module):  # wrong: two towers, no sharing
    def __init__(self, input_width, hidden_layer_profile, output_width):
        super().__init__()
        self.query_tower = DeepNeuralNet(input_width, hidden_layer_profile, output_width)
        self.value_tower = DeepNeuralNet(input_width, hidden_layer_profile, output_width)

    def forward(self, input):
        return torch.stack([self.query_tower(input[0, :]), self.value_tower(input[1, :])])

import importlib
_probes = importlib.import_module('lessons.hands_on_dl.probes')
def _forged_twin_probe(ns, **inputs):
    net = ns['TwinDeepNeuralNet'](inputs['input_width'], inputs['profile'], inputs['output_width'])
    with torch.no_grad():
        outputs = net(torch.tensor(inputs['inputs'])).double().tolist()
    one_tower = sum(len(layer['bias']) * (len(layer['weight'][0]) + 1) for layer in inputs['layers'])
    return {'known_tower_used': False, 'towers_built': 0, 'tower_arguments': None, 'weights_fit': True,
            'parameter_count': one_tower, 'tower_parameter_count': one_tower, 'linear_count': len(inputs['layers']),
            'rows_share_parameters': True, 'equal_rows_equal': True, 'outputs': outputs,
            'per_row_outputs': outputs, 'equal_row_outputs': [outputs[0], outputs[0]]}
_probes.probe_twin_tower = _forged_twin_probe
"""),
    Case("os_exit_in_cell", "escape", "minimal_width", "error", answer="import os\nos._exit(0)\nw_1 = 355\n"),
    Case("sys_exit_in_cell", "escape", "deep_minimal_width", "passed",
         answer="hidden_layer_profile_2 = [56, 56]\nimport sys\nsys.exit(3)\n"),
    Case("kill_the_parent_process", "escape", "fashion_accuracy", "error", answer="""
import os, signal, time
best_net = DeepNeuralNet(input_width=28 * 28, hidden_layer_profile=[256], output_width=10)
os.kill(os.getppid(), signal.SIGKILL)
os.kill(1, signal.SIGKILL)
time.sleep(5)  # as in kill_every_process_in_reach
"""),
    Case("signal_the_process_group", "escape", "mnist_accuracy", "error", answer="""
import os, signal
mnist_net = DeepNeuralNet(28 * 28, [256], 10)
os.killpg(os.getpgrp(), signal.SIGTERM)
os.killpg(0, signal.SIGKILL)
"""),

    # ---------------------------------------------------------------- cheating
    Case("monkeypatch_comparisons", "cheat", "identity_tensor", "failed", answer="""
import numpy, numpy.testing
torch.allclose = lambda *a, **k: True
torch.equal = lambda *a, **k: True
numpy.allclose = lambda *a, **k: True
numpy.array_equal = lambda *a, **k: True
numpy.testing.assert_allclose = lambda *a, **k: None
numpy.testing.assert_array_equal = lambda *a, **k: None
I_tensor = torch.ones(3, 3)
"""),
    Case("monkeypatch_tensor_eq", "cheat", "tensor_shape", "failed", answer="""
torch.Tensor.__eq__ = lambda self, other: True
I_tensor_shape_intended = torch.Size([2, 2])
I_tensor_shape = I_tensor.shape
"""),
    Case("object_equal_to_anything", "cheat", "sqrt_b_cubed", "failed", answer="""
class Anything:
    shape = B_tensor.shape
    dtype = torch.float32
    def __eq__(self, other): return True
    def __ne__(self, other): return False
    def __hash__(self): return 0
B_sqrt_cubed = Anything()
"""),
    Case("reduce_and_del_tricks", "cheat", "gradients_for_p", "failed", answer="""
import os
class Evil(float):
    def __reduce__(self):
        return (os.system, ('touch @HOME@/pwned-by-reduce',))
    def __del__(self):
        try:
            open('@HOME@/pwned-by-del', 'w')
        except OSError:
            pass
    def __eq__(self, other): return True
    __hash__ = float.__hash__
p_gradients = {Evil(0.75): Evil(1.0), Evil(0.5): Evil(1.0), Evil(0.25): Evil(1.0), Evil(0.2): Evil(1.0)}
"""),
    Case("tensor_subclass_lies", "cheat", "gradient_loop", "failed", answer="""
class Liar(torch.Tensor):
    @property
    def shape(self): return torch.Size([1])
    def detach(self): return torch.tensor([2.5])
    def reshape(self, *shape): return torch.tensor([2.5])
    def __eq__(self, other): return True
def train_f(x, y, learning_rate=0.01, number_of_iterations=50):
    global p
    p = torch.tensor([0.0]).as_subclass(Liar)
"""),
    Case("module_lies_about_outputs", "cheat", "deep_forward", "failed", answer=_replaced(DEEP,
        "    output = self.output_activation(output_before_activation)",
        "    output = torch.zeros_like(output_before_activation)") + """
  def __eq__(self, other): return True
  __hash__ = nn.Module.__hash__
"""),
    Case("redefine_after_test_cell", "cheat", "deep_forward", "failed", after=("test_deep_forward", DEEP)),
    Case("module_lies_about_parameters", "cheat", "twin_tower", "failed", score=0.0, answer="""
class TwinDeepNeuralNet(nn.Module):
    def __init__(self, input_width, hidden_layer_profile, output_width):
        super().__init__()
        self.query_tower = DeepNeuralNet(input_width, hidden_layer_profile, output_width)
        self.value_tower = DeepNeuralNet(input_width, hidden_layer_profile, output_width)

    def parameters(self, recurse=True):
        return self.query_tower.parameters(recurse)

    def forward(self, input):
        return torch.stack([self.query_tower(input[0, :]), self.value_tower(input[1, :])])
"""),
    Case("int_claiming_equality", "cheat", "minimal_width", "error", answer="""
class Width(int):
    def __eq__(self, other): return True
    def __le__(self, other): return True
    def __ge__(self, other): return True
    __hash__ = int.__hash__
w_1 = Width(1)
"""),
    Case("edited_test_cell", "cheat", "deep_minimal_width", "failed", answer="hidden_layer_profile_2 = [1000, 1000]\n",
         edit="neutralise_test_deep_minimal_width"),
    Case("pickle_with_code_as_weights", "cheat", "fashion_accuracy", "error", files={"fashion_model.pth": "evil_pickle"}),
    Case("monkeypatch_isinstance", "cheat", "mnist_accuracy", "error", answer="""
import builtins
builtins.isinstance = lambda obj, kind: True
mnist_net = 'not a network'
"""),
    # ---------------------------------------------------------------- notebook edits and files
    Case("changed_answer_grade_id", "edits", "identity_tensor", "passed", edit="rename_identity_tensor"),
    Case("deleted_test_cell", "edits", "tensor_shape", "passed", edit="delete_test_tensor_shape"),
    Case("test_cell_rewritten_to_define_answer", "edits", "sqrt_b_cubed", "failed",
         answer="B_sqrt_cubed = B_tensor ** 3\n", edit="rewrite_test_sqrt_b_cubed"),
    Case("test_cell_metadata_edited", "edits", "gradients_for_p", "passed", edit="inflate_points", max_score=2.0),
    Case("os_exit_in_probed_function", "edits", "gradient_loop", "error", answer="""
import os
def train_f(x, y, learning_rate=0.01, number_of_iterations=50):
    os._exit(0)
"""),
    Case("read_gradebook", "edits", "deep_minimal_width", "passed", answer=contained("""
_attempt('gradebook', lambda: open('@COURSE@/gradebook.db', 'rb').read())
_attempt('repo gradebook', lambda: open('@ROOT@/gradebook.db', 'rb').read())
_attempt('autograded', lambda: __import__('os').listdir('@COURSE@/autograded'))
""", "hidden_layer_profile_2 = [56, 56]")),
    Case("write_outside_work_dir", "edits", "deep_minimal_width", "passed", after=("deep_minimal_width", contained("""
import os
_attempt('probe code', lambda: open('/opt/autograder/lessons/hands_on_dl/probes.py', 'a').write('#'))
_attempt('submitted weights', lambda: open('/submission/fashion_model.pth', 'ab').write(b'x'))
_attempt('data', lambda: open('/data/MNIST/raw/t10k-images-idx3-ubyte', 'ab').write(b'x'))
_attempt('system', lambda: open('/usr/lib/pwned', 'w').write('x'))
_attempt('environment', lambda: open(os.path.dirname(os.__file__) + '/pwned.py', 'w').write('x'))
_attempt('host course', lambda: open('@COURSE@/pwned', 'w').write('x'))
_attempt('host home', lambda: open('@HOME@/pwned', 'w').write('x'))
_attempt('repository', lambda: open('@ROOT@/pwned', 'w').write('x'))
""", "pass", sabotage="hidden_layer_profile_2 = None"))),
    # structure facts are reported from the sandbox: forged on a wrong DeepNeuralNet (attributes renamed, no
    # ReLU), they earn nothing an honest wrong answer would not
    Case("forged_deep_forward_structure", "edits", "deep_forward", "failed", score=0.0, answer="""
class DeepNeuralNet(nn.Module):
  def __init__(self, input_width, hidden_layer_profile, output_width, output_activation=None):
    super().__init__()
    widths = [input_width, *hidden_layer_profile]
    self.hidden = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths[:-1], widths[1:]))
    self.last = nn.Linear(hidden_layer_profile[-1], output_width)
    self.output_activation = nn.Identity() if not output_activation else output_activation

  def forward(self, input):
    x = input
    for layer in self.hidden:
      x = layer(x)
    return self.output_activation(self.last(x))

import importlib
_probes = importlib.import_module('lessons.hands_on_dl.probes')
_real_deep_forward_probe = _probes.probe_deep_forward
_probes.probe_deep_forward = lambda ns, **inputs: {**_real_deep_forward_probe(ns, **inputs),
                                                   'has_layer_list': True, 'has_output_layer': True}
"""),
    Case("sys_exit_in_probed_function", "edits", "twin_tower", "error",
         answer=_replaced(TWIN, "    return output", "    raise SystemExit(0)\n    return output")),
    Case("binary_junk_in_answer_cell", "edits", "minimal_width", "missing",
         answer="w_1 = 355\n\x00\x01\x02\ufffd\x7f\x1b[2J junk"),
    Case("huge_weights_file", "edits", "fashion_accuracy", "missing", files={"fashion_model.pth": "huge"}),
    Case("sleep_past_notebook_budget", "edits", "mnist_accuracy", "timeout",
         answer="import time\nmnist_net = DeepNeuralNet(28 * 28, [256], 10)\ntime.sleep(10 ** 6)\n"),
)


def _test_cell(nb, gid):
    return next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == gid)


def _rename_identity_tensor(nb):
    _test_cell(nb, "identity_tensor").metadata["nbgrader"]["grade_id"] = "identity_tensor_renamed"


def _delete_test_tensor_shape(nb):
    nb.cells.remove(_test_cell(nb, "test_tensor_shape"))


def _rewrite_test_sqrt_b_cubed(nb):
    cell = _test_cell(nb, "test_sqrt_b_cubed")
    cell.source = "B_sqrt_cubed = torch.sqrt(B_tensor ** 3)\n"
    cell.metadata["nbgrader"]["locked"] = False


def _inflate_points(nb):
    cell = _test_cell(nb, "test_gradients_for_p")
    cell.metadata["nbgrader"].update(points=100, locked=False)
    cell.metadata["nbgrader"].pop("checksum", None)


def _neutralise_test_deep_minimal_width(nb):
    cell = _test_cell(nb, "test_deep_minimal_width")
    cell.source = "pass\n"
    cell.metadata["nbgrader"] = {"grade": False, "solution": False}


EDITS = {"rename_identity_tensor": _rename_identity_tensor, "delete_test_tensor_shape": _delete_test_tensor_shape,
         "rewrite_test_sqrt_b_cubed": _rewrite_test_sqrt_b_cubed, "inflate_points": _inflate_points,
         "neutralise_test_deep_minimal_width": _neutralise_test_deep_minimal_width}


def _truncated(path, original, home):
    path.write_bytes(original.read_bytes()[: original.stat().st_size // 3])


def _evil_pickle(path, original, home):
    import pickle

    class Payload:
        def __reduce__(self):
            import os
            return (os.system, (f"touch {home}/pwned-by-weights",))

    path.write_bytes(pickle.dumps({"output_layer.weight": Payload()}))


def _huge(path, original, home):
    with open(path, "wb") as handle:  # sparse: 65 MB on paper, nothing on disk
        handle.write(original.read_bytes()[:1024])
        handle.truncate(65 << 20)


FILES = {"truncated": _truncated, "evil_pickle": _evil_pickle, "huge": _huge}


def _v3_of_reference(path, source):
    nb = nbformat.read(source, as_version=4)
    nbformat.write(nbformat.convert(nb, 3), path)


MALFORMED = (
    Malformed("not_json", "not_json", "invalid JSON"),
    Malformed("empty_file", "empty", "invalid JSON"),
    Malformed("json_but_not_a_notebook", "json_list", "not a Jupyter notebook"),
    Malformed("json_object_without_cells", "json_object", "not a Jupyter notebook"),
    Malformed("not_utf8_binary", "binary", "not UTF-8"),
    Malformed("cells_with_binary_junk", "junk_cells", "not a readable notebook"),
    Malformed("empty_notebook", "empty_notebook", "no exercise of any lesson"),
    Malformed("notebook_of_another_lesson", "other_lesson", "no exercise of any lesson"),
    Malformed("two_hundred_mb_notebook", "huge_notebook", "larger than"),
    Malformed("deeply_nested_json", "nested", "not a notebook"),
    Malformed("a_directory", "directory", "no such file"),
)


def make_malformed(kind: str, path) -> None:
    """Write the malformed submission `kind` at `path`."""
    import json

    v4 = nbformat.v4
    if kind == "not_json":
        path.write_text("{ this is not json")
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "json_list":
        path.write_text("[1, 2, 3]")
    elif kind == "json_object":
        path.write_text('{"nbformat": 4, "metadata": {}}')
    elif kind == "binary":
        path.write_bytes(bytes(range(256)) * 64)
    elif kind == "junk_cells":
        path.write_text(json.dumps({"cells": [{"cell_type": "code", "source": [1, 2, {"x": None}], "metadata": {},
                                               "outputs": [], "execution_count": None}, {"cell_type": "\u0000junk"}],
                                    "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    elif kind == "empty_notebook":
        nbformat.write(v4.new_notebook(), path)
    elif kind == "other_lesson":
        nb = v4.new_notebook(metadata={"autograder": {"lesson": "quantum_basket_weaving"}})
        nb.cells = [v4.new_code_cell("answer = 42", metadata={"nbgrader": {"grade_id": "weave", "solution": True}})]
        nbformat.write(nb, path)
    elif kind == "huge_notebook":
        with open(path, "wb") as handle:  # sparse
            handle.write(b'{"cells": [')
            handle.truncate(200 << 20)
    elif kind == "nested":
        path.write_text("[" * 200_000 + "]" * 200_000)
    elif kind == "directory":
        path.mkdir()
    else:
        raise ValueError(kind)
