"""Classification losses: cross-entropy and binary cross-entropy (F3:723-781; F4:1214-1476).

Cross-entropy of logits ``x`` (N, K, *) against a class index ``y`` is computed in the
log-sum-exp form of F3:756-765,

    CE(x, y) = logsumexp(x) - x_y,   dCE/dx = softmax(x) - onehot(y)   (F3:770)

and against a target distribution ``q`` (soft labels, e.g. from Mixup) as
``-sum_k q_k log softmax(x)_k``. Class weights multiply each class's term (F4:1371).

Label smoothing replaces the target by ``a + b * onehot(y)`` (or ``a + b * q``):

* ``smoothing='standard'`` (PyTorch, timm, Szegedy et al. 2016): ``b = 1 - e``,
  ``a = e / K``: e=0.1, K=3 gives [0.9333, 0.0333, 0.0333].
* ``smoothing='notes'`` (F4:1364-1369): ``1 - e`` on the true class and ``e / (K - 1)``
  elsewhere, i.e. ``a = e / (K - 1)``, ``b = 1 - e K / (K - 1)``: [0.9, 0.05, 0.05].

``reduction='mean'`` follows torch: with hard targets it divides by the summed weights of
the non-ignored targets, with soft targets by the number of samples. When every target is
``ignore_index``, or the counted targets' weights sum to 0, the mean is 0 (torch returns
NaN). Terms are formed and reduced in torch's order, so zero, subnormal and huge class
weights give torch's value; non-finite class weights are refused (ValueError). Logits are upcast to float32 when they
are float16/bfloat16; log-sum-exp keeps logits of +-1e4 finite.

Binary cross-entropy works on probabilities (``binary_cross_entropy``, logs clamped at
-100 as torch does) or on logits (``binary_cross_entropy_with_logits``, stable
softplus form ``(1 - y) x + (1 + (p_w - 1) y) softplus(-x)``), with an element ``weight``
and a per-class ``pos_weight`` (F4:1430-1476); the same functions serve single-label
(N,) and multi-label (N, C) targets.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from trainlab._validate import check_in_range
from trainlab.losses._common import (
    LossModule,
    Reduction,
    as_float,
    check_broadcastable,
    check_class_range,
    check_distribution,
    check_finite_weights,
    check_reduction,
    check_same_shape,
    class_weights,
    prepare_pair,
    reduce,
    upcast,
)

Smoothing = Literal["standard", "notes"]

__all__ = [
    "BCELoss",
    "BCEWithLogitsLoss",
    "CrossEntropyLoss",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "smooth_labels",
    "smoothing_coefficients",
]


def smoothing_coefficients(epsilon: float, num_classes: int, smoothing: str) -> tuple[float, float]:
    """(a, b) such that the smoothed target is ``a + b * target`` (see module docstring)."""
    check_in_range("label_smoothing", epsilon, 0.0, 1.0)
    if smoothing == "standard":
        return epsilon / num_classes, 1.0 - epsilon
    if smoothing == "notes":
        if num_classes < 2:
            raise ValueError(f"smoothing='notes' needs num_classes >= 2; got {num_classes}")
        a = epsilon / (num_classes - 1)
        return a, 1.0 - epsilon - a
    raise ValueError(f"smoothing={smoothing!r}; expected 'standard' or 'notes'")


def smooth_labels(
    target: Tensor,
    num_classes: int,
    epsilon: float,
    *,
    smoothing: Smoothing = "standard",
    dtype: torch.dtype = torch.float32,
) -> Tensor:
    """Smoothed target distributions: class indices (N,) -> (N, K); or soft (N, K) -> (N, K).

    ``smooth_labels(torch.tensor([0]), 3, 0.1)`` is [[0.9333, 0.0333, 0.0333]];
    with ``smoothing='notes'`` it is [[0.9, 0.05, 0.05]] (F4:1369).
    """
    a, b = smoothing_coefficients(epsilon, num_classes, smoothing)
    if target.is_floating_point():
        if target.shape[-1] != num_classes:
            raise ValueError(
                f"soft target of shape {tuple(target.shape)} must have num_classes="
                f"{num_classes} entries in its last dimension"
            )
        q = target.to(dtype)
    else:
        check_class_range(target, num_classes)
        q = F.one_hot(target.long(), num_classes).to(dtype)
    return a + b * q


def _class_view(w: Tensor, ndim: int) -> Tensor:
    # (K,) -> (1, K, 1, ..., 1) to broadcast against (N, K, *)
    return w.view((1, -1) + (1,) * (ndim - 2))


def cross_entropy(
    input: Tensor,
    target: Tensor,
    *,
    weight: Tensor | None = None,
    ignore_index: int = -100,
    label_smoothing: float = 0.0,
    smoothing: Smoothing = "standard",
    reduction: Reduction = "mean",
    check_targets: bool = True,
) -> Tensor:
    """Cross-entropy of logits ``input`` (N, K, *) against class indices (N, *) or
    probabilities (N, K, *).

    Equals ``F.cross_entropy`` (same arguments) for ``smoothing='standard'``. With
    ``check_targets`` (default) class indices out of range and soft targets that are
    negative or do not sum to 1 raise ValueError (this reads values, so it synchronizes
    with an accelerator; pass False in hot loops once the data is known good).
    """
    check_reduction(reduction)
    if input.dim() == 1:  # unbatched (K,) logits
        return cross_entropy(
            input.unsqueeze(0),
            target.unsqueeze(0),
            weight=weight,
            ignore_index=ignore_index,
            label_smoothing=label_smoothing,
            smoothing=smoothing,
            reduction=reduction,
            check_targets=check_targets,
        ).squeeze(0)
    if input.dim() < 2 or not input.is_floating_point():
        raise ValueError(
            f"input must be floating logits of shape (N, K, *); got {tuple(input.shape)} "
            f"{input.dtype}"
        )
    num_classes = input.shape[1]
    a, b = smoothing_coefficients(label_smoothing, num_classes, smoothing)
    logp = F.log_softmax(upcast(input), dim=1)  # (N, K, *)
    w: Tensor | None = None  # class weights as (1, K, 1, ..., 1)
    if weight is not None:
        weight = class_weights(weight, num_classes, logp, check_finite=check_targets)  # (K,)
        w = _class_view(weight, logp.dim())
    if target.is_floating_point():
        return _soft_cross_entropy(logp, target, w, a, b, reduction, check_targets)

    expected = (input.shape[0], *input.shape[2:])
    if target.shape != expected:
        raise ValueError(
            f"class-index target must have shape {expected} for input {tuple(input.shape)}; "
            f"got {tuple(target.shape)}"
        )
    if check_targets:
        check_class_range(target, num_classes, ignore_index)
    return _hard_cross_entropy(logp, target, ignore_index, weight, w, a, b, reduction)


def _hard_cross_entropy(
    logp: Tensor,
    target: Tensor,
    ignore_index: int,
    weight: Tensor | None,
    w: Tensor | None,
    a: float,
    b: float,
    reduction: str,
) -> Tensor:
    """``b * NLL + a * smooth`` for class indices, in torch's order of operations: each
    term is reduced (and, for 'mean', divided by the summed weights) before they are
    added, so subnormal or huge class weights round as they do in ``F.cross_entropy``."""
    valid = target != ignore_index  # (N, *)
    if weight is None and not a and b == 1.0:
        # the plain case, the hot one in training: torch's NLL kernel (one autograd node
        # instead of five); the mean over the counted targets, 0 where none is (torch: NaN)
        if reduction != "mean":
            return F.nll_loss(logp, target.long(), ignore_index=ignore_index, reduction=reduction)
        total = F.nll_loss(logp, target.long(), ignore_index=ignore_index, reduction="sum")
        return total / valid.sum().clamp_min(1)
    t = target.long().where(valid, 0)
    w_y = valid.to(logp.dtype)  # (N, *) the weight of each counted target, 0 if ignored
    if weight is not None:
        w_y = w_y * weight[t]
    # masked with where, not by multiplying: an ignored sample's terms may be infinite
    # (huge weights, -inf logits) and inf * 0 would be NaN where torch gives 0
    nll = (-w_y * logp.gather(1, t.unsqueeze(1)).squeeze(1)).where(valid, 0.0)  # (N, *)
    smooth = None
    if a:
        smooth = (-(logp * w).sum(1) if w is not None else -logp.sum(1)).where(valid, 0.0)
    if reduction == "mean":
        # torch's normalizer: the summed weights of the counted targets; where they sum to
        # 0 the mean is 0 (torch: 0/0 = NaN)
        total = w_y.sum()
        empty = total == 0
        safe = torch.where(empty, 1.0, total)
        loss = b * (nll.sum() / safe)
        if smooth is not None:
            loss = loss + a * (smooth.sum() / safe)
        return torch.where(empty, 0.0, loss)
    loss = b * reduce(nll, reduction)
    return loss if smooth is None else loss + a * reduce(smooth, reduction)


def _soft_cross_entropy(
    logp: Tensor,
    target: Tensor,
    w: Tensor | None,
    a: float,
    b: float,
    reduction: str,
    check: bool,
) -> Tensor:
    check_same_shape("input", logp, "soft target", target)
    q = as_float(upcast(target), logp)
    if check:
        check_distribution("soft target", q, 1)
    if a or b != 1.0:
        q = a + b * q
    terms = logp * q if w is None else logp * q * w  # torch's order of products
    if reduction == "mean":  # torch: the total over the number of samples (N and extra dims)
        return -terms.sum() / (terms.numel() // terms.shape[1])
    return reduce(-terms.sum(1), reduction)


def binary_cross_entropy(
    input: Tensor,
    target: Tensor,
    *,
    weight: Tensor | None = None,
    reduction: Reduction = "mean",
    check_targets: bool = True,
    fused: bool = True,
) -> Tensor:
    """BCE of probabilities: ``-w [y log p + (1 - y) log(1 - p)]``, logs clamped at -100.

    Equals ``F.binary_cross_entropy``. Prefer the logits form for training: it is stable.
    ``fused=True`` runs torch's kernel after validation; ``fused=False`` the formula.
    """
    p, y = prepare_pair(input, target, reduction)
    pd = p.detach()
    if check_targets and pd.numel() and (float(pd.min()) < 0 or float(pd.max()) > 1):
        raise ValueError(
            f"input must be probabilities in [0, 1]; got values in [{float(pd.min()):.4g}, "
            f"{float(pd.max()):.4g}] (use binary_cross_entropy_with_logits for logits)"
        )
    if weight is not None:
        check_broadcastable("weight", weight, p.shape, "the loss of shape")
        weight = weight.to(p)
    if fused:
        return F.binary_cross_entropy(p, y, weight=weight, reduction=reduction)
    loss = -(y * p.log().clamp_min(-100) + (1 - y) * torch.log1p(-p).clamp_min(-100))
    if weight is not None:
        loss = loss * weight
    return reduce(loss, reduction)


def binary_cross_entropy_with_logits(
    input: Tensor,
    target: Tensor,
    *,
    weight: Tensor | None = None,
    pos_weight: Tensor | None = None,
    reduction: Reduction = "mean",
    fused: bool = True,
) -> Tensor:
    """BCE of logits x: ``w [(1 - y) x + (1 + (p_w - 1) y) softplus(-x)]`` (F4:1451).

    That equals ``-w [p_w y log s(x) + (1 - y) log(1 - s(x))]`` without ever forming
    s(x); ``pos_weight`` (C,) broadcasts over the last (class) dimension. Equals
    ``F.binary_cross_entropy_with_logits``; ``fused=True`` runs torch's kernel after
    validation, ``fused=False`` the formula above term by term.
    """
    x, y = prepare_pair(input, target, reduction)
    if pos_weight is not None:
        check_broadcastable("pos_weight", pos_weight, x.shape, "input")
        pos_weight = pos_weight.to(x)
    if weight is not None:
        check_broadcastable("weight", weight, x.shape, "input")
        weight = weight.to(x)
    if fused:
        return F.binary_cross_entropy_with_logits(
            x, y, weight=weight, pos_weight=pos_weight, reduction=reduction
        )
    if pos_weight is None:
        loss = (1 - y) * x + F.softplus(-x)
    else:
        lw = 1 + (pos_weight - 1) * y
        loss = (1 - y) * x + lw * F.softplus(-x)
    if weight is not None:
        loss = loss * weight
    return reduce(loss, reduction)


class CrossEntropyLoss(LossModule):
    """Module form of :func:`cross_entropy`; ``weight`` is a buffer (moves with .to())."""

    weight: Tensor | None

    def __init__(
        self,
        weight: Tensor | None = None,
        *,
        ignore_index: int = -100,
        label_smoothing: float = 0.0,
        smoothing: Smoothing = "standard",
        reduction: Reduction = "mean",
        check_targets: bool = True,
    ) -> None:
        super().__init__(reduction)
        smoothing_coefficients(label_smoothing, 2, smoothing)  # validate early
        if weight is not None:  # once here, so check_targets=False still refuses inf/NaN
            check_finite_weights(weight)
        self.register_buffer("weight", weight)
        self.ignore_index = int(ignore_index)
        self.label_smoothing = float(label_smoothing)
        self.smoothing: Smoothing = smoothing
        self.check_targets = check_targets

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return cross_entropy(
            input,
            target,
            weight=self.weight,
            ignore_index=self.ignore_index,
            label_smoothing=self._label_smoothing_for(target),
            smoothing=self.smoothing,
            reduction=self.reduction,
            check_targets=self.check_targets,
        )

    def _label_smoothing_for(self, target: Tensor) -> float:
        """The smoothing applied to this batch's ``target`` (MixedTargetCrossEntropy overrides)."""
        return self.label_smoothing

    def extra_repr(self) -> str:
        return (
            f"label_smoothing={self.label_smoothing}, smoothing={self.smoothing!r}, "
            f"ignore_index={self.ignore_index}, reduction={self.reduction!r}"
        )


class BCELoss(LossModule):
    """Module form of :func:`binary_cross_entropy`."""

    weight: Tensor | None

    def __init__(self, weight: Tensor | None = None, *, reduction: Reduction = "mean") -> None:
        super().__init__(reduction)
        self.register_buffer("weight", weight)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return binary_cross_entropy(input, target, weight=self.weight, reduction=self.reduction)


class BCEWithLogitsLoss(LossModule):
    """Module form of :func:`binary_cross_entropy_with_logits` (single- or multi-label)."""

    weight: Tensor | None
    pos_weight: Tensor | None

    def __init__(
        self,
        weight: Tensor | None = None,
        *,
        pos_weight: Tensor | None = None,
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__(reduction)
        self.register_buffer("weight", weight)
        self.register_buffer("pos_weight", pos_weight)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return binary_cross_entropy_with_logits(
            input, target, weight=self.weight, pos_weight=self.pos_weight, reduction=self.reduction
        )
