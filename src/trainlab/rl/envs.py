"""N Gymnasium environments stepped together, with resumable state.

Each environment is `gymnasium.make(env_id)` wrapped in Gymnasium's
`RecordEpisodeStatistics` (the episode returns and lengths reported are Gymnasium's). We
reset every episode ourselves with a seed drawn from the pool's own generator, so the state
of environment i is a function of (its episode's seed, the actions taken since): that pair is
what a checkpoint stores, and `load_state_dict` rebuilds the exact state by replaying the
actions (checked against the saved observation). Environments must be deterministic given
their seed and actions, as Gymnasium's classic-control and MuJoCo ones are.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from trainlab.errors import ConfigError


def make_env(env_id: str) -> Any:
    """`gymnasium.make(env_id)` with episode statistics; a clear error for unknown ids."""
    try:
        import gymnasium as gym
    except ImportError:
        raise ConfigError(
            "reinforcement learning needs Gymnasium: pip install 'trainlab[rl]'"
        ) from None
    try:
        env = gym.make(env_id)
    except gym.error.Error as e:
        raise ConfigError(f"env {env_id!r}: {e}") from None
    return gym.wrappers.RecordEpisodeStatistics(env)


@dataclass
class StepResult:
    """One step of every environment: the observations to act on next (after automatic
    resets), rewards, terminated / truncated flags, the final observation of each episode
    that ended (else None), and the (return, length) of the episodes that ended."""

    obs: np.ndarray
    rewards: np.ndarray
    terminated: np.ndarray
    truncated: np.ndarray
    final_obs: list[np.ndarray | None]
    episodes: list[tuple[float, int]]


class EnvPool:
    def __init__(self, env_id: str, n: int, seed: int) -> None:
        if n < 1:
            raise ConfigError(f"rl.envs = {n}: expected at least one environment")
        self.env_id = env_id
        self.envs = [make_env(env_id) for _ in range(n)]
        space = self.envs[0].observation_space
        if space.shape is None or len(space.shape) != 1:
            raise ConfigError(
                f"env {env_id!r}: observations of shape {space.shape}; expected flat vectors"
            )
        self.obs_dim = int(space.shape[0])
        self.action_space = self.envs[0].action_space
        self.generator = torch.Generator().manual_seed(seed)
        self.seeds = [0] * n
        self.actions: list[list[Any]] = [[] for _ in range(n)]
        self.obs = np.zeros((n, self.obs_dim), dtype=np.float32)

    def __len__(self) -> int:
        return len(self.envs)

    def _new_episode(self, i: int) -> np.ndarray:
        self.seeds[i] = int(torch.randint(0, 2**31 - 1, (1,), generator=self.generator))
        self.actions[i] = []
        obs, _ = self.envs[i].reset(seed=self.seeds[i])
        return np.asarray(obs, dtype=np.float32)

    def reset(self) -> np.ndarray:
        """A new episode in every environment; their first observations (N, obs_dim)."""
        self.obs = np.stack([self._new_episode(i) for i in range(len(self))])
        return self.obs

    def step(self, actions: np.ndarray, active: np.ndarray | None = None) -> StepResult:
        """Step the `active` environments (default all) with `actions`; an episode that ends
        is restarted at once with a new seed (its first observation in `obs`)."""
        n = len(self)
        active = np.ones(n, dtype=bool) if active is None else active
        rewards = np.zeros(n, dtype=np.float64)
        term, trunc = np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
        final: list[np.ndarray | None] = [None] * n
        episodes: list[tuple[float, int]] = []
        for i in np.flatnonzero(active):
            a = actions[i]
            obs, r, te, tr, info = self.envs[i].step(a)
            self.actions[i].append(a)
            rewards[i], term[i], trunc[i] = float(r), bool(te), bool(tr)
            if te or tr:
                final[i] = np.asarray(obs, dtype=np.float32)
                ep = info["episode"]
                episodes.append((float(np.asarray(ep["r"])), int(np.asarray(ep["l"]))))
                self.obs[i] = self._new_episode(int(i))
            else:
                self.obs[i] = np.asarray(obs, dtype=np.float32)
        return StepResult(self.obs.copy(), rewards, term, trunc, final, episodes)

    def action_array(self, actions: torch.Tensor) -> np.ndarray:
        """Tensor actions as the environments take them (ints, or clipped to the bounds)."""
        a = actions.detach().cpu().numpy()
        if hasattr(self.action_space, "n"):
            return a.astype(np.int64)
        return np.clip(a, self.action_space.low, self.action_space.high).astype(np.float32)

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, Any]:
        return {
            "generator": self.generator.get_state(),
            "seeds": torch.tensor(self.seeds, dtype=torch.int64),
            "actions": [self._actions_tensor(a) for a in self.actions],
            "obs": torch.from_numpy(self.obs.copy()),
        }

    def _actions_tensor(self, actions: list[Any]) -> torch.Tensor:
        discrete = hasattr(self.action_space, "n")
        shape = () if discrete else tuple(self.action_space.shape)
        arr = np.asarray(actions, dtype=np.int64 if discrete else np.float32)
        return torch.from_numpy(arr.reshape((len(actions), *shape))).clone()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Rebuild every environment's state by replaying its episode (see the module doc)."""
        self.generator.set_state(state["generator"])
        self.seeds = [int(s) for s in state["seeds"]]
        discrete = hasattr(self.action_space, "n")
        for i, (seed, acts) in enumerate(zip(self.seeds, state["actions"], strict=True)):
            obs, _ = self.envs[i].reset(seed=seed)
            self.actions[i] = []
            for a in acts.numpy():
                a = int(a) if discrete else a
                obs, *_ = self.envs[i].step(a)
                self.actions[i].append(a)
            self.obs[i] = np.asarray(obs, dtype=np.float32)
        if not np.array_equal(self.obs, state["obs"].numpy()):
            raise ConfigError(
                f"env {self.env_id!r}: replaying the saved actions did not reproduce the saved "
                "observations (the environment is not deterministic given its seed)"
            )
