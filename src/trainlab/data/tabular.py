"""A CSV file with a header row and a target column (`--target COLUMN`).

Numeric feature columns are used as they are; any other column is categorical and
one-hot encoded (categories in sorted order). The target is classification when its
values are strings or integers and regression when they are floats (override with
`task`). Every feature must be present and finite.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np

from trainlab.data.bundle import RawData
from trainlab.errors import DataError


def _parse_numbers(values: list[str]) -> np.ndarray | None:
    try:
        return np.array([float(v) for v in values], dtype=np.float64)
    except ValueError:
        return None


def target_array(values: list[str]) -> np.ndarray:
    """int64 for integers, float64 for other numbers, str otherwise."""
    nums = _parse_numbers(values)
    if nums is None:
        return np.array(values, dtype=str)
    if all(v.strip().lstrip("+-").isdigit() for v in values):
        return nums.astype(np.int64)
    return nums


def read_rows(path: Path) -> tuple[list[str], dict[str, list[str]]]:
    """The header and the stripped values of each column (blank lines skipped)."""
    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise DataError(path, f"not a readable CSV file ({e})") from None
    rows = [r for r in rows if any(cell.strip() for cell in r)]
    if len(rows) < 2:
        raise DataError(path, "expected a header row and at least one data row")
    header = [h.strip() for h in rows[0]]
    for i, r in enumerate(rows[1:], start=2):
        if len(r) != len(header):
            raise DataError(path, f"line {i} has {len(r)} fields, the header has {len(header)}")
    return header, {h: [r[j].strip() for r in rows[1:]] for j, h in enumerate(header)}


def _encode(path: Path, name: str, values: list[str], categories: list[str] | None) -> np.ndarray:
    """One column as (N, 1) numbers, or one-hot (N, K) over `categories` (None: numeric)."""
    if any(v == "" for v in values):
        line = values.index("") + 2
        raise DataError(path, f"column {name!r} has an empty value on line {line}")
    if categories is None:
        nums = _parse_numbers(values)
        if nums is None:
            raise DataError(path, f"column {name!r} was numeric in training; it holds text here")
        if not np.all(np.isfinite(nums)):
            raise DataError(path, f"column {name!r} contains NaN or Inf")
        return nums[:, None]
    unknown = sorted(set(values) - set(categories))
    if unknown:
        raise DataError(
            path, f"column {name!r} holds {unknown[:5]}, not seen in training ({categories})"
        )
    codes = np.searchsorted(np.array(categories), np.array(values))
    return np.eye(len(categories))[codes]


def feature_schema(columns: dict[str, list[str]]) -> list[dict[str, Any]]:
    """Each feature column's name and its sorted categories (None for numeric columns)."""
    schema: list[dict[str, Any]] = []
    for name, values in columns.items():
        numeric = _parse_numbers(values) is not None or any(v == "" for v in values)
        schema.append({"name": name, "categories": None if numeric else sorted(set(values))})
    return schema


def encode_features(
    path: Path, columns: dict[str, list[str]], schema: list[dict[str, Any]]
) -> np.ndarray:
    """The float32 feature matrix of `columns` encoded as `schema` says (columns the schema
    does not name, such as an id column, are ignored)."""
    missing = [f["name"] for f in schema if f["name"] not in columns]
    if missing:
        raise DataError(path, f"missing feature column(s) {missing}; the run was trained on them")
    parts = [_encode(path, f["name"], columns[f["name"]], f["categories"]) for f in schema]
    return np.concatenate(parts, axis=1).astype(np.float32)


def load_csv(path: Path, target: str | None) -> RawData:
    """Features and the `target` column of a CSV; `RawData.features` records the encoding."""
    header, columns = read_rows(path)
    if target is None:
        raise DataError(path, "a CSV needs a target column: pass --target COLUMN")
    if target not in header:
        raise DataError(path, f"unknown target column {target!r}; columns are {header}")
    y = target_array(columns.pop(target))
    if not columns:
        raise DataError(path, "no feature columns besides the target")
    schema = feature_schema(columns)
    return RawData(x=encode_features(path, columns, schema), y=y, task="auto", features=schema)
