"""The shipped digits: the same data as scikit-learn's copy, loaded without scikit-learn."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from tests.conftest import cli_env

from trainlab.data.digits import DATA_FILE, load_digits, read_digits

ROOT = Path(__file__).resolve().parents[2]


def test_shipped_digits_equal_scikit_learns() -> None:
    sk = pytest.importorskip("sklearn.datasets")
    ref = sk.load_digits()
    images, target = read_digits()
    assert images.dtype == np.uint8 and images.shape == (1797, 8, 8)
    np.testing.assert_array_equal(images, ref.images)
    np.testing.assert_array_equal(target, ref.target)
    raw = load_digits()
    np.testing.assert_array_equal(raw.x[:, 0] * 16, ref.images)  # k/16 is exact in float32
    assert raw.class_names == [str(c) for c in range(10)]


def test_shipped_digits_file_is_small_and_credited() -> None:
    data = ROOT / "src" / "trainlab" / "data"
    assert (data / DATA_FILE).stat().st_size < 64_000  # 45 KB measured
    credit = (data / "digits_CREDIT.txt").read_text()
    assert "CC BY 4.0" in credit and "Optical Recognition of Handwritten Digits" in credit
    images, target = read_digits()
    assert images.max() == 16 and images.min() == 0
    assert np.bincount(target).tolist() == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]


def test_training_on_digits_never_imports_sklearn(tmp_path: Path) -> None:
    code = (
        "import sys, trainlab, trainlab.train, trainlab.cli\n"
        "from trainlab.data import load_dataset\n"
        "b = load_dataset('digits')\n"
        "assert len(b.train) == 1259, len(b.train)\n"
        "bad = sorted(m for m in sys.modules if m == 'sklearn' or m.startswith('sklearn.'))\n"
        "print('sklearn modules:', bad)\n"
        "sys.exit(1 if bad else 0)\n"
    )
    r = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=cli_env(), capture_output=True,
        text=True, timeout=120,
    )  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    assert "sklearn modules: []" in r.stdout
