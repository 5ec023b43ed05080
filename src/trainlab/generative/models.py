"""GAN networks: a DCGAN pair that adapts to the image size, an MLP pair for vector (2-D toy)
data, their class-conditional forms, and the image-to-image pair of the L1 + GAN hybrid.

DCGAN (Radford et al. 2015; notes F3:1069-1140): the generator projects z (and, for a cGAN,
a class embedding; Mirza & Osindero 2014) to a (C0, s0, s0) map, then doubles the size with
stride-2 transposed convolutions (BatchNorm + ReLU) until it reaches H = s0 2^k; the
discriminator mirrors it with stride-2 convolutions (LeakyReLU 0.2) and a linear logit. The
number of doublings k is the largest with H / 2^k >= 3, so 8x8 digits get one (4 -> 8),
28x28 two (7 -> 28), 32x32 three and 64x64 four (4 -> 64); channels halve at each doubling
from ``width * 2^(k-1)``, and a 3x3 convolution maps to C channels. Images must be square.
DCGAN's tanh output assumes data in [-1, 1]; trainlab's data are standardized, so with
`out_range = (lo, hi)` (the GAN task passes the training split's min and max) the output is
``lo + (hi - lo) sigmoid(o)``, the same squashing in the data's range (else linear).

Conditional discriminators use the projection form (Miyato & Koyama 2018):
``D(x, y) = w^T h(x) + e_y^T h(x)``. `spectral_norm` wraps every convolution and linear
layer of a discriminator in ``torch.nn.utils.parametrizations.spectral_norm`` (Miyato et
al. 2018); the discriminator then has no BatchNorm (neither has it with a gradient
penalty, whose per-sample gradients BatchNorm would mix: ``norm=False``).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable

import torch
from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm as _sn

__all__ = [
    "DCGANDiscriminator",
    "DCGANGenerator",
    "MLPDiscriminator",
    "MLPGenerator",
    "PairedDiscriminator",
    "doublings",
]


def doublings(size: int) -> int:
    """The number k of 2x upsamplings of the DCGAN generator for `size` (H = s0 * 2^k)."""
    k = 0
    while size % 2 ** (k + 1) == 0 and size // 2 ** (k + 1) >= 3:
        k += 1
    if k == 0:
        raise ValueError(f"image size {size}: expected an even size >= 6 (8x8 up to 64x64)")
    return k


def _check_image_shape(shape: tuple[int, ...], what: str) -> tuple[int, int, int]:
    if len(shape) != 3 or shape[1] != shape[2]:
        raise ValueError(
            f"{what}: expected square images (C, H, H), got sample shape {tuple(shape)}; "
            "vector data take the MLP pair (MLPGenerator, MLPDiscriminator)"
        )
    return int(shape[0]), int(shape[1]), doublings(int(shape[1]))


def _spectral(module: nn.Module) -> nn.Module:
    for m in list(module.modules()):
        if isinstance(m, nn.Conv2d | nn.Linear):
            _sn(m)
    return module


class _ClassInput(nn.Module):
    """z (B, Z) concatenated with a learned class embedding (B, E) when `num_classes`."""

    def __init__(self, num_classes: int, dim: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(num_classes, dim) if num_classes else None

    def forward(self, z: Tensor, y: Tensor | None) -> Tensor:
        if self.embed is None:
            return z
        if y is None:
            raise ValueError("this generator is class-conditional: pass the labels y")
        return torch.cat([z, self.embed(y)], 1)


class _Bounded(nn.Module):
    """``lo + (hi - lo) sigmoid(o)`` when `out_range` = (lo, hi) is given, else the identity:
    DCGAN's tanh output for data in [-1, 1], moved to the data's own range."""

    def __init__(self, out_range: tuple[float, float] | None) -> None:
        super().__init__()
        self.out_range = out_range

    def forward(self, o: Tensor) -> Tensor:
        if self.out_range is None:
            return o
        lo, hi = self.out_range
        return lo + (hi - lo) * torch.sigmoid(o)


class DCGANGenerator(nn.Module):
    """z (B, z_dim) [, y (B,)] -> images (B, C, H, H); `out_range` bounds the output."""

    def __init__(
        self,
        out_shape: tuple[int, ...],
        z_dim: int = 64,
        width: int = 64,
        num_classes: int = 0,
        out_range: tuple[float, float] | None = None,
    ) -> None:
        super().__init__()
        c, h, k = _check_image_shape(tuple(out_shape), "DCGANGenerator")
        self.z_dim, self.num_classes, self.out_shape = z_dim, num_classes, (c, h, h)
        s0, ch = h // 2**k, width * 2 ** (k - 1)
        self.cond = _ClassInput(num_classes, z_dim)
        zin = z_dim * (2 if num_classes else 1)
        self.project = nn.Sequential(
            nn.Linear(zin, ch * s0 * s0, bias=False),
            nn.Unflatten(1, (ch, s0, s0)),
            nn.BatchNorm2d(ch),
            nn.ReLU(),
        )
        layers: list[nn.Module] = []
        for _ in range(k):  # (ch, s, s) -> (ch / 2, 2s, 2s)
            out = max(ch // 2, 8)
            layers += [
                nn.ConvTranspose2d(ch, out, 4, 2, 1, bias=False),
                nn.BatchNorm2d(out),
                nn.ReLU(),
            ]
            ch = out
        layers += [nn.Conv2d(ch, c, 3, 1, 1), _Bounded(out_range)]  # to C channels
        self.body = nn.Sequential(*layers)

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        return self.body(self.project(self.cond(z, y)))  # (B, C, H, H)


class _Projection(nn.Module):
    """Logit w^T h (+ e_y^T h for a conditional discriminator) of features h (B, F)."""

    def __init__(self, features: int, num_classes: int) -> None:
        super().__init__()
        self.linear = nn.Linear(features, 1)
        self.embed = nn.Embedding(num_classes, features) if num_classes else None

    def forward(self, h: Tensor, y: Tensor | None) -> Tensor:
        out = self.linear(h).squeeze(1)  # (B,)
        if self.embed is not None:
            if y is None:
                raise ValueError("this discriminator is class-conditional: pass the labels y")
            out = out + (self.embed(y) * h).sum(1)
        return out


class DCGANDiscriminator(nn.Module):
    """images (B, C, H, H) [, y (B,)] -> logits (B,)."""

    def __init__(
        self,
        in_shape: tuple[int, ...],
        width: int = 64,
        num_classes: int = 0,
        *,
        norm: bool = True,
        spectral_norm: bool = False,
    ) -> None:
        super().__init__()
        c, h, k = _check_image_shape(tuple(in_shape), "DCGANDiscriminator")
        norm = norm and not spectral_norm
        layers: list[nn.Module] = [nn.Conv2d(c, width, 4, 2, 1), nn.LeakyReLU(0.2)]
        ch = width
        for _ in range(k - 1):
            layers += [nn.Conv2d(ch, ch * 2, 4, 2, 1, bias=not norm)]
            layers += [nn.BatchNorm2d(ch * 2)] if norm else []
            layers += [nn.LeakyReLU(0.2)]
            ch *= 2
        layers.append(nn.Flatten())
        self.body = nn.Sequential(*layers)
        s0 = h // 2**k
        self.head = _Projection(ch * s0 * s0, num_classes)
        if spectral_norm:
            _spectral(self)

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        return self.head(self.body(x), y)


def _mlp(sizes: list[int], act: Callable[[], nn.Module]) -> list[nn.Module]:
    layers: list[nn.Module] = []
    for a, b in itertools.pairwise(sizes):
        layers += [nn.Linear(a, b), act()]
    return layers


class MLPGenerator(nn.Module):
    """z (B, z_dim) [, y] -> vectors (B, *out_shape) through `depth` hidden ReLU layers."""

    def __init__(
        self,
        out_shape: tuple[int, ...],
        z_dim: int = 16,
        width: int = 128,
        depth: int = 3,
        num_classes: int = 0,
        out_range: tuple[float, float] | None = None,
    ) -> None:
        super().__init__()
        self.z_dim, self.num_classes, self.out_shape = z_dim, num_classes, tuple(out_shape)
        self.cond = _ClassInput(num_classes, z_dim)
        zin = z_dim * (2 if num_classes else 1)
        out = math.prod(out_shape)
        self.body = nn.Sequential(
            *_mlp([zin] + [width] * depth, nn.ReLU),
            nn.Linear(width, out),
            _Bounded(out_range),
            nn.Unflatten(1, out_shape),
        )

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        return self.body(self.cond(z, y))


class MLPDiscriminator(nn.Module):
    """vectors (B, *in_shape) [, y] -> logits (B,) through `depth` LeakyReLU layers."""

    def __init__(
        self,
        in_shape: tuple[int, ...],
        width: int = 128,
        depth: int = 3,
        num_classes: int = 0,
        *,
        spectral_norm: bool = False,
    ) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Flatten(), *_mlp([math.prod(in_shape)] + [width] * depth, lambda: nn.LeakyReLU(0.2))
        )
        self.head = _Projection(width, num_classes)
        if spectral_norm:
            _spectral(self)

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        return self.head(self.body(x), y)


class PairedDiscriminator(nn.Module):
    """D(c, x) of the L1 + GAN hybrid (pix2pix, F3:1391-1405): a DCGAN discriminator on the
    condition image and the (real or generated) target stacked along channels."""

    def __init__(self, in_shape: tuple[int, ...], width: int = 64, **kw: bool) -> None:
        super().__init__()
        c, h, _ = _check_image_shape(tuple(in_shape), "PairedDiscriminator")
        self.net = DCGANDiscriminator((2 * c, h, h), width, **kw)

    def forward(self, cond: Tensor, x: Tensor) -> Tensor:
        return self.net(torch.cat([cond, x], 1))
