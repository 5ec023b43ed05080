"""One PNG per explained sample: the input, the attribution map, and the two overlaid.

Images (C, H, W) show the input (gray or RGB, rescaled to [0, 1] for display), the
attribution as a heatmap (signed maps on a diverging scale centred at 0, magnitudes on a
sequential one) and the heatmap over the input; vectors show one bar per feature. Drawn with
matplotlib's object API (no pyplot state), written atomically.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from torch import Tensor

from trainlab.figures import figure, save


def _display(x: np.ndarray) -> np.ndarray:
    """(C, H, W) -> (H, W) or (H, W, 3) in [0, 1] for imshow."""
    lo, hi = float(x.min()), float(x.max())
    x = (x - lo) / (hi - lo) if hi > lo else np.zeros_like(x)
    return x[0] if x.shape[0] == 1 else np.moveaxis(x[:3], 0, -1)


def attribution_figure(x: Tensor, attribution: Tensor, title: str, path: Path) -> Path:
    """Write the figure of one sample `x` (no batch axis) and its attribution map."""
    xs, att = x.detach().cpu().float().numpy(), attribution.detach().cpu().float().numpy()
    if att.ndim == 3:  # per channel: the largest magnitude per position
        att = np.take_along_axis(att, np.abs(att).argmax(0)[None], 0)[0]
    signed = bool((att < 0).any())
    span = float(np.abs(att).max()) or 1.0
    cmap, vmin = ("RdBu_r", -span) if signed else ("magma", 0.0)
    if xs.ndim == 3:
        fig = figure(9, 3.3)
        axes = fig.subplots(1, 3)
        shown = _display(xs)
        gray = "gray" if shown.ndim == 2 else None
        axes[0].imshow(shown, cmap=gray)
        axes[0].set_title("input")
        im = axes[1].imshow(att, cmap=cmap, vmin=vmin, vmax=span)
        axes[1].set_title("attribution")
        fig.colorbar(im, ax=axes[1], shrink=0.8)
        axes[2].imshow(shown, cmap=gray)
        axes[2].imshow(att, cmap=cmap, vmin=vmin, vmax=span, alpha=0.55)
        axes[2].set_title("overlay")
        for ax in axes:
            ax.set_xticks([]), ax.set_yticks([])
    else:
        flat = att.reshape(-1)
        fig = figure(max(5.0, 0.25 * len(flat)), 3.3)
        ax = fig.subplots()
        ax.bar(np.arange(len(flat)), flat, color=np.where(flat >= 0, "tab:red", "tab:blue"))
        ax.set_xlabel("feature" if xs.ndim == 1 else "position")
        ax.set_ylabel("attribution")
    fig.suptitle(title)
    return save(fig, path)
