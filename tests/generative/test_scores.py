"""Inception Score, Fréchet distance and mode coverage against the notes' examples (F3:1301-1323)
and straightforward references (scipy's sqrtm for FID; explicit KL for IS)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import linalg

from trainlab.generative import (
    GANMetrics,
    eight_gaussians,
    feature_statistics,
    frechet_distance,
    inception_score,
    mode_coverage,
    ring_centers,
)
from trainlab.generative.gan import d_loss, g_loss


@pytest.mark.parametrize("k", [2, 5, 10])
def test_is_of_one_hot_conditionals_with_uniform_marginal_is_k(k: int) -> None:
    # the notes: sharp p(c|x) and a uniform p(c) maximize the KL: IS = K
    probs = torch.eye(k).repeat(7, 1)  # 7 samples per class
    mean, std = inception_score(probs)
    assert mean == pytest.approx(k, rel=1e-12) and std == 0.0


def test_is_of_collapsed_generator_is_one() -> None:
    # mode collapse: every conditional equals the marginal, KL = 0, IS = exp(0) = 1
    p = torch.softmax(torch.randn(10, generator=torch.Generator().manual_seed(0)), 0)
    assert inception_score(p.repeat(50, 1))[0] == pytest.approx(1.0, abs=1e-12)
    assert inception_score(torch.eye(10)[[3] * 40])[0] == pytest.approx(1.0, abs=1e-12)


def test_is_matches_explicit_kl_and_splits() -> None:
    g = torch.Generator().manual_seed(1)
    p = torch.softmax(3 * torch.randn(120, 6, generator=g, dtype=torch.float64), 1)

    def ref(q: torch.Tensor) -> float:
        marg = q.mean(0)
        return math.exp(float((q * (q.log() - marg.log())).sum(1).mean()))

    assert inception_score(p)[0] == pytest.approx(ref(p), rel=1e-12)
    chunks = [ref(c) for c in torch.tensor_split(p, 4)]
    mean, std = inception_score(p, splits=4)
    assert mean == pytest.approx(np.mean(chunks), rel=1e-12)
    assert std == pytest.approx(np.std(chunks), rel=1e-10)


def test_is_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="probs"):
        inception_score(torch.ones(4, 3))  # rows sum to 3
    with pytest.raises(ValueError, match="splits"):
        inception_score(torch.eye(3), splits=4)


def test_frechet_distance_matches_scipy_reference() -> None:
    g = torch.Generator().manual_seed(2)
    a = torch.randn(300, 5, generator=g, dtype=torch.float64)
    b = (
        torch.randn(300, 5, generator=g, dtype=torch.float64)
        @ torch.randn(5, 5, generator=g, dtype=torch.float64)
        + 0.5
    )
    (m1, s1), (m2, s2) = feature_statistics(a), feature_statistics(b)
    np.testing.assert_allclose(s1.numpy(), np.cov(a.numpy(), rowvar=False), rtol=1e-12)
    covmean = linalg.sqrtm(s1.numpy() @ s2.numpy()).real
    ref = float(((m1 - m2) ** 2).sum() + np.trace(s1.numpy() + s2.numpy() - 2 * covmean))
    assert frechet_distance(m1, s1, m2, s2) == pytest.approx(ref, rel=1e-9)
    assert frechet_distance(m1, s1, m1, s1) == pytest.approx(0.0, abs=1e-9)


def test_frechet_distance_of_gaussians_closed_form() -> None:
    # 1-D: (mu1 - mu2)^2 + (sigma1 - sigma2)^2
    d = frechet_distance(
        torch.tensor([1.0]), torch.tensor([[4.0]]), torch.tensor([3.0]), torch.tensor([[1.0]])
    )
    assert d == pytest.approx(4.0 + 1.0, rel=1e-12)


def test_running_metrics_equal_the_functions_on_the_concatenated_batches() -> None:
    g = torch.Generator().manual_seed(3)
    real, fake = torch.randn(90, 4, generator=g), torch.randn(90, 4, generator=g) * 2
    probs = torch.softmax(torch.randn(90, 3, generator=g), 1)
    m = GANMetrics(num_classes=3)
    for i in range(0, 90, 32):  # uneven batches
        m.add_samples(real[i : i + 32], fake[i : i + 32], probs[i : i + 32])
    out = m.compute()
    ref = frechet_distance(*feature_statistics(real), *feature_statistics(fake))
    assert out["fid"] == pytest.approx(ref, rel=1e-9)
    assert out["inception_score"] == pytest.approx(inception_score(probs)[0], rel=1e-12)
    restored = GANMetrics(num_classes=3)
    restored.load_state_dict(m.state_dict())
    assert restored.compute() == out


def test_mode_coverage_counts_modes_and_high_quality_share() -> None:
    g = torch.Generator().manual_seed(4)
    x, k = eight_gaussians(800, generator=g, std=0.02)
    full = mode_coverage(x, ring_centers(), threshold=0.06)
    assert full.modes_covered == 8 and full.high_quality > 0.98  # 3 sigma holds 98.9% in 2-D
    half = x[k < 4]
    cov = mode_coverage(torch.cat([half, torch.zeros(100, 2)]), ring_centers(), threshold=0.06)
    assert cov.modes_covered == 4 and cov.coverage == 0.5
    assert cov.high_quality == pytest.approx(len(half) / (len(half) + 100), abs=0.01)


def test_minimax_value_at_half_and_nonsaturating_gradient_through_the_task_losses() -> None:
    # notes F4:1766-1773: D* = 1/2 everywhere gives V = -2 ln 2, i.e. the D loss 2 ln 2
    zeros = torch.zeros(16)
    assert d_loss("minimax", zeros, zeros).item() == pytest.approx(2 * math.log(2), rel=1e-6)
    # D(G(z)) ~ sigmoid(-6) = 0.0025: the minimax generator's gradient vanishes, the
    # non-saturating one's does not (F4:1717; F3:1128): |d/dl log(1-s(l))| = s(l) vs 1 - s(l)
    grads = {}
    for kind in ("minimax", "non_saturating"):
        logit = torch.full((1,), -6.0, requires_grad=True)
        (grads[kind],) = torch.autograd.grad(g_loss(kind, logit), logit)
    s = 1 / (1 + math.exp(6))
    assert abs(grads["minimax"].item()) == pytest.approx(s, rel=1e-5)
    assert abs(grads["non_saturating"].item()) == pytest.approx(1 - s, rel=1e-5)
    assert abs(grads["non_saturating"].item()) > 100 * abs(grads["minimax"].item())
