"""Losses of one target form fed with another task's targets (used by the loss registry).

* ``NLLOfLogits``: PyTorch's ``NLLLoss`` takes log-probabilities (F4:1394); a trainlab model
  returns logits, so this applies ``log_softmax`` over dim 1 first:
  ``nll(log_softmax(x), y) = logsumexp(x) - x_y``, which is the cross-entropy without label
  smoothing. Equals ``F.nll_loss(F.log_softmax(x, 1), y, weight, ignore_index=...)`` for
  logits (N, K, *) and class indices (N, *); soft targets are refused.
* ``OneHotBCEWithLogits``: single-label classification trained with a binary cross-entropy
  per class (timm's ``BinaryCrossEntropy``, "ResNet strikes back"): class indices become
  one-hot (N, K) rows (smoothed ``a + b * onehot`` in the chosen convention, as
  cross-entropy's), soft (Mixup) targets are used as they are (smoothed once unless
  ``soft_targets_smoothed``), then ``binary_cross_entropy_with_logits`` with ``pos_weight``.
* ``SignedSoftMargin``: multi-hot targets t in {0, 1} become y = 2 t - 1 in {-1, +1} for
  ``soft_margin_loss`` ``softplus(-y f)`` (F4:1500), averaged over every label of every
  sample. That is BCE-with-logits on t (F4:1486-1502) and differs from torch's
  ``MultiLabelSoftMarginLoss`` only in taking one mean over N x C instead of per sample.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from trainlab.losses._common import LossModule, Reduction, check_class_range, upcast
from trainlab.losses.classification import (
    Smoothing,
    binary_cross_entropy_with_logits,
    smooth_labels,
    smoothing_coefficients,
)
from trainlab.losses.margin import soft_margin_loss

__all__ = ["NLLOfLogits", "OneHotBCEWithLogits", "SignedSoftMargin", "nll_of_logits"]


def _refuse_soft(name: str, target: Tensor) -> None:
    if target.is_floating_point():
        raise ValueError(
            f"{name} takes class indices (N, *); got floating targets {tuple(target.shape)} "
            "(Mixup/CutMix soft targets need cross_entropy or bce_with_logits)"
        )


def nll_of_logits(
    input: Tensor,
    target: Tensor,
    *,
    weight: Tensor | None = None,
    ignore_index: int = -100,
    reduction: Reduction = "mean",
    check_targets: bool = True,
) -> Tensor:
    """``F.nll_loss(F.log_softmax(input, 1), target, ...)``: logits (N, K, *), indices (N, *)."""
    _refuse_soft("nll", target)
    if check_targets:
        check_class_range(target, input.shape[1], ignore_index)
    logp = F.log_softmax(upcast(input), dim=1)  # (N, K, *)
    w = None if weight is None else weight.to(logp)
    return F.nll_loss(logp, target.long(), w, ignore_index=ignore_index, reduction=reduction)


class NLLOfLogits(LossModule):
    """Module form of :func:`nll_of_logits`; ``weight`` (K,) is a buffer."""

    weight: Tensor | None

    def __init__(
        self,
        weight: Tensor | None = None,
        *,
        ignore_index: int = -100,
        reduction: Reduction = "mean",
        check_targets: bool = True,
    ) -> None:
        super().__init__(reduction)
        self.register_buffer("weight", weight)
        self.ignore_index, self.check_targets = int(ignore_index), check_targets

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return nll_of_logits(
            input, target, weight=self.weight, ignore_index=self.ignore_index,
            reduction=self.reduction, check_targets=self.check_targets,
        )  # fmt: skip


class OneHotBCEWithLogits(LossModule):
    """BCE-with-logits of logits (N, K) against one-hot class targets (see module docstring)."""

    pos_weight: Tensor | None

    def __init__(
        self,
        *,
        pos_weight: Tensor | None = None,
        label_smoothing: float = 0.0,
        smoothing: Smoothing = "standard",
        soft_targets_smoothed: bool = False,
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__(reduction)
        smoothing_coefficients(label_smoothing, 2, smoothing)  # validate early
        self.register_buffer("pos_weight", pos_weight)
        self.label_smoothing, self.smoothing = float(label_smoothing), smoothing
        self.soft_targets_smoothed = soft_targets_smoothed

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        if input.dim() != 2:
            raise ValueError(f"expected logits (N, K); got input {tuple(input.shape)}")
        presmoothed = self.soft_targets_smoothed and target.is_floating_point()
        eps = 0.0 if presmoothed else self.label_smoothing
        q = smooth_labels(target, input.shape[1], eps, smoothing=self.smoothing, dtype=input.dtype)
        return binary_cross_entropy_with_logits(
            input, q, pos_weight=self.pos_weight, reduction=self.reduction
        )


class SignedSoftMargin(LossModule):
    """``soft_margin_loss(input, 2 * target - 1)`` for multi-hot 0/1 targets (N, C);
    ``check_targets`` verifies the labels are 0/1 (a device sync per call)."""

    def __init__(self, *, reduction: Reduction = "mean", check_targets: bool = True) -> None:
        super().__init__(reduction)
        self.check_targets = check_targets

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        signed = 2 * target.to(upcast(input).dtype) - 1  # {0, 1} -> {-1, +1}
        return soft_margin_loss(
            input, signed, reduction=self.reduction, check_targets=self.check_targets
        )
