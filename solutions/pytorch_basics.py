"""Reference solutions of the lesson pytorch_basics (nn.Sequential, tensors, devices, an MNIST classifier):
the names the notebook's answer cells define."""
from __future__ import annotations

import torch
from torch import nn

ex_seq_model = nn.Sequential(nn.Linear(3, 2), nn.ReLU(), nn.Linear(2, 3), nn.Sigmoid())

# Q: how many layers, hidden layers, and nodes per layer has ex_seq_model?
ex_seq_model_layers = {"layers": 3, "hidden_layers": 1, "nodes_per_layer": [3, 2, 3]}

# Q: fix ex_seq_model_2 (technical: 3 outputs fed to a layer taking 2; conceptual: no activation between
# the linear maps, so the two collapse into one linear map)
ex_seq_model_2 = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 1), nn.Sigmoid())


def to_input_tensor(values) -> torch.Tensor:
    """Return `values` (a list, possibly of ints, or an array) as a float32 tensor the network accepts."""
    return torch.tensor(values, dtype=torch.float32)


def flatten_images(images: torch.Tensor) -> torch.Tensor:
    """Return a batch of images [N, C, H, W] unrolled to [N, C*H*W]."""
    return images.reshape(images.shape[0], -1)


def first_two_operations(model: nn.Sequential, x: torch.Tensor) -> torch.Tensor:
    """Return x passed through the first two operations of the sequential `model`."""
    return model[1](model[0](x))


def move_to_device(model: nn.Module, device) -> nn.Module:
    """Return `model` with all its parameters moved to `device`."""
    return model.to(device)


def model_device(model: nn.Module) -> torch.device:
    """Return the device the parameters of `model` live on."""
    return next(model.parameters()).device


# Q: which tasks are supervised / unsupervised; which are classification / regression?
learning_types = {"image classification": "supervised", "clustering": "unsupervised",
                  "language translation": "supervised", "dimensionality reduction": "unsupervised",
                  "anomaly detection": "unsupervised"}
task_types = {"time series forecasting": "regression", "sentiment analysis": "classification",
              "housing price prediction": "regression"}

# Q: input and output layer sizes for MNIST; shape of a colour 28x28 image tensor
mnist_sizes = {"input_nodes": 784, "output_nodes": 10, "colour_image_shape": [3, 28, 28]}

num_in = 784
num_out = 10
num_hidden = 128


def build_seq_model(num_in: int = num_in, num_hidden: int = num_hidden, num_out: int = num_out) -> nn.Sequential:
    """Return the three-layer MNIST classifier (Flatten, Linear, ReLU, Linear)."""
    return nn.Sequential(nn.Flatten(start_dim=1), nn.Linear(num_in, num_hidden), nn.ReLU(),
                         nn.Linear(num_hidden, num_out))


seq_model = build_seq_model()

learning_rate = 1e-3
epochs = 3
