"""Every data format, its shapes, and a clear error for each kind of bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from trainlab.data import load_dataset, load_for_eval
from trainlab.errors import DataError


def _blobs(n: int = 120, d: int = 5, k: int = 3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = np.arange(n) % k
    x = rng.normal(size=(n, d)).astype(np.float32) + y[:, None]
    return x, y


# --------------------------------------------------------------------------- digits
def test_digits_is_embedded_and_split_70_15_15() -> None:
    b = load_dataset("digits")
    assert (len(b.train), len(b.val), len(b.test)) == (1259, 269, 269)
    assert b.in_shape == (1, 8, 8) and b.num_outputs == 10 and b.task == "classification"
    assert set(b.test.y.tolist()) == set(range(10))


def test_normalization_uses_training_statistics_only() -> None:
    b = load_dataset("digits")
    assert abs(b.train.x.mean().item()) < 1e-5
    assert abs(b.train.x.std(unbiased=False).item() - 1) < 1e-4
    # every split is (x - mean) / std with the bundle's statistics, which are the training
    # split's: undone, each split gives back the digits' intensities k/16 up to float32
    # rounding (~1e-6 of a level). Test statistics would shift the test split off that grid
    # by ~1e-3 of a level (its mean differs from train's by ~1e-4 of the [0, 1] range).
    for part in (b.train, b.val, b.test):
        levels = (part.x * b.input_std + b.input_mean) * 16
        torch.testing.assert_close(levels, levels.round(), rtol=0, atol=1e-4)
    raw_train = b.train.x.double() * b.input_std.double() + b.input_mean.double()
    assert raw_train.mean().item() == pytest.approx(b.input_mean.item(), abs=1e-6)
    assert raw_train.std(unbiased=False).item() == pytest.approx(b.input_std.item(), rel=1e-5)


# --------------------------------------------------------------------------- npz
@pytest.mark.parametrize(
    ("shape", "in_shape"),
    [
        ((90, 7), (7,)),  # vectors
        ((90, 2, 50), (2, 50)),  # 1-D signals
        ((90, 6, 6), (1, 6, 6)),  # single-channel images get a channel axis
        ((90, 3, 6, 6), (3, 6, 6)),  # images
    ],
)
def test_npz_shapes(tmp_path: Path, shape: tuple[int, ...], in_shape: tuple[int, ...]) -> None:
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "d.npz", x=rng.normal(size=shape), y=np.arange(90) % 3)
    b = load_dataset(str(tmp_path / "d.npz"))
    assert b.in_shape == in_shape
    assert len(b.train) + len(b.val) + len(b.test) == 90
    assert b.train.x.dtype == torch.float32 and b.train.y.dtype == torch.int64


def test_npz_explicit_splits_are_used_as_given(tmp_path: Path) -> None:
    x, y = _blobs(100)
    xv, yv = _blobs(20, seed=1)
    xt, yt = _blobs(30, seed=2)
    np.savez(tmp_path / "d.npz", x=x, y=y, x_val=xv, y_val=yv, x_test=xt, y_test=yt)
    b = load_dataset(str(tmp_path / "d.npz"))
    assert (len(b.train), len(b.val), len(b.test)) == (100, 20, 30)
    assert torch.equal(b.test.y, torch.as_tensor(yt))


def test_npz_missing_test_split_is_carved_from_x(tmp_path: Path) -> None:
    x, y = _blobs(102)
    xv, yv = _blobs(15, seed=1)
    np.savez(tmp_path / "d.npz", x=x, y=y, x_val=xv, y_val=yv)
    b = load_dataset(str(tmp_path / "d.npz"))
    assert len(b.val) == 15 and len(b.train) + len(b.test) == 102
    assert len(b.test) == 18  # 0.15 / 0.85 of 102, stratified over 3 classes (6 each)


def test_npz_string_labels_and_float_regression(tmp_path: Path) -> None:
    x, y = _blobs(60)
    names = np.array(["cat", "dog", "emu"])[y]
    np.savez(tmp_path / "c.npz", x=x, y=names)
    b = load_dataset(str(tmp_path / "c.npz"))
    assert b.task == "classification" and b.class_names == ["cat", "dog", "emu"]
    np.savez(tmp_path / "r.npz", x=x, y=x.sum(axis=1) * 10.0)
    r = load_dataset(str(tmp_path / "r.npz"))
    assert r.task == "regression" and r.num_outputs == 1 and r.train.y.shape[1] == 1
    assert abs(r.train.y.mean().item()) < 1e-5  # standardized with train statistics


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        ({"y": np.zeros(10, int)}, r"missing array\(s\) \['x'\]"),
        ({"x": np.zeros((10, 3)), "y": np.zeros(9, int)}, "'x' has 10 rows but 'y' has 9"),
        ({"x": np.zeros((10,)), "y": np.zeros(10, int)}, "expected \\(N, D\\)"),
        (
            {"x": np.full((30, 2), np.nan), "y": np.arange(30) % 2},
            "features contain NaN or Inf",
        ),
        (
            {"x": np.zeros((30, 2)), "y": np.arange(30) % 2, "x_val": np.zeros((3, 2))},
            "'x_val' and 'y_val' must be given together",
        ),
        (
            {"x": np.zeros((31, 2)), "y": np.array([0] * 29 + [1, 1])},
            "class '1' has 2 sample",
        ),
        # multi-hot labels (N, C) and masks (N, H, W)
        (
            {"x": np.zeros((20, 3)), "y": np.full((20, 3), 2)},
            "must be 0/1 \\(multi-hot\\); found 2",
        ),
        ({"x": np.zeros((20, 3)), "y": np.full((20, 3), 0.5)}, "must be integers; found 0.5"),
        (
            {"x": np.zeros((20, 2, 8, 8)), "y": np.zeros((20, 8, 7), int)},
            r"masks of 8x7 pixels, so 'x' must be images .* got \(20, 2, 8, 8\)",
        ),
        (
            {"x": np.zeros((20, 5)), "y": np.zeros((20, 8, 8), int)},
            r"masks of 8x8 pixels, so 'x' must be images",
        ),
        ({"x": np.zeros((20, 8, 8)), "y": np.full((20, 8, 8), -1)}, "class indices >= 0"),
        ({"x": np.zeros((20, 8, 8)), "y": np.zeros((20, 8, 8), int)}, "at least 2 classes"),
        (
            {
                "x": np.zeros((20, 3)),
                "y": np.eye(3, dtype=int)[np.arange(20) % 3],
                "x_val": np.zeros((4, 3)),
                "y_val": np.zeros((4, 2), int),
            },
            r"'y_val' targets have shape \(2,\), 'y' \(3,\)",
        ),
        ({"x": np.zeros((20, 3)), "y": np.zeros((20, 2, 2, 2))}, "expected \\(N,\\), \\(N, C\\)"),
    ],
)
def test_npz_errors_name_the_file_and_problem(
    tmp_path: Path, arrays: dict[str, np.ndarray], message: str
) -> None:
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(DataError, match=message) as e:
        load_dataset(str(path))
    assert str(path) in str(e.value) and "\n" not in str(e.value)


def test_missing_file_and_unreadable_npz(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such file"):
        load_dataset(str(tmp_path / "nope.npz"))
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(DataError, match="not a readable .npz"):
        load_dataset(str(tmp_path / "junk.npz"))
    (tmp_path / "d.txt").write_text("x")
    with pytest.raises(DataError, match="unsupported file type"):
        load_dataset(str(tmp_path / "d.txt"))


# --------------------------------------------------------------------------- csv
def _write_csv(path: Path, header: list[str], rows: list[list[object]]) -> Path:
    path.write_text("\n".join(",".join(map(str, r)) for r in [header, *rows]) + "\n")
    return path


def test_csv_classification_with_categorical_features(tmp_path: Path) -> None:
    rows = [[i * 0.1, ["red", "green", "blue"][i % 3], ["yes", "no"][i % 2]] for i in range(60)]
    path = _write_csv(tmp_path / "d.csv", ["size", "color", "label"], rows)
    b = load_dataset(str(path), target="label")
    assert b.task == "classification" and b.class_names == ["no", "yes"]
    assert b.in_shape == (4,)  # size + one-hot of 3 colours


def test_csv_integer_target_is_classification_float_is_regression(tmp_path: Path) -> None:
    ints = _write_csv(tmp_path / "i.csv", ["a", "t"], [[i, i % 2] for i in range(40)])
    assert load_dataset(str(ints), target="t").task == "classification"
    floats = _write_csv(tmp_path / "f.csv", ["a", "t"], [[i, i * 1.5] for i in range(40)])
    assert load_dataset(str(floats), target="t").task == "regression"
    assert load_dataset(str(ints), target="t", task="regression").task == "regression"


@pytest.mark.parametrize(
    ("header", "rows", "target", "message"),
    [
        (["a", "t"], [[1, 0]] * 10, "price", r"unknown target column 'price'; columns are"),
        (["a", "t"], [[1, 0]] * 10, None, "needs a target column"),
        (["a", "t"], [[1, 0], ["nan", 1]] * 10, "t", "column 'a' contains NaN or Inf"),
        (["a", "t"], [[1, 0], ["", 1]] * 10, "t", "column 'a' has an empty value on line 3"),
        (["a", "t"], [[1, 0], [1, 2, 3]], "t", "line 3 has 3 fields, the header has 2"),
        (["t"], [[0], [1]] * 10, "t", "no feature columns"),
    ],
)
def test_csv_errors(
    tmp_path: Path, header: list[str], rows: list[list], target: str | None, message: str
) -> None:
    path = _write_csv(tmp_path / "bad.csv", header, rows)
    with pytest.raises(DataError, match=message):
        load_dataset(str(path), target=target)


# --------------------------------------------------------------------------- images
def _image_folder(root: Path, mode: str = "RGB", n: int = 8) -> Path:
    from PIL import Image

    rng = np.random.default_rng(0)
    for k, cls in enumerate(["ants", "bees"]):
        (root / cls).mkdir(parents=True)
        for i in range(n):
            shape = (12, 10, 3) if mode == "RGB" else (12, 10)
            arr = (rng.integers(0, 100, size=shape) + 100 * k).astype(np.uint8)
            Image.fromarray(arr, mode=mode).save(root / cls / f"{i}.png")
    return root


def test_image_folder_rgb_is_resized(tmp_path: Path) -> None:
    b = load_dataset(str(_image_folder(tmp_path / "imgs")), image_size=16)
    assert b.in_shape == (3, 16, 16) and b.class_names == ["ants", "bees"]
    assert len(b.train) + len(b.val) + len(b.test) == 16


def test_image_folder_grayscale_has_one_channel(tmp_path: Path) -> None:
    b = load_dataset(str(_image_folder(tmp_path / "imgs", mode="L")), image_size=8)
    assert b.in_shape == (1, 8, 8)


def test_image_folder_errors(tmp_path: Path) -> None:
    root = _image_folder(tmp_path / "imgs")
    (root / "bees" / "broken.png").write_bytes(b"\x89PNG garbage")
    with pytest.raises(DataError, match=r"broken\.png: unreadable image"):
        load_dataset(str(root))
    (tmp_path / "empty" / "cls").mkdir(parents=True)
    with pytest.raises(DataError, match="holds no .png"):
        load_dataset(str(tmp_path / "empty"))
    (tmp_path / "flat").mkdir()
    with pytest.raises(DataError, match="one sub-folder per class"):
        load_dataset(str(tmp_path / "flat"))


# --------------------------------------------------------------------------- eval data
def test_load_for_eval_reuses_the_runs_statistics(tmp_path: Path) -> None:
    x, y = _blobs(90)
    np.savez(tmp_path / "d.npz", x=x, y=y)
    b = load_dataset(str(tmp_path / "d.npz"))
    split = load_for_eval(str(tmp_path / "d.npz"), b.meta())
    assert len(split) == 90
    expected = (torch.as_tensor(x).float() - b.input_mean) / b.input_std
    assert torch.allclose(split.x, expected)
    np.savez(tmp_path / "other.npz", x=np.zeros((5, 4)), y=np.zeros(5, int))
    with pytest.raises(DataError, match=r"shape \(4,\); the run was trained on \(5,\)"):
        load_for_eval(str(tmp_path / "other.npz"), b.meta())
    np.savez(tmp_path / "new.npz", x=x[:5], y=np.full(5, 7))
    with pytest.raises(DataError, match=r"labels \['7'\] were not seen"):
        load_for_eval(str(tmp_path / "new.npz"), b.meta())


def test_npz_layout_decides_ambiguous_3d_arrays(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "d.npz", x=rng.normal(size=(60, 4, 40)), y=np.arange(60) % 2)
    assert load_dataset(str(tmp_path / "d.npz")).in_shape == (4, 40)  # auto: a signal
    images = load_dataset(str(tmp_path / "d.npz"), layout="images")
    assert images.in_shape == (1, 4, 40)
    with pytest.raises(DataError, match=r"expected \(N, D\)"):
        load_dataset(str(tmp_path / "d.npz"), layout="vectors")
