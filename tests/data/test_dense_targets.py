"""Multi-label (N, C) and segmentation (N, H, W) targets from .npz files: task inference,
forced tasks, encodings, splits, metadata, evaluation data and one-line errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from trainlab.data import IGNORE_INDEX, load_dataset, load_for_eval
from trainlab.errors import DataError


def _masks(n: int = 40, h: int = 13, w: int = 17, k: int = 3, seed: int = 0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, size=(n, h, w)).astype(np.uint8)
    x = rng.normal(size=(n, 2, h, w)).astype(np.float32) + y[:, None]
    return x, y


def _multihot(n: int = 60, c: int = 4, seed: int = 0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, size=(n, c))
    x = rng.normal(size=(n, 6)).astype(np.float32)
    return x, y


def test_masks_give_segmentation_with_ignore_index(tmp_path: Path) -> None:
    x, y = _masks()
    y[0, :2, :3] = 255  # 6 unlabelled pixels of sample 0
    np.savez(tmp_path / "s.npz", x=x, y=y)
    b = load_dataset(str(tmp_path / "s.npz"))
    assert b.task == "segmentation" and b.num_outputs == 3 and b.in_shape == (2, 13, 17)
    assert b.ignore_index == IGNORE_INDEX == -100 and b.meta()["ignore_index"] == -100
    ys = torch.cat([b.train.y, b.val.y, b.test.y])
    assert ys.dtype == torch.int64 and ys.shape == (40, 13, 17)
    assert int((ys == -100).sum()) == 6  # exactly the 255 pixels, nothing else
    assert set(ys[ys != -100].unique().tolist()) == {0, 1, 2}
    # splits are a seeded permutation (not stratified): same seed, same split
    again = load_dataset(str(tmp_path / "s.npz"))
    assert torch.equal(again.test.y, b.test.y)
    other = load_dataset(str(tmp_path / "s.npz"), seed=1)
    assert not torch.equal(other.test.y, b.test.y)
    assert (len(b.train), len(b.val), len(b.test)) == (28, 6, 6)


def test_single_channel_images_beside_masks_are_images_not_signals(tmp_path: Path) -> None:
    # (N, 4, 40) looks like a signal to the layout guess, but masks of 4x40 make it an image
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, size=(30, 4, 40))
    np.savez(tmp_path / "s.npz", x=rng.normal(size=(30, 4, 40)), y=y)
    b = load_dataset(str(tmp_path / "s.npz"))
    assert b.in_shape == (1, 4, 40) and b.num_outputs == 2


def test_num_classes_counts_every_split_and_skips_ignore(tmp_path: Path) -> None:
    x, y = _masks(k=2)
    xv, yv = _masks(10, k=2, seed=1)
    yv[0, 0, 0] = 4  # class 4 only in the validation masks -> 5 classes
    np.savez(tmp_path / "s.npz", x=x, y=y, x_val=xv, y_val=yv)
    assert load_dataset(str(tmp_path / "s.npz")).num_outputs == 5


def test_multihot_gives_multilabel(tmp_path: Path) -> None:
    x, y = _multihot()
    np.savez(tmp_path / "m.npz", x=x, y=y.astype(bool))
    b = load_dataset(str(tmp_path / "m.npz"))
    assert b.task == "multilabel" and b.num_outputs == 4 and b.ignore_index is None
    assert b.train.y.dtype == torch.float32 and b.train.y.shape[1] == 4
    ys = torch.cat([b.train.y, b.val.y, b.test.y])
    assert ys.sum().item() == y.sum()  # a permutation of the rows, values unchanged
    assert b.meta()["task"] == "multilabel" and b.meta()["num_outputs"] == 4


def test_forced_tasks(tmp_path: Path) -> None:
    x, y = _multihot()
    np.savez(tmp_path / "f.npz", x=x, y=y.astype(np.float64))  # float 0/1: forced multilabel
    assert load_dataset(str(tmp_path / "f.npz"), task="multilabel").num_outputs == 4
    with pytest.raises(DataError, match=r"'y' has shape \(60, 4\); task 'classification' needs"):
        load_dataset(str(tmp_path / "f.npz"), task="classification")
    np.savez(tmp_path / "c.npz", x=x, y=np.arange(60) % 2)
    with pytest.raises(DataError, match=r"task 'multilabel' needs \(N, C\) multi-hot"):
        load_dataset(str(tmp_path / "c.npz"), task="multilabel")
    with pytest.raises(DataError, match=r"task 'segmentation' needs \(N, H, W\)"):
        load_dataset(str(tmp_path / "c.npz"), task="segmentation")


def test_load_for_eval_prepares_dense_targets_like_training(tmp_path: Path) -> None:
    x, y = _masks()
    y[1, 0, 0] = 255
    np.savez(tmp_path / "s.npz", x=x, y=y)
    meta = load_dataset(str(tmp_path / "s.npz")).meta()
    split = load_for_eval(str(tmp_path / "s.npz"), meta)
    assert split.y.shape == (40, 13, 17) and int(split.y[1, 0, 0]) == -100
    assert torch.equal(split.y[0], torch.as_tensor(y[0], dtype=torch.int64))
    big = y.copy()
    big[0, 0, 0] = 7
    np.savez(tmp_path / "big.npz", x=x, y=big)
    with pytest.raises(DataError, match="masks hold class 7; the run was trained on classes 0..2"):
        load_for_eval(str(tmp_path / "big.npz"), meta)

    xm, ym = _multihot()
    np.savez(tmp_path / "m.npz", x=xm, y=ym)
    meta = load_dataset(str(tmp_path / "m.npz")).meta()
    assert torch.equal(load_for_eval(str(tmp_path / "m.npz"), meta).y, torch.as_tensor(ym).float())
    np.savez(tmp_path / "m5.npz", x=xm, y=np.zeros((60, 5), int))
    with pytest.raises(DataError, match="'y' has 5 labels; the run was trained on 4"):
        load_for_eval(str(tmp_path / "m5.npz"), meta)
