"""Early stopping: stop when a validation metric has not improved for `patience` epochs.

An epoch improves on the best so far when ``value < best - min_delta`` (mode 'min') or
``value > best + min_delta`` (mode 'max'). Mode 'auto' reads the direction from the metric:
the task's primary metric knows it; otherwise losses and errors (loss, rmse, mae, ece, ...)
are minimized and scores (acc, f1, dice, iou, r2, ...) maximized. The state is two numbers,
checkpointed, so a resumed run stops at the same epoch.
"""

from __future__ import annotations

import math
from typing import Any

from trainlab.errors import ConfigError

_LOWER = ("loss", "rmse", "mae", "ece", "error", "err", "nll", "perplexity", "fid")


def check_monitor(key: str, monitor: str, names: list[str]) -> None:
    """ConfigError unless `monitor` (config key `key`) is one of the validation `names`."""
    if monitor not in names:
        raise ConfigError(
            f"{key} = {monitor!r}: expected a validation metric of this task, one of "
            f"{', '.join(names)}"
        )


def lower_is_better(metric: str) -> bool:
    name = metric.lower()
    return any(name == k or name.endswith(f"_{k}") or name.startswith(k) for k in _LOWER)


class EarlyStopping:
    """`observe(metrics)` after each validation; `should_stop` once patience ran out."""

    def __init__(
        self,
        monitor: str,
        patience: int,
        *,
        min_delta: float = 0.0,
        mode: str = "auto",
        names: list[str] | None = None,
        primary: tuple[str, bool] | None = None,
    ) -> None:
        if names is not None:
            check_monitor("early_stop.monitor", monitor, names)
        if mode == "auto":
            if primary is not None and monitor == primary[0]:
                mode = "max" if primary[1] else "min"
            else:
                mode = "min" if lower_is_better(monitor) else "max"
        self.monitor, self.patience, self.min_delta, self.mode = monitor, patience, min_delta, mode
        self.best: float | None = None
        self.bad_epochs = 0

    def observe(self, metrics: dict[str, float]) -> bool:
        """Record this epoch's metrics; returns whether it improved."""
        value = float(metrics[self.monitor])
        better = self.best is None or (
            value < self.best - self.min_delta
            if self.mode == "min"
            else value > self.best + self.min_delta
        )
        if better and math.isfinite(value):
            self.best, self.bad_epochs = value, 0
        else:
            self.bad_epochs += 1
        return better

    @property
    def should_stop(self) -> bool:
        return self.bad_epochs >= self.patience

    def reason(self) -> str:
        return (
            f"early stopping: val {self.monitor} did not improve by more than {self.min_delta:g} "
            f"for {self.patience} epoch(s) (best {self.best:.6g})"
        )

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "bad_epochs": self.bad_epochs}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best, self.bad_epochs = state["best"], int(state["bad_epochs"])
