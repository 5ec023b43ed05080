"""`trainlab eval RUN --early-exit [max_softmax|entropy]`: the accuracy / compute curve of a
run trained with `task.name=early_exit`, over a sweep of confidence thresholds."""

from __future__ import annotations

import argparse
from typing import Any

from trainlab.cli._common import console, load_run
from trainlab.errors import ConfigError


def early_exit_eval(args: argparse.Namespace) -> int:
    from rich.table import Table

    from trainlab.compress.exit_task import exit_outputs
    from trainlab.compress.report import line_plot, write_csv
    from trainlab.compress.runs import run_checkpoint
    from trainlab.models.early_exit import default_thresholds, exit_flops, heads, sweep
    from trainlab.train import load_checkpoint
    from trainlab.train.build import build_model

    run, config = load_run(args.run_dir)
    if config.task.name != "early_exit":
        raise ConfigError(
            f"{run.path}: --early-exit needs a run trained with task.name=early_exit; this one "
            f"used {config.task.name!r}"
        )
    path = run_checkpoint(run)
    state = load_checkpoint(path)
    meta, criterion = state["data"], args.early_exit
    in_shape = tuple(meta["in_shape"])
    model = build_model(config, meta["num_outputs"], in_shape, task=meta["task"])
    net = heads(model, meta["num_outputs"], in_shape, config.task.args.get("points"))
    net.load_state_dict(state["modules"]["model"])
    from trainlab.cli.eval import eval_split

    split, where = eval_split(args, run, config, meta)
    outputs, y = exit_outputs(net, split, config.data.eval_batch_size)
    flops = exit_flops(net, in_shape)
    points = sweep(outputs, y, flops, default_thresholds(criterion), criterion)
    full_acc = float((outputs[-1].argmax(-1) == y).double().mean())
    rows: list[dict[str, Any]] = [{"threshold": "none (last exit)", "acc": full_acc, "avg_flops": flops[-1],
             "flops_saved": 0.0, **{f"exit{k}": float(k == len(flops) - 1) for k in range(len(flops))}}]  # fmt: skip
    for p in points:
        rows.append({"threshold": p.threshold, "acc": p.accuracy, "avg_flops": round(p.avg_flops, 1),
                     "flops_saved": round(1 - p.avg_flops / flops[-1], 6),
                     **{f"exit{k}": s for k, s in enumerate(p.exit_share)}})  # fmt: skip
    csv_path, png = (
        run.path / f"early_exit_{criterion}.csv",
        run.plots / f"early_exit_{criterion}.png",
    )
    write_csv(csv_path, rows)
    line_plot(png, {criterion: ([r["avg_flops"] for r in rows[1:]], [100 * r["acc"] for r in rows[1:]]),
                    "last exit only": ([flops[-1]], [100 * full_acc])},
              xlabel="average FLOPs per sample", ylabel="accuracy (%)",
              title=f"early exit ({criterion}) on {where}")  # fmt: skip
    out = console()
    table = Table(title=f"early exit ({criterion}), {path.name} on {where}: {len(y)} samples")
    for k in rows[0]:
        table.add_column(k, justify="right")
    for r in rows:
        table.add_row(*(f"{100 * v:.2f}%" if k in ("acc", "flops_saved") or k.startswith("exit")
                        else f"{v:,.0f}" if k == "avg_flops" else str(v) for k, v in r.items()))  # fmt: skip
    out.print(table)
    out.print(
        f"exit FLOPs per sample: {', '.join(f'{f:,}' for f in flops)}\ntable: {csv_path}\nplot: {png}"
    )
    return 0
