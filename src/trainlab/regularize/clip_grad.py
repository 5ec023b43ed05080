"""Gradient clipping by global norm and by value.

By norm (Pascanu et al., 2013): total = ||(||g_1||_p, ..., ||g_k||_p)||_p over all
gradients; when total > max_norm every gradient is scaled by max_norm / (total + 1e-6).
By value: g <- clamp(g, -c, c). Both match ``torch.nn.utils.clip_grad_norm_`` /
``clip_grad_value_`` (tested against them), including the returned total norm, the inf norm
and ``error_if_nonfinite``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
from torch import Tensor

from trainlab._validate import check_nonnegative


def _grads(parameters: Iterable[Tensor] | Tensor) -> list[Tensor]:
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    return [p.grad for p in parameters if p.grad is not None]


def _total_norm(grads: list[Tensor], norm_type: float) -> Tensor:
    norm_type = float(norm_type)
    if not (norm_type > 0 or math.isinf(norm_type)):
        raise ValueError(f"norm_type: expected a positive number or inf, got {norm_type!r}")
    if not grads:
        return torch.tensor(0.0)
    device = grads[0].device
    norms = [torch.linalg.vector_norm(g, norm_type).to(device) for g in grads]
    return torch.linalg.vector_norm(torch.stack(norms), norm_type)


def grad_norm(parameters: Iterable[Tensor] | Tensor, norm_type: float = 2.0) -> Tensor:
    """The global ``norm_type``-norm of the gradients (what ``clip_grad_norm`` returns),
    without clipping."""
    return _total_norm(_grads(parameters), norm_type)


def clip_grad_norm(
    parameters: Iterable[Tensor] | Tensor,
    max_norm: float,
    norm_type: float = 2.0,
    *,
    error_if_nonfinite: bool = False,
) -> Tensor:
    """Scale all gradients in place so their global ``norm_type``-norm is at most
    ``max_norm``; returns the total norm before clipping (a tensor)."""
    check_nonnegative("max_norm", max_norm)
    grads = _grads(parameters)
    total = _total_norm(grads, norm_type)
    if not grads:
        return total
    if error_if_nonfinite and not bool(torch.isfinite(total)):
        raise RuntimeError(
            f"the total norm of order {norm_type} of the gradients is non-finite ({total.item()})"
        )
    coef = torch.clamp(max_norm / (total + 1e-6), max=1.0)
    for g in grads:
        g.mul_(coef.to(g.device, g.dtype))
    return total


def clip_grad_value(parameters: Iterable[Tensor] | Tensor, clip_value: float) -> None:
    """Clamp every gradient in place to [-clip_value, clip_value]."""
    check_nonnegative("clip_value", clip_value)
    for g in _grads(parameters):
        g.clamp_(min=-clip_value, max=clip_value)
