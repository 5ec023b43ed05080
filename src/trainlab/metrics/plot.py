"""Save a confusion matrix as a PNG.

matplotlib is imported only when a plot is made, and drawn through its Agg canvas on a
``Figure`` object (no pyplot, no global backend switch), so this works headless and does
not disturb a caller's own matplotlib setup.
"""

from __future__ import annotations

from pathlib import Path

from torch import Tensor

__all__ = ["save_confusion_matrix"]


def save_confusion_matrix(
    cm: Tensor,
    path: str | Path,
    *,
    class_names: list[str] | None = None,
    normalize: bool = False,
    title: str = "Confusion matrix",
) -> Path:
    """Write ``cm`` (K, K; rows true, columns predicted) to ``path`` as a PNG.

    ``normalize=True`` shows each row as fractions of its true class (an empty row stays
    0). Counts are written in the cells when K <= 20.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if cm.dim() != 2 or cm.shape[0] != cm.shape[1]:
        raise ValueError(f"cm must be a square (K, K) matrix; got shape {tuple(cm.shape)}")
    k = cm.shape[0]
    if class_names is not None and len(class_names) != k:
        raise ValueError(f"class_names has {len(class_names)} names for {k} classes")
    values = cm.detach().double().cpu()
    if normalize:
        values = values / values.sum(1, keepdim=True).clamp_min(1)
    names = class_names or [str(i) for i in range(k)]
    size = min(2.0 + 0.45 * k, 16.0)
    fig = Figure(figsize=(size, size))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    im = ax.imshow(values.numpy(), cmap="Blues", vmin=0)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    ax.set(xlabel="predicted", ylabel="true", title=title)
    if k <= 50:
        ax.set_xticks(range(k), names, rotation=90 if k > 10 else 0)
        ax.set_yticks(range(k), names)
    if k <= 20:
        top = float(values.max()) if values.numel() else 0.0
        for i in range(k):
            for j in range(k):
                v = float(values[i, j])
                text = f"{v:.2f}" if normalize else f"{int(v)}"
                color = "white" if top and v > top / 2 else "black"
                ax.text(j, i, text, ha="center", va="center", color=color, fontsize=8)
    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, format="png", dpi=100)
    return out
