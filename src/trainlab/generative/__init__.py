"""Generative models: GANs (DCGAN and MLP pairs, cGAN, pix2pix), autoencoders (AE, DAE, MAE)
and their scores (Inception Score, Fréchet distance, mode coverage); the engine tasks
`gan`, `cgan`, `pix2pix`, `autoencoder`, `dae`, `mae` (import them from their modules:
`trainlab.generative.gan`, ...; importing this package does not import the engine).
See docs/generative.md."""

from trainlab.generative.grid import image_grid, save_image_grid
from trainlab.generative.metrics import GANMetrics
from trainlab.generative.models import (
    DCGANDiscriminator,
    DCGANGenerator,
    MLPDiscriminator,
    MLPGenerator,
    PairedDiscriminator,
    doublings,
)
from trainlab.generative.penalties import gradient_penalty, r1_penalty
from trainlab.generative.scores import (
    ModeCoverage,
    feature_statistics,
    frechet_distance,
    inception_score,
    inception_score_from_sums,
    mode_coverage,
)
from trainlab.generative.toy import eight_gaussians, ring_centers

__all__ = [
    "DCGANDiscriminator",
    "DCGANGenerator",
    "GANMetrics",
    "MLPDiscriminator",
    "MLPGenerator",
    "ModeCoverage",
    "PairedDiscriminator",
    "doublings",
    "eight_gaussians",
    "feature_statistics",
    "frechet_distance",
    "gradient_penalty",
    "image_grid",
    "inception_score",
    "inception_score_from_sums",
    "mode_coverage",
    "r1_penalty",
    "ring_centers",
    "save_image_grid",
]
