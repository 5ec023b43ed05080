"""The NT-Xent (normalized temperature-scaled cross-entropy) loss of SimCLR (notes F3:2595-2610;
Chen et al. 2020).

For a batch of N images and two augmented views, z_1..z_2N the projections (view 1 of image
i is z_i, view 2 is z_{i+N}), s_ik = z_i . z_k / (|z_i| |z_k|) the cosine similarity and tau
the temperature, the loss of the positive pair (i, j) is

    l(i, j) = -log( exp(s_ij / tau) / sum_{k != i} exp(s_ik / tau) )

and NT-Xent is the mean of l over all 2N anchors (both orders of every pair). It is
symmetric in the two views.

`nt_xent` computes it with three N x N similarity blocks instead of the 2N x 2N matrix
(z1 z1^T, z2 z2^T and z1 z2^T, whose transpose is the z2 z1^T block), so for large batches
it does 3/4 of the matrix products and memory, and each row's denominator is a log-sum-exp
of two blocks (stable for any tau). `nt_xent_reference` is the formula above written
literally (the 2N x 2N matrix, exp, the k != i indicator, the division); the two agree to
rounding (tested to 1e-6 in float64, and to a relative 1e-6 in float32).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from trainlab._validate import check_positive

__all__ = ["NTXentLoss", "nt_xent", "nt_xent_reference"]


def _check(z1: Tensor, z2: Tensor, temperature: float) -> float:
    if z1.ndim != 2 or z1.shape != z2.shape or z1.shape[0] < 1:
        raise ValueError(
            f"z1, z2: expected two (N, D) projections of the same shape, got "
            f"{tuple(z1.shape)}, {tuple(z2.shape)}"
        )
    return check_positive("temperature", temperature)


def nt_xent(z1: Tensor, z2: Tensor, temperature: float = 0.5) -> Tensor:
    """NT-Xent of the view pairs (z1[i], z2[i]), averaged over the 2N anchors."""
    t = _check(z1, z2, temperature)
    dt = torch.promote_types(z1.dtype, torch.float32)  # half/bf16 projections in float32
    a, b = F.normalize(z1.to(dt), dim=1), F.normalize(z2.to(dt), dim=1)
    n = a.shape[0]
    eye = torch.eye(n, dtype=torch.bool, device=a.device)
    s11 = (a @ a.T / t).masked_fill(eye, float("-inf"))  # (N, N), k != i
    s22 = (b @ b.T / t).masked_fill(eye, float("-inf"))
    s12 = a @ b.T / t  # s12[i, j] = s(z_i, z_{N+j}); its transpose is the s21 block
    lse1 = torch.logaddexp(s11.logsumexp(1), s12.logsumexp(1))  # anchors 1..N
    lse2 = torch.logaddexp(s12.logsumexp(0), s22.logsumexp(1))  # anchors N+1..2N
    pos = s12.diagonal()
    return (lse1 + lse2 - 2 * pos).sum() / (2 * n)


def nt_xent_reference(z1: Tensor, z2: Tensor, temperature: float = 0.5) -> Tensor:
    """The notes' formula written literally (the 2N x 2N similarity matrix)."""
    t = _check(z1, z2, temperature)
    z = F.normalize(torch.cat([z1, z2]), dim=1)  # (2N, D)
    n2 = z.shape[0]
    e = torch.exp(z @ z.T / t)
    not_self = 1 - torch.eye(n2, dtype=z.dtype, device=z.device)  # 1[k != i]
    idx = torch.arange(n2, device=z.device)
    partner = (idx + n2 // 2) % n2
    return -torch.log(e[idx, partner] / (e * not_self).sum(1)).mean()


class NTXentLoss(nn.Module):
    """Module form of :func:`nt_xent`; forward(z1, z2)."""

    def __init__(self, temperature: float = 0.5) -> None:
        super().__init__()
        self.temperature = check_positive("temperature", temperature)

    def forward(self, z1: Tensor, z2: Tensor) -> Tensor:
        return nt_xent(z1, z2, self.temperature)

    def extra_repr(self) -> str:
        return f"temperature={self.temperature}"
