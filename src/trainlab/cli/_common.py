"""What the commands share: loading a config or a run, the console, the summary table.

Every command module of `trainlab.cli` defines `register(sub)`, which adds its parser and sets
`func` to the function that runs it; the functions here are the pieces they have in common.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, NoReturn


class Parser(argparse.ArgumentParser):
    """argparse's own usage errors: the usage line, one error line, exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {message}\n")


def add_config_args(p: argparse.ArgumentParser) -> None:
    """--config FILE and repeatable --set KEY=VALUE, the way `trainlab train` takes them."""
    p.add_argument("--config", metavar="FILE", help="YAML config; keys override the defaults")
    p.add_argument(
        "--set",
        metavar="KEY=VALUE",
        action="append",
        default=[],
        help="override any config key, e.g. --set optim.lr=3e-3 (repeatable)",
    )


TASKS = ["auto", "classification", "regression", "multilabel", "segmentation"]


def add_run_args(
    p: argparse.ArgumentParser,
    *,
    model: str = "a registered model (see `trainlab models`)",
    epochs: str = "number of epochs",
    name: str = "run name: the run directory is RUNS_DIR/NAME",
) -> None:
    """The shortcut flags of a command that trains: data, model, epochs, where runs go."""
    p.add_argument("--data", metavar="PATH", help="'digits', a .npz, a .csv or an image folder")
    p.add_argument("--target", metavar="COLUMN", help="CSV: the column to predict")
    p.add_argument("--task", choices=TASKS)
    p.add_argument("--model", metavar="NAME", help=model)
    p.add_argument("--epochs", metavar="N", type=int, help=epochs)
    p.add_argument("--name", help=name)
    p.add_argument("--runs-dir", metavar="DIR", help="parent of run directories (default runs)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def shortcuts(args: argparse.Namespace) -> dict[str, Any]:
    """The shortcut flags as config values, taken as typed (`--name 2024` stays a string)."""
    pairs = {
        "data.source": getattr(args, "data", None),
        "data.target": getattr(args, "target", None),
        "data.task": getattr(args, "task", None),
        "model.name": getattr(args, "model", None),
        "train.epochs": getattr(args, "epochs", None),
        "name": getattr(args, "name", None),
        "runs_dir": getattr(args, "runs_dir", None),
        "recipe": getattr(args, "recipe", None),
        "adapt.target": getattr(args, "target_data", None),
    }
    return {k: v for k, v in pairs.items() if v is not None}


def load(args: argparse.Namespace) -> Any:
    """The validated Config from --config, --set and the shortcut flags."""
    from trainlab.recipes import load_config

    return load_config(args.config, list(args.set), values=shortcuts(args))


def console(stderr: bool = False) -> Any:
    from rich.console import Console

    return Console(stderr=stderr, highlight=False)


def print_summary(out: Any, title: str, metrics: dict[str, float], extra: dict) -> None:
    """A two-column table: metrics (accuracies as percentages), then `extra` as text."""
    from rich.table import Table

    out.print(f"[bold]{title}[/]", soft_wrap=True)
    table = Table(show_header=False)
    for k, v in metrics.items():
        shown = f"{100 * v:.2f}%" if k.endswith("acc") else f"{v:.4f}"
        table.add_row(k, shown)
    for k, v in extra.items():
        table.add_row(k, str(v))
    out.print(table)


def load_run(run_dir: str) -> tuple[Any, Any]:
    """(RunDir, validated Config) of an existing run directory."""
    from trainlab.export.run_model import open_run

    return open_run(run_dir)
