"""The embedded default dataset: the UCI 8x8 handwritten digits (no download).

1,797 grayscale 8x8 images of the digits 0-9, intensities 0..16, returned as (N, 1, 8, 8)
float32 in [0, 1]. The data ships with trainlab as ``digits.npz`` (45 KB; the same values
and order as scikit-learn's ``load_digits()``, which is not needed to read it); credit and
licence (CC BY 4.0) in ``digits_CREDIT.txt`` beside it.
"""

from __future__ import annotations

from importlib import resources

import numpy as np

from trainlab.data.bundle import RawData
from trainlab.data.text import load_arith

DATA_FILE = "digits.npz"


def read_digits() -> tuple[np.ndarray, np.ndarray]:
    """The shipped arrays: images (1797, 8, 8) uint8 in 0..16 and targets (1797,) int64."""
    path = resources.files("trainlab.data").joinpath(DATA_FILE)
    with path.open("rb") as f, np.load(f, allow_pickle=False) as z:
        return z["images"], z["target"].astype(np.int64)


def load_digits() -> RawData:
    images, y = read_digits()
    x = (images.astype(np.float32) / 16.0)[:, None, :, :]  # (N, 1, 8, 8)
    return RawData(x=x, y=y, task="classification", class_names=[str(c) for c in range(10)])


#: the embedded sources `--data` accepts by name (`arith`: trainlab.data.text)
EMBEDDED = {"digits": load_digits, "arith": load_arith}
