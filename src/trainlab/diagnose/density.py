"""The Hessian's trace and spectral density from Hessian-vector products.

- `hutchinson_trace`: tr(H) = E[v^T H v] for Rademacher v (entries +-1, E[v v^T] = I)
  (Hutchinson 1990); the mean of `samples` draws with a Student-t confidence interval
  mean +- t_{(1+c)/2, s-1} * sd / sqrt(s).
- `spectral_density`: stochastic Lanczos quadrature (Golub & Meurant 2010; Ghorbani et al.
  2019; PyHessian's `density`). For a unit probe v, the spectral measure
  mu_v = sum_i (v^T u_i)^2 delta(lambda_i) is approximated by the m-point Gauss quadrature
  that Lanczos from v gives: nodes = eigenvalues theta_j of T_m, weights = (first component
  of T_m's eigenvectors)^2. It integrates polynomials of degree <= 2m - 1 exactly, so
  sum_j w_j theta_j^p = v^T H^p v for p < 2m; with m = dim it is exact. The density is the
  mean over Gaussian probes of their measures, E_v[mu_v] = (1/n) sum_i delta(lambda_i),
  smoothed by a Gaussian of width `sigma` for plotting.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

import torch
from torch import Tensor

from trainlab.diagnose.hessian import LinearOperator, lanczos


def _t_pdf(x: float, n: float) -> float:
    c = math.lgamma((n + 1) / 2) - math.lgamma(n / 2) - 0.5 * math.log(n * math.pi)
    return math.exp(c - (n + 1) / 2 * math.log1p(x * x / n))


def _t_cdf(x: float, n: float, points: int = 400) -> float:
    """1/2 + the integral of the pdf over [0, x] by Simpson's rule (the pdf is smooth)."""
    h = x / points
    inner = sum((4 if i % 2 else 2) * _t_pdf(i * h, n) for i in range(1, points))
    return 0.5 + h / 3 * (_t_pdf(0.0, n) + inner + _t_pdf(x, n))


def t_quantile(p: float, df: int) -> float:
    """The p-quantile of Student's t with `df` degrees of freedom: the Cornish-Fisher
    expansion around the normal quantile (Abramowitz & Stegun 26.7.5) refined by Newton
    steps on the CDF (closed forms for df 1 and 2); tested against tables to 1e-6."""
    if not 0.0 < p < 1.0:
        raise ValueError(f"p: expected a probability in (0, 1), got {p}")
    if df < 1:
        raise ValueError(f"df: expected >= 1, got {df}")
    if df == 1:
        return math.tan(math.pi * (p - 0.5))  # Cauchy
    if df == 2:
        return (2 * p - 1) / math.sqrt(2 * p * (1 - p))
    z, n = NormalDist().inv_cdf(p), float(df)
    g1 = (z**3 + z) / 4
    g2 = (5 * z**5 + 16 * z**3 + 3 * z) / 96
    g3 = (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / 384
    g4 = (79 * z**9 + 776 * z**7 + 1482 * z**5 - 1920 * z**3 - 945 * z) / 92160
    x = z + g1 / n + g2 / n**2 + g3 / n**3 + g4 / n**4
    for _ in range(3):
        x -= (_t_cdf(x, n) - p) / _t_pdf(x, n)
    return x


@dataclass
class TraceEstimate:
    """Hutchinson's estimate: mean, its confidence interval [low, high] at `confidence`,
    the standard error and the draws."""

    mean: float
    low: float
    high: float
    std_err: float
    confidence: float
    samples: list[float]


def hutchinson_trace(
    op: LinearOperator,
    samples: int = 30,
    *,
    confidence: float = 0.95,
    generator: torch.Generator | None = None,
) -> TraceEstimate:
    """tr(H) ~ mean of v^T H v over `samples` Rademacher vectors, with a t-interval."""
    if samples < 2:
        raise ValueError(f"samples: expected >= 2 (an interval needs two draws), got {samples}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence: expected a probability in (0, 1), got {confidence}")
    draws = []
    for _ in range(samples):
        v = torch.randint(0, 2, (op.dim,), generator=generator, device=op.device)
        v = v.to(op.dtype) * 2 - 1  # (n,) of +-1
        draws.append(float(torch.dot(v, op.matvec(v))))
    x = torch.tensor(draws, dtype=torch.float64)
    mean, sd = float(x.mean()), float(x.std(unbiased=True))
    se = sd / math.sqrt(samples)
    half = t_quantile(0.5 + confidence / 2, samples - 1) * se
    return TraceEstimate(mean, mean - half, mean + half, se, confidence, draws)


@dataclass
class SpectralDensity:
    """Quadrature nodes and weights, one row per probe (rows padded with weight 0 when a
    probe's Lanczos ended early); `dim` the operator's size."""

    nodes: Tensor  # (probes, m) float64
    weights: Tensor  # (probes, m) float64, each row sums to 1
    dim: int
    hvps: int

    def density(self, grid: Tensor, sigma: float) -> Tensor:
        """The density on `grid`, each node a Gaussian of width `sigma`, mean over probes;
        it integrates to 1."""
        if sigma <= 0:
            raise ValueError(f"sigma: expected > 0, got {sigma}")
        g = grid.to(torch.float64)[:, None, None]  # (G, 1, 1)
        kernel = torch.exp(-0.5 * ((g - self.nodes) / sigma) ** 2) / (
            sigma * math.sqrt(2 * math.pi)
        )
        return (kernel * self.weights).sum(-1).mean(-1)  # (G,)

    def moment(self, p: int) -> float:
        """E_v[v^T H^p v] / ||v||^2 estimated: the mean over probes of sum_j w_j theta_j^p
        (p = 1 times dim is a trace estimate)."""
        return float((self.weights * self.nodes**p).sum(-1).mean())

    def trace(self) -> float:
        return self.dim * self.moment(1)


def probe_quadrature(op: LinearOperator, probe: Tensor, iters: int) -> tuple[Tensor, Tensor]:
    """Gauss quadrature (nodes, weights) of the spectral measure of the unit `probe`."""
    theta, s, _, _ = lanczos(op, iters=iters, tol=0.0, start=probe)
    return theta, s[0] ** 2


def spectral_density(
    op: LinearOperator,
    *,
    iters: int = 80,
    probes: int = 1,
    generator: torch.Generator | None = None,
) -> SpectralDensity:
    """Stochastic Lanczos quadrature with `probes` Gaussian probes of `iters` steps each."""
    if iters < 1 or probes < 1:
        raise ValueError(f"iters and probes: expected >= 1, got {iters} and {probes}")
    m = min(iters, op.dim)
    nodes = torch.zeros(probes, m, dtype=torch.float64)
    weights = torch.zeros(probes, m, dtype=torch.float64)
    start = getattr(op, "hvps", 0)
    for i in range(probes):
        v = torch.randn(op.dim, generator=generator, dtype=op.dtype, device=op.device)
        theta, w = probe_quadrature(op, v / torch.linalg.vector_norm(v), m)
        nodes[i, : theta.numel()], weights[i, : w.numel()] = theta, w
    return SpectralDensity(nodes, weights, op.dim, getattr(op, "hvps", 0) - start)
