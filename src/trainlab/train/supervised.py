"""Supervised learning as a task: the notes' six steps (F4 section 6) on the engine.

Per batch: (augment), forward, loss (+ the L1 penalty), backward, update; the engine zeroes
the gradients, steps the schedule and keeps the EMA. Covers every kind of labelled data:

=============== ========================= ======================= ==================
data.task       targets                   default loss            metrics
=============== ========================= ======================= ==================
classification  (N,) class indices        cross-entropy           acc, top-5, F1, ECE
regression      (N, D) floats             MSE                     rmse, mae, r2
multilabel      (N, C) multi-hot          BCE with logits         subset acc, F1
segmentation    (N, H, W) pixel classes   per-pixel cross-entropy pixel acc, Dice, IoU
=============== ========================= ======================= ==================

`loss.name` picks any other loss of `trainlab.losses` that fits the task (or a weighted sum).

L1 regularization (`regularize.l1`, notes F3:1448-1547, LASSO): the loss gains
``lambda * sum_i |w_i|`` over the weight matrices and kernels (parameters with two or more
dimensions; biases and norm scales are left alone, as for weight decay). Its subgradient
``lambda * sign(w)`` drives unimportant weights towards zero; the epoch row reports
`l1_sparsity`, the fraction of those weights with ``|w| < 1e-3``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from trainlab.errors import ConfigError
from trainlab.metrics import RunningMetrics, metrics_for_task
from trainlab.train.registry import register_task
from trainlab.train.step import Step
from trainlab.train.task import OptimizerSpec, Task, TaskContext

SPARSITY_EPS = 1e-3


@register_task("supervised")
class SupervisedTask(Task):
    """Learn `model(x) -> y` with `loss` (default: the config's `loss` section for the data's
    task). `model`: an `nn.Module` to train in place (default: the config's `model`);
    `loss`: any module or callable `loss(output, target) -> scalar`."""

    def __init__(
        self,
        model: nn.Module | None = None,
        loss: Callable[[Tensor, Tensor], Tensor] | None = None,
        optimizer: Any = None,
    ) -> None:
        super().__init__()
        if model is not None and not isinstance(model, nn.Module):
            raise TypeError(f"model: expected a torch.nn.Module, got {type(model).__name__}")
        if loss is not None and not callable(loss):
            raise TypeError(f"loss: expected an nn.Module or callable, got {type(loss).__name__}")
        self._model, self._loss, self._optimizer = model, loss, optimizer
        self.augment: nn.Module | None = None

    # ------------------------------------------------------------------ building
    def setup(self, ctx: TaskContext) -> None:
        from trainlab.train.build import build_augment

        config, data = ctx.config, ctx.data
        if not data.labeled:
            raise ConfigError(
                f"task.name = 'supervised' needs labels; {data.source} has none (x only): "
                "use an unsupervised task (gan, autoencoder, dae, mae, simclr)"
            )
        self.kind = data.task
        self.target_scale = data.target_scale
        self.ignore_index = data.ignore_index if data.ignore_index is not None else -100
        model = self._model if self._model is not None else ctx.create_model()
        self.modules = {"model": model}  # the engine moves it to the device
        self.augment = build_augment(config, data, batch_randaugment=ctx.batch_randaugment)
        mixes = self.augment is not None and self.augment.mixes
        if self._loss is not None:
            self.loss_fn = self.train_loss_fn = self._loss
        else:
            self.loss_fn = _config_loss(config, data)
            # Mixup/CutMix soft targets already carry the label smoothing: apply it once
            self.train_loss_fn = _config_loss(config, data, True) if mixes else self.loss_fn
        for fn in (self.loss_fn, self.train_loss_fn):
            if isinstance(fn, nn.Module):
                fn.to(ctx.device)  # class weights, pos_weight
        self.l1 = config.regularize.l1
        self.channels_last = config.train.channels_last
        self._l1_params = [p for p in model.parameters() if p.ndim >= 2]

    def optimizers(self) -> dict[str, OptimizerSpec]:
        return {"main": OptimizerSpec(self.model, factory=self._optimizer, ema=True)}

    @property
    def model(self) -> nn.Module:
        return self.modules["model"]

    # ------------------------------------------------------------------ the maths
    def _inputs(self, x: Tensor) -> Tensor:
        if self.channels_last and x.ndim == 4:
            return x.contiguous(memory_format=torch.channels_last)
        return x

    def _loss_of(self, x: Tensor, target: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        out = self.model(x)  # forward
        data_loss = self.train_loss_fn(out, target)  # loss
        loss = data_loss
        if self.l1 > 0:
            loss = loss + self.l1 * _l1_norm(self._l1_params)
        return out, data_loss, loss

    def train_inputs(self, x: Tensor, target: Tensor) -> Tensor:
        """The inputs the training loss sees, after augmentation (a hook: adversarial
        training replaces them with adversarial examples); here `x` itself."""
        return x

    def training_step(self, batch: Any, step: Step) -> None:
        x, y = batch
        x = self._inputs(x)
        xa, target = self.augment(x, y) if self.augment is not None else (x, y)
        xa = self.train_inputs(xa, target)
        if step.needs_closure():  # L-BFGS re-evaluates the loss in its line search
            outputs: list[tuple[Tensor, Tensor]] = []

            def closure() -> Tensor:
                step.zero_grad()
                with step.autocast():
                    out, data_loss, loss = self._loss_of(xa, target)
                step.backward(loss)
                outputs.append((out.detach(), data_loss.detach()))
                return loss.detach()

            step.update(closure=closure)
            out, data_loss = outputs[0]
        else:
            out, data_loss, loss = self._loss_of(xa, target)
            step.backward(loss)  # backward (gradients were zeroed by the engine)
            step.update()  # clip, optimizer step, schedule step, EMA
        self._train_metrics.update(out.detach(), y, data_loss.detach())
        step.log("loss", data_loss, epoch=False)  # the epoch's loss is the train metrics'
        if self.l1 > 0 and step.syncs:
            step.log("l1_sparsity", _sparsity(self._l1_params))

    def validation_step(self, batch: Any, metrics: RunningMetrics) -> None:
        x, y = batch
        out = self.model(self._inputs(x))
        metrics.update(out, y, self.loss_fn(out, y))

    def metrics(self, device: torch.device, *, detailed: bool = False) -> RunningMetrics:
        return metrics_for_task(
            self.kind,
            device,
            target_scale=self.target_scale,
            ignore_index=self.ignore_index,
            detailed=detailed,
        )

    def train_metrics(self, device: torch.device) -> RunningMetrics:
        # the short set (loss, acc | rmse, mae) for epoch rows
        self._train_metrics = self.metrics(device, detailed=False)
        return self._train_metrics

    def save_test_plots(self, metrics: RunningMetrics, plots: Any) -> dict[str, str]:
        save = getattr(metrics, "save_confusion_matrix", None)
        if save is None:
            return {}
        path = plots / "confusion.png"
        save(path)
        return {"confusion matrix": str(path)}

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, Any]:
        return {"augment": self.augment.state_dict() if self.augment is not None else None}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if self.augment is not None and state.get("augment") is not None:
            self.augment.load_state_dict(state["augment"])


def _config_loss(config: Any, data: Any, soft_targets_smoothed: bool = False) -> nn.Module:
    from trainlab.losses import loss_from_config

    num_classes = data.num_outputs if data.task != "regression" else None
    try:
        return loss_from_config(
            config,
            data.task,
            num_classes,
            check_targets=False,
            soft_targets_smoothed=soft_targets_smoothed,
        )
    except ValueError as e:
        raise ConfigError(str(e)) from None


def _l1_norm(params: Sequence[Tensor]) -> Tensor:
    """``sum_i |w_i|`` over `params` (one fused norm per tensor)."""
    return torch.stack(torch._foreach_norm(list(params), 1)).sum()


@torch.no_grad()
def _sparsity(params: Sequence[Tensor]) -> Tensor:
    """Fraction of the entries of `params` with ``|w| < SPARSITY_EPS`` (on the device)."""
    small = sum((p.abs() < SPARSITY_EPS).sum() for p in params)
    total = sum(p.numel() for p in params)
    return torch.as_tensor(small, dtype=torch.float32) / max(total, 1)
