"""The data order of an epoch: a pure function of (seed, epoch), resumable and shardable.

    order(epoch) = randperm(n, generator=Generator().manual_seed(seed * 1_000_003 + epoch))

(natural order 0..n-1 without shuffling). Both loaders use it: `BatchLoader` gathers
batches of in-memory tensors, `EpochBatchSampler` hands index batches to a
`torch.utils.data.DataLoader`. Nothing is saved to resume: epoch e, batch b is always the
same list of indices.

Sharding (`rank` of `world_size`, as `DistributedSampler` does it): the order is cut to a
multiple of `world_size` (the last `n % world_size` samples of the order are dropped, so
every rank has the same number of batches and no sample is seen twice) and rank r takes
every `world_size`-th sample from position r. Batch k of all ranks together is then exactly
batch k of one process with batch size `world_size * batch_size`: a distributed run sees
the global batches a single-process run would. Evaluation shards with `even=False` instead
(every sample is kept; ranks differ by at most one sample, and summed metrics are exact).
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch import Tensor


def epoch_order(n: int, seed: int, epoch: int) -> Tensor:
    """The seeded permutation of `range(n)` for `epoch` (int64, CPU)."""
    g = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    return torch.randperm(n, generator=g)


def shard(order: Tensor, rank: int, world_size: int, *, even: bool = True) -> Tensor:
    """Rank `rank`'s part of `order`: every `world_size`-th sample from position `rank`.

    `even=True` (training) first cuts `order` to a multiple of `world_size`, so every rank
    has the same number of samples (and of batches, hence of collectives); `even=False`
    (evaluation) keeps every sample, ranks then differ by at most one.
    """
    if world_size == 1:
        return order
    if even:
        order = order[: len(order) // world_size * world_size]
    return order[rank::world_size]


def shard_size(n: int, rank: int, world_size: int, *, even: bool = True) -> int:
    """`len(shard(range(n), rank, world_size, even=even))` without building it."""
    return n // world_size if even else len(range(rank, n, world_size))


def check_rank(rank: int, world_size: int, n: int) -> None:
    """`rank` of `world_size` is a valid shard of `n` samples (ValueError/TypeError)."""
    _check_int("world_size", world_size, 1)
    _check_int("rank", rank, 0)
    if rank >= world_size:
        raise ValueError(f"rank must be < world_size={world_size}, got {rank}")
    if world_size > 1 and n < world_size:
        raise ValueError(f"n must be >= world_size={world_size}, got {n}")


def _check_int(name: str, value: object, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {value!r}")
    if value < low:
        raise ValueError(f"{name} must be >= {low}, got {value}")
    return value


class EpochBatchSampler:
    """Index batches of one epoch of a dataset of `n` samples (a DataLoader batch_sampler).

    `set_epoch(epoch, start)` re-targets it before each `iter()` (a DataLoader with
    persistent workers iterates its batch sampler anew for every epoch), so an epoch can
    start at any batch index `start` (mid-epoch resume). With world_size=1 its batches are
    exactly `BatchLoader`'s for the same seed, epoch, batch size and drop_last.
    """

    def __init__(
        self,
        n: int,
        batch_size: int,
        *,
        shuffle: bool = False,
        drop_last: bool = False,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
        even: bool = True,
    ) -> None:
        _check_int("n", n, 0)
        _check_int("batch_size", batch_size, 1)
        check_rank(rank, world_size, n)
        self.n, self.shuffle, self.drop_last, self.seed = n, shuffle, drop_last, seed
        self.rank, self.world_size, self.even = rank, world_size, even
        self.per_rank = shard_size(n, rank, world_size, even=even)
        # as BatchLoader: a training batch shrinks to the data rather than yielding nothing
        self.batch_size = max(1, min(batch_size, self.per_rank)) if drop_last else batch_size
        self.epoch, self.start = 0, 0

    def __len__(self) -> int:
        m, bs = self.per_rank, self.batch_size
        return m // bs if self.drop_last else -(-m // bs)

    def set_epoch(self, epoch: int, start: int = 0) -> None:
        """Make the next `iter()` yield batches `start`, `start + 1`, ... of `epoch`."""
        _check_int("epoch", epoch, 0)
        _check_int("start", start, 0)
        if start > len(self):
            raise ValueError(f"start must be <= {len(self)} (batches per epoch), got {start}")
        self.epoch, self.start = epoch, start

    def indices(self, epoch: int) -> Tensor:
        """This rank's samples of `epoch`, in order."""
        order = epoch_order(self.n, self.seed, epoch) if self.shuffle else torch.arange(self.n)
        return shard(order, self.rank, self.world_size, even=self.even)

    def __iter__(self) -> Iterator[list[int]]:
        mine, bs = self.indices(self.epoch).tolist(), self.batch_size
        for b in range(self.start, len(self)):
            yield mine[b * bs : (b + 1) * bs]
