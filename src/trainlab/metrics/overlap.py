"""Running segmentation metrics: pixel accuracy, Dice and IoU scores.

``update(output, target, loss)`` takes logits (B, C, *) (C = 1: a binary mask scored by
``logit > 0``; C > 1: argmax) and class indices (B, *) (0/1 for C = 1); pixels equal to
``ignore_index`` are skipped. Per class the state is tp, fp, fn summed over all pixels of
all batches (a dataset-level score, not a mean of per-image scores):

    dice_c = 2 tp / (2 tp + fp + fn)     (= F1 of the class's pixels; F4:1611 set form)
    iou_c  = tp / (tp + fp + fn)         (Jaccard)

``dice`` and ``iou`` average over the classes present in the targets or the predictions;
a class absent from both has no score (it does not count as 0 or 1), and if no class is
present at all both are 1.0 (empty prediction of an empty target: perfect agreement).
For C = 1 the scores are those of the foreground class.
"""

from __future__ import annotations

import torch
from torch import Tensor

from trainlab.metrics.confusion import accumulate_confusion, tp_fp_fn
from trainlab.metrics.running import RunningMetrics

__all__ = ["OverlapMetrics"]


class OverlapMetrics(RunningMetrics):
    """loss, pixel_acc, dice and iou (macro over present classes)."""

    primary = "dice"
    higher_is_better = True

    def __init__(
        self,
        device: torch.device | str = "cpu",
        *,
        num_classes: int | None = None,
        ignore_index: int = -100,
    ) -> None:
        self.ignore_index = ignore_index
        super().__init__(device, num_classes)

    def _allocate(self, size: int) -> None:
        super()._allocate(size)
        self.state["confusion"] = self._zeros(max(size, 2), max(size, 2), dtype=torch.int64)

    def update(self, output: Tensor, target: Tensor, loss: Tensor | float | None = None) -> None:
        output = output.detach()
        expected = (output.shape[0], *output.shape[2:]) if output.dim() >= 2 else None
        if expected is None or target.shape != expected or target.is_floating_point():
            raise ValueError(
                f"expected logits (B, C, *) and integer class indices (B, *); got output "
                f"{tuple(output.shape)} and target {tuple(target.shape)} {target.dtype}"
            )
        c = output.shape[1]
        self._ensure(c)
        pred = (output[:, 0] > 0).long() if c == 1 else output.argmax(1)
        t = target.long()
        keep = t != self.ignore_index
        accumulate_confusion(self.state["confusion"], pred, t.where(keep, 0), keep)
        self._add_loss(loss, output.shape[0])

    def per_class(self) -> tuple[Tensor, Tensor, Tensor]:
        """(dice, iou, present) per class; for C = 1 only the foreground class."""
        tp, fp, fn = (x.double() for x in tp_fp_fn(self.state["confusion"]))
        union = tp + fp + fn
        present = union > 0
        dice = torch.where(present, 2 * tp / (union + tp).clamp_min(1), torch.ones_like(tp))
        iou = torch.where(present, tp / union.clamp_min(1), torch.ones_like(tp))
        if self._size == 1:
            return dice[1:], iou[1:], present[1:]
        return dice, iou, present

    def compute(self) -> dict[str, float]:
        out = {"loss": self._per_sample("loss_sum")}
        if not self.allocated:
            return out | {"pixel_acc": 0.0, "dice": 1.0, "iou": 1.0}
        cm = self.state["confusion"]
        dice, iou, present = self.per_class()
        any_present = bool(present.any())
        return out | {
            "pixel_acc": float(cm.diagonal().sum()) / max(float(cm.sum()), 1.0),
            "dice": float(dice[present].mean()) if any_present else 1.0,
            "iou": float(iou[present].mean()) if any_present else 1.0,
        }
