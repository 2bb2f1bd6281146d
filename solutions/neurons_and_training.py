"""Reference solutions for the lesson ``neurons_and_training`` (activation functions and a neuron in numpy,
derivatives by hand and with autograd, a neuron in PyTorch, gradient descent on x^2, a single-layer AND gate,
why XOR needs a hidden layer, and a 784-512-512-10 MLP on MNIST).

It mirrors the answer cells of ``source/neurons_and_training/neurons_and_training.ipynb``; keep the two in sync.
Importing it is cheap: numpy and torch only, nothing is trained or read from disk.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn

__all__ = [
    "sigmoid", "relu", "neuron", "derivative_at_2", "cubic_derivative", "cubic_gradient", "neuron_in_pytorch",
    "neuron_gradients", "gradient_descent", "and_weights", "and_bias", "xor_answers",
    "MLP", "mlp",
]


# activations
def sigmoid(x):
    """Return 1 / (1 + exp(-x)) elementwise, without overflow for large |x|."""
    x = np.asarray(x, dtype=np.float64)
    return np.exp(-np.logaddexp(0.0, -x))


def relu(x):
    """Return max(0, x) elementwise."""
    return np.maximum(0, x)


# neuron_numpy
def neuron(x, w, b, activation_function=np.tanh):
    """Return activation_function(x . w + b)."""
    z = np.dot(x, w) + b
    return activation_function(z)


# derivative_by_hand: dy/dx of y = 2x^3 + x + 1 is 6x^2 + 1, at x = 2
derivative_at_2 = 25


def cubic_derivative(x):
    """Return dy/dx = 6x^2 + 1 of y = 2x^3 + x + 1, elementwise."""
    return 6 * np.asarray(x, dtype=np.float64) ** 2 + 1


# autograd_derivative
def cubic_gradient(x0):
    """Return dy/dx of y = 2x^3 + x + 1 at x0, computed by autograd, as a float."""
    x = torch.tensor(float(x0), dtype=torch.float64, requires_grad=True)
    y = 2 * x ** 3 + x + 1
    y.backward()
    return x.grad.item()


# neuron_torch
def neuron_in_pytorch(x, w, b, activation_function=torch.tanh):
    """Return activation_function(x . w + b) for 1-D tensors x, w and a scalar b."""
    z = torch.dot(x, w) + b
    return activation_function(z)


def neuron_gradients(x, w, b, activation_function=torch.tanh):
    """Return (dy/dx, dy/dw, dy/db) of y = neuron_in_pytorch(x, w, b, activation_function), as tensors."""
    x = x.detach().clone().requires_grad_(True)
    w = w.detach().clone().requires_grad_(True)
    b = torch.as_tensor(b, dtype=x.dtype).detach().clone().requires_grad_(True)
    y = neuron_in_pytorch(x, w, b, activation_function)
    y.backward()
    return x.grad, w.grad, b.grad


# gradient_descent
def gradient_descent(x, learning_rate=0.1, n_iterations=100):
    """Minimise y = x^2 from the tensor x (requires_grad=True) by gradient descent; return (x, x_list) where
    x_list holds x after each of the n_iterations updates (floats)."""
    x_list = []
    for _ in range(n_iterations):
        y = x ** 2
        y.backward()
        with torch.no_grad():
            x -= learning_rate * x.grad
            x_list.append(x.item())
            x.grad.zero_()
    return x, x_list


# and_gate: sigmoid(x @ and_weights + and_bias) > 0.5 exactly when both inputs are 1
and_weights = torch.tensor([[10.0], [10.0]])
and_bias = torch.tensor([[-15.0]])


# xor_hidden_layer
xor_answers = {
    "and_single_layer": "yes",
    "xor_single_layer": "no",
    "why": "b",
    "hidden_layer_xor": "yes",
    "linear_hidden_layer_xor": "no",
}


# mlp_accuracy
class MLP(nn.Module):
    """784 -> hidden (ReLU) -> hidden (ReLU) -> 10, with a softmax output (class probabilities)."""

    def __init__(self, input_size, hidden_size, output_size):
        super().__init__()
        self.linear1 = nn.Linear(input_size, hidden_size)
        self.linear2 = nn.Linear(hidden_size, hidden_size)
        self.linear3 = nn.Linear(hidden_size, output_size)

    def forward(self, x):
        x = torch.flatten(x, start_dim=1)
        x = torch.relu(self.linear1(x))
        x = torch.relu(self.linear2(x))
        return torch.softmax(self.linear3(x), dim=1)


mlp = MLP(784, 512, 10)
