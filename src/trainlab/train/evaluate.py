"""Evaluation of a model on a split: eval mode, no gradients, metrics summed over batches."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn
from torch.utils.data import Dataset

from trainlab.data import Split, make_loader
from trainlab.metrics import ClassificationMetrics, metrics_for_task


@torch.no_grad()
def evaluate(
    model: nn.Module,
    split: Split | Dataset,
    loss_fn: nn.Module,
    *,
    task: str,
    batch_size: int = 512,
    target_scale: float = 1.0,
    detailed: bool = False,
    confusion_png: Path | None = None,
) -> dict[str, float]:
    """Metrics of `model` on `split` (moved to the model's device), in eval mode.

    `detailed`: every metric of the task (else the short per-epoch set); `confusion_png`:
    for classification, also save the confusion matrix there.
    """
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    metrics = metrics_for_task(task, device, target_scale=target_scale, detailed=detailed)
    data = split.to(device) if isinstance(split, Split) else split
    for x, y in make_loader(data, batch_size).epoch(0):
        x, y = x.to(device), y.to(device)
        out = model(x)
        metrics.update(out, y, loss_fn(out, y))
    model.train(was_training)
    if confusion_png is not None and isinstance(metrics, ClassificationMetrics):
        metrics.save_confusion_matrix(confusion_png)
    return metrics.compute()
