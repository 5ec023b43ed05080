"""Reinforcement learning as an engine task (`task.name: rl`): the rollouts are the data.

The engine's "dataset" has one item per update (`build_data`); each training step collects
experience from the task's `EnvPool` and takes one gradient step of

- REINFORCE (Williams 1992): every environment plays one episode; the loss is
  -mean_t log pi(a_t | s_t) A_t with A_t = G_t (reward-to-go, or G_0 of the episode without
  it) minus V(s_t) when `rl.baseline = value` (the critic regressing on G_t);
- A2C (Mnih et al. 2016): `rl.n_steps` steps of every environment, advantages by GAE
  (lambda = 1: the n-step bootstrapped return minus V), and
  L = -mean log pi(a|s) A + value_coef mean (R - V(s))^2 - entropy mean H[pi(.|s)].

A time-limit truncation is not a real end: the reward of that step gets + gamma V(s_final)
(bootstrapping through it). Validation plays `rl.eval_episodes` greedy episodes with fixed
seeds (the same ones every time, so epochs compare); the test plays `rl.test_episodes`. The
metric `return` (higher is better) selects the best checkpoint. The pool's environments,
every generator and the episode history are checkpointed: resume is exact.
"""

from __future__ import annotations

import math
from typing import Any, cast

import numpy as np
import torch
from torch import Tensor

from trainlab.data.bundle import DataBundle, Split
from trainlab.errors import ConfigError
from trainlab.metrics import MeanMetrics
from trainlab.rl.envs import EnvPool
from trainlab.rl.policy import Critic, Policy
from trainlab.rl.returns import discounted_returns, episode_returns, gae
from trainlab.train.task import Task, TaskContext

EVAL_SEED = 1_000_003  # validation/test episodes use seeds config.seed + EVAL_SEED + k


def _updates(config: Any) -> int:
    r = config.rl
    return r.updates_per_epoch * config.data.batch_size


class RLTask(Task):
    """See the module doc; the `rl` config section holds its settings."""

    @classmethod
    def build_data(cls, config: Any) -> DataBundle:
        one = Split(torch.zeros(1, 1), torch.zeros(1, dtype=torch.long))
        train = Split(
            torch.zeros(_updates(config), 1), torch.zeros(_updates(config), dtype=torch.long)
        )
        return DataBundle(
            train=train, val=one, test=one, task="rl", num_outputs=1, in_shape=(1,),
            class_names=None, source=f"gymnasium:{config.rl.env}",
            input_mean=torch.zeros(1), input_std=torch.ones(1),
        )  # fmt: skip

    def setup(self, ctx: TaskContext) -> None:
        r = self.cfg = ctx.config.rl
        self.seed = ctx.config.seed
        self.pool = EnvPool(r.env, r.envs, ctx.config.seed)
        space = self.pool.action_space
        continuous = not hasattr(space, "n")
        if r.action != "auto" and (r.action == "continuous") != continuous:
            kind = "continuous (Box)" if continuous else f"discrete ({space})"
            raise ConfigError(f"rl.action = {r.action}: env {r.env!r} has a {kind} action space")
        if continuous and (space.shape is None or len(space.shape) != 1):
            raise ConfigError(f"env {r.env!r}: actions of shape {space.shape}; expected a vector")
        n_actions = int(space.shape[0]) if continuous else int(space.n)
        self.modules = {
            "policy": Policy(
                self.pool.obs_dim,
                n_actions,
                continuous=continuous,
                hidden=r.hidden,
                log_std=r.log_std,
            )
        }
        if r.algo == "a2c" or r.baseline == "value":
            self.modules["critic"] = Critic(self.pool.obs_dim, r.hidden)
        self.device = ctx.device
        self.actions = torch.Generator().manual_seed(ctx.config.seed + 1)
        self.env_steps = 0
        self._episodes = r.eval_episodes  # per evaluation, set by `metrics`
        self.history: list[tuple[int, float, int]] = []  # (env steps, return, length)
        self.pool.reset()

    @staticmethod
    def epochs_for(config: Any) -> int:
        """a2c: the epochs `rl.steps` environment steps take."""
        r = config.rl
        per_epoch = r.envs * r.n_steps * r.updates_per_epoch
        return max(1, math.ceil(r.steps / per_epoch))

    def stop_reason(self) -> str | None:
        """REINFORCE plays whole episodes, so `rl.steps` cannot fix the epochs in advance:
        the run ends after the epoch in which the budget is spent."""
        if self.cfg.algo == "reinforce" and self.env_steps >= self.cfg.steps:
            return f"rl.steps = {self.cfg.steps} environment steps played ({self.env_steps})"
        return None

    # ------------------------------------------------------------------ helpers
    def _obs(self, obs: np.ndarray) -> Tensor:
        return torch.tensor(
            obs, dtype=torch.float32, device=self.device
        )  # a copy: the pool reuses its array

    @property
    def _policy(self) -> Policy:
        return cast(Policy, self.modules["policy"])

    def _value(self, obs: Tensor) -> Tensor:
        return self.modules["critic"](obs)

    def _record(self, episodes: list[tuple[float, int]], steps: int) -> None:
        self.env_steps += steps
        self.history += [(self.env_steps, r, n) for r, n in episodes]

    # ------------------------------------------------------------------ the maths
    def training_step(self, batch: Any, step: Any) -> None:
        if self.cfg.algo == "a2c":
            loss = self._a2c(step)
        elif self.env_steps < self.cfg.steps:
            loss = self._reinforce(step)
        else:  # the budget is spent: `stop_reason` ends the run after this epoch
            step.log("env_steps", float(self.env_steps))
            return
        step.backward(loss)
        step.update()
        step.log("loss", loss)
        step.log("env_steps", float(self.env_steps))
        recent = [r for _, r, _ in self.history[-20:]]
        if recent:
            step.log("episode_return", float(np.mean(recent)))

    def _a2c(self, step: Any) -> Tensor:
        r, pool, policy = self.cfg, self.pool, self._policy
        obs_l, act_l, rew_l, done_l = [], [], [], []
        for _ in range(r.n_steps):
            obs = self._obs(pool.obs)
            with torch.no_grad():
                act = policy.act(obs, generator=self.actions)
            res = pool.step(pool.action_array(act))
            rew = torch.as_tensor(res.rewards, dtype=torch.float32)
            if res.truncated.any():  # bootstrap through time limits
                idx = np.flatnonzero(res.truncated & ~res.terminated)
                if len(idx):
                    final = self._obs(np.stack([cast(np.ndarray, res.final_obs[i]) for i in idx]))
                    with torch.no_grad():
                        rew[idx] += r.gamma * self._value(final).cpu()
            obs_l.append(obs)
            act_l.append(act)
            rew_l.append(rew)
            done_l.append(torch.as_tensor(res.terminated | res.truncated))
            self._record(res.episodes, len(pool))
        obs_t = torch.stack(obs_l)  # (T, N, obs)
        with torch.no_grad():
            last = self._value(self._obs(pool.obs)).cpu()
        dist = policy.dist(obs_t.flatten(0, 1))
        values = self._value(obs_t.flatten(0, 1)).view(r.n_steps, len(pool))
        adv, ret = gae(
            torch.stack(rew_l),
            values.detach().cpu(),
            torch.stack(done_l),
            last,
            r.gamma,
            r.gae_lambda,
        )
        adv, ret = adv.to(self.device).flatten(), ret.to(self.device).flatten()
        if r.normalize_advantages:
            adv = (adv - adv.mean()) / (adv.std() + 1e-8)
        logp = dist.log_prob(torch.stack(act_l).flatten(0, 1))
        entropy = dist.entropy().mean()
        value_loss = (ret - values.flatten()).pow(2).mean()
        step.log("entropy", entropy)
        step.log("value_loss", value_loss)
        return -(logp * adv).mean() + r.value_coef * value_loss - r.entropy * entropy

    def _reinforce(self, step: Any) -> Tensor:
        r, pool, policy = self.cfg, self.pool, self._policy
        n = len(pool)
        pool.reset()  # every environment plays one whole episode
        active = np.ones(n, dtype=bool)
        obs_l, act_l, rew_l, mask_l = [], [], [], []
        while active.any():
            obs = self._obs(pool.obs)
            with torch.no_grad():
                act = policy.act(obs, generator=self.actions)
            res = pool.step(pool.action_array(act), active)
            obs_l.append(obs)
            act_l.append(act)
            mask_l.append(torch.as_tensor(active.copy()))
            rew_l.append(torch.as_tensor(res.rewards, dtype=torch.float32))
            self._record(res.episodes, int(active.sum()))
            active &= ~(res.terminated | res.truncated)
        mask = torch.stack(mask_l)  # (T, N): the step belongs to the episode
        rew = torch.stack(rew_l)
        ends = mask & ~torch.cat([mask[1:], torch.zeros_like(mask[:1])])  # last step of each
        g = (discounted_returns if r.reward_to_go else episode_returns)(rew, ends, r.gamma)
        obs_t, m = torch.stack(obs_l), mask.to(self.device)
        dist = policy.dist(obs_t.flatten(0, 1))
        logp = dist.log_prob(torch.stack(act_l).flatten(0, 1)).view(mask.shape)
        g = g.to(self.device)
        adv = g
        value_loss = torch.zeros((), device=self.device)
        if "critic" in self.modules:
            v = self._value(obs_t.flatten(0, 1)).view(mask.shape)
            value_loss = ((g - v).pow(2) * m).sum() / m.sum()
            adv = g - v.detach()
            step.log("value_loss", value_loss)
        if r.normalize_advantages:
            sel = adv[m]
            adv = (adv - sel.mean()) / (sel.std() + 1e-8)
        entropy = (dist.entropy().view(mask.shape) * m).sum() / m.sum()
        pg = -(logp * adv * m).sum() / m.sum()
        return pg + r.value_coef * value_loss - r.entropy * entropy

    # ------------------------------------------------------------------ evaluation
    def metrics(self, device: torch.device, *, detailed: bool = False) -> Any:
        self._episodes = self.cfg.test_episodes if detailed else self.cfg.eval_episodes
        return MeanMetrics(device, primary="return", higher_is_better=True)

    def validation_step(self, batch: Any, metrics: Any) -> None:
        returns, lengths = self.play(self._episodes)
        metrics.add("return", float(np.mean(returns)), len(returns))
        metrics.add("return_std", float(np.std(returns)), len(returns))
        metrics.add("length", float(np.mean(lengths)), len(returns))

    @torch.no_grad()
    def play(
        self, episodes: int, *, greedy: bool = True, batch: int = 32
    ) -> tuple[list[float], list[int]]:
        """Returns and lengths of `episodes` episodes with fixed seeds (seed + EVAL_SEED + k),
        `batch` of them stepped together (one policy forward per step for all of them)."""
        from trainlab.rl.envs import make_env

        policy = self._policy
        returns, lengths = [0.0] * episodes, [0] * episodes
        for start in range(0, episodes, batch):
            ks = list(range(start, min(start + batch, episodes)))
            envs = [make_env(self.cfg.env) for _ in ks]
            obs = np.stack(
                [np.asarray(e.reset(seed=self.seed + EVAL_SEED + k)[0], np.float32)
                 for e, k in zip(envs, ks, strict=True)]
            )  # fmt: skip
            active = list(range(len(ks)))
            while active:
                acts = self.pool.action_array(policy.act(self._obs(obs[active]), greedy=greedy))
                still = []
                for a, i in zip(acts, active, strict=True):
                    o, _, te, tr, info = envs[i].step(a)
                    if te or tr:
                        returns[ks[i]] = float(np.asarray(info["episode"]["r"]))
                        lengths[ks[i]] = int(np.asarray(info["episode"]["l"]))
                    else:
                        obs[i] = np.asarray(o, np.float32)
                        still.append(i)
                active = still
            for e in envs:
                e.close()
        return returns, lengths

    def save_test_plots(self, metrics: Any, plots: Any) -> dict[str, str]:
        from pathlib import Path

        from trainlab.rl.plots import returns_figure

        if not self.history:
            return {}
        png = returns_figure(
            self.history, Path(plots) / "returns.png", f"{self.cfg.algo} on {self.cfg.env}"
        )
        return {"episode returns": str(png)}

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, Any]:
        h = torch.tensor(self.history, dtype=torch.float64).reshape(-1, 3)
        return {"pool": self.pool.state_dict(), "actions": self.actions.get_state(),
                "env_steps": self.env_steps, "history": h}  # fmt: skip

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.pool.load_state_dict(state["pool"])
        self.actions.set_state(state["actions"])
        self.env_steps = int(state["env_steps"])
        self.history = [(int(s), float(r), int(n)) for s, r, n in state["history"].tolist()]
