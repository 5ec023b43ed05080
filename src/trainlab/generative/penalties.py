"""Gradient penalties of the discriminator (notes F4:1663-1780, training stability).

R1 (Mescheder et al. 2018): ``(gamma / 2) E_x[ |grad_x D(x)|^2 ]`` on real samples only; it
drives D's gradient to zero on the data manifold, which makes the game locally convergent.

WGAN-GP (Gulrajani et al. 2017): ``lambda E_xh[ (|grad_xh D(xh)| - 1)^2 ]`` at random
interpolates ``xh = e x + (1 - e) G(z)``, e ~ U(0, 1) per sample, a soft form of the
1-Lipschitz constraint of the Wasserstein critic (lambda = 10 in the paper).

Both build the graph of the gradient (``create_graph=True``) so the penalty is itself
differentiated when the discriminator steps.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from trainlab._validate import check_positive

__all__ = ["gradient_penalty", "r1_penalty"]


def _grad_sq_norm(out: Tensor, x: Tensor) -> Tensor:
    (g,) = torch.autograd.grad(out.sum(), x, create_graph=True)
    return g.float().reshape(g.shape[0], -1).pow(2).sum(1)  # (B,)


def r1_penalty(
    discriminate: Callable[[Tensor], Tensor], real: Tensor, gamma: float = 10.0
) -> Tensor:
    """``(gamma/2) mean_i |grad D(x_i)|^2``; `discriminate(x)` gives D's logits (B,)."""
    gamma = check_positive("gamma", gamma)
    x = real.detach().requires_grad_(True)
    return 0.5 * gamma * _grad_sq_norm(discriminate(x), x).mean()


def gradient_penalty(
    discriminate: Callable[[Tensor], Tensor],
    real: Tensor,
    fake: Tensor,
    weight: float = 10.0,
    *,
    generator: torch.Generator | None = None,
) -> Tensor:
    """WGAN-GP: ``weight * mean_i (|grad D(xh_i)| - 1)^2`` at seeded random interpolates."""
    weight = check_positive("weight", weight)
    if real.shape != fake.shape:
        raise ValueError(
            f"real, fake: expected the same shape, got {tuple(real.shape)}, {tuple(fake.shape)}"
        )
    shape = (real.shape[0],) + (1,) * (real.ndim - 1)
    e = torch.rand(shape, generator=generator, device=real.device, dtype=real.dtype)
    xh = (e * real.detach() + (1 - e) * fake.detach()).requires_grad_(True)
    norm = _grad_sq_norm(discriminate(xh), xh).clamp_min(1e-12).sqrt()
    return weight * (norm - 1).pow(2).mean()
