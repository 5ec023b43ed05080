"""Turning raw target arrays into class indices or float values, and inferring the task."""

from __future__ import annotations

import numpy as np

from trainlab.errors import DataError


def infer_task(y: np.ndarray, requested: str) -> str:
    """'classification' for integer, boolean and string targets, 'regression' for floats."""
    if requested != "auto":
        return requested
    return "regression" if np.issubdtype(y.dtype, np.floating) else "classification"


def encode_classes(ys: list[np.ndarray], source: object) -> tuple[list[np.ndarray], list[str]]:
    """Map the labels of all arrays to 0..K-1 (sorted label order); return names too."""
    labels = np.unique(np.concatenate([np.asarray(y).ravel() for y in ys]))
    if np.issubdtype(labels.dtype, np.floating) and not np.all(np.isfinite(labels)):
        raise DataError(source, "targets contain NaN or Inf")
    if len(labels) < 2:
        raise DataError(source, f"classification needs at least 2 classes, found {len(labels)}")
    return [np.searchsorted(labels, np.asarray(y).ravel()) for y in ys], [
        str(v) for v in labels.tolist()
    ]


def as_regression(y: np.ndarray, source: object) -> np.ndarray:
    try:
        out = np.asarray(y, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise DataError(source, "regression targets must be numbers") from None
    if not np.all(np.isfinite(out)):
        raise DataError(source, "targets contain NaN or Inf")
    return out
