"""Sample-quality scores of generative models: Inception Score, Fréchet distance, mode
coverage.

Inception Score (Salimans et al. 2016; notes F3:1301-1323). For class probabilities
p(c|x_n) of N generated samples under a classifier, the marginal is p(c) = mean_n p(c|x_n) and

    IS = exp( E_n[ KL(p(c|x_n) || p(c)) ] )
       = exp( mean_n sum_c p(c|x_n) log p(c|x_n)  -  sum_c p(c) log p(c) )

so IS lies in [1, K]: K for K sharp (one-hot) conditionals with a uniform marginal, 1 for a
collapsed generator whose every conditional is the same. With ``splits = S`` the samples are
cut into S consecutive chunks and the mean and standard deviation of the S scores are
returned (the original protocol uses S = 10). The classifier is trainlab's own (trained on
the same data), not Inception-v3, so scores are comparable within trainlab only.

Fréchet distance (FID, Heusel et al. 2017) between Gaussians fitted to features of real and
generated samples:

    d^2 = |mu_r - mu_g|^2 + tr(S_r + S_g - 2 (S_r S_g)^(1/2))

computed from the eigenvalues of S_r^(1/2) S_g S_r^(1/2) (symmetric PSD, so its square root
is exact where scipy's sqrtm of a product is not), in float64. Covariances are the unbiased
ones (divide by N - 1), as pytorch-fid's ``np.cov``.

Mode coverage (2-D toy data, e.g. the 8-Gaussians ring; Srivastava et al. 2017 VEEGAN): a
sample is *high quality* when it lies within ``threshold`` (default 3 standard deviations) of
its nearest mode; a mode is *covered* when it receives at least ``min_count`` high-quality
samples.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from trainlab._validate import check_int, check_positive

__all__ = [
    "ModeCoverage",
    "feature_statistics",
    "frechet_distance",
    "inception_score",
    "inception_score_from_sums",
    "mode_coverage",
]


def _check_probs(probs: Tensor) -> Tensor:
    if not isinstance(probs, Tensor) or probs.ndim != 2 or probs.shape[0] == 0:
        got = tuple(probs.shape) if isinstance(probs, Tensor) else type(probs).__name__
        raise ValueError(f"probs: expected class probabilities (N, K) with N >= 1, got {got}")
    p = probs.double()
    if (p < 0).any() or not torch.allclose(p.sum(1), torch.ones_like(p[:, 0]), atol=1e-4):
        raise ValueError("probs: expected rows of non-negative numbers summing to 1 (softmax)")
    return p


def _xlogx(p: Tensor) -> Tensor:
    """p log p with 0 log 0 = 0."""
    return torch.where(p > 0, p * p.clamp_min(1e-300).log(), torch.zeros_like(p))


def inception_score_from_sums(sum_plogp: Tensor, sum_p: Tensor, n: int | Tensor) -> Tensor:
    """IS from running sums over N samples: ``sum_n sum_c p log p`` and ``sum_n p`` (K,)."""
    marginal = sum_p.double() / n
    return torch.exp(sum_plogp.double() / n - _xlogx(marginal).sum())


def inception_score(probs: Tensor, splits: int = 1) -> tuple[float, float]:
    """(mean, std) of the Inception Score over `splits` consecutive chunks of `probs` (N, K)."""
    p = _check_probs(probs)
    splits = check_int("splits", splits, lo=1)
    if splits > p.shape[0]:
        raise ValueError(
            f"splits: expected at most the number of samples {p.shape[0]}, got {splits}"
        )
    scores = torch.stack(
        [
            inception_score_from_sums(_xlogx(c).sum(), c.sum(0), c.shape[0])
            for c in torch.tensor_split(p, splits)
        ]
    )
    std = float(scores.std(unbiased=False)) if splits > 1 else 0.0
    return float(scores.mean()), std


def feature_statistics(features: Tensor) -> tuple[Tensor, Tensor]:
    """(mean (D,), unbiased covariance (D, D)) of `features` (N, D), N >= 2, in float64."""
    if not isinstance(features, Tensor) or features.ndim != 2 or features.shape[0] < 2:
        got = tuple(features.shape) if isinstance(features, Tensor) else type(features).__name__
        raise ValueError(f"features: expected a (N, D) tensor with N >= 2, got {got}")
    f = features.double()
    mu = f.mean(0)
    c = f - mu
    return mu, c.T @ c / (f.shape[0] - 1)


def _psd_sqrt(s: Tensor) -> Tensor:
    w, v = torch.linalg.eigh((s + s.T) / 2)
    return (v * w.clamp_min(0).sqrt()) @ v.T


def frechet_distance(mu1: Tensor, sigma1: Tensor, mu2: Tensor, sigma2: Tensor) -> float:
    """Squared Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2) (see module doc)."""
    mu1, mu2, s1, s2 = (t.double() for t in (mu1, mu2, sigma1, sigma2))
    d = mu1.shape[0]
    if mu2.shape != (d,) or s1.shape != (d, d) or s2.shape != (d, d):
        raise ValueError(
            f"mu1, sigma1, mu2, sigma2: expected shapes (D,), (D, D), (D,), (D, D), got "
            f"{tuple(mu1.shape)}, {tuple(s1.shape)}, {tuple(mu2.shape)}, {tuple(s2.shape)}"
        )
    r = _psd_sqrt(s1)
    m = r @ s2 @ r  # similar to S1 S2, symmetric PSD: tr sqrt(S1 S2) = sum sqrt(eig(m))
    tr_covmean = torch.linalg.eigvalsh((m + m.T) / 2).clamp_min(0).sqrt().sum()
    diff = mu1 - mu2
    return float(diff @ diff + torch.trace(s1) + torch.trace(s2) - 2 * tr_covmean)


@dataclass(frozen=True)
class ModeCoverage:
    """`modes_covered` of `modes`, their fraction, and the share of high-quality samples."""

    modes_covered: int
    modes: int
    coverage: float
    high_quality: float


def mode_coverage(
    samples: Tensor,
    centers: Tensor,
    *,
    threshold: float,
    min_count: int = 1,
) -> ModeCoverage:
    """Modes of `centers` (M, D) hit by `samples` (N, D) within `threshold` (see module doc)."""
    threshold = check_positive("threshold", threshold)
    min_count = check_int("min_count", min_count, lo=1)
    if samples.ndim != 2 or centers.ndim != 2 or samples.shape[1] != centers.shape[1]:
        raise ValueError(
            f"samples, centers: expected (N, D) and (M, D), got {tuple(samples.shape)}, "
            f"{tuple(centers.shape)}"
        )
    dist = torch.cdist(samples.double(), centers.double().to(samples.device))  # (N, M)
    nearest_d, nearest = dist.min(1)
    good = nearest_d <= threshold
    counts = torch.bincount(nearest[good], minlength=centers.shape[0])
    covered = int((counts >= min_count).sum())
    m = int(centers.shape[0])
    hq = float(good.double().mean()) if samples.shape[0] else math.nan
    return ModeCoverage(covered, m, covered / m, hq)
