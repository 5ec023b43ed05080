"""Running metrics of multi-label classification (independent binary labels).

``update(output, target, loss)`` takes logits (B, C) and multi-hot targets (B, C) (soft
targets are thresholded at 0.5); a label is predicted when its logit is > 0
(probability > 0.5). State per label: tp, fp, fn, tn, plus the count of samples whose
whole label set is right. ``compute()`` gives: loss; ``hamming_acc`` (fraction of correct
label decisions); ``subset_acc`` (fraction of samples with every label right, scikit-learn's
``accuracy_score`` on indicator matrices); ``f1_micro`` (pooled counts) and ``f1_macro``
(mean over all C labels, a label with no positive target or prediction scoring 0), as
scikit-learn's ``f1_score(..., zero_division=0)`` on indicator matrices.
"""

from __future__ import annotations

import torch
from torch import Tensor

from trainlab.metrics.confusion import precision_recall_f1
from trainlab.metrics.running import RunningMetrics

__all__ = ["MultiLabelMetrics"]


class MultiLabelMetrics(RunningMetrics):
    """loss, hamming_acc, subset_acc, f1_micro, f1_macro."""

    primary = "f1_micro"
    higher_is_better = True

    def __init__(self, device: torch.device | str = "cpu", *, num_labels: int | None = None):
        super().__init__(device, num_labels)

    def _allocate(self, size: int) -> None:
        super()._allocate(size)
        self.state["counts"] = self._zeros(4, size, dtype=torch.int64)  # tp, fp, fn, tn
        self.state["exact"] = self._zeros(dtype=torch.int64)

    def _size_from_state(self, state: dict[str, Tensor]) -> int | None:
        return int(state["counts"].shape[1]) if "counts" in state else None  # (4, C)

    def update(self, output: Tensor, target: Tensor, loss: Tensor | float | None = None) -> None:
        if output.dim() != 2 or target.shape != output.shape:
            raise ValueError(
                f"expected logits (B, C) and multi-hot targets (B, C); got output "
                f"{tuple(output.shape)} and target {tuple(target.shape)}"
            )
        self._ensure(output.shape[1])
        pred = output.detach() > 0
        t = target.detach() > 0.5 if target.is_floating_point() else target.detach() != 0
        counts = torch.stack([pred & t, pred & ~t, ~pred & t, ~pred & ~t]).sum(1)  # (4, C)
        self.state["counts"] += counts
        self.state["exact"] += (pred == t).all(1).sum()
        self._add_loss(loss, output.shape[0])

    def compute(self) -> dict[str, float]:
        out = {"loss": self._per_sample("loss_sum")}
        if not self.allocated:
            return out | {"hamming_acc": 0.0, "subset_acc": 0.0, "f1_micro": 0.0, "f1_macro": 0.0}
        tp, fp, fn, tn = self.state["counts"]
        total = max(float(self.state["counts"].sum()), 1.0)
        return out | {
            "hamming_acc": float((tp + tn).sum()) / total,
            "subset_acc": self._per_sample("exact"),
            "f1_micro": precision_recall_f1(tp, fp, fn, "micro")[2],
            "f1_macro": float((2 * tp / (2 * tp + fp + fn).clamp_min(1)).mean()),
        }
