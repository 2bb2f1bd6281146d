"""Hidden graders for pytorch_basics: each test judges one property of one exercise's probe data.
Feedback says what kind of thing was expected, never the expected value or the hidden inputs."""
from __future__ import annotations

from autograder.judge import accuracy, as_int, values_close, exercise, expect, expect_tensor, forward_described, same_choice

from .operations import CannotRebuild, forward, is_affine



def _item(student: dict, name: str, key: str):
    expect(student.get("kind") == "dict", f"`{name}` should be a dict with the keys the notebook gives, not "
                                          f"{student.get('kind')}: copy the dict from the cell and fill in its values.")
    expect(key in student["items"] and student["items"][key] is not None,
           f"`{name}[{key!r}]` is missing or None: fill in that entry.")
    return student["items"][key]


def _count(student: dict, name: str, key: str) -> int:
    value = as_int(_item(student, name, key))
    expect(value is not None, f"`{name}[{key!r}]` should be a whole number (an int such as 4, or 4.0).")
    return value


def _counts(value, what: str) -> list[int]:
    expect(isinstance(value, list) and all(as_int(v) is not None for v in value),
           f"{what} should be a list of whole numbers, one per layer.")
    return [as_int(v) for v in value]


# ex_seq_model_layers: layers (input, hidden, output), hidden layers, nodes per layer of ex_seq_model

@exercise("ex_seq_model_layers")
def test_ex_seq_model_layers_layer_count(student):
    expect(_count(student, "ex_seq_model_layers", "layers") == 3,
           "`ex_seq_model_layers['layers']` is not the number of layers of nodes (input, hidden and output): count the "
           "layers of nodes in the drawing, not the nn.Linear maps.")


@exercise("ex_seq_model_layers")
def test_ex_seq_model_layers_hidden_count(student):
    expect(_count(student, "ex_seq_model_layers", "hidden_layers") == 1,
           "`ex_seq_model_layers['hidden_layers']` is not the number of layers between input and output (count node "
           "layers, not maps).")


@exercise("ex_seq_model_layers")
def test_ex_seq_model_layers_nodes(student):
    nodes = _counts(_item(student, "ex_seq_model_layers", "nodes_per_layer"), "`ex_seq_model_layers['nodes_per_layer']`")
    expect(nodes == [3, 2, 3], "`ex_seq_model_layers['nodes_per_layer']` does not list the nodes of each layer, "
                               "from input to output.")


# ex_seq_model_2: the cell asks to fix two problems (sizes that do not chain; two linear maps with nothing between
# them) so that the network is sensible, still takes 4 inputs, gives 1 output and ends with a sigmoid. It leaves the
# rest to the student: any standard torch.nn activation, more linear maps (each pair with an activation between)

def _structure(student: dict, name: str) -> list[dict]:
    expect(student.get("kind") == "module", f"`{name}` should be a torch.nn.Module (an nn.Sequential).")
    return student["structure"]


def _linear_positions(structure: list[dict]) -> list[int]:
    positions = [i for i, op in enumerate(structure) if op["type"] == "Linear"]
    expect(len(positions) >= 2, "`ex_seq_model_2` should keep a hidden layer: fix the two nn.Linear maps (and put "
                                "something between them) rather than removing one.")
    return positions


@exercise("ex_seq_model_2")
def test_ex_seq_model_2_sizes_chain(student):
    structure = _structure(student, "ex_seq_model_2")
    linears = [structure[i] for i in _linear_positions(structure)]
    expect(linears[0]["in"] == 4 and linears[-1]["out"] == 1,
           f"`ex_seq_model_2` should still take 4 inputs and give 1 output (it takes {linears[0]['in']} and gives "
           f"{linears[-1]['out']}): keep the first nn.Linear's in_features and the last one's out_features.")
    expect("error" not in student, "`ex_seq_model_2` raised an error on a batch of inputs with 4 features: the output "
                                   "size of each nn.Linear must equal the input size of the next (the technical "
                                   "problem).")


@exercise("ex_seq_model_2")
def test_ex_seq_model_2_nonlinear_between(student):
    structure = _structure(student, "ex_seq_model_2")
    positions = _linear_positions(structure)
    for first, second in zip(positions, positions[1:]):
        between = structure[first + 1:second]
        try:
            affine = is_affine(between, structure[first]["out"])
        except CannotRebuild:
            expect(False, "between two nn.Linear maps of `ex_seq_model_2` there is an operation the grader does not "
                          "know: use the activation functions of torch.nn (nn.ReLU, nn.Tanh, nn.PReLU, ...).")
        expect(not affine, "`ex_seq_model_2` has two linear maps in a row, which compose to one linear map: put an activation function between "
                           "each nn.Linear and the next (the conceptual problem).")
    expect(structure[-1]["type"] == "Sigmoid", "`ex_seq_model_2` should still end with nn.Sigmoid().")


@exercise("ex_seq_model_2")
def test_ex_seq_model_2_behaviour(student, hidden):
    structure = _structure(student, "ex_seq_model_2")
    expect("error" not in student, "`ex_seq_model_2` raised an error on a batch of inputs with 4 features.")
    try:
        expected = forward(structure, hidden["weight_seed"], hidden["inputs"])
    except (CannotRebuild, KeyError, TypeError):
        expect(False, f"`ex_seq_model_2` should use only nn.Linear and the activation functions of torch.nn (it "
                      f"uses {', '.join(op.get('type', '?') for op in structure)}): replace the others.")
    values = expect_tensor(student["output"], "the output of `ex_seq_model_2`", shape=list(expected.shape))
    expect(values_close(values, expected, rtol=1e-4, atol=1e-5),
           "`ex_seq_model_2` gives other outputs than its listed operations applied in order (tested with weights "
           "set by the grader): build it with nn.Sequential(...) only, without a custom forward.")


# input_tensor

@exercise("input_tensor", weight=2)
def test_input_tensor_floating(student, reference):
    for mine, theirs in zip(student["outputs"], reference["outputs"]):
        values = expect_tensor(mine, "the result of `to_input_tensor`", shape=theirs["shape"], floating=True)
        expect(mine["dtype"] == "float32", f"`to_input_tensor` gives {mine['dtype']} entries; nn.Linear "
                                           "expects float32: give the dtype when you build the tensor.")
        expect(values_close(values, theirs["values"], rtol=1e-6, atol=1e-6),
               "`to_input_tensor` changed the values it was given (rounded, scaled or reordered them): only "
               "convert their type.")


# flatten_images

@exercise("flatten_images")
def test_flatten_images_shape(student, reference):
    for mine, theirs in zip(student["outputs"], reference["outputs"]):
        expect_tensor(mine, "the result of `flatten_images`", shape=theirs["shape"])


@exercise("flatten_images")
def test_flatten_images_values(student, reference):
    for mine, theirs in zip(student["outputs"], reference["outputs"]):
        values = expect_tensor(mine, "the result of `flatten_images`", shape=theirs["shape"])
        expect(values_close(values, theirs["values"], rtol=0, atol=0),
               "`flatten_images` should keep each image's pixels in order, one row per image.")


# first_two_operations

@exercise("first_two_operations")
def test_first_two_operations_values(student, reference):
    for mine, theirs in zip(student["outputs"], reference["outputs"]):
        values = expect_tensor(mine, "the result of `first_two_operations`", shape=theirs["shape"], floating=True)
        expect(values_close(values, theirs["values"], rtol=1e-5, atol=1e-6),
               "`first_two_operations` should apply the model's own first operation, then its second (whatever "
               "they are), and nothing more.")


# model_device

def _ran(attempt: dict, name: str):
    """Return what a function returned in the probe, or fail with what went wrong when it raised."""
    expect(isinstance(attempt, dict), f"`{name}` could not be called.")
    expect("missing" not in attempt, attempt.get("missing", ""))
    if attempt.get("raised") == "NotImplementedError":
        expect(False, f"`{name}` is not answered yet: it still raises NotImplementedError.")
    expect("raised" not in attempt,
           f"`{name}` raised {attempt.get('raised')}: {attempt.get('message', '')}".rstrip(": ") + ".")
    return attempt.get("value")


@exercise("model_device")
def test_model_device_moves_parameters(student):
    for label in ("meta", "meta_device"):
        moved = _ran(student[label], "move_to_device")
        expect(moved["returned"] is not None,
               "`move_to_device` should return the model (an nn.Module): return the moved model.")
        expect(moved["returned"] == ["meta"],
               "`move_to_device` should put every parameter of the model on the device it is given "
               "(a device name or a torch.device).")


@exercise("model_device")
def test_model_device_reports_device(student):
    on_meta, on_cpu = _ran(student["reports_meta"], "model_device"), _ran(student["reports_cpu"], "model_device")
    expect(on_meta == "meta" and on_cpu == "cpu",
           "`model_device` should return the device of the model's parameters (a torch.device or its name), "
           "read from the parameters themselves.")


# learning_types / task_types: one choice per task

LEARNING = {"image classification": "supervised", "clustering": "unsupervised", "language translation": "supervised",
            "dimensionality reduction": "unsupervised", "anomaly detection": "unsupervised"}
PREDICTION = {"time series forecasting": "regression", "sentiment analysis": "classification",
              "housing price prediction": "regression"}


def _judge_choice(student: dict, name: str, task: str, truth: dict, options: tuple[str, str]) -> None:
    given = _item(student, name, task)
    expect(isinstance(given, str) and any(same_choice(given, o) for o in options),
           f"`{name}[{task!r}]` should be one of the strings {options[0]!r} or {options[1]!r}.")
    expect(same_choice(given, truth[task]), f"`{name}[{task!r}]` is not the natural kind of learning for that task.")


def _choice_test(name: str, task: str, truth: dict, options: tuple[str, str]):
    @exercise(name)
    def test(student):
        _judge_choice(student, name, task, truth, options)
    test.__name__ = f"test_{name}_{task.replace(' ', '_')}"
    return test


for _task in LEARNING:
    _test = _choice_test("learning_types", _task, LEARNING, ("supervised", "unsupervised"))
    globals()[_test.__name__] = _test
for _task in PREDICTION:
    _test = _choice_test("task_types", _task, PREDICTION, ("classification", "regression"))
    globals()[_test.__name__] = _test


# mnist_sizes

@exercise("mnist_sizes")
def test_mnist_sizes_input_nodes(student):
    expect(_count(student, "mnist_sizes", "input_nodes") == 784,
           "`mnist_sizes['input_nodes']` is not the number of pixel intensities of one image (height times width).")


@exercise("mnist_sizes")
def test_mnist_sizes_output_nodes(student):
    expect(_count(student, "mnist_sizes", "output_nodes") == 10,
           "`mnist_sizes['output_nodes']` is not the number of classes (one-hot entries).")


@exercise("mnist_sizes")
def test_mnist_sizes_colour_shape(student):
    shape = _counts(_item(student, "mnist_sizes", "colour_image_shape"), "`mnist_sizes['colour_image_shape']`")
    expect(shape == [3, 28, 28], "`mnist_sizes['colour_image_shape']` should be [channels, height, width] "
                                 "for an RGB image of the same size.")


# num_hidden

WHOLE_SIZES = ("`{name}` should be an int (a whole number such as 128; not a float such as 128.0 or num_in / 8): "
               "nn.Linear takes only whole-number sizes, so use // or int().")


@exercise("num_hidden")
def test_num_hidden_sensible(student):
    expect(as_int(student["num_in"]) == 784 and as_int(student["num_out"]) == 10,
           "`num_in` or `num_out` was changed: keep them as the notebook sets them, and choose only "
           "`num_hidden`.")
    hidden = as_int(student["num_hidden"])
    expect(hidden is not None, "`num_hidden` should be a whole number (an int).")
    expect(hidden >= 10, "`num_hidden` below the number of classes squeezes the information through a bottleneck.")
    expect(hidden <= 784, "`num_hidden` above the number of inputs adds parameters without need.")


@exercise("num_hidden")
def test_num_hidden_is_an_int(student):
    for name in ("num_in", "num_hidden", "num_out"):
        expect(student["whole"][name], WHOLE_SIZES.format(name=name))


# seq_model: Flatten, Linear(num_in, num_hidden), ReLU, Linear(num_hidden, num_out)

def _seq_model_structure(student: dict) -> list[dict]:
    """Return the structure of `seq_model`; when it could not be built because a size is not a whole number,
    fail naming that size (the cell's own error, from inside nn.Linear, does not)."""
    if student.get("kind") == "unbuilt":
        name = next((n for n in ("num_hidden", "num_in", "num_out") if not student["whole"][n]), "num_hidden")
        expect(False, f"`seq_model` could not be built: nn.Linear refused `{name}`, which is not an int "
                      "(a float such as num_in / 8 is not a size). Make it a whole number (use // or int()).")
    return _structure(student, "seq_model")


@exercise("seq_model")
def test_seq_model_layer_sizes(student):
    structure = _seq_model_structure(student)
    sizes = {name: as_int(student["sizes"][name]) for name in ("num_in", "num_hidden", "num_out")}
    linears = [(op["in"], op["out"]) for op in structure if op["type"] == "Linear"]
    expect(len(linears) == 2, f"`seq_model` should have two nn.Linear maps (three layers of nodes); it "
                                     f"has {len(linears)}.")
    expect(linears == [(sizes["num_in"], sizes["num_hidden"]), (sizes["num_hidden"], sizes["num_out"])],
           "`seq_model`'s nn.Linear maps should go from num_in to num_hidden nodes, then to num_out.")


@exercise("seq_model")
def test_seq_model_operations(student):
    kinds = [op["type"] for op in _seq_model_structure(student)]
    expect(kinds == ["Flatten", "Linear", "ReLU", "Linear"],
           f"`seq_model` should be: the given Flatten, a linear map, a ReLU, a linear map (the last operation "
           f"linear, no final activation); it is {', '.join(kinds)}.")


@exercise("seq_model")
def test_seq_model_behaviour(student, hidden):
    structure = _seq_model_structure(student)
    expect("error" not in student, "`seq_model` raised an error on a batch of 1x28x28 images: check the "
                                   "first nn.Linear's in_features against the flattened image size.")
    try:
        expected = forward_described(structure, hidden["weight_seed"], hidden["images"])
    except (ValueError, KeyError, IndexError):
        expect(False, "`seq_model` should use only nn.Flatten, nn.Linear and nn.ReLU.")
    values = expect_tensor(student["output"], "the output of `seq_model`", shape=list(expected.shape))
    expect(list(expected.shape)[1:] == [10], "`seq_model` should give 10 class scores per image.")
    expect(values_close(values, expected, rtol=1e-4, atol=1e-4),
           "`seq_model` gives other outputs than its listed operations applied in order (tested with weights set "
           "by the grader): build it with nn.Sequential(...) only, without a custom forward.")


# seq_model_accuracy: submitted weights, accuracy on held-out images

@exercise("seq_model_accuracy")
def test_seq_model_accuracy_reaches_threshold(student, held_out_labels, threshold):
    score = accuracy(student.get("predictions"), held_out_labels)
    expect(score >= threshold,
           f"`seq_model` with `seq_model.pth` reaches {score:.3f} accuracy on held-out test images; "
           f"{threshold} is needed (train longer or revisit num_hidden).")
