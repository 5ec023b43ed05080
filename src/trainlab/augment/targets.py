"""Soft targets: class indices or probability rows, label smoothing, mixing of rows."""

from __future__ import annotations

import torch
from torch import Tensor

from ._common import check_probability


def soft_targets(
    y: Tensor,
    num_classes: int | None,
    *,
    label_smoothing: float = 0.0,
    dtype: torch.dtype = torch.float32,
) -> Tensor:
    """Class indices (N,) or probability rows (N, K) -> smoothed probability rows (N, K).

    Smoothing follows PyTorch/timm: (1 - e) * t + e / K (SCOPE.md; F0:80-84 use 1 - e and
    e / (K - 1), which trainlab.losses offers by name).
    """
    check_probability(label_smoothing, "label_smoothing")
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
    if label_smoothing > 0:
        t = t * (1.0 - label_smoothing) + label_smoothing / t.shape[1]
    return t


def mix_targets(t: Tensor, lam: Tensor, partner: Tensor) -> Tensor:
    """lam * t + (1 - lam) * t[partner], row by row. ``t`` (N, K), ``lam`` and ``partner`` (N,)."""
    w = lam.to(t.dtype).unsqueeze(1)  # (N, 1)
    return w * t + (1.0 - w) * t.index_select(0, partner)
