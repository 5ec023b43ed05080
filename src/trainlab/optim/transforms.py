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

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

State = dict[str, Any]


def value(x: Any) -> Any:
    """A 0-d tensor as a Python number in eager mode; unchanged while compiling."""
    if isinstance(x, Tensor) and not torch.compiler.is_compiling():
        return x.item()
    return x


def per_tensor(fn: Callable[[Any], Any], steps: list[Tensor]) -> list[Any]:
    """``[fn(t) for t in steps]`` for an elementwise ``fn`` of the step count: Python numbers
    in eager mode; while compiling, one vector op over the stacked counters (instead of a
    chain of 0-d ops per parameter), split back into 0-d tensors."""
    if torch.compiler.is_compiling():
        return list(fn(torch.stack(steps)).unbind(0))
    return [fn(value(t)) for t in steps]


@dataclass
class Context:
    """What a transform sees besides the updates: one entry per parameter in each list.

    ``steps`` are the per-parameter step counters (already incremented for this step),
    ``lr`` the group's learning rate read at this step. ``owned`` says whether the current
    updates are temporaries the chain may overwrite (False while they are still the
    gradients or a state buffer). When ``defer_lr`` is set, a final ``scale_by_lr`` stores
    ``-lr`` in ``alpha`` instead of multiplying, and the optimizer applies
    ``param.add_(update, alpha=alpha)`` in the same pass (as torch.optim does).
    """

    params: list[Tensor]
    states: list[State]
    steps: list[Tensor] = field(default_factory=list)
    lr: float | Tensor = 0.0
    owned: bool = False
    defer_lr: bool = False
    alpha: Any = None
    #: the ``update`` function allowed to leave its result as a quotient (see ``quotient``)
    defer_div: Any = None
    #: ``(denominators, per-tensor factors)``: the updates are ``factor * u / denominator``,
    #: applied by the optimizer in one ``addcdiv_`` pass (as torch.optim does)
    quotient: Any = None
    #: the ``update`` function that may write the parameters itself (the last one of an
    #: eager chain); it then sets ``applied`` and the optimizer adds nothing
    final: Any = None
    applied: bool = False


def _quotient(
    update: Any, num: list[Tensor], den: list[Tensor], factors: list[Any] | None, ctx: Context
) -> list[Tensor]:
    """Return ``factors * num / den``: left as a pending quotient when ``update`` is the
    transform just before a deferred ``scale_by_lr`` (one pass instead of three)."""
    if ctx.defer_div is update:
        ctx.quotient = (den, factors)
        ctx.owned = False
        return num
    out = torch._foreach_div(num, den)
    if factors is not None:
        torch._foreach_mul_(out, factors)
    ctx.owned = True
    return out


Update = Callable[[list[Tensor], Context], list[Tensor]]


def _no_init(param: Tensor, state: State) -> None:
    del param, state


@dataclass(frozen=True)
class Transform:
    """``init(param, state)`` creates buffers; ``update(updates, ctx)`` returns new updates;
    ``after(ctx)`` (optional) runs once the parameters have been updated."""

    name: str
    update: Update
    init: Callable[[Tensor, State], None] = _no_init
    after: Callable[[Context], None] | None = None
    hparams: dict[str, Any] = field(default_factory=dict)

    def flat(self) -> list[Transform]:
        """The leaf transforms of a (possibly nested) chain, in order."""
        if self.name == "chain":
            return [leaf for t in self.hparams["transforms"] for leaf in t.flat()]
        return [self]


def chain(*transforms: Transform) -> Transform:
    """Apply ``transforms`` one after the other (optax ``chain``)."""
    ts = tuple(transforms)

    def init(param: Tensor, state: State) -> None:
        for t in ts:
            t.init(param, state)

    def update(updates: list[Tensor], ctx: Context) -> list[Tensor]:
        for t in ts:
            updates = t.update(updates, ctx)
        return updates

    def after(ctx: Context) -> None:
        for t in ts:
            if t.after is not None:
                t.after(ctx)

    return Transform("chain", update, init, after, {"transforms": ts})


def _own(updates: list[Tensor], ctx: Context) -> list[Tensor]:
    """Updates the chain may modify in place (copies them the first time)."""
    if ctx.owned:
        return updates
    ctx.owned = True
    return [u.clone() for u in updates]


def _zeros(*names: str) -> Callable[[Tensor, State], None]:
    def init(param: Tensor, state: State) -> None:
        for n in names:
            state[n] = torch.zeros_like(param, memory_format=torch.preserve_format)

    return init


def _scalar(v: float, device: torch.device | str = "cpu") -> Tensor:
    """A 0-d state scalar in torch.optim's dtype (float64 only under a float64 default)."""
    dtype = torch.float64 if torch.get_default_dtype() == torch.float64 else torch.float32
    return torch.tensor(v, dtype=dtype, device=device)


# --------------------------------------------------------------------------- elementary


def scale(factor: float) -> Transform:
    """``u <- factor * u`` (``scale(-1.0)`` implements torch's ``maximize``)."""

    def update(u: list[Tensor], ctx: Context) -> list[Tensor]:
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
    ``w <- w - lr * wd * w`` (AdamW, Loshchilov & Hutter 2019; notes F0:324-384, F1)."""

    def update(u: list[Tensor], ctx: Context) -> list[Tensor]:
        if weight_decay == 0:
            return u
        if ctx.owned:
            torch._foreach_add_(u, ctx.params, alpha=weight_decay)
            return u
        ctx.owned = True
        return torch._foreach_add(u, ctx.params, alpha=weight_decay)

    return Transform("add_decayed_weights", update, hparams={"weight_decay": weight_decay})


def scale_by_lr(lr: float | Tensor | None = None) -> Transform:
    """``u <- -lr * u`` with ``lr`` read from the param group at this step (or fixed)."""

    def update(u: list[Tensor], ctx: Context) -> list[Tensor]:
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

    def update(u: list[Tensor], ctx: Context) -> list[Tensor]:
        if momentum == 0:
            return u
        old_i = [i for i, s in enumerate(ctx.states) if s.get(buffer) is not None]
        if old_i:
            bufs = [ctx.states[i][buffer] for i in old_i]
            torch._foreach_mul_(bufs, momentum)
            torch._foreach_add_(bufs, [u[i] for i in old_i], alpha=1 - dampening)
        for i, s in enumerate(ctx.states):
            if s.get(buffer) is None:
                s[buffer] = u[i].detach().clone()
        bufs = [s[buffer] for s in ctx.states]
        if nesterov:
            if ctx.owned:
                torch._foreach_add_(u, bufs, alpha=momentum)
                return u
            ctx.owned = True
            return torch._foreach_add(u, bufs, alpha=momentum)
        ctx.owned = False
        return bufs

    hp = {"momentum": momentum, "dampening": dampening, "nesterov": nesterov}
    return Transform("trace", update, init, hparams={**hp, "zero_init": zero_init})


# --------------------------------------------------------------------------- adaptive


def scale_by_rms(
    alpha: float = 0.99, eps: float = 1e-8, centered: bool = False, *, eps_in_sqrt: bool = False
) -> Transform:
    """RMSprop (Hinton 2012; torch.optim.RMSprop): ``v <- a v + (1-a) u^2``; centered also
    keeps ``g_avg <- a g_avg + (1-a) u`` and uses ``v - g_avg^2``;
    ``u <- u / (sqrt(v) + eps)``. ``eps_in_sqrt`` gives the notes' ``u / sqrt(v + eps)``
    (F4:351)."""
    names = ("square_avg", "grad_avg") if centered else ("square_avg",)

    def update(u: list[Tensor], ctx: Context) -> list[Tensor]:
        sq = [s["square_avg"] for s in ctx.states]
        torch._foreach_mul_(sq, alpha)
        torch._foreach_addcmul_(sq, u, u, value=1 - alpha)
        if centered:
            ga = [s["grad_avg"] for s in ctx.states]
            torch._foreach_lerp_(ga, u, 1 - alpha)
            avg = torch._foreach_addcmul(sq, ga, ga, value=-1)
            if eps_in_sqrt:
                torch._foreach_add_(avg, eps)
            torch._foreach_sqrt_(avg)
        elif eps_in_sqrt:
            avg = torch._foreach_add(sq, eps)
            torch._foreach_sqrt_(avg)
        else:
            avg = torch._foreach_sqrt(sq)
        if not eps_in_sqrt:
            torch._foreach_add_(avg, eps)
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

    def update(u: list[Tensor], ctx: Context) -> list[Tensor]:
        sums = [s["sum"] for s in ctx.states]
        torch._foreach_addcmul_(sums, u, u, value=1)
        if eps_in_sqrt:
            std = torch._foreach_add(sums, eps)
            torch._foreach_sqrt_(std)
        else:
            std = torch._foreach_sqrt(sums)
            torch._foreach_add_(std, eps)
        factors = None
        if lr_decay != 0:
            factors = per_tensor(lambda t: 1 / (1 + (t - 1) * lr_decay), ctx.steps)
        return _quotient(update, u, std, factors, ctx)

    hp = {"lr_decay": lr_decay, "eps": eps, "eps_in_sqrt": eps_in_sqrt}
    hp["initial_accumulator_value"] = initial_accumulator_value
    return Transform("scale_by_adagrad", update, init, hparams=hp)


def scale_by_adadelta(rho: float = 0.9, eps: float = 1e-6) -> Transform:
    """Adadelta (Zeiler 2012; torch.optim.Adadelta; notes F4:234-336):
    ``v <- rho v + (1-rho) u^2``, ``d <- sqrt(D + eps) / sqrt(v + eps) * u``,
    ``D <- rho D + (1-rho) d^2``, ``u <- d`` (the lr, default 1.0, scales it afterwards)."""

    def update(u: list[Tensor], ctx: Context) -> list[Tensor]:
        sq = [s["square_avg"] for s in ctx.states]
        acc = [s["acc_delta"] for s in ctx.states]
        torch._foreach_mul_(sq, rho)
        torch._foreach_addcmul_(sq, u, u, value=1 - rho)
        std = torch._foreach_add(sq, eps)
        torch._foreach_sqrt_(std)
        delta = torch._foreach_add(acc, eps)
        torch._foreach_sqrt_(delta)
        torch._foreach_div_(delta, std)
        torch._foreach_mul_(delta, u)
        torch._foreach_mul_(acc, rho)
        torch._foreach_addcmul_(acc, delta, delta, value=1 - rho)
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

    def update(u: list[Tensor], ctx: Context) -> list[Tensor]:
        m = [s["exp_avg"] for s in ctx.states]
        v = [s["exp_avg_sq"] for s in ctx.states]
        torch._foreach_lerp_(m, u, 1 - b1)
        torch._foreach_mul_(v, b2)
        torch._foreach_addcmul_(v, u, u, value=1 - b2)
        if amsgrad:
            vmax = [s["max_exp_avg_sq"] for s in ctx.states]
            torch._foreach_maximum_(vmax, v)
            v = vmax
        denom = torch._foreach_sqrt(v)
        torch._foreach_div_(denom, per_tensor(lambda t: (1 - b2**t) ** 0.5, ctx.steps))
        torch._foreach_add_(denom, eps)
        return _quotient(update, m, denom, per_tensor(lambda t: 1 / (1 - b1**t), ctx.steps), ctx)

    hp = {"b1": b1, "b2": b2, "eps": eps, "amsgrad": amsgrad}
    return Transform("scale_by_adam", update, _zeros(*names), hparams=hp)


def scale_by_adamax(b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8) -> Transform:
    """Adamax (Kingma & Ba 2015 sec. 7; torch.optim.Adamax; notes F4:433-475):
    ``m <- b1 m + (1-b1) u``, ``n <- max(b2 n, |u| + eps)``, ``u <- m / n / (1 - b1^t)``."""

    def update(u: list[Tensor], ctx: Context) -> list[Tensor]:
        m = [s["exp_avg"] for s in ctx.states]
        n = [s["exp_inf"] for s in ctx.states]
        torch._foreach_lerp_(m, u, 1 - b1)
        torch._foreach_mul_(n, b2)
        a = torch._foreach_abs(u)
        torch._foreach_add_(a, eps)
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

    def update(u: list[Tensor], ctx: Context) -> list[Tensor]:
        m = [s["exp_avg"] for s in ctx.states]
        v = [s["exp_avg_sq"] for s in ctx.states]
        mus = per_tensor(lambda t: b1 * (1.0 - 0.5 * 0.96 ** (t * momentum_decay)), ctx.steps)
        nxt = per_tensor(lambda t: b1 * (1.0 - 0.5 * 0.96 ** ((t + 1) * momentum_decay)), ctx.steps)
        prods = [s["mu_product"] for s in ctx.states]
        if torch.compiler.is_compiling():
            new = torch.stack(prods) * torch.stack(mus)  # (n,) one op for all parameters
            for p, x in zip(prods, new.unbind(0), strict=True):
                p.copy_(x)
            prods = list(new.unbind(0))
        else:
            torch._foreach_mul_(prods, mus)
            prods = [value(p) for p in prods]
        c_g = [(1.0 - mu) / (1.0 - p) for mu, p in zip(mus, prods, strict=True)]
        c_m = [mn / (1.0 - p * mn) for mn, p in zip(nxt, prods, strict=True)]
        torch._foreach_lerp_(m, u, 1 - b1)
        torch._foreach_mul_(v, b2)
        torch._foreach_addcmul_(v, u, u, value=1 - b2)
        denom = torch._foreach_div(v, per_tensor(lambda t: 1 - b2**t, ctx.steps))
        torch._foreach_sqrt_(denom)
        torch._foreach_add_(denom, eps)
        out = torch._foreach_mul(u, c_g)
        torch._foreach_add_(out, torch._foreach_mul(m, c_m))
        torch._foreach_div_(out, denom)
        ctx.owned = True
        return out

    hp = {"b1": b1, "b2": b2, "eps": eps, "momentum_decay": momentum_decay}
    return Transform("scale_by_nadam", update, init, hparams=hp)


# --------------------------------------------------------------------------- ASGD, Rprop


def scale_by_asgd(lambd: float = 1e-4, alpha: float = 0.75, lr: float | Tensor = 0.01) -> Transform:
    """ASGD's step (Polyak & Juditsky 1992; torch.optim.ASGD; notes F4:531-560):
    ``u <- -eta_t (u + lambd w)`` (i.e. ``w <- w (1 - lambd eta) - eta u``), then the step
    size decays as ``eta_{t+1} = lr / (1 + lambd lr t)^alpha``. ``lr`` (the group's, at
    creation) only seeds ``eta``; no ``scale_by_lr`` follows this transform."""

    def init(param: Tensor, state: State) -> None:
        state["eta"] = _scalar(float(value(lr)), param.device)

    def update(u: list[Tensor], ctx: Context) -> list[Tensor]:
        etas = [value(s["eta"]) for s in ctx.states]
        if ctx.final is update:  # write w directly, as torch does (two passes, no temporary)
            torch._foreach_mul_(ctx.params, [1 - lambd * e for e in etas])
            for p, g, e in zip(ctx.params, u, etas, strict=True):
                p.add_(g, alpha=-e)
            ctx.applied = True
            out = u
        else:
            out = torch._foreach_add(u, ctx.params, alpha=lambd)
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
            mu.copy_(torch.as_tensor(1 / max(1, value(t) - t0)))

    def update(u: list[Tensor], ctx: Context) -> list[Tensor]:
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

    def update(u: list[Tensor], ctx: Context) -> list[Tensor]:
        prevs = [s["prev"] for s in ctx.states]
        sizes = [s["step_size"] for s in ctx.states]
        out = []
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
