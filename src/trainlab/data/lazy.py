"""The lazy side of `load_dataset(..., lazy=True)`: splits that are Datasets, not tensors.

Image folders and `.npy` folders are read item by item (`ImageFolderDataset`,
`NpyDataset`); `load_dataset` splits them with the same seeded, stratified split as the
in-memory path (on the labels, which are read whole), and `SplitView` then hands out each
split's items standardized with the training split's per-channel statistics and with the
encoded (and, for regression, standardized) targets, so batches come out exactly as the
in-memory path's.

Statistics (`train_stats`), accumulated in float64 (`RunningStats`):
- `.npy` folders: every training row, read in chunks of about 16 MiB; exact. (A first
  streaming pass checks every row of every file for NaN/Inf, as the in-memory path does.)
- image folders: a seeded random subset of at most `stats_samples` training images
  (every image when there are fewer). Decoding is the expensive part (a pass over all of
  ImageNet is an epoch); 10,000 images fix each channel's mean to about 0.001 (the spread
  of per-image means, ~0.1, over sqrt(10,000)), far below what matters for training, and
  uint8 images cannot hold NaN.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from trainlab.data.normalize import RunningStats
from trainlab.data.npy import NpyDataset
from trainlab.data.npz import check_finite

CHUNK_BYTES = 1 << 24


class SplitView(Dataset):
    """Items `indices` of `base` (all of them when None): `((x - mean) / std, y[k])`, with
    `y` the split's encoded targets ((N,) int64 classes or (N, 1) float32)."""

    def __init__(
        self, base: Dataset, indices: np.ndarray | None, y: Tensor, mean: Tensor, std: Tensor
    ) -> None:
        self.base, self.indices, self.y = base, indices, y
        self.mean, self.std = mean, std

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, k: int) -> tuple[Tensor, Tensor]:
        i = k if self.indices is None else int(self.indices[k])
        x = self.base[i][0]
        return (x - self.mean) / self.std, self.y[k]


def _rows(row_bytes: int) -> int:
    return max(1, CHUNK_BYTES // max(row_bytes, 1))


def check_npy_finite(ds: NpyDataset, source: object, name: str) -> None:
    """Stream every row of `ds` and fail on the first non-finite sample."""
    step = _rows(ds.x[0].nbytes)
    for a in range(0, len(ds), step):
        check_finite(np.asarray(ds.x[a : a + step]), source, name, offset=a)


def train_stats(
    base: Dataset, indices: np.ndarray, *, stats_samples: int | None, seed: int
) -> tuple[Tensor, Tensor]:
    """Per-channel mean and std of the training items `base[indices]` (see the module)."""
    stats = RunningStats()
    if isinstance(base, NpyDataset):  # every row, chunked
        step = _rows(base.x[0].nbytes)
        for a in range(0, len(indices), step):
            stats.update(torch.from_numpy(base.rows(indices[a : a + step])))
        return stats.result()
    chosen = indices
    if stats_samples is not None and len(indices) > stats_samples:
        rng = np.random.default_rng(seed)
        chosen = np.sort(rng.choice(indices, size=stats_samples, replace=False))
    for i in chosen:
        stats.update(base[int(i)][0][None])
    return stats.result()


def views(
    parts: dict[str, tuple[Any, np.ndarray | None, Tensor]], mean: Tensor, std: Tensor
) -> dict[str, SplitView]:
    """`{split: (base, indices or None, encoded y)}` -> standardized `SplitView`s."""
    return {s: SplitView(b, idx, y, mean, std) for s, (b, idx, y) in parts.items()}
