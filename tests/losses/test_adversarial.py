"""GAN losses (F3:1094-1140; F4:1663-1780)."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch.autograd import gradcheck

from trainlab.losses import (
    GANDiscriminatorLoss,
    GANGeneratorLoss,
    discriminator_loss,
    gan_value,
    generator_loss_minimax,
    generator_loss_nonsaturating,
    hinge_discriminator_loss,
    hinge_generator_loss,
    paired_generator_loss,
)

RED = ["mean", "sum", "none"]


def test_value_at_optimum_is_minus_two_ln_two():
    # F4:1766-1773: D* = 1/2 everywhere gives V = log(1/2) + log(1/2) = -2 ln 2 ~ -1.386
    zeros = torch.zeros(7, dtype=torch.float64)  # logit 0 <=> D = 1/2
    assert gan_value(zeros, torch.zeros(5, dtype=torch.float64)).item() == pytest.approx(
        -2 * math.log(2)
    )
    half = torch.full((3,), 0.5, dtype=torch.float64)
    assert gan_value(half, half, logits=False).item() == pytest.approx(-1.386, abs=1e-3)
    assert discriminator_loss(zeros, zeros).item() == pytest.approx(2 * math.log(2))


def _pair(gen):
    real = (torch.randn(6, generator=gen) * 2).requires_grad_()
    fake = (torch.randn(4, generator=gen) * 2).requires_grad_()
    return real, fake


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_discriminator_loss_is_bce_with_logits(compare, gen, reduction):
    # F3:1110: training D minimizes a standard binary cross-entropy (reals 1, fakes 0)
    real, fake = _pair(gen)

    def ref(r, f):
        return F.binary_cross_entropy_with_logits(
            r, torch.ones_like(r), reduction=reduction
        ) + F.binary_cross_entropy_with_logits(f, torch.zeros_like(f), reduction=reduction)

    compare(lambda r, f: discriminator_loss(r, f, reduction=reduction), ref, [real, fake])


def test_discriminator_loss_none_is_pair(gen):
    real, fake = _pair(gen)
    r, f = discriminator_loss(real, fake, reduction="none")
    torch.testing.assert_close(
        r, F.binary_cross_entropy_with_logits(real, torch.ones(6), reduction="none")
    )
    torch.testing.assert_close(
        f, F.binary_cross_entropy_with_logits(fake, torch.zeros(4), reduction="none")
    )


@pytest.mark.parametrize("reduction", RED)
def test_nonsaturating_generator_is_bce_with_logits_to_ones(compare, gen, reduction):
    _, fake = _pair(gen)
    compare(lambda f: generator_loss_nonsaturating(f, reduction=reduction),
            lambda f: F.binary_cross_entropy_with_logits(f, torch.ones_like(f), reduction=reduction),
            [fake])  # fmt: skip


@pytest.mark.parametrize("reduction", RED)
def test_gradcheck_losses_without_torch_twin(gen, reduction):
    real = torch.tensor([1.5, -0.4, 0.3], dtype=torch.float64, requires_grad=True)
    fake = torch.tensor([-2.0, 0.7], dtype=torch.float64, requires_grad=True)

    def flat(out):
        return torch.cat(out) if isinstance(out, tuple) else out

    assert gradcheck(lambda f: generator_loss_minimax(f, reduction=reduction), (fake,))
    assert gradcheck(lambda f: hinge_generator_loss(f, reduction=reduction), (fake,))
    assert gradcheck(
        lambda r, f: flat(hinge_discriminator_loss(r, f, reduction=reduction)), (real, fake)
    )
    assert gradcheck(lambda r, f: flat(gan_value(r, f, reduction=reduction)), (real, fake))
    probs = torch.tensor([0.2, 0.6, 0.9], dtype=torch.float64, requires_grad=True)
    assert gradcheck(lambda p: flat(gan_value(p, p, logits=False, reduction=reduction)), (probs,))


def test_saturation_versus_nonsaturating_gradient():
    # F4:1705-1719: when D(G(z)) ~ 0 the minimax generator gradient vanishes; the NS one does not
    fake = torch.tensor([-8.0], requires_grad=True)  # D(G(z)) = sigmoid(-8) ~ 3e-4
    (g_mm,) = torch.autograd.grad(generator_loss_minimax(fake), fake)
    (g_ns,) = torch.autograd.grad(generator_loss_nonsaturating(fake), fake)
    assert abs(g_mm.item()) < 1e-3 < abs(g_ns.item())
    # both push D(G(z)) up: d/dlogit is negative
    assert g_mm.item() < 0 and g_ns.item() < 0


def test_hinge_values():
    # F4:1735-1741
    real = torch.tensor([2.0, 0.5])
    fake = torch.tensor([-3.0, 0.0])
    assert hinge_discriminator_loss(real, fake).item() == pytest.approx((0 + 0.5) / 2 + (0 + 1) / 2)
    assert hinge_generator_loss(fake).item() == pytest.approx(1.5)


def test_modules(gen):
    real, fake = _pair(gen)
    torch.testing.assert_close(GANDiscriminatorLoss()(real, fake), discriminator_loss(real, fake))
    torch.testing.assert_close(
        GANDiscriminatorLoss("hinge")(real, fake), hinge_discriminator_loss(real, fake)
    )
    torch.testing.assert_close(GANGeneratorLoss()(fake), generator_loss_nonsaturating(fake))
    torch.testing.assert_close(GANGeneratorLoss("minimax")(fake), generator_loss_minimax(fake))
    torch.testing.assert_close(GANGeneratorLoss("hinge")(fake), hinge_generator_loss(fake))
    with pytest.raises(ValueError, match="kind='wgan'"):
        GANGeneratorLoss("wgan")
    with pytest.raises(ValueError, match="logits=False"):
        GANDiscriminatorLoss("hinge", logits=False)


def test_paired_generator_loss_is_gan_plus_weighted_l1(gen):
    # F3:1404: L_total(G) = L_GAN(G) + lambda L_L1(G), L_GAN = -E log D(x, G(x))
    d = torch.randn(4, 1, generator=gen, dtype=torch.float64, requires_grad=True)
    fake = torch.randn(4, 3, 8, generator=gen, dtype=torch.float64, requires_grad=True)
    real = torch.randn(4, 3, 8, generator=gen, dtype=torch.float64)
    expected = F.binary_cross_entropy_with_logits(d, torch.ones_like(d)) + 100 * F.l1_loss(
        fake, real
    )
    torch.testing.assert_close(paired_generator_loss(d, fake, real), expected)
    assert gradcheck(lambda a, b: paired_generator_loss(a, b, real, l1_weight=3.0), (d, fake))
    with pytest.raises(ValueError, match=r"\(4, 3, 8\).*\(4, 8\)"):
        paired_generator_loss(d, fake, real[:, 0])
