"""Choose the training loss for a task."""

from __future__ import annotations

from torch import nn


def build_loss(task: str, *, label_smoothing: float = 0.0) -> nn.Module:
    """Cross-entropy (with optional label smoothing) for classification, MSE for regression."""
    if task == "classification":
        return nn.CrossEntropyLoss(label_smoothing=label_smoothing)
    if task == "regression":
        return nn.MSELoss()
    raise ValueError(f"unknown task {task!r}; expected 'classification' or 'regression'")
