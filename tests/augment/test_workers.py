"""PerImageRandAugment, the worker placement: per-image seeding from (seed, epoch, index)
and the de/re-standardization around RandAugment."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
import torch

from trainlab.augment import PerImageRandAugment, rand_augment, sample_seed

MEAN = torch.tensor([0.45, 0.40, 0.35]).view(3, 1, 1)
STD = torch.tensor([0.22, 0.25, 0.30]).view(3, 1, 1)


def _raw(seed: int = 0, h: int = 12, w: int = 10) -> torch.Tensor:
    """(3, h, w) intensities in [0.05, 0.95], away from the [0, 1] clamp."""
    g = torch.Generator().manual_seed(seed)
    return 0.05 + 0.9 * torch.rand(3, h, w, generator=g)


def _standardized(seed: int = 0) -> torch.Tensor:
    return (_raw(seed) - MEAN) / STD


def test_same_seed_epoch_index_gives_the_same_image_in_any_order_or_thread() -> None:
    t = PerImageRandAugment(2, 9.0, mean=MEAN, std=STD, seed=3)
    x = _standardized()
    first = t(x, 1, 7)
    assert torch.equal(t(x, 1, 7), first)
    assert torch.equal(PerImageRandAugment(2, 9.0, mean=MEAN, std=STD, seed=3)(x, 1, 7), first)
    # two threads, many keys, interleaved: each key replays its own image
    keys = [(e, i) for e in range(2) for i in range(16)]
    serial = [t(x, e, i) for e, i in keys]
    with ThreadPoolExecutor(2) as pool:
        threaded = list(pool.map(lambda k: t(x, *k), keys[::-1]))[::-1]
    for a, b in zip(serial, threaded, strict=True):
        assert torch.equal(a, b)


def test_the_generator_is_seeded_from_seed_epoch_index() -> None:
    # the definition: rand_augment on the raw image with a generator seeded by sample_seed
    t = PerImageRandAugment(2, 9.0, mean=MEAN, std=STD, seed=5)
    x = _standardized()
    for epoch, index in [(0, 0), (0, 1), (3, 41)]:
        g = torch.Generator().manual_seed(sample_seed(5, epoch, index))
        ref = (rand_augment(x * STD + MEAN, num_ops=2, magnitude=9.0, generator=g) - MEAN) / STD
        torch.testing.assert_close(t(x, epoch, index), ref, rtol=0, atol=0)


def test_different_index_epoch_or_seed_draws_different_ops() -> None:
    def ops(seed: int, epoch: int, index: int) -> tuple[int, ...]:
        g = torch.Generator().manual_seed(sample_seed(seed, epoch, index))
        _, info = rand_augment(_raw(), num_ops=2, magnitude=9.0, generator=g, return_info=True)
        return tuple(info.ops[0].tolist())

    by_index = {ops(0, 0, i) for i in range(40)}
    # 40 draws of 2 ops out of 14: all alike would have probability ~14^-78; the expected
    # number of distinct pairs is ~36, so 20 leaves a wide margin for chance collisions
    assert len(by_index) >= 20
    assert ops(0, 0, 0) != ops(0, 1, 0) or ops(0, 0, 1) != ops(0, 1, 1)  # epoch matters
    assert ops(0, 0, 0) != ops(1, 0, 0) or ops(0, 0, 1) != ops(1, 0, 1)  # seed matters
    t = PerImageRandAugment(2, 9.0, mean=MEAN, std=STD)
    x = _standardized()
    outs = [t(x, 0, i) for i in range(6)]
    assert all(not torch.equal(outs[0], o) for o in outs[1:])


def test_sample_seeds_are_distinct_over_epochs_and_indices() -> None:
    seeds = {sample_seed(s, e, i) for s in range(3) for e in range(5) for i in range(2000)}
    assert len(seeds) == 3 * 5 * 2000
    assert all(0 <= v < 2**63 for v in seeds)


@pytest.mark.parametrize("shape", [(3,), (3, 1, 1)])
def test_destandardize_restandardize_round_trip(shape: tuple[int, ...]) -> None:
    # num_ops=0 applies nothing: the output is the input up to float32 rounding of
    # x * std + mean and back (|x| <= 3, a few ulps of 1.2e-7 each: 1e-6 is ample)
    t = PerImageRandAugment(0, 9.0, mean=MEAN.reshape(shape), std=STD.reshape(shape))
    x = _standardized(1)
    torch.testing.assert_close(t(x, 0, 0), x, rtol=0, atol=1e-6)
    # with ops, the image RandAugment sees is exactly the raw one, per channel (a (C,)
    # mean/std broadcast over the width before): compare with augmenting it directly
    t2 = PerImageRandAugment(2, 9.0, mean=MEAN.reshape(shape), std=STD.reshape(shape))
    g = torch.Generator().manual_seed(sample_seed(0, 2, 3))
    ref = rand_augment(_raw(1), num_ops=2, magnitude=9.0, generator=g)
    torch.testing.assert_close(t2(x, 2, 3) * STD + MEAN, ref, rtol=0, atol=1e-6)


def test_no_statistics_means_images_in_unit_range() -> None:
    t = PerImageRandAugment(0, 9.0)
    x = _raw()
    assert torch.equal(t(x, 0, 0), x)
    assert torch.equal(t(x * 2 - 0.5, 0, 0), (x * 2 - 0.5).clamp(0, 1))  # clamped to [0, 1]


def test_bad_arguments_are_refused_at_construction() -> None:
    with pytest.raises(TypeError, match="^num_ops: expected an int"):
        PerImageRandAugment(2.5, 9.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="^magnitude: "):
        PerImageRandAugment(2, 31.0)
    with pytest.raises(ValueError, match="^magnitude_std: "):
        PerImageRandAugment(2, 9.0, magnitude_std=-1.0)
    with pytest.raises(ValueError, match=r"^mean: expected 1 or C values"):
        PerImageRandAugment(2, 9.0, mean=torch.zeros(3, 4))
    with pytest.raises(ValueError, match="^seed: "):
        PerImageRandAugment(2, 9.0, seed=-1)
