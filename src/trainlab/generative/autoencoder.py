"""Autoencoders and denoising autoencoders as engine tasks: `autoencoder` and `dae`.

An autoencoder (notes F3:3322-3333; F4:1782-1876) learns an encoder f and a decoder g with a
bottleneck code h = f(x) of `ae.latent` numbers, trained to reconstruct its input:
``L = mean |g(f(x)) - x|^2``. A denoising autoencoder (Vincent et al. 2008) reconstructs the
*clean* x from a corrupted copy, ``L = mean |g(f(c(x))) - x|^2``, with c Gaussian noise
(``x + ae.noise_std * eps``) or masking noise (each input entry set to 0, the data mean
after standardization, with probability ``ae.mask_prob``).

Images use a DCGAN-shaped pair (the discriminator's stride-2 convolutions then a linear map
to h; the generator's transposed convolutions from h), vectors an MLP pair. The encoder is
the module `encoder`, a pretrained backbone for a linear probe (`trainlab.selfsup.probe`).

Metrics: `mse`, the clean-input reconstruction error (primary), `baseline_mse`, that of the
training split's mean image (what a model that ignores its input scores), and for a DAE
`loss`, the denoising objective on the evaluation data (corruption drawn with a generator
seeded anew per evaluation). `plots/reconstructions.png` pairs inputs and reconstructions.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from trainlab._validate import check_in_range, check_positive
from trainlab.data import Split
from trainlab.errors import ConfigError
from trainlab.generative.grid import save_image_grid
from trainlab.generative.models import (
    DCGANDiscriminator,
    DCGANGenerator,
    MLPDiscriminator,
    MLPGenerator,
)
from trainlab.metrics import MeanMetrics, RunningMetrics
from trainlab.train.registry import register_task
from trainlab.train.step import Step, eval_mode
from trainlab.train.task import OptimizerSpec, Task, TaskContext

__all__ = [
    "AutoencoderTask",
    "DenoisingAutoencoderTask",
    "autoencoder_pair",
    "gaussian_corruption",
    "masking_corruption",
]

_EVAL_SEED = 3_000_017


def gaussian_corruption(x: Tensor, std: float, *, generator: torch.Generator) -> Tensor:
    """``x + std * eps``, eps ~ N(0, 1) drawn with `generator`."""
    std = check_positive("std", std)
    return x + std * torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)


def masking_corruption(x: Tensor, prob: float, *, generator: torch.Generator) -> Tensor:
    """`x` with each entry set to 0 with probability `prob` (masking noise)."""
    prob = check_in_range("prob", prob, 0.0, 1.0, lo_open=True, hi_open=True)
    keep = torch.rand(x.shape, generator=generator, device=x.device) >= prob
    return x * keep


def autoencoder_pair(
    in_shape: tuple[int, ...], latent: int, width: int
) -> tuple[nn.Module, nn.Module]:
    """(encoder x -> h (B, latent), decoder h -> x) for images (DCGAN-shaped) or vectors."""
    if len(in_shape) == 3:
        body = DCGANDiscriminator(in_shape, width).body  # stride-2 convs, then flatten
        features = body(torch.zeros(1, *in_shape)).shape[1]
        return nn.Sequential(body, nn.Linear(features, latent)), DCGANGenerator(
            in_shape, latent, width
        )
    enc = MLPDiscriminator(in_shape, 4 * width, 2).body
    return nn.Sequential(enc, nn.Linear(4 * width, latent)), MLPGenerator(
        in_shape, latent, 4 * width, 2
    )


@register_task("autoencoder")
class AutoencoderTask(Task):
    """Reconstruct x from f(x); see the module docstring."""

    denoising = False

    def setup(self, ctx: TaskContext) -> None:
        cfg, data = ctx.config.ae, ctx.data
        self.cfg, self.data, self.device, self.run = cfg, data, ctx.device, ctx.run
        self.seed = ctx.config.seed
        try:
            enc, dec = autoencoder_pair(tuple(data.in_shape), cfg.latent, cfg.width)
        except ValueError as e:
            raise ConfigError(f"task.name = {self.name!r} on {data.source}: {e}") from None
        self.modules = {"encoder": enc, "decoder": dec}
        self.gen = torch.Generator(device=ctx.device).manual_seed(self.seed)
        self._eval_gen = torch.Generator(device=ctx.device).manual_seed(self.seed + _EVAL_SEED)
        train = data.train
        self.mean_image = train.x.mean(0).to(ctx.device) if isinstance(train, Split) else None

    def optimizers(self) -> dict[str, OptimizerSpec]:
        return {"main": OptimizerSpec(nn.ModuleDict(self.modules), ema=True)}

    def encoder(self) -> nn.Module:
        """The pretrained encoder: x -> h (B, latent)."""
        return self.modules["encoder"]

    def corrupt(self, x: Tensor, generator: torch.Generator) -> Tensor:
        if not self.denoising:
            return x
        if self.cfg.corruption == "gaussian":
            return gaussian_corruption(x, self.cfg.noise_std, generator=generator)
        return masking_corruption(x, self.cfg.mask_prob, generator=generator)

    def reconstruct(self, x: Tensor) -> Tensor:
        return self.modules["decoder"](self.modules["encoder"](x))

    def training_step(self, batch: Any, step: Step) -> None:
        x = batch[0]
        loss = F.mse_loss(self.reconstruct(self.corrupt(x, self.gen)).float(), x.float())
        step.backward(loss)
        step.update()
        step.log("loss", loss)

    def metrics(self, device: torch.device, *, detailed: bool = False) -> RunningMetrics:
        self._eval_gen = torch.Generator(device=self.device).manual_seed(self.seed + _EVAL_SEED)
        return MeanMetrics(device, primary="mse")

    def validation_step(self, batch: Any, metrics: RunningMetrics) -> None:
        assert isinstance(metrics, MeanMetrics)
        x = batch[0].float()
        n = x.shape[0]
        metrics.add("mse", F.mse_loss(self.reconstruct(x).float(), x), n)
        if self.denoising:
            noisy = self.corrupt(x, self._eval_gen)
            metrics.add("loss", F.mse_loss(self.reconstruct(noisy).float(), x), n)
        if self.mean_image is not None:
            metrics.add("baseline_mse", F.mse_loss(self.mean_image.expand_as(x), x), n)

    def save_test_plots(self, metrics: RunningMetrics, plots: Any) -> dict[str, str]:
        split = self.data.test if self.data.test is not None else self.data.train
        if not isinstance(split, Split) or len(self.data.in_shape) != 3:
            return {}
        x = split.x[:32].to(self.device)
        with eval_mode(self.modules):
            shown = self.corrupt(x, torch.Generator(self.device).manual_seed(self.seed))
            rec = self.reconstruct(shown)
        rows = [shown, rec, x] if self.denoising else [x, rec]
        grid = torch.stack(rows, 1).flatten(0, 1)  # (input[, clean], reconstruction) per tile group
        path = save_image_grid(
            grid, plots / "reconstructions.png", mean=self.data.input_mean,
            std=self.data.input_std, nrow=4 * len(rows), upscale=4,
        )  # fmt: skip
        return {"reconstructions": str(path)}

    def state_dict(self) -> dict[str, Any]:
        return {"gen": self.gen.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.gen.set_state(state["gen"].cpu())


@register_task("dae")
class DenoisingAutoencoderTask(AutoencoderTask):
    """Reconstruct the clean x from a corrupted copy (`ae.corruption`)."""

    denoising = True
