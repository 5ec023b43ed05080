"""NT-Xent equals the notes' formula written literally (F3:2595-2610) and a third, standard
implementation (cross-entropy over the masked 2N x 2N matrix); it is symmetric in the views."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from trainlab.selfsup import NTXentLoss, nt_xent, nt_xent_reference


def _cross_entropy_form(z1: torch.Tensor, z2: torch.Tensor, t: float) -> torch.Tensor:
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    n = z1.shape[0]
    sim = (z @ z.T / t).fill_diagonal_(float("-inf"))
    target = torch.cat([torch.arange(n, 2 * n), torch.arange(n)])
    return F.cross_entropy(sim, target)


@pytest.mark.parametrize("n", [1, 2, 7, 64])
@pytest.mark.parametrize("t", [0.07, 0.5, 2.0])
def test_nt_xent_equals_the_reference_to_1e6(n: int, t: float) -> None:
    g = torch.Generator().manual_seed(n)
    z1, z2 = torch.randn(n, 16, generator=g), torch.randn(n, 16, generator=g)
    a, b = z1.double(), z2.double()
    ref = nt_xent_reference(a, b, t).item()
    assert abs(nt_xent(a, b, t).item() - ref) < 1e-6
    assert abs(_cross_entropy_form(a, b, t).item() - ref) < 1e-6
    # float32: the loss (up to ~11 here) to a relative 1e-6 (a few float32 ulps)
    assert nt_xent(z1, z2, t).item() == pytest.approx(ref, rel=1e-6)


def test_nt_xent_is_invariant_to_swapping_the_views_and_gradients_agree() -> None:
    g = torch.Generator().manual_seed(0)
    z1 = torch.randn(32, 8, generator=g, dtype=torch.float64, requires_grad=True)
    z2 = torch.randn(32, 8, generator=g, dtype=torch.float64, requires_grad=True)
    a, b = nt_xent(z1, z2, 0.3), nt_xent(z2, z1, 0.3)
    assert abs(a.item() - b.item()) < 1e-12
    ga = torch.autograd.grad(a, (z1, z2))
    gr = torch.autograd.grad(nt_xent_reference(z1, z2, 0.3), (z1, z2))
    for x, y in zip(ga, gr, strict=True):
        torch.testing.assert_close(x.double(), y, atol=1e-6, rtol=1e-5)


def test_nt_xent_worked_values() -> None:
    # identical views, orthogonal images: each anchor's positive has s = 1, the 2N - 2
    # negatives s = 0: l = -log(e^(1/t) / (e^(1/t) + 2N - 2))
    n, t = 4, 0.5
    z = torch.eye(n)
    expected = -math.log(math.exp(1 / t) / (math.exp(1 / t) + 2 * n - 2))
    assert nt_xent(z, z, t).item() == pytest.approx(expected, rel=1e-6)
    assert NTXentLoss(t)(z, z).item() == pytest.approx(expected, rel=1e-6)


def test_nt_xent_rejects_bad_input() -> None:
    z = torch.randn(4, 3)
    with pytest.raises(ValueError, match="temperature"):
        nt_xent(z, z, 0.0)
    with pytest.raises(ValueError, match="temperature"):
        NTXentLoss(-1.0)
    with pytest.raises(ValueError, match="z1, z2"):
        nt_xent(z, torch.randn(5, 3))
