"""Soft targets: class indices or probability rows, label smoothing, mixing of rows."""

from __future__ import annotations

import torch
from torch import Tensor

from trainlab._validate import check_probability

SMOOTHING = ("standard", "notes")


def soft_targets(
    y: Tensor,
    num_classes: int | None,
    *,
    label_smoothing: float = 0.0,
    smoothing: str = "standard",
    dtype: torch.dtype = torch.float32,
) -> Tensor:
    """Class indices (N,) or probability rows (N, K) -> smoothed probability rows (N, K).

    ``smoothing="standard"`` follows PyTorch/timm: (1 - e) * t + e / K (SCOPE.md);
    ``"notes"`` is the notes' convention (F0:80-84, F4:1369): (1 - e) * t + e (1 - t) / (K - 1),
    i.e. 1 - e on the class and e / (K - 1) elsewhere, as trainlab.losses names it.
    """
    check_probability("label_smoothing", label_smoothing)
    if smoothing not in SMOOTHING:
        raise ValueError(f"smoothing: expected one of {SMOOTHING}, got {smoothing!r}")
    if not isinstance(y, Tensor):
        raise TypeError(f"y: expected a torch.Tensor, got {type(y).__name__}")
    if y.dim() == 1 and not y.is_floating_point():
        if num_classes is None or not isinstance(num_classes, int) or num_classes < 1:
            raise ValueError(
                f"num_classes: expected a positive int for class-index targets, got {num_classes!r}"
            )
        if y.numel() and (int(y.min()) < 0 or int(y.max()) >= num_classes):
            raise ValueError(f"y: class indices must lie in [0, {num_classes}), got {y.tolist()}")
        t = torch.zeros(y.shape[0], num_classes, dtype=dtype, device=y.device)
        t.scatter_(1, y.long().unsqueeze(1), 1.0)
    elif y.dim() == 2 and y.is_floating_point():
        if num_classes is not None and y.shape[1] != num_classes:
            raise ValueError(f"y: expected {num_classes} columns, got shape {tuple(y.shape)}")
        t = y.to(dtype)
    else:
        raise ValueError(
            f"y: expected class indices (N,) of an integer dtype or probabilities (N, K), "
            f"got shape {tuple(y.shape)} and dtype {y.dtype}"
        )
    k = t.shape[1]
    if label_smoothing > 0 and smoothing == "standard":
        t = t * (1.0 - label_smoothing) + label_smoothing / k
    elif label_smoothing > 0 and k > 1:  # the notes: 1 - e on the class, e / (K - 1) elsewhere
        t = t * (1.0 - label_smoothing) + (1.0 - t) * (label_smoothing / (k - 1))
    return t


def mix_targets(t: Tensor, lam: Tensor, partner: Tensor) -> Tensor:
    """lam * t + (1 - lam) * t[partner], row by row. ``t`` (N, K), ``lam`` and ``partner`` (N,)."""
    w = lam.to(t.dtype).unsqueeze(1)  # (N, 1)
    return w * t + (1.0 - w) * t.index_select(0, partner)
