"""Returns and advantages (F3 on RL: the discounted return, reward-to-go, baselines, the
critic, advantages).

All take (T, N) tensors: T steps of N parallel environments; `dones[t]` marks that the
episode ended at step t (the next state belongs to a new episode, so nothing is carried
across it). Time-limit truncations are folded in by the rollout (see `rollout.py`).

- discounted return / reward-to-go:  G_t = r_t + gamma (1 - d_t) G_{t+1},  G_T = V(s_T)
  (the bootstrap; 0 for complete episodes): the n-step return of A2C when T = n.
- episode return (REINFORCE without reward-to-go): every step of an episode gets G_0 of its
  episode, the sum of all its discounted rewards.
- GAE (Schulman et al. 2016): delta_t = r_t + gamma (1 - d_t) V(s_{t+1}) - V(s_t),
  A_t = delta_t + gamma lambda (1 - d_t) A_{t+1};  lambda = 1 gives G_t - V(s_t),
  lambda = 0 the one-step TD error.
"""

from __future__ import annotations

import torch
from torch import Tensor


def _check(rewards: Tensor, dones: Tensor, gamma: float) -> None:
    if rewards.shape != dones.shape or rewards.ndim != 2:
        raise ValueError(
            f"rewards and dones: expected equal (T, N) shapes, got {tuple(rewards.shape)} "
            f"and {tuple(dones.shape)}"
        )
    if not 0.0 <= gamma <= 1.0:
        raise ValueError(f"gamma must be in [0, 1], got {gamma!r}")


def discounted_returns(
    rewards: Tensor, dones: Tensor, gamma: float, bootstrap: Tensor | None = None
) -> Tensor:
    """G_t = r_t + gamma (1 - d_t) G_{t+1}, with G_T = `bootstrap` (default 0): (T, N)."""
    _check(rewards, dones, gamma)
    out = torch.empty_like(rewards)
    g = torch.zeros_like(rewards[0]) if bootstrap is None else bootstrap.to(rewards)
    keep = 1.0 - dones.to(rewards.dtype)
    for t in range(len(rewards) - 1, -1, -1):
        g = rewards[t] + gamma * keep[t] * g
        out[t] = g
    return out


def episode_returns(rewards: Tensor, dones: Tensor, gamma: float) -> Tensor:
    """Each step gets the discounted return G_0 of its whole episode (complete episodes:
    the rollout must end with dones[-1] all True)."""
    _check(rewards, dones, gamma)
    if not bool(dones[-1].all()):
        raise ValueError("episode_returns needs complete episodes (dones[-1] all True)")
    g = discounted_returns(rewards, dones, gamma)
    out = torch.empty_like(g)
    start = torch.ones_like(dones[0])  # step t starts an episode
    current = g[0].clone()
    for t in range(len(g)):
        current = torch.where(start, g[t], current)
        out[t] = current
        start = dones[t]
    return out


def gae(
    rewards: Tensor,
    values: Tensor,
    dones: Tensor,
    last_value: Tensor,
    gamma: float,
    lam: float,
) -> tuple[Tensor, Tensor]:
    """(advantages, returns = advantages + values), both (T, N)."""
    _check(rewards, dones, gamma)
    if not 0.0 <= lam <= 1.0:
        raise ValueError(f"lambda must be in [0, 1], got {lam!r}")
    if values.shape != rewards.shape:
        raise ValueError(
            f"values: expected shape {tuple(rewards.shape)}, got {tuple(values.shape)}"
        )
    keep = 1.0 - dones.to(rewards.dtype)
    adv = torch.empty_like(rewards)
    a = torch.zeros_like(rewards[0])
    nxt = last_value.to(rewards)
    for t in range(len(rewards) - 1, -1, -1):
        delta = rewards[t] + gamma * keep[t] * nxt - values[t]
        a = delta + gamma * lam * keep[t] * a
        adv[t] = a
        nxt = values[t]
    return adv, adv + values
