"""Sample-weighted means of named scalars (a task's losses, a self-supervised objective).

For tasks without labels or with several losses (a GAN's generator and discriminator
losses), the evaluation metric is the mean of each named value over every sample seen:
``mean_k = sum_b n_b v_{k,b} / sum_b n_b``. The state is sums, so it checkpoints
mid-epoch and reduces across processes like every other ``RunningMetrics``.
"""

from __future__ import annotations

import torch
from torch import Tensor

from trainlab.metrics.running import RunningMetrics

__all__ = ["MeanMetrics"]


class MeanMetrics(RunningMetrics):
    """``add(name, value, n)`` accumulates; ``compute()`` returns every mean ('loss' first).

    ``primary`` (default 'loss', lower is better) selects the best checkpoint.
    """

    def __init__(
        self,
        device: torch.device | str = "cpu",
        *,
        primary: str = "loss",
        higher_is_better: bool = False,
    ) -> None:
        self.primary = primary
        self.higher_is_better = higher_is_better
        super().__init__(device)

    def add(self, name: str, value: Tensor | float, n: int = 1) -> None:
        """Add a batch's mean `value` of `name` over `n` samples (no host sync)."""
        if not isinstance(name, str) or not name:
            raise ValueError(f"name: expected a non-empty string, got {name!r}")
        if name == "loss":
            self._add_loss(value, n)
            return
        v = value.detach() if isinstance(value, Tensor) else torch.tensor(float(value))
        key = f"sum:{name}"
        if key not in self.state:
            self.state[key] = self._zeros()
            self.state[f"n:{name}"] = self._zeros(dtype=torch.int64)
        self.state[key] += v.to(self.device, torch.float64).reshape(()) * n
        self.state[f"n:{name}"] += n

    def update(self, output: Tensor, target: Tensor, loss: Tensor | float | None = None) -> None:
        """Add the batch's loss (`output`'s length counts its samples)."""
        self._add_loss(loss, int(output.shape[0]) if output.ndim else 1)

    def compute(self) -> dict[str, float]:
        out = {"loss": self._per_sample("loss_sum")} if int(self.state["count"]) else {}
        for key in sorted(k for k in self.state if k.startswith("sum:")):
            name = key[4:]
            out[name] = float(self.state[key]) / max(float(self.state[f"n:{name}"]), 1.0)
        return out
