"""Choose the training loss for a task.

* ``'classification'``: cross-entropy of logits (N, K). Targets may be class indices (N,)
  or, when Mixup/CutMix mixed the labels, probabilities (N, K); both go through the same
  loss. Label smoothing is applied exactly once: by this loss, to hard and mixed targets
  alike (smoothing is linear, so smoothing a mix equals mixing the smoothed labels),
  unless ``soft_targets_smoothed=True`` says the mixer already smoothed the soft ones.
* ``'multilabel'``: binary cross-entropy with logits over (N, C) multi-hot targets, with
  an optional per-class ``pos_weight``; label smoothing pulls each binary target towards
  1/2: ``y (1 - e) + e / 2``.
* ``'regression'``: mean squared error (input and target of the same shape); label
  smoothing does not apply and is ignored, so one recipe serves both kinds of data.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from trainlab.losses.classification import (
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    Smoothing,
    smoothing_coefficients,
)
from trainlab.losses.regression import MSELoss

TASKS = ("classification", "multilabel", "regression")

__all__ = ["TASKS", "MixedTargetCrossEntropy", "MultiLabelLoss", "build_loss", "loss_from_config"]


class MixedTargetCrossEntropy(CrossEntropyLoss):
    """Cross-entropy for hard or mixed (soft) targets, smoothing each exactly once."""

    def __init__(
        self,
        weight: Tensor | None = None,
        *,
        ignore_index: int = -100,
        label_smoothing: float = 0.0,
        smoothing: Smoothing = "standard",
        check_targets: bool = True,
        soft_targets_smoothed: bool = False,
    ) -> None:
        super().__init__(
            weight,
            ignore_index=ignore_index,
            label_smoothing=label_smoothing,
            smoothing=smoothing,
            check_targets=check_targets,
        )
        self.soft_targets_smoothed = soft_targets_smoothed

    def _label_smoothing_for(self, target: Tensor) -> float:
        # soft targets the mixer already smoothed are not smoothed a second time
        presmoothed = self.soft_targets_smoothed and target.is_floating_point()
        return 0.0 if presmoothed else self.label_smoothing


class MultiLabelLoss(BCEWithLogitsLoss):
    """BCE-with-logits over multi-hot targets with binary label smoothing ``y(1-e) + e/2``."""

    def __init__(self, *, label_smoothing: float = 0.0, pos_weight: Tensor | None = None) -> None:
        super().__init__(pos_weight=pos_weight)
        smoothing_coefficients(label_smoothing, 2, "standard")
        self.label_smoothing = float(label_smoothing)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        if self.label_smoothing:
            target = target.to(input.dtype) * (1 - self.label_smoothing) + self.label_smoothing / 2
        return super().forward(input, target)


def build_loss(
    task: str,
    *,
    label_smoothing: float = 0.0,
    smoothing: Smoothing = "standard",
    class_weight: Tensor | None = None,
    pos_weight: Tensor | None = None,
    ignore_index: int = -100,
    soft_targets_smoothed: bool = False,
    check_targets: bool = True,
) -> nn.Module:
    """The training loss for ``task`` (see the module docstring).

    ``smoothing`` picks the label-smoothing convention ('standard': e/K off-target, as
    torch; 'notes': e/(K-1), F4:1369). ``class_weight`` weights classes of the
    cross-entropy; ``pos_weight`` weights positives of the multi-label BCE.
    """
    if task == "classification":
        if pos_weight is not None:
            raise ValueError("pos_weight applies to task='multilabel', not 'classification'")
        return MixedTargetCrossEntropy(
            class_weight,
            ignore_index=ignore_index,
            label_smoothing=label_smoothing,
            smoothing=smoothing,
            check_targets=check_targets,
            soft_targets_smoothed=soft_targets_smoothed,
        )
    if task == "multilabel":
        if class_weight is not None:
            raise ValueError("class_weight applies to task='classification'; use pos_weight")
        return MultiLabelLoss(label_smoothing=label_smoothing, pos_weight=pos_weight)
    if task == "regression":
        return MSELoss()
    raise ValueError(f"unknown task {task!r}; expected one of {', '.join(TASKS)}")


def loss_from_config(
    config: Any,
    task: str,
    num_classes: int | None = None,
    *,
    check_targets: bool = True,
    soft_targets_smoothed: bool = False,
) -> nn.Module:
    """``build_loss`` from a trainlab ``Config``: ``train.label_smoothing`` and the ``loss``
    section (``smoothing``, ``class_weight``). With ``num_classes`` the class weights are
    checked against it (ValueError naming ``loss.class_weight``). The trainer passes
    ``check_targets=False``: its targets were validated when the data was loaded, and
    checking them every step would cost a device sync per batch; with Mixup/CutMix on it
    passes ``soft_targets_smoothed=True`` (the mixer already smoothed the soft targets).
    """
    section = getattr(config, "loss", None)
    smoothing: Smoothing = getattr(section, "smoothing", "standard")
    weights = getattr(section, "class_weight", None)
    class_weight = None
    if weights is not None and task == "classification":
        if num_classes is not None and len(weights) != num_classes:
            raise ValueError(
                f"loss.class_weight has {len(weights)} weights but the data has {num_classes} "
                "classes; expected one weight per class"
            )
        class_weight = torch.tensor(weights, dtype=torch.float32)
    return build_loss(
        task,
        label_smoothing=config.train.label_smoothing,
        smoothing=smoothing,
        class_weight=class_weight,
        check_targets=check_targets,
        soft_targets_smoothed=soft_targets_smoothed,
    )
