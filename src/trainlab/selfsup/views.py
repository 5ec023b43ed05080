"""SimCLR's two augmented views, batched, from trainlab's augmentations (Chen et al. 2020).

Each view of each image independently: `trainlab.augment.random_resized_crop` back to the
image's size (area fraction in `crop_scale`), `horizontal_flip` with probability `flip`,
a brightness/contrast jitter ``x' = a x + b`` with a ~ U(1 - j, 1 + j) and b ~ U(-j, j)
per image (the data are standardized, so this is the colour jitter of the paper written in
standardized units), and Gaussian noise of std `noise`. Every draw uses `generator`.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from trainlab.augment import horizontal_flip, random_resized_crop

__all__ = ["augmented_view", "two_views"]


def augmented_view(
    x: Tensor,
    *,
    generator: torch.Generator,
    crop_scale: tuple[float, float] = (0.4, 1.0),
    flip: float = 0.0,
    jitter: float = 0.4,
    noise: float = 0.1,
) -> Tensor:
    """One random view of every image of `x` (B, C, H, W)."""
    b, _, h, w = x.shape
    v = random_resized_crop(x, (h, w), scale=crop_scale, generator=generator)
    assert isinstance(v, Tensor)
    if flip > 0:
        v = horizontal_flip(v, prob=flip, generator=generator)
        assert isinstance(v, Tensor)
    if jitter > 0:
        u = torch.rand(b, 2, 1, 1, 1, generator=generator, device=generator.device).to(x.device)
        v = v * (1 + jitter * (2 * u[:, 0] - 1)) + jitter * (2 * u[:, 1] - 1)
    if noise > 0:
        eps = torch.randn(v.shape, generator=generator, device=generator.device)
        v = v + noise * eps.to(x.device)
    return v


def two_views(x: Tensor, *, generator: torch.Generator, **kw: Any) -> tuple[Tensor, Tensor]:
    """Two independent views of `x` (see `augmented_view` for the keywords)."""
    return augmented_view(x, generator=generator, **kw), augmented_view(
        x, generator=generator, **kw
    )
