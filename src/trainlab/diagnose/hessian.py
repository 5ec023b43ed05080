"""Curvature of the loss: Hessian-vector products, extreme eigenvalues, critical points.

Notes F3:347-434. Near theta' the loss is L(theta) ~ L(theta') + (theta - theta')^T g +
1/2 (theta - theta')^T H (theta - theta'), H_ij = d^2 L / d theta_i d theta_j. At a
critical point (g = 0) the signs of H's eigenvalues classify it: all > 0 a minimum, all < 0
a maximum, both signs a saddle, a zero eigenvalue degenerate (the Hessian cannot decide).
At a saddle a step along the eigenvector v of the most negative eigenvalue lowers the loss
by 1/2 alpha^2 lambda_min ||v||^2 (the escape direction).

H is never formed. `HessianOperator` computes H v by double backward (Pearlmutter 1994):
H v = d/d theta (g(theta)^T v), one extra backward through the gradient's graph. Over several
batches H is the mean of the batches' Hessians (each batch weighs the same). The eigenvalues:

- `power_iteration`: v <- H v / ||H v||, the textbook method; it finds the eigenvalue of
  largest magnitude and converges like (|lambda_2| / |lambda_1|)^t.
- `lanczos`: the Krylov method with full reorthogonalization (every new vector is
  orthogonalized twice against all previous ones, classical Gram-Schmidt, so the basis stays
  orthonormal in floating point); the Ritz values of the tridiagonal T_m approximate both ends
  of the spectrum at once, with error decaying like a Chebyshev polynomial of the gap, so it
  needs far fewer products than power iteration for the same accuracy (Golub & Van Loan,
  Matrix Computations, 10.1). PyHessian (Yao et al. 2020) computes the same quantities.

Every random start vector comes from a `torch.Generator` the caller passes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import torch
from torch import Tensor


class LinearOperator(Protocol):
    """A symmetric matrix known by its products: `matvec(v)` for flat `v` of length `dim`."""

    dim: int
    dtype: torch.dtype
    device: torch.device

    def matvec(self, v: Tensor) -> Tensor: ...


def flatten(tensors: Sequence[Tensor]) -> Tensor:
    """One flat vector of `tensors` (in order)."""
    return torch.cat([t.reshape(-1) for t in tensors])


def unflatten(vector: Tensor, like: Sequence[Tensor]) -> list[Tensor]:
    """`vector` cut into tensors shaped like `like` (views)."""
    out, i = [], 0
    for t in like:
        out.append(vector[i : i + t.numel()].view_as(t))
        i += t.numel()
    return out


class HessianOperator:
    """H v of the loss that `closures` compute, with respect to `params`.

    `closures`: one function per batch, each returning the scalar loss of its batch with the
    current `params` (forward pass included). With one batch the gradient's graph is built
    once and reused by every product (`retain_graph`); with several, each product recomputes
    each batch's forward (memory of one graph at a time). `hvps` counts the products. The
    operator is H at the parameters it first saw: build a new one after they change.
    Put the model in eval mode first (batch norm's batch statistics would make the loss
    depend on the batch composition, dropout would make it random).
    """

    def __init__(
        self,
        closures: Callable[[], Tensor] | Sequence[Callable[[], Tensor]],
        params: Sequence[Tensor],
    ) -> None:
        self.closures = [closures] if callable(closures) else list(closures)
        self.params = [p for p in params if p.requires_grad]
        if not self.closures:
            raise ValueError("closures: expected at least one loss function, got none")
        if not self.params:
            raise ValueError("params: expected at least one tensor with requires_grad=True")
        self.dim = sum(p.numel() for p in self.params)
        self.dtype, self.device = self.params[0].dtype, self.params[0].device
        self.hvps = 0
        self._graph: list[Tensor] | None = None

    def _grads(self, closure: Callable[[], Tensor]) -> list[Tensor]:
        loss = closure()
        if not isinstance(loss, Tensor) or loss.ndim != 0:
            raise TypeError("closures: each must return a scalar loss tensor")
        return list(
            torch.autograd.grad(
                loss, self.params, create_graph=True, allow_unused=True, materialize_grads=True
            )
        )

    def matvec(self, v: Tensor) -> Tensor:
        """H v for a flat `v` (dim,) -> (dim,)."""
        parts = unflatten(v.to(self.dtype), self.params)
        total: Tensor | None = None
        for closure in self.closures:
            if len(self.closures) == 1:
                if self._graph is None:
                    self._graph = self._grads(closure)
                grads = self._graph
            else:
                grads = self._grads(closure)
            live = [(g, v) for g, v in zip(grads, parts, strict=True) if g.requires_grad]
            if live:  # parameters the loss is linear in (or ignores) have H = 0 rows
                hv = torch.autograd.grad(
                    [g for g, _ in live],
                    self.params,
                    grad_outputs=[v for _, v in live],
                    retain_graph=len(self.closures) == 1,
                    allow_unused=True,
                    materialize_grads=True,
                )
                flat = flatten(hv)
            else:
                flat = torch.zeros_like(v, dtype=self.dtype)
            total = flat if total is None else total + flat
        self.hvps += 1
        assert total is not None
        return total / len(self.closures)

    def gradient(self) -> Tensor:
        """The flat gradient (mean over the batches), no graph kept."""
        total = None
        for closure in self.closures:
            g = flatten(
                torch.autograd.grad(
                    closure(), self.params, allow_unused=True, materialize_grads=True
                )
            )
            total = g if total is None else total + g
        assert total is not None
        return total / len(self.closures)

    def loss(self) -> float:
        """The mean loss over the batches."""
        with torch.no_grad():
            return sum(float(c()) for c in self.closures) / len(self.closures)


class MatrixOperator:
    """An explicit symmetric matrix as a `LinearOperator` (tests, tiny problems)."""

    def __init__(self, matrix: Tensor) -> None:
        if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
            raise ValueError(f"matrix: expected a square 2-D tensor, got {tuple(matrix.shape)}")
        self.matrix = matrix
        self.dim, self.dtype, self.device = matrix.shape[0], matrix.dtype, matrix.device
        self.hvps = 0

    def matvec(self, v: Tensor) -> Tensor:
        self.hvps += 1
        return self.matrix @ v


@dataclass
class Eigen:
    """Eigenvalues (descending for `top`), their unit eigenvectors (one row each, flat),
    the Hessian-vector products spent, and the estimate of the wanted eigenvalue after each
    product (`history`, for convergence plots and the benchmark)."""

    values: Tensor
    vectors: Tensor
    hvps: int
    history: list[float] = field(default_factory=list)


def _start(op: LinearOperator, generator: torch.Generator | None) -> Tensor:
    v = torch.randn(op.dim, generator=generator, dtype=op.dtype, device=op.device)
    return v / torch.linalg.vector_norm(v)


def _check_k(k: int, dim: int) -> None:
    if not isinstance(k, int) or isinstance(k, bool) or k < 1:
        raise ValueError(f"k: expected a positive integer, got {k!r}")
    if k > dim:
        raise ValueError(f"k = {k}: larger than the number of parameters ({dim})")


def power_iteration(
    op: LinearOperator,
    *,
    iters: int = 1000,
    tol: float = 1e-6,
    generator: torch.Generator | None = None,
) -> Eigen:
    """The eigenvalue of largest magnitude by power iteration: v <- H v / ||H v||, estimate
    the Rayleigh quotient v^T H v; stops when it changes by less than `tol` relative."""
    if iters < 1:
        raise ValueError(f"iters: expected >= 1, got {iters}")
    v = _start(op, generator)
    value, history = math.nan, []
    for _ in range(iters):
        hv = op.matvec(v)
        new = float(torch.dot(v, hv))
        history.append(new)
        norm = torch.linalg.vector_norm(hv)
        if float(norm) == 0.0:  # v is in the null space: H v = 0
            value = 0.0
            break
        v = hv / norm
        converged = abs(new - value) <= tol * max(abs(new), 1e-30)
        value = new
        if converged:
            break
    return Eigen(torch.tensor([value]), v[None], len(history), history)


def lanczos(
    op: LinearOperator,
    *,
    iters: int = 100,
    k: int = 1,
    tol: float = 1e-8,
    which: str = "both",
    generator: torch.Generator | None = None,
    start: Tensor | None = None,
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Lanczos with full reorthogonalization: (T's eigenvalues ascending, T's eigenvectors,
    the orthonormal basis V (m, dim), the history of the wanted estimate).

    Stops after `iters` products, when the Krylov space is exhausted (beta = 0, exact), or
    when the residual ||H y - theta y|| = |beta_m s_mi| of each wanted Ritz pair (the `k`
    largest for which='top', the smallest for 'bottom', both for 'both') is <= `tol` times
    the largest |Ritz value| (the eigenvalue error is then about residual^2 / gap);
    `tol = 0` runs the full `iters` (stochastic Lanczos quadrature wants every node).
    """
    n = op.dim
    m_max = min(iters, n)
    q = _start(op, generator) if start is None else start / torch.linalg.vector_norm(start)
    basis = torch.empty(m_max, n, dtype=op.dtype, device=op.device)  # (m, n)
    alphas: list[float] = []
    betas: list[float] = []
    history: list[float] = []
    for j in range(m_max):
        basis[j] = q
        w = op.matvec(q)
        alpha = float(torch.dot(q, w))
        alphas.append(alpha)
        used = basis[: j + 1]
        for _ in range(2):  # full reorthogonalization, twice is enough (Kahan)
            w = w - used.T @ (used @ w)
        beta = float(torch.linalg.vector_norm(w))
        t = _tridiagonal(alphas, betas)
        theta, s = torch.linalg.eigh(t)
        history.append(float(theta[0] if which == "bottom" else theta[-1]))
        wanted = _wanted(len(alphas), k, which)
        resid = abs(beta) * s[-1, wanted].abs()
        scale = theta.abs().max().clamp_min(1e-30)  # relative to the spectral norm
        if beta <= 1e-12 * max(abs(alpha), 1.0) or (tol > 0 and bool((resid <= tol * scale).all())):
            return theta, s, basis[: j + 1], torch.tensor(history, dtype=torch.float64)
        betas.append(beta)
        q = w / beta
    return theta, s, basis, torch.tensor(history, dtype=torch.float64)


def _tridiagonal(alphas: list[float], betas: list[float]) -> Tensor:
    t = torch.diag(torch.tensor(alphas, dtype=torch.float64))
    if betas:
        b = torch.tensor(betas, dtype=torch.float64)
        t += torch.diag(b, 1) + torch.diag(b, -1)
    return t


def _wanted(m: int, k: int, which: str) -> list[int]:
    top = list(range(max(m - k, 0), m))
    if which == "top":
        return top
    if which == "bottom":
        return [0]
    return sorted(set(top) | {0})


def _ritz(theta: Tensor, s: Tensor, basis: Tensor, idx: list[int]) -> tuple[Tensor, Tensor]:
    vecs = s[:, idx].to(basis.dtype).T @ basis  # (len(idx), n): Ritz vectors V^T s
    return theta[idx], vecs / torch.linalg.vector_norm(vecs, dim=1, keepdim=True)


def top_eigenvalues(
    op: LinearOperator,
    k: int = 1,
    *,
    iters: int = 100,
    tol: float = 1e-8,
    generator: torch.Generator | None = None,
) -> Eigen:
    """The `k` largest eigenvalues (descending) and eigenvectors by Lanczos."""
    _check_k(k, op.dim)
    theta, s, basis, hist = lanczos(
        op, iters=max(iters, k), k=k, tol=tol, which="top", generator=generator
    )
    m = theta.numel()
    idx = list(range(m - 1, max(m - k, 0) - 1, -1))
    values, vectors = _ritz(theta, s, basis, idx)
    return Eigen(values, vectors, basis.shape[0], hist.tolist())


def smallest_eigenvalue(
    op: LinearOperator,
    *,
    iters: int = 100,
    tol: float = 1e-8,
    generator: torch.Generator | None = None,
) -> Eigen:
    """The smallest (most negative) eigenvalue and its eigenvector by Lanczos."""
    theta, s, basis, hist = lanczos(op, iters=iters, tol=tol, which="bottom", generator=generator)
    values, vectors = _ritz(theta, s, basis, [0])
    return Eigen(values, vectors, basis.shape[0], hist.tolist())


def extreme_eigenvalues(
    op: LinearOperator,
    *,
    iters: int = 100,
    tol: float = 1e-8,
    generator: torch.Generator | None = None,
) -> tuple[Eigen, Eigen]:
    """(largest, smallest) eigenpairs from one Lanczos run (both ends converge together)."""
    theta, s, basis, hist = lanczos(op, iters=iters, tol=tol, which="both", generator=generator)
    m = theta.numel()
    hi, lo = _ritz(theta, s, basis, [m - 1]), _ritz(theta, s, basis, [0])
    return Eigen(*hi, m, hist.tolist()), Eigen(*lo, m)


KINDS = ("minimum", "maximum", "saddle", "degenerate", "not critical")


def classify_critical_point(
    grad_norm: float,
    min_eig: float,
    max_eig: float,
    *,
    grad_tol: float = 1e-4,
    eig_tol: float = 1e-6,
) -> str:
    """The kind of the point (F3:386-398): 'not critical' when ||g|| > grad_tol; else by
    the signs of the extreme eigenvalues, an eigenvalue within eig_tol * max(|min|, |max|)
    of zero counting as zero: both > 0 'minimum', both < 0 'maximum', min < 0 < max
    'saddle', otherwise (a zero eigenvalue at an end) 'degenerate'."""
    for name, v in (("grad_norm", grad_norm), ("min_eig", min_eig), ("max_eig", max_eig)):
        if not math.isfinite(v):
            raise ValueError(f"{name}: expected a finite number, got {v}")
    if min_eig > max_eig:
        raise ValueError(f"min_eig = {min_eig} > max_eig = {max_eig}")
    if grad_norm > grad_tol:
        return "not critical"
    zero = eig_tol * max(abs(min_eig), abs(max_eig), 1e-30)
    lo = 0 if abs(min_eig) <= zero else (1 if min_eig > 0 else -1)
    hi = 0 if abs(max_eig) <= zero else (1 if max_eig > 0 else -1)
    if lo < 0 < hi:
        return "saddle"
    if lo > 0:
        return "minimum"
    if hi < 0:
        return "maximum"
    return "degenerate"


@dataclass
class CriticalPoint:
    """What `critical_point` found: the kind, the evidence, and the escape direction (the
    unit eigenvector of the most negative eigenvalue, flat; None when min_eig >= 0)."""

    kind: str
    loss: float
    grad_norm: float
    min_eig: float
    max_eig: float
    escape_direction: Tensor | None
    hvps: int


def critical_point(
    op: HessianOperator,
    *,
    iters: int = 100,
    grad_tol: float = 1e-4,
    eig_tol: float = 1e-6,
    generator: torch.Generator | None = None,
) -> CriticalPoint:
    """Gradient norm and extreme eigenvalues at the current parameters, classified."""
    g = float(torch.linalg.vector_norm(op.gradient()))
    hi, lo = extreme_eigenvalues(op, iters=iters, generator=generator)
    mn, mx = float(lo.values[0]), float(hi.values[0])
    kind = classify_critical_point(g, mn, mx, grad_tol=grad_tol, eig_tol=eig_tol)
    escape = lo.vectors[0] if mn < 0 else None
    return CriticalPoint(kind, op.loss(), g, mn, mx, escape, op.hvps)
