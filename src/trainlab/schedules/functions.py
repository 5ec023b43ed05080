"""Learning-rate schedules as pure functions of the optimizer step.

A schedule maps the time `t` (0 = before the first update; an integer step, or a fraction
of an epoch when the `Scheduler` runs in epochs) to a factor of each param group's base
learning rate. Because it depends on nothing but `t`, resuming a run only needs the step
count: the schedule continues exactly where it stopped (the notes' save/load section,
F4:894-961, is then trivially correct).

Every schedule here equals the closed form of its torch.optim.lr_scheduler twin, and the
floating-point expressions are written in the same order as torch's so that torch's
recursive updates telescope onto ours (tests compare the two over 1,000 steps, 1e-12
relative). Differences from torch are stated in each docstring.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Iterable
from typing import Any

from trainlab._validate import check_in_range, check_nonnegative, check_positive

Schedule = Callable[[float], float]


class NamedSchedule:
    """A schedule function with a readable `repr` (its constructor call).

    The repr is what `Scheduler.state_dict()` records, so a resumed run can notice that it
    was given a different schedule than the one it was saved with.
    """

    __slots__ = ("_fn", "_spec")

    def __init__(self, fn: Callable[[float], float], spec: str) -> None:
        self._fn = fn
        self._spec = spec

    def __call__(self, t: float) -> float:
        return self._fn(t)

    def __repr__(self) -> str:
        return self._spec


def _spec(name: str, **params: Any) -> str:
    return f"{name}(" + ", ".join(f"{k}={v!r}" for k, v in params.items()) + ")"


def constant(factor: float = 1.0) -> NamedSchedule:
    """f(t) = factor (torch: a constant lr; `ConstantLR` is `join([constant(c), constant()])`)."""
    check_positive("factor", factor)
    return NamedSchedule(lambda t: factor, _spec("constant", factor=factor))


def step(step_size: float, gamma: float = 0.1) -> NamedSchedule:
    """Step decay: f(t) = gamma ** floor(t / step_size) (F4:745-756; torch `StepLR`)."""
    check_positive("step_size", step_size)
    check_positive("gamma", gamma)
    return NamedSchedule(
        lambda t: gamma ** math.floor(t / step_size),
        _spec("step", step_size=step_size, gamma=gamma),
    )


def multistep(milestones: Iterable[float], gamma: float = 0.1) -> NamedSchedule:
    """f(t) = gamma ** (number of milestones <= t) (torch `MultiStepLR`).

    A milestone listed twice counts twice, as in torch (which keeps a Counter).
    """
    ms = sorted(milestones)
    for i, m in enumerate(ms):
        check_nonnegative(f"milestones[{i}]", m)
    check_positive("gamma", gamma)
    return NamedSchedule(
        lambda t: gamma ** bisect.bisect_right(ms, t),
        _spec("multistep", milestones=ms, gamma=gamma),
    )


def exponential(gamma: float, period: float = 1.0, staircase: bool = False) -> NamedSchedule:
    """f(t) = gamma ** (t / period), or gamma ** floor(t / period) with `staircase`.

    With period 1 this is torch's `ExponentialLR` (F4:787-808). `period` lets a per-epoch
    gamma run per iteration: smooth by default, or piecewise constant per period as torch
    gives when stepped once an epoch (`staircase=True`).
    """
    check_positive("gamma", gamma)
    check_positive("period", period)
    if staircase:
        fn: Callable[[float], float] = lambda t: gamma ** math.floor(t / period)  # noqa: E731
    elif period == 1:
        fn = lambda t: gamma**t  # noqa: E731
    else:
        fn = lambda t: gamma ** (t / period)  # noqa: E731
    return NamedSchedule(fn, _spec("exponential", gamma=gamma, period=period, staircase=staircase))


def linear(
    start_factor: float = 1.0 / 3, end_factor: float = 1.0, total_steps: float = 5
) -> NamedSchedule:
    """f(t) = s + (e - s) * min(t, T) / T (torch `LinearLR`; constant at e after T)."""
    check_in_range("start_factor", start_factor, 0.0, math.inf)
    check_in_range("end_factor", end_factor, 0.0, math.inf)
    check_positive("total_steps", total_steps)
    s, e, n = start_factor, end_factor, total_steps
    return NamedSchedule(
        lambda t: s + (e - s) * min(n, t) / n,
        _spec("linear", start_factor=s, end_factor=e, total_steps=n),
    )


def polynomial(total_steps: float, power: float = 1.0, min_factor: float = 0.0) -> NamedSchedule:
    """f(t) = m + (1 - m) * (1 - min(t, T) / T) ** power (torch `PolynomialLR` for m = 0).

    `min_factor` m (a floor, as in timm/HF's polynomial decay) is a trainlab extension.
    """
    check_positive("total_steps", total_steps)
    check_positive("power", power)
    check_in_range("min_factor", min_factor, 0.0, 1.0)
    n, p, m = total_steps, power, min_factor
    if m == 0:
        fn: Callable[[float], float] = lambda t: (1.0 - min(n, t) / n) ** p  # noqa: E731
    else:
        fn = lambda t: m + (1.0 - m) * (1.0 - min(n, t) / n) ** p  # noqa: E731
    return NamedSchedule(fn, _spec("polynomial", total_steps=n, power=p, min_factor=m))


def cosine_value(t: float, period: float, top: float, bottom: float) -> float:
    """bottom + (top - bottom) * (1 + cos(pi * t / period)) / 2, in torch's operation order."""
    return bottom + (top - bottom) * (1 + math.cos(math.pi * t / period)) / 2


def cosine(total_steps: float, min_factor: float = 0.0) -> NamedSchedule:
    """Cosine annealing: f(t) = m + (1 - m) * (1 + cos(pi * min(t, T) / T)) / 2 (F4:812-830).

    Equals torch's `CosineAnnealingLR(T_max=T, eta_min=m * base_lr)` for t <= T. After T
    trainlab stays at m, while torch's formula climbs back up (it is periodic in t): a
    run that outlives T_max in torch silently warms up again.
    """
    check_positive("total_steps", total_steps)
    check_in_range("min_factor", min_factor, 0.0, 1.0)
    n, m = total_steps, min_factor
    return NamedSchedule(
        lambda t: cosine_value(min(t, n), n, 1.0, m),
        _spec("cosine", total_steps=n, min_factor=m),
    )


def from_lambda(fn: Callable[[Any], float], name: str | None = None) -> NamedSchedule:
    """Any callable of the step as a schedule (torch `LambdaLR`, F4:872-892).

    `fn(t)` returns the factor of the base lr, never a multiple of the previous lr (that is
    torch's `MultiplicativeLR`). It must be a pure function of t for resuming to be exact.
    """
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {fn!r}")
    label = name or getattr(fn, "__qualname__", type(fn).__name__)
    return NamedSchedule(lambda t: fn(t), f"from_lambda({label})")
