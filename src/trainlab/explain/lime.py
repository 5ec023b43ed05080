"""LIME (Ribeiro et al. 2016): explain one prediction by a weighted linear surrogate.

The input is cut into S interpretable segments (a grid of patches for images, one segment
per feature for vectors, or a segment map you give). For K random binary vectors z in
{0, 1}^S (the first all ones), the perturbed input keeps segment s where z_s = 1 and replaces
it by `fill` where z_s = 0; the black box's probability of the explained class f(z) is
recorded. The surrogate g(z) = b + w . z minimizes

    sum_k pi(z_k) (f(z_k) - g(z_k))^2 + ridge ||w||^2,   pi(z) = sqrt(exp(-d(z, 1)^2 / width^2)),

with d the cosine distance to the unperturbed input (the lime package's kernel and its image
defaults: width 0.25, ridge 1). `r2` is the weighted coefficient of determination of the fit: how well the linear
story matches the model locally.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from trainlab._validate import check_positive_int
from trainlab.explain._common import evaluating, targets_of


@dataclass
class LimeExplanation:
    """`weights` (S,) per segment, `segments` (the map from positions to segment ids),
    `attributions` (the weights painted onto the input's positions), the fit."""

    weights: Tensor
    intercept: float
    r2: float
    segments: Tensor
    attributions: Tensor
    target: int


def grid_segments(shape: tuple[int, ...], patch: int) -> Tensor:
    """(H, W) segment ids of `patch` x `patch` tiles for an image of shape (C, H, W); for a
    vector (F,) or a signal (C, L), one id per feature / per `patch` positions."""
    check_positive_int("patch", patch)
    if len(shape) == 3:
        h, w = shape[1:]
        rows = torch.arange(h) // patch
        cols = torch.arange(w) // patch
        return rows[:, None] * (-(-w // patch)) + cols[None, :]
    if len(shape) == 2:
        return torch.arange(shape[1]) // patch
    return torch.arange(shape[0])


def _weighted_ridge(z: Tensor, f: Tensor, pi: Tensor, ridge: float) -> tuple[Tensor, float, float]:
    """argmin sum pi (f - b - z w)^2 + ridge |w|^2 (no penalty on b), and the weighted R^2."""
    wsum = pi.sum()
    zm = (pi[:, None] * z).sum(0) / wsum
    fm = (pi * f).sum() / wsum
    zc, fc = z - zm, f - fm
    a = zc.T @ (pi[:, None] * zc) + ridge * torch.eye(z.shape[1], dtype=z.dtype)
    w = torch.linalg.solve(a, zc.T @ (pi * fc))
    b = fm - zm @ w
    resid = f - b - z @ w
    ss_res = (pi * resid**2).sum()
    ss_tot = (pi * fc**2).sum().clamp_min(1e-300)
    return w, float(b), float(1 - ss_res / ss_tot)


def lime(
    model: nn.Module,
    x: Tensor,
    target: int | None = None,
    *,
    segments: Tensor | None = None,
    patch: int = 2,
    samples: int = 1000,
    fill: Tensor | float = 0.0,
    width: float = 0.25,
    ridge: float = 1.0,
    generator: torch.Generator | None = None,
    batch_size: int = 256,
) -> LimeExplanation:
    """Explain the model's output on ONE input `x` (no batch axis) by LIME (module doc)."""
    check_positive_int("samples", samples)
    check_positive_int("batch_size", batch_size)
    if not width > 0 or ridge < 0:
        raise ValueError(f"width must be > 0 and ridge >= 0, got {width!r}, {ridge!r}")
    seg = grid_segments(tuple(x.shape), patch) if segments is None else torch.as_tensor(segments)
    spatial = x.shape[1:] if x.ndim >= 2 else x.shape
    if tuple(seg.shape) != tuple(spatial):
        raise ValueError(f"segments: expected shape {tuple(spatial)}, got {tuple(seg.shape)}")
    ids, seg = torch.unique(seg.long(), return_inverse=True)
    s = len(ids)
    z = torch.randint(0, 2, (samples, s), generator=generator).double()
    z[0] = 1.0
    seg_d = seg.to(x.device)
    fill_t = torch.as_tensor(fill, dtype=x.dtype, device=x.device)
    with evaluating(model), torch.no_grad():
        t = int(targets_of(model, x[None], target)[0]) if target is None else int(target)
        f = torch.empty(samples, dtype=torch.float64)
        for i in range(0, samples, batch_size):
            keep = z[i : i + batch_size].to(x)[:, seg_d]  # (B, *spatial)
            keep = keep.unsqueeze(1) if x.ndim >= 2 else keep  # broadcast over channels
            xs = x.unsqueeze(0) * keep + fill_t * (1 - keep)
            f[i : i + len(xs)] = torch.softmax(model(xs).double(), dim=1)[:, t].cpu()
    cos = (z.sum(1) / (z.norm(dim=1).clamp_min(1e-12) * s**0.5)).clamp(-1, 1)
    pi = torch.exp(-((1 - cos) ** 2) / width**2).sqrt()
    w, b, r2 = _weighted_ridge(z, f, pi, ridge)
    return LimeExplanation(w, b, r2, seg.cpu(), w[seg.cpu()].float(), t)
