"""A tiny float64 problem with its exact Hessian, for the curvature tests."""

from __future__ import annotations

import torch
from torch import nn
from torch.func import functional_call


def tiny_problem(seed: int = 0, hidden: int = 12, n: int = 40, model: nn.Module | None = None):
    """(model, closure, exact Hessian (P, P)) of a 6-hidden-3 tanh MLP's cross-entropy on
    random data; P = 6*h + h + 3*h + 3 (123 parameters for h = 12)."""
    g = torch.Generator().manual_seed(seed)
    if model is None:  # else: new data for the given model
        model = nn.Sequential(nn.Linear(6, hidden), nn.Tanh(), nn.Linear(hidden, 3)).double()
        with torch.no_grad():
            for p in model.parameters():
                p.copy_(torch.randn(p.shape, generator=g, dtype=torch.float64))
    x = torch.randn(n, 6, generator=g, dtype=torch.float64)
    y = torch.randint(0, 3, (n,), generator=g)
    names = [k for k, _ in model.named_parameters()]
    shapes = [p.shape for p in model.parameters()]

    def closure():
        return nn.functional.cross_entropy(model(x), y)

    def flat_loss(flat):
        parts, i = {}, 0
        for k, s in zip(names, shapes, strict=True):
            parts[k] = flat[i : i + s.numel()].view(s)
            i += s.numel()
        return nn.functional.cross_entropy(functional_call(model, parts, (x,)), y)

    flat = torch.cat([p.detach().reshape(-1) for p in model.parameters()])
    exact = torch.autograd.functional.hessian(flat_loss, flat)
    return model, closure, exact
