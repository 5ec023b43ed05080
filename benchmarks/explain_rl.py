"""Integrated-gradients throughput and A2C environment throughput (issue 21).

    python -m benchmarks.explain_rl [--repeats 5] [--threads 0] [--clock wall|cpu]
                                    [--steps 64] [--cases cnn,resnet18] [--rl-steps 4000]

1. Integrated gradients, images/s of `trainlab.explain.integrated_gradients` against Captum's
   `IntegratedGradients.attribute` with the same model, inputs, target classes, baseline
   (zeros), `--steps` Gauss-Legendre nodes, path points per pass (`--rows`, default 256,
   trainlab's default; Captum's `internal_batch_size` set to the same) and the
   completeness delta returned by both (`return_convergence_delta=True`): the digits CNN
   (1x8x8, 64 images) and resnet18 at 3x32x32 (8 images). The two attributions are checked
   to agree before timing (max |difference| printed). Captum is an optional comparison
   library (`../shared/tools/peer-env.sh captum`); without it that column prints "skipped".
2. A2C on CartPole-v1, environment steps per second of training (rollouts of n_steps = 5,
   the forward passes, GAE, backward and Adam step) with 1 and 8 environments: trainlab's
   `rl` task run by the engine (`Trainer.train_epoch`), against Stable Baselines3's `A2C`
   (`learn`, MlpPolicy with the same 64-64 networks, DummyVecEnv) when it is installed
   (`../shared/tools/peer-env.sh stable-baselines3`), and the raw stepping rate of the same
   environments with random actions (the ceiling no learner can pass).

Medians over the repeats, after a warm-up; the order of the cases is shuffled every round
(seeded). On a shared CPU prefer `--threads 1 --clock cpu`.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from benchmarks._timing import shuffled_rounds
from trainlab.explain import integrated_gradients
from trainlab.models import create_model

CASES = {"cnn": ((1, 8, 8), 64), "resnet18": ((3, 32, 32), 8)}


def _optional(name: str) -> tuple[Any | None, str]:
    try:
        module = __import__(name)
    except Exception as e:  # ImportError, or a dependency failing to import
        return None, f"skipped ({type(e).__name__})"
    return module, f"{name} {getattr(module, '__version__', '?')}"


def _median_rates(
    runs: dict[str, Callable[[], object]], units: float, repeats: int, clock, seed: int
) -> dict[str, float]:
    for fn in runs.values():  # warm-up
        fn()
    times = shuffled_rounds(runs, repeats, seed=seed, clock=clock)
    return {k: units / statistics.median(v) for k, v in times.items()}


def _ig_case(name: str, captum: Any | None, args: argparse.Namespace, clock) -> None:
    shape, batch = CASES[name]
    torch.manual_seed(0)
    model = create_model(name, num_classes=10, in_shape=shape).eval()
    x = torch.randn(batch, *shape, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        t = model(x).argmax(1)

    def ours() -> Any:
        return integrated_gradients(model, x, t, steps=args.steps, batch_size=args.rows)

    runs: dict[str, Callable[[], object]] = {"trainlab": ours}
    diff = "-"
    if captum is not None:
        from captum.attr import IntegratedGradients

        ig = IntegratedGradients(model)

        def ref() -> Any:
            return ig.attribute(x, baselines=0.0, target=t, n_steps=args.steps,
                                method="gausslegendre", internal_batch_size=args.rows,
                                return_convergence_delta=True)  # fmt: skip

        runs["captum"] = ref
        diff = f"{(ours().attributions - ref()[0]).abs().max().item():10.2e}"
    rate = _median_rates(runs, batch, args.repeats, clock, seed=0)
    has = "captum" in rate
    ref_s = f"{rate['captum']:13.1f}" if has else f"{'skipped':>13}"
    ratio = f"{rate['trainlab'] / rate['captum']:6.2f}" if has else "     -"
    print(f"{name:10} {batch:5d} {rate['trainlab']:15.1f} {ref_s} {ratio} {diff:>10}", flush=True)


def bench_ig(args: argparse.Namespace, clock) -> None:
    captum, note = _optional("captum")
    print(f"\nintegrated gradients, {args.steps} Gauss-Legendre steps, zero baseline, "
          f"{args.rows} rows per pass; {note}")  # fmt: skip
    print(f"{'model':10} {'batch':>5} {'trainlab img/s':>15} {'captum img/s':>13} {'ratio':>6} "
          f"{'max |diff|':>10}")  # fmt: skip
    for name in args.cases.split(","):
        _ig_case(name, captum, args, clock)


def _trainlab_a2c(envs: int, updates: int) -> Callable[[], object]:
    from trainlab.cli.rl import RL_DEFAULTS
    from trainlab.recipes import load_config
    from trainlab.train import Trainer
    from trainlab.train.build import build_data

    sets = [f"{k}={v}" for k, v in RL_DEFAULTS.items()]
    sets += [f"rl.envs={envs}", f"rl.updates_per_epoch={updates}", "log.every_steps=0",
             "train.device=cpu", f"runs_dir={tempfile.mkdtemp()}"]  # fmt: skip
    config = load_config(overrides=sets)
    trainer = Trainer(config, build_data(config))
    epoch = iter(range(10**6))
    return lambda: trainer.train_epoch(next(epoch))


def _sb3_a2c(sb3: Any, envs: int, steps: int) -> Callable[[], object]:
    from stable_baselines3.common.env_util import make_vec_env

    vec = make_vec_env("CartPole-v1", n_envs=envs, seed=0)
    model = sb3.A2C("MlpPolicy", vec, n_steps=5, seed=0, device="cpu", verbose=0)
    return lambda: model.learn(total_timesteps=steps, reset_num_timesteps=False)


def _random_steps(envs: int, steps: int) -> Callable[[], object]:
    from trainlab.rl.envs import EnvPool

    pool = EnvPool("CartPole-v1", envs, seed=0)
    pool.reset()
    rng = np.random.default_rng(0)

    def run() -> None:
        for _ in range(steps // envs):
            pool.step(rng.integers(0, 2, envs))

    return run


def bench_a2c(args: argparse.Namespace, clock) -> None:
    sb3, note = _optional("stable_baselines3")
    print(f"\nA2C on CartPole-v1 (n_steps 5), environment steps/s of training; {note}")
    print(f"{'envs':>4} {'trainlab':>10} {'sb3':>10} {'ratio':>6} {'random actions':>15}")
    for envs in (1, 8):
        updates = max(1, args.rl_steps // (5 * envs))
        steps = updates * 5 * envs
        runs: dict[str, Callable[[], object]] = {
            "trainlab": _trainlab_a2c(envs, updates),
            "random": _random_steps(envs, steps),
        }
        if sb3 is not None:
            runs["sb3"] = _sb3_a2c(sb3, envs, steps)
        rate = _median_rates(runs, steps, args.repeats, clock, seed=envs)
        has = "sb3" in rate
        ref_s = f"{rate['sb3']:10.0f}" if has else f"{'skipped':>10}"
        ratio = f"{rate['trainlab'] / rate['sb3']:6.2f}" if has else "     -"
        print(f"{envs:4d} {rate['trainlab']:10.0f} {ref_s} {ratio} {rate['random']:15.0f}",
              flush=True)  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: leave as is)")
    ap.add_argument("--clock", choices=("wall", "cpu"), default="wall")
    ap.add_argument("--steps", type=int, default=64, help="integrated-gradients steps")
    ap.add_argument("--cases", default="cnn,resnet18")
    ap.add_argument("--rows", type=int, default=256, help="IG rows per pass (both libraries)")
    ap.add_argument("--rl-steps", type=int, default=4000, help="environment steps per timing")
    ap.add_argument("--skip-ig", action="store_true")
    ap.add_argument("--skip-rl", action="store_true")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)  # a benchmark script, not library code
    clock = time.process_time if args.clock == "cpu" else time.perf_counter
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {args.clock} clock")
    if not args.skip_ig:
        bench_ig(args, clock)
    if not args.skip_rl:
        bench_a2c(args, clock)


if __name__ == "__main__":
    main()
