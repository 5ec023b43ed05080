"""Pictures of a stream run: the accuracy matrix R as a heatmap, every task's accuracy over
the stream, and a comparison of methods. Drawn with matplotlib's object API (`Figure` and
the Agg canvas), so the process's pyplot backend and open figures are never touched."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from trainlab.figures import figure as _figure
from trainlab.figures import save as _save


def plot_matrix(r: np.ndarray, path: Path, *, title: str = "R") -> None:
    """R[i, j] (accuracy on task j after task i) as an annotated heatmap, to `path`."""
    r = np.asarray(r, dtype=np.float64)
    t = r.shape[0]
    fig = _figure(1.2 + 0.7 * t, 1.0 + 0.6 * t)
    ax = fig.subplots()
    im = ax.imshow(100 * r, vmin=0, vmax=100, cmap="viridis")
    for i in range(t):
        for j in range(r.shape[1]):
            ax.text(j, i, f"{100 * r[i, j]:.0f}", ha="center", va="center",
                    color="white" if r[i, j] < 0.6 else "black", fontsize=8)  # fmt: skip
    ax.set_xticks(range(r.shape[1]))
    ax.set_yticks(range(t))
    ax.set_xlabel("evaluated on task j")
    ax.set_ylabel("after training task i")
    ax.set_title(title)
    fig.colorbar(im, ax=ax, label="accuracy (%)")
    _save(fig, path)


def plot_stream(r: np.ndarray, baseline: np.ndarray, path: Path, *, title: str = "") -> None:
    """Each task's test accuracy after every task of the stream (the random-init model
    first), to `path`."""
    rows = np.vstack([np.asarray(baseline, dtype=np.float64)[None], np.asarray(r)])
    fig = _figure(6, 4)
    ax = fig.subplots()
    x = np.arange(-1, len(rows) - 1)
    for j in range(rows.shape[1]):
        ax.plot(x, 100 * rows[:, j], marker=".", label=f"task {j}")
    ax.set_xticks(x, ["init", *(str(i) for i in x[1:])])
    ax.set_xlabel("after training task")
    ax.set_ylabel("test accuracy (%)")
    ax.set_ylim(0, 101)
    ax.set_title(title or "accuracy over the stream")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    _save(fig, path)


def plot_compare(rows: Sequence[dict[str, Any]], path: Path) -> None:
    """ACC, BWT and FWT of each method (`rows`: dicts with "method" and the three), as
    grouped bars, to `path`."""
    keys = ("ACC", "BWT", "FWT")
    fig = _figure(1.5 + 1.2 * len(rows), 4)
    ax = fig.subplots()
    width = 0.8 / len(keys)
    x = np.arange(len(rows))
    for k, key in enumerate(keys):
        ax.bar(x + (k - 1) * width, [100 * float(r[key]) for r in rows], width, label=key)
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xticks(x, [str(r["method"]) for r in rows])
    ax.set_ylabel("percentage points")
    ax.set_title("continual methods on the same stream")
    ax.legend()
    ax.grid(alpha=0.3, axis="y")
    _save(fig, path)
