"""Adversarial (GAN) losses: minimax, non-saturating and hinge (F3:1094-1140; F4:1663-1780).

The discriminator outputs a logit l with D = sigmoid(l) (pass ``logits=False`` to give
probabilities D instead; their logs are clamped at -100 as torch's BCE does). The value
function of the minimax game (Goodfellow et al. 2014; F4:1688) is

    V(D, G) = E_x[log D(x)] + E_z[log(1 - D(G(z)))]

computed as ``-softplus(-l_real) - softplus(l_fake)`` so it stays finite for any logit.
At the optimum D* = 1/2 everywhere and V = -2 ln 2 (F4:1766-1773).

    discriminator_loss           -V   (binary cross-entropy: reals 1, fakes 0; F4:1711)
    generator_loss_minimax       E_z[log(1 - D(G(z)))]   (saturates when D(G(z)) ~ 0)
    generator_loss_nonsaturating -E_z[log D(G(z))]       (F4:1717; F3:1128)
    hinge_discriminator_loss     E[max(0, 1 - D(x))] + E[max(0, 1 + D(G(z)))]   (F4:1735)
    hinge_generator_loss         -E[D(G(z))]                                     (F4:1741)

(the hinge losses read D as a raw score, as in BigGAN/StyleGAN). For image-to-image
translation (pix2pix, F3:1391-1405) the generator adds a pixel term,

    paired_generator_loss = L_GAN(G) + lambda E[|y - G(x)|_1]   (L_GAN non-saturating, on D(x, G(x)))
 Two-batch losses reduce
each batch separately: 'mean' is mean(real terms) + mean(fake terms) (the batches may
differ in size), 'sum' is the sum of both, and 'none' returns the pair of term tensors.
``discriminator_loss`` equals ``BCEWithLogits(l_real, 1) + BCEWithLogits(l_fake, 0)`` and
the non-saturating generator loss equals ``BCEWithLogits(l_fake, 1)``.
"""

from __future__ import annotations

from typing import Literal

import torch.nn.functional as F
from torch import Tensor

from trainlab._validate import check_positive
from trainlab.losses._common import (
    LossModule,
    Reduction,
    check_reduction,
    check_same_shape,
    reduce,
    upcast,
)

__all__ = [
    "GANDiscriminatorLoss",
    "GANGeneratorLoss",
    "discriminator_loss",
    "gan_value",
    "generator_loss_minimax",
    "generator_loss_nonsaturating",
    "hinge_discriminator_loss",
    "hinge_generator_loss",
    "paired_generator_loss",
]


def _log_d(out: Tensor, logits: bool) -> Tensor:
    """log D elementwise."""
    out = upcast(out)
    return -F.softplus(-out) if logits else out.log().clamp_min(-100)


def _log_one_minus_d(out: Tensor, logits: bool) -> Tensor:
    """log(1 - D) elementwise."""
    out = upcast(out)
    return -F.softplus(out) if logits else (-out).log1p().clamp_min(-100)


def _pair(real: Tensor, fake: Tensor, reduction: str) -> Tensor | tuple[Tensor, Tensor]:
    if reduction == "none":
        return real, fake
    return reduce(real, reduction) + reduce(fake, reduction)


def gan_value(
    d_real: Tensor, d_fake: Tensor, *, logits: bool = True, reduction: Reduction = "mean"
) -> Tensor | tuple[Tensor, Tensor]:
    """The minimax value V(D, G) = E[log D(x)] + E[log(1 - D(G(z)))] (F4:1688)."""
    check_reduction(reduction)
    return _pair(_log_d(d_real, logits), _log_one_minus_d(d_fake, logits), reduction)


def discriminator_loss(
    d_real: Tensor, d_fake: Tensor, *, logits: bool = True, reduction: Reduction = "mean"
) -> Tensor | tuple[Tensor, Tensor]:
    """-V(D, G): the discriminator's cross-entropy, reals labelled 1 and fakes 0 (F4:1711)."""
    check_reduction(reduction)
    return _pair(-_log_d(d_real, logits), -_log_one_minus_d(d_fake, logits), reduction)


def generator_loss_minimax(
    d_fake: Tensor, *, logits: bool = True, reduction: Reduction = "mean"
) -> Tensor:
    """E[log(1 - D(G(z)))], the generator's side of the minimax game (saturating)."""
    check_reduction(reduction)
    return reduce(_log_one_minus_d(d_fake, logits), reduction)


def generator_loss_nonsaturating(
    d_fake: Tensor, *, logits: bool = True, reduction: Reduction = "mean"
) -> Tensor:
    """-E[log D(G(z))], the non-saturating generator loss (F4:1717)."""
    check_reduction(reduction)
    return reduce(-_log_d(d_fake, logits), reduction)


def hinge_discriminator_loss(
    d_real: Tensor, d_fake: Tensor, *, reduction: Reduction = "mean"
) -> Tensor | tuple[Tensor, Tensor]:
    """E[max(0, 1 - D(x))] + E[max(0, 1 + D(G(z)))] on raw scores (F4:1735)."""
    check_reduction(reduction)
    return _pair(F.relu(1 - upcast(d_real)), F.relu(1 + upcast(d_fake)), reduction)


def hinge_generator_loss(d_fake: Tensor, *, reduction: Reduction = "mean") -> Tensor:
    """-E[D(G(z))] on raw scores (F4:1741)."""
    check_reduction(reduction)
    return reduce(-upcast(d_fake), reduction)


def paired_generator_loss(
    d_fake: Tensor,
    fake: Tensor,
    real: Tensor,
    *,
    l1_weight: float = 100.0,
    logits: bool = True,
) -> Tensor:
    """Non-saturating GAN loss of a conditional discriminator's output on (x, G(x)) plus
    ``l1_weight`` times the mean absolute error between G(x) and the target y
    (F3:1391-1405; pix2pix uses lambda = 100). Reduced to a scalar.
    """
    check_positive("l1_weight", l1_weight, allow_zero=True)
    check_same_shape("fake", fake, "real", real)
    pixel = (upcast(fake) - upcast(real)).abs().mean()
    return generator_loss_nonsaturating(d_fake, logits=logits) + l1_weight * pixel


DiscriminatorKind = Literal["minimax", "hinge"]
GeneratorKind = Literal["minimax", "nonsaturating", "hinge"]


class GANDiscriminatorLoss(LossModule):
    """``kind='minimax'`` (:func:`discriminator_loss`) or ``'hinge'``; forward(d_real, d_fake)."""

    def __init__(
        self, kind: DiscriminatorKind = "minimax", *, logits: bool = True,
        reduction: Reduction = "mean",
    ) -> None:  # fmt: skip
        super().__init__(reduction)
        if kind not in ("minimax", "hinge"):
            raise ValueError(f"kind={kind!r}; expected 'minimax' or 'hinge'")
        if kind == "hinge" and not logits:
            raise ValueError("kind='hinge' reads raw scores; logits=False is not meaningful")
        self.kind, self.logits = kind, logits

    def forward(self, d_real: Tensor, d_fake: Tensor) -> Tensor | tuple[Tensor, Tensor]:
        if self.kind == "hinge":
            return hinge_discriminator_loss(d_real, d_fake, reduction=self.reduction)
        return discriminator_loss(d_real, d_fake, logits=self.logits, reduction=self.reduction)

    def extra_repr(self) -> str:
        return f"kind={self.kind!r}, logits={self.logits}, reduction={self.reduction!r}"


class GANGeneratorLoss(LossModule):
    """``kind='nonsaturating'`` (default), ``'minimax'`` or ``'hinge'``; forward(d_fake)."""

    def __init__(
        self, kind: GeneratorKind = "nonsaturating", *, logits: bool = True,
        reduction: Reduction = "mean",
    ) -> None:  # fmt: skip
        super().__init__(reduction)
        if kind not in ("minimax", "nonsaturating", "hinge"):
            raise ValueError(f"kind={kind!r}; expected 'minimax', 'nonsaturating' or 'hinge'")
        if kind == "hinge" and not logits:
            raise ValueError("kind='hinge' reads raw scores; logits=False is not meaningful")
        self.kind, self.logits = kind, logits

    def forward(self, d_fake: Tensor) -> Tensor:
        if self.kind == "hinge":
            return hinge_generator_loss(d_fake, reduction=self.reduction)
        if self.kind == "minimax":
            return generator_loss_minimax(d_fake, logits=self.logits, reduction=self.reduction)
        return generator_loss_nonsaturating(d_fake, logits=self.logits, reduction=self.reduction)

    def extra_repr(self) -> str:
        return f"kind={self.kind!r}, logits={self.logits}, reduction={self.reduction!r}"
