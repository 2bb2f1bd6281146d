"""Train the reference seq_model (784-128-10, ReLU) of the lesson pytorch_basics and save its weights to
source/pytorch_basics/seq_model.pth.

Run from the repository root: .venv/bin/python lessons/pytorch_basics/train.py [--undertrained]
3 epochs of Adam, in the loop of lessons/mnist_training.py."""
from __future__ import annotations

import sys
from pathlib import Path

import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
import pytorch_basics as solution  # noqa: E402
from lessons.mnist_training import train_on_mnist  # noqa: E402

OUT = ROOT / "source" / "pytorch_basics" / "seq_model.pth"
# a mutant for lessons/pytorch_basics/mutants.toml: training stopped after 40 mini-batches (well below 0.95)
UNDERTRAINED = ROOT / "source" / "pytorch_basics" / "seq_model_undertrained.pth"


def main(epochs: int = 3, learning_rate: float = 1e-3, max_batches: int | None = None, out: Path = OUT) -> None:
    train_on_mnist(solution.build_seq_model, lambda model: torch.optim.Adam(model.parameters(), lr=learning_rate),
                   nn.CrossEntropyLoss(), epochs, out, max_batches)


if __name__ == "__main__":
    if sys.argv[1:] == ["--undertrained"]:
        main(epochs=1, max_batches=40, out=UNDERTRAINED)
    else:
        main()
