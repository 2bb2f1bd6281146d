"""Train the reference MLP (784-512-512-10, softmax output, NLL on its log) of the lesson neurons_and_training
and save its weights to source/neurons_and_training/mnist_mlp.pth.

Run from the repository root: .venv/bin/python lessons/neurons_and_training/train.py
2 epochs of SGD with momentum, in the loop of lessons/mnist_training.py."""
from __future__ import annotations

import sys
from pathlib import Path

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
import neurons_and_training as solution  # noqa: E402
from lessons.mnist_training import train_on_mnist  # noqa: E402

OUT = ROOT / "source" / "neurons_and_training" / "mnist_mlp.pth"


def main(epochs: int = 2, learning_rate: float = 0.05, momentum: float = 0.9) -> None:
    train_on_mnist(lambda: solution.MLP(784, 512, 10),
                   lambda model: torch.optim.SGD(model.parameters(), lr=learning_rate, momentum=momentum),
                   lambda output, target: F.nll_loss(torch.log(output + 1e-12), target), epochs, OUT)


if __name__ == "__main__":
    main()
