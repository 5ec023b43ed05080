"""`trainlab rl`: train a policy on a Gymnasium environment; `trainlab rl eval RUN`."""

from __future__ import annotations

import argparse
from typing import Any

from trainlab.cli._common import console, load_run, print_summary
from trainlab.errors import ConfigError

# the engine defaults that suit RL (Stable Baselines3's A2C: lr 7e-4, grad norm 0.5)
RL_DEFAULTS = {
    "task.name": "rl",
    "optim.name": "adam",
    "optim.lr": 7e-4,
    "optim.weight_decay": 0.0,
    "sched.name": "constant",
    "sched.warmup_epochs": 0,
    "data.batch_size": 1,
    "regularize.clip_grad_norm": 0.5,
}


def register(sub: Any) -> None:
    p = sub.add_parser(
        "rl",
        help="reinforcement learning on a Gymnasium environment (REINFORCE, A2C)",
        description="Train a policy (and critic) on a Gymnasium environment with the engine: "
        "the same run directory, checkpoints, exact resume (`trainlab resume RUN`) and "
        "progress as any run; `trainlab rl eval RUN --episodes 100` plays the best policy.",
        epilog="examples:\n  trainlab rl --env CartPole-v1 --algo a2c --steps 200000\n"
        "  trainlab rl --env CartPole-v1 --algo reinforce --epochs 20\n"
        "  trainlab rl eval runs/NAME --episodes 100",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("mode", nargs="*", metavar="eval RUN", help="`eval RUN_DIR` to play a run")
    p.add_argument("--env", help="a Gymnasium environment id (default CartPole-v1)")
    p.add_argument("--algo", choices=["reinforce", "a2c"])
    p.add_argument("--steps", type=int, help="environment steps (a2c: sets the epochs)")
    p.add_argument("--epochs", type=int, help="reinforce: epochs of rl.updates_per_epoch updates")
    p.add_argument("--episodes", type=int, default=100, help="eval: episodes to play")
    p.add_argument("--config", metavar="FILE", help="YAML config; keys override the defaults")
    p.add_argument("--set", metavar="KEY=VALUE", action="append", default=[], help="any config key")
    p.add_argument("--name", help="run name")
    p.add_argument("--runs-dir", metavar="DIR", help="parent of run directories (default runs)")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=cmd_rl)


def cmd_rl(args: argparse.Namespace) -> int:
    if args.mode:
        if args.mode[0] != "eval" or len(args.mode) != 2:
            raise ConfigError(
                f"rl {' '.join(args.mode)}: expected `rl eval RUN_DIR` or no argument"
            )
        return _eval(args.mode[1], args.episodes)
    from trainlab.cli.train import fit
    from trainlab.recipes import load_config
    from trainlab.rl.task import RLTask
    from trainlab.train import RunDir, Trainer
    from trainlab.train.build import build_data
    from trainlab.train.progress import ConsoleReporter

    values: dict[str, Any] = dict(RL_DEFAULTS)
    for key, v in {"rl.env": args.env, "rl.algo": args.algo, "rl.steps": args.steps,
                   "train.epochs": args.epochs, "name": args.name, "runs_dir": args.runs_dir}.items():  # fmt: skip
        if v is not None:
            values[key] = v
    config = load_config(args.config, list(args.set), values=values)
    if config.rl.algo == "a2c" and args.epochs is None:
        config.train.epochs = RLTask.epochs_for(config)
    data = build_data(config)
    run = RunDir.create(config.runs_dir, config.name)
    run.write_config(config.model_dump(mode="json"))
    out = console()
    reporter = ConsoleReporter(out, progress=False if args.no_progress else None)
    return fit(Trainer(config, data, run, [reporter]), out)


def _eval(run_dir: str, episodes: int) -> int:
    import numpy as np

    from trainlab.train import Trainer, load_checkpoint
    from trainlab.train.build import build_data

    if episodes < 1:
        raise ConfigError(f"--episodes {episodes}: expected >= 1")
    run, config = load_run(run_dir)
    if config.task.name != "rl":
        raise ConfigError(f"{run.path}: not an rl run (task {config.task.name})")
    path = run.best if run.best.is_file() else run.last
    trainer = Trainer(config, build_data(config))
    trainer.load_state_dict(load_checkpoint(path))
    returns, lengths = trainer.task.play(episodes)  # type: ignore[attr-defined]
    print_summary(
        console(),
        f"{config.rl.env}: {episodes} greedy episodes of {path.name}",
        {
            "return": float(np.mean(returns)),
            "return_std": float(np.std(returns)),
            "length": float(np.mean(lengths)),
        },
        {"min / max return": f"{min(returns):g} / {max(returns):g}"},
    )
    return 0
