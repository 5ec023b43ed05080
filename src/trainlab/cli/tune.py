"""`trainlab tune`: hyperparameter search on the validation split (Optuna), then the best
config retrained once and tested once."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from trainlab.cli._common import add_config_args, add_run_args, console, print_summary, shortcuts
from trainlab.errors import ConfigError


def register(sub: Any) -> None:
    t = sub.add_parser("tune", help="search hyperparameters on the validation split (Optuna)")
    t.add_argument("--trials", type=int, default=20, metavar="N", help="trials to finish (20)")
    t.add_argument(
        "--space",
        action="append",
        default=[],
        metavar="KEY=SPEC",
        help="a searched key: log:LOW:HIGH, LOW:HIGH, int:LOW:HIGH or choice:A,B (repeatable; "
        "or a space: section in --config), e.g. optim.lr=log:1e-4:1e-1",
    )
    add_config_args(t)
    t.add_argument("--recipe", metavar="NAME", help="start from a named recipe")
    add_run_args(
        t, epochs="epochs per trial", name="folder RUNS_DIR/NAME (default tune); rerun to resume"
    )
    t.set_defaults(func=cmd_tune)


def _base(args: argparse.Namespace) -> tuple[Any, Any]:
    from trainlab.recipes import load_config
    from trainlab.recipes.load import read_yaml
    from trainlab.recipes.space import parse_space

    tree = read_yaml(args.config) if args.config else {}
    section = tree.pop("space", None)
    values = shortcuts(args)
    values.pop("name", None)
    config = load_config(tree, list(args.set), values=values)
    return config, parse_space(args.space, section)


def cmd_tune(args: argparse.Namespace) -> int:
    if args.trials < 1:
        raise ConfigError(f"--trials {args.trials}: expected at least 1")
    base, space = _base(args)
    from trainlab.recipes.space import check_space

    if not space:
        check_space(space, lambda k, v: None)  # the "no search space" error
    from trainlab.experiments.progress import ExperimentProgress
    from trainlab.experiments.tune import _optuna, tune
    from trainlab.train import TrainingInterrupted
    from trainlab.train.build import build_data

    optuna = _optuna()
    data = build_data(base)
    out_dir = Path(base.runs_dir) / (args.name or "tune")
    out = console()
    out.print(
        f"[bold]trainlab tune[/] {args.trials} trials on {base.data.source} (selection on the "
        f"validation split), {base.train.epochs} epochs each; space: "
        + ", ".join(f"{k}={d.spec()}" for k, d in space.items())
        + f"\nfolder: {out_dir}",
        soft_wrap=True,
    )
    progress = ExperimentProgress(
        out, args.trials * base.train.epochs, not args.no_progress and None
    )

    def report(row: dict[str, Any]) -> None:
        params = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                           for k, v in row["params"].items())  # fmt: skip
        if row["state"] == "PRUNED":
            progress.print(f"trial {row['trial']}: pruned ({params})")
            return
        v = row["val"]
        shown = f"{100 * v:.2f}%" if row["metric"].endswith("acc") else f"{v:.4f}"
        progress.print(f"trial {row['trial']}: val {row['metric']} {shown} ({params}, "
                       f"{row['seconds']:.1f} s)")  # fmt: skip

    level = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # one line per trial is ours
    try:
        result = tune(
            base,
            data,
            space,
            out_dir,
            trials=args.trials,
            callbacks=lambda n: [progress.callback(f"trial {n}")],
            on_trial=report,
        )
    except TrainingInterrupted:
        progress.close()
        out.print("[yellow]interrupted.[/] Run the same command again to resume.")
        return 130
    finally:
        optuna.logging.set_verbosity(level)
        progress.close()
    params = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                       for k, v in result.best_params.items())  # fmt: skip
    print_summary(
        out,
        f"best config ({params}), retrained once, on the test split",
        {f"test_{k}": v for k, v in result.test.items()},
        {
            f"best val {result.metric}": f"{result.best_value:.4f}",
            "files": ", ".join(str(out_dir / f) for f in ("tune.csv", "tune.png", "best.yaml")),
            "run directory": str(out_dir / "best"),
        },
    )
    return 0
