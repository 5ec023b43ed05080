"""Regression losses: MSE, L1 (MAE), Huber and SmoothL1 (F3:735-739; F4:1003-1212).

With a = input - target, per element:

    mse        a^2                                                    (F4:1009)
    l1         |a|                  subgradient 0 at a = 0, as torch  (F4:1094-1110)
    huber      a^2 / 2 if |a| < delta else delta * (|a| - delta / 2)  (F4:1138-1144)
    smooth_l1  a^2 / (2 beta) if |a| < beta else |a| - beta / 2       (F4:1156-1162)

so ``huber(delta) == delta * smooth_l1(beta=delta)``; ``smooth_l1(beta=0)`` is l1. Each
equals ``torch.nn.functional``'s function of the same name for every reduction. The notes
sometimes write MSE and L1 as sums (F4:1860-1861); that is ``reduction='sum'`` here, while
the default ``'mean'`` divides by the number of elements, as PyTorch does.

Execution: by default each function validates and upcasts its inputs, then runs torch's
fused kernel for the formula (one pass forward and backward); ``fused=False`` evaluates
the formula above with elementary tensor ops, as a readable reference. The tests check
both paths against ``torch.nn.functional`` in value and gradient.

Unlike torch, input and target must have the same shape (torch broadcasts with a warning,
which silently turns an (N, 1) vs (N,) mix-up into an (N, N) loss).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from trainlab._validate import check_positive
from trainlab.losses._common import LossModule, Reduction, prepare_pair, reduce

__all__ = [
    "HuberLoss",
    "L1Loss",
    "MSELoss",
    "SmoothL1Loss",
    "huber_loss",
    "l1_loss",
    "mse_loss",
    "smooth_l1_loss",
]


def mse_loss(
    input: Tensor, target: Tensor, *, reduction: Reduction = "mean", fused: bool = True
) -> Tensor:
    """Squared error (input - target)^2, reduced; equals ``F.mse_loss``.

    ``fused=True`` runs torch's single kernel; ``fused=False`` the formula above, term by
    term (the readable reference; the tests check that both agree with torch).
    """
    x, y = prepare_pair(input, target, reduction)
    if fused:
        return F.mse_loss(x, y, reduction=reduction)
    return reduce((x - y).square(), reduction)


def l1_loss(
    input: Tensor, target: Tensor, *, reduction: Reduction = "mean", fused: bool = True
) -> Tensor:
    """Absolute error |input - target|, reduced; equals ``F.l1_loss`` (``fused`` as mse)."""
    x, y = prepare_pair(input, target, reduction)
    if fused:
        return F.l1_loss(x, y, reduction=reduction)
    return reduce((x - y).abs(), reduction)


def huber_loss(
    input: Tensor,
    target: Tensor,
    *,
    delta: float = 1.0,
    reduction: Reduction = "mean",
    fused: bool = True,
) -> Tensor:
    """Huber loss: quadratic inside |a| < delta, linear with slope delta outside (F4:1138).

    Equals ``F.huber_loss(input, target, delta=delta)`` (``fused`` as in :func:`mse_loss`).
    """
    check_positive("delta", delta)
    x, y = prepare_pair(input, target, reduction)
    if fused:
        return F.huber_loss(x, y, delta=delta, reduction=reduction)
    a = (x - y).abs()
    # where() evaluates both branches; both are finite for every a, so gradients are too
    loss = torch.where(a < delta, 0.5 * a.square(), delta * (a - 0.5 * delta))
    return reduce(loss, reduction)


def smooth_l1_loss(
    input: Tensor,
    target: Tensor,
    *,
    beta: float = 1.0,
    reduction: Reduction = "mean",
    fused: bool = True,
) -> Tensor:
    """SmoothL1: Huber divided by beta (F4:1156); ``beta=0`` gives L1. Equals ``F.smooth_l1_loss``."""
    check_positive("beta", beta, allow_zero=True)
    x, y = prepare_pair(input, target, reduction)
    if fused:
        return F.smooth_l1_loss(x, y, beta=beta, reduction=reduction)
    a = (x - y).abs()
    if beta == 0:
        return reduce(a, reduction)
    loss = torch.where(a < beta, 0.5 * a.square() / beta, a - 0.5 * beta)
    return reduce(loss, reduction)


class MSELoss(LossModule):
    """Module form of :func:`mse_loss`."""

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return mse_loss(input, target, reduction=self.reduction)


class L1Loss(LossModule):
    """Module form of :func:`l1_loss`."""

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return l1_loss(input, target, reduction=self.reduction)


class HuberLoss(LossModule):
    """Module form of :func:`huber_loss`."""

    def __init__(self, delta: float = 1.0, reduction: Reduction = "mean") -> None:
        super().__init__(reduction)
        check_positive("delta", delta)
        self.delta = float(delta)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return huber_loss(input, target, delta=self.delta, reduction=self.reduction)


class SmoothL1Loss(LossModule):
    """Module form of :func:`smooth_l1_loss`."""

    def __init__(self, beta: float = 1.0, reduction: Reduction = "mean") -> None:
        super().__init__(reduction)
        check_positive("beta", beta, allow_zero=True)
        self.beta = float(beta)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return smooth_l1_loss(input, target, beta=self.beta, reduction=self.reduction)
