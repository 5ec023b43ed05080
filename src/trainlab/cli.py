"""The `trainlab` command: train | resume | eval | plot-lr | models.

The only module that parses arguments or prints for people. Bad input of any kind ends
with one line on stderr naming what was wrong and what was expected, exit code 2, and no
traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

import yaml

from trainlab import __version__
from trainlab.errors import CheckpointError, ConfigError, UserError

EXAMPLES = """\
examples:
  trainlab train                                  the default recipe on the embedded digits
  trainlab train --model mlp --epochs 10          another model, fewer epochs
  trainlab train --data my.npz                    your arrays: x (N, ...), y (N,)
  trainlab train --data houses.csv --target price regression from a CSV
  trainlab train --data photos/                   an image folder photos/<class>/*.png
  trainlab train --set optim.lr=1e-3 --set optim.name=sgd
  trainlab train --print-config                   show the resolved config and exit
  trainlab resume runs/NAME                       continue a stopped run exactly
  trainlab eval runs/NAME --data other.npz        metrics of the best checkpoint
  trainlab plot-lr --set sched.name=step --set sched.params.step_size=10
                                                  look at the lr curve before training
"""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # argparse's own usage errors: exit 2
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="trainlab",
        description="Train, resume and evaluate models with the techniques of the notes.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--version", action="version", version=f"trainlab {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    t = sub.add_parser("train", help="train a model (default: the default recipe on digits)")
    t.add_argument("--config", metavar="FILE", help="YAML config; keys override the defaults")
    t.add_argument("--data", metavar="PATH", help="'digits', a .npz, a .csv or an image folder")
    t.add_argument("--target", metavar="COLUMN", help="CSV: the column to predict")
    t.add_argument(
        "--task", choices=["auto", "classification", "regression", "multilabel", "segmentation"]
    )
    t.add_argument("--model", metavar="NAME", help="a registered model (see `trainlab models`)")
    t.add_argument("--epochs", metavar="N", type=int, help="number of epochs")
    t.add_argument(
        "--set",
        metavar="KEY=VALUE",
        action="append",
        default=[],
        help="override any config key, e.g. --set optim.lr=3e-3 (repeatable)",
    )
    t.add_argument("--name", help="run name: the run directory is RUNS_DIR/NAME")
    t.add_argument("--runs-dir", metavar="DIR", help="parent of run directories (default runs)")
    t.add_argument("--print-config", action="store_true", help="print the config and exit")
    t.add_argument("--no-progress", action="store_true", help="no progress bar")

    r = sub.add_parser("resume", help="continue a stopped run from its last checkpoint")
    r.add_argument("run_dir", metavar="RUN_DIR")
    r.add_argument("--no-progress", action="store_true", help="no progress bar")

    e = sub.add_parser("eval", help="metrics of a run's best checkpoint")
    e.add_argument("run_dir", metavar="RUN_DIR")
    e.add_argument("--data", metavar="PATH", help="evaluate on every sample of this data")
    e.add_argument("--target", metavar="COLUMN", help="CSV: the target column")

    pl = sub.add_parser(
        "plot-lr", help="draw the lr schedule a config would produce (PNG + CSV), no training"
    )
    pl.add_argument("--config", metavar="FILE", help="YAML config; keys override the defaults")
    pl.add_argument("--data", metavar="PATH", help="the data (sets the steps per epoch)")
    pl.add_argument("--target", metavar="COLUMN", help="CSV: the column to predict")
    pl.add_argument("--model", metavar="NAME", help="a registered model")
    pl.add_argument("--epochs", metavar="N", type=int, help="number of epochs")
    pl.add_argument(
        "--set", metavar="KEY=VALUE", action="append", default=[], help="override a config key"
    )
    pl.add_argument("--out", metavar="DIR", default=".", help="where lr.png and lr.csv go")
    pl.add_argument("--log", action="store_true", help="logarithmic lr axis")
    pl.set_defaults(task=None, name=None, runs_dir=None)

    m = sub.add_parser(
        "models",
        help="list the registered models, or `models show NAME` for parameters and FLOPs",
        epilog="examples:\n  trainlab models 'resnet*'\n"
        "  trainlab models show convnext_tiny --input 3x224x224 --depth 2",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    m.add_argument("pattern", nargs="?", default="*", help="shell pattern, e.g. 'resnet*'")
    m.add_argument("name", nargs="?", help="with `show`: the model to summarize")
    m.add_argument("--input", default="3x224x224", help="`show`: one sample's shape, CxHxW")
    m.add_argument("--classes", type=int, default=1000, help="`show`: number of classes")
    m.add_argument("--depth", type=int, help="`show`: aggregate rows to this module depth")
    return p


def _shortcuts(args: argparse.Namespace) -> dict[str, Any]:
    """The shortcut flags as config values, taken as typed (`--name 2024` stays a string)."""
    pairs = {
        "data.source": args.data,
        "data.target": args.target,
        "data.task": args.task,
        "model.name": args.model,
        "train.epochs": args.epochs,
        "name": args.name,
        "runs_dir": args.runs_dir,
    }
    return {k: v for k, v in pairs.items() if v is not None}


def _load(args: argparse.Namespace) -> Any:
    from trainlab.recipes import load_config

    return load_config(args.config, list(args.set), values=_shortcuts(args))


def _console(stderr: bool = False) -> Any:
    from rich.console import Console

    return Console(stderr=stderr, highlight=False)


def _print_summary(console: Any, title: str, metrics: dict[str, float], extra: dict) -> None:
    from rich.table import Table

    console.print(f"[bold]{title}[/]", soft_wrap=True)
    table = Table(show_header=False)
    for k, v in metrics.items():
        shown = f"{100 * v:.2f}%" if k.endswith("acc") else f"{v:.4f}"
        table.add_row(k, shown)
    for k, v in extra.items():
        table.add_row(k, str(v))
    console.print(table)


def _load_run(run_dir: str) -> tuple[Any, Any]:
    from trainlab.recipes import validate
    from trainlab.train import RunDir

    run = RunDir.open(run_dir)
    try:
        config = validate(run.read_config())
    except ConfigError as e:
        raise ConfigError(f"{run.config}: {e}") from None
    return run, config


def _fit(trainer: Any, console: Any) -> int:
    from trainlab.train import TrainingDiverged, TrainingInterrupted

    try:
        summary = trainer.fit()
    except TrainingInterrupted as e:
        console.print(
            f"[yellow]{e}; checkpoint saved.[/] Continue with: trainlab resume {trainer.run.path}"
        )
        return 130
    except TrainingDiverged as e:
        _console(stderr=True).print(f"trainlab: error: {e}")
        return 1
    _print_summary(
        console,
        "test (best checkpoint, epoch {})".format(summary["best_epoch"]),
        {f"test_{k}": v for k, v in summary["test"].items()},
        {"train time": f"{summary['train_seconds']:.1f} s", "run directory": summary["run_dir"]}
        | dict(summary.get("plots") or {}),  # the task's test pictures
    )
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    config = _load(args)
    if args.print_config:  # validated, and without importing torch
        print(yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False), end="")
        return 0
    from trainlab.train import RunDir, Trainer
    from trainlab.train.build import build_data
    from trainlab.train.progress import ConsoleReporter

    data = build_data(config)
    run = RunDir.create(config.runs_dir, config.name)
    run.write_config(config.model_dump(mode="json"))
    console = _console()
    reporter = ConsoleReporter(console, progress=False if args.no_progress else None)
    return _fit(Trainer(config, data, run, [reporter]), console)


def cmd_resume(args: argparse.Namespace) -> int:
    from trainlab.train import Trainer, load_checkpoint
    from trainlab.train.build import build_data
    from trainlab.train.progress import ConsoleReporter

    run, config = _load_run(args.run_dir)
    if not run.last.is_file():
        raise CheckpointError(f"{run.path}: no checkpoint to resume from (checkpoints/last.pt)")
    state = load_checkpoint(run.last)
    data = build_data(config)
    if list(data.meta()["sizes"]) != list(state["data"]["sizes"]):
        raise CheckpointError(
            f"{config.data.source}: the data changed since the run started "
            f"(split sizes {data.meta()['sizes']}, checkpoint {state['data']['sizes']})"
        )
    console = _console()
    reporter = ConsoleReporter(console, progress=False if args.no_progress else None)
    # the placement the run chose (maybe measured) is kept: the paths draw differently
    trainer = Trainer(config, data, run, [reporter], placement=state.get("augment_placement"))
    trainer.load_state_dict(state)
    console.print(
        f"resuming {run.path} at epoch {trainer.epoch + 1}, step {trainer.step}"
        if trainer.epoch < config.train.epochs
        else f"{run.path} already finished; testing its best checkpoint"
    )
    return _fit(trainer, console)


def cmd_eval(args: argparse.Namespace) -> int:
    from trainlab.data import load_for_eval
    from trainlab.losses import loss_from_config
    from trainlab.train import load_checkpoint
    from trainlab.train.build import build_data, build_model
    from trainlab.train.evaluate import evaluate

    run, config = _load_run(args.run_dir)
    path = run.best if run.best.is_file() else run.last
    state = load_checkpoint(path)
    meta = state["data"]
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
    _print_summary(_console(), title, metrics, extra)
    return 0


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

    config = _load(args)
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


def cmd_models(args: argparse.Namespace) -> int:
    from trainlab.models import describe_model, list_models

    if args.pattern == "show":
        if args.name not in list_models():
            raise ConfigError(
                f"models show {args.name!r}: unknown model; expected one of "
                + ", ".join(list_models())
            )
        try:
            summary = describe_model(
                args.name, args.input, num_classes=args.classes, depth=args.depth
            )
        except (TypeError, ValueError) as e:
            raise ConfigError(f"models show {args.name} --input {args.input}: {e}") from e
        print(summary.table())
        return 0

    names = list_models(args.pattern)
    if not names:
        raise ConfigError(f"no model matches {args.pattern!r}; `trainlab models` lists them all")
    print("\n".join(names))
    return 0


COMMANDS = {
    "train": cmd_train,
    "resume": cmd_resume,
    "eval": cmd_eval,
    "plot-lr": cmd_plot_lr,
    "models": cmd_models,
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return COMMANDS[args.command](args)
    except UserError as e:
        print(f"trainlab: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("trainlab: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
