"""Joint training of early exits as an engine task (`task.name = early_exit`).

    L = sum_k w_k * CE(z_k, y) / sum_k w_k        z_k: the logits of exit k (the last is the
                                                   model's own head), w_k: `weights`

(BranchyNet, Teerapittayanon et al. 2016, trains the exits with a weighted sum of their
losses; notes F3:3152-3183). The weights are normalized so the loss keeps the scale of one
cross-entropy and the recipe's learning rate still fits. The loss is the config's
classification loss (label smoothing included). Validation metrics are the last exit's; the
threshold sweep is `trainlab eval RUN --early-exit`.

    trainlab train --set task.name=early_exit [--set task.args.points=[1]]
                   [--set task.args.weights=[1,1,2]]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from trainlab.errors import ConfigError
from trainlab.metrics import RunningMetrics, metrics_for_task
from trainlab.models.early_exit import EarlyExitNetwork, heads
from trainlab.train.step import Step
from trainlab.train.task import Task, TaskContext


def joint_loss(outputs: Sequence[Tensor], target: Tensor, loss_fn: Any, weights: Tensor) -> Tensor:
    """`sum_k w_k loss(z_k, y) / sum_k w_k` over the exits."""
    losses = torch.stack([loss_fn(z, target) for z in outputs])  # (E,)
    return (weights * losses).sum() / weights.sum()


class EarlyExitTask(Task):
    """Train a zoo model with exit heads after its intermediate segments (`points`; default
    all), jointly, with per-exit loss `weights` (default equal)."""

    def __init__(
        self, points: Sequence[int] | None = None, weights: Sequence[float] | None = None
    ) -> None:
        super().__init__()
        self.points = None if points is None else [int(p) for p in points]
        if weights is not None and (
            not weights or any(float(w) < 0 for w in weights) or sum(weights) <= 0
        ):
            raise ValueError(
                f"weights must be non-negative numbers with a positive sum, got {weights}"
            )
        self._weights = None if weights is None else [float(w) for w in weights]

    def setup(self, ctx: TaskContext) -> None:
        from trainlab.train.build import build_augment
        from trainlab.train.supervised import _config_loss

        data = ctx.data
        if data.task != "classification":
            raise ConfigError(f"task early_exit needs a classification task, got {data.task!r}")
        if build_augment(ctx.config, data) is not None:
            raise ConfigError(
                "task early_exit does not apply augment.*; turn the augmentations off"
            )
        try:
            net = heads(ctx.create_model(), data.num_outputs, data.in_shape, self.points)
        except (TypeError, ValueError) as e:
            raise ConfigError(f"task.args: {e}") from None
        n = net.num_exits
        w = self._weights or [1.0] * n
        if len(w) != n:
            raise ConfigError(f"task.args.weights: {len(w)} weights for {n} exits ({w})")
        self.weights = torch.tensor(w, device=ctx.device)
        self.modules = {"model": net}
        self.loss_fn = _config_loss(ctx.config, data)
        self.loss_fn.to(ctx.device)
        self.channels_last = ctx.config.train.channels_last

    @property
    def net(self) -> EarlyExitNetwork:
        return self.modules["model"]  # type: ignore[return-value]

    def _inputs(self, x: Tensor) -> Tensor:  # as SupervisedTask: the run's memory format
        if self.channels_last and x.ndim == 4:
            return x.contiguous(memory_format=torch.channels_last)
        return x

    def training_step(self, batch: Any, step: Step) -> None:
        x, y = batch
        outs = self.net(self._inputs(x))
        loss = joint_loss(outs, y, self.loss_fn, self.weights)
        step.backward(loss)
        step.update()
        self._train_metrics.update(outs[-1].detach(), y, loss.detach())
        step.log("loss", loss, epoch=False)

    def validation_step(self, batch: Any, metrics: RunningMetrics) -> None:
        x, y = batch
        out = self.net(self._inputs(x))[-1]
        metrics.update(out, y, self.loss_fn(out, y))

    def metrics(self, device: torch.device, *, detailed: bool = False) -> RunningMetrics:
        return metrics_for_task("classification", device, detailed=detailed)

    def train_metrics(self, device: torch.device) -> RunningMetrics:
        self._train_metrics = self.metrics(device)
        return self._train_metrics


@torch.no_grad()
def exit_outputs(
    net: EarlyExitNetwork, split: Any, batch_size: int = 512
) -> tuple[list[Tensor], Tensor]:
    """Every exit's logits over `split` (E x (N, K), in eval mode) and the targets (N,)."""
    from trainlab.data import make_loader

    device = next(net.parameters()).device
    was = net.training
    net.eval()
    outs: list[list[Tensor]] = [[] for _ in range(net.num_exits)]
    ys = []
    for x, y in make_loader(split, batch_size).epoch(0):
        for k, z in enumerate(net(x.to(device))):
            outs[k].append(z)
        ys.append(y.to(device))
    net.train(was)
    return [torch.cat(o) for o in outs], torch.cat(ys)
