"""The loss landscape around the current weights, and how sharp the minimum is.

- Filter-normalized random directions (Li et al., "Visualizing the Loss Landscape of Neural
  Nets", NeurIPS 2018): d ~ N(0, I), then for every filter (a row along dim 0 of a weight
  with >= 2 dims) d_f <- d_f * ||w_f|| / ||d_f||, so a step of alpha moves each filter by
  alpha times its own scale and the plots of differently scaled networks compare. Like the
  paper, 1-D parameters (biases, norm scales) get d = 0 (`ignore_1d`).
- `loss_surface_1d` / `_2d`: L(w + a d1 (+ b d2)) on a grid; the weights are restored.
- `sharpness`: the largest Hessian eigenvalue and the loss increase within an eps-ball,
  max_{||delta|| <= eps ||w||} L(w + delta) - L(w), by projected gradient ascent (the
  radius scaled by the weight norm, as Keskar et al. 2017 scale their box by |w|).
  Notes F3:456-487: large batches find sharp minima that generalize worse; `flat_vs_sharp`
  trains the same model with a small and a large batch and measures both.
"""

from __future__ import annotations

import contextlib
import copy
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from trainlab.diagnose.hessian import HessianOperator, top_eigenvalues

LossFn = Callable[[nn.Module], Tensor]  # the loss of `model` (forward included)


def _params(model: nn.Module) -> list[Tensor]:
    return [p for p in model.parameters() if p.requires_grad]


def filter_normalized_direction(
    model: nn.Module, *, generator: torch.Generator | None = None, ignore_1d: bool = True
) -> list[Tensor]:
    """A random direction (one tensor per trainable parameter), filter-normalized."""
    out = []
    for p in _params(model):
        d = torch.randn(p.shape, generator=generator, dtype=p.dtype, device=p.device)
        if p.dim() <= 1:
            out.append(torch.zeros_like(p) if ignore_1d else d * p.norm() / d.norm())
            continue
        w, dv = p.detach().reshape(p.shape[0], -1), d.reshape(p.shape[0], -1)  # (filters, k)
        scale = w.norm(dim=1, keepdim=True) / dv.norm(dim=1, keepdim=True).clamp_min(1e-12)
        out.append((dv * scale).reshape(p.shape))
    return out


@contextlib.contextmanager
def _restored(model: nn.Module) -> Iterator[list[Tensor]]:
    params = _params(model)
    saved = [p.detach().clone() for p in params]
    try:
        yield params
    finally:
        with torch.no_grad():
            for p, s in zip(params, saved, strict=True):
                p.copy_(s)


def _check_direction(model: nn.Module, direction: Sequence[Tensor], name: str) -> None:
    shapes = [tuple(p.shape) for p in _params(model)]
    got = [tuple(d.shape) for d in direction]
    if got != shapes:
        raise ValueError(f"{name}: expected one tensor per trainable parameter {shapes}, got {got}")


def loss_surface_1d(
    model: nn.Module, loss_fn: LossFn, direction: Sequence[Tensor], alphas: Tensor
) -> Tensor:
    """L(w + alpha d) for each alpha (no gradients; the weights are restored)."""
    _check_direction(model, direction, "direction")
    out = torch.empty(len(alphas), dtype=torch.float64)
    with _restored(model) as params, torch.no_grad():
        base = [p.clone() for p in params]
        for i, a in enumerate(alphas.tolist()):
            for p, b, d in zip(params, base, direction, strict=True):
                p.copy_(b + a * d)
            out[i] = float(loss_fn(model))
    return out


def loss_surface_2d(
    model: nn.Module,
    loss_fn: LossFn,
    directions: tuple[Sequence[Tensor], Sequence[Tensor]],
    alphas: Tensor,
    betas: Tensor,
) -> Tensor:
    """L(w + a d1 + b d2) on the grid (len(alphas), len(betas))."""
    d1, d2 = directions
    _check_direction(model, d1, "directions[0]")
    _check_direction(model, d2, "directions[1]")
    out = torch.empty(len(alphas), len(betas), dtype=torch.float64)
    with _restored(model) as params, torch.no_grad():
        base = [p.clone() for p in params]
        for i, a in enumerate(alphas.tolist()):
            for j, b in enumerate(betas.tolist()):
                for p, w, u, v in zip(params, base, d1, d2, strict=True):
                    p.copy_(w + a * u + b * v)
                out[i, j] = float(loss_fn(model))
    return out


def eps_sharpness(model: nn.Module, loss_fn: LossFn, eps: float = 1e-2, steps: int = 10) -> float:
    """max over ||delta|| <= eps ||w|| of L(w + delta) - L(w), by `steps` of projected
    gradient ascent (step size the radius; the first step along the gradient). A lower
    bound of the true maximum; the weights are restored."""
    if eps <= 0 or steps < 1:
        raise ValueError(f"eps and steps: expected eps > 0 and steps >= 1, got {eps}, {steps}")
    with _restored(model) as params:
        base = [p.detach().clone() for p in params]
        radius = eps * float(torch.linalg.vector_norm(torch.stack([b.norm() for b in base])))
        with torch.no_grad():
            start = float(loss_fn(model))
        delta = [torch.zeros_like(b) for b in base]
        best = 0.0
        for _ in range(steps):
            loss = loss_fn(model)
            grads = torch.autograd.grad(loss, params, allow_unused=True, materialize_grads=True)
            gnorm = float(torch.linalg.vector_norm(torch.stack([g.norm() for g in grads])))
            if gnorm == 0.0:
                break
            with torch.no_grad():
                delta = [d + radius * g / gnorm for d, g in zip(delta, grads, strict=True)]
                dnorm = float(torch.linalg.vector_norm(torch.stack([d.norm() for d in delta])))
                if dnorm > radius:
                    delta = [d * (radius / dnorm) for d in delta]
                for p, b, d in zip(params, base, delta, strict=True):
                    p.copy_(b + d)
                best = max(best, float(loss_fn(model)) - start)
    return best


@dataclass
class Sharpness:
    """The largest Hessian eigenvalue and the eps-ball loss increase at the weights."""

    top_eigenvalue: float
    eps_increase: float
    eps: float
    hvps: int


def sharpness(
    model: nn.Module,
    loss_fn: LossFn,
    *,
    eps: float = 1e-2,
    iters: int = 30,
    generator: torch.Generator | None = None,
) -> Sharpness:
    """Both sharpness figures of `model` at its current weights (eval mode is the caller's)."""
    op = HessianOperator(lambda: loss_fn(model), _params(model))
    top = top_eigenvalues(op, 1, iters=iters, tol=1e-3, generator=generator)
    return Sharpness(float(top.values[0]), eps_sharpness(model, loss_fn, eps), eps, op.hvps)


def flat_vs_sharp(
    model: nn.Module,
    train: Any,
    test: Any,
    *,
    batch_sizes: tuple[int, int] = (16, 512),
    epochs: int = 20,
    seed: int = 0,
    eps: float = 1e-2,
    sharpness_samples: int = 512,
    equal_steps: bool = False,
    **overrides: Any,
) -> list[dict[str, Any]]:
    """The notes' experiment (F3:456-487): the same model (a deep copy each time, same seed)
    trained with a small and a large batch; per batch size the test accuracy, the training
    loss and accuracy at the final weights, the top Hessian eigenvalue and the eps-sharpness
    of the training loss on the first `sharpness_samples` training samples.

    `epochs` is every run's length, or with `equal_steps` the first batch size's: the others
    then take as many updates (more epochs), so a large batch is not merely under-trained.
    `train`/`test`: (x, y) tensors; `overrides` are config keys for `trainlab.fit`
    (e.g. optim__lr=1e-3)."""
    from trainlab.train.fit import fit  # diagnose reads runs: it may use the engine

    x, y = train
    xs, ys = x[:sharpness_samples], y[:sharpness_samples]
    steps = epochs * math.ceil(len(x) / batch_sizes[0])
    rows = []
    for bs in batch_sizes:
        m = copy.deepcopy(model)
        n_epochs = math.ceil(steps / math.ceil(len(x) / bs)) if equal_steps else epochs
        summary = fit(
            m,
            (x, y),
            None,  # no validation split: the last weights are the ones measured
            test,
            restore_best=False,
            data__batch_size=bs,
            train__epochs=n_epochs,
            seed=seed,
            **overrides,
        )
        m.eval()
        device = next(m.parameters()).device
        xd, yd = xs.to(device), ys.to(device)

        def loss_fn(mod: nn.Module, xd: Tensor = xd, yd: Tensor = yd) -> Tensor:
            return nn.functional.cross_entropy(mod(xd), yd)

        s = sharpness(m, loss_fn, eps=eps, generator=torch.Generator(device).manual_seed(seed))
        with torch.no_grad():
            out = m(x.to(device))
            yt = y.to(device)
            train_loss = float(nn.functional.cross_entropy(out, yt))
            train_acc = float((out.argmax(1) == yt).float().mean())
        rows.append(
            {
                "batch_size": bs,
                "epochs": n_epochs,
                "test_acc": summary["test"].get("acc"),
                "train_loss": train_loss,
                "train_acc": train_acc,
                "top_eigenvalue": s.top_eigenvalue,
                "eps_sharpness": s.eps_increase,
            }
        )
    return rows
