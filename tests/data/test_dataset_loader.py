"""DatasetLoader: worker processes, BatchLoader's batches, resumable and seeded per item."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import Dataset, TensorDataset

from trainlab.data import BatchLoader, DatasetLoader, Split, check_sample, make_loader
from trainlab.errors import DataError


def _data(n: int = 40) -> tuple[Split, TensorDataset]:
    x = torch.randn(n, 3, generator=torch.Generator().manual_seed(0))
    y = torch.arange(n)
    return Split(x, y), TensorDataset(x, y)


def _tag(sample: torch.Tensor, epoch: int, index: int) -> torch.Tensor:
    """Depends only on its arguments, as a per-item transform must."""
    return sample + 1000 * epoch + 0.001 * index


def _same(a: list, b: list) -> bool:
    return len(a) == len(b) and all(
        torch.equal(xa, xb) and torch.equal(ya, yb) for (xa, ya), (xb, yb) in zip(a, b, strict=True)
    )


def test_in_process_batches_equal_batchloaders_and_leave_global_rng_alone() -> None:
    split, ds = _data()
    for kw in ({"shuffle": True, "drop_last": True, "seed": 5}, {}):
        ref = list(BatchLoader(split, 8, **kw).epoch(2))
        state = torch.get_rng_state()
        got = list(DatasetLoader(ds, 8, num_workers=0, **kw).epoch(2))
        assert torch.equal(state, torch.get_rng_state())  # its own seeded generator
        assert _same(ref, got)
    tagged = BatchLoader(split, 8, shuffle=True, seed=1, transform=_tag)
    mine = DatasetLoader(ds, 8, shuffle=True, seed=1, transform=_tag)
    assert _same(list(tagged.epoch(3, start=2)), list(mine.epoch(3, start=2)))


@pytest.mark.parametrize("method", ["fork", pytest.param("forkserver", marks=pytest.mark.slow)])
def test_worker_processes_give_the_same_batches_across_epochs_and_resumes(method: str) -> None:
    """Two persistent workers serve epoch 0, a mid-epoch start of epoch 1 and epoch 2, each
    equal to the in-memory loader's batches (transform seeded by (epoch, index) only)."""
    split, ds = _data()
    ref = BatchLoader(split, 8, shuffle=True, drop_last=True, seed=2, transform=_tag)
    loader = DatasetLoader(
        ds, 8, shuffle=True, drop_last=True, seed=2, transform=_tag, num_workers=2,
        start_method=method,
    )  # fmt: skip
    assert _same(list(loader.epoch(0)), list(ref.epoch(0)))
    workers = loader._loader._iterator._workers  # persistent: the same processes serve on
    first = next(iter(loader.epoch(1)))  # abandoned after one batch (a run stopped)
    assert torch.equal(first[0], next(iter(ref.epoch(1)))[0])
    assert _same(list(loader.epoch(1, start=3)), list(ref.epoch(1, start=3)))
    assert _same(list(loader.epoch(2)), list(ref.epoch(2)))
    assert loader._loader._iterator._workers == workers


class _Broken(Dataset):
    def __len__(self) -> int:
        return 8

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        if i == 5:
            raise DataError("/data/img5.jpg", "unreadable image (truncated)")
        return torch.zeros(2), 0


def test_a_data_error_in_a_worker_is_raised_as_itself() -> None:
    loader = DatasetLoader(_Broken(), 4, num_workers=1, start_method="fork")
    with pytest.raises(DataError, match=r"^/data/img5\.jpg: unreadable image \(truncated\)$"):
        list(loader.epoch(0))


def test_training_on_either_path_gives_identical_weights() -> None:
    split, ds = _data(48)
    target = torch.randn(3, 1, generator=torch.Generator().manual_seed(1))

    def train(loader: BatchLoader | DatasetLoader) -> torch.Tensor:
        w = torch.zeros(3, 1, requires_grad=True)
        for e in range(3):
            for x, _ in loader.epoch(e):  # plain SGD on a least-squares fit
                ((x @ w - x @ target) ** 2).mean().backward()
                with torch.no_grad():
                    w -= 0.1 * w.grad
                    w.grad = None
        return w.detach()

    kw = {"shuffle": True, "drop_last": True, "seed": 3}
    a = train(make_loader(split, 8, **kw))
    b = train(make_loader(ds, 8, **kw))
    c = train(make_loader(split, 8, **(kw | {"seed": 4})))  # another order, other weights
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_each_rank_loads_its_shard() -> None:
    _, ds = _data(42)
    seen = []
    for rank in range(3):
        loader = DatasetLoader(ds, 4, shuffle=True, drop_last=True, seed=6, rank=rank, world_size=3)
        ys = [y.tolist() for _, y in loader.epoch(1)]
        assert len(ys) == len(loader) == 3  # 14 samples per rank, 3 full batches of 4
        seen += [i for b in ys for i in b]
    assert len(seen) == len(set(seen)) == 36


def test_make_loader_picks_the_path_and_rejects_dataset_options_for_a_split() -> None:
    split, ds = _data()
    assert isinstance(make_loader(split, 4), BatchLoader)
    assert isinstance(make_loader(ds, 4, rank=1, world_size=2), DatasetLoader)
    with pytest.raises(TypeError, match=r"\['pin_memory'\] apply to a Dataset only"):
        make_loader(split, 4, pin_memory=True)
    with pytest.raises(ValueError, match="rank must be < world_size=1"):  # sharded since DDP
        make_loader(split, 4, rank=1)


class _Returns(Dataset):
    def __init__(self, item: object) -> None:
        self.item = item

    def __len__(self) -> int:
        return 4

    def __getitem__(self, i: int) -> object:
        return self.item


@pytest.mark.parametrize(
    ("item", "message"),
    [
        (torch.zeros(3), r"_Returns\[0\] returned a Tensor; expected an \(x, y\) tuple"),
        ((torch.zeros(3),), r"returned a tuple of length 1; expected"),
        ((torch.zeros(3, dtype=torch.int64), 1), r"returned x as Tensor of dtype torch.int64"),
        ((np.zeros(3, np.uint8), 1), r"returned x as ndarray of dtype uint8"),
        (([0.0, 1.0], 1), r"returned x of type list"),
        ((torch.zeros(3), "cat"), r"returned y of type str"),
    ],
)
def test_check_sample_names_the_dataset_index_and_expectation(item: object, message: str) -> None:
    with pytest.raises(TypeError, match=message):
        check_sample(_Returns(item)[0], _Returns(item), 0)
    with pytest.raises(TypeError, match=message):
        DatasetLoader(_Returns(item), 2)  # checked when the loader is built
    check_sample((np.zeros(3, np.float32), np.int64(2)), _Returns(None), 0)  # accepted
    check_sample((torch.zeros(3), 0.5), _Returns(None), 0)
