"""Turning raw target arrays into what the model is trained on, and inferring the task.

The task follows from the shape and dtype of ``y`` (N = samples) unless it is forced:

* (N,) integer, boolean or string: ``classification`` (class indices 0..K-1);
* (N,) float: ``regression``;
* (N, C) with C > 1: ``multilabel``; the values must be 0/1 (bool, integer, or floats that
  are exactly 0.0/1.0) and become float32 multi-hot targets;
* (N, H, W): ``segmentation``, per-pixel class indices. The value ``IGNORE_VALUE`` (255,
  the usual "void"/"unlabelled" value of segmentation masks) marks pixels without a label;
  it is mapped to ``IGNORE_INDEX`` (-100, torch's default ``ignore_index``), so
  ``cross_entropy``, the Dice loss and the segmentation metrics skip those pixels with
  their default arguments. The number of classes is the largest other value plus one.
"""

from __future__ import annotations

import numpy as np

from trainlab.errors import DataError

TASKS = ("classification", "regression", "multilabel", "segmentation")
IGNORE_VALUE = 255  # unlabelled pixels in a mask file
IGNORE_INDEX = -100  # ... and in the int64 target tensors (torch's default ignore_index)

_TARGET_SHAPE = {
    "classification": (1, "(N,) class labels"),
    "regression": (1, "(N,) numbers"),
    "multilabel": (2, "(N, C) multi-hot 0/1 labels"),
    "segmentation": (3, "(N, H, W) integer masks"),
}


def infer_task(y: np.ndarray, requested: str) -> str:
    """The task for targets ``y`` (see the module docstring); ``requested`` wins unless 'auto'."""
    if requested != "auto":
        return requested
    if y.ndim == 3:
        return "segmentation"
    if y.ndim == 2 and y.shape[1] > 1:
        return "multilabel"
    return "regression" if np.issubdtype(y.dtype, np.floating) else "classification"


def check_target_shape(y: np.ndarray, task: str, source: object, name: str = "y") -> None:
    """DataError unless ``y`` has the number of dimensions ``task`` needs."""
    if task not in _TARGET_SHAPE:
        raise DataError(source, f"task={task!r}; expected one of {', '.join(TASKS)}")
    ndim, what = _TARGET_SHAPE[task]
    if y.ndim != ndim or (task == "multilabel" and y.shape[1] < 2):
        raise DataError(source, f"'{name}' has shape {y.shape}; task {task!r} needs {what}")


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


def _numeric(y: np.ndarray, source: object, what: str) -> np.ndarray:
    if y.dtype == bool:
        return y.astype(np.int64)
    if not np.issubdtype(y.dtype, np.number) or np.issubdtype(y.dtype, np.complexfloating):
        raise DataError(source, f"{what} must be numbers; got dtype {y.dtype}")
    if np.issubdtype(y.dtype, np.floating):
        if not np.all(np.isfinite(y)):
            raise DataError(source, f"{what} contain NaN or Inf")
        if not np.all(y == np.round(y)):
            bad = y[y != np.round(y)].flat[0]
            raise DataError(source, f"{what} must be integers; found {bad:g}")
    return y.astype(np.int64)


def as_multilabel(y: np.ndarray, source: object, name: str = "y") -> np.ndarray:
    """(N, C) 0/1 labels as float32 multi-hot targets; DataError for any other value."""
    v = _numeric(np.asarray(y), source, f"multi-label targets '{name}'")
    bad = v[(v != 0) & (v != 1)]
    if bad.size:
        raise DataError(
            source,
            f"multi-label targets '{name}' must be 0/1 (multi-hot); found {int(bad.flat[0])} "
            "(multi-output regression is not supported)",
        )
    return v.astype(np.float32)


def as_masks(ys: list[np.ndarray], source: object) -> tuple[list[np.ndarray], int]:
    """Masks (N, H, W) as int64 class indices with ``IGNORE_VALUE`` -> ``IGNORE_INDEX``, and
    the number of classes (largest labelled value + 1, at least 2)."""
    out, top = [], -1
    for y in ys:
        m = _numeric(np.asarray(y), source, "mask values")
        if m.size and int(m.min()) < 0:
            raise DataError(
                source,
                f"mask values must be class indices >= 0 (or {IGNORE_VALUE}: unlabelled); "
                f"found {int(m.min())}",
            )
        labelled = m[m != IGNORE_VALUE]
        top = max(top, int(labelled.max()) if labelled.size else -1)
        out.append(np.where(m == IGNORE_VALUE, IGNORE_INDEX, m))
    if top < 1:
        raise DataError(
            source,
            f"segmentation needs at least 2 classes in the masks; found {top + 1} "
            f"(value {IGNORE_VALUE} is 'unlabelled')",
        )
    return out, top + 1
