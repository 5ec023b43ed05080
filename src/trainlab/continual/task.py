"""Continual learning as an engine task: one task of a stream, trained with a method.

Per batch (the engine's step; notes F4 section 6 for the plain steps):

1. the current batch, plus the method's extra samples (replay) concatenated to it;
2. forward and cross-entropy, with each sample scored on its own task's outputs in
   task-incremental streams (the other logits masked to -inf);
3. + the method's penalty (EWC), then `step.backward`;
4. on the batch that ends an accumulation cycle, the method's gradient projection (GEM,
   A-GEM) between backward and `step.update` (clip, optimizer, schedule, EMA);
5. the method observes the batch (the reservoir buffer).

The same `ContinualTask` object trains every task of the stream: `begin_task(t)` before task
t's Trainer is built, `end_task(train_split)` after it finished (the method consolidates).
Its `state_dict` (the current task and the method's Fisher, anchors, memories, buffer and
generators) is checkpointed by the engine, so a run resumes exactly mid-task.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from trainlab.continual.method import Method
from trainlab.data import Split
from trainlab.metrics import RunningMetrics
from trainlab.train.step import Step, eval_mode
from trainlab.train.task import OptimizerSpec, Task, TaskContext


class ContinualTask(Task):
    """Train `model` on the current task of a stream with `method`.

    `masks` (T, K) bool: the outputs each task is scored on (task-incremental), or None
    (every output: class- or domain-incremental). Without `model` / `method` (as
    `task.name = continual` in a config), `setup` builds the config's model and the
    `continual` section's method: one task, the whole dataset.
    """

    name = "continual"

    def __init__(
        self,
        model: nn.Module | None = None,
        method: Method | None = None,
        masks: Tensor | None = None,
    ) -> None:
        super().__init__()
        if model is not None and not isinstance(model, nn.Module):
            raise TypeError(f"model: expected a torch.nn.Module, got {type(model).__name__}")
        if method is not None and not isinstance(method, Method):
            raise TypeError(f"method: expected a continual Method, got {type(method).__name__}")
        self._model, self._method, self.masks = model, method, masks
        if model is not None:
            self.modules = {"model": model}
        self.current = 0
        self.smoothing = 0.0  # train.label_smoothing, read in setup

    # ------------------------------------------------------------------ the stream
    def begin_task(self, t: int) -> None:
        self.current = int(t)

    def end_task(self, train: Split) -> None:
        """The method consolidates task `current` (its training split `train`)."""
        device = next(self.model.parameters()).device
        self.method.end_task(
            self.model, train.to(device), self.current, self.loss_of, self.mask(self.current)
        )

    def mask(self, t: int) -> Tensor | None:
        return self.masks[t] if self.masks is not None else None

    # ------------------------------------------------------------------ building
    @property
    def model(self) -> nn.Module:
        return self.modules["model"]

    @property
    def method(self) -> Method:
        if self._method is None:
            raise RuntimeError("ContinualTask: no method yet (given to __init__ or built in setup)")
        return self._method

    def setup(self, ctx: TaskContext) -> None:
        if self._model is None:
            self._model = ctx.create_model()
        if self._method is None:
            from trainlab.continual.registry import method_from_config

            self._method = method_from_config(ctx.config.continual, ctx.config.seed)
        self.modules = {"model": self._model}  # the engine moves it to the device
        if self.masks is not None:
            self.masks = self.masks.to(ctx.device)
        self.smoothing = ctx.config.train.label_smoothing

    def optimizers(self) -> dict[str, OptimizerSpec]:
        return {"main": OptimizerSpec(self.model)}

    # ------------------------------------------------------------------ the maths
    def logits(self, x: Tensor, t: Tensor) -> Tensor:
        """The model's outputs for `x`, masked to the outputs of each sample's task `t`."""
        out = self.model(x)
        if self.masks is None:
            return out
        return out.masked_fill(~self.masks[t], float("-inf"))

    def loss_of(self, x: Tensor, y: Tensor, t: Tensor) -> Tensor:
        """The training loss of samples `x`, labels `y`, tasks `t` (N,): the batch's, and
        GEM's on its memories."""
        return self.cross_entropy(self.logits(x, t), y, t)

    def cross_entropy(self, logits: Tensor, y: Tensor, t: Tensor) -> Tensor:
        """Mean cross-entropy with `train.label_smoothing` e. With task heads the smoothed
        mass goes to the sample's own task's classes only (the masked logits are -inf):
        (1 - e) * -log p_y + e * mean_{k in task} -log p_k, torch's label smoothing on the
        head's logits."""
        logits = logits.float()
        if self.masks is None or self.smoothing == 0:
            return F.cross_entropy(logits, y, label_smoothing=self.smoothing)
        logp = F.log_softmax(logits, dim=1)  # (N, K), -inf outside each sample's head
        mask = self.masks[t]
        nll = -logp.gather(1, y[:, None]).squeeze(1)
        uniform = -logp.masked_fill(~mask, 0.0).sum(1) / mask.sum(1)
        return ((1 - self.smoothing) * nll + self.smoothing * uniform).mean()

    def _task_ids(self, y: Tensor) -> Tensor:
        return torch.full_like(y, self.current)

    def training_step(self, batch: Any, step: Step) -> None:
        x, y = batch
        t = self._task_ids(y)
        xb, yb, tb = x, y, t
        extra = self.method.extra_batch()
        if extra is not None:  # replay: the buffer's samples beside the batch, one mean loss
            xb, yb, tb = (torch.cat([a, b]) for a, b in zip((x, y, t), extra, strict=True))
        out = self.logits(xb, tb)
        data_loss = self.cross_entropy(out, yb, tb)
        loss = data_loss
        penalty = self.method.penalty(self.model)
        if penalty is not None:
            loss = loss + penalty
            step.log("penalty", penalty.detach())
        step.backward(loss)
        if step.syncs:  # GEM / A-GEM: the accumulated gradient, projected before the update
            params: list[Tensor] = [p for p in self.model.parameters() if p.requires_grad]
            self.method.project(params, self.loss_of)
        step.update()
        self.method.observe(x, y, t)
        n = len(x)
        self._train_metrics.update(
            out[:n].detach(), y, F.cross_entropy(out[:n].detach().float(), y)
        )
        step.log("loss", data_loss.detach(), epoch=False)

    def validation_step(self, batch: Any, metrics: RunningMetrics) -> None:
        x, y = batch
        out = self.logits(x, self._task_ids(y))
        metrics.update(out, y, F.cross_entropy(out.float(), y))

    def metrics(self, device: torch.device, *, detailed: bool = False) -> RunningMetrics:
        from trainlab.metrics import metrics_for_task

        return metrics_for_task("classification", device, detailed=False)

    def train_metrics(self, device: torch.device) -> RunningMetrics:
        self._train_metrics = self.metrics(device)
        return self._train_metrics

    def accuracy(self, split: Split, t: int, batch_size: int = 512) -> float:
        """Accuracy on `split` scored as task `t` (eval mode, no gradients)."""
        device = next(self.model.parameters()).device
        correct = 0
        with eval_mode(self.modules):
            for start in range(0, len(split), batch_size):
                x = split.x[start : start + batch_size].to(device)
                y = split.y[start : start + batch_size].to(device)
                out = self.logits(x, torch.full_like(y, t))
                correct += int((out.argmax(1) == y).sum())
        return correct / max(len(split), 1)

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, Any]:
        return {"current": self.current, "method": self.method.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.current = int(state["current"])
        self.method.load_state_dict(state["method"])
