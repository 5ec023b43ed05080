"""The embedded default dataset: scikit-learn's handwritten digits (no download).

1,797 grayscale 8x8 images of the digits 0-9, intensities 0..16, returned as (N, 1, 8, 8)
float32 in [0, 1].
"""

from __future__ import annotations

import numpy as np

from trainlab.data.bundle import RawData


def load_digits() -> RawData:
    from sklearn.datasets import load_digits as _sk_load_digits

    d = _sk_load_digits()
    x = (d.images.astype(np.float32) / 16.0)[:, None, :, :]  # (N, 1, 8, 8)
    y = d.target.astype(np.int64)
    return RawData(x=x, y=y, task="classification", class_names=[str(c) for c in range(10)])


EMBEDDED = {"digits": load_digits}
