"""Loss surfaces and sharpness on quadratics whose answers are known in closed form."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from trainlab.diagnose.landscape import (
    eps_sharpness,
    filter_normalized_direction,
    flat_vs_sharp,
    loss_surface_1d,
    loss_surface_2d,
    sharpness,
)


class Quadratic(nn.Module):
    """L(w) = 1/2 (w - c)^T A (w - c) with w a (3, 4) weight and a bias of 3 (unused)."""

    def __init__(self, a: torch.Tensor, c: torch.Tensor) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(3, 4, generator=torch.Generator().manual_seed(0),
                                               dtype=torch.float64))  # fmt: skip
        self.bias = nn.Parameter(torch.ones(3, dtype=torch.float64))
        self.a, self.c = a, c

    def loss(self) -> torch.Tensor:
        r = self.weight.reshape(-1) - self.c
        return 0.5 * r @ self.a @ r


def quad() -> Quadratic:
    g = torch.Generator().manual_seed(1)
    q = torch.linalg.qr(torch.randn(12, 12, generator=g, dtype=torch.float64)).Q
    evals = torch.linspace(0.5, 4.0, 12, dtype=torch.float64)
    a = q @ torch.diag(evals) @ q.T
    return Quadratic(a, torch.zeros(12, dtype=torch.float64))


def loss_of(m: nn.Module) -> torch.Tensor:
    return m.loss()


def test_filter_normalized_direction_has_each_filters_norm():
    m = quad()
    d = filter_normalized_direction(m, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(d[0].norm(dim=1), m.weight.detach().norm(dim=1))
    assert torch.equal(d[1], torch.zeros(3, dtype=torch.float64))  # 1-D: ignored (Li et al.)
    d2 = filter_normalized_direction(m, generator=torch.Generator().manual_seed(1))
    assert not torch.allclose(d[0], d2[0])  # random: another seed, another direction


def test_surface_1d_is_the_parabola_and_weights_restored():
    m = quad()
    w0 = m.weight.detach().clone()
    d = filter_normalized_direction(m, generator=torch.Generator().manual_seed(0))
    alphas = torch.linspace(-1, 1, 11, dtype=torch.float64)
    got = loss_surface_1d(m, loss_of, d, alphas)
    w, v = w0.reshape(-1), d[0].reshape(-1)
    # L(w + a v) = L(w) + a v^T A w + a^2/2 v^T A v
    want = 0.5 * w @ m.a @ w + alphas * (v @ m.a @ w) + 0.5 * alphas**2 * (v @ m.a @ v)
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)
    assert torch.equal(m.weight.detach(), w0)


def test_surface_2d_center_and_cross_term():
    m = quad()
    d1 = filter_normalized_direction(m, generator=torch.Generator().manual_seed(0))
    d2 = filter_normalized_direction(m, generator=torch.Generator().manual_seed(1))
    ab = torch.tensor([-0.5, 0.0, 0.5], dtype=torch.float64)
    grid = loss_surface_2d(m, loss_of, (d1, d2), ab, ab)
    assert grid.shape == (3, 3)
    assert float(grid[1, 1]) == pytest.approx(float(m.loss().detach()), rel=1e-12)
    u, v = d1[0].reshape(-1), d2[0].reshape(-1)
    # the mixed second difference is a*b * u^T A v, exactly, for a quadratic
    mixed = (grid[2, 2] - grid[2, 0] - grid[0, 2] + grid[0, 0]) / (4 * 0.25)
    assert float(mixed) == pytest.approx(float(u @ m.a @ v), rel=1e-10)


def test_direction_shape_checked():
    m = quad()
    with pytest.raises(ValueError, match="direction: expected one tensor per trainable"):
        loss_surface_1d(m, loss_of, [torch.zeros(2)], torch.zeros(1))


def test_eps_sharpness_at_the_minimum_is_half_lambda_max_r_squared():
    m = quad()
    with torch.no_grad():
        m.weight.copy_(m.weight * 1e-4)  # near the minimum at 0 (a nonzero gradient start)
    eps = 0.5
    r = eps * float(torch.cat([p.detach().reshape(-1) for p in m.parameters()]).norm())
    got = eps_sharpness(m, loss_of, eps, steps=200)
    # the maximum of 1/2 d^T A d on ||d|| <= r is 1/2 lambda_max r^2 (ascent from w ~ 0 is
    # power iteration on A: lambda 4.0 vs 3.68, so 200 steps reach it to < 1%)
    assert got == pytest.approx(0.5 * 4.0 * r**2, rel=1e-2)


def test_sharpness_top_eigenvalue():
    m = quad()
    s = sharpness(m, loss_of, generator=torch.Generator().manual_seed(0))
    # Lanczos stops at residual 1e-3 * lambda: error ~ residual^2 / gap = 16e-6 / 0.32
    assert s.top_eigenvalue == pytest.approx(4.0, rel=1e-4)
    assert s.eps_increase > 0


def test_flat_vs_sharp_runs_both_batch_sizes():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(256, 8, generator=g)
    y = (x[:, 0] + x[:, 1] > 0).long()
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 2))
    rows = flat_vs_sharp(
        model, (x[:192], y[:192]), (x[192:], y[192:]), batch_sizes=(8, 192), epochs=3,
        optim__lr=1e-2, sched__name="constant", sched__warmup_epochs=0, log__every_steps=0,
    )  # fmt: skip
    assert [r["batch_size"] for r in rows] == [8, 192]
    # 24 updates per epoch vs 1: the small batch has trained far more (a linear rule)
    assert rows[0]["test_acc"] > 0.85
    assert all(r["top_eigenvalue"] > 0 for r in rows)
    assert [r["epochs"] for r in rows] == [3, 3]
    assert rows[0]["train_loss"] < rows[1]["train_loss"]  # 72 updates against 3
    # equal_steps: the large batch gets the small one's 72 updates, 72 epochs of one
    same = flat_vs_sharp(
        model, (x[:192], y[:192]), (x[192:], y[192:]), batch_sizes=(8, 192), epochs=3,
        equal_steps=True, optim__lr=1e-2, sched__name="constant", sched__warmup_epochs=0,
        log__every_steps=0,
    )  # fmt: skip
    assert [r["epochs"] for r in same] == [3, 72]
    assert same[0] == rows[0]  # the small batch's run is the same seeded run
    assert same[1]["train_loss"] < rows[1]["train_loss"]
