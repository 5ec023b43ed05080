"""`trainlab eval`: the metrics of a run's best checkpoint, on its test split or other data."""

from __future__ import annotations

import argparse
from typing import Any

from trainlab.cli._common import console, load_run, print_summary
from trainlab.errors import CheckpointError


def register(sub: Any) -> None:
    e = sub.add_parser("eval", help="metrics of a run's best checkpoint")
    e.add_argument("run_dir", metavar="RUN_DIR")
    e.add_argument("--data", metavar="PATH", help="evaluate on every sample of this data")
    e.add_argument("--target", metavar="COLUMN", help="CSV: the target column")
    e.set_defaults(func=cmd_eval)


def cmd_eval(args: argparse.Namespace) -> int:
    from trainlab.data import load_for_eval
    from trainlab.losses import loss_from_config
    from trainlab.train import load_checkpoint
    from trainlab.train.build import build_data, build_model
    from trainlab.train.evaluate import evaluate

    run, config = load_run(args.run_dir)
    path = run.best if run.best.is_file() else run.last
    state = load_checkpoint(path)
    meta = state["data"]
    if config.task.name != "supervised":
        return _eval_task(args, run, config, state, path)
    if args.data is None:
        split, where = build_data(config).test, f"{config.data.source} (test split)"
    else:
        target = args.target or config.data.target
        split = load_for_eval(
            args.data,
            meta,
            target=target,
            image_size=config.data.image_size,
            layout=config.data.layout,
        )
        where = args.data
    model = build_model(config, meta["num_outputs"], tuple(meta["in_shape"]), task=meta["task"])
    model.load_state_dict(state["modules"]["model"])
    png = run.plots / "confusion_eval.png" if meta["task"] == "classification" else None
    if split is None:
        raise CheckpointError(f"{run.path}: the run's data has no test split; pass --data")
    metrics = evaluate(
        model,
        split,
        loss_from_config(config, meta["task"]),
        task=meta["task"],
        batch_size=config.data.eval_batch_size,
        target_scale=meta["target_scale"],
        detailed=True,
        confusion_png=png,
    )
    title = f"{path.name} (epoch {state['epoch']}) on {where}"
    samples = len(split)  # type: ignore[arg-type]
    extra = {"samples": samples} | ({"confusion matrix": str(png)} if png else {})
    print_summary(console(), title, metrics, extra)
    return 0


def _eval_task(args: argparse.Namespace, run: Any, config: Any, state: Any, path: Any) -> int:
    """Another task (sft, mlm, ...): its own metrics on the test split, through the engine."""
    from trainlab.errors import ConfigError
    from trainlab.train import Trainer
    from trainlab.train.build import build_data

    if args.data is not None:
        raise ConfigError(
            f"--data: task {config.task.name!r} is evaluated on its run's test split only"
        )
    data = build_data(config)
    if data.test is None:
        raise CheckpointError(f"{run.path}: the run's data has no test split")
    trainer = Trainer(config, data)
    for name, module in trainer.task.modules.items():
        module.load_state_dict(state["modules"][name])
    metrics, _ = trainer.evaluate(data.test, detailed=True)
    title = f"{path.name} (epoch {state['epoch']}, task {config.task.name}) on the test split"
    print_summary(console(), title, metrics, {"samples": len(data.test)})  # type: ignore[arg-type]
    return 0
