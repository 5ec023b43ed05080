"""GAN networks adapt to the data's shape; spectral norm and the gradient penalties are exact."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from trainlab.generative import (
    DCGANDiscriminator,
    DCGANGenerator,
    MLPDiscriminator,
    MLPGenerator,
    doublings,
    gradient_penalty,
    r1_penalty,
)


@pytest.mark.parametrize(("size", "k"), [(8, 1), (16, 2), (28, 2), (32, 3), (64, 4)])
@pytest.mark.parametrize("channels", [1, 3])
def test_dcgan_pair_adapts_to_8x8_up_to_64x64(size: int, k: int, channels: int) -> None:
    assert doublings(size) == k
    shape = (channels, size, size)
    g, d = DCGANGenerator(shape, z_dim=8, width=8), DCGANDiscriminator(shape, width=8)
    x = g(torch.randn(3, 8))
    assert x.shape == (3, *shape)
    assert d(x).shape == (3,)


def test_conditional_pair_reads_the_labels() -> None:
    shape = (1, 8, 8)
    g = DCGANGenerator(shape, z_dim=4, width=8, num_classes=10).eval()
    d = DCGANDiscriminator(shape, width=8, num_classes=10).eval()
    z = torch.randn(2, 4)
    a, b = g(z, torch.tensor([0, 0])), g(z, torch.tensor([1, 1]))
    assert not torch.allclose(a, b)  # the class changes the sample for the same z
    assert not torch.allclose(d(a, torch.tensor([0, 0])), d(a, torch.tensor([3, 3])))
    with pytest.raises(ValueError, match="class-conditional"):
        g(z)


def test_bounded_output_stays_in_the_data_range() -> None:
    g = MLPGenerator((2,), z_dim=4, width=16, out_range=(-1.5, 2.0))
    out = g(100 * torch.randn(500, 4))
    assert out.min() >= -1.5 and out.max() <= 2.0 and out.shape == (500, 2)


@pytest.mark.parametrize("shape", [(1, 8, 6), (64,), (1, 5, 5)])
def test_dcgan_rejects_shapes_it_cannot_make(shape: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match="expected"):
        DCGANGenerator(shape)


def test_spectral_norm_makes_each_layer_1_lipschitz() -> None:
    torch.manual_seed(0)
    for d in (
        DCGANDiscriminator((1, 16, 16), width=8, spectral_norm=True),
        MLPDiscriminator((2,), 32, spectral_norm=True),
    ):
        for _ in range(30):  # power iterations run in training-mode forwards
            d(torch.randn(4, *((1, 16, 16) if isinstance(d, DCGANDiscriminator) else (2,))))
        layers = [m for m in d.modules() if isinstance(m, nn.Conv2d | nn.Linear)]
        assert layers and not any(isinstance(m, nn.BatchNorm2d) for m in d.modules())
        for m in layers:
            sigma = torch.linalg.matrix_norm(m.weight.detach().flatten(1), 2)
            assert sigma == pytest.approx(1.0, abs=2e-2)


def test_penalties_match_the_gradient_of_a_linear_discriminator() -> None:
    # D(x) = w . x has grad w everywhere: R1 = gamma/2 |w|^2, WGAN-GP = lambda (|w| - 1)^2
    w = torch.tensor([3.0, -4.0])  # |w| = 5
    disc = lambda v: v @ w  # noqa: E731
    real, fake = torch.randn(16, 2), torch.randn(16, 2)
    assert r1_penalty(disc, real, 10.0).item() == pytest.approx(5 * 25, rel=1e-6)
    gp = gradient_penalty(disc, real, fake, 10.0, generator=torch.Generator().manual_seed(0))
    assert gp.item() == pytest.approx(10 * 16, rel=1e-6)


def test_penalties_are_differentiable_in_the_discriminator() -> None:
    d = MLPDiscriminator((2,), 16, 2)
    pen = r1_penalty(lambda v: d(v), torch.randn(8, 2))
    pen.backward()
    assert all(
        p.grad is not None and torch.isfinite(p.grad).all() for p in d.parameters() if p.ndim == 2
    )
