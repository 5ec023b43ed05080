"""`trainlab ablate`: the ladder from one recipe to another, one ingredient per rung."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from trainlab.cli._common import add_config_args, add_run_args, console, shortcuts
from trainlab.errors import ConfigError


def register(sub: Any) -> None:
    a = sub.add_parser(
        "ablate",
        help="train the ladder from one recipe to another, adding one ingredient per rung",
    )
    a.add_argument("--from", dest="start", metavar="RECIPE", default="classic")
    a.add_argument("--to", dest="to_recipe", metavar="RECIPE", default="modern")
    a.add_argument(
        "--steps",
        metavar="A,B,...",
        help="the ingredients to add, in this order (default: every one that differs, in the "
        "paper's order: adamw, epochs, cosine, mixup, cutmix, randaugment, random_erasing, "
        "stochastic_depth, label_smoothing, ema)",
    )
    a.add_argument("--seeds", type=int, default=3, metavar="N", help="seeds per rung (3)")
    add_config_args(a)
    add_run_args(
        a,
        model="every rung's model (default: --from's)",
        epochs="every rung's epochs (then no 'epochs' rung)",
        name="folder RUNS_DIR/NAME (default ablate-FROM-TO); rerun to resume",
    )
    a.set_defaults(func=cmd_ablate)


def _configs(args: argparse.Namespace) -> tuple[Any, Any]:
    from trainlab.recipes import load_config

    values = shortcuts(args)
    values.pop("name", None)
    start = load_config(args.config, list(args.set), values=values | {"recipe": args.start})
    target = load_config(args.config, list(args.set), values=values | {"recipe": args.to_recipe})
    return start, target


def cmd_ablate(args: argparse.Namespace) -> int:
    if args.seeds < 1:
        raise ConfigError(f"--seeds {args.seeds}: expected at least 1")
    from trainlab.recipes.ladder import build_ladder, leftover

    start, target = _configs(args)
    a, b = start.model_dump(mode="json"), target.model_dump(mode="json")
    steps = [s.strip() for s in args.steps.split(",") if s.strip()] if args.steps else None
    rungs = build_ladder(a, b, steps)
    out_dir = Path(start.runs_dir) / (args.name or f"ablate-{args.start}-{args.to_recipe}")

    from trainlab.experiments import check_fits
    from trainlab.experiments.ablate import run_ablation
    from trainlab.experiments.progress import ExperimentProgress
    from trainlab.recipes import validate
    from trainlab.train import TrainingDiverged, TrainingInterrupted
    from trainlab.train.build import build_data, model_name

    data = build_data(start)
    for rung in rungs:
        check_fits(validate(rung.config), data.in_shape)
    seeds = list(range(args.seeds))
    meta = {
        "from": args.start,
        "to": args.to_recipe,
        "data": start.data.source,
        "model": model_name(start, data.task),
        "seeds": args.seeds,
        "ladder": ", ".join(r.ingredient or "(start)" for r in rungs),
        "kept from --from (not an ingredient)": ", ".join(leftover(a, b)) or "(none)",
    }
    out = console()
    out.print(
        f"[bold]trainlab ablate[/] {args.start} -> {args.to_recipe}: {len(rungs)} rungs x "
        f"{args.seeds} seeds, model {meta['model']} on {start.data.source}\n"
        f"ladder: {meta['ladder']}\nkept from {args.start}: {meta['kept from --from (not an ingredient)']}"
        f"\nfolder: {out_dir}",
        soft_wrap=True,
    )
    total = sum(int(r.config["train"]["epochs"]) for r in rungs) * len(seeds)
    progress = ExperimentProgress(out, total, False if args.no_progress else None)

    def report(rung: Any, seed: int, result: Any) -> None:
        tag = f"rung {rung.index} {rung.ingredient or '(start)'} seed {seed}"
        if result is None:
            progress.skip(int(rung.config["train"]["epochs"]))
            progress.print(f"{tag}: already done")
            return
        fmt = (lambda v: f"{100 * v:.2f}%") if result.metric.endswith("acc") else "{:.4f}".format
        progress.print(
            f"{tag}: val {result.metric} {fmt(result.val)}, test {fmt(result.test)} "
            f"({result.weights} weights, {result.seconds:.1f} s)"
        )

    try:
        run_ablation(
            rungs,
            data,
            out_dir,
            seeds,
            meta=meta,
            callbacks=lambda r, s: [progress.callback(f"rung {r.index}/{len(rungs) - 1} seed {s}")],
            on_result=report,
        )
    except TrainingInterrupted:
        progress.close()
        out.print("[yellow]interrupted.[/] Run the same command again to resume.")
        return 130
    except TrainingDiverged as e:
        progress.close()
        console(stderr=True).print(f"trainlab: error: {e}")
        return 1
    progress.close()
    out.print((out_dir / "report.md").read_text(), markup=False, soft_wrap=True)
    out.print(
        f"wrote {out_dir / 'ablation.csv'}, {out_dir / 'ablation.png'}, {out_dir / 'report.md'}"
    )
    return 0
