"""`Scheduler`: apply a pure schedule to any optimizer's param groups, per iteration."""

from __future__ import annotations

from typing import Any

import torch

from trainlab.schedules.functions import Schedule


class Scheduler:
    """Sets `group['lr'] = group['initial_lr'] * schedule(step)` for every param group.

    Construction records each group's base lr (`initial_lr`, as torch does) and sets the
    lr for step 0; nothing else of the optimizer changes. Call `step()` after each
    `optimizer.step()`. The state is the step count alone.
    """

    def __init__(self, optimizer: torch.optim.Optimizer, schedule: Schedule) -> None:
        self.optimizer = optimizer
        self.schedule = schedule
        self.last_step = 0
        for group in optimizer.param_groups:
            group.setdefault("initial_lr", group["lr"])
        self._apply()

    def _apply(self) -> None:
        factor = self.schedule(self.last_step)
        for group in self.optimizer.param_groups:
            group["lr"] = group["initial_lr"] * factor

    def step(self) -> None:
        self.last_step += 1
        self._apply()

    def get_last_lr(self) -> list[float]:
        return [float(g["lr"]) for g in self.optimizer.param_groups]

    def state_dict(self) -> dict[str, Any]:
        return {"last_step": self.last_step}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.last_step = int(state["last_step"])
        self._apply()
