"""Settings of the generative and self-supervised tasks (torch-free): `gan`, `ae`, `simclr`.

`gan` drives the tasks `gan`, `cgan` and `pix2pix` (trainlab.generative.gan), `ae` the tasks
`autoencoder`, `dae` and `mae` (trainlab.generative.autoencoder, .mae), `simclr` the task
`simclr` (trainlab.selfsup.simclr). See docs/generative.md.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from trainlab.recipes.section import Section

GAN_LOSSES = ("minimax", "non_saturating", "hinge", "wasserstein")


class GANConfig(Section):
    """GAN training: the game's losses, the update ratio, stabilizers and evaluation."""

    loss: Literal["minimax", "non_saturating", "hinge", "wasserstein"] = Field(
        "non_saturating", description="the game's loss pair (F4:1663-1780)"
    )
    arch: Literal["auto", "dcgan", "mlp"] = Field(
        "auto", description="the networks: DCGAN for images, MLP for vectors ('auto')"
    )
    d_steps: int = Field(1, ge=1, description="discriminator updates per generator update")
    z_dim: int = Field(64, ge=1, description="latent size")
    width: int = Field(64, ge=4, description="base channel count (DCGAN) or hidden width (MLP)")
    depth: int = Field(3, ge=1, description="MLP pair (vector data): hidden layers")
    spectral_norm: bool = Field(False, description="spectral norm on every layer of D")
    penalty: Literal["none", "r1", "wgan-gp"] = Field("none", description="gradient penalty on D")
    penalty_weight: float = Field(10.0, gt=0, description="R1 gamma or WGAN-GP lambda")
    lr_g: float | None = Field(None, gt=0, description="generator lr (None: optim.lr)")
    lr_d: float | None = Field(None, gt=0, description="discriminator lr (None: optim.lr)")
    betas: tuple[float, float] = Field((0.5, 0.999), description="Adam betas of both players")
    ema_decay: float = Field(0.0, ge=0, lt=1, description="EMA of the generator (0: off)")
    l1_weight: float = Field(100.0, ge=0, description="pix2pix: weight of the L1 term")
    classifier: str = Field(
        "auto",
        description="IS/FID classifier: a supervised RUN_DIR, 'auto' (train one on the "
        "training split once) or 'none' (FID on pixels, no IS)",
    )
    classifier_epochs: int = Field(30, ge=1, description="'auto' classifier: epochs")
    grid: int = Field(64, ge=1, le=1024, description="samples in each sample grid PNG")

    @field_validator("betas")
    @classmethod
    def _betas(cls, v: tuple[float, float]) -> tuple[float, float]:
        if not all(0 <= b < 1 for b in v):
            raise ValueError("expected two numbers in [0, 1)")
        return v


class AEConfig(Section):
    """Autoencoders: the bottleneck, the DAE corruption and the MAE masking."""

    latent: int = Field(32, ge=1, description="autoencoder/dae: code size")
    width: int = Field(32, ge=4, description="autoencoder/dae: base channel count")
    corruption: Literal["gaussian", "mask"] = Field("gaussian", description="dae: the noise")
    noise_std: float = Field(0.5, gt=0, description="dae gaussian: std of the added noise")
    mask_prob: float = Field(0.5, gt=0, lt=1, description="dae mask: fraction of zeroed inputs")
    mask_ratio: float = Field(0.75, gt=0, lt=1, description="mae: fraction of masked patches")
    patch_size: int | None = Field(None, ge=1, description="mae: patch side (None: H / 4)")
    dim: int = Field(64, ge=8, description="mae: encoder width")
    depth: int = Field(4, ge=1, description="mae: encoder blocks")
    heads: int = Field(4, ge=1, description="mae: attention heads")
    decoder_dim: int = Field(32, ge=8, description="mae: decoder width (lightweight)")
    decoder_depth: int = Field(1, ge=1, description="mae: decoder blocks")


class SimCLRConfig(Section):
    """SimCLR: views, projection head, NT-Xent temperature, the linear probe."""

    temperature: float = Field(0.5, gt=0, description="NT-Xent temperature tau")
    proj_dim: int = Field(64, ge=1, description="projection head output size")
    proj_hidden: int = Field(128, ge=1, description="projection head hidden size")
    crop_scale: tuple[float, float] = Field((0.4, 1.0), description="random resized crop area")
    flip: float = Field(0.0, ge=0, le=1, description="probability of a horizontal flip")
    jitter: float = Field(0.4, ge=0, description="brightness/contrast jitter strength")
    noise: float = Field(0.1, ge=0, description="std of added Gaussian noise")
    probe_epochs: int = Field(200, ge=1, description="linear probe: full-batch steps")

    @field_validator("crop_scale")
    @classmethod
    def _scale(cls, v: tuple[float, float]) -> tuple[float, float]:
        if not 0 < v[0] <= v[1] <= 1:
            raise ValueError("expected 0 < low <= high <= 1")
        return v
