"""Domain shifts made from any dataset: the same task in a new domain.

Each shift maps the raw inputs (the data's own units, before standardization) of a split to a
target domain; the labels stay, and are used only to *measure* adaptation, never to train on.

- `invert`: x -> lo + hi - x per sample's value range of the data (white digits on black
  become black on white);
- `rotate`: images turned by `degrees` (bilinear, zero fill);
- `noise`: x + N(0, (sigma * range)^2), seeded;
- `scale`: x * factor + offset (a contrast/brightness change);
- `texture`: the MNIST-M construction of Ganin et al. (2016, sec. 5.2) with a synthetic
  background: with u = (x - lo) / (hi - lo) in [0, 1] and b a seeded smooth random field in
  [0, 1] (uniform noise on a 3x3 grid per image and channel, upsampled bilinearly), the target
  is lo + (hi - lo) |b - u|: digits drawn over a textured background, partly inverted.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

SHIFTS = ("invert", "rotate", "noise", "scale", "texture")


def apply_shift(
    x: Tensor,
    kind: str,
    *,
    degrees: float = 30.0,
    sigma: float = 0.3,
    factor: float = 0.5,
    offset: float = 0.0,
    generator: torch.Generator | None = None,
) -> Tensor:
    """`x` (N, ...) moved to the target domain `kind` (see the module doc)."""
    if kind not in SHIFTS:
        raise ValueError(f"shift {kind!r}: expected one of {', '.join(SHIFTS)}")
    x = x.float()
    lo, hi = float(x.min()), float(x.max())
    if kind == "invert":
        return lo + hi - x
    if kind == "noise":
        if not sigma > 0:
            raise ValueError(f"sigma must be > 0, got {sigma!r}")
        eps = torch.randn(x.shape, generator=generator)
        return x + sigma * (hi - lo) * eps.to(x)
    if kind == "scale":
        return x * factor + offset
    if x.ndim != 4:
        raise ValueError(f"{kind} needs images (N, C, H, W), got shape {tuple(x.shape)}")
    if kind == "texture":
        coarse = torch.rand((x.shape[0], x.shape[1], 3, 3), generator=generator).to(x)
        b = F.interpolate(coarse, size=x.shape[2:], mode="bilinear", align_corners=False)
        return lo + (hi - lo) * (b - (x - lo) / max(hi - lo, 1e-12)).abs()
    a = math.radians(degrees)
    theta = torch.tensor([[math.cos(a), -math.sin(a), 0.0], [math.sin(a), math.cos(a), 0.0]])
    grid = F.affine_grid(theta.expand(len(x), 2, 3).to(x), list(x.shape), align_corners=False)
    return (
        F.grid_sample(x - lo, grid, mode="bilinear", padding_mode="zeros", align_corners=False) + lo
    )
