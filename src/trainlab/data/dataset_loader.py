"""Batches of a `torch.utils.data.Dataset` read by worker processes, in the same order as
the in-memory `BatchLoader` (a pure function of (seed, epoch), `trainlab.data.order`).

`DatasetLoader` has BatchLoader's interface (`len()`, `epoch(epoch, start)`) on top of
`torch.utils.data.DataLoader`:

- The batch sampler is an `EpochBatchSampler`, re-targeted (`set_epoch(epoch, start)`)
  before each `iter()`; every index travels to the workers together with its epoch, so a
  per-item `transform(x, epoch, index)` is seeded by its arguments alone and results do
  not depend on which worker ran it. Persistent workers therefore serve any epoch and any
  mid-epoch start without being restarted.
- Start method (`start_method=None` picks): 'forkserver' when the main module is a file (a
  script, `trainlab`, pytest), 'fork' in an interactive session. Forking the training
  process itself, once it runs torch's thread pool and other threads (progress, logging,
  prefetch), can deadlock a child on a lock held by a thread that does not exist in it
  (Python 3.12 warns about it, 3.14 made 'forkserver' the Linux default); 'forkserver'
  forks from a clean single-threaded server. But 'forkserver' and 'spawn' must import the
  dataset's class by name, which fails for a class defined in a notebook's `__main__`, so
  there 'fork' is the only method that works. Measured here (2 shared cores, torch's pool
  started, 2 workers, TensorDataset), time from construction to the first batch: fork
  0.03-0.10 s, forkserver 3.0-3.5 s, spawn 3.5-3.6 s (each worker imports torch); the next
  epoch's first batch with persistent workers: 2-7 ms for all three. A script that uses
  'forkserver' or 'spawn' needs the `if __name__ == "__main__":` guard.
- Each worker runs torch on one thread (`worker_init_fn`, inside the worker's own process).
- The DataLoader gets its own seeded `torch.Generator`, so it never draws from (and never
  advances) the global torch RNG.
- A `DataError` raised in a worker (an unreadable image) is handed back and re-raised as
  itself, naming the file.
"""

from __future__ import annotations

import multiprocessing
import sys
from collections.abc import Callable, Iterator, Sized
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset, default_collate

from trainlab.data.bundle import Split
from trainlab.data.check import check_sample
from trainlab.data.loader import BatchLoader, SampleTransform
from trainlab.data.order import EpochBatchSampler
from trainlab.errors import DataError


def default_start_method() -> str:
    """'forkserver' when `__main__` is a file that workers can re-import, else 'fork'."""
    main = sys.modules.get("__main__")
    return "forkserver" if getattr(main, "__file__", None) else "fork"


def _worker_init(worker_id: int) -> None:
    """Runs in the worker process: no intra-op thread pool there (the workers are the
    parallelism; N workers x N threads oversubscribe the cores)."""
    torch.set_num_threads(1)


class _Items(Dataset):
    """`dataset[i]` for keys `(epoch, i)`, the per-item transform applied; a DataError is
    returned (not raised) so that it crosses the process boundary intact."""

    def __init__(self, dataset: Dataset, transform: SampleTransform | None) -> None:
        self.dataset, self.transform = dataset, transform

    def __getitem__(self, key: tuple[int, int]) -> Any:
        epoch, i = key
        try:
            x, y = self.dataset[i]
            return (x if self.transform is None else self.transform(x, epoch, i)), y
        except DataError as e:
            return e


class _Collate:
    def __init__(self, collate: Callable[[list[Any]], Any]) -> None:
        self.collate = collate

    def __call__(self, items: list[Any]) -> Any:
        for item in items:
            if isinstance(item, DataError):
                return item
        return self.collate(items)


class _Tagged:
    """The batches of an EpochBatchSampler as `(epoch, index)` keys."""

    def __init__(self, sampler: EpochBatchSampler) -> None:
        self.sampler = sampler

    def __len__(self) -> int:
        return len(self.sampler)

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        e = self.sampler.epoch
        for batch in self.sampler:
            yield [(e, i) for i in batch]


class DatasetLoader:
    """Iterate batches of `dataset` (collated `(x, y)`), with BatchLoader's order and
    interface; `rank`/`world_size` shard every epoch (`EpochBatchSampler`)."""

    def __init__(
        self,
        dataset: Dataset,
        batch_size: int,
        *,
        shuffle: bool = False,
        drop_last: bool = False,
        seed: int = 0,
        num_workers: int = 0,
        transform: SampleTransform | None = None,
        pin_memory: bool = False,
        persistent_workers: bool = True,
        rank: int = 0,
        world_size: int = 1,
        even: bool = True,
        collate_fn: Callable[[list[Any]], Any] | None = None,
        start_method: str | None = None,
    ) -> None:
        if not isinstance(dataset, Sized):
            raise TypeError(f"dataset must define __len__, got {type(dataset).__name__}")
        if isinstance(num_workers, bool) or not isinstance(num_workers, int) or num_workers < 0:
            raise ValueError(f"num_workers must be an int >= 0, got {num_workers!r}")
        start_method = start_method or default_start_method()
        if start_method not in multiprocessing.get_all_start_methods():
            methods = multiprocessing.get_all_start_methods()
            raise ValueError(f"start_method must be one of {methods}, got {start_method!r}")
        self.dataset, self.transform, self.num_workers = dataset, transform, num_workers
        self.sampler = EpochBatchSampler(
            len(dataset),
            batch_size,
            shuffle=shuffle,
            drop_last=drop_last,
            seed=seed,
            rank=rank,
            world_size=world_size,
            even=even,
        )
        if collate_fn is None and len(dataset) > 0:
            check_sample(dataset[0], dataset, 0)
        workers = num_workers > 0
        self._loader = DataLoader(
            _Items(dataset, transform),
            batch_sampler=_Tagged(self.sampler),
            num_workers=num_workers,
            collate_fn=_Collate(collate_fn or default_collate),
            pin_memory=pin_memory and torch.cuda.is_available(),
            worker_init_fn=_worker_init if workers else None,
            multiprocessing_context=multiprocessing.get_context(start_method) if workers else None,
            persistent_workers=persistent_workers and workers,
            generator=torch.Generator().manual_seed(seed),
        )

    def __len__(self) -> int:
        return len(self.sampler)

    def epoch(self, epoch: int = 0, start: int = 0) -> Iterator[Any]:
        """Batches of `epoch`, beginning at batch index `start`."""
        self.sampler.set_epoch(epoch, start)
        for batch in self._loader:
            if isinstance(batch, DataError):
                raise batch
            yield batch

    def __iter__(self) -> Iterator[Any]:
        return self.epoch(0)


def make_loader(data: Split | Dataset, batch_size: int, **kw: Any) -> BatchLoader | DatasetLoader:
    """A `BatchLoader` for an in-memory `Split`, a `DatasetLoader` for a `Dataset`.

    BatchLoader takes `shuffle, drop_last, seed, transform, num_workers` (threads), `rank`,
    `world_size` and `even`; the Dataset-only options (`pin_memory`, `persistent_workers`,
    `collate_fn`, `start_method`) are an error for a Split rather than silently ignored.
    """
    if isinstance(data, Split):
        mine = {"shuffle", "drop_last", "seed", "transform", "num_workers", "rank", "world_size"}
        extra = sorted(set(kw) - mine - {"even"})
        if extra:
            raise TypeError(f"make_loader: {extra} apply to a Dataset only, not to a Split")
        return BatchLoader(data, batch_size, **kw)
    return DatasetLoader(data, batch_size, **kw)
