"""The one-cycle policy (Smith & Topin, "Super-Convergence", 2017; fastai's two-phase form).

The param group's lr is the peak (torch's `max_lr`). With s = 1 / div_factor and
e = s / final_div_factor, the factor rises from s to 1 over the first `pct_start` of the run
and falls from 1 to e over the rest (two phases, the default), or rises, falls back to s
and then falls to e (three phases, the paper's form). Each phase interpolates with

    cos:    end + (start - end) / 2 * (cos(pi * pct) + 1)
    linear: (end - start) * pct + start

at pct = (t - phase start) / (phase end - phase start), with the phase ends placed exactly
where torch's `OneCycleLR` places them (pct_start * total_steps - 1, ..., total_steps - 1),
so the two agree step for step. After the last step the factor stays at e (torch raises).
Momentum cycling, which torch's OneCycleLR also does, is `one_cycle_momentum`.
"""

from __future__ import annotations

import itertools
import math
from typing import Literal

from trainlab._validate import check_in_range, check_positive
from trainlab.schedules.functions import NamedSchedule, _spec


def _cos(start: float, end: float, pct: float) -> float:
    return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)


def _linear(start: float, end: float, pct: float) -> float:
    return (end - start) * pct + start


def _phases(
    total_steps: float, pct_start: float, three_phase: bool, lo: float, hi: float, end: float
) -> list[tuple[float, float, float]]:
    """[(end_step, start_value, end_value)] as torch's `_schedule_phases`."""
    if three_phase:
        return [
            (float(pct_start * total_steps) - 1, lo, hi),
            (float(2 * pct_start * total_steps) - 2, hi, lo),
            (total_steps - 1, lo, end),
        ]
    return [(float(pct_start * total_steps) - 1, lo, hi), (total_steps - 1, hi, end)]


def _run_phases(
    t: float, phases: list[tuple[float, float, float]], anneal: Literal["cos", "linear"]
) -> float:
    fn = _cos if anneal == "cos" else _linear
    t = min(t, phases[-1][0])
    start_step = 0.0
    for i, (end_step, a, b) in enumerate(phases):
        if t <= end_step or i == len(phases) - 1:
            return fn(a, b, (t - start_step) / (end_step - start_step))
        start_step = end_step
    raise AssertionError("unreachable: the last phase always matches")


def _validate(total_steps: float, pct_start: float, anneal: str, three_phase: bool) -> None:
    check_positive("total_steps", total_steps)
    check_in_range("pct_start", pct_start, 0.0, 1.0, lo_open=True)
    if anneal not in ("cos", "linear"):
        raise ValueError(f"anneal must be 'cos' or 'linear', got {anneal!r}")
    ends = [0.0] + [e for e, _, _ in _phases(total_steps, pct_start, three_phase, 0, 0, 0)]
    if any(b <= a for a, b in itertools.pairwise(ends)):
        raise ValueError(
            f"pct_start={pct_start} with total_steps={total_steps} leaves a phase empty; "
            "expected pct_start * total_steps > 1 and every phase at least one step long"
        )


def one_cycle(
    total_steps: float,
    pct_start: float = 0.3,
    anneal: Literal["cos", "linear"] = "cos",
    div_factor: float = 25.0,
    final_div_factor: float = 1e4,
    three_phase: bool = False,
) -> NamedSchedule:
    """One-cycle lr factor (torch `OneCycleLR` with `max_lr` = the group's lr)."""
    _validate(total_steps, pct_start, anneal, three_phase)
    check_in_range("div_factor", div_factor, 1.0, math.inf)
    check_in_range("final_div_factor", final_div_factor, 1.0, math.inf)
    lo = 1.0 / div_factor
    phases = _phases(total_steps, pct_start, three_phase, lo, 1.0, lo / final_div_factor)
    return NamedSchedule(
        lambda t: _run_phases(t, phases, anneal),
        _spec(
            "one_cycle",
            total_steps=total_steps,
            pct_start=pct_start,
            anneal=anneal,
            div_factor=div_factor,
            final_div_factor=final_div_factor,
            three_phase=three_phase,
        ),
    )


def one_cycle_momentum(
    total_steps: float,
    pct_start: float = 0.3,
    anneal: Literal["cos", "linear"] = "cos",
    base_momentum: float = 0.85,
    max_momentum: float = 0.95,
    three_phase: bool = False,
) -> NamedSchedule:
    """The momentum (or Adam beta1) that one-cycle runs against the lr: max -> base -> max.

    Returns the momentum *value* (not a factor); pass it as `Scheduler(momentum=...)`.
    """
    _validate(total_steps, pct_start, anneal, three_phase)
    check_in_range("base_momentum", base_momentum, 0.0, 1.0)
    check_in_range("max_momentum", max_momentum, 0.0, 1.0)
    hi, lo = max_momentum, base_momentum
    if three_phase:
        phases = [
            (float(pct_start * total_steps) - 1, hi, lo),
            (float(2 * pct_start * total_steps) - 2, lo, hi),
            (total_steps - 1, hi, hi),
        ]
    else:
        phases = [(float(pct_start * total_steps) - 1, hi, lo), (total_steps - 1, lo, hi)]
    return NamedSchedule(
        lambda t: _run_phases(t, phases, anneal),
        _spec(
            "one_cycle_momentum",
            total_steps=total_steps,
            pct_start=pct_start,
            anneal=anneal,
            base_momentum=base_momentum,
            max_momentum=max_momentum,
            three_phase=three_phase,
        ),
    )
