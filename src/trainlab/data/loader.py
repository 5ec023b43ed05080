"""Batches of in-memory tensors, shuffled by a permutation that is a pure function of
(seed, epoch) (`trainlab.data.order`), so an epoch can be replayed or resumed at any batch without saved state.

For data that fits in memory this is much cheaper than `torch.utils.data.DataLoader`
(no per-sample collate): a batch is one `index_select` on the device.

An optional per-sample `transform(sample, epoch, index)` (e.g. per-image augmentation)
runs in `num_workers` threads (torch kernels release the GIL), one batch ahead of the
training step. The transform must depend only on its arguments, so results do not depend
on thread scheduling and resuming stays exact.

`rank`/`world_size` shard every epoch's order as `trainlab.data.order.shard` does (`even`:
training cuts the order to a multiple of `world_size`; evaluation keeps every sample).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor

import torch
from torch import Tensor

from trainlab.data.bundle import Split
from trainlab.data.order import check_rank, epoch_order, shard, shard_size

SampleTransform = Callable[[Tensor, int, int], Tensor]


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
        transform: SampleTransform | None = None,
        num_workers: int = 0,
        rank: int = 0,
        world_size: int = 1,
        even: bool = True,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if num_workers < 0:
            raise ValueError(f"num_workers must be >= 0, got {num_workers}")
        check_rank(rank, world_size, len(split))
        self.split = split
        self.rank, self.world_size, self.even = rank, world_size, even
        self.n_local = shard_size(len(split), rank, world_size, even=even)  # this rank's samples
        self.batch_size = max(1, min(batch_size, self.n_local)) if drop_last else batch_size
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.seed = seed
        self.transform = transform
        self.num_workers = num_workers

    def __len__(self) -> int:
        n = self.n_local
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def order(self, epoch: int) -> Tensor | None:
        """This rank's sample order of `epoch` (None: natural order, one process)."""
        n = len(self.split)
        if not self.shuffle and self.world_size == 1:
            return None
        full = epoch_order(n, self.seed, epoch) if self.shuffle else torch.arange(n)
        return shard(full, self.rank, self.world_size, even=self.even).to(self.split.x.device)

    def _indices(self, order: Tensor | None, b: int) -> Tensor | slice:
        bs = self.batch_size
        return slice(b * bs, (b + 1) * bs) if order is None else order[b * bs : (b + 1) * bs]

    def _batch(self, idx: Tensor | slice) -> tuple[Tensor, Tensor]:
        if isinstance(idx, slice):
            return self.split.x[idx], self.split.y[idx]
        return self.split.x.index_select(0, idx), self.split.y.index_select(0, idx)

    def epoch(self, epoch: int = 0, start: int = 0) -> Iterator[tuple[Tensor, Tensor]]:
        """Batches of `epoch`, beginning at batch index `start`."""
        order = self.order(epoch)
        if self.transform is None:
            for b in range(start, len(self)):
                yield self._batch(self._indices(order, b))
            return
        yield from self._transformed(self.transform, order, epoch, start)

    def _transformed(
        self, transform: SampleTransform, order: Tensor | None, epoch: int, start: int
    ) -> Iterator[tuple[Tensor, Tensor]]:
        def prepare(b: int, pool: ThreadPoolExecutor | None) -> tuple[Tensor, Tensor]:
            idx = self._indices(order, b)
            x, y = self._batch(idx)
            ids = range(len(self.split))[idx] if isinstance(idx, slice) else idx.tolist()
            work = [(x[i], epoch, int(k)) for i, k in enumerate(ids)]
            if pool is None:
                samples = [transform(*w) for w in work]
            else:
                samples = list(pool.map(lambda w: transform(*w), work))
            return torch.stack(samples), y

        if self.num_workers == 0:
            for b in range(start, len(self)):
                yield prepare(b, None)
            return
        # one thread prepares the next batch ahead while the step runs; workers map images
        with ThreadPoolExecutor(self.num_workers) as pool, ThreadPoolExecutor(1) as ahead:
            pending: Future | None = None
            for b in range(start, len(self)):
                current = pending.result() if pending is not None else prepare(b, pool)
                pending = ahead.submit(prepare, b + 1, pool) if b + 1 < len(self) else None
                yield current

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor]]:
        return self.epoch(0)
