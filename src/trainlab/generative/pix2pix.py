"""The L1 + GAN hybrid for image-to-image pairs (pix2pix, Isola et al. 2017; F3:1391-1405).

A conditional generator G(c) maps a condition image c to a target x; a discriminator sees
the pair, D(c, x) vs D(c, G(c)). The generator's loss is `trainlab.losses.
paired_generator_loss`: the non-saturating GAN loss plus ``gan.l1_weight`` (pix2pix:
100) times mean |x - G(c)|, the L1 term that keeps the output close to the target while the
adversarial term makes it sharp. The discriminator uses `gan.loss` (minimax or
non_saturating: both train D with the same cross-entropy).

The pairs are made from the training images themselves: c is x with its lower half hidden
(set to 0, the data mean after standardization), so the task is inpainting and runs on any
image data without paired files. G is trainlab's U-Net (`unet`, C output channels), D the
DCGAN discriminator over the stacked pair. Validation reports `l1` (mean |x - G(c)|, in
standardized units) and the FID/IS of the completed images; the grid shows condition,
output and target side by side.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from trainlab.errors import ConfigError
from trainlab.generative.gan import GANTask
from trainlab.generative.metrics import GANMetrics
from trainlab.generative.models import PairedDiscriminator
from trainlab.losses import paired_generator_loss
from trainlab.models import create_model
from trainlab.train.registry import register_task
from trainlab.train.task import TaskContext

__all__ = ["PairedGANTask", "hide_lower_half"]


def hide_lower_half(x: Tensor) -> Tensor:
    """The condition image: `x` (B, C, H, W) with rows H//2.. set to 0."""
    c = x.clone()
    c[..., x.shape[-2] // 2 :, :] = 0
    return c


@register_task("pix2pix")
class PairedGANTask(GANTask):
    """G(c) -> x with the L1 + GAN loss; see the module docstring."""

    def _players(self, ctx: TaskContext, name: str) -> tuple[nn.Module, nn.Module]:
        shape = tuple(ctx.data.in_shape)
        if len(shape) != 3 or shape[1] != shape[2]:
            raise ConfigError(
                f"task.name = {name!r} needs square images (C, H, H); {ctx.data.source} has "
                f"samples of shape {shape}"
            )
        if self.cfg.loss not in ("minimax", "non_saturating"):
            raise ConfigError(
                f"task.name = {name!r}: gan.loss = {self.cfg.loss!r}; the L1 + GAN generator "
                "loss is non-saturating: use 'minimax' or 'non_saturating'"
            )
        try:
            g = create_model("unet", num_classes=shape[0], in_shape=shape)
            d = PairedDiscriminator(shape, self.cfg.width, spectral_norm=self.cfg.spectral_norm)
        except ValueError as e:
            raise ConfigError(f"task.name = {name!r} on {ctx.data.source}: {e}") from None
        return g, d

    def _inputs(self, batch: Any) -> tuple[Tensor, Tensor | None]:
        x = batch[0]
        return x, hide_lower_half(x)

    def _generate(self, g: nn.Module, c: Tensor | None, n: int, gen: torch.Generator) -> Tensor:
        return g(c)

    def _discriminate(self, v: Tensor, c: Tensor | None) -> Tensor:
        return self.modules["d"](c, v)

    def _generator_loss(self, d_fake: Tensor, fake: Tensor, real: Tensor) -> Tensor:
        return paired_generator_loss(d_fake, fake, real, l1_weight=self.cfg.l1_weight)

    def _extra_metrics(self, metrics: GANMetrics, x: Tensor, fake: Tensor) -> None:
        metrics.add_mean("l1", (fake.float() - x.float()).abs().mean(), x.shape[0])

    def _grid_samples(self, g: nn.Module) -> Tensor:
        split = self.data.val if self.data.val is not None else self.data.train
        n = max(self.cfg.grid // 3, 1)
        x = split.x[:n].to(self.device)  # type: ignore[union-attr]
        c = hide_lower_half(x)
        return torch.stack([c, g(c), x], 1).flatten(0, 1)  # rows of (condition, output, target)

    def _grid_nrow(self) -> int:
        return 6  # two (condition, output, target) triples per row
