"""Batches of in-memory tensors, shuffled by a permutation that is a pure function of
(seed, epoch), so an epoch can be replayed or resumed at any batch without saved state.

For data that fits in memory this is much cheaper than `torch.utils.data.DataLoader`
(no per-sample collate): a batch is one `index_select` on the device.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch import Tensor

from trainlab.data.bundle import Split


class BatchLoader:
    """Iterate `(x, y)` batches of `split`; training loaders shuffle and drop the last
    incomplete batch (BatchNorm cannot train on a batch of one), evaluation loaders keep
    every sample in order."""

    def __init__(
        self,
        split: Split,
        batch_size: int,
        *,
        shuffle: bool = False,
        drop_last: bool = False,
        seed: int = 0,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.split = split
        self.batch_size = min(batch_size, len(split)) if drop_last else batch_size
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.seed = seed

    def __len__(self) -> int:
        n = len(self.split)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def order(self, epoch: int) -> Tensor | None:
        """The sample order of `epoch` (None: natural order)."""
        if not self.shuffle:
            return None
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        return torch.randperm(len(self.split), generator=g).to(self.split.x.device)

    def epoch(self, epoch: int = 0, start: int = 0) -> Iterator[tuple[Tensor, Tensor]]:
        """Batches of `epoch`, beginning at batch index `start`."""
        order = self.order(epoch)
        x, y, bs = self.split.x, self.split.y, self.batch_size
        for b in range(start, len(self)):
            if order is None:
                yield x[b * bs : (b + 1) * bs], y[b * bs : (b + 1) * bs]
            else:
                idx = order[b * bs : (b + 1) * bs]
                yield x.index_select(0, idx), y.index_select(0, idx)

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor]]:
        return self.epoch(0)
