"""Where augmentation runs, and the single-image (worker) path agreeing with the batch path."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch

from trainlab.augment import (
    PlacementChoice,
    RandAugment,
    augment_placement,
    measure_placement,
    rand_augment,
)


def test_placement_rule() -> None:
    assert augment_placement("cuda") == "batch"
    assert augment_placement("cuda:1", num_workers=4) == "batch"
    assert augment_placement("cpu", num_workers=0) == "batch"
    assert augment_placement(torch.device("cpu"), num_workers=2) is None  # measure
    with pytest.raises(ValueError, match="num_workers"):
        augment_placement("cpu", num_workers=-1)


def _clock(*ticks: float) -> Callable[[], float]:
    """A fake `perf_counter` returning `ticks` in order: (start, end) of batch, of worker."""
    return iter(ticks).__next__


@pytest.mark.parametrize(
    ("ticks", "expected", "rates"),
    [
        ((0.0, 0.5, 1.0, 2.0), "batch", (64.0, 32.0)),  # batch 0.5 s, worker 1 s
        ((0.0, 2.0, 3.0, 3.25), "worker", (16.0, 128.0)),  # batch 2 s, worker 0.25 s
        ((0.0, 1.0, 1.0, 2.0), "batch", (32.0, 32.0)),  # a tie: no threads needed
    ],
)
def test_measure_placement_picks_the_faster_path(
    ticks: tuple[float, ...], expected: str, rates: tuple[float, float]
) -> None:
    calls = {"batch": 0, "worker": 0}

    def path(name: str) -> Callable[[], None]:
        return lambda: calls.__setitem__(name, calls[name] + 1)

    choice = measure_placement(path("batch"), path("worker"), 32, timer=_clock(*ticks))
    assert choice == PlacementChoice(expected, "measured", *rates)  # type: ignore[arg-type]
    assert calls == {"batch": 2, "worker": 2}  # one warm-up, one timed run each


def test_placement_choice_reads_as_one_line() -> None:
    assert str(PlacementChoice("batch", "measured", 612.4, 451.0)) == (
        "augment placement: batch (612 img/s) over worker (451 img/s)"
    )
    assert str(PlacementChoice("worker", "measured", 1200.0, 2500.0)) == (
        "augment placement: worker (2,500 img/s) over batch (1,200 img/s)"
    )
    assert str(PlacementChoice("batch", "augment.placement")) == (
        "augment placement: batch (augment.placement)"
    )
    with pytest.raises(ValueError, match="num_images"):
        measure_placement(lambda: None, lambda: None, 0)


def test_worker_path_runs_the_same_ops_per_image() -> None:
    x = torch.randint(0, 256, (3, 16, 20), dtype=torch.uint8)
    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    one = rand_augment(x, generator=g1)
    batch = rand_augment(x.unsqueeze(0), generator=g2)
    assert torch.equal(one, batch[0])
    m = RandAugment(2, 5, seed=1)
    assert m(x).shape == x.shape


@pytest.mark.parametrize("channels", [1, 4])
def test_other_channel_counts(channels: int) -> None:
    x = torch.randint(0, 256, (6, channels, 12, 12), dtype=torch.uint8)
    out = rand_augment(x, num_ops=3, magnitude=10, generator=torch.Generator().manual_seed(0))
    assert out.shape == x.shape and out.dtype == torch.uint8
