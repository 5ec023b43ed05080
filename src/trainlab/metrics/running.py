"""Metrics accumulated over batches as sums of counts (never means of means).

The sums stay on the device of the model, so updating them never synchronizes with the
host; `compute()` reads them once per epoch. Because the state is sums, a distributed
reduction is an `all_reduce(SUM)` of the state tensors.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor


class RunningMetrics:
    """Base class: a dict of summed state tensors, `update`, `compute`, `state_dict`."""

    primary: str = "loss"
    higher_is_better: bool = False
    _keys: tuple[str, ...] = ("loss_sum", "count")

    def __init__(self, device: torch.device | str = "cpu") -> None:
        self.device = torch.device(device)
        self.reset()

    def reset(self) -> None:
        self.state = {
            k: torch.zeros((), dtype=torch.float64, device=self.device) for k in self._keys
        }

    def _add_loss(self, loss: Tensor, n: int) -> None:
        self.state["loss_sum"] += loss.detach().double() * n
        self.state["count"] += n

    def state_dict(self) -> dict[str, Tensor]:
        return {k: v.clone().cpu() for k, v in self.state.items()}

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        self.state = {k: state[k].to(self.device, torch.float64) for k in self._keys}

    def all_reduce(self) -> None:
        """Sum the state over all processes of the default torch.distributed group."""
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized():
            for v in self.state.values():
                dist.all_reduce(v)


class ClassificationMetrics(RunningMetrics):
    """loss (mean cross-entropy) and acc (fraction of argmax == target)."""

    primary = "acc"
    higher_is_better = True
    _keys = ("loss_sum", "count", "correct")

    def update(self, output: Tensor, target: Tensor, loss: Tensor) -> None:
        # output: (B, K) logits; target: (B,) class indices
        n = target.shape[0]
        self._add_loss(loss, n)
        self.state["correct"] += (output.detach().argmax(dim=1) == target).sum()

    def compute(self) -> dict[str, float]:
        n = max(self.state["count"].item(), 1.0)
        return {
            "loss": self.state["loss_sum"].item() / n,
            "acc": self.state["correct"].item() / n,
        }


class RegressionMetrics(RunningMetrics):
    """loss (MSE on standardized targets), rmse and mae in the target's original units.

    Targets are standardized as y' = (y - mean) / scale for training, so errors are
    multiplied back by `scale`.
    """

    primary = "rmse"
    higher_is_better = False
    _keys = ("loss_sum", "count", "sq_err", "abs_err")

    def __init__(self, device: torch.device | str = "cpu", scale: float = 1.0) -> None:
        self.scale = float(scale)
        super().__init__(device)

    def update(self, output: Tensor, target: Tensor, loss: Tensor) -> None:
        # output, target: (B, 1) standardized values
        n = target.shape[0]
        self._add_loss(loss, n)
        err = (output.detach() - target).double()
        self.state["sq_err"] += err.square().sum()
        self.state["abs_err"] += err.abs().sum()

    def compute(self) -> dict[str, float]:
        n = max(self.state["count"].item(), 1.0)
        return {
            "loss": self.state["loss_sum"].item() / n,
            "rmse": math.sqrt(self.state["sq_err"].item() / n) * self.scale,
            "mae": self.state["abs_err"].item() / n * self.scale,
        }


def metrics_for_task(
    task: str, device: torch.device | str = "cpu", *, target_scale: float = 1.0
) -> RunningMetrics:
    """The running metrics that fit `task` ('classification' or 'regression')."""
    if task == "classification":
        return ClassificationMetrics(device)
    if task == "regression":
        return RegressionMetrics(device, scale=target_scale)
    raise ValueError(f"unknown task {task!r}; expected 'classification' or 'regression'")
