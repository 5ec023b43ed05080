"""The policy network pi(a | s) and the critic V(s) (F3 on RL: the actor, the critic).

Observations are flat vectors. A discrete action space gets a categorical policy over its n
actions (logits from an MLP); a continuous one (a Box) a Gaussian N(mu(s), diag(sigma^2))
with a state-independent, learned log sigma. Sampled continuous actions are clipped to the
space's bounds when they are sent to the environment; the log-probability is that of the
unclipped sample (the usual convention, e.g. Stable Baselines3).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import torch
from torch import Tensor, nn
from torch.distributions import Categorical, Distribution, Independent, Normal


def mlp(sizes: Sequence[int], activation: type[nn.Module] = nn.Tanh) -> nn.Sequential:
    """Linear layers of `sizes` with `activation` between them (none after the last)."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(itertools.pairwise(sizes)):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(activation())
    return nn.Sequential(*layers)


class Policy(nn.Module):
    """pi(a | s): `dist(obs)` is a torch Distribution over actions (one per row of obs)."""

    def __init__(
        self,
        obs_dim: int,
        actions: int,
        *,
        continuous: bool = False,
        hidden: Sequence[int] = (64, 64),
        log_std: float = 0.0,
    ) -> None:
        super().__init__()
        if obs_dim < 1 or actions < 1:
            raise ValueError(f"obs_dim and actions must be >= 1, got {obs_dim}, {actions}")
        self.continuous = continuous
        self.net = mlp([obs_dim, *hidden, actions])
        # small last layer: a near-uniform / near-zero-mean initial policy
        last = self.net[-1]
        assert isinstance(last, nn.Linear)
        nn.init.orthogonal_(last.weight, gain=0.01)
        nn.init.zeros_(last.bias)
        self.log_std = nn.Parameter(torch.full((actions,), float(log_std))) if continuous else None

    def dist(self, obs: Tensor) -> Distribution:
        out = self.net(obs)
        if self.log_std is None:
            return Categorical(logits=out)
        return Independent(Normal(out, self.log_std.exp().expand_as(out)), 1)

    def act(
        self, obs: Tensor, *, greedy: bool = False, generator: torch.Generator | None = None
    ) -> Tensor:
        """Sampled actions (by `generator`, drawn on the CPU), or the most likely ones."""
        d = self.dist(obs)
        if self.log_std is None:
            logits = d.logits  # type: ignore[attr-defined]
            if greedy:
                return logits.argmax(-1)
            probs = torch.softmax(logits.detach().float(), -1).cpu()
            return torch.multinomial(probs, 1, generator=generator).squeeze(-1).to(obs.device)
        mean = d.mean
        if greedy:
            return mean
        noise = torch.randn(mean.shape, generator=generator).to(mean)
        return mean + noise * self.log_std.exp()


class Critic(nn.Module):
    """V(s), an MLP to one value per observation."""

    def __init__(self, obs_dim: int, hidden: Sequence[int] = (64, 64)) -> None:
        super().__init__()
        self.net = mlp([obs_dim, *hidden, 1])

    def forward(self, obs: Tensor) -> Tensor:
        return self.net(obs).squeeze(-1)
