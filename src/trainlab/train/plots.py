"""Training curves as a PNG: loss and the primary metric against epoch, train and val."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def plot_curves(history: list[dict[str, Any]], metric: str, path: Path) -> None:
    """Two panels (loss; `metric`), a train and a val line each, saved to `path`."""
    if not history:
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [row["epoch"] for row in history]
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), constrained_layout=True)
    for ax, name in zip(axes, ("loss", metric), strict=True):
        for split, style in (("train", "-"), ("val", "--")):
            key = f"{split}_{name}"
            if key in history[0]:
                ax.plot(epochs, [row[key] for row in history], style, marker=".", label=split)
        ax.set_xlabel("epoch")
        ax.set_ylabel(name)
        ax.set_title(name)
        ax.grid(alpha=0.3)
        ax.legend()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    tmp.replace(path)
