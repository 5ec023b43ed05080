"""`trainlab continual`: train a stream of tasks with a continual-learning method, write the
accuracy matrix R, ACC/BWT/FWT and their pictures; `--compare` runs several methods on the
same stream and seeds; `--resume RUN_DIR` continues a stopped run exactly."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from trainlab.cli._common import add_config_args, console, load, load_run
from trainlab.errors import CheckpointError, ConfigError

COMPARE_FILE = "compare.json"


def register(sub: Any) -> None:
    c = sub.add_parser(
        "continual", help="learn a stream of tasks (split/permuted/rotated) with EWC, GEM, ..."
    )
    add_config_args(c)
    c.add_argument("--method", help="naive | ewc | online-ewc | gem | agem | replay")
    c.add_argument("--compare", metavar="M1,M2,...", help="run these methods on one stream")
    c.add_argument("--tasks", metavar="N", type=int, help="number of tasks (default 5)")
    c.add_argument("--scenario", help="split (default) | permuted | rotated")
    c.add_argument("--multi-head", action="store_true", help="split: task-incremental scoring")
    c.add_argument("--data", metavar="PATH", help="'digits' (default), a .npz, ...")
    c.add_argument("--model", metavar="NAME", help="a registered model")
    c.add_argument("--epochs", metavar="N", type=int, help="epochs per task")
    c.add_argument("--name", help="run name: the run directory is RUNS_DIR/NAME")
    c.add_argument("--runs-dir", metavar="DIR", help="parent of run directories (default runs)")
    c.add_argument("--resume", metavar="RUN_DIR", help="continue a stopped continual run")
    c.add_argument("--no-progress", action="store_true", help="no progress bar")
    c.set_defaults(func=cmd_continual)


def _methods(text: str) -> list[str]:
    from trainlab.recipes.schema_continual import METHODS

    names = [m.strip() for m in text.split(",") if m.strip()]
    bad = [m for m in names if m not in METHODS]
    if not names or bad:
        raise ConfigError(
            f"--compare = {text!r}: expected a comma-separated list of {', '.join(METHODS)}"
        )
    return list(dict.fromkeys(names))


def _config(args: argparse.Namespace) -> Any:
    values = {
        "continual.method": args.method,
        "continual.tasks": args.tasks,
        "continual.scenario": args.scenario,
        "continual.multi_head": True if args.multi_head else None,
    }
    args.set = [f"{k}={v}" for k, v in values.items() if v is not None] + list(args.set)
    return load(args)


def _with_method(config: Any, method: str) -> Any:
    return config.model_copy(
        update={"continual": config.continual.model_copy(update={"method": method})}
    )


def cmd_continual(args: argparse.Namespace) -> int:
    from trainlab.train import RunDir

    if args.resume:
        given = [f for f, v in (("--method", args.method), ("--compare", args.compare),
                 ("--tasks", args.tasks), ("--scenario", args.scenario), ("--data", args.data),
                 ("--model", args.model), ("--epochs", args.epochs), ("--set", args.set),
                 ("--config", args.config)) if v]  # fmt: skip
        if given:
            raise ConfigError(
                f"--resume continues a run with its own settings; drop {', '.join(given)}"
            )
        run, config = load_run(args.resume)
        methods = _read_methods(run.path)
        stream = _stream(config)
    else:
        config = _config(args)
        methods = _methods(args.compare) if args.compare else None
        stream = _stream(config)  # bad stream settings fail before a run directory exists
        run = RunDir.create(config.runs_dir, config.name)
        run.write_config(config.model_dump(mode="json"))
        if methods:
            (run.path / COMPARE_FILE).write_text(json.dumps({"methods": methods}) + "\n")
    resume = bool(args.resume)
    out = console()
    if not methods:
        return _one(config, stream, run.path, resume, args, out)
    rows: list[dict[str, Any]] = []
    for m in methods:
        out.print(f"[bold]method {m}[/]")
        code = _one(_with_method(config, m), stream, run.path / m, resume, args, out, rows)
        if code:
            return code
    _write_compare(rows, run.path)
    _print_compare(out, rows)
    out.print(f"comparison: {run.path / 'compare.csv'}, {run.path / 'plots' / 'compare.png'}")
    return 0


def _print_compare(out: Any, rows: list[dict[str, Any]]) -> None:
    from rich.table import Table

    table = Table(title="methods on the same stream (ACC %, BWT and FWT in points)")
    for col in ("method", "ACC", "BWT", "FWT", "train s", "memory MB"):
        table.add_column(col, justify="left" if col == "method" else "right")
    for r in rows:
        table.add_row(
            r["method"], f"{100 * r['ACC']:.2f}", f"{100 * r['BWT']:+.2f}",
            f"{100 * r['FWT']:+.2f}", f"{r['train_seconds']:.1f}", f"{r['memory_bytes'] / 1e6:.2f}",
        )  # fmt: skip
    out.print(table)


def _read_methods(path: Path) -> list[str] | None:
    f = path / COMPARE_FILE
    if not f.is_file():
        return None
    try:
        return list(json.loads(f.read_text(encoding="utf-8"))["methods"])
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise CheckpointError(f"{f}: unreadable ({e})") from None


def _stream(config: Any) -> Any:
    from trainlab.continual import build_stream
    from trainlab.train.build import build_data

    return build_stream(config, build_data(config))


def _one(
    config: Any,
    stream: Any,
    path: Path,
    resume: bool,
    args: argparse.Namespace,
    out: Any,
    rows: list[dict[str, Any]] | None = None,
) -> int:
    from trainlab.continual import run_stream
    from trainlab.train import TrainingDiverged, TrainingInterrupted
    from trainlab.train.progress import ConsoleReporter

    def callbacks(t: int) -> list[Any]:
        e = stream[t]
        out.print(f"task {t + 1}/{len(stream)}: classes {list(e.classes)}", highlight=False)
        return [ConsoleReporter(out, progress=False if args.no_progress else None)]

    try:
        result = run_stream(config, stream, run=path, resume=resume, callbacks=callbacks)
    except TrainingInterrupted as e:
        top = args.resume or str(path if rows is None else path.parent)
        out.print(f"[yellow]{e}; checkpoint saved.[/] Continue with: trainlab continual "
                  f"--resume {top}")  # fmt: skip
        return 130
    except TrainingDiverged as e:
        console(stderr=True).print(f"trainlab: error: {e}")
        return 1
    _print_result(out, result, path)
    if rows is not None:
        rows.append(result.summary())
    return 0


def _print_result(out: Any, result: Any, path: Path) -> None:
    from rich.table import Table

    table = Table(title=f"R ({result.method}): accuracy (%) on task j after task i")
    table.add_column("after")
    for j in range(result.r.shape[1]):
        table.add_column(f"task {j}", justify="right")
    table.add_row("init", *(f"{100 * v:.1f}" for v in result.baseline))
    for i, row in enumerate(result.r):
        table.add_row(str(i), *(f"{100 * v:.1f}" for v in row))
    out.print(table)
    m = result.metrics
    out.print(
        f"ACC {100 * m['ACC']:.2f}%  BWT {100 * m['BWT']:+.2f}  FWT {100 * m['FWT']:+.2f}  "
        f"train {result.train_seconds:.1f} s  memory {result.memory_bytes / 1e6:.2f} MB  "
        f"({path})",
        highlight=False,
    )


def _write_compare(rows: list[dict[str, Any]], root: Path) -> None:
    import csv
    import io

    from trainlab.continual.plots import plot_compare
    from trainlab.train.checkpoint import atomic_write_text

    keys = ["method", "ACC", "BWT", "FWT", "train_seconds", "seconds", "memory_bytes"]
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=keys, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    atomic_write_text(root / "compare.csv", buf.getvalue())
    plot_compare(rows, root / "plots" / "compare.png")
