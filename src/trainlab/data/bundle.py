"""The in-memory result of loading a dataset: three splits and what the model must know."""

from __future__ import annotations

from collections.abc import Sized
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from trainlab.data.targets import TASKS

__all__ = ["TASKS", "UNLABELED", "DataBundle", "RawData", "Split"]

#: the one class name of data without labels (an .npz with `x` only, a flat image folder):
#: its `y` is all zeros and only the unsupervised tasks accept it
UNLABELED = "(unlabeled)"


@dataclass
class Split:
    """Inputs `x` (N, ...) float32 and targets `y`: (N,) int64 classes, (N, 1) float32
    regression values, (N, C) float32 multi-hot labels or (N, H, W) int64 masks."""

    x: Tensor
    y: Tensor

    def __len__(self) -> int:
        return int(self.x.shape[0])

    def to(self, device: torch.device | str) -> Split:
        return Split(self.x.to(device), self.y.to(device))


@dataclass
class RawData:
    """What a file format yields before splitting: numpy arrays (or, read lazily, a
    Dataset of `x` items next to the labels `y` in memory), splits that were explicit.
    `tokens`: `x` holds integer token ids (text), kept as int64 and never standardized."""

    x: np.ndarray | Dataset
    y: np.ndarray
    task: str
    class_names: list[str] | None = None
    explicit: dict[str, tuple[np.ndarray | Dataset, np.ndarray]] = field(default_factory=dict)
    # CSV: each feature column's name and categories (None: numeric), to encode new files alike
    features: list[dict[str, Any]] | None = None
    tokens: bool = False


@dataclass
class DataBundle:
    """Train/val/test splits, normalized with train-split statistics, plus metadata.

    The splits are in-memory `Split`s, or (`load_dataset(..., lazy=True)`) Datasets of
    standardized `(x, y)` items (`trainlab.data.lazy.SplitView`, with the split's targets
    in `.y`); `len()` works for both.

    `task` is one of `TASKS`; `num_outputs` is what the model must produce per sample (or
    per pixel): K classes (classification, segmentation), C labels (multilabel), 1
    (regression). For regression, targets are standardized as (y - target_mean) /
    target_scale; metrics multiply errors back by `target_scale`. For segmentation,
    `ignore_index` (-100) marks unlabelled pixels in the masks (None for other tasks).
    """

    train: Split | Dataset
    val: Split | Dataset | None  # None: no validation (trainlab.fit without val)
    test: Split | Dataset | None  # None: no test
    task: str
    num_outputs: int
    in_shape: tuple[int, ...]
    class_names: list[str] | None
    source: str
    input_mean: Tensor
    input_std: Tensor
    target_mean: float = 0.0
    target_scale: float = 1.0
    ignore_index: int | None = None
    features: list[dict[str, Any]] | None = None  # CSV: the feature encoding (RawData)

    @property
    def labeled(self) -> bool:
        """False for data without labels (`class_names == [UNLABELED]`)."""
        return self.class_names != [UNLABELED]

    def meta(self) -> dict[str, Any]:
        """Plain-typed metadata stored in checkpoints (weights_only-loadable)."""
        return {
            "task": self.task,
            "num_outputs": self.num_outputs,
            "in_shape": list(self.in_shape),
            "class_names": self.class_names,
            "source": self.source,
            "input_mean": self.input_mean.clone(),
            "input_std": self.input_std.clone(),
            "target_mean": self.target_mean,
            "target_scale": self.target_scale,
            "ignore_index": self.ignore_index,
            "features": self.features,
            "sizes": [
                len(cast(Sized, s)) if s is not None else 0
                for s in (self.train, self.val, self.test)
            ],
        }
