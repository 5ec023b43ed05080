"""The report's pictures: loss curves with the verdict, per-layer gradient norms as a
heatmap, the Hessian's spectral density, a 1-D loss landscape.

Drawn with matplotlib's object API (`Figure` + the Agg canvas), so the process's pyplot
backend and open figures are never touched. Each function writes one PNG atomically.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from trainlab.figures import figure as _figure
from trainlab.figures import save as _save


def plot_loss(
    history: Sequence[dict[str, Any]], steps: Sequence[dict[str, Any]], verdict: str, path: Path
) -> Path:
    """Train/val loss per epoch (and the step losses, faint), titled with the verdict."""
    fig = _figure()
    ax = fig.subplots()
    per_epoch = history[0]["step"] / history[0]["epoch"] if history else None
    if steps:
        xs = [r["step"] / per_epoch if per_epoch else r["step"] for r in steps]
        ax.plot(xs, [r.get("loss", math.nan) for r in steps], alpha=0.3, label="step loss")
    for key, style in (("train_loss", "-"), ("val_loss", "--")):
        if history and key in history[0]:
            ax.plot([r["epoch"] for r in history], [r.get(key, math.nan) for r in history],
                    style, marker=".", label=key)  # fmt: skip
    ax.set_xlabel("epoch" if per_epoch else "step")
    ax.set_ylabel("loss")
    ax.set_yscale("log")
    ax.set_title(f"verdict: {verdict}")
    ax.grid(alpha=0.3)
    if ax.lines:
        ax.legend()
    return _save(fig, path)


def plot_grad_heatmap(layers: Sequence[dict[str, Any]], path: Path) -> Path | None:
    """log10 of each layer's gradient norm (rows, input side on top) against the step."""
    rows = [r for r in layers if isinstance(r.get("grad_norm"), float)
            and not math.isnan(r["grad_norm"])]  # fmt: skip
    if not rows:
        return None
    names = list(dict.fromkeys(r["layer"] for r in rows))
    steps = sorted({r["step"] for r in rows})
    col = {s: j for j, s in enumerate(steps)}
    grid = [[math.nan] * len(steps) for _ in names]
    pos = {n: i for i, n in enumerate(names)}
    for r in rows:
        g = r["grad_norm"]
        grid[pos[r["layer"]]][col[r["step"]]] = (
            math.log10(g) if g > 0 and math.isfinite(g) else math.nan
        )
    fig = _figure(7, 1.5 + 0.25 * len(names))
    ax = fig.subplots()
    im = ax.imshow(grid, aspect="auto", interpolation="nearest", cmap="viridis")
    ax.set_yticks(range(len(names)), names, fontsize=7)
    ticks = list(range(0, len(steps), max(1, len(steps) // 8)))
    ax.set_xticks(ticks, [str(steps[t]) for t in ticks])
    ax.set_xlabel("step")
    ax.set_title("per-layer gradient norm (log10)")
    fig.colorbar(im, ax=ax)
    return _save(fig, path)


def plot_spectrum(grid: Sequence[float], density: Sequence[float], path: Path) -> Path:
    """The smoothed spectral density of the Hessian (log scale: the bulk near 0 and the
    outliers both show)."""
    fig = _figure()
    ax = fig.subplots()
    ax.semilogy(grid, [max(d, 1e-12) for d in density])
    ax.set_xlabel("eigenvalue")
    ax.set_ylabel("density")
    ax.set_title("Hessian spectral density (stochastic Lanczos quadrature)")
    ax.grid(alpha=0.3)
    return _save(fig, path)


def plot_landscape(alphas: Sequence[float], losses: Sequence[float], path: Path) -> Path:
    """The loss along a filter-normalized random direction through the weights."""
    fig = _figure()
    ax = fig.subplots()
    ax.plot(alphas, losses, marker=".")
    ax.axvline(0.0, color="gray", lw=0.5)
    ax.set_xlabel("alpha (filter-normalized direction)")
    ax.set_ylabel("loss")
    ax.set_title("1-D loss landscape")
    ax.grid(alpha=0.3)
    return _save(fig, path)
