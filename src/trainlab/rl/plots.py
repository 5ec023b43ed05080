"""The episode-return curve: every training episode's return against environment steps,
with a moving average over the last 20 episodes."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from trainlab.figures import figure, save


def returns_figure(history: list[tuple[int, float, int]], path: Path, title: str) -> Path:
    steps = np.array([h[0] for h in history])
    rets = np.array([h[1] for h in history])
    k = min(20, len(rets))
    smooth = np.convolve(rets, np.ones(k) / k, mode="valid")
    fig = figure(7, 4)
    ax = fig.subplots()
    ax.plot(steps, rets, ".", ms=2, alpha=0.35, label="episode")
    ax.plot(steps[k - 1 :], smooth, lw=2, label=f"mean of the last {k}")
    ax.set_xlabel("environment steps")
    ax.set_ylabel("episode return")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc="best")
    return save(fig, path)
