"""Arrays in a NumPy `.npz` file: `x` (N, ...), `y` (N,), (N, C) or (N, H, W); optional
`x_val`/`y_val`, `x_test`/`y_test`. Without any `y` the data are unlabeled (`x`, optional
`x_val`/`x_test`): one class named `UNLABELED`, for the unsupervised tasks.

`y` of shape (N,) (or (N, 1)) holds class labels or numbers, (N, C) multi-hot labels and
(N, H, W) segmentation masks (see `trainlab.data.targets`); masks need images `x` (N, H, W)
or (N, C, H, W) of the same H and W, so a 3-D `x` beside masks is always read as images.

x of shape (N, D) is vectors, (N, C, L) 1-D signals, (N, H, W) single-channel images
(a channel axis is added) and (N, C, H, W) images. A 3-D `x` is ambiguous: with
`layout='auto'` it is a signal when it has at most 16 channels and a length more than
twice that, else an image; `layout='signals'` or `'images'` decides explicitly.
"""

from __future__ import annotations

import zipfile
from collections.abc import Collection
from pathlib import Path

import numpy as np

from trainlab.data.bundle import UNLABELED, RawData
from trainlab.errors import DataError

LAYOUTS = ("auto", "vectors", "signals", "images")
_NDIMS = {"vectors": (2,), "signals": (3,), "images": (3, 4), "auto": (2, 3, 4)}


def check_pair(x: np.ndarray, y: np.ndarray, xk: str, yk: str, path: Path, layout: str) -> bool:
    """Validate one `x`/`y` pair (shapes and dtype only: a memmap is not read); True when
    `x` is (N, H, W) images that get a channel axis."""
    if x.ndim not in _NDIMS[layout]:
        expected = {
            "vectors": "(N, D)",
            "signals": "(N, C, L)",
            "images": "(N, H, W) or (N, C, H, W)",
            "auto": "(N, D), (N, C, L), (N, H, W) or (N, C, H, W)",
        }[layout]
        raise DataError(path, f"'{xk}' has shape {x.shape}; expected {expected}")
    if y.ndim not in (1, 2, 3):
        raise DataError(
            path, f"'{yk}' has shape {y.shape}; expected (N,), (N, C) labels or (N, H, W) masks"
        )
    if len(x) != len(y):
        raise DataError(path, f"'{xk}' has {len(x)} rows but '{yk}' has {len(y)}")
    if len(x) == 0:
        raise DataError(path, f"'{xk}' is empty")
    if not np.issubdtype(x.dtype, np.number) or np.issubdtype(x.dtype, np.complexfloating):
        raise DataError(path, f"'{xk}' has dtype {x.dtype}; expected real numbers")
    if y.ndim == 3:  # masks: x must be images of the same height and width
        if x.ndim not in (3, 4) or layout in ("vectors", "signals") or x.shape[-2:] != y.shape[1:]:
            raise DataError(
                path,
                f"'{yk}' holds (N, H, W) masks of {y.shape[1]}x{y.shape[2]} pixels, so '{xk}' "
                f"must be images (N, H, W) or (N, C, H, W) of that size; got {x.shape}",
            )
        return x.ndim == 3
    return x.ndim == 3 and not (layout == "signals" or (layout == "auto" and _looks_like_signal(x)))


def _pair(
    arrays: dict[str, np.ndarray], xk: str, yk: str, path: Path, layout: str
) -> tuple[np.ndarray, ...]:
    x, y = arrays[xk], arrays[yk]
    if check_pair(x, y, xk, yk, path, layout):
        x = x[:, None]  # (N, H, W) -> (N, 1, H, W)
    return x.astype(np.float32), labels(y)


def labels(y: np.ndarray) -> np.ndarray:
    """(N, 1) -> (N,); multi-hot (N, C) and masks (N, H, W) keep their shape."""
    return y.reshape(-1) if y.ndim == 2 and y.shape[1] == 1 else y


def _looks_like_signal(x: np.ndarray) -> bool:
    """(N, C, L) with few channels and a longer length is a signal; otherwise (N, H, W)."""
    return x.shape[1] <= 16 and x.shape[2] > x.shape[1] * 2


def load_npz(path: Path, layout: str = "auto") -> RawData:
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
    except (OSError, ValueError, zipfile.BadZipFile) as e:
        raise DataError(path, f"not a readable .npz file ({e})") from None
    return raw_from_arrays(arrays, path, layout)


def raw_from_arrays(arrays: dict[str, np.ndarray], path: Path, layout: str) -> RawData:
    """`x`, `y` and the optional explicit splits of `arrays` (from a .npz or .npy files)."""
    if "x" in arrays and not any(k == "y" or k.startswith("y_") for k in arrays):
        return _unlabeled(arrays, path, layout)
    missing = [k for k in ("x", "y") if k not in arrays]
    if missing:
        raise DataError(
            path, f"missing array(s) {missing}; found {sorted(arrays)}, expected 'x' and 'y'"
        )
    x, y = _pair(arrays, "x", "y", path, layout)
    raw = RawData(x=x, y=y, task="auto")
    for split in explicit_splits(arrays, path):
        xs, ys = _pair(arrays, f"x_{split}", f"y_{split}", path, layout)
        check_sample_shape(xs, x, split, path)
        if ys.shape[1:] != y.shape[1:]:
            raise DataError(
                path, f"'y_{split}' targets have shape {ys.shape[1:]}, 'y' {y.shape[1:]}"
            )
        raw.explicit[split] = (xs, ys)
    return raw


def explicit_splits(names: Collection[str], path: Path) -> list[str]:
    """'val' and/or 'test' when `x_<split>` and `y_<split>` are both in `names`."""
    found = []
    for split in ("val", "test"):
        xk, yk = f"x_{split}", f"y_{split}"
        if (xk in names) != (yk in names):
            raise DataError(path, f"'{xk}' and '{yk}' must be given together")
        if xk in names:
            found.append(split)
    return found


def check_finite(x: np.ndarray, source: object, name: str, offset: int = 0) -> None:
    """DataError naming the first sample (numbered from `offset`) holding NaN or Inf."""
    finite = np.isfinite(x.reshape(len(x), -1)).all(axis=1)
    if not finite.all():
        bad = offset + int(np.flatnonzero(~finite)[0])
        raise DataError(source, f"{name} contain NaN or Inf (first at sample {bad})")


def check_sample_shape(xs: np.ndarray, x: np.ndarray, split: str, path: Path) -> None:
    if xs.shape[1:] != x.shape[1:]:
        raise DataError(path, f"'x_{split}' samples have shape {xs.shape[1:]}, 'x' {x.shape[1:]}")


def _unlabeled(arrays: dict[str, np.ndarray], path: Path, layout: str) -> RawData:
    """`x` (and `x_val`/`x_test`) without labels: every sample gets class 0 of `UNLABELED`."""

    def read(key: str) -> np.ndarray:
        x = arrays[key]
        zeros = np.zeros(len(x), dtype=np.int64)
        if check_pair(x, zeros, key, "(no labels)", path, layout):
            x = x[:, None]
        return x.astype(np.float32)

    x = read("x")
    raw = RawData(x=x, y=np.zeros(len(x), np.int64), task="classification", class_names=[UNLABELED])
    for split in ("val", "test"):
        if f"x_{split}" in arrays:
            xs = read(f"x_{split}")
            check_sample_shape(xs, x, split, path)
            raw.explicit[split] = (xs, np.zeros(len(xs), np.int64))
    return raw
