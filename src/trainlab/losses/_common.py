"""Shared checks and reductions for the loss functions.

Every loss reduces per-element (or per-sample) terms with PyTorch's convention:
``'none'`` returns them, ``'sum'`` adds them, ``'mean'`` divides the sum by their number
(or by a documented normalizer, e.g. the summed class weights of cross-entropy).

Half-precision inputs (float16, bfloat16) are upcast to float32 before any arithmetic, so
sums and log-sum-exps accumulate in float32; the loss is returned in float32 for them.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn

Reduction = Literal["mean", "sum", "none"]
REDUCTIONS = ("mean", "sum", "none")


def check_reduction(reduction: str) -> None:
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction={reduction!r}; expected one of 'mean', 'sum', 'none'")


def upcast(x: Tensor) -> Tensor:
    """float16/bfloat16 -> float32 (differentiably); other dtypes unchanged."""
    if x.dtype in (torch.float16, torch.bfloat16):
        return x.float()
    return x


def as_float(x: Tensor, like: Tensor) -> Tensor:
    """`x` as a floating tensor of `like`'s dtype (targets given as ints or bools)."""
    if x.dtype != like.dtype:
        return x.to(like.dtype)  # same device expected, as torch
    return x


def check_same_shape(name_a: str, a: Tensor, name_b: str, b: Tensor) -> None:
    if a.shape != b.shape:
        raise ValueError(
            f"{name_a} and {name_b} must have the same shape; got {name_a} "
            f"{tuple(a.shape)} and {name_b} {tuple(b.shape)}"
        )


def prepare_pair(input: Tensor, target: Tensor, reduction: str) -> tuple[Tensor, Tensor]:
    """Check `reduction` and equal shapes; return input upcast and target as its float dtype."""
    check_reduction(reduction)
    check_same_shape("input", input, "target", target)
    x = upcast(input)
    return x, as_float(upcast(target), x)


def check_broadcastable(name: str, w: Tensor, shape: torch.Size, to: str) -> None:
    try:
        broadcast = torch.broadcast_shapes(w.shape, shape)
    except RuntimeError:
        raise ValueError(
            f"{name} of shape {tuple(w.shape)} does not broadcast to {to} {tuple(shape)}"
        ) from None
    if broadcast != shape:
        raise ValueError(
            f"{name} of shape {tuple(w.shape)} would enlarge {to} {tuple(shape)} when broadcast"
        )


def check_distribution(name: str, p: Tensor, dim: int) -> None:
    """`p` holds probabilities along `dim`: >= 0 and summing to 1 (atol 1e-3); a sync."""
    p = p.detach()
    sums = p.sum(dim)
    if p.numel() and (
        bool((p < 0).any()) or not torch.allclose(sums, torch.ones_like(sums), atol=1e-3)
    ):
        raise ValueError(
            f"{name} must hold probabilities along dim={dim} (>= 0, summing to 1); got sums "
            f"in [{float(sums.min()):.4g}, {float(sums.max()):.4g}] and minimum "
            f"{float(p.min()):.4g}"
        )


def check_class_range(target: Tensor, num_classes: int, ignore_index: int | None = None) -> None:
    """Class indices in 0..num_classes-1 (or equal to `ignore_index`); reads values (a sync)."""
    t = target if ignore_index is None else target[target != ignore_index]
    if not t.numel():
        return
    lo, hi = int(t.min()), int(t.max())
    if lo < 0 or hi >= num_classes:
        raise ValueError(
            f"class index out of range: target has values in [{lo}, {hi}] "
            f"but input has {num_classes} classes (expected 0..{num_classes - 1}"
            + ("" if ignore_index is None else f" or ignore_index={ignore_index}")
            + ")"
        )


def class_weights(
    weight: Tensor, num_classes: int, like: Tensor, *, check_finite: bool = True
) -> Tensor:
    """`weight` checked to be one per class, (num_classes,), in `like`'s dtype and device,
    and (with `check_finite`, a sync) finite in that dtype: torch turns an infinite class
    weight into a NaN loss, trainlab refuses it."""
    if weight.shape != (num_classes,):
        raise ValueError(
            f"weight must have shape ({num_classes},) (one per class); got {tuple(weight.shape)}"
        )
    w = weight.to(like)
    if check_finite:
        check_finite_weights(w, weight)
    return w


def check_finite_weights(w: Tensor, given: Tensor | None = None) -> None:
    """ValueError unless every class weight in `w` is finite (reads values: a sync)."""
    if not bool(torch.isfinite(w).all()):
        shown = (w if given is None else given).tolist()
        raise ValueError(f"weight={shown} in {w.dtype}; expected finite class weights")


def reduce(loss: Tensor, reduction: str) -> Tensor:
    """Apply `reduction` to a tensor of per-element loss terms."""
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


class LossModule(nn.Module):
    """Base of the loss modules: holds and validates `reduction`."""

    def __init__(self, reduction: Reduction = "mean") -> None:
        super().__init__()
        check_reduction(reduction)
        self.reduction: Reduction = reduction

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"
