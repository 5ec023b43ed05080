"""Running metrics of single-label classification.

``update(output, target, loss)`` takes logits (B, K) (or (B, K, *) for dense prediction),
targets as class indices (B,) / (B, *) or as probabilities (B, K) (mixed labels: their
argmax is the class scored), and the batch's mean loss. Targets equal to ``ignore_index``
are skipped. State: the loss sum, the sample count, the K x K confusion matrix, per-k
top-k hit counts and the calibration bins, all sums.

``compute()`` gives: loss; acc; ``top{k}_acc`` for each k < K in ``topk``; precision, recall
and F1, macro and micro (see :mod:`trainlab.metrics.confusion`); ece (15 bins by default).
With ``detailed=False`` (per-epoch rows in a training loop) it gives loss and acc only,
and ``update`` skips the top-k and calibration work.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor

from trainlab.metrics.calibration import calibration_bins, expected_calibration_error
from trainlab.metrics.confusion import accumulate_confusion, precision_recall_f1, tp_fp_fn
from trainlab.metrics.running import RunningMetrics

__all__ = ["ClassificationMetrics"]


class ClassificationMetrics(RunningMetrics):
    """loss, acc, top-k, precision/recall/F1 (macro, micro), ECE and the confusion matrix."""

    primary = "acc"
    higher_is_better = True

    def __init__(
        self,
        device: torch.device | str = "cpu",
        *,
        num_classes: int | None = None,
        topk: tuple[int, ...] = (5,),
        ece_bins: int = 15,
        ignore_index: int = -100,
        detailed: bool = True,
    ) -> None:
        if num_classes is not None and num_classes < 1:
            raise ValueError(f"num_classes={num_classes}; expected a positive integer")
        if any(k < 1 for k in topk):
            raise ValueError(f"topk={topk}; expected positive integers")
        if ece_bins < 1:
            raise ValueError(f"ece_bins={ece_bins}; expected a positive integer")
        self.topk = tuple(sorted(set(topk)))
        self.ece_bins = ece_bins
        self.ignore_index = ignore_index
        self.detailed = detailed
        super().__init__(device, num_classes)

    def _allocate(self, size: int) -> None:
        super()._allocate(size)
        if not self.detailed:  # the short set needs two counts, not a K x K matrix
            self.state["correct"] = self._zeros(dtype=torch.int64)
            self.state["counted"] = self._zeros(dtype=torch.int64)
            return
        self.state["confusion"] = self._zeros(size, size, dtype=torch.int64)
        if self.detailed:
            self.state["topk_hits"] = self._zeros(len(self.topk), dtype=torch.int64)
            self.state["ece_bins"] = self._zeros(3, self.ece_bins)

    @property
    def num_classes(self) -> int | None:
        return self._size

    def update(self, output: Tensor, target: Tensor, loss: Tensor | float | None = None) -> None:
        output = output.detach()
        if output.dim() < 2:
            raise ValueError(f"output must be logits (B, K, *); got shape {tuple(output.shape)}")
        k = output.shape[1]
        self._ensure(k)
        n_batch = output.shape[0]
        logits = output.movedim(1, -1).reshape(-1, k)  # (M, K) with M = B * prod(*)
        if target.is_floating_point():
            if target.shape != output.shape:
                raise ValueError(
                    f"soft targets must have the output's shape {tuple(output.shape)}; got "
                    f"{tuple(target.shape)}"
                )
            t = target.detach().movedim(1, -1).reshape(-1, k).argmax(1)
        else:
            expected = (output.shape[0], *output.shape[2:])
            if target.shape != expected:
                raise ValueError(
                    f"class-index targets must have shape {expected} for output "
                    f"{tuple(output.shape)}; got {tuple(target.shape)}"
                )
            t = target.reshape(-1).long()
        # ignored targets are weighted out rather than indexed out: no host synchronization
        keep = t != self.ignore_index  # (M,)
        t = t.where(keep, 0)
        pred = logits.argmax(1)
        if not self.detailed:
            self.state["correct"] += ((pred == t) & keep).sum()
            self.state["counted"] += keep.sum()
            self._add_loss(loss, n_batch)
            return
        accumulate_confusion(self.state["confusion"], pred, t, keep)
        if self.detailed:
            hits = [
                ((logits.topk(min(kk, k), dim=1).indices == t.unsqueeze(1)).any(1) & keep).sum()
                for kk in self.topk
            ]
            if hits:
                self.state["topk_hits"] += torch.stack(hits)
            # softmax in float32 at least, so float16 logits give calibrated confidences
            conf = torch.softmax(logits.float(), 1).amax(1)
            self.state["ece_bins"] += calibration_bins(conf, pred == t, self.ece_bins, weight=keep)
        self._add_loss(loss, n_batch)

    def confusion_matrix(self) -> Tensor:
        """The accumulated (K, K) confusion matrix (rows: true class, columns: predicted)."""
        if not self.allocated:
            raise ValueError("no batch was added yet, so the number of classes is unknown")
        if not self.detailed:
            raise ValueError("the confusion matrix is kept with detailed=True only")
        return self.state["confusion"].cpu()

    def compute(self) -> dict[str, float]:
        out = {"loss": self._per_sample("loss_sum")}
        if not self.allocated:
            return out | {"acc": 0.0}
        if not self.detailed:
            out["acc"] = float(self.state["correct"]) / max(float(self.state["counted"]), 1.0)
            return out
        cm = self.state["confusion"]
        n = max(float(cm.sum()), 1.0)
        out["acc"] = float(cm.diagonal().sum()) / n
        for kk, hits in zip(self.topk, self.state["topk_hits"].tolist(), strict=True):
            if kk < cm.shape[0]:
                out[f"top{kk}_acc"] = hits / n
        tp, fp, fn = tp_fp_fn(cm)
        for average in ("macro", "micro"):
            p, r, f1 = precision_recall_f1(tp, fp, fn, average)
            out |= {f"precision_{average}": p, f"recall_{average}": r, f"f1_{average}": f1}
        out["ece"] = expected_calibration_error(self.state["ece_bins"])
        return out

    def save_confusion_matrix(
        self, path: str | Path, *, class_names: list[str] | None = None, normalize: bool = False
    ) -> Path:
        """Save the confusion matrix as a PNG (see :func:`trainlab.metrics.plot`)."""
        from trainlab.metrics.plot import save_confusion_matrix

        return save_confusion_matrix(
            self.confusion_matrix(), path, class_names=class_names, normalize=normalize
        )
