"""Train many small MLP replicas of the hands-on-DL lesson as one vectorised model.

Replica r is the lesson's net (Linear+ReLU per hidden width, Linear, Sigmoid) trained with BCELoss,
Adam and a shuffled DataLoader.  Its weights sit on a leading replica dim of stacked tensors; its random
numbers come from a generator seeded with its seed, drawn as `train_one` draws them from the global RNG
after `torch.manual_seed(seed)`, so a replica retraces `train_one` up to float rounding.  Batched
matmuls never mix replicas and Adam is elementwise, so one Adam over the stack is R separate Adams.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, TensorDataset

aten = torch.ops.aten


def lesson_data() -> tuple[Tensor, Tensor]:
    """Return (data_x, data_y): the 256 8-bit inputs and the lesson's random Boolean targets."""
    gen = torch.Generator().manual_seed(1234)  # the same stream as torch.manual_seed(1234)
    data_x = torch.tensor([[(i >> k) & 1 for k in range(8)] for i in range(256)], dtype=torch.float)
    return data_x, torch.randint(low=0, high=2, size=(256, 8), generator=gen).type(torch.float)


def _linear_init(fan_in: int, fan_out: int, gen: torch.Generator) -> tuple[Tensor, Tensor]:
    """Return (weight [fan_out, fan_in], bias [fan_out]) drawn from `gen` as nn.Linear draws them."""
    weight = nn.init.kaiming_uniform_(torch.empty(fan_out, fan_in), a=math.sqrt(5), generator=gen)
    bound = 1 / math.sqrt(fan_in)
    return weight, nn.init.uniform_(torch.empty(fan_out), -bound, bound, generator=gen)


def _epoch_order(gen: torch.Generator, n: int) -> Tensor:
    """Return the row order DataLoader(shuffle=True) uses for one epoch when `gen` is the global RNG."""
    torch.empty((), dtype=torch.int64).random_(generator=gen)  # the loader iterator's base seed
    seed = int(torch.empty((), dtype=torch.int64).random_(generator=gen))  # RandomSampler's seed
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed))


class _Adam:
    """torch.optim.Adam's single-tensor update, op for op, minus its per-step Python bookkeeping."""

    def __init__(self, param: Tensor, grad: Tensor, lr: float) -> None:
        self.param, self.grad, self.lr, self.steps = param, grad, lr, 0
        self.exp_avg, self.exp_avg_sq = torch.zeros_like(param), torch.zeros_like(param)

    def step(self, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8) -> None:
        """Return nothing; move `param` by one Adam update computed from `grad`."""
        self.steps += 1
        self.exp_avg.lerp_(self.grad, 1 - beta1)
        self.exp_avg_sq.mul_(beta2).addcmul_(self.grad, self.grad, value=1 - beta2)
        denom = (self.exp_avg_sq.sqrt() / (1 - beta2 ** self.steps) ** 0.5).add_(eps)
        self.param.addcdiv_(self.exp_avg, denom, value=-self.lr / (1 - beta1 ** self.steps))


def _train_stacked(
    profiles: list[list[int]], seeds: list[int], data_x: Tensor, data_y: Tensor,
    epochs: int, batch_size: int, lr: float, until_learned: tuple[float, int] | None = None,
) -> Tensor:
    """Return the least epoch-mean loss of each replica r (hidden widths profiles[r], seed seeds[r]).

    With until_learned = (threshold, quorum), training ends after the first epoch by which `quorum` replicas
    have reached `threshold`: a least loss only falls, so whether a quorum learns is already known then
    (the other replicas' losses are their least so far).

    Profiles share a depth; each layer is zero-padded to its widest replica.  A padded unit outputs
    relu(0) = 0 and gets exact-zero gradients, hence exact-zero Adam updates: it stays inert.
    Gradients come by hand from autograd's own kernels, as per-step Python overhead is the real cost.
    """
    n, replicas = len(data_x), len(profiles)
    gens = [torch.Generator().manual_seed(seed) for seed in seeds]
    padded = [data_x.shape[1], *map(max, zip(*profiles)), data_y.shape[1]]
    shapes = [shape for a, b in zip(padded, padded[1:]) for shape in ((replicas, a, b), (replicas, 1, b))]
    numels = [math.prod(shape) for shape in shapes]
    theta, grad = torch.zeros(sum(numels)), torch.zeros(sum(numels))  # every weight and bias, and their gradients
    params, grads = ([t.view(s) for t, s in zip(flat.split(numels), shapes)] for flat in (theta, grad))
    weights, biases, weight_grads, bias_grads = params[0::2], params[1::2], grads[0::2], grads[1::2]
    for r, (profile, gen) in enumerate(zip(profiles, gens)):
        sizes = [data_x.shape[1], *profile, data_y.shape[1]]
        for layer, (a, b) in enumerate(zip(sizes, sizes[1:])):
            weight, bias = _linear_init(a, b, gen)
            weights[layer][r, :a, :b], biases[layer][r, 0, :b] = weight.T, bias
    adam = _Adam(theta, grad, lr)
    epoch_losses = torch.empty(epochs, replicas, dtype=torch.float64)
    for epoch in range(epochs):
        order = torch.stack([_epoch_order(gen, n) for gen in gens])
        batch_losses = []
        for x, y in zip(data_x[order].split(batch_size, dim=1), data_y[order].split(batch_size, dim=1)):
            acts = [x]
            for weight, bias in zip(weights[:-1], biases[:-1]):
                acts.append(torch.baddbmm(bias, acts[-1], weight).relu())
            out = torch.baddbmm(biases[-1], acts[-1], weights[-1]).sigmoid()
            batch_losses.append(F.binary_cross_entropy(out, y, reduction="none").mean(dim=(1, 2)))
            delta = torch.tensor(1 / y[0].numel()).expand_as(out)  # d(per-replica mean)/d(element)
            delta = aten.sigmoid_backward(aten.binary_cross_entropy_backward(delta, out, y, None, 0), out)
            for layer in reversed(range(len(weights))):
                torch.sum(delta, dim=1, keepdim=True, out=bias_grads[layer])
                torch.bmm(acts[layer].transpose(1, 2), delta, out=weight_grads[layer])
                if layer:
                    delta = aten.threshold_backward(torch.bmm(delta, weights[layer].transpose(1, 2)), acts[layer], 0)
            adam.step()
        epoch_losses[epoch] = torch.stack(batch_losses).double().mean(dim=0)
        if until_learned and learns(epoch_losses[: epoch + 1].min(dim=0).values, *until_learned):
            return epoch_losses[: epoch + 1].min(dim=0).values
    return epoch_losses.min(dim=0).values


def train_replicas(
    profile: list[int], seeds: list[int], data_x: Tensor, data_y: Tensor,
    epochs: int = 250, batch_size: int = 4, lr: float = 5e-3, until_learned: tuple[float, int] | None = None,
) -> Tensor:
    """Return the least epoch-mean training loss [len(seeds)] of `profile` trained once per seed (see
    _train_stacked for until_learned)."""
    return _train_stacked([list(profile)] * len(seeds), seeds, data_x, data_y, epochs, batch_size, lr, until_learned)


def verify_claim(
    profile: list[int], seeds: list[int], data_x: Tensor, data_y: Tensor, threshold: float,
    epochs: int = 250, batch_size: int = 4, lr: float = 5e-3,
) -> Tensor:
    """Return least losses that decide whether `profile` learns (reaches `threshold`) on a strict majority of
    `seeds`: those of the first majority of seeds, and of the rest only when the first leave it open.  Each
    run stops once enough of its replicas have learned, so it costs what the verdict needs; the procedure
    depends on the claim alone, so its verdict does too."""
    majority = len(seeds) // 2 + 1
    first = train_replicas(profile, seeds[:majority], data_x, data_y, epochs, batch_size, lr, (threshold, majority))
    learned = int((first <= threshold).sum())
    if learned in (0, majority) or majority == len(seeds):
        return first  # none learned (the rest cannot make a majority) or all did
    rest = train_replicas(profile, seeds[majority:], data_x, data_y, epochs, batch_size, lr,
                          (threshold, majority - learned))
    return torch.cat([first, rest])


def train_width_grid(
    widths: list[int], seeds: list[int], data_x: Tensor, data_y: Tensor,
    epochs: int = 250, batch_size: int = 4, lr: float = 5e-3,
) -> dict[int, Tensor]:
    """Return {width: least losses [len(seeds)]} for one-hidden-layer nets, all trained as one model."""
    profiles = [[w] for w in widths for _ in seeds]
    least = _train_stacked(profiles, list(seeds) * len(widths), data_x, data_y, epochs, batch_size, lr)
    return dict(zip(widths, least.view(len(widths), len(seeds))))


def learns(least_losses: Tensor, threshold: float = 1e-3, quorum: int | None = None) -> bool:
    """Return whether at least `quorum` replicas (default: a strict majority) reach `threshold`."""
    needed = len(least_losses) // 2 + 1 if quorum is None else quorum
    return int((least_losses <= threshold).sum()) >= needed


def train_one(
    profile: list[int], seed: int, data_x: Tensor, data_y: Tensor,
    epochs: int = 250, batch_size: int = 4, lr: float = 5e-3,
) -> float:
    """Return the least epoch-mean loss of the lesson's own loop (reseeds the global RNG with `seed`)."""
    torch.manual_seed(seed)
    sizes = [data_x.shape[1], *profile]
    hidden = [m for a, b in zip(sizes, sizes[1:]) for m in (nn.Linear(a, b), nn.ReLU())]
    net = nn.Sequential(*hidden, nn.Linear(sizes[-1], data_y.shape[1]), nn.Sigmoid())
    loader = DataLoader(TensorDataset(data_x, data_y), batch_size=batch_size, shuffle=True)
    loss_fn, optimizer = nn.BCELoss(), torch.optim.Adam(net.parameters(), lr=lr)
    least = math.inf
    for _ in range(epochs):
        batch_losses = []
        for x, y in loader:
            loss = loss_fn(net(x), y)
            batch_losses.append(loss.item())
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        least = min(least, sum(batch_losses) / len(batch_losses))
    return least
