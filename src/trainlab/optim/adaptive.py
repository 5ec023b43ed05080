"""Adaptive per-element scalings: RMSprop, Adagrad, Adadelta, Adam (AMSGrad), Adamax, NAdam.

Each docstring gives the update rule and its reference (torch.optim's implementation, the
paper, the notes' lines); re-exported by :mod:`trainlab.optim.transforms`.
"""

from __future__ import annotations

import torch
from torch import Tensor

from trainlab.optim.core import (
    Context,
    State,
    Tensors,
    Transform,
    _quotient,
    _scalar,
    _zeros,
    addcmul_,
    is_zero,
    lerp_,
    per_tensor,
    realized,
    shift,
    shift_,
    value,
)


def scale_by_rms(
    alpha: float = 0.99, eps: float = 1e-8, centered: bool = False, *, eps_in_sqrt: bool = False
) -> Transform:
    """RMSprop (Hinton 2012; torch.optim.RMSprop): ``v <- a v + (1-a) u^2``; centered also
    keeps ``g_avg <- a g_avg + (1-a) u`` and uses ``v - g_avg^2``;
    ``u <- u / (sqrt(v) + eps)``. ``eps_in_sqrt`` gives the notes' ``u / sqrt(v + eps)``
    (F4:351)."""
    names = ("square_avg", "grad_avg") if centered else ("square_avg",)

    def update(u: Tensors, ctx: Context) -> Tensors:
        sq = [s["square_avg"] for s in ctx.states]
        torch._foreach_mul_(sq, alpha)
        addcmul_(sq, u, u, 1 - alpha)
        if centered:
            ga = [s["grad_avg"] for s in ctx.states]
            lerp_(ga, u, 1 - alpha)
            avg: Tensors = torch._foreach_addcmul(sq, ga, ga, value=-1)
            if eps_in_sqrt:
                shift_(avg, eps)
            torch._foreach_sqrt_(avg)
        elif eps_in_sqrt:
            avg = shift(sq, eps)
            torch._foreach_sqrt_(avg)
        else:
            avg = torch._foreach_sqrt(sq)
        if not eps_in_sqrt:
            shift_(avg, eps)
        return _quotient(update, u, avg, None, ctx)

    hp = {"alpha": alpha, "eps": eps, "centered": centered, "eps_in_sqrt": eps_in_sqrt}
    return Transform("scale_by_rms", update, _zeros(*names), hparams=hp)


def scale_by_adagrad(
    lr_decay: float = 0.0,
    eps: float = 1e-10,
    initial_accumulator_value: float = 0.0,
    *,
    eps_in_sqrt: bool = False,
) -> Transform:
    """Adagrad (Duchi et al. 2011; torch.optim.Adagrad; notes F4:212-232):
    ``G <- G + u^2``, ``u <- u / (sqrt(G) + eps) / (1 + (t-1) * lr_decay)``.
    ``eps_in_sqrt`` gives the notes' ``u / sqrt(G + eps)`` (F4:225)."""

    def init(param: Tensor, state: State) -> None:
        state["sum"] = torch.full_like(
            param, initial_accumulator_value, memory_format=torch.preserve_format
        )

    def update(u: Tensors, ctx: Context) -> Tensors:
        sums = [s["sum"] for s in ctx.states]
        torch._foreach_addcmul_(sums, u, u, value=1)
        if eps_in_sqrt:
            std = shift(sums, eps)
            torch._foreach_sqrt_(std)
        else:
            std = torch._foreach_sqrt(sums)
            shift_(std, eps)
        factors = None
        if not is_zero(lr_decay):
            factors = per_tensor(lambda t: 1 / (1 + (t - 1) * lr_decay), ctx.steps)
        return _quotient(update, u, std, factors, ctx)

    hp = {"lr_decay": lr_decay, "eps": eps, "eps_in_sqrt": eps_in_sqrt}
    hp["initial_accumulator_value"] = initial_accumulator_value
    return Transform("scale_by_adagrad", update, init, hparams=hp)


def scale_by_adadelta(rho: float = 0.9, eps: float = 1e-6) -> Transform:
    """Adadelta (Zeiler 2012; torch.optim.Adadelta; notes F4:234-336):
    ``v <- rho v + (1-rho) u^2``, ``d <- sqrt(D + eps) / sqrt(v + eps) * u``,
    ``D <- rho D + (1-rho) d^2``, ``u <- d`` (the lr, default 1.0, scales it afterwards)."""

    def update(u: Tensors, ctx: Context) -> Tensors:
        sq = [s["square_avg"] for s in ctx.states]
        acc = [s["acc_delta"] for s in ctx.states]
        torch._foreach_mul_(sq, rho)
        addcmul_(sq, u, u, 1 - rho)
        std = shift(sq, eps)
        torch._foreach_sqrt_(std)
        delta = shift(acc, eps)
        torch._foreach_sqrt_(delta)
        torch._foreach_div_(delta, std)
        torch._foreach_mul_(delta, u)
        torch._foreach_mul_(acc, rho)
        addcmul_(acc, delta, delta, 1 - rho)
        ctx.owned = True
        return delta

    hp = {"rho": rho, "eps": eps}
    return Transform("scale_by_adadelta", update, _zeros("square_avg", "acc_delta"), hparams=hp)


def scale_by_adam(
    b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8, amsgrad: bool = False
) -> Transform:
    """Adam (Kingma & Ba 2015; torch.optim.Adam; notes F0:285-322, F4:367-525):
    ``m <- b1 m + (1-b1) u``, ``v <- b2 v + (1-b2) u^2`` (AMSGrad: ``v_max <- max(v_max, v)``
    is used in place of ``v``), ``u <- (m / (1-b1^t)) / (sqrt(v) / sqrt(1-b2^t) + eps)``."""
    names = ("exp_avg", "exp_avg_sq", "max_exp_avg_sq") if amsgrad else ("exp_avg", "exp_avg_sq")

    def update(u: Tensors, ctx: Context) -> Tensors:
        m = [s["exp_avg"] for s in ctx.states]
        v = [s["exp_avg_sq"] for s in ctx.states]
        lerp_(m, u, 1 - b1)
        torch._foreach_mul_(v, b2)
        addcmul_(v, u, u, 1 - b2)
        if amsgrad:
            vmax = [s["max_exp_avg_sq"] for s in ctx.states]
            torch._foreach_maximum_(vmax, v)
            v = vmax
        denom = torch._foreach_sqrt(v)
        torch._foreach_div_(denom, per_tensor(lambda t: (1 - b2**t) ** 0.5, ctx.steps))
        shift_(denom, eps)
        return _quotient(update, m, denom, per_tensor(lambda t: 1 / (1 - b1**t), ctx.steps), ctx)

    hp = {"b1": b1, "b2": b2, "eps": eps, "amsgrad": amsgrad}
    return Transform("scale_by_adam", update, _zeros(*names), hparams=hp)


def scale_by_adamax(b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8) -> Transform:
    """Adamax (Kingma & Ba 2015 sec. 7; torch.optim.Adamax; notes F4:433-475):
    ``m <- b1 m + (1-b1) u``, ``n <- max(b2 n, |u| + eps)``, ``u <- m / n / (1 - b1^t)``."""

    def update(u: Tensors, ctx: Context) -> Tensors:
        m = [s["exp_avg"] for s in ctx.states]
        n = [s["exp_inf"] for s in ctx.states]
        lerp_(m, u, 1 - b1)
        torch._foreach_mul_(n, b2)
        a = torch._foreach_abs(u)
        shift_(a, eps)
        torch._foreach_maximum_(n, a)
        return _quotient(update, m, n, per_tensor(lambda t: 1 / (1 - b1**t), ctx.steps), ctx)

    hp = {"b1": b1, "b2": b2, "eps": eps}
    return Transform("scale_by_adamax", update, _zeros("exp_avg", "exp_inf"), hparams=hp)


def scale_by_nadam(
    b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8, momentum_decay: float = 4e-3
) -> Transform:
    """NAdam (Dozat 2016; torch.optim.NAdam) with its momentum schedule
    ``mu_t = b1 (1 - 0.5 * 0.96^(t psi))``, ``P_t = prod mu_i``:
    ``u <- (1-mu_t)/(1-P_t) * u/d + mu_{t+1}/(1-P_t mu_{t+1}) * m/d`` with
    ``d = sqrt(v / (1-b2^t)) + eps`` (``m``, ``v`` as in Adam, without bias correction)."""

    def init(param: Tensor, state: State) -> None:
        state["mu_product"] = _scalar(1.0)
        _zeros("exp_avg", "exp_avg_sq")(param, state)

    def update(u: Tensors, ctx: Context) -> Tensors:
        m = [s["exp_avg"] for s in ctx.states]
        v = [s["exp_avg_sq"] for s in ctx.states]
        mus = per_tensor(lambda t: b1 * (1.0 - 0.5 * 0.96 ** (t * momentum_decay)), ctx.steps)
        nxt = per_tensor(lambda t: b1 * (1.0 - 0.5 * 0.96 ** ((t + 1) * momentum_decay)), ctx.steps)
        prods = [s["mu_product"] for s in ctx.states]
        if torch.compiler.is_compiling():  # (n,) vectors: one op for all parameters
            # in the state's dtype, as the eager path's in-place product (the mus are float64
            # when momentum_decay is a tensor input)
            new = torch.stack(prods) * torch.stack(mus).to(prods[0].dtype)
            for p, x in zip(prods, new.unbind(0), strict=True):
                p.copy_(x)
            mu_v, nxt_v = torch.stack(mus), torch.stack(nxt)
            c_g = list(realized((1.0 - mu_v) / (1.0 - new)).unbind(0))
            c_m = list(realized(nxt_v / (1.0 - new * nxt_v)).unbind(0))
        else:
            torch._foreach_mul_(prods, mus)
            prods = [value(p) for p in prods]
            c_g = [(1.0 - mu) / (1.0 - p) for mu, p in zip(mus, prods, strict=True)]
            c_m = [mn / (1.0 - p * mn) for mn, p in zip(nxt, prods, strict=True)]
        lerp_(m, u, 1 - b1)
        torch._foreach_mul_(v, b2)
        addcmul_(v, u, u, 1 - b2)
        denom = torch._foreach_div(v, per_tensor(lambda t: 1 - b2**t, ctx.steps))
        torch._foreach_sqrt_(denom)
        shift_(denom, eps)
        if ctx.defer_div is update and ctx.decay_in_place is None:
            # just before the deferred lr: write w in two passes without temporaries, as
            # torch does: w += -lr c_g u / d, then w += -lr c_m m / d
            lr = value(ctx.lr)
            torch._foreach_addcdiv_(ctx.params, u, denom, [-lr * c for c in c_g])
            torch._foreach_addcdiv_(ctx.params, m, denom, [-lr * c for c in c_m])
            ctx.applied = True
            return u
        out = torch._foreach_mul(u, c_g)
        torch._foreach_add_(out, torch._foreach_mul(m, c_m))
        torch._foreach_div_(out, denom)
        ctx.owned = True
        return out

    hp = {"b1": b1, "b2": b2, "eps": eps, "momentum_decay": momentum_decay}
    return Transform("scale_by_nadam", update, init, hparams=hp)
