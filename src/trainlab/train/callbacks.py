"""Callbacks extend the training loop without subclassing it.

The Trainer calls each hook in order; a callback never changes what is computed, so a run
with or without progress bars gives identical weights.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from torch import Tensor

if TYPE_CHECKING:
    from trainlab.train.step import Step, Updater
    from trainlab.train.trainer import Trainer


class Callback:
    """Base class with no-op hooks."""

    def on_fit_start(self, trainer: Trainer) -> None: ...

    def on_epoch_start(self, trainer: Trainer, epoch: int) -> None: ...

    def on_before_update(self, trainer: Trainer, step: Step, updater: Updater) -> None:
        """In `step.update`, on the batch that ends an accumulation cycle: after backward
        (and the loss scaler's unscale), before clipping, the optimizer step and zero_grad;
        `updater.params()` hold the gradients the optimizer is about to use."""

    def on_step_end(self, trainer: Trainer, loss: Tensor | None, batch_size: int) -> None:
        """After each batch; `loss` is what the task logged as 'loss' (None if nothing)."""

    def on_epoch_end(self, trainer: Trainer, row: dict[str, Any]) -> None: ...

    def on_fit_end(self, trainer: Trainer, summary: dict[str, Any]) -> None: ...

    def on_interrupt(self, trainer: Trainer) -> None:
        """The fit ended early: a stop request, divergence or an error (re-raised after)."""
