"""Information measures of discrete distributions: entropy, cross-entropy, KL (F4:1214-1320).

For distributions p and q over the classes along ``dim``:

    H(p)      = -sum_i p_i log p_i                          (F4:1220)
    H(p, q)   = -sum_i p_i log q_i                          (F4:1285)
    KL(p||q)  =  sum_i p_i log(p_i / q_i) = H(p, q) - H(p)  (F4:1305)

with 0 log 0 = 0 (``torch.xlogy``). ``base`` picks the unit: e (nats, default) or 2 (bits;
the notes' weather example gives H(p) = 1.5 bits and H(p, q) = 1.75 bits, F4:1244-1290).
``log_q=True`` takes log q (e.g. ``log_softmax`` output) instead of q, which is exact and
finite where q underflows.

The terms are summed over ``dim``; ``reduction`` then acts over the remaining
(distribution) axes: 'none' gives one value per distribution, 'mean' their mean, 'sum'
their sum. So ``kl_divergence(p, q, reduction='mean')`` equals
``F.kl_div(q.log(), p, reduction='batchmean')`` for (N, K) inputs (torch's own 'mean'
divides by N*K, which is not a KL divergence). Where p_i > 0 but q_i = 0 the cross-entropy
and KL are +inf, as in the mathematics.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import ClassVar

import torch
from torch import Tensor

from trainlab._validate import check_positive
from trainlab.losses._common import (
    LossModule,
    Reduction,
    check_distribution,
    check_reduction,
    check_same_shape,
    reduce,
    upcast,
)

__all__ = [
    "DistributionCrossEntropy",
    "Entropy",
    "KLDivergence",
    "cross_entropy_of",
    "entropy",
    "kl_divergence",
]


def _scale(base: float | None) -> float:
    if base is None:
        return 1.0
    if check_positive("base", base) == 1:
        raise ValueError(f"base: expected a number > 0 other than 1 (or None: e), got {base!r}")
    return 1.0 / math.log(base)


def _neg_p_log_q(p: Tensor, q: Tensor, log_q: bool) -> Tensor:
    if log_q:
        # p_i = 0 contributes 0 even where log q_i = -inf
        return -torch.where(p == 0, torch.zeros_like(p), p * q)
    return -torch.xlogy(p, q)


def entropy(
    p: Tensor,
    *,
    dim: int = -1,
    base: float | None = None,
    reduction: Reduction = "mean",
    check: bool = True,
) -> Tensor:
    """Shannon entropy ``-sum p log p`` along ``dim`` (0 log 0 = 0)."""
    check_reduction(reduction)
    p = upcast(p)
    if check:
        check_distribution("p", p, dim)
    return reduce(-torch.xlogy(p, p).sum(dim) * _scale(base), reduction)


def logit_entropy(
    logits: Tensor, *, dim: int = -1, base: float | None = None, reduction: Reduction = "mean"
) -> Tensor:
    """Shannon entropy of ``softmax(logits)`` along ``dim``, from ``log_softmax``:
    ``-sum p log p`` with ``log p`` exact and finite for any logits, so its gradient is too
    (``entropy(softmax(z))`` meets 0 log 0 once a probability underflows)."""
    check_reduction(reduction)
    logp = torch.log_softmax(upcast(logits), dim)
    return reduce(-(logp.exp() * logp).sum(dim) * _scale(base), reduction)


def _checked_pair(
    p: Tensor, q: Tensor, *, log_q: bool, dim: int, reduction: Reduction, check: bool
) -> tuple[Tensor, Tensor]:
    """Validate the arguments of a two-distribution loss; return p, q in float32 or wider."""
    check_reduction(reduction)
    check_same_shape("p", p, "q", q)
    p, q = upcast(p), upcast(q)
    if check:
        check_distribution("p", p, dim)
        if not log_q:
            check_distribution("q", q, dim)
    return p, q


def cross_entropy_of(
    p: Tensor,
    q: Tensor,
    *,
    log_q: bool = False,
    dim: int = -1,
    base: float | None = None,
    reduction: Reduction = "mean",
    check: bool = True,
) -> Tensor:
    """Cross-entropy ``H(p, q) = -sum p log q`` of two distributions along ``dim``.

    (For logits and class labels use :func:`trainlab.losses.cross_entropy`.)
    """
    p, q = _checked_pair(p, q, log_q=log_q, dim=dim, reduction=reduction, check=check)
    return reduce(_neg_p_log_q(p, q, log_q).sum(dim) * _scale(base), reduction)


def kl_divergence(
    p: Tensor,
    q: Tensor,
    *,
    log_q: bool = False,
    dim: int = -1,
    base: float | None = None,
    reduction: Reduction = "mean",
    check: bool = True,
) -> Tensor:
    """``KL(p || q) = sum p log(p / q) = H(p, q) - H(p)`` along ``dim``.

    'mean' averages over distributions (torch's 'batchmean' for (N, K) inputs).
    """
    p, q = _checked_pair(p, q, log_q=log_q, dim=dim, reduction=reduction, check=check)
    terms = torch.xlogy(p, p) + _neg_p_log_q(p, q, log_q)
    return reduce(terms.sum(dim) * _scale(base), reduction)


class _TwoDistributionLoss(LossModule):
    """Module form of a loss of two distributions; forward(p, q) (target first, as the maths)."""

    #: the functional form (a staticmethod in each subclass)
    loss: ClassVar[Callable[..., Tensor]]

    def __init__(
        self,
        *,
        log_q: bool = False,
        dim: int = -1,
        base: float | None = None,
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__(reduction)
        _scale(base)
        self.log_q, self.dim, self.base = log_q, dim, base

    def forward(self, p: Tensor, q: Tensor) -> Tensor:
        return type(self).loss(
            p, q, log_q=self.log_q, dim=self.dim, base=self.base, reduction=self.reduction
        )


class KLDivergence(_TwoDistributionLoss):
    """Module form of :func:`kl_divergence`; forward(p, q)."""

    loss = staticmethod(kl_divergence)


class DistributionCrossEntropy(_TwoDistributionLoss):
    """Module form of :func:`cross_entropy_of`; forward(p, q)."""

    loss = staticmethod(cross_entropy_of)


class Entropy(LossModule):
    """Module form of :func:`entropy` (e.g. an entropy bonus or regularizer)."""

    def __init__(
        self, *, dim: int = -1, base: float | None = None, reduction: Reduction = "mean"
    ) -> None:
        super().__init__(reduction)
        _scale(base)
        self.dim, self.base = dim, base

    def forward(self, p: Tensor) -> Tensor:
        return entropy(p, dim=self.dim, base=self.base, reduction=self.reduction)
