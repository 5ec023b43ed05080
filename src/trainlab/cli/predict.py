"""`trainlab predict`: a run's model on new data, one row per sample."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from trainlab.errors import ConfigError


def register(sub: Any) -> None:
    p = sub.add_parser(
        "predict",
        help="apply a run's best model to new data and write one row per sample",
        description="Apply a run's best model (or an export folder's) to new data, prepared "
        "with the run's own preprocessing (CSV encoding, input statistics, target scaling). "
        "Labels are optional; when the data has them they are written next to the "
        "predictions and scored.",
        epilog="examples:\n  trainlab predict runs/NAME --data new.npz --out preds.csv\n"
        "  trainlab predict runs/NAME --data photos/   a flat folder of images works too",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("run_dir", metavar="RUN_DIR", help="a run directory or an export folder")
    p.add_argument("--data", metavar="PATH", required=True, help=".npz, .csv or a folder")
    p.add_argument("--target", metavar="COLUMN", help="CSV: the target column, if present")
    p.add_argument(
        "--out", metavar="FILE", help="CSV (segmentation: .npz); default RUN_DIR/predictions.csv"
    )
    p.add_argument("--weights", choices=["best", "last"], default="best")
    p.add_argument("--ema", action="store_true", help="the EMA weights (regularize.ema runs)")
    p.add_argument("--batch-size", type=int, default=512, metavar="N")
    p.add_argument(
        "--threshold", type=float, default=0.5, help="multi-label: p >= this is predicted"
    )
    p.set_defaults(func=cmd_predict)


def cmd_predict(args: argparse.Namespace) -> int:
    from trainlab.data.inputs import read_inputs
    from trainlab.export import (
        load_run_model,
        model_outputs,
        prediction_table,
        write_masks,
        write_table,
    )

    if args.batch_size < 1:
        raise ConfigError(f"--batch-size {args.batch_size}: expected an integer >= 1")
    if not 0.0 < args.threshold < 1.0:
        raise ConfigError(f"--threshold {args.threshold}: expected a probability in (0, 1)")
    found = load_run_model(args.run_dir, weights=args.weights, ema=args.ema)
    meta = found.meta
    segmentation = meta["task"] == "segmentation"
    default = "predictions.npz" if segmentation else "predictions.csv"
    out = Path(args.out) if args.out else Path(args.run_dir) / default
    if segmentation and out.suffix != ".npz":
        raise ConfigError(f"--out {out}: segmentation predictions are masks; expected a .npz")
    target = args.target or found.card.get("target")
    inputs = read_inputs(args.data, meta, target=target)
    outputs = model_outputs(found.model, inputs.x, meta, batch_size=args.batch_size)
    try:
        if segmentation:
            write_masks(out, outputs, inputs)
            print(f"wrote {out}: {len(inputs.ids)} masks ({found.source})")
            return 0
        header, rows = prediction_table(outputs, meta, inputs, threshold=args.threshold)
        write_table(out, header, rows)
    except OSError as e:
        raise ConfigError(f"--out {out}: cannot write ({e.strerror})") from None
    print(f"wrote {out}: {len(rows)} rows ({found.source})" + _score(header, rows, meta))
    return 0


def _score(header: list[str], rows: list[list[Any]], meta: dict[str, Any]) -> str:
    """'; accuracy 97.2% on the given labels' when the rows carry a target."""
    if header[-1] != "target":
        return ""
    if meta["task"] == "classification":
        hits = sum(str(r[1]) == str(r[-1]) for r in rows)
        return f"; accuracy {100 * hits / len(rows):.2f}% on the given labels"
    mse = sum((float(r[1]) - float(r[-1])) ** 2 for r in rows) / len(rows)
    return f"; RMSE {mse**0.5:.4g} on the given targets"
