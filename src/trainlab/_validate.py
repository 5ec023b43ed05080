"""Argument checks shared by every component: one rule, one message format.

The rule:

* a value of the wrong type (not a real number such as ``int``/``float``; ``bool`` counts as a wrong type,
  although it is an ``int`` subclass) raises ``TypeError``;
* a number outside the allowed set raises ``ValueError``; NaN is never allowed, and
  infinity only where the caller says so (``allow_inf=True``);
* the message is one line, ``"{name}: expected {what}, got {value!r}"``, so it names the
  argument, the value and what was expected.

Each check returns the value as a ``float`` so callers can write
``lr = check_positive("lr", lr)``.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

__all__ = [
    "check_in_range",
    "check_int",
    "check_interval",
    "check_nonnegative",
    "check_number",
    "check_positive",
    "check_probability",
]


def check_number(name: str, value: Any, *, allow_inf: bool = False) -> float:
    """`value` as a float if it is a real number (int, float, NumPy scalar; not bool), not
    NaN, and finite unless `allow_inf`; TypeError for another type, ValueError for NaN or a
    refused infinity."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name}: expected a number, got {value!r} ({type(value).__name__})")
    if math.isnan(value) or (math.isinf(value) and not allow_inf):
        raise ValueError(f"{name}: expected a finite number, got {value!r}")
    return float(value)


def check_int(name: str, value: Any, *, lo: int | None = None) -> int:
    """`value` if it is an int (not bool; NumPy integers too) >= `lo` (when given)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name}: expected an int, got {value!r} ({type(value).__name__})")
    if lo is not None and value < lo:
        raise ValueError(f"{name}: expected an int >= {lo}, got {value!r}")
    return int(value)


def check_positive_int(name: str, value: Any) -> int:
    """`value` if it is an int (not bool) >= 1; a ValueError naming `name` otherwise."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    return value


def check_positive(
    name: str, value: Any, *, allow_zero: bool = False, allow_inf: bool = False
) -> float:
    """`value` > 0 (>= 0 with `allow_zero`), finite unless `allow_inf`."""
    v = check_number(name, value, allow_inf=allow_inf)
    if not (v >= 0 if allow_zero else v > 0):
        raise ValueError(
            f"{name}: expected a number {'>=' if allow_zero else '>'} 0, got {value!r}"
        )
    return v


def check_nonnegative(name: str, value: Any, *, allow_inf: bool = False) -> float:
    """`value` >= 0, finite unless `allow_inf`."""
    return check_positive(name, value, allow_zero=True, allow_inf=allow_inf)


def check_in_range(
    name: str,
    value: Any,
    lo: float,
    hi: float,
    *,
    lo_open: bool = False,
    hi_open: bool = False,
    allow_inf: bool = False,
) -> float:
    """`value` in [lo, hi] (an open end with `lo_open`/`hi_open`), finite unless `allow_inf`
    (an infinite bound such as ``hi=math.inf`` means unbounded, not that inf is allowed)."""
    v = check_number(name, value, allow_inf=allow_inf)
    if v < lo or v > hi or (lo_open and v == lo) or (hi_open and v == hi):
        bounds = f"{'(' if lo_open else '['}{lo}, {hi}{')' if hi_open else ']'}"
        raise ValueError(f"{name}: expected a number in {bounds}, got {value!r}")
    return v


def check_probability(name: str, value: Any) -> float:
    """`value` in [0, 1]."""
    v = check_number(name, value)
    if not 0.0 <= v <= 1.0:
        raise ValueError(f"{name}: expected a probability in [0, 1], got {value!r}")
    return v


def check_interval(name: str, value: Any, lo: float, hi: float) -> tuple[float, float]:
    """A pair (min, max) of numbers with lo <= min <= max <= hi (finite)."""
    if isinstance(value, (str, bytes)) or not hasattr(value, "__len__") or len(value) != 2:
        raise TypeError(f"{name}: expected a pair (min, max), got {value!r}")
    a, b = (check_number(f"{name}[{i}]", v) for i, v in enumerate(value))
    if not lo <= a <= b <= hi:
        raise ValueError(f"{name}: expected {lo} <= min <= max <= {hi}, got {value!r}")
    return a, b
