"""Cosine annealing with warm restarts (SGDR), growing periods and a decaying peak.

Loshchilov & Hutter, "SGDR: Stochastic Gradient Descent with Warm Restarts" (2017);
the notes, F4:812-870. Cycle i lasts T_i = t0 * t_mult**i and starts at
S_i = t0 * (t_mult**i - 1) / (t_mult - 1) (S_i = i * t0 when t_mult = 1). Inside it, with
T_cur = t - S_i,

    f(t) = m + (p_i - m) * (1 + cos(pi * T_cur / T_i)) / 2,   p_i = max(peak_decay**i, m).

With peak_decay = 1 this is torch's `CosineAnnealingWarmRestarts(T_0, T_mult, eta_min =
m * base_lr)`, for integer steps and for fractional epochs alike (`step(epoch + i / n)` in
torch; `Scheduler(..., steps_per_epoch=n)` here). The decaying peak (eta_max multiplied by
a factor at every restart, F4:838) is what torch lacks; timm calls it `cycle_decay`.

torch finds the cycle of a fractional epoch with a floating-point logarithm, which lands in
the previous cycle at some exact restart points (e.g. T_0 = 1, T_mult = 3 at epoch 121);
here the cycle index is corrected with exact comparisons, so a restart is always a restart.
"""

from __future__ import annotations

import math

from trainlab._validate import check_in_range, check_positive
from trainlab.schedules.functions import NamedSchedule, _spec, cosine_value


def cycle_of(t: float, t0: float, t_mult: float) -> tuple[int, float, float]:
    """(i, S_i, T_i): the cycle containing t, its start and its length."""
    if t_mult == 1:
        i_float, t_cur = divmod(t, t0)
        return int(i_float), t - t_cur, t0
    # Closed form, then exact correction for rounding in the logarithm.
    i = max(0, int(math.log(t / t0 * (t_mult - 1) + 1, t_mult)))

    def start(k: int) -> float:
        return t0 * (t_mult**k - 1) / (t_mult - 1)

    while i > 0 and start(i) > t:
        i -= 1
    while start(i + 1) <= t:
        i += 1
    return i, start(i), t0 * t_mult**i


def cosine_restarts(
    t0: float, t_mult: float = 1, peak_decay: float = 1.0, min_factor: float = 0.0
) -> NamedSchedule:
    """SGDR: cosine from the cycle's peak down to `min_factor`, restarting after each cycle.

    Args:
        t0: length of the first cycle (steps, or epochs when the Scheduler runs in epochs).
        t_mult: each cycle is `t_mult` times longer than the previous one (>= 1).
        peak_decay: the peak of cycle i is `peak_decay ** i` (1 = torch's behaviour).
        min_factor: the floor m every cycle anneals to.
    """
    check_positive("t0", t0)
    check_in_range("t_mult", t_mult, 1.0, math.inf)
    check_in_range("peak_decay", peak_decay, 0.0, 1.0, lo_open=True)
    check_in_range("min_factor", min_factor, 0.0, 1.0)

    def f(t: float) -> float:
        if t < t0:  # torch's first cycle: T_cur = t, no division
            return cosine_value(t, t0, 1.0, min_factor)
        if t_mult == 1:
            i_float, t_cur = divmod(t, t0)  # t_cur = t % t0, as torch computes it
            i, t_i = int(i_float), t0
        else:
            i, s_i, t_i = cycle_of(t, t0, t_mult)
            t_cur = t - s_i
        peak = max(peak_decay**i, min_factor)  # a decayed peak never sinks below the floor
        return cosine_value(t_cur, t_i, peak, min_factor)

    return NamedSchedule(
        f,
        _spec(
            "cosine_restarts", t0=t0, t_mult=t_mult, peak_decay=peak_decay, min_factor=min_factor
        ),
    )


def restart_points(t0: float, t_mult: float, until: float) -> list[float]:
    """The starts S_1, S_2, ... of every restart before `until` (for tests and plots)."""
    check_positive("t0", t0)
    check_in_range("t_mult", t_mult, 1.0, math.inf)
    points, start, length = [], t0, t0
    while start < until:
        points.append(start)
        length *= t_mult
        start += length
    return points
