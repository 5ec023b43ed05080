"""RandAugment image by image in the data loader's worker threads (the "worker" placement).

Each image gets its own generator, seeded from (seed, epoch, sample index), so the result
does not depend on which thread ran it or in what order, and a resumed run needs no saved
augmentation state: replaying (epoch, index) replays the image. The loader's batches are
standardized, so each image is mapped back to intensities in [0, 1] with the data's
`mean`/`std`, augmented and standardized again (as the batched `TrainAugment` does).
"""

from __future__ import annotations

import torch
from torch import Tensor

from trainlab._validate import check_int

from .rand_augment import _check_args, rand_augment

_MASK = (1 << 63) - 1


def _per_channel(name: str, v: Tensor | None) -> Tensor | None:
    """None, or a tensor of 1 or C values as (C, 1, 1) to broadcast over one (C, H, W)
    image (a (C,) tensor would broadcast over the width instead)."""
    if v is None:
        return None
    if not isinstance(v, Tensor):
        raise TypeError(f"{name}: expected a tensor or None, got {type(v).__name__}")
    if v.dim() > 1 and any(d != 1 for d in v.shape[1:]):
        raise ValueError(f"{name}: expected 1 or C values, (C,) or (C, 1, 1); got {tuple(v.shape)}")
    return v.reshape(-1, 1, 1)


def sample_seed(seed: int, epoch: int, index: int) -> int:
    """A 63-bit seed unique to (seed, epoch, index) for practical sizes."""
    return ((seed * 1_000_003 + epoch) * 1_000_000_007 + index) & _MASK


class PerImageRandAugment:
    """`transform(image, epoch, index)`: RandAugment(N, M) on one standardized (C, H, W)
    image with a generator seeded from (seed, epoch, index).

    ``mean`` and ``std`` are the standardization's, one number or one per channel ((C,) or
    (C, 1, 1)): the image is mapped to ``image * std + mean`` (clamped to [0, 1]),
    augmented, and standardized back with ``(out - mean) / std``."""

    def __init__(
        self,
        num_ops: int,
        magnitude: float,
        *,
        magnitude_std: float = 0.0,
        mean: Tensor | None = None,
        std: Tensor | None = None,
        seed: int = 0,
    ) -> None:
        self.num_ops, self.magnitude, self.magnitude_std, _ = _check_args(
            num_ops, magnitude, magnitude_std, None
        )
        self.mean, self.std = _per_channel("mean", mean), _per_channel("std", std)
        self.seed = check_int("seed", seed, lo=0)

    def __call__(self, image: Tensor, epoch: int, index: int) -> Tensor:
        g = torch.Generator(device=image.device).manual_seed(sample_seed(self.seed, epoch, index))
        mean = self.mean.to(image.device) if self.mean is not None else 0.0
        std = self.std.to(image.device) if self.std is not None else 1.0
        raw = (image * std + mean).clamp_(0.0, 1.0)  # (C, H, W) intensities in [0, 1]
        out = rand_augment(
            raw,
            num_ops=self.num_ops,
            magnitude=self.magnitude,
            magnitude_std=self.magnitude_std,
            generator=g,
        )
        return (out - mean) / std  # type: ignore[operator,return-value]
