"""Training curves as a PNG: loss and the primary metric against epoch (train and val), the
learning rate and the gradient norm against the optimizer step.

Drawn with matplotlib's object API (`Figure` + the Agg canvas), so the process's pyplot
backend and open figures are never touched.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from trainlab.figures import save


def _panel(ax: Any, title: str, xlabel: str) -> None:
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)


def plot_curves(
    history: list[dict[str, Any]], metric: str, path: Path, steps: Path | None = None
) -> None:
    """Panels: loss; `metric`; lr; grad norm (when the step log `steps` has it), to `path`."""
    if not history:
        return
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from trainlab.train.logger import read_steps

    rows = read_steps(steps) if steps is not None else []
    lr_keys = [k for k in history[0] if k == "lr" or k.startswith("lr_")]
    norm_keys = sorted({k for r in rows for k in r if k.startswith("grad_norm")})
    panels = 2 + bool(lr_keys) + bool(norm_keys)
    fig = Figure(figsize=(5 * panels, 4), constrained_layout=True)
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, panels)
    epochs = [row["epoch"] for row in history]
    for ax, name in zip(axes[:2], ("loss", metric), strict=True):
        for split, style in (("train", "-"), ("val", "--")):
            key = f"{split}_{name}"
            if key in history[0]:
                ax.plot(epochs, [row.get(key, math.nan) for row in history], style, marker=".",
                        label=split)  # fmt: skip
        _panel(ax, name, "epoch")
        if ax.lines:
            ax.legend()
    k = 2
    if lr_keys:
        ax = axes[k]
        source, x = (rows, "step") if rows else (history, "epoch")
        for key in lr_keys:
            ax.plot([r[x] for r in source], [r.get(key, math.nan) for r in source], label=key)
        _panel(ax, "learning rate", x)
        ax.legend()
        k += 1
    if norm_keys:
        ax = axes[k]
        for key in norm_keys:
            ax.plot([r["step"] for r in rows], [r.get(key, math.nan) for r in rows], label=key)
        _panel(ax, "gradient norm", "step")
        ax.set_yscale("log")
        ax.legend()
    save(fig, path)
