"""What a user `Dataset` must return per item: an `(x, y)` tuple, `x` a floating tensor or
array, `y` a tensor, array or number. `check_sample` says so in one line, naming the
dataset class and the index, before a worker process or the default collate fails deep
inside a batch."""

from __future__ import annotations

import numbers

import numpy as np
from torch import Tensor

EXPECTED = "an (x, y) tuple with x a floating tensor/array and y a tensor, array or number"


def _what(v: object) -> str:
    if isinstance(v, (Tensor, np.ndarray)):
        return f"{type(v).__name__} of dtype {v.dtype}"
    return type(v).__name__


def check_sample(sample: object, dataset: object, index: int) -> None:
    """Raise `TypeError` unless `sample` (`dataset[index]`) is an `(x, y)` training pair."""
    where = f"{type(dataset).__name__}[{index}]"
    if not isinstance(sample, tuple) or len(sample) != 2:
        n = f" of length {len(sample)}" if isinstance(sample, (tuple, list)) else ""
        raise TypeError(f"{where} returned a {type(sample).__name__}{n}; expected {EXPECTED}")
    x, y = sample
    if isinstance(x, Tensor):
        floating = x.is_floating_point()
    elif isinstance(x, np.ndarray):
        floating = bool(np.issubdtype(x.dtype, np.floating))
    else:
        raise TypeError(f"{where} returned x of type {_what(x)}; expected {EXPECTED}")
    if not floating:
        raise TypeError(f"{where} returned x as {_what(x)}; expected {EXPECTED}")
    if not isinstance(y, (Tensor, np.ndarray, numbers.Number)) or isinstance(y, complex):
        raise TypeError(f"{where} returned y of type {_what(y)}; expected {EXPECTED}")
