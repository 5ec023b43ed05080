"""Render the lr a schedule gives each param group over a run: a CSV and a PNG.

`trainlab plot-lr` calls `plot_lr` so a user can look at the curve before training.
matplotlib is imported only here, lazily, and drawn through its Agg canvas (no pyplot, no
global backend switch, no display needed).
"""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from trainlab._validate import check_int
from trainlab.schedules.functions import Schedule
from trainlab.schedules.plateau import ReduceOnPlateau


def _groups(param_groups: Any) -> list[Mapping[str, Any]]:
    groups = getattr(param_groups, "param_groups", param_groups)
    groups = list(groups)
    if not groups:
        raise ValueError("param_groups must not be empty")
    for i, g in enumerate(groups):
        if not isinstance(g, Mapping) or "lr" not in g:
            raise ValueError(f"param_groups[{i}] must be a mapping with an 'lr', got {g!r}")
    return groups


def group_labels(param_groups: Any) -> list[str]:
    """A column name per group: its 'name' key when it has one, else group<i>."""
    return [str(g.get("name", f"group{i}")) for i, g in enumerate(_groups(param_groups))]


def lr_table(
    schedule: Schedule | Sequence[Schedule],
    param_groups: Any,
    total_steps: int,
    *,
    steps_per_epoch: int | None = None,
) -> list[list[float]]:
    """Rows [step, epoch, lr of group 0, lr of group 1, ...] for step = 0 .. total_steps - 1.

    `param_groups` is an optimizer or a list of dicts with 'lr' (the base lr; 'initial_lr'
    wins when present) and optional 'lr_scale'. The lr is the one `Scheduler` would set
    before each update; a plateau rule is drawn at factor 1 (it depends on metrics).
    """
    groups = _groups(param_groups)
    check_int("total_steps", total_steps, lo=1)
    if isinstance(schedule, ReduceOnPlateau):
        schedule = schedule.base or (lambda t: 1.0)
    scheds = list(schedule) if isinstance(schedule, Sequence) else [schedule] * len(groups)
    if len(scheds) != len(groups):
        raise ValueError(f"got {len(scheds)} schedules for {len(groups)} param groups")
    bases = [float(g.get("initial_lr", g["lr"])) * float(g.get("lr_scale", 1.0)) for g in groups]
    spe = steps_per_epoch
    rows = []
    for t in range(total_steps):
        x = t if spe is None else t / spe
        epoch = t / spe if spe else float(t)
        rows.append([t, epoch, *(b * s(x) for b, s in zip(bases, scheds, strict=True))])
    return rows


def plot_lr(
    schedule: Schedule | Sequence[Schedule],
    param_groups: Any,
    total_steps: int,
    png_path: str | Path,
    csv_path: str | Path | None = None,
    *,
    steps_per_epoch: int | None = None,
    epoch_steps: int | None = None,
    title: str | None = None,
    log_scale: bool = False,
) -> list[list[float]]:
    """Write the lr-vs-step curve (a line per param group) to `png_path` and `csv_path`.

    `steps_per_epoch` makes the schedule run in fractional epochs (as `Scheduler` does);
    `epoch_steps`, when given, only labels a secondary epoch axis for step-based schedules.
    Returns the table that was written (see `lr_table`).
    """
    rows = lr_table(schedule, param_groups, total_steps, steps_per_epoch=steps_per_epoch)
    labels = group_labels(param_groups)
    per_epoch = steps_per_epoch or epoch_steps
    if csv_path is not None:
        csv_path = Path(csv_path)
        csv_path.parent.mkdir(parents=True, exist_ok=True)
        with csv_path.open("w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["step", "epoch", *(f"lr_{lab}" for lab in labels)])
            for r in rows:
                epoch = r[0] / per_epoch if per_epoch else r[0]
                writer.writerow([r[0], f"{epoch:.6g}", *(repr(v) for v in r[2:])])

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 4.5), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    steps = [r[0] for r in rows]
    for j, lab in enumerate(labels):
        ax.plot(steps, [r[2 + j] for r in rows], label=lab, linewidth=1.5)
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("learning rate")
    if log_scale:
        ax.set_yscale("log")
    if per_epoch:
        k = float(per_epoch)

        def to_epoch(x: Any) -> Any:
            return x / k

        def to_step(x: Any) -> Any:
            return x * k

        sec = ax.secondary_xaxis("top", functions=(to_epoch, to_step))
        sec.set_xlabel("epoch")
    ax.set_title(title or "learning rate schedule")
    ax.grid(True, alpha=0.3)
    if len(labels) > 1:
        ax.legend(loc="best", fontsize="small")
    fig.tight_layout()
    png_path = Path(png_path)
    png_path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png_path)
    return rows
