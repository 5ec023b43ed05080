"""The robustness report's files: the curve (accuracy against eps, FGSM and PGD) as CSV and
PNG, and a grid of clean / perturbation / adversarial images with their predictions.

Drawn with matplotlib's object API (`Figure` + the Agg canvas), so the process's pyplot
backend and open figures are never touched.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from torch import Tensor

CURVE_FIELDS = ("method", "eps", "acc")


def write_curve_csv(rows: Sequence[dict[str, Any]], path: Path) -> None:
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=CURVE_FIELDS)
        w.writeheader()
        for r in rows:
            w.writerow({k: r[k] for k in CURVE_FIELDS})


def _figure(width: float, height: float) -> tuple[Any, Any]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100)
    return fig, FigureCanvasAgg(fig)


def plot_curve(rows: Sequence[dict[str, Any]], path: Path, *, unit: str = "data units") -> None:
    """Accuracy (%) against eps, one line per attack method."""
    fig, _ = _figure(5.5, 4)
    ax = fig.add_subplot()
    for method in dict.fromkeys(r["method"] for r in rows):
        pts = [(r["eps"], 100 * r["acc"]) for r in rows if r["method"] == method]
        ax.plot(*zip(*pts, strict=True), marker="o", label=method.upper())
    ax.set_xlabel(f"eps ({unit})")
    ax.set_ylabel("accuracy (%)")
    ax.set_ylim(0, 100)
    ax.grid(alpha=0.3)
    ax.legend()
    ax.set_title("robustness curve")
    fig.tight_layout()
    fig.savefig(path)


def plot_grid(
    clean: Tensor,
    adv: Tensor,
    y: Tensor,
    pred_clean: Tensor,
    pred_adv: Tensor,
    path: Path,
    *,
    class_names: Sequence[str] | None = None,
    title: str = "",
) -> None:
    """Rows: clean image, perturbation (adv - clean, symmetric colour scale), adversarial
    image; one column per example. Images (N, C, H, W) in data units, shown in [low, high]."""
    n = clean.shape[0]
    fig, _ = _figure(1.6 * n, 5.2)
    names = list(class_names) if class_names else None

    def label(i: Tensor) -> str:
        return names[int(i)] if names else str(int(i))

    delta = (adv - clean).cpu()
    scale = float(delta.abs().max()) or 1.0
    lo, hi = float(clean.min().minimum(adv.min())), float(clean.max().maximum(adv.max()))
    for j in range(n):
        panels = [
            (clean[j], f"y={label(y[j])} pred={label(pred_clean[j])}", "gray", lo, hi),
            (delta[j], "perturbation", "coolwarm", -scale, scale),
            (adv[j], f"adv pred={label(pred_adv[j])}", "gray", lo, hi),
        ]
        for i, (img, text, cmap, vmin, vmax) in enumerate(panels):
            ax = fig.add_subplot(3, n, i * n + j + 1)
            pic = img.detach().cpu().float()
            pic = pic[0] if pic.shape[0] == 1 else pic.permute(1, 2, 0)
            if pic.ndim == 3:  # colour: rescale to [0, 1] for imshow
                pic = (pic - vmin) / max(vmax - vmin, 1e-12)
                pic = pic.clamp(0, 1)
            ax.imshow(pic.numpy(), cmap=cmap, vmin=vmin, vmax=vmax)
            ax.set_title(text, fontsize=7)
            ax.axis("off")
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
