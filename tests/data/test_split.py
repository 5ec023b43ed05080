"""Seeded, stratified splits (notes F3:912-964: train/val/test without leakage)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trainlab.data import split_indices
from trainlab.errors import DataError


def test_split_is_a_partition_with_the_requested_sizes() -> None:
    y = np.repeat(np.arange(4), 50)
    parts = split_indices(y, (0.7, 0.15, 0.15), seed=0, stratify=True)
    # per class of 50: val = test = round(7.5) = 8, train = 34
    assert [len(p) for p in parts] == [136, 32, 32]
    joined = np.concatenate(parts)
    assert len(joined) == len(set(joined.tolist())) == 200


def test_stratified_split_keeps_class_proportions() -> None:
    y = np.array([0] * 100 + [1] * 20)
    train, val, test = split_indices(y, (0.7, 0.15, 0.15), seed=3, stratify=True)
    for part, n in ((train, 70 + 14), (val, 15 + 3), (test, 15 + 3)):
        assert len(part) == n
        assert (y[part] == 1).sum() == {84: 14, 18: 3}[n]


def test_same_seed_same_split_other_seed_other_split() -> None:
    y = np.repeat(np.arange(3), 40)
    a = split_indices(y, (0.6, 0.2, 0.2), seed=1, stratify=True)
    b = split_indices(y, (0.6, 0.2, 0.2), seed=1, stratify=True)
    c = split_indices(y, (0.6, 0.2, 0.2), seed=2, stratify=True)
    assert all(np.array_equal(p, q) for p, q in zip(a, b, strict=True))
    assert not all(np.array_equal(p, q) for p, q in zip(a, c, strict=True))


def test_class_too_small_to_split_names_the_class() -> None:
    y = np.array([0] * 30 + [1] * 2)
    with pytest.raises(DataError, match=r"class '1' has 2 sample\(s\).*70/15/15.*at least 3"):
        split_indices(y, (0.7, 0.15, 0.15), seed=0, stratify=True, source="d.npz")


@settings(max_examples=30, deadline=None)
@given(
    counts=st.lists(st.integers(3, 40), min_size=2, max_size=6),
    seed=st.integers(0, 2**31),
)
def test_every_class_lands_in_every_split(counts: list[int], seed: int) -> None:
    y = np.concatenate([np.full(c, k) for k, c in enumerate(counts)])
    parts = split_indices(y, (0.7, 0.15, 0.15), seed=seed, stratify=True)
    for p in parts:
        assert set(y[p].tolist()) == set(range(len(counts)))
    assert sorted(np.concatenate(parts).tolist()) == list(range(len(y)))


def test_an_integer_target_too_small_to_split_suggests_regression(tmp_path) -> None:
    """An all-integer CSV target (a price, a count) is read as classes; when one of them is
    too rare to split, the error says how to train a regression instead."""
    import pytest

    from trainlab.data import load_dataset
    from trainlab.errors import DataError

    rows = ["size,price"] + [f"{i},{1000 + 7 * i}" for i in range(40)]
    (tmp_path / "h.csv").write_text("\n".join(rows) + "\n")
    with pytest.raises(DataError, match=r"too few .*--task regression"):
        load_dataset(str(tmp_path / "h.csv"), target="price")
    bundle = load_dataset(str(tmp_path / "h.csv"), target="price", task="regression")
    assert bundle.task == "regression"
