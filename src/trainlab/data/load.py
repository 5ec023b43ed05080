"""Load any supported source into a `DataBundle`: read, encode targets, split, normalize.

Sources: an embedded dataset name (`digits`), a `.npz` file, a `.csv` file (with
`target`), or an image folder. Missing val/test splits are carved from the training data
with a seeded split, stratified for classification (multi-label, segmentation and
regression splits are seeded random permutations); normalization statistics come from the
training split. Targets by task (`trainlab.data.targets`): classification int64 (N,),
regression standardized float32 (N, 1), multilabel float32 multi-hot (N, C), segmentation
int64 masks (N, H, W) with unlabelled pixels (255 in the file) as -100.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from trainlab.data.bundle import DataBundle, RawData, Split
from trainlab.data.digits import EMBEDDED
from trainlab.data.image_folder import load_image_folder
from trainlab.data.normalize import channel_stats, standardize
from trainlab.data.npz import load_npz
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
    source: str, *, target: str | None = None, image_size: int = 32, layout: str = "auto"
) -> RawData:
    """Read `source` without splitting: an embedded name, .npz, .csv or an image folder."""
    if source in EMBEDDED:
        return EMBEDDED[source]()
    path = Path(source)
    if not path.exists():
        raise DataError(
            path, f"no such file or folder (embedded datasets: {', '.join(sorted(EMBEDDED))})"
        )
    if path.is_dir():
        return load_image_folder(path, image_size)
    suffix = path.suffix.lower()
    if suffix == ".npz":
        return load_npz(path, layout)
    if suffix == ".csv":
        return load_csv(path, target)
    raise DataError(path, "unsupported file type; expected .npz, .csv or an image folder")


_TARGET_DTYPE = {
    "classification": torch.int64,
    "segmentation": torch.int64,
    "multilabel": torch.float32,
    "regression": torch.float64,  # standardized, then float32
}


def _check_finite(x: np.ndarray, source: object, name: str) -> None:
    if not np.all(np.isfinite(x)):
        bad = int(np.flatnonzero(~np.isfinite(x.reshape(len(x), -1)).any(axis=1))[0])
        raise DataError(source, f"{name} contain NaN or Inf (first at sample {bad})")


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
    out = {s: (raw.x[idx], y[idx]) for s, idx in zip(wanted, parts, strict=True)}
    return out | {s: raw.explicit[s] for s in raw.explicit}


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
) -> DataBundle:
    """Read, split (seeded, stratified) and normalize `source` into a `DataBundle`."""
    raw = read_source(source, target=target, image_size=image_size, layout=layout)
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

    def tensors(s: str) -> Split:
        x, y = parts[s]
        yt = torch.as_tensor(y, dtype=_TARGET_DTYPE[task])
        return Split(torch.as_tensor(x, dtype=torch.float32), yt)

    train, val, test = tensors("train"), tensors("val"), tensors("test")
    shape = tuple(train.x.shape[1:])
    if normalize:
        mean, std = channel_stats(train.x)
    else:
        mean, std = torch.zeros((shape[0],) + (1,) * (len(shape) - 1)), torch.ones(1)
    for s in (train, val, test):
        s.x = standardize(s.x, mean, std)
    t_mean, t_scale = 0.0, 1.0
    if task == "regression":
        t_mean, t_scale = float(train.y.mean()), float(train.y.std(unbiased=False)) or 1.0
        for s in (train, val, test):
            s.y = ((s.y - t_mean) / t_scale).float().reshape(-1, 1)
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
    )


def load_for_eval(
    source: str,
    meta: dict[str, Any],
    *,
    target: str | None = None,
    image_size: int = 32,
    layout: str = "auto",
) -> Split:
    """Every sample of `source`'s `x`/`y`, prepared exactly as a finished run's training data:
    the run's class names, input statistics and target scaling (`DataBundle.meta()`)."""
    raw = read_source(source, target=target, image_size=image_size, layout=layout)
    _check_finite(raw.x, source, "features")
    if list(raw.x.shape[1:]) != list(meta["in_shape"]):
        raise DataError(
            source,
            f"samples have shape {tuple(raw.x.shape[1:])}; the run was trained on "
            f"{tuple(meta['in_shape'])}",
        )
    x = standardize(torch.as_tensor(raw.x), meta["input_mean"], meta["input_std"])
    task = meta["task"]
    check_target_shape(raw.y, task, source)
    if task in ("multilabel", "segmentation"):
        return Split(x, _dense_targets(raw.y, task, meta, source))
    if task == "classification":
        names = meta["class_names"]
        labels = (
            [raw.class_names[int(v)] for v in raw.y] if raw.class_names else [str(v) for v in raw.y]
        )
        unknown = sorted(set(labels) - set(names))
        if unknown:
            raise DataError(source, f"labels {unknown[:5]} were not seen in training ({names})")
        index = {n: i for i, n in enumerate(names)}
        y = torch.tensor([index[v] for v in labels], dtype=torch.int64)
    else:
        yr = torch.as_tensor(as_regression(raw.y, source))
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
