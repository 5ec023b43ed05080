"""Overlap losses for segmentation: Dice and soft IoU (Jaccard) (F4:1600-1660).

Predictions ``p`` (N, C, *) are per-class probabilities (C = 1: a binary mask; pass
``from_logits=True`` to apply sigmoid (C = 1) or softmax (C > 1) here), targets ``g`` are
either the same shape (one-hot, binary or soft masks) or class indices (N, *). For each
sample and class, summing over the pixels i:

    dice_c = (2 sum_i p_i g_i + eps) / (sum_i p_i^2 + sum_i g_i^2 + eps)    squared (F4:1623)
    dice_c = (2 sum_i p_i g_i + eps) / (sum_i p_i   + sum_i g_i   + eps)    linear (set form)
    iou_c  = (sum_i p_i g_i + eps) / (sum_i p_i + sum_i g_i - sum_i p_i g_i + eps)

and the loss of a sample is ``mean_c (1 - dice_c)``, or ``sum_c w_c (1 - dice_c)`` with
class weights (the notes' weighted form F4:1634; weights are used as given, so pass
weights summing to 1 for a weighted mean). The squared and linear forms agree for binary
predictions (the set form ``2|A n B| / (|A| + |B|)``, F4:1611), e.g. the notes' 3-pixel
target: a complete miss gives 1.0, 2 of 3 pixels 0.2, 3 of 3 plus one extra 1/7
(F4:1646-1652).

With class-index targets, pixels equal to ``ignore_index`` (e.g. -100, the value
``trainlab.data`` gives unlabelled mask pixels) are dropped from every sum: both their
prediction and their target count as 0 in every class.

Empty masks: a class absent from both prediction and target has a zero denominator;
its score is defined as 1 (perfect agreement, loss 0) whatever ``eps``, so ``eps=0`` is
safe and never gives NaN. ``batch_dice=True`` sums over the whole batch before dividing
(one score per class), which is stabler for tiny objects; the result is then a scalar.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from trainlab._validate import check_positive
from trainlab.losses._common import (
    LossModule,
    Reduction,
    check_reduction,
    class_weights,
    reduce,
    upcast,
)

__all__ = ["DiceLoss", "SoftIoULoss", "dice_loss", "overlap_sums", "soft_iou_loss"]


def _probs_and_onehot(
    input: Tensor, target: Tensor, from_logits: bool, ignore_index: int | None = None
) -> tuple[Tensor, Tensor]:
    if input.dim() < 2 or not input.is_floating_point():
        raise ValueError(
            f"input must be floating (N, C, *) with C = 1 for binary masks; got "
            f"{tuple(input.shape)} {input.dtype}"
        )
    p = upcast(input)
    num_classes = p.shape[1]
    if from_logits:
        p = torch.sigmoid(p) if num_classes == 1 else torch.softmax(p, dim=1)
    if target.shape == input.shape:
        return p, target.to(p.dtype)
    expected = (input.shape[0], *input.shape[2:])
    if target.shape != expected or target.is_floating_point():
        raise ValueError(
            f"target must have the input's shape {tuple(input.shape)} or be class indices of "
            f"shape {expected}; got {tuple(target.shape)} {target.dtype}"
        )
    t = target.long()
    valid = None if ignore_index is None else t != ignore_index  # (N, *)
    if valid is not None:
        t = t.where(valid, 0)
    hi = 1 if num_classes == 1 else num_classes - 1
    if t.numel() and (int(t.min()) < 0 or int(t.max()) > hi):
        raise ValueError(
            f"class index out of range: target has values in [{int(t.min())}, {int(t.max())}]; "
            f"expected 0..{hi} for {num_classes} channel(s)"
        )
    if num_classes == 1:
        g = t.unsqueeze(1).to(p.dtype)
    else:
        g = F.one_hot(t, num_classes).movedim(-1, 1).to(p.dtype)  # (N, *, C) -> (N, C, *)
    if valid is not None:  # ignored pixels: no prediction, no target
        keep = valid.unsqueeze(1).to(p.dtype)  # (N, 1, *)
        p, g = p * keep, g * keep
    return p, g


def overlap_sums(
    input: Tensor,
    target: Tensor,
    *,
    squared: bool = False,
    from_logits: bool = False,
    batch: bool = False,
    ignore_index: int | None = None,
) -> tuple[Tensor, Tensor, Tensor]:
    """(intersection, prediction size, target size), each (N, C) (or (C,) with ``batch``)."""
    p, g = _probs_and_onehot(input, target, from_logits, ignore_index)
    dims = tuple(range(2, p.dim()))
    if batch:
        dims = (0, *dims)
    inter = (p * g).sum(dims) if dims else p * g
    if squared:
        p, g = p.square(), g.square()
    size_p = p.sum(dims) if dims else p
    size_g = g.sum(dims) if dims else g
    return inter, size_p, size_g


def _ratio(num: Tensor, den: Tensor) -> Tensor:
    # 0/0 (class absent from prediction and target) -> 1; safe denominator keeps grads finite
    empty = den == 0
    return torch.where(empty, torch.ones_like(num), num / den.masked_fill(empty, 1.0))


def _combine(loss_c: Tensor, weight: Tensor | None, reduction: str, batch: bool) -> Tensor:
    # loss_c: (N, C) or (C,)
    num_classes = loss_c.shape[-1]
    if weight is None:
        loss = loss_c.mean(-1)
    else:
        loss = (loss_c * class_weights(weight, num_classes, loss_c)).sum(-1)
    return loss if batch else reduce(loss, reduction)


def dice_loss(
    input: Tensor,
    target: Tensor,
    *,
    squared: bool = True,
    eps: float = 1e-5,
    weight: Tensor | None = None,
    from_logits: bool = False,
    batch_dice: bool = False,
    reduction: Reduction = "mean",
    ignore_index: int | None = None,
) -> Tensor:
    """Dice loss ``1 - dice`` averaged (or weighted) over classes; see the module docstring.

    ``reduction`` acts over samples ('none' gives (N,)); ignored with ``batch_dice``.
    """
    check_reduction(reduction)
    check_positive("eps", eps, allow_zero=True)
    inter, sp, sg = overlap_sums(
        input, target, squared=squared, from_logits=from_logits, batch=batch_dice,
        ignore_index=ignore_index,
    )  # fmt: skip
    dice = _ratio(2 * inter + eps, sp + sg + eps)
    return _combine(1 - dice, weight, reduction, batch_dice)


def soft_iou_loss(
    input: Tensor,
    target: Tensor,
    *,
    eps: float = 1e-5,
    weight: Tensor | None = None,
    from_logits: bool = False,
    batch_iou: bool = False,
    reduction: Reduction = "mean",
) -> Tensor:
    """Soft IoU (Jaccard) loss ``1 - (I + eps) / (|P| + |G| - I + eps)``, per class."""
    check_reduction(reduction)
    check_positive("eps", eps, allow_zero=True)
    inter, sp, sg = overlap_sums(input, target, from_logits=from_logits, batch=batch_iou)
    iou = _ratio(inter + eps, sp + sg - inter + eps)
    return _combine(1 - iou, weight, reduction, batch_iou)


class DiceLoss(LossModule):
    """Module form of :func:`dice_loss`; class ``weight`` is a buffer."""

    weight: Tensor | None

    def __init__(
        self,
        *,
        squared: bool = True,
        eps: float = 1e-5,
        weight: Tensor | None = None,
        from_logits: bool = False,
        batch_dice: bool = False,
        reduction: Reduction = "mean",
        ignore_index: int | None = None,
    ) -> None:
        super().__init__(reduction)
        check_positive("eps", eps, allow_zero=True)
        self.squared, self.eps = squared, float(eps)
        self.from_logits, self.batch_dice = from_logits, batch_dice
        self.ignore_index = ignore_index
        self.register_buffer("weight", weight)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return dice_loss(
            input, target, squared=self.squared, eps=self.eps, weight=self.weight,
            from_logits=self.from_logits, batch_dice=self.batch_dice, reduction=self.reduction,
            ignore_index=self.ignore_index,
        )  # fmt: skip


class SoftIoULoss(LossModule):
    """Module form of :func:`soft_iou_loss`."""

    weight: Tensor | None

    def __init__(
        self,
        *,
        eps: float = 1e-5,
        weight: Tensor | None = None,
        from_logits: bool = False,
        batch_iou: bool = False,
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__(reduction)
        check_positive("eps", eps, allow_zero=True)
        self.eps, self.from_logits, self.batch_iou = float(eps), from_logits, batch_iou
        self.register_buffer("weight", weight)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return soft_iou_loss(
            input, target, eps=self.eps, weight=self.weight, from_logits=self.from_logits,
            batch_iou=self.batch_iou, reduction=self.reduction,
        )  # fmt: skip
