"""Learning-rate schedules as pure functions of the optimizer step.

A schedule maps the step `t` (0 = before the first update) to a factor of each param
group's base learning rate. Because it depends on nothing but `t`, resuming a run only
needs the step count: the schedule restarts exactly where it stopped.
"""

from __future__ import annotations

import math
from collections.abc import Callable

Schedule = Callable[[int], float]


def constant(factor: float = 1.0) -> Schedule:
    """f(t) = factor."""
    return lambda t: factor


def cosine(total_steps: int, min_factor: float = 0.0) -> Schedule:
    """Cosine annealing: f(t) = m + (1 - m) * (1 + cos(pi * min(t, T) / T)) / 2.

    Equals torch's `CosineAnnealingLR(T_max=T, eta_min=m * base_lr)` (closed form).
    """
    if total_steps < 1:
        raise ValueError(f"total_steps must be >= 1, got {total_steps}")

    def f(t: int) -> float:
        progress = min(t, total_steps) / total_steps
        return min_factor + (1.0 - min_factor) * 0.5 * (1.0 + math.cos(math.pi * progress))

    return f


def warmup(schedule: Schedule, steps: int) -> Schedule:
    """Linear warmup over `steps`, then `schedule` shifted to start at 0.

    f(t) = (t + 1) / (steps + 1) * schedule(0) for t < steps, schedule(t - steps) after,
    so the first update already has a small non-zero lr and the ramp ends at schedule(0).
    """
    if steps < 0:
        raise ValueError(f"warmup steps must be >= 0, got {steps}")
    if steps == 0:
        return schedule
    return lambda t: (t + 1) / (steps + 1) * schedule(0) if t < steps else schedule(t - steps)
