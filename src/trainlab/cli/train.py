"""`trainlab train` and `trainlab resume`."""

from __future__ import annotations

import argparse
from typing import Any

import yaml

from trainlab.cli._common import (
    add_config_args,
    add_run_args,
    console,
    load,
    load_run,
    print_summary,
)
from trainlab.errors import CheckpointError


def register(sub: Any) -> None:
    t = sub.add_parser("train", help="train a model (default: the default recipe on digits)")
    add_config_args(t)
    t.add_argument("--recipe", metavar="NAME", help="start from a named recipe (trainlab recipes)")
    add_run_args(t)
    t.add_argument("--print-config", action="store_true", help="print the config and exit")
    t.set_defaults(func=cmd_train)

    r = sub.add_parser("resume", help="continue a stopped run from its last checkpoint")
    r.add_argument("run_dir", metavar="RUN_DIR")
    r.add_argument("--no-progress", action="store_true", help="no progress bar")
    r.set_defaults(func=cmd_resume)


def fit(trainer: Any, out: Any) -> int:
    """Run `trainer.fit()` and print its test summary; 130 on a stop request, 1 on divergence."""
    from trainlab.train import TrainingDiverged, TrainingInterrupted

    try:
        summary = trainer.fit()
    except TrainingInterrupted as e:
        out.print(
            f"[yellow]{e}; checkpoint saved.[/] Continue with: trainlab resume {trainer.run.path}"
        )
        return 130
    except TrainingDiverged as e:
        console(stderr=True).print(f"trainlab: error: {e}")
        return 1
    print_summary(
        out,
        "test (best checkpoint, epoch {})".format(summary["best_epoch"]),
        {f"test_{k}": v for k, v in summary["test"].items()},
        {"train time": f"{summary['train_seconds']:.1f} s", "run directory": summary["run_dir"]}
        | dict(summary.get("plots") or {}),  # the task's test pictures
    )
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    config = load(args)
    if args.print_config:  # validated, and without importing torch
        print(yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False), end="")
        return 0
    from trainlab.experiments import check_fits
    from trainlab.train import RunDir, Trainer
    from trainlab.train.build import build_data
    from trainlab.train.progress import ConsoleReporter

    data = build_data(config)
    check_fits(config, data.in_shape)
    run = RunDir.create(config.runs_dir, config.name)
    run.write_config(config.model_dump(mode="json"))
    out = console()
    reporter = ConsoleReporter(out, progress=False if args.no_progress else None)
    return fit(Trainer(config, data, run, [reporter]), out)


def cmd_resume(args: argparse.Namespace) -> int:
    from trainlab.train import Trainer, load_checkpoint
    from trainlab.train.build import build_data
    from trainlab.train.progress import ConsoleReporter

    run, config = load_run(args.run_dir)
    if not run.last.is_file():
        raise CheckpointError(f"{run.path}: no checkpoint to resume from (checkpoints/last.pt)")
    state = load_checkpoint(run.last)
    data = build_data(config)
    if list(data.meta()["sizes"]) != list(state["data"]["sizes"]):
        raise CheckpointError(
            f"{config.data.source}: the data changed since the run started "
            f"(split sizes {data.meta()['sizes']}, checkpoint {state['data']['sizes']})"
        )
    out = console()
    reporter = ConsoleReporter(out, progress=False if args.no_progress else None)
    # the placement the run chose (maybe measured) is kept: the paths draw differently
    trainer = Trainer(config, data, run, [reporter], placement=state.get("augment_placement"))
    trainer.load_state_dict(state)
    out.print(
        f"resuming {run.path} at epoch {trainer.epoch + 1}, step {trainer.step}"
        if trainer.epoch < config.train.epochs
        else f"{run.path} already finished; testing its best checkpoint"
    )
    return fit(trainer, out)
