"""The continual engine task's loss: task heads (masked logits) and label smoothing."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from trainlab.continual import ContinualTask, Method


def _task(masks, smoothing):
    task = ContinualTask(nn.Identity(), Method(), masks)
    task.smoothing = smoothing
    return task


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_task_head_loss_is_cross_entropy_on_the_heads_logits(smoothing):
    # two tasks of classes {0, 1, 2} and {3, 4}: the loss of a task-1 sample is torch's
    # cross-entropy (with the same smoothing) on logits 3..4 alone
    masks = torch.tensor([[1, 1, 1, 0, 0], [0, 0, 0, 1, 1]], dtype=torch.bool)
    task = _task(masks, smoothing)
    x = torch.randn(6, 5, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    y = torch.tensor([0, 2, 1, 3, 4, 4])
    t = torch.tensor([0, 0, 0, 1, 1, 1])
    got = task.loss_of(x, y, t)
    ref = (
        3 * F.cross_entropy(x[:3, :3], y[:3], label_smoothing=smoothing)
        + 3 * F.cross_entropy(x[3:, 3:], y[3:] - 3, label_smoothing=smoothing)
    ) / 6
    torch.testing.assert_close(got, ref.float(), rtol=1e-6, atol=1e-7)
    assert torch.isfinite(got)


def test_without_heads_it_is_torchs_cross_entropy():
    task = _task(None, 0.2)
    x = torch.randn(4, 3, generator=torch.Generator().manual_seed(1))
    y = torch.tensor([0, 1, 2, 1])
    t = torch.zeros(4, dtype=torch.long)
    torch.testing.assert_close(task.loss_of(x, y, t), F.cross_entropy(x, y, label_smoothing=0.2))
