"""The training loop both MNIST reference models are made with (pytorch_basics/train.py,
neurons_and_training/train.py): one thread, seed 0, images scaled to [0, 1] (ToTensor, no Normalize) as
the graders feed them, mini-batches of 64, the test accuracy printed after every epoch."""
from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import torch
from torchvision import datasets, transforms

ROOT = Path(__file__).resolve().parents[1]
DATA_ROOT = os.environ.get("AUTOGRADER_DATA", str(ROOT / "data"))


def train_on_mnist(build_model: Callable[[], torch.nn.Module],
                   make_optimizer: Callable[[torch.nn.Module], torch.optim.Optimizer],
                   loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], epochs: int, out: Path,
                   max_batches: int | None = None) -> None:
    """Train `build_model()` on MNIST for `epochs` (at most `max_batches` mini-batches each) and save its
    state dict to `out`."""
    torch.set_num_threads(1)
    torch.manual_seed(0)
    train_set = datasets.MNIST(DATA_ROOT, train=True, download=False, transform=transforms.ToTensor())
    test_set = datasets.MNIST(DATA_ROOT, train=False, download=False, transform=transforms.ToTensor())
    train_loader = torch.utils.data.DataLoader(train_set, batch_size=64, shuffle=True)
    test_loader = torch.utils.data.DataLoader(test_set, batch_size=1000)
    model = build_model()
    optimizer = make_optimizer(model)
    for epoch in range(epochs):
        model.train()
        for batch, (data, target) in enumerate(train_loader):
            if max_batches is not None and batch >= max_batches:
                break
            optimizer.zero_grad()
            loss_fn(model(data), target).backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            correct = sum(int((model(x).argmax(1) == y).sum()) for x, y in test_loader)
        print(f"epoch {epoch}: test accuracy {correct / len(test_set):.4f}", flush=True)
    torch.save(model.state_dict(), out)
    print(f"saved {out} ({out.stat().st_size} bytes)")
