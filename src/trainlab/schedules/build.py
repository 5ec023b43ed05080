"""Build a schedule from plain keyword arguments (what a config section holds).

    build_schedule("cosine", epochs=30, steps_per_epoch=100, warmup_epochs=1, min_factor=0.01)

returns a function of the optimizer step covering the whole run of epochs * steps_per_epoch
steps. Rules, so that the same config always means the same curve:

- The warmup is `warmup_steps` when given, else round(warmup_epochs * steps_per_epoch); it
  must be shorter than the run. `warmup_kind` (linear | exponential | constant) and
  `warmup_start_factor` shape it (see `warmup`).
- Time parameters (`step_size`, `milestones`, `period`, `t0`) are in epochs, or in steps
  with unit="step"; fractional epochs are fine (the lr still changes per iteration).
- Lengths tied to the run (cosine, linear, polynomial, one_cycle) are not parameters: they
  span the run after the warmup. cosine_restarts and exponential start their clock when
  the warmup ends; the milestones of step, multistep and resnet count from the run start
  (epoch 30 means epoch 30 of the run, not 30 epochs after the warmup).
- Schedules with their own warmup take it from the warmup setting: inverse_sqrt (required),
  resnet (its low constant phase, warmup_factor 0.1 by default), one_cycle (pct_start =
  warmup / run when a warmup is given).
- "plateau" returns a `ReduceOnPlateau` (its parameters are ReduceOnPlateau's) whose base
  schedule is the warmup, for `Scheduler(optimizer, plateau)`.

Every bad value raises ValueError naming the parameter.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from trainlab.schedules.combinators import WARMUP_KINDS, warmup
from trainlab.schedules.functions import (
    NamedSchedule,
    Schedule,
    constant,
    cosine,
    exponential,
    linear,
    multistep,
    polynomial,
    step,
)
from trainlab.schedules.one_cycle import one_cycle
from trainlab.schedules.plateau import ReduceOnPlateau
from trainlab.schedules.recipes import inverse_sqrt, resnet
from trainlab.schedules.restarts import cosine_restarts

# name -> (function, parameters the builder fills in itself, time parameters)
_TABLE: dict[str, tuple[Callable[..., Any], tuple[str, ...], tuple[str, ...]]] = {
    "constant": (constant, (), ()),
    "step": (step, (), ("step_size",)),
    "multistep": (multistep, (), ("milestones",)),
    "exponential": (exponential, (), ("period",)),
    "linear": (linear, ("total_steps",), ()),
    "polynomial": (polynomial, ("total_steps",), ()),
    "cosine": (cosine, ("total_steps",), ()),
    "cosine_restarts": (cosine_restarts, (), ("t0",)),
    "one_cycle": (one_cycle, ("total_steps",), ()),
    "inverse_sqrt": (inverse_sqrt, ("warmup_steps",), ()),
    "resnet": (resnet, ("warmup_steps",), ("milestones",)),
    "plateau": (ReduceOnPlateau, ("base",), ()),
}
SCHEDULE_NAMES = tuple(_TABLE)
_ABSOLUTE = ("step", "multistep")  # milestones from the run start
_OWN_WARMUP = ("inverse_sqrt", "resnet", "one_cycle")


def schedule_params(name: str) -> list[str]:
    """The keyword parameters `build_schedule` accepts for `name` (besides the common ones)."""
    fn, filled, _ = _lookup(name)
    return [p for p in inspect.signature(fn).parameters if p not in filled]


def _lookup(name: str) -> tuple[Callable[..., Any], tuple[str, ...], tuple[str, ...]]:
    if name not in _TABLE:
        raise ValueError(f"unknown schedule name {name!r}; expected one of {', '.join(_TABLE)}")
    return _TABLE[name]


def _int_at_least(name: str, value: Any, lo: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < lo:
        raise ValueError(f"{name} must be an integer >= {lo}, got {value!r}")
    return value


def warmup_length(
    steps_per_epoch: int, warmup_epochs: float = 0.0, warmup_steps: int | None = None
) -> int:
    """The warmup in steps: warmup_steps if given, else round(warmup_epochs * steps_per_epoch)."""
    if warmup_steps is not None:
        return _int_at_least("warmup_steps", warmup_steps, 0)
    if isinstance(warmup_epochs, bool) or not isinstance(warmup_epochs, (int, float)):
        raise ValueError(f"warmup_epochs must be a number >= 0, got {warmup_epochs!r}")
    if not warmup_epochs >= 0:
        raise ValueError(f"warmup_epochs must be >= 0, got {warmup_epochs!r}")
    return round(warmup_epochs * steps_per_epoch)


def build_schedule(
    name: str,
    *,
    epochs: int,
    steps_per_epoch: int,
    warmup_epochs: float = 0.0,
    warmup_steps: int | None = None,
    warmup_kind: str | None = None,
    warmup_start_factor: float | None = None,
    unit: str = "epoch",
    **params: Any,
) -> Schedule:
    """The lr factor as a function of the optimizer step over the whole run (module doc).

    A value of the wrong type is reported as ValueError too, so that a config error is
    always one ValueError naming the parameter.
    """
    try:
        return _build(
            name,
            epochs=epochs,
            steps_per_epoch=steps_per_epoch,
            warmup_epochs=warmup_epochs,
            warmup_steps=warmup_steps,
            warmup_kind=warmup_kind,
            warmup_start_factor=warmup_start_factor,
            unit=unit,
            **params,
        )
    except TypeError as exc:
        raise ValueError(f"schedule {name!r}: {exc}") from exc


def _build(
    name: str,
    *,
    epochs: int,
    steps_per_epoch: int,
    warmup_epochs: float,
    warmup_steps: int | None,
    warmup_kind: str | None,
    warmup_start_factor: float | None,
    unit: str,
    **params: Any,
) -> Schedule:
    if not isinstance(name, str):
        raise ValueError(f"schedule name must be a string, got {name!r}")
    fn, filled, time_params = _lookup(name)
    _int_at_least("epochs", epochs, 1)
    _int_at_least("steps_per_epoch", steps_per_epoch, 1)
    if unit not in ("epoch", "step"):
        raise ValueError(f"unit must be 'epoch' or 'step', got {unit!r}")
    if warmup_kind is not None and warmup_kind not in WARMUP_KINDS:
        raise ValueError(
            f"warmup_kind must be one of {', '.join(WARMUP_KINDS)}; got {warmup_kind!r}"
        )
    accepted = schedule_params(name)
    for key in params:
        if key not in accepted:
            raise ValueError(
                f"unknown parameter {key!r} for schedule {name!r}; "
                f"expected some of: {', '.join(accepted) or '(none)'}"
            )
    required = [
        p.name
        for p in inspect.signature(fn).parameters.values()
        if p.default is inspect.Parameter.empty and p.name not in filled
    ]
    for key in required:
        if key not in params:
            raise ValueError(f"schedule {name!r} needs the parameter {key!r}")
    total = epochs * steps_per_epoch
    w = warmup_length(steps_per_epoch, warmup_epochs, warmup_steps)
    if w >= total:
        raise ValueError(
            f"warmup_steps={w} (warmup_epochs={warmup_epochs}) must be shorter than the run "
            f"({epochs} epochs x {steps_per_epoch} steps = {total} steps)"
        )
    scale = steps_per_epoch if unit == "epoch" else 1
    kw = dict(params)
    for key in time_params:
        if key in kw:
            v = kw[key]
            kw[key] = [m * scale for m in v] if isinstance(v, (list, tuple)) else v * scale
    if name == "exponential":
        kw.setdefault("period", scale)

    allowed_kinds = (None, "constant") if name == "resnet" else (None,)
    if name in _OWN_WARMUP and warmup_kind not in allowed_kinds:
        raise ValueError(f"warmup_kind={warmup_kind!r} does not apply to {name!r}: it has its own")
    if name == "inverse_sqrt":
        if w == 0:
            raise ValueError("schedule 'inverse_sqrt' needs warmup_steps (or warmup_epochs) > 0")
        return inverse_sqrt(warmup_steps=w, **kw)
    if name == "resnet":
        if warmup_start_factor is not None:
            kw.setdefault("warmup_factor", warmup_start_factor)
        return resnet(warmup_steps=w, **kw)
    if name == "one_cycle":
        if w > 0:
            if "pct_start" in kw:
                raise ValueError("give one_cycle either pct_start or a warmup, not both")
            kw["pct_start"] = w / total
        return one_cycle(total_steps=total, **kw)

    def ramp(main: Schedule) -> Schedule:
        kind: Any = warmup_kind or "linear"  # checked against WARMUP_KINDS above
        return warmup(main, w, kind=kind, start_factor=warmup_start_factor)

    if name == "plateau":
        return ReduceOnPlateau(**kw, base=ramp(constant()))
    if name in _ABSOLUTE:
        main = fn(**kw)
        if w == 0:
            return main
        shifted = NamedSchedule(lambda t: main(t + w), f"{main!r}@+{w}")
        return ramp(shifted)
    if "total_steps" in filled:
        kw["total_steps"] = total - w
    return ramp(fn(**kw))
