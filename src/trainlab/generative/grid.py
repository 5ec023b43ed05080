"""Image grids: samples or reconstructions tiled into one PNG (Pillow).

Inputs are standardized images (the engine's data); `mean`/`std` undo the standardization,
then the grid is scaled by its own min and max to 0..255 (so the picture shows the
samples' contrast whatever the data's value range), with a 1-pixel border between tiles.
Vectors of length 2 (toy data) are drawn as a scatter plot instead.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

__all__ = ["image_grid", "save_image_grid"]


def image_grid(images: Tensor, nrow: int | None = None, pad: int = 1) -> np.ndarray:
    """(N, C, H, W) -> uint8 (rows*(H+pad)-pad, cols*(W+pad)-pad[, 3]) tiled picture."""
    if images.ndim != 4 or images.shape[1] not in (1, 3):
        raise ValueError(f"images: expected (N, 1 or 3, H, W), got {tuple(images.shape)}")
    x = images.detach().float().cpu()
    lo, hi = float(x.min()), float(x.max())
    x = (x - lo) / (hi - lo if hi > lo else 1.0)
    n, c, h, w = x.shape
    cols = nrow or math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    out = torch.ones(c, rows * (h + pad) - pad, cols * (w + pad) - pad)
    for i in range(n):
        r, q = divmod(i, cols)
        out[:, r * (h + pad) : r * (h + pad) + h, q * (w + pad) : q * (w + pad) + w] = x[i]
    arr = (out * 255).round().clamp(0, 255).to(torch.uint8).numpy()
    return arr[0] if c == 1 else arr.transpose(1, 2, 0)


def _scatter(points: Tensor, size: int = 256) -> np.ndarray:
    p = points.detach().float().cpu()
    lo, hi = p.min(0).values, p.max(0).values
    span = float((hi - lo).max()) or 1.0
    ij = ((p - lo) / span * (size - 1)).round().long().clamp(0, size - 1)
    img = np.full((size, size), 255, np.uint8)
    img[size - 1 - ij[:, 1].numpy(), ij[:, 0].numpy()] = 0
    return img


def save_image_grid(
    images: Tensor,
    path: str | Path,
    *,
    mean: Tensor | None = None,
    std: Tensor | None = None,
    nrow: int | None = None,
    upscale: int = 1,
) -> Path:
    """Write `images` (standardized with `mean`/`std`, per channel) as a PNG grid; returns
    the path. (N, 2) points are written as a scatter plot."""
    from PIL import Image

    if images.ndim == 2 and images.shape[1] == 2:
        arr = _scatter(images)
    else:
        x = images.detach().float().cpu()
        if mean is not None and std is not None and x.ndim == 4:
            shape = (1, -1, 1, 1)
            x = x * std.float().cpu().reshape(shape) + mean.float().cpu().reshape(shape)
        arr = image_grid(x, nrow)
    img = Image.fromarray(arr)
    if upscale > 1:
        img = img.resize((img.width * upscale, img.height * upscale), Image.Resampling.NEAREST)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path)
    return path
