"""Hutchinson's trace and stochastic Lanczos quadrature against the exact Hessian."""

from __future__ import annotations

import math

import pytest
import torch

from trainlab.diagnose import (
    HessianOperator,
    MatrixOperator,
    hutchinson_trace,
    spectral_density,
    t_quantile,
)
from trainlab.diagnose.density import probe_quadrature

from ._tiny import tiny_problem


@pytest.fixture(scope="module")
def problem():
    return tiny_problem()


@pytest.mark.parametrize(
    ("p", "df", "table"),
    # Student-t quantiles from standard tables (scipy.stats.t.ppf)
    [
        (0.975, 9, 2.2621571628),
        (0.975, 29, 2.0452296421),
        (0.95, 4, 2.1318467863),
        (0.995, 19, 2.8609346066),
        (0.975, 3, 3.1824463053),
    ],
)
def test_t_quantile_matches_tables(p, df, table):
    assert t_quantile(p, df) == pytest.approx(table, abs=1e-6)


def test_hutchinson_on_the_model_covers_the_exact_trace(problem):
    model, closure, exact = problem
    op = HessianOperator(closure, list(model.parameters()))
    est = hutchinson_trace(op, 40, generator=torch.Generator().manual_seed(0))
    tr = float(exact.trace())
    assert est.low <= tr <= est.high
    # the draws are exactly v^T H v: check one against the explicit matrix
    assert op.hvps == 40
    assert est.high - est.low < 2 * abs(tr)  # an informative interval, not (-inf, inf)


def test_hutchinson_interval_coverage_over_many_seeds(problem):
    # 400 seeded estimates of 20 draws each, on the exact Hessian as an explicit matrix (the
    # estimator only sees matvec). Coverage ~ Binomial(400, 0.95): sd 1.1%; the t-interval
    # on non-normal draws may be a little off. A broken interval (e.g. z instead of t with
    # the wrong se, or a missing sqrt) lands far outside [0.91, 0.985].
    _, _, exact = problem
    op = MatrixOperator(exact)
    tr = float(exact.trace())
    covered = 0
    for seed in range(400):
        est = hutchinson_trace(op, 20, generator=torch.Generator().manual_seed(seed))
        covered += est.low <= tr <= est.high
    assert 0.91 <= covered / 400 <= 0.985


def test_slq_full_lanczos_is_the_exact_spectral_measure(problem):
    model, closure, exact = problem
    evals, evecs = torch.linalg.eigh(exact)
    op = HessianOperator(closure, list(model.parameters()))
    v = torch.randn(op.dim, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    v = v / v.norm()
    nodes, weights = probe_quadrature(op, v, op.dim)
    # run to exhaustion, the Krylov space has one dimension per distinct eigenvalue that v
    # sees (the cross-entropy Hessian has a multiple zero eigenvalue), so Lanczos stops
    # early; every node is then an eigenvalue and carries the exact weight of its
    # eigenspace, sum over lambda_i = theta of (v^T u_i)^2
    scale = float(evals.abs().max())
    exact_w = (evecs.T @ v) ** 2
    assert nodes.numel() < op.dim
    near = (nodes[:, None] - evals[None]).abs()  # (m, n)
    assert float(near.min(1).values.max()) < 1e-6 * scale
    owner = near.argmin(0)  # each eigenvalue -> its node
    got = torch.zeros_like(nodes).index_add_(0, owner, exact_w)
    torch.testing.assert_close(weights, got, rtol=1e-6, atol=1e-9)


def test_slq_density_and_moments_match_exact(problem):
    model, closure, exact = problem
    evals = torch.linalg.eigvalsh(exact)
    op = HessianOperator(closure, list(model.parameters()))
    sd = spectral_density(op, iters=op.dim, probes=1, generator=torch.Generator().manual_seed(0))
    # the probe's exact measure: recompute from the same probe vector
    g = torch.Generator().manual_seed(0)
    v = torch.randn(op.dim, generator=g, dtype=torch.float64)
    v = v / v.norm()
    evals_, evecs = torch.linalg.eigh(exact)
    w = (evecs.T @ v) ** 2
    grid = torch.linspace(float(evals[0]) - 1, float(evals[-1]) + 1, 200, dtype=torch.float64)
    sigma = 0.05
    want = (torch.exp(-0.5 * ((grid[:, None] - evals_) / sigma) ** 2) * w).sum(-1) / (
        sigma * math.sqrt(2 * math.pi)
    )
    torch.testing.assert_close(sd.density(grid, sigma), want, rtol=1e-6, atol=1e-9)


def test_slq_gauss_quadrature_exact_for_low_moments(problem):
    # m-point Gauss quadrature is exact for degree <= 2m - 1: with m = 6 << n = 123,
    # sum_j w_j theta_j^p = v^T H^p v for p <= 11
    _, _, exact = problem
    op = MatrixOperator(exact)
    v = torch.randn(op.dim, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    v = v / v.norm()
    nodes, weights = probe_quadrature(op, v, 6)
    for p in (1, 2, 5, 11):
        want = float(v @ torch.linalg.matrix_power(exact, p) @ v)
        assert float((weights * nodes**p).sum()) == pytest.approx(want, rel=1e-8)
    p = 13  # beyond 2m - 1 the quadrature is no longer exact
    want = float(v @ torch.linalg.matrix_power(exact, p) @ v)
    assert float((weights * nodes**p).sum()) != pytest.approx(want, rel=1e-6)


def test_slq_trace_estimate_near_exact(problem):
    _, _, exact = problem
    sd = spectral_density(
        MatrixOperator(exact), iters=20, probes=30, generator=torch.Generator().manual_seed(1)
    )
    assert sd.weights.sum(-1).sub(1).abs().max() < 1e-10
    # 30 Gaussian probes: the trace estimate's relative sd is about sqrt(2/30) * ||H||_F/tr
    tr, fro = float(exact.trace()), float(exact.norm())
    assert abs(sd.trace() - tr) < 4 * math.sqrt(2 / 30) * fro


def test_bad_input():
    op = MatrixOperator(torch.eye(3, dtype=torch.float64))
    with pytest.raises(ValueError, match="samples: expected >= 2"):
        hutchinson_trace(op, 1)
    with pytest.raises(ValueError, match="confidence: expected a probability"):
        hutchinson_trace(op, 5, confidence=1.5)
    with pytest.raises(ValueError, match="sigma: expected > 0"):
        spectral_density(op, iters=3).density(torch.zeros(2), 0.0)
