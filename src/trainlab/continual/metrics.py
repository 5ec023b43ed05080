"""The continual-learning evaluation protocol: the accuracy matrix R and ACC / BWT / FWT.

Lopez-Paz & Ranzato 2017 (GEM), as the notes define them (F3:4590-4620), 0-based here:
R[i, j] is the test accuracy on task j after training on tasks 0..i (T x T), and b[j] the
accuracy of the randomly initialized model on task j.

    ACC = 1/T     sum_{j=0}^{T-1} R[T-1, j]              (final average accuracy)
    BWT = 1/(T-1) sum_{j=0}^{T-2} (R[T-1, j] - R[j, j])  (backward transfer; < 0: forgetting)
    FWT = 1/(T-1) sum_{j=1}^{T-1} (R[j-1, j] - b[j])     (forward transfer)

With one task BWT and FWT are undefined and reported as NaN.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np


def _matrix(r: Sequence[Sequence[float]] | np.ndarray) -> np.ndarray:
    m = np.asarray(r, dtype=np.float64)
    if m.ndim != 2 or m.shape[0] != m.shape[1] or m.shape[0] < 1:
        raise ValueError(f"R: expected a square T x T accuracy matrix, got shape {m.shape}")
    return m


def average_accuracy(r: Sequence[Sequence[float]] | np.ndarray) -> float:
    """ACC = mean_j R[T-1, j]."""
    return float(_matrix(r)[-1].mean())


def backward_transfer(r: Sequence[Sequence[float]] | np.ndarray) -> float:
    """BWT = mean_{j < T-1} (R[T-1, j] - R[j, j]); NaN for one task."""
    m = _matrix(r)
    t = len(m)
    if t < 2:
        return math.nan
    return float(np.mean([m[-1, j] - m[j, j] for j in range(t - 1)]))


def forward_transfer(
    r: Sequence[Sequence[float]] | np.ndarray, baseline: Sequence[float] | np.ndarray
) -> float:
    """FWT = mean_{j > 0} (R[j-1, j] - b[j]); NaN for one task."""
    m = _matrix(r)
    b = np.asarray(baseline, dtype=np.float64)
    if b.shape != (len(m),):
        raise ValueError(f"baseline: expected {len(m)} accuracies (one per task), got {b.shape}")
    t = len(m)
    if t < 2:
        return math.nan
    return float(np.mean([m[j - 1, j] - b[j] for j in range(1, t)]))


def stream_metrics(
    r: Sequence[Sequence[float]] | np.ndarray, baseline: Sequence[float] | np.ndarray
) -> dict[str, float]:
    """{"ACC", "BWT", "FWT"} of the accuracy matrix `r` and the random-init `baseline`."""
    return {
        "ACC": average_accuracy(r),
        "BWT": backward_transfer(r),
        "FWT": forward_transfer(r, baseline),
    }


def matrix_csv(r: Sequence[Sequence[float]] | np.ndarray) -> str:
    """R as CSV: a header `after_task,task_0,...`, one row per trained task."""
    m = np.asarray(r, dtype=np.float64)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["after_task", *(f"task_{j}" for j in range(m.shape[1]))])
    for i, row in enumerate(m):
        w.writerow([i, *(f"{v:.6f}" for v in row)])
    return buf.getvalue()


def read_matrix_csv(path: Path) -> np.ndarray:
    """The matrix `matrix_csv` wrote."""
    rows = list(csv.reader(path.read_text(encoding="utf-8").splitlines()))
    return np.array([[float(v) for v in row[1:]] for row in rows[1:]], dtype=np.float64)
