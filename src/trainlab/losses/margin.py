"""Margin losses: hinge (binary and multi-class) and soft-margin (F4:1480-1597).

With labels y in {-1, +1} and raw scores f (no sigmoid):

    hinge        max(0, margin - y f)                                  (F4:1525)
    soft_margin  log(1 + exp(-y f)) = softplus(-y f)                   (F4:1500)

soft-margin is binary cross-entropy with logits under y01 = (y + 1) / 2 (F4:1486-1502).
The multi-class hinge (Crammer-Singer style sum, as ``torch.nn.MultiMarginLoss``) is

    sum_{j != y} w_y max(0, margin - f_y + f_j)^p / K                  (p = 1 or 2)

and the soft-margin SVM objective is ``1/2 ||w||^2 + C sum_i hinge_i`` (F4:1557).

``soft_margin_loss`` equals ``F.soft_margin_loss`` and ``multiclass_hinge_loss`` equals
``F.multi_margin_loss``; the softplus form here stays finite where torch's
``log1p(exp(-y f))`` overflows (y f < -88 in float32). The binary hinge has no torch
twin (``hinge_embedding_loss`` is a different loss over distances) and is verified
by gradcheck.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from trainlab._validate import check_positive
from trainlab.losses._common import (
    LossModule,
    Reduction,
    check_class_range,
    check_reduction,
    class_weights,
    prepare_pair,
    reduce,
    upcast,
)

__all__ = [
    "HingeLoss",
    "MultiClassHingeLoss",
    "SoftMarginLoss",
    "hinge_loss",
    "multiclass_hinge_loss",
    "soft_margin_loss",
    "svm_objective",
]


def _signed(input: Tensor, target: Tensor, reduction: str, check: bool) -> tuple[Tensor, Tensor]:
    x, y = prepare_pair(input, target, reduction)
    if check and y.numel() and not bool(((y == 1) | (y == -1)).all()):
        bad = y[(y != 1) & (y != -1)]
        raise ValueError(
            f"target must hold labels -1 or +1; got value {float(bad[0]):g} "
            "(convert {0, 1} labels with y = 2 * y01 - 1)"
        )
    return x, y


def hinge_loss(
    input: Tensor,
    target: Tensor,
    *,
    margin: float = 1.0,
    reduction: Reduction = "mean",
    check_targets: bool = True,
) -> Tensor:
    """Binary hinge ``max(0, margin - y f)`` for labels y in {-1, +1} (F4:1525)."""
    check_positive("margin", margin, allow_zero=True)
    x, y = _signed(input, target, reduction, check_targets)
    return reduce(F.relu(margin - y * x), reduction)


def soft_margin_loss(
    input: Tensor, target: Tensor, *, reduction: Reduction = "mean", check_targets: bool = True
) -> Tensor:
    """Soft-margin (logistic) loss ``softplus(-y f)``; equals ``F.soft_margin_loss``."""
    x, y = _signed(input, target, reduction, check_targets)
    return reduce(F.softplus(-y * x), reduction)


def multiclass_hinge_loss(
    input: Tensor,
    target: Tensor,
    *,
    p: int = 1,
    margin: float = 1.0,
    weight: Tensor | None = None,
    reduction: Reduction = "mean",
    check_targets: bool = True,
) -> Tensor:
    """Multi-class hinge of scores (N, K) against class indices (N,); equals
    ``F.multi_margin_loss``. Per sample: ``sum_{j!=y} w_y max(0, margin - f_y + f_j)^p / K``.
    """
    check_reduction(reduction)
    if p not in (1, 2):
        raise ValueError(f"p={p!r}; expected 1 or 2")
    check_positive("margin", margin, allow_zero=True)
    if input.dim() != 2 or target.shape != (input.shape[0],):
        raise ValueError(
            f"expected input (N, K) and target (N,); got input {tuple(input.shape)} and "
            f"target {tuple(target.shape)}"
        )
    num_classes = input.shape[1]
    if check_targets:
        check_class_range(target, num_classes)
    x = upcast(input)
    t = target.long()
    x_y = x.gather(1, t.unsqueeze(1))  # (N, 1)
    terms = F.relu(margin - x_y + x)  # (N, K); the j = y term is max(0, margin): drop it
    if p == 2:
        terms = terms.square()
    terms = terms.scatter(1, t.unsqueeze(1), 0.0)
    loss = terms.sum(1) / num_classes  # (N,)
    if weight is not None:
        loss = loss * class_weights(weight, num_classes, loss)[t]
    return reduce(loss, reduction)


def svm_objective(
    weight: Tensor,
    scores: Tensor,
    target: Tensor,
    *,
    C: float = 1.0,
) -> Tensor:
    """Soft-margin SVM objective ``1/2 ||w||^2 + C sum_i max(0, 1 - y_i f_i)`` (F4:1557).

    ``scores`` are ``f_i = w^T x_i + b`` computed by the caller (the bias b is not
    penalized); ``weight`` is w.
    """
    check_positive("C", C)
    reg = 0.5 * upcast(weight).square().sum()
    return reg + C * hinge_loss(scores, target, reduction="sum")


class HingeLoss(LossModule):
    """Module form of :func:`hinge_loss`."""

    def __init__(self, margin: float = 1.0, *, reduction: Reduction = "mean") -> None:
        super().__init__(reduction)
        check_positive("margin", margin, allow_zero=True)
        self.margin = float(margin)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return hinge_loss(input, target, margin=self.margin, reduction=self.reduction)


class SoftMarginLoss(LossModule):
    """Module form of :func:`soft_margin_loss`."""

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return soft_margin_loss(input, target, reduction=self.reduction)


class MultiClassHingeLoss(LossModule):
    """Module form of :func:`multiclass_hinge_loss`."""

    weight: Tensor | None

    def __init__(
        self,
        p: int = 1,
        margin: float = 1.0,
        weight: Tensor | None = None,
        *,
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__(reduction)
        if p not in (1, 2):
            raise ValueError(f"p={p!r}; expected 1 or 2")
        check_positive("margin", margin, allow_zero=True)
        self.p, self.margin = p, float(margin)
        self.register_buffer("weight", weight)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return multiclass_hinge_loss(
            input, target, p=self.p, margin=self.margin, weight=self.weight,
            reduction=self.reduction,
        )  # fmt: skip
