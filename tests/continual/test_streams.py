"""Task streams from the engine's splits: split (class/task-incremental), permuted, rotated."""

from __future__ import annotations

import pytest
import torch

from trainlab.continual import permuted_tasks, rotated_tasks, split_tasks
from trainlab.continual.streams import rotate
from trainlab.data import load_dataset


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", seed=0)


def test_split_five_tasks_of_two_classes(digits):
    s = split_tasks(digits, 5)
    assert [e.classes for e in s] == [(0, 1), (2, 3), (4, 5), (6, 7), (8, 9)]
    total = 0
    for e in s:
        for split, full in ((e.train, digits.train), (e.test, digits.test)):
            assert set(split.y.unique().tolist()) == set(e.classes)
            # every sample of these classes, no other
            assert len(split) == int(torch.isin(full.y, torch.tensor(e.classes)).sum())
        total += len(e.train)
    assert total == len(digits.train)
    assert s.masks() is None
    assert s.bundle(2).train is s[2].train and s.bundle(2).test is None


def test_classes_per_task_and_task_incremental_masks(digits):
    s = split_tasks(digits, classes_per_task=3, multi_head=True)
    assert [e.classes for e in s] == [(0, 1, 2), (3, 4, 5), (6, 7, 8), (9,)]
    m = s.masks()
    assert m.shape == (4, 10) and m.sum(1).tolist() == [3, 3, 3, 1] and bool(m[3, 9])


def test_shuffled_class_order_is_seeded(digits):
    a = [e.classes for e in split_tasks(digits, 5, seed=1, shuffle_classes=True)]
    b = [e.classes for e in split_tasks(digits, 5, seed=1, shuffle_classes=True)]
    assert a == b and a != [(0, 1), (2, 3), (4, 5), (6, 7), (8, 9)]
    assert sorted(c for g in a for c in g) == list(range(10))


@pytest.mark.parametrize(
    "kw, match",
    [({"n_tasks": 11}, "n_tasks = 11: expected an int in 1..10"),
     ({"n_tasks": 0}, "n_tasks = 0"),
     ({"classes_per_task": 12}, "classes_per_task = 12"),
     ({"n_tasks": 2, "classes_per_task": 5}, "exactly one")],
)  # fmt: skip
def test_split_bad_input(digits, kw, match):
    with pytest.raises(ValueError, match=match):
        split_tasks(digits, **kw)


def test_permuted_tasks(digits):
    s = permuted_tasks(digits, 3, seed=0)
    assert torch.equal(s[0].train.x, digits.train.x)  # task 0: the data as it is
    flat = digits.train.x.reshape(len(digits.train), -1)
    for e in s.experiences[1:]:
        assert e.classes == tuple(range(10)) and torch.equal(e.train.y, digits.train.y)
        pt = e.train.x.reshape(len(e.train), -1)
        # the same values per sample, rearranged
        assert torch.equal(torch.sort(pt, 1).values, torch.sort(flat, 1).values)
    p1 = s[1].train.x.reshape(len(digits.train), -1)
    p2 = s[2].train.x.reshape(len(digits.train), -1)
    assert not torch.equal(p1, p2)
    # the permutation of the test split is the training split's: recover it from train
    order = _perm_of(flat, p1)
    assert torch.equal(digits.test.x.reshape(len(digits.test), -1)[:, order],
                       s[1].test.x.reshape(len(digits.test), -1))  # fmt: skip


def _perm_of(a, b):
    """The column order `o` with a[:, o] == b (columns of a made unique by many rows)."""
    cols = {tuple(a[:, j].tolist()): j for j in range(a.shape[1])}
    return torch.tensor([cols[tuple(b[:, j].tolist())] for j in range(b.shape[1])])


def test_rotation_by_90_degrees_is_rot90():
    # a quarter turn maps pixel centres onto pixel centres: bilinear sampling is exact
    x = torch.arange(2 * 3 * 6 * 6, dtype=torch.float32).reshape(2, 3, 6, 6)
    out = rotate(x, 90.0, torch.tensor(0.0))
    # counter-clockwise as displayed (row 0 on top): torch.rot90 from the H towards the W axis
    expected = torch.rot90(x, 1, dims=(2, 3))
    # values up to 215 in float32 through the sampling weights: a few ulps, 1e-4 absolute
    torch.testing.assert_close(out, expected, atol=1e-4, rtol=0)
    torch.testing.assert_close(rotate(x, 0.0, torch.tensor(0.0)), x, atol=1e-4, rtol=0)


def test_rotated_tasks_background_and_angles(digits):
    s = rotated_tasks(digits, 4, max_degrees=180.0)
    torch.testing.assert_close(s[0].train.x, digits.train.x, atol=1e-5, rtol=0)
    # task 1 turns by 45 degrees: the corner pixels come from outside the image, so they
    # are the background, raw value 0 in standardized units
    raw0 = float((0 - digits.input_mean.flatten()[0]) / digits.input_std.flatten()[0])
    corner = s[1].train.x[:, 0, 0, 0]
    assert float((corner - raw0).abs().max()) < 1e-4


def test_rotated_needs_images():
    from trainlab.train.fit import _bundle

    data = _bundle(
        (torch.randn(20, 5), torch.arange(20) % 2),
        None,
        (torch.randn(4, 5), torch.arange(4) % 2),
        None,
    )
    with pytest.raises(ValueError, match="rotated tasks need images"):
        rotated_tasks(data, 2)
