"""Running GAN evaluation metrics: FID and IS as sums, so they checkpoint and all-reduce.

Per evaluation batch the task adds the score net's features of the real batch and of as many
generated samples, and the class probabilities of the generated ones. The state is

    n, sum_f, sum_f f^T (real and generated), sum_n sum_c p log p, sum_n p (K,)

from which the Fréchet distance (`frechet_distance` of the two fitted Gaussians, unbiased
covariances) and the Inception Score with one split (`inception_score_from_sums`) follow
exactly as `trainlab.generative.scores` computes them on the concatenated batches. Optional
named means (a pix2pix run's validation L1, a discriminator's accuracy) ride along.
"""

from __future__ import annotations

import torch
from torch import Tensor

from trainlab.generative.scores import frechet_distance, inception_score_from_sums
from trainlab.metrics.running import RunningMetrics

__all__ = ["GANMetrics"]


class GANMetrics(RunningMetrics):
    """'fid' (primary, lower is better), 'inception_score' (when probabilities are given)."""

    primary = "fid"
    higher_is_better = False

    def __init__(self, device: torch.device | str = "cpu", *, num_classes: int = 0) -> None:
        self.num_classes = num_classes
        super().__init__(device)

    def _allocate(self, size: int) -> None:
        super()._allocate(size)
        for side in ("real", "fake"):
            self.state[f"{side}_sum"] = self._zeros(size)
            self.state[f"{side}_outer"] = self._zeros(size, size)
        if self.num_classes:
            self.state["p_sum"] = self._zeros(self.num_classes)
            self.state["plogp_sum"] = self._zeros()

    def add_samples(self, real: Tensor, fake: Tensor, probs: Tensor | None = None) -> None:
        """Features (B, F) of a real batch and of B generated samples, their probabilities."""
        if real.shape != fake.shape or real.ndim != 2:
            raise ValueError(
                f"real, fake: expected features of the same shape (B, F), got "
                f"{tuple(real.shape)}, {tuple(fake.shape)}"
            )
        self._ensure(int(real.shape[1]))
        for side, f in (("real", real), ("fake", fake)):
            f = f.detach().to(self.device, torch.float64)
            self.state[f"{side}_sum"] += f.sum(0)
            self.state[f"{side}_outer"] += f.T @ f
        if probs is not None and self.num_classes:
            p = probs.detach().to(self.device, torch.float64)
            self.state["p_sum"] += p.sum(0)
            self.state["plogp_sum"] += torch.special.xlogy(p, p).sum()
        self.state["count"] += int(real.shape[0])

    def add_mean(self, name: str, value: Tensor, n: int) -> None:
        """A named batch mean over `n` samples (reported as its sample-weighted mean)."""
        key = f"mean:{name}"
        if key not in self.state:
            self.state[key] = self._zeros()
        self.state[key] += value.detach().to(self.device, torch.float64).reshape(()) * n

    def update(self, output: Tensor, target: Tensor, loss: Tensor | float | None = None) -> None:
        raise TypeError("GANMetrics: use add_samples(real_features, fake_features, probs)")

    def _stats(self, side: str, n: float) -> tuple[Tensor, Tensor]:
        mu = self.state[f"{side}_sum"] / n
        cov = (self.state[f"{side}_outer"] - n * torch.outer(mu, mu)) / (n - 1)
        return mu, cov

    def compute(self) -> dict[str, float]:
        n = self._count()
        if n < 2 or not self.allocated:
            return {}
        out = {"fid": frechet_distance(*self._stats("real", n), *self._stats("fake", n))}
        if self.num_classes:
            out["inception_score"] = float(
                inception_score_from_sums(self.state["plogp_sum"], self.state["p_sum"], int(n))
            )
        for key in sorted(k for k in self.state if k.startswith("mean:")):
            out[key[5:]] = float(self.state[key]) / n
        return out
