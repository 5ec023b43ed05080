"""Standardization with training-split statistics only (notes F3:2315-2430).

x' = (x - mean) / std, with mean and std per channel for images (N, C, H, W) and signals
(N, C, L), and per feature for vectors (N, D). A constant channel gets std 1.
"""

from __future__ import annotations

import torch
from torch import Tensor


def channel_stats(x: Tensor) -> tuple[Tensor, Tensor]:
    """Mean and std of dim 1 over all other dims, shaped to broadcast against one sample."""
    dims = [0, *range(2, x.dim())]
    x64 = x.double()
    mean = x64.mean(dim=dims)
    std = x64.std(dim=dims, unbiased=False)
    std = torch.where(std > 1e-12, std, torch.ones_like(std))
    shape = (-1,) + (1,) * (x.dim() - 2)
    return mean.float().reshape(shape), std.float().reshape(shape)


def standardize(x: Tensor, mean: Tensor, std: Tensor) -> Tensor:
    return (x - mean) / std
