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
* ``'segmentation'``: the same cross-entropy per pixel: logits (N, K, H, W) against class
  indices (N, H, W); pixels equal to ``ignore_index`` (-100, what ``trainlab.data`` gives
  unlabelled pixels) are skipped and the mean is over the counted pixels.

``loss_from_config`` reads ``loss.name`` / ``loss.args`` / ``loss.terms`` and builds any
loss of ``trainlab.losses.registry`` (``auto``, the default, is ``build_loss``).
"""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from trainlab.losses.classification import (
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    Smoothing,
    smoothing_coefficients,
)
from trainlab.losses.regression import MSELoss

TASKS = ("classification", "multilabel", "regression", "segmentation")

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
    if task in ("classification", "segmentation"):
        if pos_weight is not None:
            raise ValueError(f"pos_weight applies to task='multilabel', not {task!r}")
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
    """The training loss of a trainlab ``Config`` for ``task``.

    Reads ``train.label_smoothing`` and the ``loss`` section: ``name`` (any name of
    ``trainlab.losses.list_losses(task)``, default ``auto``: ``build_loss``), ``args`` (that
    loss's arguments), or ``terms`` (a weighted sum ``[{name, weight, args}, ...]``, a
    ``WeightedLoss``), ``smoothing`` and ``class_weight`` (added to the arguments of each
    loss that takes class weights; with ``auto`` it is used for classification and
    segmentation and ignored for the other tasks, as before). With ``num_classes`` (classes,
    or labels for multilabel) the class and positive weights are checked against it.
    The trainer passes ``check_targets=False``: its targets were validated when the data was
    loaded, and checking them every step would cost a device sync per batch; with
    Mixup/CutMix on it passes ``soft_targets_smoothed=True`` (the mixer already smoothed
    the soft targets). Every mistake is a one-line ValueError naming the ``loss.`` key.
    """
    from trainlab.losses.registry import create_loss, create_weighted_loss, loss_spec

    section = getattr(config, "loss", None)
    smoothing: Smoothing = getattr(section, "smoothing", "standard")
    weights = getattr(section, "class_weight", None)
    name = getattr(section, "name", "auto")
    args = dict(getattr(section, "args", None) or {})
    terms = [dict(t) for t in (getattr(section, "terms", None) or [])]
    options: dict[str, Any] = {
        "num_classes": num_classes,
        "label_smoothing": config.train.label_smoothing,
        "smoothing": smoothing,
        "check_targets": check_targets,
        "soft_targets_smoothed": soft_targets_smoothed,
    }
    if terms and (name != "auto" or args):
        raise ValueError("loss.terms replaces loss.name and loss.args; set only one of them")
    entries = terms or [{"name": name, "args": args}]
    if weights is not None:
        _add_class_weight(entries, weights, task, loss_spec)
    try:
        if terms:
            return create_weighted_loss(entries, task, **options)
        return create_loss(name, task, args=entries[0]["args"], **options)
    except ValueError as e:
        if not terms:
            raise
        raise ValueError(f"loss.terms: {e}") from None


def _add_class_weight(entries: list[dict[str, Any]], weights: list[float], task: str, spec_of: Any) -> None:  # fmt: skip
    """Put ``loss.class_weight`` into the args of every entry whose loss takes class weights."""
    took = False
    for entry in entries:
        spec = spec_of(entry["name"], task)
        if "class_weight" not in spec.args:
            continue
        entry["args"] = dict(entry.get("args") or {})
        if "class_weight" in entry["args"] or "weight" in entry["args"]:
            raise ValueError(
                "class weights given twice: loss.class_weight and loss args class_weight; keep one"
            )
        entry["args"]["class_weight"] = list(weights)
        took = True
    if not took and not (len(entries) == 1 and entries[0]["name"] == "auto"):
        names = ", ".join(str(e["name"]) for e in entries)
        raise ValueError(f"loss.class_weight: loss {names} takes no class weights")
