"""Transforms with their own step sizes: ASGD's decaying step and averaging, Rprop.

Re-exported by :mod:`trainlab.optim.transforms`.
"""

from __future__ import annotations

import torch
from torch import Tensor

from trainlab.optim.core import (
    Context,
    State,
    Tensors,
    Transform,
    _scalar,
    add,
    value,
)


def scale_by_asgd(lambd: float = 1e-4, alpha: float = 0.75, lr: float | Tensor = 0.01) -> Transform:
    """ASGD's step (Polyak & Juditsky 1992; torch.optim.ASGD; notes F4:531-560):
    ``u <- -eta_t (u + lambd w)`` (i.e. ``w <- w (1 - lambd eta) - eta u``), then the step
    size decays as ``eta_{t+1} = lr / (1 + lambd lr t)^alpha``. ``lr`` (the group's, at
    creation) only seeds ``eta``; no ``scale_by_lr`` follows this transform."""

    def init(param: Tensor, state: State) -> None:
        state["eta"] = _scalar(float(value(lr)), param.device)

    def update(u: Tensors, ctx: Context) -> Tensors:
        etas = [value(s["eta"]) for s in ctx.states]
        if ctx.final is update:  # write w directly, as torch does (two passes, no temporary)
            torch._foreach_mul_(ctx.params, [1 - lambd * e for e in etas])
            for p, g, e in zip(ctx.params, u, etas, strict=True):
                p.add_(g, alpha=-e)
            ctx.applied = True
            out = u
        else:
            out = add(u, ctx.params, lambd)
            torch._foreach_mul_(out, [-e for e in etas])
            ctx.owned = True
        rate = value(ctx.lr)
        for s, t in zip(ctx.states, ctx.steps, strict=True):
            s["eta"].copy_(torch.as_tensor(rate / ((1 + lambd * rate * value(t)) ** alpha)))
        return out

    hp = {"lambd": lambd, "alpha": alpha}
    return Transform("scale_by_asgd", update, init, hparams=hp)


def average_iterates(t0: float = 1e6) -> Transform:
    """ASGD's averaging, after the parameter update: ``ax <- ax + mu (w - ax)`` with
    ``mu_{t+1} = 1 / max(1, t - t0)`` (``ax = w`` while ``mu = 1``, i.e. until ``t0``)."""

    def init(param: Tensor, state: State) -> None:
        state["mu"] = _scalar(1.0, param.device)
        state["ax"] = torch.zeros_like(param, memory_format=torch.preserve_format)

    def after(ctx: Context) -> None:
        for p, s, t in zip(ctx.params, ctx.states, ctx.steps, strict=True):
            mu, ax = s["mu"], s["ax"]
            if torch.compiler.is_compiling() or value(mu) != 1:
                ax.add_(p.sub(ax).mul_(mu))
            else:
                ax.copy_(p)
            since = value(t) - t0  # a 0-d tensor while compiling: no data-dependent max
            mu.copy_(torch.as_tensor(1 / (since.clamp_min(1) if isinstance(since, Tensor)
                                          else max(1, since))))  # fmt: skip

    def update(u: Tensors, ctx: Context) -> Tensors:
        return u

    return Transform("average_iterates", update, init, after, hparams={"t0": t0})


def scale_by_rprop(
    etas: tuple[float, float] = (0.5, 1.2),
    step_sizes: tuple[float, float] = (1e-6, 50.0),
    lr: float | Tensor = 0.01,
) -> Transform:
    """Rprop (Riedmiller & Braun 1993; torch.optim.Rprop): with ``s = sign(u * prev)``,
    ``step_size <- clamp(step_size * {eta+ if s>0, eta- if s<0, 1}, *step_sizes)``;
    where ``s < 0`` the gradient is zeroed; ``u <- -sign(u) * step_size``; ``prev <- u``.
    ``lr`` seeds ``step_size``; no ``scale_by_lr`` follows."""
    eta_minus, eta_plus = etas
    lo, hi = step_sizes

    def init(param: Tensor, state: State) -> None:
        state["prev"] = torch.zeros_like(param, memory_format=torch.preserve_format)
        state["step_size"] = torch.full_like(
            param, float(value(lr)), memory_format=torch.preserve_format
        )

    def update(u: Tensors, ctx: Context) -> Tensors:
        prevs = [s["prev"] for s in ctx.states]
        sizes = [s["step_size"] for s in ctx.states]
        out: list[Tensor] = []
        for g, prev, size in zip(u, prevs, sizes, strict=True):
            sign = g.mul(prev).sign()
            sign = torch.where(sign.gt(0), eta_plus, sign)
            sign = torch.where(sign.lt(0), eta_minus, sign)
            sign = torch.where(sign.eq(0), 1.0, sign)
            size.mul_(sign).clamp_(lo, hi)
            g = torch.where(sign.eq(eta_minus), 0.0, g)
            prev.copy_(g)
            if ctx.final is update:  # write w directly: w -= sign(g) * step_size
                ctx.params[len(out)].addcmul_(g.sign(), size, value=-1)
                ctx.applied = True
                out.append(g)
            else:
                out.append(g.sign_().mul_(size).neg_())
        ctx.owned = True
        return out

    hp = {"etas": tuple(etas), "step_sizes": tuple(step_sizes)}
    return Transform("scale_by_rprop", update, init, hparams=hp)
