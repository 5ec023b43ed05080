"""A CSV file with a header row and a target column (`--target COLUMN`).

Numeric feature columns are used as they are; any other column is categorical and
one-hot encoded (categories in sorted order). The target is classification when its
values are strings or integers and regression when they are floats (override with
`task`). Every feature must be present and finite.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from trainlab.data.bundle import RawData
from trainlab.errors import DataError


def _parse_numbers(values: list[str]) -> np.ndarray | None:
    try:
        return np.array([float(v) for v in values], dtype=np.float64)
    except ValueError:
        return None


def _target_array(values: list[str]) -> np.ndarray:
    """int64 for integers, float64 for other numbers, str otherwise."""
    nums = _parse_numbers(values)
    if nums is None:
        return np.array(values, dtype=str)
    if all(v.strip().lstrip("+-").isdigit() for v in values):
        return nums.astype(np.int64)
    return nums


def load_csv(path: Path, target: str | None) -> RawData:
    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise DataError(path, f"not a readable CSV file ({e})") from None
    rows = [r for r in rows if any(cell.strip() for cell in r)]
    if len(rows) < 2:
        raise DataError(path, "expected a header row and at least one data row")
    header = [h.strip() for h in rows[0]]
    if target is None:
        raise DataError(path, "a CSV needs a target column: pass --target COLUMN")
    if target not in header:
        raise DataError(path, f"unknown target column {target!r}; columns are {header}")
    for i, r in enumerate(rows[1:], start=2):
        if len(r) != len(header):
            raise DataError(path, f"line {i} has {len(r)} fields, the header has {len(header)}")
    columns = {h: [r[j].strip() for r in rows[1:]] for j, h in enumerate(header)}
    y = _target_array(columns.pop(target))
    features: list[np.ndarray] = []
    for name, values in columns.items():
        if any(v == "" for v in values):
            line = values.index("") + 2
            raise DataError(path, f"column {name!r} has an empty value on line {line}")
        nums = _parse_numbers(values)
        if nums is not None:
            if not np.all(np.isfinite(nums)):
                raise DataError(path, f"column {name!r} contains NaN or Inf")
            features.append(nums[:, None])
        else:  # categorical: one-hot
            cats = sorted(set(values))
            codes = np.searchsorted(np.array(cats), np.array(values))
            features.append(np.eye(len(cats))[codes])
    if not features:
        raise DataError(path, "no feature columns besides the target")
    x = np.concatenate(features, axis=1).astype(np.float32)
    return RawData(x=x, y=y, task="auto")
