"""`read_inputs`: new samples of every source, with or without labels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from trainlab.data.image_folder import decode_image, to_float
from trainlab.data.inputs import read_inputs
from trainlab.errors import DataError

META = {"in_shape": [1, 8, 8], "features": None}


def _png(path: Path, value: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((12, 12), value, np.uint8)).save(path)


def test_flat_and_class_folders(tmp_path: Path) -> None:
    for i, v in enumerate([10, 200, 90]):
        _png(tmp_path / "flat" / f"im{i}.png", v)
    found = read_inputs(str(tmp_path / "flat"), META)
    assert found.y is None and found.ids == ["im0.png", "im1.png", "im2.png"]
    want = to_float(decode_image(tmp_path / "flat" / "im1.png", 8, "L")).numpy()
    np.testing.assert_array_equal(found.x[1], want)
    _png(tmp_path / "cls" / "cat" / "a.png", 5)
    _png(tmp_path / "cls" / "dog" / "b.png", 250)
    found = read_inputs(str(tmp_path / "cls"), META)
    assert found.class_names == ["cat", "dog"] and found.y.tolist() == [0, 1]
    assert found.ids == ["cat/a.png", "dog/b.png"] and found.x.shape == (2, 1, 8, 8)


def test_npz_channel_axis_and_errors(tmp_path: Path) -> None:
    x = np.random.default_rng(0).random((5, 8, 8)).astype(np.float32)
    np.savez(tmp_path / "a.npz", x=x)
    found = read_inputs(str(tmp_path / "a.npz"), META)
    np.testing.assert_array_equal(found.x[:, 0], x)
    np.savez(tmp_path / "b.npz", x=x, y=np.arange(4))
    with pytest.raises(DataError, match="'x' has 5 samples and 'y' 4"):
        read_inputs(str(tmp_path / "b.npz"), META)
    x[0, 0, 0] = np.nan
    np.savez(tmp_path / "c.npz", x=x)
    with pytest.raises(DataError, match="NaN"):
        read_inputs(str(tmp_path / "c.npz"), META)
    np.savez(tmp_path / "d.npz", y=np.arange(3))
    with pytest.raises(DataError, match="no array 'x'"):
        read_inputs(str(tmp_path / "d.npz"), META)
