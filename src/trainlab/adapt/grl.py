"""The gradient reversal layer of DANN (Ganin & Lempitsky 2015; F3 on domain adaptation).

Forward it is the identity; backward it multiplies the gradient by -lambda:

    R(x) = x,    dR/dx = -lambda I

so one backward pass trains the domain classifier to tell the domains apart while pushing
the feature extractor to make them indistinguishable (the minimax game of the notes).
`dann_lambda` is the paper's schedule, lambda_p = 2 / (1 + exp(-gamma p)) - 1 with the
training progress p in [0, 1] and gamma = 10: 0 at the start, then smoothly to 1.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn


class _Reverse(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: Tensor, lambda_: float) -> Tensor:
        ctx.lambda_ = lambda_
        return x.view_as(x)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None]:
        return -ctx.lambda_ * grad, None


def grad_reverse(x: Tensor, lambda_: float = 1.0) -> Tensor:
    """The identity whose gradient is -lambda times the incoming one."""
    if not lambda_ >= 0:
        raise ValueError(f"lambda must be >= 0, got {lambda_!r}")
    return _Reverse.apply(x, float(lambda_))


class GradientReversal(nn.Module):
    """`grad_reverse` as a layer; set `.lambda_` to follow a schedule."""

    def __init__(self, lambda_: float = 1.0) -> None:
        super().__init__()
        if not lambda_ >= 0:
            raise ValueError(f"lambda must be >= 0, got {lambda_!r}")
        self.lambda_ = float(lambda_)

    def forward(self, x: Tensor) -> Tensor:
        return grad_reverse(x, self.lambda_)

    def extra_repr(self) -> str:
        return f"lambda_={self.lambda_:g}"


def dann_lambda(progress: float, gamma: float = 10.0) -> float:
    """2 / (1 + exp(-gamma p)) - 1 for progress p clipped to [0, 1]."""
    p = min(max(float(progress), 0.0), 1.0)
    return 2.0 / (1.0 + math.exp(-gamma * p)) - 1.0
