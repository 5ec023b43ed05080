"""Gradient transformations: the pieces every optimizer is built from (optax-style).

A :class:`Transform` turns a list of *updates* (initially the gradients) into new updates,
keeping its per-parameter state in the optimizer's state dicts under torch.optim's buffer
names. :func:`chain` composes them; the order in the chain *is* the algorithm::

    adam_l2 = chain(add_decayed_weights(wd), scale_by_adam(b1, b2, eps), scale_by_lr())
    adamw   = chain(scale_by_adam(b1, b2, eps), add_decayed_weights(wd), scale_by_lr())

The optimizer applies the final updates as ``param += update`` (``scale_by_lr`` already
multiplied by ``-lr``). Every transform uses multi-tensor ``torch._foreach_*`` ops; the
single-tensor path runs the same chain on one-element lists, and ``torch.compile`` traces the
same code (step counts stay tensors while compiling, see :func:`value`).

References: optax (``optax/_src/transform.py``) for the design, ``torch/optim/*.py`` for
every update rule (formulas in each docstring), notes F3:437-656 and F4 sections 1-2.
"""

from __future__ import annotations

import torch
from torch import Tensor

from trainlab.optim.adaptive import (
    scale_by_adadelta,
    scale_by_adagrad,
    scale_by_adam,
    scale_by_adamax,
    scale_by_nadam,
    scale_by_rms,
)
from trainlab.optim.core import (
    Context,
    State,
    Tensors,
    Transform,
    Update,
    _own,
    add,
    add_,
    chain,
    is_zero,
    per_tensor,
    value,
)
from trainlab.optim.stepsize import average_iterates, scale_by_asgd, scale_by_rprop

__all__ = [
    "Context",
    "State",
    "Tensors",
    "Transform",
    "Update",
    "add_decayed_weights",
    "average_iterates",
    "chain",
    "per_tensor",
    "scale",
    "scale_by_adadelta",
    "scale_by_adagrad",
    "scale_by_adam",
    "scale_by_adamax",
    "scale_by_asgd",
    "scale_by_lr",
    "scale_by_nadam",
    "scale_by_rms",
    "scale_by_rprop",
    "trace",
    "value",
]


def scale(factor: float) -> Transform:
    """``u <- factor * u`` (``scale(-1.0)`` implements torch's ``maximize``)."""

    def update(u: Tensors, ctx: Context) -> Tensors:
        if factor == -1.0 and not ctx.owned:
            ctx.owned = True
            return torch._foreach_neg(u)
        u = _own(u, ctx)
        torch._foreach_mul_(u, factor)
        return u

    return Transform("scale", update, hparams={"factor": factor})


def add_decayed_weights(weight_decay: float) -> Transform:
    """``u <- u + wd * w``. Before an adaptive scaling this is L2 regularization (Adam);
    after it (just before ``scale_by_lr``) it is decoupled weight decay
    ``w <- w - lr * wd * w`` (AdamW, Loshchilov & Hutter 2019; notes F0:324-384, F1), which
    the eager paths apply as torch's AdamW does: ``w <- w (1 - lr wd)``, then ``w -= lr u``."""

    def update(u: Tensors, ctx: Context) -> Tensors:
        if is_zero(weight_decay):
            return u
        if ctx.decay_in_place is update:  # w - lr (u + wd w) = w (1 - lr wd) - lr u
            torch._foreach_mul_(ctx.params, 1 - value(ctx.lr) * weight_decay)
            return u
        if ctx.owned:
            return add_(u, ctx.params, weight_decay)
        ctx.owned = True
        return add(u, ctx.params, weight_decay)

    return Transform("add_decayed_weights", update, hparams={"weight_decay": weight_decay})


def scale_by_lr(lr: float | Tensor | None = None) -> Transform:
    """``u <- -lr * u`` with ``lr`` read from the param group at this step (or fixed)."""

    def update(u: Tensors, ctx: Context) -> Tensors:
        rate = value(ctx.lr if lr is None else lr)
        if ctx.defer_lr:
            ctx.alpha = -rate
            return u
        if ctx.owned:
            torch._foreach_mul_(u, -rate)
            return u
        ctx.owned = True
        return torch._foreach_mul(u, -rate)

    return Transform("scale_by_lr", update, hparams={"lr": lr})


def trace(
    momentum: float,
    dampening: float = 0.0,
    nesterov: bool = False,
    *,
    buffer: str = "momentum_buffer",
    zero_init: bool = False,
) -> Transform:
    """Heavy-ball momentum as in torch.optim.SGD (notes F4:562-612):
    ``b <- mu * b + (1 - dampening) * u`` (the first step sets ``b <- u`` undamped unless
    ``zero_init``), then ``u <- u + mu * b`` (Nesterov) or ``u <- b``. The lr stays outside
    the buffer; the notes' velocity form is :func:`trainlab.optim.variants.trace_velocity`."""

    def init(param: Tensor, state: State) -> None:
        if zero_init:
            state[buffer] = torch.zeros_like(param, memory_format=torch.preserve_format)

    def update(u: Tensors, ctx: Context) -> Tensors:
        if is_zero(momentum):
            return u
        old_i = [i for i, s in enumerate(ctx.states) if s.get(buffer) is not None]
        if old_i:
            bufs = [ctx.states[i][buffer] for i in old_i]
            torch._foreach_mul_(bufs, momentum)
            add_(bufs, [u[i] for i in old_i], 1 - dampening)
        for i, s in enumerate(ctx.states):
            if s.get(buffer) is None:
                s[buffer] = u[i].detach().clone()
        bufs = [s[buffer] for s in ctx.states]
        if nesterov:
            if ctx.owned:
                return add_(u, bufs, momentum)
            ctx.owned = True
            return add(u, bufs, momentum)
        ctx.owned = False
        return bufs

    hp = {"momentum": momentum, "dampening": dampening, "nesterov": nesterov}
    return Transform("trace", update, init, hparams={**hp, "zero_init": zero_init})
