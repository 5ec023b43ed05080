"""New inputs for a finished run: read `source` the way the run read its training data.

`read_inputs` is what `trainlab predict` and `trainlab eval --data` share: the samples of
any supported source, labels optional, checked against the run's input shape and prepared
with the run's own recorded encoding (CSV feature columns and categories) — standardization
comes after, with the run's training statistics. Each sample keeps an id for the output
rows: the image's path inside an image folder, otherwise its row index.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from trainlab.data.digits import EMBEDDED
from trainlab.data.image_folder import decode_image, image_suffixes, to_float
from trainlab.data.npy import is_npy_folder, open_npy_folder
from trainlab.data.npz import labels
from trainlab.data.tabular import encode_features, feature_schema, read_rows, target_array
from trainlab.errors import DataError


@dataclass
class Inputs:
    """Samples `x` (float32, the run's input shape), labels `y` if the source has them
    (raw values, or indices into `class_names`), and one id per sample."""

    x: np.ndarray
    y: np.ndarray | None
    ids: list[str]
    class_names: list[str] | None = None


def label_names(found: Inputs) -> list[str]:
    """The labels of `found` as class names: its folder names, else the values as text
    (what a run's `class_names` holds), for matching them against a run's classes."""
    if found.y is None:
        raise ValueError("label_names: these inputs have no labels")
    names = found.class_names
    return [names[int(v)] for v in found.y] if names else [str(v) for v in found.y]


def read_inputs(source: str, meta: dict[str, Any], *, target: str | None = None) -> Inputs:
    """The samples of `source` (an embedded name, .npz, .csv, .npy folder or image folder,
    with or without labels) shaped like the run's `meta["in_shape"]` (which also settles
    what `data.layout` guessed in training: (N, H, W) arrays gain their channel axis)."""
    if source in EMBEDDED:
        raw = EMBEDDED[source]()
        assert isinstance(raw.x, np.ndarray)
        found = Inputs(raw.x, raw.y, [str(i) for i in range(len(raw.x))], raw.class_names)
        return _check(found, source, meta)
    path = Path(source)
    if not path.exists():
        raise DataError(path, "no such file or folder")
    if path.is_dir() and is_npy_folder(path):
        found = _arrays(open_npy_folder(path), path, meta)
    elif path.is_dir():
        found = _images(path, meta)
    elif path.suffix.lower() == ".npz":
        found = _npz(path, meta)
    elif path.suffix.lower() == ".csv":
        found = _csv(path, meta, target)
    else:
        raise DataError(path, "unsupported file type; expected .npz, .csv or a folder")
    return _check(found, source, meta)


def _check(found: Inputs, source: str, meta: dict[str, Any]) -> Inputs:
    x = found.x
    shape = tuple(meta["in_shape"])
    if x.shape[1:] != shape and (1, *x.shape[1:]) == shape:
        x = x[:, None]  # (N, H, W) -> (N, 1, H, W) / (N, L) -> (N, 1, L)
    if x.shape[1:] != shape:
        raise DataError(
            source, f"samples have shape {tuple(x.shape[1:])}; the run was trained on {shape}"
        )
    x = np.ascontiguousarray(x, dtype=np.float32)
    if not np.all(np.isfinite(x)):
        raise DataError(source, "features contain NaN or Inf")
    if len(x) == 0:
        raise DataError(source, "holds no samples")
    found.x = x
    return found


def _arrays(arrays: dict[str, Any], path: Path, meta: dict[str, Any]) -> Inputs:
    if "x" not in arrays:
        raise DataError(path, f"no array 'x'; found {sorted(arrays)}")
    x = np.asarray(arrays["x"])
    y = labels(np.asarray(arrays["y"])) if "y" in arrays else None
    if y is not None and len(y) != len(x):
        raise DataError(path, f"'x' has {len(x)} samples and 'y' {len(y)}")
    return Inputs(x, y, [str(i) for i in range(len(x))])


def _npz(path: Path, meta: dict[str, Any]) -> Inputs:
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
    except (OSError, ValueError, zipfile.BadZipFile) as e:
        raise DataError(path, f"not a readable .npz file ({e})") from None
    return _arrays(arrays, path, meta)


def _csv(path: Path, meta: dict[str, Any], target: str | None) -> Inputs:
    columns = read_rows(path)[1]
    y = target_array(columns.pop(target)) if target is not None and target in columns else None
    schema = meta.get("features") or feature_schema(columns)  # runs before schemas: as found
    x = encode_features(path, columns, schema)
    return Inputs(x, y, [str(i) for i in range(len(x))])


def _images(root: Path, meta: dict[str, Any]) -> Inputs:
    """root/*.png (no labels) or root/<class>/*.png, decoded at the run's size and mode."""
    suffixes = set(image_suffixes())

    def images(folder: Path) -> list[Path]:
        return sorted(
            p
            for p in folder.iterdir()
            if p.is_file() and p.suffix.lower() in suffixes and not p.name.startswith(".")
        )

    files = images(root)
    classes = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    y = None
    if not files and classes:
        per_class = [images(root / c) for c in classes]
        files = [p for found in per_class for p in found]
        y = np.concatenate([np.full(len(f), k, np.int64) for k, f in enumerate(per_class)])
    if not files:
        raise DataError(root, "holds no image Pillow reads (root/*.png or root/<class>/*.png)")
    c, size = int(meta["in_shape"][0]), int(meta["in_shape"][-1])
    if c not in (1, 3) or len(meta["in_shape"]) != 3:
        raise DataError(root, f"the run was trained on {tuple(meta['in_shape'])}, not images")
    mode = "L" if c == 1 else "RGB"
    x = np.stack([to_float(decode_image(p, size, mode)).numpy() for p in files])
    ids = [str(p.relative_to(root)) for p in files]
    return Inputs(x, y, ids, classes if y is not None else None)
