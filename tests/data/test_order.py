"""EpochBatchSampler: BatchLoader's order, resumable at any batch, sharded by rank."""

from __future__ import annotations

import pytest
import torch

from trainlab.data import BatchLoader, EpochBatchSampler, Split


def _split(n: int) -> Split:
    return Split(torch.arange(n, dtype=torch.float32)[:, None], torch.arange(n))


@pytest.mark.parametrize(
    ("n", "batch", "seed", "epoch", "shuffle", "drop_last"),
    [
        (50, 8, 0, 0, True, True),
        (50, 8, 3, 5, True, False),
        (64, 16, 7, 2, True, True),
        (10, 64, 1, 1, True, True),  # the batch shrinks to the data, as BatchLoader's
        (37, 5, 2, 9, False, False),  # evaluation: natural order, last batch kept
    ],
)
def test_sampler_order_is_batchloaders(
    n: int, batch: int, seed: int, epoch: int, shuffle: bool, drop_last: bool
) -> None:
    loader = BatchLoader(_split(n), batch, shuffle=shuffle, drop_last=drop_last, seed=seed)
    sampler = EpochBatchSampler(n, batch, shuffle=shuffle, drop_last=drop_last, seed=seed)
    sampler.set_epoch(epoch)
    expected = [y.tolist() for _, y in loader.epoch(epoch)]
    assert list(sampler) == expected and len(sampler) == len(loader)


def test_start_yields_exactly_the_suffix() -> None:
    sampler = EpochBatchSampler(50, 8, shuffle=True, drop_last=True, seed=4)
    sampler.set_epoch(3)
    full = list(sampler)
    for start in (0, 1, 4, len(full)):
        sampler.set_epoch(3, start=start)
        assert list(sampler) == full[start:]
    with pytest.raises(ValueError, match="start must be <= 6"):
        sampler.set_epoch(3, start=7)


@pytest.mark.parametrize(
    ("n", "world", "drop_last"), [(50, 2, True), (53, 3, False), (41, 4, True)]
)
def test_shards_are_disjoint_equal_and_cover(n: int, world: int, drop_last: bool) -> None:
    batch = 4
    shards = []
    for rank in range(world):
        s = EpochBatchSampler(
            n, batch, shuffle=True, drop_last=drop_last, seed=1, rank=rank, world_size=world
        )
        s.set_epoch(2)
        shards.append(list(s))
    assert len({len(s) for s in shards}) == 1  # every rank takes the same number of steps
    flat = [sorted(i for b in s for i in b) for s in shards]
    seen = [i for f in flat for i in f]
    assert len(seen) == len(set(seen))  # disjoint
    per_rank = n // world
    if not drop_last:  # cover: all but the n % world samples cut so that ranks stay equal
        assert len(seen) == per_rank * world
    # step k of all ranks together is step k of one process with world * batch samples
    single = EpochBatchSampler(n, world * batch, shuffle=True, drop_last=drop_last, seed=1)
    single.set_epoch(2)
    cut = (n // world) * world
    for k, together in enumerate(zip(*shards, strict=True)):
        if drop_last or (k + 1) * world * batch <= cut:
            assert sorted(i for b in together for i in b) == sorted(list(single)[k])


def test_bad_arguments_name_themselves() -> None:
    with pytest.raises(ValueError, match="rank must be < world_size=2, got 2"):
        EpochBatchSampler(10, 2, rank=2, world_size=2)
    with pytest.raises(ValueError, match="batch_size must be >= 1, got 0"):
        EpochBatchSampler(10, 0)
    with pytest.raises(TypeError, match="epoch must be an int, got 1.5"):
        EpochBatchSampler(10, 2).set_epoch(1.5)  # type: ignore[arg-type]


@pytest.mark.parametrize(("n", "world"), [(50, 2), (64, 4), (37, 3)])
def test_sharded_batchloaders_together_are_the_one_process_batches(n: int, world: int) -> None:
    """Batch k of every rank (batch size B / world) is batch k of one process (batch B),
    and the in-memory loader shards exactly as the Dataset sampler does."""
    glob = BatchLoader(_split(n), 4 * world, shuffle=True, drop_last=True, seed=5)
    ranks = [
        BatchLoader(_split(n), 4, shuffle=True, drop_last=True, seed=5, rank=r, world_size=world)
        for r in range(world)
    ]
    for r, loader in enumerate(ranks):
        sampler = EpochBatchSampler(
            n, 4, shuffle=True, drop_last=True, seed=5, rank=r, world_size=world
        )
        sampler.set_epoch(2, start=1)
        assert list(sampler) == [y.tolist() for _, y in loader.epoch(2, start=1)]
    for k, (_, y) in enumerate(glob.epoch(2)):
        parts = [next(iter(r.epoch(2, start=k)))[1] for r in ranks]
        assert sorted(torch.cat(parts).tolist()) == sorted(y.tolist())


def test_uneven_evaluation_shards_keep_every_sample() -> None:
    seen = [
        y
        for r in range(3)
        for _, y in BatchLoader(_split(37), 5, rank=r, world_size=3, even=False).epoch(0)
    ]
    assert sorted(torch.cat(seen).tolist()) == list(range(37))
