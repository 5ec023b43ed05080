"""Load any supported source into a `DataBundle`: read, encode targets, split, normalize.

Sources: an embedded dataset name (`digits`), a `.npz` file, a `.csv` file (with
`target`), a folder of `.npy` files (`x.npy`, `y.npy`, ...) or an image folder. Missing
val/test splits are carved from the training data with a seeded, stratified split;
normalization statistics come from the training split.

`lazy=True` keeps image folders and `.npy` folders on disk: the splits are Datasets that
read, decode and standardize one item at a time (`trainlab.data.lazy`), cut by the same
split of the labels. Other sources are small by nature and are read whole either way.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from trainlab.data.bundle import DataBundle, RawData, Split
from trainlab.data.digits import EMBEDDED
from trainlab.data.image_folder import ImageFolderDataset, load_image_folder
from trainlab.data.inputs import label_names, read_inputs
from trainlab.data.lazy import SplitView, check_npy_finite, train_stats, views
from trainlab.data.normalize import channel_stats, identity_stats, standardize
from trainlab.data.npy import NpyDataset, is_npy_folder, load_npy_folder
from trainlab.data.npz import check_finite, explicit_splits, load_npz
from trainlab.data.split import split_indices
from trainlab.data.tabular import load_csv
from trainlab.data.targets import (
    IGNORE_INDEX,
    as_masks,
    as_multilabel,
    as_regression,
    check_target_shape,
    encode_classes,
    infer_task,
)
from trainlab.errors import DataError


def read_source(
    source: str,
    *,
    target: str | None = None,
    image_size: int = 32,
    layout: str = "auto",
    lazy: bool = False,
) -> RawData:
    """Read `source` without splitting: an embedded name, .npz, .csv, a .npy folder or an
    image folder; with `lazy`, a folder's `x` (and explicit splits) are Datasets."""
    if source in EMBEDDED:
        return EMBEDDED[source]()
    path = Path(source)
    if not path.exists():
        raise DataError(
            path, f"no such file or folder (embedded datasets: {', '.join(sorted(EMBEDDED))})"
        )
    if path.is_dir() and is_npy_folder(path):
        return _lazy_npy(path, layout) if lazy else load_npy_folder(path, layout)
    if path.is_dir() and lazy:
        images = ImageFolderDataset(path, image_size)
        return RawData(images, images.labels, "classification", images.class_names)
    if path.is_dir():
        return load_image_folder(path, image_size)
    suffix = path.suffix.lower()
    if suffix == ".npz":
        return load_npz(path, layout)
    if suffix == ".csv":
        return load_csv(path, target)
    raise DataError(path, "unsupported file type; expected .npz, .csv or an image folder")


def _lazy_npy(path: Path, layout: str) -> RawData:
    train = NpyDataset(path, layout=layout)
    explicit = {s: NpyDataset(path, s, layout=layout) for s in explicit_splits(train.names, path)}
    return RawData(train, train.y, "auto", explicit={s: (d, d.y) for s, d in explicit.items()})


def _check_finite(x: np.ndarray | Dataset, source: object, name: str) -> None:
    if isinstance(x, NpyDataset):
        check_npy_finite(x, source, name)
    elif isinstance(x, np.ndarray):
        check_finite(x, source, name)


def _take(x: np.ndarray | Dataset, idx: np.ndarray) -> Any:
    """Rows `idx` of an array, or a lazy `(dataset, idx)` pair for a Dataset."""
    return x[idx] if isinstance(x, np.ndarray) else (x, idx)


def _carve(
    raw: RawData, task: str, y: np.ndarray, fractions: Sequence[float], seed: int, source: str
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Splits not given explicitly are cut from `raw.x` in renormalized fractions."""
    wanted = ["train"] + [s for s in ("val", "test") if s not in raw.explicit]
    frac = dict(zip(("train", "val", "test"), fractions, strict=True))
    total = sum(frac[s] for s in wanted)
    parts = split_indices(
        y,
        [frac[s] / total for s in wanted],
        seed=seed,
        stratify=task == "classification",
        source=source,
        class_names=raw.class_names,
    )
    out = {s: (_take(raw.x, idx), y[idx]) for s, idx in zip(wanted, parts, strict=True)}
    return out | {s: raw.explicit[s] for s in raw.explicit}


_TARGET_DTYPE = {
    "classification": torch.int64,
    "segmentation": torch.int64,
    "multilabel": torch.float32,
    "regression": torch.float64,  # standardized, then float32
}


def _in_memory(
    parts: dict[str, tuple[Any, np.ndarray]],
    targets: dict[str, Tensor],
    normalize: bool,
    tokens: bool = False,
) -> tuple[dict[str, Split], Tensor, Tensor, tuple[int, ...]]:
    if tokens:  # token ids stay integers (text): identity statistics
        ids = {s: torch.as_tensor(x, dtype=torch.int64) for s, (x, _) in parts.items()}
        shape = tuple(ids["train"].shape[1:])
        return {s: Split(ids[s], targets[s]) for s in ids}, *identity_stats(shape), shape
    xs = {s: torch.as_tensor(x, dtype=torch.float32) for s, (x, _) in parts.items()}
    shape = tuple(xs["train"].shape[1:])
    mean, std = channel_stats(xs["train"]) if normalize else identity_stats(shape)
    return {s: Split(standardize(xs[s], mean, std), targets[s]) for s in xs}, mean, std, shape


def _lazy(
    parts: dict[str, tuple[Any, np.ndarray]],
    targets: dict[str, Tensor],
    normalize: bool,
    stats_samples: int | None,
    seed: int,
) -> tuple[dict[str, SplitView], Tensor, Tensor, tuple[int, ...]]:
    """Carved splits arrive as `(dataset, indices)`, explicit ones as a whole dataset."""
    lazy = {s: (x if isinstance(x, tuple) else (x, None)) for s, (x, _) in parts.items()}
    base, idx = lazy["train"]
    shape = tuple(base[int(idx[0]) if idx is not None else 0][0].shape)
    if normalize:
        chosen = idx if idx is not None else np.arange(len(base))
        mean, std = train_stats(base, chosen, stats_samples=stats_samples, seed=seed)
    else:
        mean, std = identity_stats(shape)
    return views({s: (*lazy[s], targets[s]) for s in lazy}, mean, std), mean, std, shape


def load_dataset(
    source: str,
    *,
    target: str | None = None,
    task: str = "auto",
    split: Sequence[float] = (0.7, 0.15, 0.15),
    seed: int = 0,
    image_size: int = 32,
    normalize: bool = True,
    layout: str = "auto",
    lazy: bool = False,
    stats_samples: int | None = 10_000,
) -> DataBundle:
    """Read, split (seeded, stratified) and normalize `source` into a `DataBundle`.

    `lazy`: an image or .npy folder stays on disk and the splits are Datasets of
    standardized `(x, y)` items (`trainlab.data.lazy`); `stats_samples` caps how many
    training images its normalization statistics are computed from (None: all).
    """
    if stats_samples is not None and (isinstance(stats_samples, bool) or stats_samples < 1):
        raise ValueError(f"stats_samples must be None or an int >= 1, got {stats_samples!r}")
    raw = read_source(source, target=target, image_size=image_size, layout=layout, lazy=lazy)
    task = infer_task(raw.y, task if task != "auto" else raw.task)
    for name, (xs, _) in {"x": (raw.x, None), **raw.explicit}.items():
        _check_finite(xs, source, "features" if name == "x" else f"{name} features")
    ys = [raw.y] + [raw.explicit[s][1] for s in raw.explicit]
    for name, y in zip(["y", *(f"y_{s}" for s in raw.explicit)], ys, strict=True):
        check_target_shape(y, task, source, name)
    num_outputs, class_names = 1, None
    if task == "classification" and raw.class_names is not None:  # already 0..K-1
        encoded, class_names = [np.asarray(y, np.int64).ravel() for y in ys], raw.class_names
    elif task == "classification":
        encoded, class_names = encode_classes(ys, source)
    elif task == "multilabel":
        encoded, num_outputs = [as_multilabel(y, source) for y in ys], raw.y.shape[1]
    elif task == "segmentation":
        encoded, num_outputs = as_masks(ys, source)
    else:
        encoded = [as_regression(y, source) for y in ys]
    if class_names is not None:
        num_outputs = len(class_names)
    raw.explicit = {
        s: (raw.explicit[s][0], e) for s, e in zip(raw.explicit, encoded[1:], strict=True)
    }
    parts = _carve(raw, task, encoded[0], split, seed, source)
    targets = {s: torch.as_tensor(y, dtype=_TARGET_DTYPE[task]) for s, (_, y) in parts.items()}
    t_mean, t_scale = 0.0, 1.0
    if task == "regression":
        t_mean = float(targets["train"].mean())
        t_scale = float(targets["train"].std(unbiased=False)) or 1.0
        targets = {s: ((y - t_mean) / t_scale).float().reshape(-1, 1) for s, y in targets.items()}
    splits: dict[str, Split] | dict[str, SplitView]
    if isinstance(raw.x, np.ndarray):
        splits, mean, std, shape = _in_memory(parts, targets, normalize, raw.tokens)
    else:
        splits, mean, std, shape = _lazy(parts, targets, normalize, stats_samples, seed)
    train, val, test = splits["train"], splits["val"], splits["test"]
    return DataBundle(
        train=train,
        val=val,
        test=test,
        task=task,
        num_outputs=num_outputs,
        in_shape=shape,
        class_names=class_names,
        source=source,
        input_mean=mean,
        input_std=std,
        target_mean=t_mean,
        target_scale=t_scale,
        ignore_index=IGNORE_INDEX if task == "segmentation" else None,
        features=raw.features,
    )


def load_for_eval(
    source: str,
    meta: dict[str, Any],
    *,
    target: str | None = None,
) -> Split:
    """Every sample of `source` with its targets, prepared exactly as a finished run's
    training data: the run's encoding, class names, input statistics and target scaling
    (`DataBundle.meta()`)."""
    found = read_inputs(source, meta, target=target)
    if found.y is None:
        what = f"no {target!r} column" if target else "no labels ('y', or class folders)"
        raise DataError(source, f"{what}: evaluation needs the true targets")
    x = standardize(torch.as_tensor(found.x), meta["input_mean"], meta["input_std"])
    task = meta["task"]
    check_target_shape(found.y, task, source)
    if task in ("multilabel", "segmentation"):
        return Split(x, _dense_targets(found.y, task, meta, source))
    if task == "classification":
        names = meta["class_names"]
        given = label_names(found)
        unknown = sorted(set(given) - set(names))
        if unknown:
            raise DataError(source, f"labels {unknown[:5]} were not seen in training ({names})")
        index = {n: i for i, n in enumerate(names)}
        y = torch.tensor([index[v] for v in given], dtype=torch.int64)
    else:
        yr = torch.as_tensor(as_regression(found.y, source))
        y = ((yr - meta["target_mean"]) / meta["target_scale"]).float().reshape(-1, 1)
    return Split(x, y)


def _dense_targets(y: np.ndarray, task: str, meta: dict[str, Any], source: str) -> torch.Tensor:
    """Multi-hot labels or masks of `source`, checked against the run's number of outputs."""
    k = int(meta["num_outputs"])
    if task == "multilabel":
        if y.shape[1] != k:
            raise DataError(source, f"'y' has {y.shape[1]} labels; the run was trained on {k}")
        return torch.as_tensor(as_multilabel(y, source))
    (mask,), found = as_masks([y], source)
    if found > k:
        raise DataError(
            source, f"masks hold class {found - 1}; the run was trained on classes 0..{k - 1}"
        )
    return torch.as_tensor(mask, dtype=torch.int64)
