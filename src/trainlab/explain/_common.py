"""What every explanation method shares: the model in eval mode (restored afterwards), the
score being explained, and batched gradients of it with respect to the input.

Gradients are taken with `torch.autograd.grad` with respect to the input only, so nothing
accumulates in the parameters' `.grad`; each module's train/eval flag is restored exactly.
"""

from __future__ import annotations

import contextlib
import difflib
from collections.abc import Iterator

import torch
from torch import Tensor, nn


@contextlib.contextmanager
def evaluating(model: nn.Module) -> Iterator[nn.Module]:
    """`model` in eval mode inside the block; every module's own flag back afterwards."""
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        yield model
    finally:
        for m, mode in modes:
            m.training = mode


def targets_of(model: nn.Module, x: Tensor, target: Tensor | int | None) -> Tensor:
    """(N,) class indices: `target` as given (an int for all), or the model's predictions."""
    n = len(x)
    if target is None:
        with torch.no_grad():
            return model(x).argmax(dim=1)
    t = torch.as_tensor(target, device=x.device, dtype=torch.long)
    t = t.expand(n) if t.ndim == 0 else t
    if t.shape != (n,):
        raise ValueError(f"target: expected one class per sample ({n}), got shape {tuple(t.shape)}")
    return t


def score(model: nn.Module, x: Tensor, target: Tensor) -> Tensor:
    """(N,) the output the explanation is about: logit `target[i]` of sample i."""
    out = model(x)
    if out.ndim != 2:
        raise ValueError(f"expected a classifier's (N, K) outputs, got shape {tuple(out.shape)}")
    if int(target.max()) >= out.shape[1] or int(target.min()) < 0:
        raise ValueError(f"target: classes must be in 0..{out.shape[1] - 1}")
    return out.gather(1, target[:, None]).squeeze(1)


def input_gradient(model: nn.Module, x: Tensor, target: Tensor) -> Tensor:
    """d score_i / d x_i for every sample (the samples are independent in eval mode)."""
    xg = x.detach().requires_grad_(True)
    with torch.enable_grad():
        (grad,) = torch.autograd.grad(score(model, xg, target).sum(), xg)
    return grad


def find_module(model: nn.Module, name: str) -> nn.Module:
    """The submodule at path `name` ('features.2'); an error lists the closest names."""
    modules = dict(model.named_modules())
    if name not in modules:
        close = difflib.get_close_matches(name, [n for n in modules if n], n=5, cutoff=0.3)
        hint = f"; closest: {', '.join(close)}" if close else ""
        raise ValueError(f"layer {name!r}: no such module in {type(model).__name__}{hint}")
    return modules[name]
