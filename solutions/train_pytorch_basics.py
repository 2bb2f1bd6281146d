"""Train the reference seq_model (784-128-10, ReLU) of the lesson pytorch_basics and save its weights to
source/pytorch_basics/seq_model.pth.

Run from the repository root: .venv/bin/python solutions/train_pytorch_basics.py [--undertrained]
Images are scaled to [0, 1] (ToTensor, no Normalize), as the grader feeds them. One thread, 3 epochs of Adam."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import torch
from torch import nn
from torchvision import datasets, transforms

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "solutions"))
import pytorch_basics as solution  # noqa: E402

DATA_ROOT = os.environ.get("AUTOGRADER_DATA", str(ROOT / "data"))
OUT = ROOT / "source" / "pytorch_basics" / "seq_model.pth"
# a mutant for tests/mutants/pytorch_basics.toml: training stopped after 40 mini-batches (well below 0.95)
UNDERTRAINED = ROOT / "source" / "pytorch_basics" / "seq_model_undertrained.pth"


def main(epochs: int = 3, learning_rate: float = 1e-3, max_batches: int | None = None, out: Path = OUT) -> None:
    torch.set_num_threads(1)
    torch.manual_seed(0)
    train_set = datasets.MNIST(DATA_ROOT, train=True, download=False, transform=transforms.ToTensor())
    test_set = datasets.MNIST(DATA_ROOT, train=False, download=False, transform=transforms.ToTensor())
    train_loader = torch.utils.data.DataLoader(train_set, batch_size=64, shuffle=True)
    test_loader = torch.utils.data.DataLoader(test_set, batch_size=1000)
    model = solution.build_seq_model()
    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)
    loss_fn = nn.CrossEntropyLoss()
    for epoch in range(epochs):
        model.train()
        for batch, (data, target) in enumerate(train_loader):
            if max_batches is not None and batch >= max_batches:
                break
            loss = loss_fn(model(data), target)
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
        model.eval()
        with torch.no_grad():
            correct = sum(int((model(x).argmax(1) == y).sum()) for x, y in test_loader)
        print(f"epoch {epoch}: test accuracy {correct / len(test_set):.4f}", flush=True)
    torch.save(model.state_dict(), out)
    print(f"saved {out} ({out.stat().st_size} bytes)")


if __name__ == "__main__":
    if sys.argv[1:] == ["--undertrained"]:
        main(epochs=1, max_batches=40, out=UNDERTRAINED)
    else:
        main()
