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

Unlike torch, input and target must have the same shape (torch broadcasts with a warning,
which silently turns an (N, 1) vs (N,) mix-up into an (N, N) loss).
"""

from __future__ import annotations

import torch
from torch import Tensor

from trainlab.losses._common import (
    LossModule,
    Reduction,
    as_float,
    check_positive,
    check_reduction,
    check_same_shape,
    reduce,
    upcast,
)

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


def _diff(input: Tensor, target: Tensor, reduction: str) -> Tensor:
    check_reduction(reduction)
    check_same_shape("input", input, "target", target)
    input = upcast(input)
    return input - as_float(upcast(target), input)


def mse_loss(input: Tensor, target: Tensor, *, reduction: Reduction = "mean") -> Tensor:
    """Squared error (input - target)^2, reduced; equals ``F.mse_loss``."""
    return reduce(_diff(input, target, reduction).square(), reduction)


def l1_loss(input: Tensor, target: Tensor, *, reduction: Reduction = "mean") -> Tensor:
    """Absolute error |input - target|, reduced; equals ``F.l1_loss``."""
    return reduce(_diff(input, target, reduction).abs(), reduction)


def huber_loss(
    input: Tensor, target: Tensor, *, delta: float = 1.0, reduction: Reduction = "mean"
) -> Tensor:
    """Huber loss: quadratic inside |a| < delta, linear with slope delta outside (F4:1138).

    Equals ``F.huber_loss(input, target, delta=delta)``.
    """
    check_positive("delta", delta)
    a = _diff(input, target, reduction).abs()
    # where() evaluates both branches; both are finite for every a, so gradients are too
    loss = torch.where(a < delta, 0.5 * a.square(), delta * (a - 0.5 * delta))
    return reduce(loss, reduction)


def smooth_l1_loss(
    input: Tensor, target: Tensor, *, beta: float = 1.0, reduction: Reduction = "mean"
) -> Tensor:
    """SmoothL1: Huber divided by beta (F4:1156); ``beta=0`` gives L1. Equals ``F.smooth_l1_loss``."""
    check_positive("beta", beta, allow_zero=True)
    a = _diff(input, target, reduction).abs()
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
