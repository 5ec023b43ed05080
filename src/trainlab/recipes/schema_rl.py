"""The `rl` section: reinforcement learning on Gymnasium environments (trainlab.rl)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from trainlab.recipes.section import Section


class RLConfig(Section):
    """The environment, the algorithm and its hyperparameters (`task.name: rl`)."""

    env: str = Field("CartPole-v1", description="a Gymnasium environment id")
    algo: Literal["reinforce", "a2c"] = "a2c"
    action: Literal["auto", "discrete", "continuous"] = Field(
        "auto", description="the policy's kind; auto follows the environment's action space"
    )
    envs: int = Field(8, ge=1, description="environments stepped together")
    n_steps: int = Field(5, ge=1, description="a2c: steps per environment per update")
    steps: int = Field(
        200_000, ge=1, description="environment steps to train for (a2c: sets the epochs)"
    )
    updates_per_epoch: int = Field(100, ge=1, description="updates between evaluations")
    gamma: float = Field(0.99, ge=0, le=1, description="discount factor")
    gae_lambda: float = Field(1.0, ge=0, le=1, description="a2c: GAE lambda (1: n-step returns)")
    entropy: float = Field(0.0, ge=0, description="entropy bonus coefficient")
    value_coef: float = Field(0.5, ge=0, description="weight of the critic's loss")
    baseline: Literal["none", "value"] = Field(
        "value", description="reinforce: subtract a learned V(s) from the returns"
    )
    reward_to_go: bool = Field(True, description="reinforce: G_t from step t on, not G_0")
    normalize_advantages: bool = False
    hidden: tuple[int, ...] = Field((64, 64), description="hidden widths of policy and critic")
    log_std: float = Field(0.0, description="continuous: the initial log sigma")
    eval_episodes: int = Field(10, ge=1, description="greedy episodes per validation")
    test_episodes: int = Field(100, ge=1, description="greedy episodes of the final test")
