"""Reference solutions for digits_from_scratch: Sanderson's 784-16-16-10 sigmoid network, written in numpy
(forward pass, hand-written backpropagation, SGD) and trained on the tutorial's mnist.pkl.gz."""
from __future__ import annotations

import gzip
import os
import pickle
from pathlib import Path

import numpy as np
import torch  # only to save and load the weights file

DATA_ROOT = os.environ.get("AUTOGRADER_DATA", "data")
LAYER_NAMES = ("hidden1", "hidden2", "output")


class NumpyUnpickler(pickle.Unpickler):
    """An unpickler that rebuilds numpy arrays and nothing else (a pickle can run any code it names)."""

    ALLOWED = {("numpy", "ndarray"), ("numpy", "dtype"),
               ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct")}

    def find_class(self, module, name):
        if (module, name) in self.ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"{module}.{name} is not allowed in this data file")


def load_data(path=Path(DATA_ROOT) / "mnist_from_scratch" / "mnist.pkl.gz"):
    """Return ((image_train, label_train), (image_valid, label_valid), image_test) from the tutorial's pickle."""
    with gzip.open(path, "rb") as unpacked_data:
        (train, valid, (image_test, _)) = NumpyUnpickler(unpacked_data, encoding="latin-1").load()
    return train, valid, image_test


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def sigmoid_derivative(z):
    s = sigmoid(z)
    return s * (1.0 - s)


def cost_func(pred, target):
    return np.sum((np.asarray(pred) - np.asarray(target)) ** 2)


def cost_derivative(pred, target):
    return 2.0 * (np.asarray(pred) - np.asarray(target))


def get_target(digits):
    return np.eye(10)[np.asarray(digits)]


class NN_Model:
    def __init__(self, layer_sizes=(784, 16, 16, 10), seed=None):
        rng = np.random.default_rng(seed)
        self.weights, self.biases = [], []
        for n_in, n_out in zip(layer_sizes[:-1], layer_sizes[1:]):
            bound = 1.0 / np.sqrt(n_in)  # the same start as torch's nn.Linear
            self.weights.append(rng.uniform(-bound, bound, (n_out, n_in)))
            self.biases.append(rng.uniform(-bound, bound, n_out))

    def forward(self, x):
        a = np.asarray(x)
        for W, b in zip(self.weights, self.biases):
            a = sigmoid(a @ W.T + b)
        return a


def backprop(model, x, target):
    x, target = np.atleast_2d(x), np.atleast_2d(target)
    activations, zs = [x], []
    for W, b in zip(model.weights, model.biases):
        zs.append(activations[-1] @ W.T + b)
        activations.append(sigmoid(zs[-1]))
    grad_weights, grad_biases = [None] * len(zs), [None] * len(zs)
    delta = cost_derivative(activations[-1], target) * sigmoid_derivative(zs[-1])
    for layer in reversed(range(len(zs))):
        grad_weights[layer] = delta.T @ activations[layer]
        grad_biases[layer] = delta.sum(axis=0)
        if layer > 0:
            delta = (delta @ model.weights[layer]) * sigmoid_derivative(zs[layer - 1])
    return grad_weights, grad_biases


def sgd_step(model, x, target, learning_rate):
    grad_weights, grad_biases = backprop(model, x, target)
    for W, grad in zip(model.weights, grad_weights):
        W -= learning_rate * grad
    for b, grad in zip(model.biases, grad_biases):
        b -= learning_rate * grad


def train_model(epochs, batch_size, learning_rate, data_train, label_train, model):
    costs = []
    for epoch in range(epochs):
        for i in range((len(data_train) - 1) // batch_size + 1):
            i_start = i * batch_size
            i_end = i_start + batch_size
            sgd_step(model, data_train[i_start:i_end], get_target(label_train[i_start:i_end]), learning_rate)
        cost = cost_func(model.forward(data_train), get_target(label_train)) / len(data_train)
        print(f"After epoch {epoch} the cost function is {cost}")
        costs.append(float(cost))
    return costs


def accuracy(model, data, labels):
    guesses = np.argmax(model.forward(data), axis=1)
    return float(np.mean(guesses == np.asarray(labels)))


def save_model(model, path):
    """Save the weights as a torch state_dict with the tutorial's layer names (hidden1, hidden2, output)."""
    state = {}
    for name, W, b in zip(LAYER_NAMES, model.weights, model.biases):
        state[f"{name}.weight"] = torch.tensor(np.asarray(W, dtype=np.float32))
        state[f"{name}.bias"] = torch.tensor(np.asarray(b, dtype=np.float32))
    torch.save(state, path)


def load_model(path):
    """Return an NN_Model holding the weights saved by save_model."""
    state = torch.load(path, weights_only=True)
    model = NN_Model()
    model.weights = [state[f"{name}.weight"].double().numpy() for name in LAYER_NAMES]
    model.biases = [state[f"{name}.bias"].double().numpy() for name in LAYER_NAMES]
    return model


# conceptual questions
cost_example = 1.25  # (0.5 - 1)**2 + (1 - 0)**2
random_model_accuracy = 0.1
accuracy_to_claim = "validation"

# training hyperparameters of the submitted digits_model.pth
learning_rate = 0.05
batch_size = 100
num_epochs = 10
