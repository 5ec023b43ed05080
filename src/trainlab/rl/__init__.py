"""Reinforcement learning (F3 on RL) on Gymnasium: REINFORCE with a baseline and A2C as an
engine task (`task.name: rl`), with returns, GAE, policies and resumable environments."""

from trainlab.rl.policy import Critic, Policy
from trainlab.rl.returns import discounted_returns, episode_returns, gae

__all__ = ["Critic", "Policy", "discounted_returns", "episode_returns", "gae"]
