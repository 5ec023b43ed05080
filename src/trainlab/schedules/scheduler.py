"""`Scheduler`: apply a pure schedule to any optimizer's param groups, per iteration."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import torch

from trainlab._validate import check_int
from trainlab.schedules.functions import Schedule, constant
from trainlab.schedules.plateau import ReduceOnPlateau


def _set(group: dict[str, Any], key: str, value: float) -> None:
    """Write a hyperparameter, in place when the optimizer keeps it as a tensor."""
    current = group[key]
    if isinstance(current, torch.Tensor):
        current.fill_(value)
    else:
        group[key] = value


class Scheduler:
    """Drives `optimizer`'s learning rates from a schedule, once per optimizer step.

    For param group g at step t (t = 0 before the first update):

        lr_g = base_lr_g * lr_scale_g * schedule_g(x) * plateau_factor,
        x = t, or t / steps_per_epoch (fractional epochs) when steps_per_epoch is given.

    - `base_lr_g` is the group's `initial_lr` when a torch scheduler left one, else its lr
      when the Scheduler was built; `lr_scale_g` is the group's optional `lr_scale` key
      (layer-wise lr decay, as timm writes it), read at every step.
    - `schedule` is one schedule for all groups or a sequence with one per group (torch's
      LambdaLR list). A `ReduceOnPlateau` may be passed as the schedule or as `plateau`.
    - `momentum`, optional, is a schedule of the momentum *value* (one-cycle's momentum):
      it sets `momentum`, or `betas[0]` for Adam-type optimizers.

    Construction sets the lr (and momentum) for step 0 and changes nothing else: it adds
    no keys to the param groups and does not wrap `optimizer.step`. Call `step()` after
    each `optimizer.step()`, and `observe(metric)` after each evaluation when a plateau
    rule is used. The state is the step count, the base lrs and the plateau's counters;
    `load_state_dict` works whether the optimizer's state was loaded before or after.
    """

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        schedule: Schedule | Sequence[Schedule],
        *,
        steps_per_epoch: int | None = None,
        plateau: ReduceOnPlateau | None = None,
        momentum: Schedule | None = None,
    ) -> None:
        if not hasattr(optimizer, "param_groups"):
            raise TypeError(f"optimizer must have param_groups, got {type(optimizer).__name__}")
        groups = optimizer.param_groups
        if isinstance(schedule, ReduceOnPlateau):
            if plateau is not None:
                raise ValueError("give a ReduceOnPlateau as schedule or as plateau, not both")
            plateau, schedule = schedule, (schedule.base or constant())
        if isinstance(schedule, Sequence):
            schedules = list(schedule)
            if len(schedules) != len(groups):
                raise ValueError(
                    f"schedule has {len(schedules)} entries but the optimizer has "
                    f"{len(groups)} param groups; expected one schedule per group"
                )
        else:
            schedules = [schedule] * len(groups)
        for i, s in enumerate(schedules):
            if not callable(s):
                raise TypeError(f"schedule[{i}] must be callable, got {s!r}")
        if steps_per_epoch is not None:
            check_int("steps_per_epoch", steps_per_epoch, lo=1)
        if momentum is not None and not callable(momentum):
            raise TypeError(f"momentum must be a schedule (callable), got {momentum!r}")
        self.optimizer = optimizer
        self.schedules = schedules
        self._shared = all(s is schedules[0] for s in schedules)
        self.steps_per_epoch = steps_per_epoch
        self.plateau = plateau
        self.momentum = momentum
        self.base_lrs = [float(g.get("initial_lr", g["lr"])) for g in groups]
        self.last_step = 0
        self._apply()

    # ------------------------------------------------------------------ the schedule
    @property
    def epoch(self) -> float:
        """The time the schedule sees: the step, or the fractional epoch."""
        return self.time_at(self.last_step)

    def time_at(self, step: int) -> float:
        return step if self.steps_per_epoch is None else step / self.steps_per_epoch

    def lrs_at(self, step: int) -> list[float]:
        """The lr of every group at `step` (plateau at its current factor); changes nothing."""
        x = self.time_at(step)
        p = 1.0 if self.plateau is None else self.plateau.scale
        groups = self.optimizer.param_groups
        if len(groups) != len(self.base_lrs):
            raise ValueError(
                f"the optimizer has {len(groups)} param groups, the scheduler knows "
                f"{len(self.base_lrs)}; build the Scheduler after adding param groups"
            )
        if self._shared:  # one schedule for every group: evaluate it once
            f = self.schedules[0](x)
            return [
                base * g.get("lr_scale", 1.0) * f * p
                for base, g in zip(self.base_lrs, groups, strict=True)
            ]
        return [
            base * g.get("lr_scale", 1.0) * s(x) * p
            for base, g, s in zip(self.base_lrs, groups, self.schedules, strict=True)
        ]

    def _apply(self) -> None:
        for g, lr in zip(self.optimizer.param_groups, self.lrs_at(self.last_step), strict=True):
            _set(g, "lr", lr)
        if self.momentum is not None:
            m = float(self.momentum(self.time_at(self.last_step)))
            for g in self.optimizer.param_groups:
                if "betas" in g:
                    g["betas"] = (m, *tuple(g["betas"])[1:])
                elif "momentum" in g:
                    _set(g, "momentum", m)
                else:
                    raise ValueError("momentum schedule given, but the optimizer has no momentum")

    def step(self) -> None:
        """Advance one optimizer step and set the lrs for the next update."""
        self.last_step += 1
        self._apply()

    def observe(self, metric: Any) -> bool:
        """Feed an evaluation metric to the plateau rule; True when it reduced the lr."""
        if self.plateau is None:
            raise ValueError("observe() needs a ReduceOnPlateau (plateau=...) in the Scheduler")
        reduced = self.plateau.observe(metric)
        self._apply()
        return reduced

    def get_last_lr(self) -> list[float]:
        return [float(g["lr"]) for g in self.optimizer.param_groups]

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict[str, Any]:
        """Plain numbers and strings only (loads with `torch.load(weights_only=True)`)."""
        return {
            "last_step": self.last_step,
            "base_lrs": list(self.base_lrs),
            "steps_per_epoch": self.steps_per_epoch,
            "plateau": None if self.plateau is None else self.plateau.state_dict(),
            "schedule": [repr(s) for s in self.schedules],
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        base_lrs = [float(b) for b in state["base_lrs"]]
        if len(base_lrs) != len(self.optimizer.param_groups):
            raise ValueError(
                f"the saved scheduler has {len(base_lrs)} param groups, the optimizer "
                f"{len(self.optimizer.param_groups)}"
            )
        if state.get("steps_per_epoch") != self.steps_per_epoch:
            raise ValueError(
                f"steps_per_epoch was {state.get('steps_per_epoch')!r} when saved, "
                f"{self.steps_per_epoch!r} now; the schedule would not continue where it stopped"
            )
        if (state.get("plateau") is None) != (self.plateau is None):
            raise ValueError("the saved scheduler and this one disagree on having a plateau rule")
        saved = state.get("schedule")
        now = [repr(s) for s in self.schedules]
        if saved is not None and _comparable(saved) != _comparable(now):
            warnings.warn(
                f"resuming with a different schedule than the one saved ({saved[0]} -> "
                f"{self.schedules[0]!r})",
                stacklevel=2,
            )
        self.base_lrs = base_lrs
        self.last_step = int(state["last_step"])
        if self.plateau is not None:
            self.plateau.load_state_dict(state["plateau"])
        self._apply()


def _comparable(specs: Sequence[str]) -> list[str]:
    """Reprs that identify a schedule across processes (not `<function ... at 0x...>`)."""
    return [s if " at 0x" not in s else "?" for s in specs]
