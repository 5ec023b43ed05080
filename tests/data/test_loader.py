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


def _tag(sample: torch.Tensor, epoch: int, index: int) -> torch.Tensor:
    """A transform that depends only on its arguments (as the loader requires)."""
    return sample + 1000 * epoch + 0.001 * index


def test_transform_runs_per_sample_and_ignores_thread_count() -> None:
    split = _split(50)
    runs = [
        [
            b
            for b in BatchLoader(
                split, 8, shuffle=True, seed=2, transform=_tag, num_workers=w
            ).epoch(3)
        ]
        for w in (0, 1, 3)
    ]
    for x, y in runs[0]:
        assert torch.allclose(x[:, 0], y.float() + 3000 + 0.001 * y.float())
    for other in runs[1:]:
        assert all(
            torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
            for a, b in zip(runs[0], other, strict=True)
        )
    tail = list(BatchLoader(split, 8, shuffle=True, seed=2, transform=_tag, num_workers=2)
                .epoch(3, start=4))  # fmt: skip
    assert all(torch.equal(a[0], b[0]) for a, b in zip(runs[0][4:], tail, strict=True))
