"""Evaluation of a model on a split: eval mode, no gradients, metrics summed over batches."""

from __future__ import annotations

import torch
from torch import nn

from trainlab.data import BatchLoader, Split
from trainlab.metrics import metrics_for_task


@torch.no_grad()
def evaluate(
    model: nn.Module,
    split: Split,
    loss_fn: nn.Module,
    *,
    task: str,
    batch_size: int = 512,
    target_scale: float = 1.0,
) -> dict[str, float]:
    """Metrics of `model` on `split` (moved to the model's device), in eval mode."""
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    metrics = metrics_for_task(task, device, target_scale=target_scale)
    for x, y in BatchLoader(split.to(device), batch_size):
        out = model(x)
        metrics.update(out, y, loss_fn(out, y))
    model.train(was_training)
    return metrics.compute()
