"""Returns and GAE against hand loops; environment replay; the rl task through the engine."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from trainlab.cli import main
from trainlab.rl import discounted_returns, episode_returns, gae
from trainlab.rl.envs import EnvPool


def test_discounted_returns_and_gae_equal_hand_loops() -> None:
    g = torch.Generator().manual_seed(0)
    r = torch.rand(6, 3, generator=g, dtype=torch.float64)
    d = torch.zeros(6, 3, dtype=torch.bool)
    d[2, 0] = d[4, 1] = True
    v = torch.rand(6, 3, generator=g, dtype=torch.float64)
    last = torch.rand(3, generator=g, dtype=torch.float64)
    gamma, lam = 0.9, 0.8
    want_g = torch.empty_like(r)
    want_a = torch.empty_like(r)
    for n in range(3):
        acc, adv = float(last[n]), 0.0
        for t in reversed(range(6)):
            nxt_v = float(last[n]) if t == 5 else float(v[t + 1, n])
            keep = 0.0 if d[t, n] else 1.0
            acc = float(r[t, n]) + gamma * keep * acc
            want_g[t, n] = acc
            delta = float(r[t, n]) + gamma * keep * nxt_v - float(v[t, n])
            adv = delta + gamma * lam * keep * adv
            want_a[t, n] = adv
    torch.testing.assert_close(
        discounted_returns(r, d, gamma, last), want_g, rtol=1e-12, atol=1e-12
    )
    a, ret = gae(r, v, d, last, gamma, lam)
    torch.testing.assert_close(a, want_a, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(ret, want_a + v, rtol=1e-12, atol=1e-12)
    # lambda = 1: GAE is the bootstrapped return minus V
    a1, _ = gae(r, v, d, last, gamma, 1.0)
    torch.testing.assert_close(
        a1, discounted_returns(r, d, gamma, last) - v, rtol=1e-12, atol=1e-12
    )


def test_episode_returns_give_every_step_g0() -> None:
    r = torch.tensor([[1.0], [1.0], [1.0], [2.0], [2.0]])
    d = torch.tensor([[False], [False], [True], [False], [True]])
    out = episode_returns(r, d, 0.5)
    torch.testing.assert_close(out[:, 0], torch.tensor([1.75, 1.75, 1.75, 3.0, 3.0]))
    with pytest.raises(ValueError, match="complete episodes"):
        episode_returns(r[:4], d[:4], 0.5)


def test_env_pool_state_replays_exactly() -> None:
    pool = EnvPool("CartPole-v1", 3, seed=5)
    pool.reset()
    rng = np.random.default_rng(0)
    for _ in range(30):
        pool.step(rng.integers(0, 2, 3))
    state = pool.state_dict()
    twin = EnvPool("CartPole-v1", 3, seed=99)
    twin.load_state_dict(state)
    np.testing.assert_array_equal(twin.obs, pool.obs)
    acts = rng.integers(0, 2, (20, 3))
    for a in acts:
        x, y = pool.step(a), twin.step(a)
        np.testing.assert_array_equal(x.obs, y.obs)
        np.testing.assert_array_equal(x.rewards, y.rewards)


@pytest.mark.slow
@pytest.mark.parametrize("algo", ["a2c", "reinforce"])
def test_rl_runs_resume_exactly(tmp_path: Path, algo: str) -> None:
    base = ["rl", "--algo", algo, "--runs-dir", str(tmp_path), "--no-progress"]
    base += ["--set", "rl.updates_per_epoch=6", "--set", "rl.envs=2", "--set", "rl.eval_episodes=2",
             "--set", "rl.test_episodes=3", "--epochs", "2"]  # fmt: skip
    assert main([*base, "--name", "full"]) == 0
    # stop after the first epoch, then resume: the same weights and history
    assert main([*base[:-1], "1", "--name", "cut"]) == 0
    cfg = tmp_path / "cut" / "config.yaml"
    cfg.write_text(cfg.read_text().replace("epochs: 1", "epochs: 2"))
    assert main(["resume", str(tmp_path / "cut"), "--no-progress"]) == 0
    a = torch.load(tmp_path / "full/checkpoints/last.pt", weights_only=True)
    b = torch.load(tmp_path / "cut/checkpoints/last.pt", weights_only=True)
    for k, v in a["modules"]["policy"].items():
        assert torch.equal(v, b["modules"]["policy"][k]), k
    assert torch.equal(a["task_state"]["history"], b["task_state"]["history"])
    s = json.loads((tmp_path / "full" / "summary.json").read_text())
    assert "return" in s["test"] and (tmp_path / "full/plots/returns.png").is_file()
    assert main(["rl", "eval", str(tmp_path / "full"), "--episodes", "2"]) == 0


def test_rl_bad_input(tmp_path: Path, capsys) -> None:
    assert main(["rl", "--env", "NoSuchEnv-v9", "--runs-dir", str(tmp_path), "--no-progress"]) == 2
    assert "NoSuchEnv-v9" in capsys.readouterr().err
    argv = [
        "rl",
        "--env",
        "Pendulum-v1",
        "--set",
        "rl.action=discrete",
        "--runs-dir",
        str(tmp_path),
    ]
    assert main([*argv, "--no-progress"]) == 2
    assert "continuous" in capsys.readouterr().err
    assert main(["rl", "eval"]) == 2


def _learn(tmp_path: Path, algo: str, steps: int, seed: int) -> dict:
    name = f"{algo}-{seed}"
    argv = ["rl", "--algo", algo, "--steps", str(steps), "--runs-dir", str(tmp_path)]
    argv += ["--name", name, "--no-progress", "--set", f"seed={seed}"]
    assert main(argv) == 0
    return json.loads((tmp_path / name / "summary.json").read_text())


# The budgets below are what the defaults (8 environments, Adam 7e-4, n_steps 5, clip 0.5)
# need on CartPole-v1 with a margin: A2C's 100 greedy test episodes averaged 500.0 at 100k
# steps for seeds 0, 1 and 2; REINFORCE with a value baseline averaged 492 / 462 / 449.
# "Solved" is Gymnasium's threshold 475 over 100 episodes; "learns" is above 195, the old
# CartPole-v0 threshold that the issue names. The test episodes use seeds the training never
# saw (seed + EVAL_SEED + k), and the best checkpoint is picked on 10 validation episodes.
@pytest.mark.slow
def test_a2c_solves_cartpole_within_100k_steps(tmp_path: Path) -> None:
    s = _learn(tmp_path, "a2c", 100_000, seed=0)
    assert s["test"]["return"] >= 475


@pytest.mark.slow
def test_reinforce_with_a_value_baseline_learns_cartpole(tmp_path: Path) -> None:
    s = _learn(tmp_path, "reinforce", 60_000, seed=0)
    assert s["test"]["return"] > 195
    # whole episodes: the run ends after the epoch in which the budget was spent
    assert s["stopped"].startswith("rl.steps = 60000 environment steps played"), s["stopped"]


@pytest.mark.experiment
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a2c_and_reinforce_learn_for_other_seeds(tmp_path: Path, seed: int) -> None:
    assert _learn(tmp_path, "a2c", 100_000, seed)["test"]["return"] >= 475
    assert _learn(tmp_path, "reinforce", 100_000, seed)["test"]["return"] > 195


def test_gaussian_policy_for_a_box_action_space(tmp_path: Path) -> None:
    from torch.distributions import Normal

    from trainlab.rl.policy import Policy

    pi = Policy(3, 2, continuous=True, log_std=-0.5)
    obs = torch.randn(5, 3, generator=torch.Generator().manual_seed(0))
    a = pi.act(obs, generator=torch.Generator().manual_seed(1))
    mean = pi.net(obs)
    want = Normal(mean, torch.full_like(mean, float(np.exp(-0.5)))).log_prob(a).sum(-1)
    torch.testing.assert_close(pi.dist(obs).log_prob(a), want)
    assert torch.equal(pi.act(obs, greedy=True), mean)
    # Pendulum-v1 (a Box of one torque in [-2, 2]) trains through the engine with a2c
    argv = ["rl", "--env", "Pendulum-v1", "--algo", "a2c", "--runs-dir", str(tmp_path)]
    argv += ["--name", "p", "--no-progress", "--epochs", "1", "--set", "rl.updates_per_epoch=5",
             "--set", "rl.envs=2", "--set", "rl.eval_episodes=1", "--set", "rl.test_episodes=1"]  # fmt: skip
    assert main(argv) == 0
    s = json.loads((tmp_path / "p" / "summary.json").read_text())
    assert s["test"]["length"] == 200 and -16.3 * 200 <= s["test"]["return"] <= 0
    ck = torch.load(tmp_path / "p/checkpoints/last.pt", weights_only=True)
    assert ck["modules"]["policy"]["log_std"].shape == (1,)
