"""The machinery of gradient transformations: `Transform`, `Context`, `chain`.

A transform's ``update(updates, ctx)`` gets the current updates (initially the gradients) and
a :class:`Context` (parameters, their state dicts, step counters, the group's lr) and
returns new updates. Helpers here keep one code path valid in eager mode (Python scalars)
and under ``torch.compile`` (0-d tensors): :func:`value`, :func:`per_tensor`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

State = dict[str, Any]

#: updates: a list, or the tuple a ``torch._foreach_*`` op returned
Tensors = list[Tensor] | tuple[Tensor, ...]


def value(x: Any) -> Any:
    """A 0-d tensor as a Python number in eager mode; unchanged while compiling."""
    if isinstance(x, Tensor) and not torch.compiler.is_compiling():
        return x.item()
    return x


def per_tensor(fn: Callable[[Any], Any], steps: list[Tensor]) -> list[Any]:
    """``[fn(t) for t in steps]`` for an elementwise ``fn`` of the step count: Python numbers
    in eager mode; while compiling, one vector op over the stacked counters (instead of a
    chain of 0-d ops per parameter), split back into 0-d tensors."""
    if torch.compiler.is_compiling():  # in float64, as the eager path's Python floats
        t = torch.stack(steps)
        t = t if t.device.type == "mps" else t.to(torch.float64)  # (MPS has no float64)
        return list(realized(fn(t)).unbind(0))
    return [fn(value(t)) for t in steps]


def realized(x: Tensor) -> Tensor:
    """``x`` itself; while compiling, computed once into a buffer of its own.

    Inductor inlines cheap pointwise producers into their consumers, so per-parameter
    scalars such as ``1 - b1 ** t`` would be recomputed (a ``pow``) in every vector
    iteration of every parameter's kernel. A cumulative sum over a size-1 dimension is the
    identity but is not inlined, so the scalars are computed once per step.
    """
    if not torch.compiler.is_compiling():
        return x
    return torch.cumsum(x.unsqueeze(0), 0).squeeze(0)


def is_zero(x: Any) -> bool:
    """Whether a hyperparameter is 0. While compiling, non-zero float hyperparameters are
    0-d tensors (so a schedule changing them does not recompile) and zeros stay Python
    numbers (they change the chain's structure); see :func:`trainlab.optim.fused.hyper`."""
    return not isinstance(x, Tensor) and x == 0


def add_(xs: Tensors, ys: Tensors, alpha: Any = 1) -> Tensors:
    """``xs += alpha * ys`` in place; ``alpha`` may be a 0-d tensor (while compiling)."""
    if isinstance(alpha, Tensor):
        torch._foreach_add_(xs, torch._foreach_mul(ys, alpha))
    else:
        torch._foreach_add_(xs, ys, alpha=alpha)
    return xs


def add(xs: Tensors, ys: Tensors, alpha: Any = 1) -> Tensors:
    """``xs + alpha * ys``; ``alpha`` may be a 0-d tensor (while compiling)."""
    if isinstance(alpha, Tensor):
        return torch._foreach_add(xs, torch._foreach_mul(ys, alpha))
    return torch._foreach_add(xs, ys, alpha=alpha)


def shift_(xs: Tensors, c: Any) -> Tensors:
    """``xs += c`` in place. A 0-d tensor ``c`` (while compiling) goes in as a list: the
    scalar-tensor overload would be specialised on its value (one recompile per value)."""
    torch._foreach_add_(xs, [c] * len(xs) if isinstance(c, Tensor) else c)
    return xs


def shift(xs: Tensors, c: Any) -> Tensors:
    """``xs + c`` (see :func:`shift_`)."""
    return torch._foreach_add(xs, [c] * len(xs) if isinstance(c, Tensor) else c)


def addcmul_(xs: Tensors, a: Tensors, b: Tensors, weight: Any) -> None:
    """``xs += weight * a * b`` in place; ``weight`` may be a 0-d tensor (while compiling)."""
    if isinstance(weight, Tensor):
        prod = torch._foreach_mul(a, b)
        torch._foreach_mul_(prod, weight)
        torch._foreach_add_(xs, prod)
    else:
        torch._foreach_addcmul_(xs, a, b, value=weight)


def lerp_(xs: Tensors, ys: Tensors, weight: Any) -> None:
    """``xs += weight * (ys - xs)`` in place (torch.lerp); ``weight`` may be a 0-d tensor."""
    if isinstance(weight, Tensor):
        torch._foreach_lerp_(xs, ys, [weight] * len(xs))
    else:
        torch._foreach_lerp_(xs, ys, weight)


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
    #: the ``add_decayed_weights`` update just before a deferred ``scale_by_lr`` (decoupled
    #: decay): it applies ``w *= 1 - lr wd`` to the weights itself, before the update is added
    decay_in_place: Any = None


def _quotient(
    update: Any, num: Tensors, den: Tensors, factors: list[Any] | None, ctx: Context
) -> Tensors:
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


Update = Callable[[Tensors, Context], Tensors]


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

    def update(updates: Tensors, ctx: Context) -> Tensors:
        for t in ts:
            updates = t.update(updates, ctx)
        return updates

    def after(ctx: Context) -> None:
        for t in ts:
            if t.after is not None:
                t.after(ctx)

    return Transform("chain", update, init, after, {"transforms": ts})


def _own(updates: Tensors, ctx: Context) -> Tensors:
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
