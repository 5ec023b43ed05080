"""Standardization with training-split statistics only (notes F3:2315-2430).

x' = (x - mean) / std, with mean and std per channel for images (N, C, H, W) and signals
(N, C, L), and per feature for vectors (N, D). A constant channel gets std 1.

The statistics are accumulated in float64 over batches (a whole split at once, or one
chunk or image at a time for data that does not fit in memory), merging each batch's
count, mean and sum of squared deviations M2 with the pairwise formula of Chan, Golub and
LeVeque (1979): with delta = mean_b - mean_a and n = n_a + n_b,
    mean = mean_a + delta * n_b / n,   M2 = M2_a + M2_b + delta^2 * n_a * n_b / n,
and std = sqrt(M2 / n) (the population std). No catastrophic cancellation, whatever the
offset of the data.
"""

from __future__ import annotations

import torch
from torch import Tensor


class RunningStats:
    """Per-channel (dim 1) count, mean and M2 of every batch passed to `update`."""

    def __init__(self) -> None:
        self.n = 0
        self.mean: Tensor | None = None
        self.m2: Tensor | None = None
        self.sample_dims = 0

    def update(self, x: Tensor) -> None:
        """Add a batch (N, C, ...) (or (N, D))."""
        dims = [0, *range(2, x.dim())]
        x64 = x.double()
        k = x64.numel() // max(x64.shape[1], 1)
        mean = x64.mean(dim=dims)
        m2 = (x64 - mean.reshape((-1,) + (1,) * (x.dim() - 2))).square().sum(dim=dims)
        if self.mean is None or self.m2 is None:
            self.n, self.mean, self.m2, self.sample_dims = k, mean, m2, x.dim() - 1
            return
        total = self.n + k
        delta = mean - self.mean
        self.mean = self.mean + delta * (k / total)
        self.m2 = self.m2 + m2 + delta.square() * (self.n * k / total)
        self.n = total

    def result(self) -> tuple[Tensor, Tensor]:
        """float32 mean and std shaped to broadcast against one sample ((C, 1, 1), (D,))."""
        if self.mean is None or self.m2 is None:
            raise ValueError("RunningStats.result() needs at least one update()")
        std = (self.m2 / self.n).sqrt()
        std = torch.where(std > 1e-12, std, torch.ones_like(std))
        shape = (-1,) + (1,) * (self.sample_dims - 1)
        return self.mean.float().reshape(shape), std.float().reshape(shape)


def channel_stats(x: Tensor) -> tuple[Tensor, Tensor]:
    """Mean and std of dim 1 over all other dims, shaped to broadcast against one sample."""
    stats = RunningStats()
    stats.update(x)
    return stats.result()


def identity_stats(shape: tuple[int, ...]) -> tuple[Tensor, Tensor]:
    """Mean 0 and std 1 for samples of `shape` (data used as given, not standardized)."""
    return torch.zeros((shape[0],) + (1,) * (len(shape) - 1)), torch.ones(1)


def standardize(x: Tensor, mean: Tensor, std: Tensor) -> Tensor:
    return (x - mean) / std
