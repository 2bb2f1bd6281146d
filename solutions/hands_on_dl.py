"""Reference solutions for the lesson ``hands_on_dl`` (Hands-On Deep Learning - Introduction Session).

This module is the reference the hidden graders compare student answers against. It mirrors the
answer cells of the instructor notebook ``source/hands_on_dl/hands_on_dl.ipynb`` and must stay in
sync with it: whenever an answer cell, the seeded Boolean-function data set or one of the graded
architectures changes there, change it here too (and vice versa).

Importing the module is cheap: it needs only ``torch`` (no torchvision, no data sets) and computes
nothing heavier than four scalar backward passes.
"""
from __future__ import annotations

import torch
import torch.nn as nn

__all__ = [
    "I", "I_tensor", "I_tensor_shape_intended", "I_tensor_shape",
    "B", "B_tensor", "B_sqrt_cubed",
    "p", "f", "x_for_gradients", "expected_output", "P_VALUES", "compute_p_gradients", "p_gradients",
    "train_f",
    "DeepNeuralNet", "TwinDeepNeuralNet",
    "make_binary_array", "BOOLEAN_FUNCTION_SEED", "boolean_function_dataset",
    "w_1", "w_1_training", "hidden_layer_profile_2", "w_2_training",
    "FASHION_PROFILE", "MNIST_PROFILE",
]

# ---------------------------------------------------------------- tensors
# identity_tensor
I = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]
I_tensor = torch.tensor(I)

# tensor_shape
I_tensor_shape_intended = torch.Size([3, 3])
I_tensor_shape = I_tensor.shape

# sqrt_b_cubed (B_tensor is the notebook's uniform B, an int64 tensor of shape [2, 2, 3])
B = [
    [[1, 2, 3], [4, 5, 6]],
    [[0, 0, 0], [1, 1, 1]],
]
B_tensor = torch.tensor(B)
B_sqrt_cubed = torch.sqrt(B_tensor ** 3)

# ---------------------------------------------------------------- differentiable programs
p = torch.tensor([1.0], requires_grad=True)


def f(x):
    """Return p * x, with p this module's global parameter (as in the notebook)."""
    global p
    return p * x


# gradients_for_p: gradient of (p * x - 1) ** 2 with respect to p at x = 5.2
x_for_gradients = 5.2
expected_output = torch.tensor([1.0])
P_VALUES = (0.75, 0.5, 0.25, 0.2)


def compute_p_gradients(x_value: float = x_for_gradients, p_values=P_VALUES) -> dict:
    """Return {p_value: d/dp (f(x) - 1) ** 2} as Python floats, computed with autograd as in the notebook.

    Like the notebook's answer cell, this rebinds the module-global ``p`` (it ends at the last p value).
    """
    global p
    x = torch.tensor([x_value], requires_grad=True)
    gradients = {}
    for p_value in p_values:
        p = torch.tensor([p_value], requires_grad=True)
        output = f(x)
        loss = (output - expected_output) ** 2
        loss.backward()
        gradients[p_value] = p.grad.item()
    return gradients


p_gradients = compute_p_gradients()


# gradient_loop
def train_f(x, y, learning_rate: float = 0.01, number_of_iterations: int = 50):
    """Fit this module's global p by plain gradient descent on the mean squared error of f(x) against y."""
    global p
    p = torch.rand(1, requires_grad=True)

    for iteration in range(1, number_of_iterations + 1):
        # perform a "forward pass" (apply f to x)
        output = f(x)

        # compute the loss
        loss = torch.sum((output - y) ** 2) / output.size(0)

        # compute the gradient of `loss` given p
        loss.backward()

        # subtract learning_rate*(gradient of p) from p
        with torch.no_grad():
            p -= learning_rate * p.grad

        # finally, erase the gradients for the next iteration
        p.grad.zero_()


# ---------------------------------------------------------------- neural networks
class DeepNeuralNet(nn.Module):
    """Deep ReLU network: Linear+ReLU per hidden width, then a Linear output layer and an optional activation."""

    def __init__(self, input_width, hidden_layer_profile, output_width, output_activation=None):
        super().__init__()
        self.layers = nn.ModuleList()

        # create the first hidden layer
        self.layers.append(nn.Linear(input_width, hidden_layer_profile[0]))
        self.layers.append(nn.ReLU())

        # create the internal hidden layers
        for in_width, out_width in zip(hidden_layer_profile[0:-1], hidden_layer_profile[1:]):
            self.layers.append(nn.Linear(in_width, out_width))
            self.layers.append(nn.ReLU())

        # create the output layer
        self.output_layer = nn.Linear(hidden_layer_profile[-1], output_width)
        self.output_activation = nn.Identity() if not output_activation else output_activation

    def forward(self, input):
        x = input

        # loop through the layers to produce the output of the hidden network
        for layer in self.layers:
            x = layer(x)

        # produce the output of the network from the intermediate output of the last hidden layer
        output_before_activation = self.output_layer(x)

        # engage the optional activation in self.output_activation on the output_before_activation
        output = self.output_activation(output_before_activation)

        return output


class TwinDeepNeuralNet(nn.Module):
    """Twin tower network: ONE shared DeepNeuralNet applied to input[0, :] (query) and input[1, :] (value)."""

    def __init__(self, input_width, hidden_layer_profile, output_width):
        super().__init__()
        self.tower = DeepNeuralNet(input_width, hidden_layer_profile, output_width)

    def forward(self, input):
        # identify the query and the value as sub-tensors of the input tensor
        input_query = input[0, :]
        input_value = input[1, :]

        output_query = self.tower(input_query)
        output_value = self.tower(input_value)

        # form a single output tensor as a disjoint union of the query and value tensors
        output_query = output_query.unsqueeze(0)
        output_value = output_value.unsqueeze(0)
        output = torch.cat([output_query, output_value], dim=0)

        return output


# ---------------------------------------------------------------- the random Boolean function
BOOLEAN_FUNCTION_SEED = 1234


def make_binary_array(number: int, length: int) -> list:
    """Return the `length` lowest bits of `number`, least significant first."""
    return [(number >> k) & 1 for k in range(0, length)]


def boolean_function_dataset() -> tuple[torch.Tensor, torch.Tensor]:
    """Return (data_x, data_y) exactly as the notebook's seeded Boolean-function cell builds them.

    data_x: float tensor [256, 8], all 8-bit inputs; data_y: float tensor [256, 8] of random bits drawn
    right after torch.manual_seed(BOOLEAN_FUNCTION_SEED). The caller's global RNG state is left untouched.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(BOOLEAN_FUNCTION_SEED)
        data_x_list = [make_binary_array(i, 8) for i in range(0, 256)]
        data_x = torch.tensor(data_x_list, dtype=torch.float)
        data_y = torch.randint(low=0, high=2, size=(256, 8)).type(torch.float)
    return data_x, data_y


# minimal_width / deep_minimal_width: claims with the training they were found with. The graders train a
# claim as stated on their own seeds (it must learn f on most of them) and compare its size with
# "w1_least" of lessons/hands_on_dl/calibration.json (the least width that learns f under the default
# training, lr 5e-3 for 250 epochs): 192 neurons learn f with 1000 epochs at that learning rate.
w_1 = 192
w_1_training = {"lr": 5e-3, "epochs": 1000}
hidden_layer_profile_2 = [48, 48]
w_2_training = {"lr": 2e-3, "epochs": 1000}

# ---------------------------------------------------------------- image classification
# Hidden-layer profiles of the reference best_net (FashionMNIST) and mnist_net (MNIST), both
# DeepNeuralNet(28 * 28, profile, 10) without output activation; their trained weights are
# source/hands_on_dl/fashion_model.pth and source/hands_on_dl/mnist_model.pth.
FASHION_PROFILE = [256]
MNIST_PROFILE = [256]
