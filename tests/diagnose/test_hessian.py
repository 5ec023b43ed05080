"""Curvature against the exact Hessian (torch.autograd.functional.hessian + eigvalsh) in
float64, and the notes' worked examples (F3:386-434)."""

from __future__ import annotations

import pytest
import torch

from trainlab.diagnose import (
    HessianOperator,
    MatrixOperator,
    classify_critical_point,
    critical_point,
    extreme_eigenvalues,
    power_iteration,
    smallest_eigenvalue,
    top_eigenvalues,
)
from trainlab.diagnose.hessian import flatten

from ._tiny import tiny_problem


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.fixture(scope="module")
def problem():
    return tiny_problem()


def test_hvp_matches_exact_hessian(problem):
    model, closure, exact = problem
    op = HessianOperator(closure, list(model.parameters()))
    v = torch.randn(op.dim, generator=gen(1), dtype=torch.float64)
    # double backward and the explicit matrix do the same float64 sums in another order
    torch.testing.assert_close(op.matvec(v), exact @ v, rtol=1e-10, atol=1e-12)
    assert op.hvps == 1


def test_hvp_over_several_batches_is_the_mean():
    model, c1, h1 = tiny_problem(seed=0)
    _, c2, h2 = tiny_problem(seed=1, model=model)  # a second batch for the same weights
    op = HessianOperator([c1, c2], list(model.parameters()))
    v = torch.randn(op.dim, generator=gen(2), dtype=torch.float64)
    assert float((h1 - h2).norm()) > 0.1 * float(h1.norm())  # the batches differ
    torch.testing.assert_close(op.matvec(v), (h1 + h2) / 2 @ v, rtol=1e-10, atol=1e-12)
    lo = smallest_eigenvalue(op, iters=op.dim, tol=1e-12, generator=gen())
    exact = float(torch.linalg.eigvalsh((h1 + h2) / 2)[0])
    assert float(lo.values[0]) == pytest.approx(exact, rel=1e-6)


@pytest.mark.parametrize("k", [1, 3])
def test_lanczos_top_k_matches_eigvalsh(problem, k):
    model, closure, exact = problem
    evals = torch.linalg.eigvalsh(exact)
    op = HessianOperator(closure, list(model.parameters()))
    res = top_eigenvalues(op, k, iters=op.dim, tol=1e-12, generator=gen())
    torch.testing.assert_close(res.values, evals.flip(0)[:k], rtol=1e-6, atol=0)
    # each Ritz vector is an eigenvector: ||H u - lambda u|| small
    for lam, u in zip(res.values, res.vectors, strict=True):
        r = exact @ u - lam * u
        assert float(r.norm()) < 1e-6 * float(evals.abs().max())


def test_lanczos_smallest_and_escape_direction(problem):
    model, closure, exact = problem
    evals = torch.linalg.eigvalsh(exact)
    op = HessianOperator(closure, list(model.parameters()))
    lo = smallest_eigenvalue(op, iters=op.dim, tol=1e-12, generator=gen())
    assert float(lo.values[0]) == pytest.approx(float(evals[0]), rel=1e-6)
    hi, lo2 = extreme_eigenvalues(op, iters=op.dim, tol=1e-12, generator=gen())
    assert float(hi.values[0]) == pytest.approx(float(evals[-1]), rel=1e-6)
    assert float(lo2.values[0]) == pytest.approx(float(evals[0]), rel=1e-6)


def test_lanczos_converges_early_with_fewer_products_than_power(problem):
    model, closure, exact = problem
    top = float(torch.linalg.eigvalsh(exact)[-1])
    op = HessianOperator(closure, list(model.parameters()))
    lz = top_eigenvalues(op, 1, iters=op.dim, tol=1e-6, generator=gen())
    pw = power_iteration(op, iters=5000, tol=1e-10, generator=gen())
    assert float(lz.values[0]) == pytest.approx(top, rel=1e-6)
    assert float(pw.values[0]) == pytest.approx(top, rel=1e-6)
    assert lz.hvps < op.dim  # stopped on its residual, before exhausting the space
    assert lz.hvps < pw.hvps


def test_power_iteration_on_a_known_matrix():
    m = torch.diag(torch.tensor([5.0, -1.0, 0.5, 2.0], dtype=torch.float64))
    res = power_iteration(MatrixOperator(m), iters=2000, tol=1e-14, generator=gen())
    assert float(res.values[0]) == pytest.approx(5.0, rel=1e-9)
    assert float(res.vectors[0].abs()[0]) == pytest.approx(1.0, rel=1e-6)


def test_k_larger_than_parameters_is_one_line_error(problem):
    model, closure, _ = problem
    op = HessianOperator(closure, list(model.parameters()))
    with pytest.raises(ValueError, match=r"k = 1000: larger than the number of parameters \(123\)"):
        top_eigenvalues(op, 1000)


# --- the notes' examples (F3:396-434) --------------------------------------------------


def test_notes_saddle_of_one_minus_w1w2_squared():
    w = torch.zeros(2, dtype=torch.float64, requires_grad=True)

    def loss():
        return (1 - w[0] * w[1]) ** 2

    op = HessianOperator(loss, [w])
    assert float(op.gradient().norm()) == 0.0
    h = torch.stack([op.matvec(e) for e in torch.eye(2, dtype=torch.float64)])
    torch.testing.assert_close(h, torch.tensor([[0.0, -2.0], [-2.0, 0.0]], dtype=torch.float64))
    cp = critical_point(op, generator=gen())
    assert cp.kind == "saddle"
    assert cp.min_eig == pytest.approx(-2.0, rel=1e-12)
    assert cp.max_eig == pytest.approx(2.0, rel=1e-12)
    # the escape direction is (1, 1)/sqrt(2) up to sign; a step along it lowers the loss
    d = cp.escape_direction
    assert d is not None
    torch.testing.assert_close(d.abs(), torch.full((2,), 2**-0.5, dtype=torch.float64))
    alpha = 0.1
    with torch.no_grad():
        w += alpha * d
    # Delta L = 1/2 alpha^2 lambda_min + O(alpha^4): (1 - a^2/2)^2 - 1 = -a^2 + a^4/4
    assert float(loss().detach()) - 1.0 == pytest.approx(-(alpha**2) + alpha**4 / 4, rel=1e-12)


@pytest.mark.parametrize(
    ("f", "kind", "evals"),
    [
        (lambda p: p[0] ** 2 + p[1] ** 2, "minimum", (2.0, 2.0)),
        (lambda p: p[0] ** 2 - p[1] ** 2, "saddle", (-2.0, 2.0)),
        (lambda p: -(p[0] ** 2) - p[1] ** 2, "maximum", (-2.0, -2.0)),
        (lambda p: p[0] ** 2 + p[1] ** 4, "degenerate", (0.0, 2.0)),
    ],
)
def test_notes_quadratics_classified(f, kind, evals):
    p = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    cp = critical_point(HessianOperator(lambda: f(p), [p]), generator=gen())
    assert cp.kind == kind
    assert (cp.min_eig, cp.max_eig) == pytest.approx(evals, abs=1e-12)


def test_classify_not_critical_and_bad_input():
    assert classify_critical_point(1.0, 1.0, 2.0) == "not critical"
    with pytest.raises(ValueError, match="min_eig = 3.0 > max_eig = 1.0"):
        classify_critical_point(0.0, 3.0, 1.0)
    with pytest.raises(ValueError, match="grad_norm: expected a finite number, got nan"):
        classify_critical_point(float("nan"), 0.0, 1.0)


def test_flatten_roundtrip(problem):
    model, _, _ = problem
    params = list(model.parameters())
    assert flatten(params).numel() == 123
