"""The 2-D 8-Gaussians ring (Metz et al. 2017, unrolled GANs): the standard mode-collapse test.

Eight isotropic Gaussians of standard deviation `std` centred on a circle of `radius`
at angles 2 pi k / 8; samples pick a mode uniformly.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from trainlab._validate import check_int, check_positive

__all__ = ["eight_gaussians", "ring_centers"]


def ring_centers(modes: int = 8, radius: float = 2.0) -> Tensor:
    """(modes, 2) centres on the circle of `radius`."""
    modes = check_int("modes", modes, lo=1)
    radius = check_positive("radius", radius)
    a = torch.arange(modes, dtype=torch.float64) * (2 * math.pi / modes)
    return (radius * torch.stack([a.cos(), a.sin()], 1)).float()


def eight_gaussians(
    n: int,
    *,
    generator: torch.Generator,
    radius: float = 2.0,
    std: float = 0.02,
    modes: int = 8,
) -> tuple[Tensor, Tensor]:
    """(samples (n, 2) float32, mode index (n,) int64), drawn with `generator`."""
    n = check_int("n", n, lo=1)
    std = check_positive("std", std)
    centers = ring_centers(modes, radius)
    k = torch.randint(modes, (n,), generator=generator)
    x = centers[k] + std * torch.randn(n, 2, generator=generator)
    return x, k
