"""The notes' own formulas, by name, where they differ from torch.optim (SCOPE.md).

- :func:`trace_velocity`: momentum in velocity form with the lr inside the buffer,
  ``v <- mu v - lr g``, ``w <- w + v`` (F3:489-539, F4:70). Equal to torch's SGD momentum
  (``b <- mu b + g``, ``w <- w - lr b``) only while lr is constant: after an lr change the
  velocity still carries the old lr.
- :func:`nesterov_lookahead`: Nesterov in the notes' look-ahead form (F4:101-114):
  ``w~ = w - lr mu v``; ``v <- mu v + grad L(w~)``; ``w <- w - lr v``. The parameter tensor
  holds the look-ahead point ``w~`` (where the gradient is taken); ``state["theta"]`` holds
  ``w``. For constant lr the ``w~`` sequence equals torch's ``SGD(nesterov=True)``.
- :func:`add_l2_penalty`: the notes' penalty ``lam * sum(w^2)`` has gradient ``2 lam w``
  (F2:13-22); torch's ``weight_decay=wd`` is the penalty ``(wd / 2) ||w||^2``.
- eps inside the square root (F4:225 Adagrad, F4:351 RMSprop):
  ``scale_by_adagrad(eps_in_sqrt=True)``, ``scale_by_rms(eps_in_sqrt=True)``, and the
  ``eps_in_sqrt=True`` argument of :class:`~trainlab.optim.Adagrad` and
  :class:`~trainlab.optim.RMSprop`.

:class:`VelocitySGD` and :class:`NesterovLookaheadSGD` wrap the first two as optimizers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import Tensor

from trainlab.optim import transforms as T
from trainlab.optim.base import ChainOptimizer, check_nonneg
from trainlab.optim.core import add, add_
from trainlab.optim.transforms import Context, State, Tensors, Transform


def trace_velocity(momentum: float) -> Transform:
    """``v <- mu v - lr u`` (``v`` starts at 0); the update is ``v`` (no ``scale_by_lr``)."""

    def init(param: Tensor, state: State) -> None:
        state["velocity"] = torch.zeros_like(param, memory_format=torch.preserve_format)

    def update(u: Tensors, ctx: Context) -> Tensors:
        v = [s["velocity"] for s in ctx.states]
        torch._foreach_mul_(v, momentum)
        add_(v, u, -T.value(ctx.lr))
        ctx.owned = False
        return v

    return Transform("trace_velocity", update, init, hparams={"momentum": momentum})


def nesterov_lookahead(momentum: float) -> Transform:
    """The notes' look-ahead Nesterov; the update moves the parameter from ``w~_t`` to
    ``w~_{t+1} = w_{t+1} - lr mu v_t`` (no ``scale_by_lr``)."""

    def init(param: Tensor, state: State) -> None:
        state["velocity"] = torch.zeros_like(param, memory_format=torch.preserve_format)
        state["theta"] = param.detach().clone()

    def update(u: Tensors, ctx: Context) -> Tensors:
        lr = T.value(ctx.lr)
        v = [s["velocity"] for s in ctx.states]
        theta = [s["theta"] for s in ctx.states]
        torch._foreach_mul_(v, momentum)
        torch._foreach_add_(v, u)  # v_t = mu v_{t-1} + grad L(w~_t)
        add_(theta, v, -lr)  # w_{t+1} = w_t - lr v_t
        nxt = add(theta, v, -lr * momentum)  # w~_{t+1}
        torch._foreach_sub_(nxt, ctx.params)
        ctx.owned = True
        return nxt

    return Transform("nesterov_lookahead", update, init, hparams={"momentum": momentum})


def add_l2_penalty(lam: float) -> Transform:
    """``u <- u + 2 lam w``: the gradient of the notes' penalty ``lam * sum(w^2)``."""
    t = T.add_decayed_weights(2.0 * lam)
    return Transform("add_l2_penalty", t.update, hparams={"lam": lam, "weight_decay": 2 * lam})


class _NotesMomentumSGD(ChainOptimizer):
    """``chain(add_l2_penalty(l2), <the note's momentum form>(momentum))``."""

    has_step = False
    momentum_form: Callable[[float], Transform]

    def __init__(self, params: Iterable[Any], lr: float = 1e-2, momentum: float = 0.9,
                 l2: float = 0.0, *, foreach: bool | None = None) -> None:  # fmt: skip
        check_nonneg("momentum", momentum)
        check_nonneg("l2", l2)
        super().__init__(params, {"lr": lr, "momentum": momentum, "l2": l2, "foreach": foreach})

    @classmethod
    def make_chain(cls, group: dict[str, Any]) -> Transform:
        return T.chain(add_l2_penalty(group["l2"]), cls.momentum_form(group["momentum"]))


class VelocitySGD(_NotesMomentumSGD):
    """``chain(add_l2_penalty(l2), trace_velocity(momentum))`` (notes F3:495, F4:70);
    ``l2`` is the notes' lambda (gradient ``2 lambda w``)."""

    momentum_form = staticmethod(trace_velocity)


class NesterovLookaheadSGD(_NotesMomentumSGD):
    """``chain(add_l2_penalty(l2), nesterov_lookahead(momentum))`` (notes F4:101-114).
    Parameters hold the look-ahead point; ``state[p]["theta"]`` is the iterate itself."""

    momentum_form = staticmethod(nesterov_lookahead)
