"""The in-memory batch loader: a data order that is a pure function of (seed, epoch)."""

from __future__ import annotations

import torch

from trainlab.data import BatchLoader, Split


def _split(n: int = 50) -> Split:
    return Split(torch.arange(n, dtype=torch.float32)[:, None], torch.arange(n))


def test_each_epoch_is_a_permutation_and_epochs_differ() -> None:
    loader = BatchLoader(_split(), 8, shuffle=True, seed=1)
    e0 = torch.cat([y for _, y in loader.epoch(0)])
    e1 = torch.cat([y for _, y in loader.epoch(1)])
    assert sorted(e0.tolist()) == list(range(50)) and not torch.equal(e0, e1)
    assert torch.equal(e0, torch.cat([y for _, y in loader.epoch(0)]))  # replayable


def test_starting_mid_epoch_continues_the_same_order() -> None:
    loader = BatchLoader(_split(), 8, shuffle=True, seed=3)
    full = [y for _, y in loader.epoch(4)]
    tail = [y for _, y in loader.epoch(4, start=3)]
    assert all(torch.equal(a, b) for a, b in zip(full[3:], tail, strict=True))


def test_drop_last_and_eval_order() -> None:
    assert len(BatchLoader(_split(50), 8, shuffle=True, drop_last=True)) == 6
    ev = BatchLoader(_split(50), 8)
    assert len(ev) == 7
    assert torch.equal(torch.cat([y for _, y in ev]), torch.arange(50))
    assert len(BatchLoader(_split(5), 64, drop_last=True)) == 1  # batch shrinks to the data
