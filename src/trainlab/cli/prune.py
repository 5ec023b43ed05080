"""`trainlab prune RUN` (prune -> fine-tune) and `trainlab lottery RUN` (lottery tickets)."""

from __future__ import annotations

import argparse
from typing import Any

from trainlab.cli._common import console, load_run
from trainlab.errors import ConfigError


def register(sub: Any) -> None:
    p = sub.add_parser("prune", help="prune a trained run and fine-tune it (a new run)")
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.add_argument("--amount", type=float, required=True, help="fraction removed, in [0, 1)")
    p.add_argument("--structured", action="store_true", help="remove channels (smaller model)")
    p.add_argument(
        "--iterations", type=int, default=1, metavar="N", help="prune -> fine-tune rounds"
    )
    p.add_argument(
        "--finetune-epochs", type=int, default=3, metavar="E", help="epochs per round (3)"
    )
    p.add_argument("--method", choices=["global", "layer", "random"], default="global",
                   help="unstructured: one threshold, per layer, or random (the control)")  # fmt: skip
    p.add_argument("--importance", choices=["l1", "l2", "bn"], default="l1",
                   help="structured: filter L1/L2 norm or BatchNorm scale")  # fmt: skip
    _run_args(p)
    p.set_defaults(func=cmd_prune)

    t = sub.add_parser("lottery", help="lottery tickets: rewound vs randomly re-initialized")
    t.add_argument("run_dir", metavar="RUN_DIR")
    t.add_argument("--rounds", type=int, default=3, help="pruning rounds")
    t.add_argument("--rate", type=float, default=0.5, help="fraction pruned per round")
    t.add_argument("--epochs", type=int, default=10, help="training epochs per network")
    t.add_argument("--rewind-step", type=int, default=0, metavar="K",
                   help="rewind to the weights after K steps (0: the initialization)")  # fmt: skip
    _run_args(t)
    t.set_defaults(func=cmd_lottery)


def _run_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--set", metavar="KEY=VALUE", action="append", default=[],
        help="override the run's config for the training here, e.g. --set optim.lr=1e-3",
    )  # fmt: skip
    p.add_argument("--name", help="name of the new run directory")
    p.add_argument("--runs-dir", metavar="DIR", help="parent of the new run (default: the run's)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def _check(name: str, value: float, low: float, high: float | None = None) -> None:
    ok = value >= low and (high is None or value < high)
    if not ok:
        span = f"[{low:g}, {high:g})" if high is not None else f">= {low:g}"
        raise ConfigError(f"{name} must be in {span}, got {value:g}")


def _load(args: argparse.Namespace) -> tuple[Any, Any]:
    """(RunDir, the run's config with the --set overrides)."""
    from trainlab.recipes import load_config

    run, config = load_run(args.run_dir)
    if args.set:
        config = load_config(None, list(args.set), base=config.model_dump(mode="json"))
    return run, config


def _new_run(args: argparse.Namespace, run: Any) -> tuple[Any, Any, Any]:
    """(the new run directory, the console, the epoch reporter)."""
    from trainlab.train import RunDir
    from trainlab.train.progress import ConsoleReporter

    out = console()
    reporter = ConsoleReporter(out, progress=False if args.no_progress else None)
    return RunDir.create(args.runs_dir or run.path.parent, args.name), out, reporter


def cmd_prune(args: argparse.Namespace) -> int:
    _check("--amount", args.amount, 0, 1)
    _check("--iterations", args.iterations, 1)
    _check("--finetune-epochs", args.finetune_epochs, 1)
    import torch

    from trainlab.compress import UnsupportedModel, channel_groups
    from trainlab.compress.loop import prune_finetune
    from trainlab.compress.report import line_plot, write_csv
    from trainlab.compress.runs import load_run_model, save_model_run
    from trainlab.train.build import build_data

    run, config = _load(args)
    model, meta = load_run_model(run, config)  # a run without checkpoints fails here
    if meta["task"] != "classification":
        raise ConfigError(
            f"{run.path}: prune measures accuracy; it needs a classification run, got {meta['task']!r}"
        )
    if args.structured:  # an unsupported architecture fails before any work
        try:
            channel_groups(model, torch.zeros(2, *meta["in_shape"]))
        except UnsupportedModel as e:
            raise ConfigError(f"--structured: {e}") from None
    new, out, reporter = _new_run(args, run)
    result = prune_finetune(
        model, config, build_data(config), amount=args.amount, iterations=args.iterations,
        structured=args.structured, finetune_epochs=args.finetune_epochs,
        method=args.method, importance=args.importance, seed=config.seed, callbacks=[reporter],
    )  # fmt: skip
    write_csv(new.path / "prune.csv", result.rows)
    png = new.plots / "prune.png"
    kind = "structured" if args.structured else f"unstructured ({args.method})"
    xs = [r["nonzero_params"] for r in result.rows]
    line_plot(png, {kind: (xs, [100 * r["acc"] for r in result.rows])}, xlabel="non-zero parameters",
              ylabel="test accuracy (%)", title=f"prune -> fine-tune: {config.model.name}", logx=True)  # fmt: skip
    extra = {"source": str(run.path), "amount": args.amount, "structured": args.structured,
             "iterations": args.iterations, "method": args.method, "importance": args.importance}  # fmt: skip
    save_model_run(new, config, result.model, meta, extra)
    _table(out, "prune -> fine-tune", result.rows)
    out.print(f"run directory: {new.path}\ntable: {new.path / 'prune.csv'}\nplot: {png}")
    return 0


def cmd_lottery(args: argparse.Namespace) -> int:
    _check("--rate", args.rate, 0, 1)
    _check("--rounds", args.rounds, 1)
    _check("--epochs", args.epochs, 1)
    _check("--rewind-step", args.rewind_step, 0)
    from trainlab.compress.lottery import lottery_ticket
    from trainlab.compress.report import line_plot, write_csv
    from trainlab.train.build import build_data

    run, config = _load(args)
    new, out, reporter = _new_run(args, run)
    rows = lottery_ticket(
        config, build_data(config), rounds=args.rounds, rate=args.rate, epochs=args.epochs,
        rewind_step=args.rewind_step, callbacks=[reporter],
    )  # fmt: skip
    new.write_config(config.model_dump(mode="json"))
    write_csv(new.path / "lottery.csv", rows)
    png = new.plots / "lottery.png"
    xs = [100 * r["remaining"] for r in rows]
    line_plot(png, {"rewound ticket": (xs, [100 * r["acc_ticket"] for r in rows]),
                    "random re-init": (xs, [100 * r["acc_random"] for r in rows])},
              xlabel="weights remaining (%)", ylabel="test accuracy (%)",
              title="lottery tickets", logx=True)  # fmt: skip
    _table(out, "lottery tickets", rows)
    out.print(f"run directory: {new.path}\ntable: {new.path / 'lottery.csv'}\nplot: {png}")
    return 0


def _table(out: Any, title: str, rows: list[dict[str, Any]]) -> None:
    from rich.table import Table

    table = Table(title=title)
    for k in rows[0]:
        table.add_column(k, justify="right")
    for r in rows:
        table.add_row(*(_fmt(k, v) for k, v in r.items()))
    out.print(table)


def _fmt(key: str, value: Any) -> str:
    if key.startswith("acc"):
        return f"{100 * value:.2f}%"
    if isinstance(value, float):
        return f"{value:.4g}"
    return f"{value:,}" if isinstance(value, int) else str(value)
