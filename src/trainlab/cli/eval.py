"""`trainlab eval`: the metrics of a run's best checkpoint, on its test split or other data."""

from __future__ import annotations

import argparse
from typing import Any

from trainlab.cli import _early_exit
from trainlab.cli._common import console, load_run, print_summary
from trainlab.cli.robustness import add_attack_args, eval_attack
from trainlab.errors import CheckpointError


def register(sub: Any) -> None:
    e = sub.add_parser("eval", help="metrics of a run's best checkpoint")
    e.add_argument("run_dir", metavar="RUN_DIR")
    e.add_argument("--data", metavar="PATH", help="evaluate on every sample of this data")
    e.add_argument("--target", metavar="COLUMN", help="CSV: the target column")
    e.add_argument("--early-exit", nargs="?", const="max_softmax", choices=["max_softmax", "entropy"],
                   help="accuracy / FLOPs sweep of an early_exit run's thresholds")  # fmt: skip
    add_attack_args(e)
    e.set_defaults(func=cmd_eval)


def eval_split(
    args: argparse.Namespace, run: Any, config: Any, meta: dict[str, Any], data: Any = None
) -> tuple[Any, str]:
    """(split, where): `--data` prepared as the run's training data, else the run's test
    split (from `data` when already built)."""
    from trainlab.data import load_for_eval
    from trainlab.train.build import build_data

    if args.data is None:
        split = (data if data is not None else build_data(config)).test
        where = f"{config.data.source} (test split)"
    else:
        split = load_for_eval(args.data, meta, target=args.target or config.data.target)
        where = args.data
    if split is None:
        raise CheckpointError(f"{run.path}: the run's data has no test split; pass --data")
    return split, where


def cmd_eval(args: argparse.Namespace) -> int:
    if args.attack is not None:  # clean and robust accuracy (trainlab.cli.robustness)
        return eval_attack(args)
    from trainlab.losses import loss_from_config
    from trainlab.train import load_checkpoint
    from trainlab.train.build import build_data, build_model
    from trainlab.train.evaluate import evaluate

    if args.early_exit:  # the accuracy / FLOPs sweep of an early_exit run
        return _early_exit.early_exit_eval(args)
    run, config = load_run(args.run_dir)
    path = run.best if run.best.is_file() else run.last
    state = load_checkpoint(path)
    meta = state["data"]
    data = build_data(config) if args.data is None or config.task.name != "supervised" else None
    split, where = eval_split(args, run, config, meta, data)
    title = f"{path.name} (epoch {state['epoch']}) on {where}"
    if config.task.name != "supervised":
        return _eval_task(config, data, state, split, title)
    model = build_model(config, meta["num_outputs"], tuple(meta["in_shape"]), task=meta["task"])
    from trainlab.compress.structured import resize_to_state_dict

    resize_to_state_dict(model, state["modules"]["model"])  # a structurally pruned run
    model.load_state_dict(state["modules"]["model"])
    png = run.plots / "confusion_eval.png" if meta["task"] == "classification" else None
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
    samples = len(split)
    extra = {"samples": samples} | ({"confusion matrix": str(png)} if png else {})
    print_summary(console(), title, metrics, extra)
    return 0


def _eval_task(config: Any, data: Any, state: dict[str, Any], split: Any, title: str) -> int:
    """Any other engine task: its own metrics (`Task.validation_step` / `Task.metrics`) of
    the checkpoint's modules, computed by the engine exactly as in training."""
    from trainlab.train import Trainer

    trainer = Trainer(config, data)
    trainer.load_state_dict(state)
    metrics, _ = trainer.evaluate(split, detailed=True)
    print_summary(console(), title, metrics, {"samples": len(split), "task": config.task.name})
    return 0
