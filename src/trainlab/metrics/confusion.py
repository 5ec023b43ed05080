"""Confusion matrix and the precision / recall / F1 read from it.

``cm[i, j]`` counts samples of true class i predicted as class j (scikit-learn's layout).
For class c: tp = cm[c, c], fp = column sum - tp, fn = row sum - tp, and

    precision_c = tp / (tp + fp),  recall_c = tp / (tp + fn),  F1_c = 2 tp / (2 tp + fp + fn)

'macro' averages the per-class values over the classes that occur in the targets or the
predictions (scikit-learn's default label set); a 0/0 value counts as 0 (scikit-learn's
``zero_division=0``). 'micro' pools tp, fp, fn over classes; for single-label
classification micro precision = recall = F1 = accuracy.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

__all__ = ["accumulate_confusion", "confusion_matrix", "precision_recall_f1", "tp_fp_fn"]


def confusion_matrix(
    pred: Tensor,
    target: Tensor,
    num_classes: int,
    *,
    weight: Tensor | None = None,
    check: bool = True,
) -> Tensor:
    """(K, K) int64 counts of (target, prediction) pairs; inputs are class indices.

    ``weight`` (0/1 per sample) drops samples without indexing (no host synchronization);
    ``check=False`` skips the range check, which reads values from the device.
    """
    if pred.shape != target.shape:
        raise ValueError(
            f"pred and target must have the same shape; got {tuple(pred.shape)} and "
            f"{tuple(target.shape)}"
        )
    t, p = target.reshape(-1).long(), pred.reshape(-1).long()
    if check and t.numel():
        lo, hi = int(torch.minimum(t.min(), p.min())), int(torch.maximum(t.max(), p.max()))
        if lo < 0 or hi >= num_classes:
            raise ValueError(
                f"class index out of range: values in [{lo}, {hi}] for {num_classes} classes"
            )
    idx = t * num_classes + p
    size = num_classes * num_classes
    w = None if weight is None else weight.reshape(-1).double()
    try:
        flat = torch.bincount(idx, weights=w, minlength=size)
    except RuntimeError as e:  # negative indices
        raise ValueError(f"class index out of range for {num_classes} classes: {e}") from None
    if flat.numel() != size:
        raise ValueError(f"class index out of range: a value is >= num_classes={num_classes}")
    return (
        flat.view(num_classes, num_classes)
        if w is None
        else flat.round().long().view(num_classes, num_classes)
    )


def accumulate_confusion(
    cm: Tensor, pred: Tensor, target: Tensor, weight: Tensor | None = None
) -> None:
    """Add (target, prediction) pairs into the (K, K) int64 matrix ``cm`` in place.

    One scatter-add into ``cm`` (no K*K temporary, no host synchronization); ``weight``
    (0/1 per sample) drops samples. An index out of range raises ValueError on the CPU;
    accelerators report it asynchronously (validate targets in the loss).
    """
    k = cm.shape[0]
    idx = target.reshape(-1).long() * k + pred.reshape(-1).long()
    ones = torch.ones_like(idx) if weight is None else weight.reshape(-1).to(torch.int64)
    try:
        cm.view(-1).index_add_(0, idx, ones)
    except (IndexError, RuntimeError) as e:
        raise ValueError(f"class index out of range for {k} classes: {e}") from None


def tp_fp_fn(cm: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Per-class true positives, false positives and false negatives of a confusion matrix."""
    tp = cm.diagonal()
    return tp, cm.sum(0) - tp, cm.sum(1) - tp


def _div(num: Tensor, den: Tensor) -> Tensor:
    return torch.where(den > 0, num / den.clamp_min(1), torch.zeros_like(num))


def precision_recall_f1(
    tp: Tensor, fp: Tensor, fn: Tensor, average: Literal["macro", "micro"] = "macro"
) -> tuple[float, float, float]:
    """(precision, recall, F1) from per-class counts, averaged as the module docstring says."""
    tp, fp, fn = tp.double(), fp.double(), fn.double()
    if average == "micro":
        tp, fp, fn = tp.sum(), fp.sum(), fn.sum()
        return (
            float(_div(tp, tp + fp)),
            float(_div(tp, tp + fn)),
            float(_div(2 * tp, 2 * tp + fp + fn)),
        )
    if average != "macro":
        raise ValueError(f"average={average!r}; expected 'macro' or 'micro'")
    present = (tp + fp + fn) > 0
    if not bool(present.any()):
        return 0.0, 0.0, 0.0
    prec, rec = _div(tp, tp + fp)[present], _div(tp, tp + fn)[present]
    f1 = _div(2 * tp, 2 * tp + fp + fn)[present]
    return float(prec.mean()), float(rec.mean()), float(f1.mean())
