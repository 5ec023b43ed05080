"""load_dataset(lazy=True): Datasets split and standardized exactly as the in-memory path."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from trainlab.data import DatasetLoader, NpyDataset, Split, SplitView, load_dataset
from trainlab.errors import DataError

# Both paths accumulate in float64 and round once to float32: they agree to 1-2 float32 ulps
# (2 ** -23 relative each); 1e-6 relative leaves room for that and nothing more.
RTOL = 1e-6


def _images(root: Path, n: int = 6) -> Path:
    from PIL import Image

    rng = np.random.default_rng(0)
    for k, cls in enumerate(["ants", "bees", "wasps"]):
        (root / cls).mkdir(parents=True)
        for i in range(n):
            arr = (rng.integers(0, 120, size=(14, 11, 3)) + 60 * k).astype(np.uint8)
            Image.fromarray(arr).save(root / cls / f"{i}.png")
    return root


def _same_splits(lazy: object, eager: object) -> None:
    for name in ("train", "val", "test"):
        view, split = getattr(lazy, name), getattr(eager, name)
        assert isinstance(view, SplitView) and len(view) == len(split)
        xs = torch.stack([view[k][0] for k in range(len(view))])
        ys = torch.stack([view[k][1] for k in range(len(view))])
        assert torch.allclose(xs, split.x, rtol=RTOL, atol=1e-6) and torch.equal(ys, split.y)


def test_lazy_image_folder_matches_the_in_memory_bundle(tmp_path: Path) -> None:
    root = str(_images(tmp_path / "imgs"))
    eager = load_dataset(root, image_size=8)
    lazy = load_dataset(root, image_size=8, lazy=True)
    assert lazy.in_shape == eager.in_shape == (3, 8, 8)
    assert lazy.class_names == eager.class_names and lazy.meta()["sizes"] == eager.meta()["sizes"]
    assert torch.allclose(lazy.input_mean, eager.input_mean, rtol=RTOL, atol=0)
    assert torch.allclose(lazy.input_std, eager.input_std, rtol=RTOL, atol=0)
    _same_splits(lazy, eager)
    batches = list(DatasetLoader(lazy.train, 4, shuffle=True, drop_last=True, seed=1).epoch(0))
    assert batches[0][0].shape == (4, 3, 8, 8) and batches[0][1].dtype == torch.int64


def test_lazy_image_stats_from_a_seeded_subset(tmp_path: Path) -> None:
    root = str(_images(tmp_path / "imgs"))
    full = load_dataset(root, image_size=8, lazy=True)
    a = load_dataset(root, image_size=8, lazy=True, stats_samples=3)
    b = load_dataset(root, image_size=8, lazy=True, stats_samples=3)
    assert torch.equal(a.input_mean, b.input_mean)  # seeded: the same subset each time
    assert not torch.allclose(a.input_mean, full.input_mean, rtol=1e-3)  # 3 of 12 images
    with pytest.raises(ValueError, match="stats_samples must be None or an int >= 1, got 0"):
        load_dataset(root, lazy=True, stats_samples=0)


def _npy(root: Path, x: np.ndarray, y: np.ndarray, **extra: np.ndarray) -> Path:
    root.mkdir(parents=True)
    for name, arr in {"x": x, "y": y, **extra}.items():
        np.save(root / f"{name}.npy", arr)
    return root


def test_npy_dataset_reads_rows_from_a_memory_map(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    x = np.random.default_rng(0).normal(size=(30, 4, 5)).astype(np.float64)
    root = _npy(tmp_path / "d", x, np.arange(30) % 3)
    calls: list[object] = []
    real_load = np.load
    monkeypatch.setattr(
        np, "load", lambda *a, **k: calls.append(k.get("mmap_mode")) or real_load(*a, **k)
    )
    ds = NpyDataset(root)
    assert calls == ["r", "r"] and isinstance(ds.x, np.memmap)  # never read whole
    item, label = ds[7]
    assert item.dtype == torch.float32 and torch.equal(
        item, torch.from_numpy(x[7:8].astype(np.float32))
    )
    assert label == 1
    item[0, 0, 0] = 99.0  # a copy: the map (read-only) is untouched
    assert ds.x[7, 0, 0] == x[7, 0, 0] and item[0, 0, 0] != x[7, 0, 0]
    import pickle

    clone = pickle.loads(pickle.dumps(ds))  # as a worker receives it: the map is reopened
    assert clone._x is None and torch.equal(clone[7][0], ds[7][0])
    assert len(pickle.dumps(ds)) < x.nbytes // 4


def test_lazy_npy_folder_matches_in_memory_with_explicit_splits_and_regression(
    tmp_path: Path,
) -> None:
    rng = np.random.default_rng(1)
    x = (rng.normal(size=(60, 2, 6)) * 3 + 1e4).astype(np.float32)  # a large offset
    xt = rng.normal(size=(9, 2, 6)).astype(np.float32) + 1e4
    root = str(
        _npy(tmp_path / "r", x, x.sum(axis=(1, 2)) * 0.5, x_test=xt, y_test=xt.sum(axis=(1, 2)))
    )
    eager = load_dataset(root, layout="images")
    lazy = load_dataset(root, layout="images", lazy=True)
    assert lazy.task == eager.task == "regression" and lazy.in_shape == (1, 2, 6)
    assert len(lazy.test) == 9 and lazy.target_scale == eager.target_scale
    assert torch.allclose(lazy.input_std, eager.input_std, rtol=RTOL, atol=0)
    _same_splits(lazy, eager)


def test_lazy_reads_other_sources_whole(tmp_path: Path) -> None:
    np.savez(tmp_path / "d.npz", x=np.zeros((30, 2)), y=np.arange(30) % 2)
    assert isinstance(load_dataset(str(tmp_path / "d.npz"), lazy=True).train, Split)


def test_lazy_npy_checks_every_row_for_nan(tmp_path: Path) -> None:
    x = np.zeros((40, 3), np.float32)
    x[33, 1] = np.nan
    root = str(_npy(tmp_path / "n", x, np.arange(40) % 2))
    with pytest.raises(DataError, match=r"features contain NaN or Inf \(first at sample 33\)"):
        load_dataset(root, lazy=True)
    with pytest.raises(DataError, match=r"features contain NaN or Inf \(first at sample 33\)"):
        load_dataset(root)  # the in-memory path says the same
