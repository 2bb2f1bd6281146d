"""Train the reference MLP (784-512-512-10, softmax output, NLL on its log) of the lesson neurons_and_training
and save its weights to source/neurons_and_training/mnist_mlp.pth.

Run from the repository root: .venv/bin/python solutions/train_neurons_and_training.py
Images are scaled to [0, 1] (ToTensor, no Normalize), as the grader feeds them. One thread, 2 epochs of SGD."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import torch
import torch.nn.functional as F
from torchvision import datasets, transforms

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "solutions"))
import neurons_and_training as solution  # noqa: E402

DATA_ROOT = os.environ.get("AUTOGRADER_DATA", str(ROOT / "data"))
OUT = ROOT / "source" / "neurons_and_training" / "mnist_mlp.pth"


def main(epochs: int = 2, learning_rate: float = 0.05, momentum: float = 0.9) -> None:
    torch.set_num_threads(1)
    torch.manual_seed(0)
    train_set = datasets.MNIST(DATA_ROOT, train=True, download=False, transform=transforms.ToTensor())
    test_set = datasets.MNIST(DATA_ROOT, train=False, download=False, transform=transforms.ToTensor())
    train_loader = torch.utils.data.DataLoader(train_set, batch_size=64, shuffle=True)
    test_loader = torch.utils.data.DataLoader(test_set, batch_size=1000)
    model = solution.MLP(784, 512, 10)
    optimizer = torch.optim.SGD(model.parameters(), lr=learning_rate, momentum=momentum)
    for epoch in range(epochs):
        model.train()
        for data, target in train_loader:
            optimizer.zero_grad()
            loss = F.nll_loss(torch.log(model(data) + 1e-12), target)
            loss.backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            correct = sum(int((model(x).argmax(1) == y).sum()) for x, y in test_loader)
        print(f"epoch {epoch}: test accuracy {correct / len(test_set):.4f}", flush=True)
    torch.save(model.state_dict(), OUT)
    print(f"saved {OUT} ({OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
