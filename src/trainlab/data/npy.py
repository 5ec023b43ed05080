"""A folder of NumPy `.npy` files: `x.npy` (N, ...) and `y.npy` (N,), optional
`x_val.npy`/`y_val.npy` and `x_test.npy`/`y_test.npy`; the same layouts as `.npz`
(`trainlab.data.npz`).

The files are opened memory-mapped (`np.load(mmap_mode="r")`): `NpyDataset` reads one row
per item (copied out of the map as float32), so `x` never has to fit in memory; the page
cache holds what the OS can spare. `load_npy_folder` reads everything for the in-memory path.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from trainlab.data.bundle import RawData
from trainlab.data.npz import (
    check_pair,
    check_sample_shape,
    explicit_splits,
    labels,
    raw_from_arrays,
)
from trainlab.errors import DataError

NPY_NAMES = ("x", "y", "x_val", "y_val", "x_test", "y_test")


def is_npy_folder(path: Path) -> bool:
    return (Path(path) / "x.npy").is_file()


def open_npy(path: Path) -> np.ndarray:
    """One `.npy` file, memory-mapped (numbers only: no pickled objects)."""
    try:
        return np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError) as e:
        raise DataError(path, f"not a readable .npy file ({e})") from None


def open_npy_folder(root: Path) -> dict[str, np.ndarray]:
    """Every `x*.npy`/`y*.npy` of `root`, memory-mapped, by name (`x`, `y_val`, ...)."""
    root = Path(root)
    return {k: open_npy(root / f"{k}.npy") for k in NPY_NAMES if (root / f"{k}.npy").is_file()}


def load_npy_folder(root: Path, layout: str = "auto") -> RawData:
    """All arrays of `root` in memory, exactly as the same arrays in a `.npz` file."""
    return raw_from_arrays(open_npy_folder(root), Path(root), layout)


class NpyDataset(Dataset):
    """Rows of `root/x<suffix>.npy` with their `y`: `(float32 tensor, label)` per item.

    `split` is 'train' (`x.npy`, `y.npy`), 'val' or 'test' (`x_val.npy`, ...). The label is
    the raw `y` value (a Python number or string). Workers reopen the map after pickling.
    """

    def __init__(self, root: str | Path, split: str = "train", *, layout: str = "auto") -> None:
        if split not in ("train", "val", "test"):
            raise ValueError(f"split must be 'train', 'val' or 'test', got {split!r}")
        self.root, self.split = Path(root), split
        suffix = "" if split == "train" else f"_{split}"
        self.x_path = self.root / f"x{suffix}.npy"
        arrays = open_npy_folder(self.root)
        self.names = set(arrays)
        if "x" not in arrays or "y" not in arrays:
            raise DataError(self.root, "expected x.npy and y.npy (optional x_val.npy, ...)")
        if split != "train" and split not in explicit_splits(arrays, self.root):
            raise DataError(self.root, f"no x_{split}.npy / y_{split}.npy")
        xk, yk = f"x{suffix}", f"y{suffix}"
        self._x: np.ndarray | None = arrays[xk]
        self.y = labels(np.asarray(arrays[yk]))  # labels are small: read them whole
        self.add_channel = check_pair(self._x, arrays[yk], xk, yk, self.x_path, layout)
        if split != "train":
            check_sample_shape(self._x, arrays["x"], split, self.root)

    @property
    def x(self) -> np.ndarray:
        """The memory-mapped inputs (reopened after unpickling in a worker process)."""
        if self._x is None:
            self._x = open_npy(self.x_path)
        return self._x

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_x": None}  # never pickle the mapped data itself

    def __len__(self) -> int:
        return len(self.y)

    def rows(self, indices: np.ndarray) -> np.ndarray:
        """Rows `indices` as one float32 array (N, C, ...), the channel axis added."""
        x = np.asarray(self.x[indices], dtype=np.float32)
        return x[:, None] if self.add_channel else x

    def __getitem__(self, index: int) -> tuple[Tensor, Any]:
        x = np.array(self.x[index], dtype=np.float32)  # a copy out of the map
        return torch.from_numpy(x[None] if self.add_channel else x), self.y[index].item()
