"""What a filter has learned: activation maximization by gradient ascent on the input.

    x* = argmax_x  mean_ij a_cij(x) - l2 ||x||^2      (a: the layer's output, c: the channel)

starting from seeded noise and following the gradient (Adam on x), as the notes describe
(F3: maximize the sum of the filter's activations over its feature map, which yields a
wallpaper of the pattern the filter detects). The L2 term keeps x from growing without bound.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from trainlab._validate import check_positive_int
from trainlab.explain._common import evaluating, find_module


def maximize_activation(
    model: nn.Module,
    layer: str,
    channel: int,
    shape: tuple[int, ...],
    *,
    steps: int = 200,
    lr: float = 0.05,
    l2: float = 1e-3,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor]:
    """(x* of `shape`, the channel's mean activation at each step) for module `layer`."""
    check_positive_int("steps", steps)
    module = find_module(model, layer)
    device = next(model.parameters()).device
    seen: list[Tensor] = []
    hook = module.register_forward_hook(lambda m, i, o: seen.append(o))
    x = (0.1 * torch.randn((1, *shape), generator=generator)).to(device).requires_grad_(True)
    opt = torch.optim.Adam([x], lr=lr)
    history = torch.empty(steps)
    try:
        with evaluating(model), torch.enable_grad():
            for k in range(steps):
                seen.clear()
                model(x)
                out = seen[-1]
                if out.ndim < 2 or not 0 <= channel < out.shape[1]:
                    raise ValueError(
                        f"channel {channel}: layer {layer!r} has {out.shape[1] if out.ndim > 1 else 0} channels"
                    )
                act = out[:, channel].mean()
                (grad,) = torch.autograd.grad(-act + l2 * x.pow(2).sum(), x)
                x.grad = grad
                opt.step()
                history[k] = act.detach()
    finally:
        hook.remove()
    return x.detach()[0], history
