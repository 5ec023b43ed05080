"""Reconstruction losses averaged only over selected (masked) elements (F4:1782-1876).

Denoising and masked autoencoders score the reconstruction only where the input was
hidden (MAE: "only the masked patches' loss", F4:1840-1848; BERT: only [MASK] positions):

    loss = sum_i m_i l(x_hat_i, x_i) / sum_i m_i

with ``l`` the elementwise MSE, L1, BCE (probabilities) or BCE-with-logits and ``m`` the
mask (bool or 0/1; 1 = the element counts, i.e. in MAE the *hidden* patch). The mask
may be the input's shape, broadcastable to it, or a leading prefix of it: an MAE patch mask
(B, L) over patches (B, L, D) selects whole patches, and the mean divides by the number
of selected *elements* (B-L-D entries), which equals MAE's per-patch mean averaged over
masked patches.

Reductions: 'mean' as above; 'sum' is ``sum_i m_i l_i``; 'none' returns ``m * l`` in the
input's shape (zeros where unselected). An empty mask gives 0 for 'mean' (documented;
0/0 would be NaN) with zero gradient. With a full mask the losses equal
``F.mse_loss``/``F.l1_loss``/``F.binary_cross_entropy(_with_logits)``, and in general
``F.mse_loss(x_hat[m], x[m])``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import torch
from torch import Tensor

from trainlab.losses._common import LossModule, Reduction, check_reduction
from trainlab.losses.classification import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
)
from trainlab.losses.regression import l1_loss, mse_loss

ReconstructionKind = Literal["mse", "l1", "bce", "bce_with_logits"]
# each takes (input, target, reduction=...) and checks that the shapes agree
_ELEMENTWISE: dict[str, Callable[..., Tensor]] = {
    "mse": mse_loss,
    "l1": l1_loss,
    "bce": binary_cross_entropy,
    "bce_with_logits": binary_cross_entropy_with_logits,
}
KINDS = tuple(_ELEMENTWISE)

__all__ = [
    "MaskedReconstructionLoss",
    "masked_bce_loss",
    "masked_bce_with_logits_loss",
    "masked_l1_loss",
    "masked_mse_loss",
    "masked_reconstruction_loss",
]


def _expand_mask(mask: Tensor, shape: torch.Size) -> Tensor:
    if mask.dim() < len(shape) and mask.shape == shape[: mask.dim()]:
        mask = mask.reshape(*mask.shape, *([1] * (len(shape) - mask.dim())))  # prefix mask
    try:
        return mask.expand(shape)
    except RuntimeError:
        raise ValueError(
            f"mask of shape {tuple(mask.shape)} must match, broadcast to, or be a leading "
            f"prefix of the input's shape {tuple(shape)}"
        ) from None


def masked_reconstruction_loss(
    input: Tensor,
    target: Tensor,
    mask: Tensor,
    *,
    kind: ReconstructionKind = "mse",
    reduction: Reduction = "mean",
) -> Tensor:
    """Elementwise ``kind`` loss of ``input`` against ``target``, reduced over ``mask`` only."""
    check_reduction(reduction)
    if kind not in _ELEMENTWISE:
        raise ValueError(f"kind={kind!r}; expected one of {', '.join(KINDS)}")
    loss = _ELEMENTWISE[kind](input, target, reduction="none")
    m = _expand_mask(mask.to(loss.device), loss.shape).to(loss.dtype)
    weighted = loss * m
    if reduction == "none":
        return weighted
    total = weighted.sum()
    if reduction == "sum":
        return total
    # an empty mask has total == 0, so clamping the count gives 0 (not NaN), without a sync
    return total / m.sum().clamp_min(torch.finfo(total.dtype).tiny)


def masked_mse_loss(
    input: Tensor, target: Tensor, mask: Tensor, *, reduction: Reduction = "mean"
) -> Tensor:
    """Squared error averaged over the masked elements."""
    return masked_reconstruction_loss(input, target, mask, kind="mse", reduction=reduction)


def masked_l1_loss(
    input: Tensor, target: Tensor, mask: Tensor, *, reduction: Reduction = "mean"
) -> Tensor:
    """Absolute error averaged over the masked elements."""
    return masked_reconstruction_loss(input, target, mask, kind="l1", reduction=reduction)


def masked_bce_loss(
    input: Tensor, target: Tensor, mask: Tensor, *, reduction: Reduction = "mean"
) -> Tensor:
    """Binary cross-entropy of probabilities averaged over the masked elements."""
    return masked_reconstruction_loss(input, target, mask, kind="bce", reduction=reduction)


def masked_bce_with_logits_loss(
    input: Tensor, target: Tensor, mask: Tensor, *, reduction: Reduction = "mean"
) -> Tensor:
    """Binary cross-entropy of logits averaged over the masked elements."""
    return masked_reconstruction_loss(
        input, target, mask, kind="bce_with_logits", reduction=reduction
    )


class MaskedReconstructionLoss(LossModule):
    """Module form of :func:`masked_reconstruction_loss`; forward(input, target, mask)."""

    def __init__(self, kind: ReconstructionKind = "mse", *, reduction: Reduction = "mean") -> None:
        super().__init__(reduction)
        if kind not in KINDS:
            raise ValueError(f"kind={kind!r}; expected one of {', '.join(KINDS)}")
        self.kind: ReconstructionKind = kind

    def forward(self, input: Tensor, target: Tensor, mask: Tensor) -> Tensor:
        return masked_reconstruction_loss(
            input, target, mask, kind=self.kind, reduction=self.reduction
        )

    def extra_repr(self) -> str:
        return f"kind={self.kind!r}, reduction={self.reduction!r}"
