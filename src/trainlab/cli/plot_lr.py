"""`trainlab plot-lr`: the lr schedule a config would produce, drawn before any training."""

from __future__ import annotations

import argparse
from typing import Any

from trainlab.cli._common import add_config_args, load
from trainlab.errors import ConfigError


def register(sub: Any) -> None:
    pl = sub.add_parser(
        "plot-lr", help="draw the lr schedule a config would produce (PNG + CSV), no training"
    )
    add_config_args(pl)
    pl.add_argument("--data", metavar="PATH", help="the data (sets the steps per epoch)")
    pl.add_argument("--target", metavar="COLUMN", help="CSV: the column to predict")
    pl.add_argument("--model", metavar="NAME", help="a registered model")
    pl.add_argument("--epochs", metavar="N", type=int, help="number of epochs")
    pl.add_argument("--out", metavar="DIR", default=".", help="where lr.png and lr.csv go")
    pl.add_argument("--log", action="store_true", help="logarithmic lr axis")
    pl.set_defaults(func=cmd_plot_lr)


def cmd_plot_lr(args: argparse.Namespace) -> int:
    """The lr of every param group at every step of the configured run, before training."""
    from pathlib import Path

    from trainlab.data import make_loader
    from trainlab.schedules import plot_lr
    from trainlab.train.build import (
        build_data,
        build_model,
        build_optimizer_from_config,
        build_schedule,
    )

    config = load(args)
    data = build_data(config)
    loader = make_loader(data.train, config.data.batch_size, drop_last=True)
    steps_per_epoch = -(-len(loader) // config.train.accumulate)
    if steps_per_epoch == 0:
        raise ConfigError(
            f"data.batch_size = {config.data.batch_size}: larger than the training split "
            f"({data.meta()['sizes'][0]} samples), so an epoch has no step"
        )
    model = build_model(config, data.num_outputs, data.in_shape, task=data.task)
    optimizer = build_optimizer_from_config(config, model)
    schedule = build_schedule(config, steps_per_epoch)
    out = Path(args.out)
    total = config.train.epochs * steps_per_epoch
    s = config.sched
    title = f"{s.name} ({config.optim.name}, lr {config.optim.lr:g}), {config.train.epochs} epochs"
    rows = plot_lr(
        schedule,
        optimizer,
        total,
        out / "lr.png",
        out / "lr.csv",
        epoch_steps=steps_per_epoch,
        title=title,
        log_scale=args.log,
    )
    peak = max(max(r[2:]) for r in rows)
    print(
        f"wrote {out / 'lr.png'} and {out / 'lr.csv'}: {total} steps "
        f"({config.train.epochs} epochs x {steps_per_epoch}), "
        f"{len(optimizer.param_groups)} param group(s), peak lr {peak:.4g}, "
        f"last lr {rows[-1][2]:.4g}"
    )
    return 0
