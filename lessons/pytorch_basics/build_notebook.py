"""Write source/pytorch_basics/pytorch_basics.ipynb (the instructor notebook) from the cells below.

Run from the repository root: .venv/bin/python lessons/pytorch_basics/build_notebook.py
The answer cells mirror solutions/pytorch_basics.py; keep the two in sync."""
from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

OUT = Path(__file__).resolve().parents[2] / "source" / "pytorch_basics" / "pytorch_basics.ipynb"
CELLS = []
STAND_INS = set()  # grade_ids of the stand-in cells


def md(text: str) -> None:
    CELLS.append(new_markdown_cell(text.strip("\n")))


def code(text: str, skip: bool = False) -> None:
    cell = new_code_cell(text.strip("\n"))
    if skip:
        cell.metadata["tags"] = ["skip-grading"]
    CELLS.append(cell)


def answer(grade_id: str, text: str) -> None:
    cell = new_code_cell(text.strip("\n"))
    cell.metadata["nbgrader"] = {"grade": False, "grade_id": grade_id, "locked": False, "schema_version": 3,
                                 "solution": True, "task": False}
    CELLS.append(cell)


def stand_in(grade_id: str, text: str) -> None:
    """A read-only cell the grader runs in place of the skipped cell before it: it defines that cell's names that
    answers may use, from what the sandbox has; where the skipped cell ran, it changes nothing. Its id is not a
    position, so the cells after it keep theirs."""
    cell = new_code_cell(text.strip("\n"))
    cell.metadata["nbgrader"] = {"grade": False, "grade_id": grade_id, "locked": True, "schema_version": 3,
                                 "solution": False, "task": False}
    cell["id"] = grade_id.replace("_", "-")
    STAND_INS.add(grade_id)
    CELLS.append(cell)


def check(grade_id: str, points: int, text: str) -> None:
    cell = new_code_cell("# Public sanity checks: run this cell to check the form of your answer.\n" + text.strip("\n"))
    cell.metadata["nbgrader"] = {"grade": True, "grade_id": f"test_{grade_id}", "locked": True, "points": points,
                                 "schema_version": 3, "solution": False, "task": False}
    CELLS.append(cell)


md("""
# Building and training neural networks with PyTorch

*After the tutorial on Topic 1 of the Machine Learning in Mathematics & Theoretical Physics Summer School
(Oxford, 2023).*

Below we build and train neural networks with PyTorch, and go into a little more detail on some basic aspects of
machine learning. Each **Exercise** has an answer cell (replace the placeholder) followed by a cell of public
sanity checks. Your answers are graded on other, hidden inputs than the ones shown here.
""")
code("""
import os

import torch
import torchvision
from torch import nn
from torch.utils.data import DataLoader
from torchvision import datasets
from torchvision.transforms import ToTensor

import matplotlib.pyplot as plt
import numpy as np

# the MNIST data are read from DATA_ROOT (never downloaded): set AUTOGRADER_DATA to the directory
# that holds MNIST/raw, or put that directory next to this notebook as `data`
DATA_ROOT = os.environ.get("AUTOGRADER_DATA", "data")
""")
md("""
One of the most straightforward ways to build a neural network in PyTorch is `nn.Sequential`. The easiest way to
understand it is an example:
""")
code("""
ex_seq_model = nn.Sequential(
     nn.Linear(3, 2)
    ,nn.ReLU()
    ,nn.Linear(2, 3)
    ,nn.Sigmoid()
)

ex_seq_model
""")
md("""
We pass `nn.Sequential` a series of operations:
1. a 'linear map' `nn.Linear(3, 2)` (from $\\mathbb{R}^3$ to $\\mathbb{R}^2$),
2. a ReLU activation function `nn.ReLU()`,
3. a 'linear map' `nn.Linear(2, 3)` (from $\\mathbb{R}^2$ to $\\mathbb{R}^3$),
4. a sigmoid activation function `nn.Sigmoid()`.

Together they constitute a neural network. For other operations see the PyTorch
[documentation](https://pytorch.org/docs/stable/nn.html).

**Exercise (ex_seq_model_layers).** How many layers (of nodes: input, hidden and output) does `ex_seq_model` have?
How many of them are hidden layers? How many nodes are in each layer? Give the two counts as whole numbers and the
node counts as a list, from the input layer to the output layer.
""")
answer("ex_seq_model_layers", """
# ex_seq_model_layers = {"layers": ..., "hidden_layers": ..., "nodes_per_layer": [...]}
### BEGIN SOLUTION
ex_seq_model_layers = {"layers": 3, "hidden_layers": 1, "nodes_per_layer": [3, 2, 3]}
### END SOLUTION
""")
check("ex_seq_model_layers", 3, """
assert isinstance(ex_seq_model_layers, dict), "ex_seq_model_layers should be a dict"
assert set(ex_seq_model_layers) == {"layers", "hidden_layers", "nodes_per_layer"}, "keep the three keys given"
assert len(ex_seq_model_layers["nodes_per_layer"]) == ex_seq_model_layers["layers"], "one node count per layer"
""")
md("""
**Exercise (ex_seq_model_2).** The following call of `nn.Sequential` has two problems: one technical, and one
conceptual. Fix the code so that it defines a sensible neural network that still takes 4 inputs, gives 1 output and
ends with a sigmoid. (PyTorch won't complain when you build it: pass it a tensor to find the technical problem.)

```python
ex_seq_model_2 = nn.Sequential(
     nn.Linear(4, 3)
    ,nn.Linear(2, 1)
    ,nn.Sigmoid()
)
```
""")
answer("ex_seq_model_2", """
# FIX THIS CODE:
# ex_seq_model_2 = nn.Sequential(
#      nn.Linear(4, 3)
#     ,nn.Linear(2, 1)
#     ,nn.Sigmoid()
# )
### BEGIN SOLUTION
ex_seq_model_2 = nn.Sequential(
     nn.Linear(4, 3)
    ,nn.ReLU()
    ,nn.Linear(3, 1)
    ,nn.Sigmoid()
)
### END SOLUTION
ex_seq_model_2
""")
check("ex_seq_model_2", 3, """
assert isinstance(ex_seq_model_2, nn.Module), "ex_seq_model_2 should be an nn.Sequential"
with torch.no_grad():
    _out = ex_seq_model_2(torch.rand(5, 4))
assert _out.shape == (5, 1), "ex_seq_model_2 should map 4 inputs to 1 output"
""")
md("""
### Aside: bias

By default `nn.Linear(n, m)` includes a bias term: it acts as
$\\mathbb{R}^n \\to \\mathbb{R}^m :~ \\vec{v} \\mapsto W \\vec{v} + \\vec{b}$ (an affine map, though usually
called 'linear'). Note the distinct use of 'bias' for a model too simple to fit the data; a model that overfits
has a large 'variance'.

## Initialisation

The weights $W$ and biases $\\vec{b}$ of the linear layers have been initialised randomly. To pass an input to the
network it must be a `torch.Tensor` with floating-point entries: `torch.tensor(...)` of a list of `int`s gives an
integer tensor, which `nn.Linear` refuses.

**Exercise (input_tensor).** Write `to_input_tensor(values)` that turns a list (possibly of `int`s, possibly nested)
into a tensor with `float32` entries and the same values and shape.
""")
answer("input_tensor", """
def to_input_tensor(values):
    ### BEGIN SOLUTION
    return torch.tensor(values, dtype=torch.float32)
    ### END SOLUTION
""")
check("input_tensor", 2, """
_t = to_input_tensor([1, 2, 3])
assert isinstance(_t, torch.Tensor), "to_input_tensor should return a torch.Tensor"
assert _t.dtype == torch.float32, "to_input_tensor should give float32 entries"
ex_tensor = to_input_tensor([1, 2, 3])
print(type(ex_tensor), ex_seq_model(ex_tensor))
""")
md("""
We can pick out individual operations of a sequential model with `ex_seq_model[i]`.

**Exercise (first_two_operations).** Write `first_two_operations(model, x)` that passes the tensor `x` through the
first two operations of the sequential `model` (whatever they are) and returns the result.
""")
answer("first_two_operations", """
def first_two_operations(model, x):
    ### BEGIN SOLUTION
    return model[1](model[0](x))
    ### END SOLUTION
""")
check("first_two_operations", 2, """
_out = first_two_operations(ex_seq_model, to_input_tensor([1, -2, 3]))
assert isinstance(_out, torch.Tensor) and _out.shape == (2,), "the first two operations of ex_seq_model give 2 numbers"
assert bool((_out >= 0).all()), "after a ReLU nothing is negative"
""")
md("""
# Training a model

## Interlude: supervised vs. unsupervised learning, classification vs. regression

In supervised learning we have data whose outputs ('labels') are known and train a model to give the correct
outputs for unseen inputs. In unsupervised learning a model learns patterns in unlabelled data.

**Exercise (learning_types).** For each task, is it a natural task for `"supervised"` or `"unsupervised"` learning?
- Image classification (e.g. classifying images of distracted vs. attentive drivers)
- Clustering (e.g. determining if a customer-base naturally decomposes into distinct groups)
- Language translation (e.g. translating between English and French)
- Dimensionality reduction (e.g. compressing an image by replacing the colour of each pixel by the closest of a
  small set of colours)
- Anomaly / outlier detection (e.g. flagging manufactured items with unusual results during quality control tests)
""")
answer("learning_types", """
# each value: "supervised" or "unsupervised"
### BEGIN SOLUTION
learning_types = {
    "image classification": "supervised",
    "clustering": "unsupervised",
    "language translation": "supervised",
    "dimensionality reduction": "unsupervised",
    "anomaly detection": "unsupervised",
}
### END SOLUTION
""")
check("learning_types", 5, """
assert isinstance(learning_types, dict), "learning_types should be a dict"
assert set(learning_types) == {"image classification", "clustering", "language translation",
                               "dimensionality reduction", "anomaly detection"}, "keep the five tasks as keys"
assert all(v in ("supervised", "unsupervised") for v in learning_types.values()), "answer 'supervised' or 'unsupervised'"
""")
md("""
Within supervised learning, in 'classification' tasks the outputs take values in a discrete set; in 'regression'
tasks they take continuous values.

**Exercise (task_types).** For each task, is it a natural `"classification"` or `"regression"` task?
- Time series forecasting (e.g. predicting the future behaviour of the stock market based on its past behaviour)
- Sentiment analysis (e.g. telling whether a product review is essentially positive or negative)
- Housing price prediction (e.g. based on the number of rooms, the postcode, etc.)
""")
answer("task_types", """
# each value: "classification" or "regression"
### BEGIN SOLUTION
task_types = {
    "time series forecasting": "regression",
    "sentiment analysis": "classification",
    "housing price prediction": "regression",
}
### END SOLUTION
""")
check("task_types", 3, """
assert isinstance(task_types, dict), "task_types should be a dict"
assert set(task_types) == {"time series forecasting", "sentiment analysis", "housing price prediction"}, \\
    "keep the three tasks as keys"
assert all(v in ("classification", "regression") for v in task_types.values()), "answer 'classification' or 'regression'"
""")
md("""
To represent categorical outputs we use 'one-hot' encoding: the first category is $[1,0,0,\\ldots]$, the second
$[0,1,0,\\ldots]$, and so on. Below we train a network to recognise handwritten digits (0-9) in greyscale
$28 \\times 28$ pixel images: the input is the list of pixel intensities of the image, unrolled into one
dimension, and the output the list of scores of the 10 digits. An image is a tensor of shape
[channels, height, width]: a greyscale MNIST image has shape `[1, 28, 28]`.

**Exercise (mnist_sizes).** How many nodes do we need in the input layer, and how many in the output layer? What
would the shape of the tensor of one image be if the images were in colour (RGB) instead?
""")
answer("mnist_sizes", """
# mnist_sizes = {"input_nodes": ..., "output_nodes": ..., "colour_image_shape": [...]}
### BEGIN SOLUTION
mnist_sizes = {"input_nodes": 784, "output_nodes": 10, "colour_image_shape": [3, 28, 28]}
### END SOLUTION
""")
check("mnist_sizes", 3, """
assert isinstance(mnist_sizes, dict), "mnist_sizes should be a dict"
assert set(mnist_sizes) == {"input_nodes", "output_nodes", "colour_image_shape"}, "keep the three keys given"
assert len(mnist_sizes["colour_image_shape"]) == 3, "an image tensor has 3 dimensions: channels, height, width"
""")
md("""
## Training set, validation set, loss and metric

We train on a 'training set' of known input-output pairs, measuring the difference between outputs and labels with
a 'loss function' and decreasing it by gradient descent. A model too flexible for the data overfits (high variance);
one not flexible enough underfits (high bias). We measure performance on a separate 'validation set', and report an
intuitive 'metric' such as the accuracy alongside the loss.

# Training neural networks with PyTorch

## Telling PyTorch to use the GPU

The following cell picks a GPU if one is available. By default tensors and networks live on the CPU; `.to(device)`
moves a tensor, or all the weight and bias tensors of a network, to `device`. The network and the tensors passed to
it must be on the same device.
""")
code("""
device = (
    "cuda"
    if torch.cuda.is_available()
    else "mps"
    if torch.backends.mps.is_available()
    else "cpu"
)
print(f"Using {device} device")

for n, p in ex_seq_model.named_parameters():
    print(p.device, " ", n)
""")
md("""
**Exercise (model_device).** Write `move_to_device(model, device)`, which moves the network `model` to `device`
(a name such as `"cuda"` or a `torch.device`) and returns it, and `model_device(model)`, which returns the device
the parameters of `model` live on (read from its parameters). Then move `ex_seq_model` to `device` and check it.
(The grader runs on a CPU: it checks the logic on other devices than the one you have.)
""")
answer("model_device", """
def move_to_device(model, device):
    ### BEGIN SOLUTION
    return model.to(device)
    ### END SOLUTION


def model_device(model):
    ### BEGIN SOLUTION
    return next(model.parameters()).device
    ### END SOLUTION
""")
check("model_device", 2, """
ex_seq_model = move_to_device(ex_seq_model, device)
assert isinstance(ex_seq_model, nn.Module), "move_to_device should return the model"
assert str(torch.device(model_device(ex_seq_model))).startswith(device), "ex_seq_model should now be on `device`"
""")
md("""
## Mini-batches, epochs, shuffling, dataloaders and optimizers

We split the training set into mini-batches, take a gradient step per batch, and go through all batches once per
epoch, shuffling at the start of each epoch. `DataLoader` does the batching and shuffling; `torch.optim.Adam` is the
optimizer. Below are a training loop and a validation loop.
""")
code("""
def train_loop(dataloader, model, loss_fn, optimizer):
    size = len(dataloader.dataset)
    model.train()
    for batch, (X, y) in enumerate(dataloader):
        X, y = X.to(device), y.to(device)

        pred = model(X)
        loss = loss_fn(pred, y)

        loss.backward()
        optimizer.step()
        optimizer.zero_grad()

        if batch % 100 == 0:
            loss, current = loss.item(), (batch + 1) * len(X)
            print(f"loss: {loss:>7f}  [{current:>5d}/{size:>5d}]")


def validation_loop(dataloader, model, loss_fn):
    size = len(dataloader.dataset)
    num_batches = len(dataloader)
    model.eval()
    validation_loss, correct = 0, 0
    with torch.no_grad():
        for X, y in dataloader:
            X, y = X.to(device), y.to(device)
            pred = model(X)
            validation_loss += loss_fn(pred, y).item()
            correct += (pred.argmax(1) == y).type(torch.float).sum().item()
    validation_loss /= num_batches
    correct /= size
    print(f"Validation Error: \\n Accuracy: {(100*correct):>0.1f}%, Avg loss: {validation_loss:>8f} \\n")
""")
md("""
# Example: building and training an image classifier

We read the MNIST database of handwritten digits (from `DATA_ROOT`, never downloaded) and batch it.
""")
code("""
train_set = datasets.MNIST(root=DATA_ROOT, train=True, download=False, transform=ToTensor())
validation_set = datasets.MNIST(root=DATA_ROOT, train=False, download=False, transform=ToTensor())

image, label = train_set[0]
print(image.shape, train_set.classes)
plt.imshow(image.squeeze(), cmap='gray');

BATCH_SIZE = 64
train_dataloader = DataLoader(train_set, batch_size=BATCH_SIZE, shuffle=True)
validation_dataloader = DataLoader(validation_set, batch_size=BATCH_SIZE, shuffle=True)
""", skip=True)
stand_in("mnist_data_at_grading", """
# The grader skips the cell above (it keeps the labels of the images it tests with) and runs this one instead: it
# defines the same names from the files the grader has, so your answers may use them. Where the cell above ran,
# this cell does nothing.
if "train_set" not in globals():
    class MNIST(datasets.MNIST):
        def _check_exists(self):  # torchvision looks for all four MNIST files; the grader has three
            return True

        def _load_data(self):
            if self.train:
                return super()._load_data()
            images = datasets.mnist.read_image_file(os.path.join(self.raw_folder, "t10k-images-idx3-ubyte"))
            return images, torch.full((len(images),), -1)  # no validation labels at grading

    train_set = MNIST(root=DATA_ROOT, train=True, download=False, transform=ToTensor())
    validation_set = MNIST(root=DATA_ROOT, train=False, download=False, transform=ToTensor())
    image, label = train_set[0]
    BATCH_SIZE = 64
    train_dataloader = DataLoader(train_set, batch_size=BATCH_SIZE, shuffle=True)
    validation_dataloader = DataLoader(validation_set, batch_size=BATCH_SIZE, shuffle=True)
""")
md("""
The input of the network is the list of pixel intensities of an image: the two-dimensional grid is 'unrolled' into
one dimension.

**Exercise (flatten_images).** Write `flatten_images(images)` that takes a batch of images, a tensor of shape
`[N, C, H, W]`, and returns a tensor of shape `[N, C*H*W]`: one row per image holding its pixels in order (as
`nn.Flatten(start_dim=1)` does). It must work for any number of images (one too), channels and sizes.
""")
answer("flatten_images", """
def flatten_images(images):
    ### BEGIN SOLUTION
    return images.reshape(images.shape[0], -1)
    ### END SOLUTION
""")
check("flatten_images", 2, """
_flat = flatten_images(torch.rand(5, 1, 28, 28))
assert isinstance(_flat, torch.Tensor) and _flat.shape == (5, 784), "5 images of 1x28x28 pixels give shape [5, 784]"
""")
md("""
While the input and output layers are fixed by the problem, the number of nodes in the hidden layer is ours to
choose. Would it make sense for the hidden layer to have more nodes than the input layer? Fewer nodes than the
output layer?

**Exercise (num_hidden).** Choose a sensible number `num_hidden` of nodes in the hidden layer.
""")
answer("num_hidden", """
num_in = 28 * 28   # image.numel()
num_out = 10       # len(train_set.classes)

# num_hidden = ...
### BEGIN SOLUTION
num_hidden = 128
### END SOLUTION
""")
check("num_hidden", 2, """
assert isinstance(num_hidden, int), "num_hidden should be an int"
""")
md("""
**Exercise (seq_model).** Complete `seq_model`: a network with three layers, with respectively `num_in`,
`num_hidden` and `num_out` nodes, and a ReLU activation function at the hidden layer. The first operation,
`nn.Flatten(start_dim=1)`, unrolls each image. There is no activation after the last layer (the cross-entropy loss
below includes the softmax): the last operation is linear.
""")
answer("seq_model", """
# seq_model = nn.Sequential(
#      nn.Flatten(start_dim=1)  # flattens each input (but leaves the 0th index unflattened)
#     ,...
# )
### BEGIN SOLUTION
seq_model = nn.Sequential(
     nn.Flatten(start_dim=1)
    ,nn.Linear(num_in, num_hidden)
    ,nn.ReLU()
    ,nn.Linear(num_hidden, num_out)
)
### END SOLUTION
seq_model
""")
check("seq_model", 4, """
with torch.no_grad():
    _out = seq_model(torch.rand(2, 1, 28, 28))
assert _out.shape == (2, 10), "seq_model should map a batch of 1x28x28 images to 10 class scores each"
""")
md("""
Next we set up gradient descent (Adam) and the cross-entropy loss, and train. The training cell is not run by the
grader: it saves the trained weights to `seq_model.pth`, which you submit beside this notebook.
""")
md("""
**Exercise (seq_model_accuracy).** Choose the learning rate of the Adam optimizer and the number of epochs (passes
through the training set), run the training cell, and submit the saved `seq_model.pth`. For a sensible choice of
`num_hidden` the accuracy on the validation set should be above 95%. The grader loads your `seq_model.pth` into
`seq_model` and measures its accuracy on held-out test images (at least 0.95 is needed). If your model isn't
performing well, go back and change `num_hidden`, or fix the architecture, then train and save again.
""")
answer("seq_model_accuracy", """
# learning_rate = ...
# epochs = ...
### BEGIN SOLUTION
learning_rate = 1e-3
epochs = 3
### END SOLUTION
optimizer = torch.optim.Adam(seq_model.parameters(), lr=learning_rate)
loss_fn = nn.CrossEntropyLoss()
""")
code("""
torch.set_num_threads(1)
seq_model = seq_model.to(device)
for t in range(epochs):
    print(f"Epoch {t+1}\\n-------------------------------")
    train_loop(train_dataloader, seq_model, loss_fn, optimizer)
    validation_loop(validation_dataloader, seq_model, loss_fn)
print("Done!")
torch.save(seq_model.to("cpu").state_dict(), "seq_model.pth")  # graded
""", skip=True)
check("seq_model_accuracy", 4, """
assert isinstance(seq_model, nn.Module), "seq_model should be the network you trained"
assert learning_rate > 0 and epochs >= 1, "choose a positive learning rate and at least one epoch"
""")
md("""
### Interpretability of an image classification network

By looking at which nodes of a layer a given input activates, we can see how each layer picks out features. See
[this video](https://youtu.be/aircAruvnKk) by 3Blue1Brown, or Figure 2 of [this paper](https://arxiv.org/abs/1311.2901).
""")


def main() -> None:
    nb = new_notebook(cells=CELLS, metadata={
        "autograder": {"lesson": "pytorch_basics"},
        "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
        "language_info": {"name": "python"}})
    index = 0
    for cell in nb.cells:  # stable ids: rebuilding gives the same notebook (a stand-in keeps its own id)
        if cell.metadata.get("nbgrader", {}).get("grade_id") not in STAND_INS:
            cell["id"] = f"pb{index:03d}"
            index += 1
    nbformat.validate(nb)
    nbformat.write(nb, OUT)
    print(f"wrote {OUT} ({len(nb.cells)} cells)")


if __name__ == "__main__":
    main()
