"""Figures without process-wide state: matplotlib's object API (`Figure` + the Agg canvas,
never pyplot's global figure manager or backend switch), written atomically."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def figure(width: float = 6, height: float = 4) -> Any:
    """A new `Figure` of `width` x `height` inches with constrained layout, on its own canvas."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), constrained_layout=True)
    FigureCanvasAgg(fig)
    return fig


def save(fig: Any, path: Path, *, dpi: int = 100) -> Path:
    """Write `fig` as a PNG at `path` (folders made): a temporary file renamed over it, so a
    reader never sees half a picture."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=dpi)
    tmp.replace(path)
    return path
