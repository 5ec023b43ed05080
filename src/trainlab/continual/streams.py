"""Task streams for continual learning, cut from any dataset the engine loads (F3:4509-4728).

The notes' two benchmarks and a third common one:

- **split** (class-incremental, the notes' "Split MNIST"): the classes are cut into disjoint
  groups, one task per group (10 digits, 5 tasks: {0, 1}, {2, 3}, ...). One head over every
  class by default (class-incremental: the model must also tell old classes from new ones);
  `multi_head=True` makes it task-incremental: each task is scored only on its own classes
  (its rows of the shared output layer, i.e. one linear head per task), the task identity
  being known at test time.
- **permuted** (the notes' "Permuted MNIST", a task-recasting benchmark): task 0 is the data
  as it is, task t > 0 the same samples with one fixed, seeded permutation of the input
  features applied to every sample (all splits); every task has every class.
- **rotated**: task t rotates every image by ``t * max_degrees / n_tasks`` degrees (bilinear,
  about the centre; pixels from outside the image are the background, raw value 0).

Every task keeps the engine's own train/val/test splits of `data` (seeded, stratified, the
normalization fitted on the whole training split), so the tasks of a stream are disjoint
cuts of one `DataBundle`; `TaskStream.bundle(t)` is the engine's view of task t.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor
from torch.nn import functional as F

from trainlab.data import DataBundle, Split

SCENARIOS = ("split", "permuted", "rotated")


@dataclass
class Experience:
    """One task of a stream: its splits and the classes it contains (sorted)."""

    index: int
    train: Split
    val: Split | None
    test: Split
    classes: tuple[int, ...]


@dataclass
class TaskStream:
    """The tasks of a stream, the data they were cut from, and how they are scored.

    `multi_head`: each task is scored on its own classes only (task-incremental); else on
    every output (class-incremental, or domain-incremental for permuted/rotated tasks).
    """

    experiences: list[Experience]
    data: DataBundle
    scenario: str
    multi_head: bool = False

    def __len__(self) -> int:
        return len(self.experiences)

    def __getitem__(self, t: int) -> Experience:
        return self.experiences[t]

    @property
    def num_outputs(self) -> int:
        return self.data.num_outputs

    def masks(self) -> Tensor | None:
        """(T, K) bool: the outputs each task is scored on (multi-head), else None."""
        if not self.multi_head:
            return None
        m = torch.zeros(len(self), self.num_outputs, dtype=torch.bool)
        for e in self.experiences:
            m[e.index, list(e.classes)] = True
        return m

    def bundle(self, t: int) -> DataBundle:
        """The engine's `DataBundle` for task t (its train and val splits; no test split:
        the stream runner scores every task's test split itself)."""
        e = self.experiences[t]
        return dataclasses.replace(self.data, train=e.train, val=e.val, test=None)


def _in_memory(data: DataBundle) -> None:
    if data.task != "classification":
        raise ValueError(f"data: continual streams need classification data, got {data.task!r}")
    for name in ("train", "test"):
        if not isinstance(getattr(data, name), Split):
            raise TypeError(
                f"data.{name}: expected an in-memory Split (load without lazy=True), got "
                f"{type(getattr(data, name)).__name__}"
            )


def _subset(split: Split | None, keep: Tensor) -> Split | None:
    if split is None:
        return None
    idx = torch.isin(split.y, keep.to(split.y.device))
    return Split(split.x[idx], split.y[idx])


def split_tasks(
    data: DataBundle,
    n_tasks: int | None = None,
    *,
    classes_per_task: int | None = None,
    seed: int = 0,
    shuffle_classes: bool = False,
    multi_head: bool = False,
) -> TaskStream:
    """Class-incremental tasks: the K classes of `data` in groups of `classes_per_task`
    (or cut into `n_tasks` groups as equal as possible; give exactly one of the two).

    The class order is 0..K-1, or a permutation seeded by `seed` with `shuffle_classes`.
    """
    _in_memory(data)
    k = data.num_outputs
    if (n_tasks is None) == (classes_per_task is None):
        raise ValueError(
            f"split_tasks: give exactly one of n_tasks and classes_per_task, got "
            f"n_tasks={n_tasks!r}, classes_per_task={classes_per_task!r}"
        )
    if classes_per_task is not None:
        if isinstance(classes_per_task, bool) or not 1 <= classes_per_task <= k:
            raise ValueError(
                f"classes_per_task = {classes_per_task!r}: expected an int in 1..{k} (the data "
                f"has {k} classes)"
            )
        n_tasks = math.ceil(k / classes_per_task)
    assert n_tasks is not None
    if isinstance(n_tasks, bool) or not isinstance(n_tasks, int) or not 1 <= n_tasks <= k:
        raise ValueError(
            f"n_tasks = {n_tasks!r}: expected an int in 1..{k} (the number of classes: each "
            f"task needs at least one class)"
        )
    order = np.arange(k)
    if shuffle_classes:
        order = np.random.default_rng(seed).permutation(k)
    if classes_per_task is not None:
        groups = [order[i : i + classes_per_task] for i in range(0, k, classes_per_task)]
    else:
        groups = list(np.array_split(order, n_tasks))
    experiences = []
    for t, group in enumerate(groups):
        keep = torch.as_tensor(np.sort(group), dtype=torch.int64)
        train, val, test = (_subset(getattr(data, s), keep) for s in ("train", "val", "test"))
        assert train is not None and test is not None
        experiences.append(Experience(t, train, val, test, tuple(int(c) for c in keep)))
    return TaskStream(experiences, data, "split", multi_head)


def _check_n(n_tasks: int) -> None:
    if isinstance(n_tasks, bool) or not isinstance(n_tasks, int) or n_tasks < 1:
        raise ValueError(f"n_tasks = {n_tasks!r}: expected an int >= 1")


def _transformed(
    data: DataBundle, n_tasks: int, scenario: str, fn: Callable[[int, Tensor], Tensor]
) -> TaskStream:
    """Task t: every split of `data` with its inputs mapped by `fn(t, x)`; every class."""
    classes = tuple(range(data.num_outputs))
    experiences = []
    for t in range(n_tasks):
        splits = [
            Split(fn(t, s.x), s.y) if isinstance(s, Split) else None
            for s in (data.train, data.val, data.test)
        ]
        train, val, test = splits
        assert train is not None and test is not None
        experiences.append(Experience(t, train, val, test, classes))
    return TaskStream(experiences, data, scenario, multi_head=False)


def permuted_tasks(data: DataBundle, n_tasks: int, *, seed: int = 0) -> TaskStream:
    """Task 0: `data` as it is; task t > 0: one fixed permutation of the input features
    (drawn from `seed`) applied to every sample of every split."""
    _in_memory(data)
    _check_n(n_tasks)
    d = int(np.prod(data.in_shape))
    rng = np.random.default_rng(seed)
    perms = [torch.arange(d)] + [torch.as_tensor(rng.permutation(d)) for _ in range(n_tasks - 1)]

    def permute(t: int, x: Tensor) -> Tensor:  # (N, ...) -> (N, ...), features shuffled
        flat = x.reshape(len(x), -1)
        return flat[:, perms[t].to(x.device)].reshape(x.shape)

    return _transformed(data, n_tasks, "permuted", permute)


def rotate(x: Tensor, degrees: float, background: Tensor) -> Tensor:
    """Images (N, C, H, W) rotated by `degrees` (counter-clockwise) about their centre,
    bilinear; pixels coming from outside the image take `background` (broadcast to x)."""
    theta = math.radians(degrees)
    c, s = math.cos(theta), math.sin(theta)
    affine = torch.tensor([[c, -s, 0.0], [s, c, 0.0]], dtype=x.dtype, device=x.device)
    grid = F.affine_grid(affine.expand(len(x), 2, 3), list(x.shape), align_corners=False)
    shifted = x - background  # the background becomes 0, grid_sample's padding value
    return F.grid_sample(shifted, grid, mode="bilinear", align_corners=False) + background


def rotated_tasks(data: DataBundle, n_tasks: int, *, max_degrees: float = 180.0) -> TaskStream:
    """Task t: every image rotated by ``t * max_degrees / n_tasks`` degrees (task 0 as it
    is). Needs image data (N, C, H, W); the background is the raw value 0, standardized."""
    _in_memory(data)
    _check_n(n_tasks)
    if len(data.in_shape) != 3:
        raise ValueError(
            f"rotated tasks need images (C, H, W); this data's samples are {data.in_shape}"
        )
    if not math.isfinite(max_degrees):
        raise ValueError(f"max_degrees = {max_degrees!r}: expected a finite angle in degrees")
    mean, std = data.input_mean.float(), data.input_std.float()
    background = (0.0 - mean) / std  # raw 0 in standardized units, (1, C, 1, 1) or scalar

    def turn(t: int, x: Tensor) -> Tensor:
        b = background.reshape(1, -1, 1, 1) if background.numel() > 1 else background.reshape(())
        return rotate(x, t * max_degrees / n_tasks, b.to(x.device))

    return _transformed(data, n_tasks, "rotated", turn)


def make_stream(
    data: DataBundle,
    scenario: str,
    n_tasks: int | None = None,
    *,
    classes_per_task: int | None = None,
    seed: int = 0,
    multi_head: bool = False,
    max_degrees: float = 180.0,
    shuffle_classes: bool = False,
) -> TaskStream:
    """The stream `scenario` (one of SCENARIOS) of `data`."""
    if scenario == "split":
        return split_tasks(
            data,
            n_tasks,
            classes_per_task=classes_per_task,
            seed=seed,
            shuffle_classes=shuffle_classes,
            multi_head=multi_head,
        )
    if multi_head:
        raise ValueError(
            f"multi_head = True: only split tasks have task-specific classes, not {scenario!r}"
        )
    if n_tasks is None:
        raise ValueError(f"n_tasks: required for {scenario!r} tasks")
    if scenario == "permuted":
        return permuted_tasks(data, n_tasks, seed=seed)
    if scenario == "rotated":
        return rotated_tasks(data, n_tasks, max_degrees=max_degrees)
    raise ValueError(f"scenario = {scenario!r}: expected one of {', '.join(SCENARIOS)}")
