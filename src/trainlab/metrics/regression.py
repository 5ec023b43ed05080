"""Running metrics of regression: loss, RMSE, MAE and R^2 (F4:1040-1050).

``update(output, target, loss)`` takes predictions and targets of the same number of
elements per sample, (B,) or (B, D). Targets are usually standardized for training,
y' = (y - mean) / scale; the errors are then multiplied back by ``scale`` so RMSE and MAE
are in the target's own units (R^2 does not depend on the scale).

State, per output column d: the sums of squared and absolute errors, of y and of y^2.
From them

    rmse = sqrt(sum e^2 / (n D)) * scale,   mae = sum |e| / (n D) * scale
    R^2_d = 1 - SSE_d / SST_d,   SST_d = sum y^2 - (sum y)^2 / n

(R^2 only with ``detailed=True``, the default) averaged over the D outputs (scikit-learn's ``r2_score`` with 'uniform_average'). A
constant target (SST = 0) scores 1.0 when predicted exactly and 0.0 otherwise, as
scikit-learn's ``force_finite``. The sums are float64; standardized targets keep the
cancellation in SST harmless.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from trainlab.metrics.running import RunningMetrics

__all__ = ["RegressionMetrics"]


class RegressionMetrics(RunningMetrics):
    """loss (on standardized targets), rmse and mae in target units, r2."""

    primary = "rmse"
    higher_is_better = False

    def __init__(
        self,
        device: torch.device | str = "cpu",
        scale: float = 1.0,
        *,
        num_outputs: int | None = None,
        detailed: bool = True,
    ) -> None:
        if not math.isfinite(scale) or scale <= 0:
            raise ValueError(f"scale={scale!r}; expected a finite number > 0")
        self.scale = float(scale)
        self.detailed = detailed
        super().__init__(device, num_outputs)

    def _allocate(self, size: int) -> None:
        super()._allocate(size)
        for key in ("sq_err", "abs_err", "y_sum", "y_sq"):
            self.state[key] = self._zeros(size)

    def update(self, output: Tensor, target: Tensor, loss: Tensor | float | None = None) -> None:
        if output.numel() != target.numel() or output.shape[:1] != target.shape[:1]:
            raise ValueError(
                f"output and target must hold the same values per sample; got output "
                f"{tuple(output.shape)} and target {tuple(target.shape)}"
            )
        n = output.shape[0]
        pred = output.detach().reshape(n, -1).double()  # (B, D)
        y = target.detach().reshape(n, -1).to(pred)
        self._ensure(pred.shape[1])
        err = pred - y
        self.state["sq_err"] += err.square().sum(0)
        self.state["abs_err"] += err.abs().sum(0)
        self.state["y_sum"] += y.sum(0)
        self.state["y_sq"] += y.square().sum(0)
        self._add_loss(loss, n)

    def compute(self) -> dict[str, float]:
        n = self._count()
        out = {"loss": self._per_sample("loss_sum")}
        if not self.allocated or n == 0:
            return out | {"rmse": 0.0, "mae": 0.0} | ({"r2": 0.0} if self.detailed else {})
        d = self.state["sq_err"].numel()
        sse = self.state["sq_err"]
        sst = (self.state["y_sq"] - self.state["y_sum"].square() / n).clamp_min(0)
        # a constant target leaves only rounding in SST: treat SST below 1e-12 of sum y^2 as 0
        nonconstant = sst > 1e-12 * self.state["y_sq"]
        r2 = torch.where(
            nonconstant,
            1 - sse / sst.clamp_min(torch.finfo(sst.dtype).tiny),
            (sse == 0).double(),  # constant target: 1 if exact, else 0 (sklearn force_finite)
        )
        out |= {
            "rmse": math.sqrt(float(sse.sum()) / (n * d)) * self.scale,
            "mae": float(self.state["abs_err"].sum()) / (n * d) * self.scale,
        }
        return (out | {"r2": float(r2.mean())}) if self.detailed else out
