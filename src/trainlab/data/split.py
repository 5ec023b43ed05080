"""Deterministic, seeded train/val/test splits (notes F3:912-964, F4:2087-2095).

Classification splits are stratified: each class is split in the given fractions, so
every split sees every class in proportion. Other targets (regression values, multi-hot
labels (N, C), masks (N, H, W)) are split by one seeded permutation of the samples. The test split is carved once and used once.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from trainlab.errors import DataError


def _counts(n: int, fractions: Sequence[float]) -> list[int]:
    """Split n items in `fractions`, each non-zero fraction getting at least one item."""
    wanted = [round(n * f) if f > 0 else 0 for f in fractions[1:]]
    wanted = [max(w, 1) if f > 0 else 0 for w, f in zip(wanted, fractions[1:], strict=True)]
    return [n - sum(wanted), *wanted]


def split_indices(
    y: np.ndarray,
    fractions: Sequence[float],
    *,
    seed: int,
    stratify: bool,
    source: object = "data",
    class_names: Sequence[str] | None = None,
) -> list[np.ndarray]:
    """Indices of each split (sorted), for `fractions` summing to 1.

    Stratified: per class, a seeded permutation is cut in the fractions. A class with fewer
    samples than non-empty splits is an error naming the class.
    """
    rng = np.random.default_rng(seed)
    parts: list[list[np.ndarray]] = [[] for _ in fractions]
    groups = [np.flatnonzero(y == c) for c in np.unique(y)] if stratify else [np.arange(len(y))]
    needed = sum(1 for f in fractions if f > 0)
    for idx in groups:
        counts = _counts(len(idx), fractions)
        if counts[0] < 1:
            what, name = "the dataset", ""
            if stratify:  # y is then (N,) class labels; other targets may be (N, ...)
                label = y[idx[0]].item()
                name = class_names[int(label)] if class_names is not None else str(label)
                what = f"class {name!r}"
            pct = "/".join(f"{round(f * 100):g}" for f in fractions)
            hint = ""
            if stratify and _numeric(name):  # an all-integer target became classes
                hint = (
                    "; if the target is a quantity rather than a category, train a regression "
                    "(--task regression, or --set data.task=regression)"
                )
            raise DataError(
                source,
                f"{what} has {len(idx)} sample(s), too few for a {pct} split "
                f"(needs at least {needed}){hint}",
            )
        perm = idx[rng.permutation(len(idx))]
        start = 0
        for k, c in enumerate(counts):
            parts[k].append(perm[start : start + c])
            start += c
    return [np.sort(np.concatenate(p)) if p else np.zeros(0, np.int64) for p in parts]


def _numeric(label: str) -> bool:
    try:
        float(label)
    except ValueError:
        return False
    return True
