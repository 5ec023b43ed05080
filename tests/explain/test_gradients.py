"""Saliency, SmoothGrad and integrated gradients against their closed forms."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from trainlab.explain import integrated_gradients, quadrature, saliency, smoothgrad


def _linear(f: int = 6, k: int = 3) -> nn.Linear:
    torch.manual_seed(0)
    return nn.Linear(f, k).double()


def test_saliency_and_ig_of_a_linear_model_are_closed_forms() -> None:
    lin = _linear()
    x = torch.randn(5, 6, dtype=torch.float64)
    t = torch.tensor([0, 1, 2, 1, 0])
    w = lin.weight.detach()
    torch.testing.assert_close(saliency(lin, x, t), w[t].abs(), rtol=0, atol=0)
    for rule in ("gausslegendre", "riemann_left", "riemann_trapezoid"):
        ig = integrated_gradients(lin, x, t, steps=7, rule=rule)
        # constant gradient: IG = (x - 0) * w_t for any rule whose weights sum to 1
        torch.testing.assert_close(ig.attributions, x * w[t], rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(
            ig.delta, torch.zeros(5, dtype=torch.float64), atol=1e-12, rtol=0
        )
    base = torch.randn(6, dtype=torch.float64)
    ig = integrated_gradients(lin, x, t, baseline=base, steps=3)
    torch.testing.assert_close(ig.attributions, (x - base) * w[t], rtol=1e-12, atol=1e-12)


def test_saliency_of_images_is_the_max_over_channels() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(2 * 3 * 3, 4)).double()
    x = torch.randn(2, 2, 3, 3, dtype=torch.float64)
    w = model[1].weight.detach().view(4, 2, 3, 3)
    torch.testing.assert_close(saliency(model, x, 1), w[1].abs().amax(0).expand(2, 3, 3))


@pytest.mark.parametrize("n", [1, 3, 8])
def test_gauss_legendre_is_exact_up_to_degree_2n_minus_1(n: int) -> None:
    a, w = quadrature(n)
    for k in range(2 * n):
        assert float((w * a**k).sum()) == pytest.approx(1 / (k + 1), rel=1e-12)
    # ... and not beyond: degree 2n leaves an error far above rounding
    assert abs(float((w * a ** (2 * n)).sum()) - 1 / (2 * n + 1)) > 1e-10


def test_riemann_rules_converge_at_their_orders() -> None:
    f = torch.exp  # int_0^1 e^a da = e - 1
    exact = torch.e - 1
    for rule, order in [("riemann_left", 1), ("riemann_middle", 2), ("riemann_trapezoid", 2)]:
        errs = []
        for n in (16, 32):
            a, w = quadrature(n, rule)
            errs.append(abs(float((w * f(a)).sum()) - exact))
        assert errs[0] / errs[1] == pytest.approx(2**order, rel=0.1), rule


def test_completeness_on_a_nonlinear_model_improves_with_steps() -> None:
    torch.manual_seed(1)
    model = nn.Sequential(nn.Linear(5, 16), nn.Tanh(), nn.Linear(16, 3)).double()
    x = 2 * torch.randn(4, 5, dtype=torch.float64)
    errs = [float(integrated_gradients(model, x, 2, steps=s).delta.abs().max()) for s in (2, 8)]
    assert errs[1] < errs[0] / 100  # Gauss-Legendre: fast convergence on a smooth path
    assert errs[1] < 1e-6 * float(integrated_gradients(model, x, 2).difference.abs().max())


def test_smoothgrad_is_seeded_and_averages_saliency() -> None:
    lin = _linear()
    x = torch.randn(3, 6, dtype=torch.float64)
    a = smoothgrad(lin, x, 1, samples=10, generator=torch.Generator().manual_seed(3))
    b = smoothgrad(lin, x, 1, samples=10, generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    # a linear model's gradient does not depend on the noise: SmoothGrad = saliency
    torch.testing.assert_close(a, saliency(lin, x, 1), rtol=1e-12, atol=1e-12)
    model = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 2)).double()
    c = smoothgrad(model, x, 1, samples=7, generator=torch.Generator().manual_seed(3))
    d = smoothgrad(model, x, 1, samples=7, generator=torch.Generator().manual_seed(4))
    assert not torch.equal(c, d)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda m, x: integrated_gradients(m, x, steps=0), "steps must be an integer >= 1"),
        (lambda m, x: integrated_gradients(m, x, rule="simpson"), "rule 'simpson'"),
        (lambda m, x: smoothgrad(m, x, noise=0.0), "noise must be > 0"),
        (lambda m, x: smoothgrad(m, x, samples=0), "samples must be"),
        (lambda m, x: saliency(m, x, 7), "classes must be in 0..2"),
        (lambda m, x: saliency(m, x, torch.tensor([0, 1])), "one class per sample"),
    ],
)
def test_bad_arguments_name_themselves(call, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        call(_linear(), torch.randn(3, 6, dtype=torch.float64))
