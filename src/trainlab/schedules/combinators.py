"""Combinators: a warmup in front of a schedule, and schedules joined end to end."""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from typing import Literal

from trainlab._validate import check_in_range, check_nonnegative, check_positive
from trainlab.schedules.functions import NamedSchedule, Schedule

WARMUP_KINDS = ("linear", "exponential", "constant")


def warmup(
    schedule: Schedule,
    steps: float,
    kind: Literal["linear", "exponential", "constant"] = "linear",
    start_factor: float | None = None,
) -> Schedule:
    """A warmup of `steps`, then `schedule` with its clock starting when the warmup ends.

    With s = start_factor and r = t / steps, for t < steps the factor is g(t) * schedule(0):

        linear:      g = s + (1 - s) * r      (default s = 1 / (steps + 1), i.e.
                                               g = (t + 1) / (steps + 1): the first update
                                               already moves, the ramp ends at schedule(0))
        exponential: g = s ** (1 - r)         (geometric ramp; default s = 0.01)
        constant:    g = s                    (ResNet's low-lr warmup; default s = 0.1)

    and schedule(t - steps) afterwards. linear with start_factor s is torch's
    `SequentialLR([LinearLR(s, 1.0, steps), main], milestones=[steps])`.
    """
    if not callable(schedule):
        raise TypeError(f"schedule must be callable, got {schedule!r}")
    check_nonnegative("warmup steps", steps)
    if kind not in WARMUP_KINDS:
        raise ValueError(f"warmup kind must be one of {', '.join(WARMUP_KINDS)}; got {kind!r}")
    if steps == 0:
        return schedule
    if start_factor is None:
        s = {"linear": 1.0 / (steps + 1), "exponential": 0.01, "constant": 0.1}[kind]
    else:
        s = check_in_range("start_factor", start_factor, 0.0, 1.0, lo_open=True)
    peak = schedule(0)

    if kind == "linear":

        def ramp(t: float) -> float:
            return s + (1.0 - s) * t / steps
    elif kind == "exponential":

        def ramp(t: float) -> float:
            return s ** (1.0 - t / steps)
    else:

        def ramp(t: float) -> float:
            return s

    def f(t: float) -> float:
        return ramp(t) * peak if t < steps else schedule(t - steps)

    spec = f"warmup({schedule!r}, steps={steps!r}, kind={kind!r}, start_factor={s!r})"
    return NamedSchedule(f, spec)


def join(schedules: Sequence[Schedule], milestones: Sequence[float]) -> Schedule:
    """Schedules one after another, each restarting its clock at its milestone.

        f(t) = schedules[k](t - milestones[k-1]),  k = number of milestones <= t

    (milestones[-1] read as 0). This is torch's `SequentialLR(schedulers, milestones)`.
    """
    scheds = list(schedules)
    ms = list(milestones)
    if not scheds:
        raise ValueError("schedules must not be empty")
    for i, s in enumerate(scheds):
        if not callable(s):
            raise TypeError(f"schedules[{i}] must be callable, got {s!r}")
    if len(ms) != len(scheds) - 1:
        raise ValueError(
            f"milestones must have one entry fewer than schedules "
            f"({len(scheds)} schedules), got {len(ms)}"
        )
    for i, m in enumerate(ms):
        check_positive(f"milestones[{i}]", m)
        if i and m <= ms[i - 1]:
            raise ValueError(f"milestones must increase, got {ms!r}")
    starts = [0.0, *ms]

    def f(t: float) -> float:
        k = bisect.bisect_right(ms, t)
        return scheds[k](t - starts[k])

    return NamedSchedule(f, f"join({scheds!r}, milestones={ms!r})")
