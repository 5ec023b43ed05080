"""Where augmentation runs, and the single-image (worker) path agreeing with the batch path."""

from __future__ import annotations

import pytest
import torch

from trainlab.augment import RandAugment, augment_placement, rand_augment


def test_placement_rule() -> None:
    assert augment_placement("cuda") == "batch"
    assert augment_placement("cuda:1", num_workers=4) == "batch"
    assert augment_placement("cpu", num_workers=0) == "batch"
    assert augment_placement(torch.device("cpu"), num_workers=2) == "worker"
    with pytest.raises(ValueError, match="num_workers"):
        augment_placement("cpu", num_workers=-1)


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
