"""Reduce the learning rate when a metric stops improving (metric driven, with state).

The decision rule is torch's `ReduceLROnPlateau`: a value is an improvement when

    min, rel: a < best * (1 - threshold)      max, rel: a > best * (1 + threshold)
    min, abs: a < best - threshold            max, abs: a > best + threshold;

after more than `patience` observations without one, the factor is multiplied by `factor`
(never below `min_factor`), the counter resets and `cooldown` observations are ignored.

trainlab keeps the reduction as a factor of each group's base lr instead of rewriting the
lr in place, so it composes with any step schedule (lr = base * schedule(t) * factor) and
its whole state is five numbers. `min_factor` is torch's `min_lr` divided by the base lr,
and `eps` (skip a reduction smaller than eps) applies to that factor, not to the lr.
"""

from __future__ import annotations

import math
from typing import Any, Literal

from trainlab._validate import check_in_range, check_int, check_nonnegative
from trainlab.schedules.functions import Schedule


class ReduceOnPlateau:
    """Metric-driven lr factor: `observe(metric)` after each evaluation.

    `base`, optional, is a step schedule the reduction multiplies (e.g. a warmup); a
    `Scheduler` given a ReduceOnPlateau as its schedule applies base(t) * scale.
    """

    def __init__(
        self,
        mode: Literal["min", "max"] = "min",
        factor: float = 0.1,
        patience: int = 10,
        threshold: float = 1e-4,
        threshold_mode: Literal["rel", "abs"] = "rel",
        cooldown: int = 0,
        min_factor: float = 0.0,
        eps: float = 1e-8,
        base: Schedule | None = None,
    ) -> None:
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(f"threshold_mode must be 'rel' or 'abs', got {threshold_mode!r}")
        check_in_range("factor", factor, 0.0, 1.0, lo_open=True)
        if factor == 1.0:
            raise ValueError("factor must be < 1, got 1.0")
        for name, v in (("patience", patience), ("cooldown", cooldown)):
            check_int(name, v, lo=0)
        check_nonnegative("threshold", threshold)
        check_in_range("min_factor", min_factor, 0.0, 1.0)
        check_nonnegative("eps", eps)
        self.mode, self.factor, self.patience = mode, factor, patience
        self.threshold, self.threshold_mode = threshold, threshold_mode
        self.cooldown, self.min_factor, self.eps = cooldown, min_factor, eps
        if base is not None and not callable(base):
            raise TypeError(f"base must be a schedule (callable), got {base!r}")
        self.base = base
        self.reset()

    def reset(self) -> None:
        """Back to the start: factor 1, no best value, no counters."""
        self.scale = 1.0
        self.best = math.inf if self.mode == "min" else -math.inf
        self.num_bad = 0
        self.cooldown_counter = 0
        self.num_observed = 0

    def __call__(self, t: float) -> float:
        """base(t) times the current reduction (which depends on the metrics seen, not t)."""
        return self.scale if self.base is None else self.base(t) * self.scale

    def is_better(self, a: float, best: float) -> bool:
        if self.mode == "min" and self.threshold_mode == "rel":
            return a < best * (1.0 - self.threshold)
        if self.mode == "min":
            return a < best - self.threshold
        if self.threshold_mode == "rel":
            return a > best * (self.threshold + 1.0)
        return a > best + self.threshold

    def observe(self, metric: Any) -> bool:
        """Record one evaluation of the metric; True when the factor was reduced."""
        current = float(metric)
        if math.isnan(current):
            raise ValueError("metric is NaN; ReduceOnPlateau needs a number to compare")
        self.num_observed += 1
        if self.is_better(current, self.best):
            self.best = current
            self.num_bad = 0
        else:
            self.num_bad += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad = 0  # bad evaluations during the cooldown do not count
        if self.num_bad > self.patience:
            self.cooldown_counter = self.cooldown
            self.num_bad = 0
            new = max(self.scale * self.factor, self.min_factor)
            if self.scale - new > self.eps:
                self.scale = new
                return True
        return False

    def state_dict(self) -> dict[str, Any]:
        return {
            "scale": self.scale,
            "best": self.best,
            "num_bad": self.num_bad,
            "cooldown_counter": self.cooldown_counter,
            "num_observed": self.num_observed,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.scale = float(state["scale"])
        self.best = float(state["best"])
        self.num_bad = int(state["num_bad"])
        self.cooldown_counter = int(state["cooldown_counter"])
        self.num_observed = int(state["num_observed"])

    def __repr__(self) -> str:
        return (
            f"ReduceOnPlateau(mode={self.mode!r}, factor={self.factor!r}, "
            f"patience={self.patience!r}, threshold={self.threshold!r}, "
            f"threshold_mode={self.threshold_mode!r}, cooldown={self.cooldown!r}, "
            f"min_factor={self.min_factor!r}, eps={self.eps!r}, base={self.base!r})"
        )
