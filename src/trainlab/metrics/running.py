"""Metrics accumulated over batches as sums of counts (never means of means).

Every metric keeps a dict of summed state tensors (float64 sums, int64 counts) on the
model's device, so updating never synchronizes with the host; ``compute()`` reads them
once per epoch. Because the state is sums, a distributed reduction is one
``all_reduce(SUM)`` per state tensor, and the reduced result equals the single-process
result on the union of the data (tested with 2 gloo processes).

Shapes that depend on the data (the number of classes or outputs) are allocated at the
first ``update`` unless given to the constructor; ``all_reduce`` first agrees on that size
across processes (a MAX reduction), so a process that saw no batch still takes part.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING

import torch
from torch import Tensor

if TYPE_CHECKING:
    from torch.distributed import ProcessGroup


class RunningMetrics(ABC):
    """Base class: summed state tensors, ``update``, ``compute``, ``state_dict``, ``all_reduce``.

    Subclasses set ``primary`` (the metric that selects the best checkpoint),
    ``higher_is_better``, and implement ``_allocate(size)``, ``update`` and ``compute``.
    """

    primary: str = "loss"
    higher_is_better: bool = False

    def __init__(self, device: torch.device | str = "cpu", size: int | None = None) -> None:
        self.device = torch.device(device)
        self._size = size
        self.reset()

    # ---- state ---------------------------------------------------------------------------
    def reset(self) -> None:
        self.state: dict[str, Tensor] = {
            "loss_sum": self._zeros(),
            "count": self._zeros(dtype=torch.int64),
        }
        if self._size is not None:
            self._allocate(self._size)

    def _zeros(self, *shape: int, dtype: torch.dtype = torch.float64) -> Tensor:
        return torch.zeros(shape, dtype=dtype, device=self.device)

    def _allocate(self, size: int) -> None:
        """Create the size-dependent state (e.g. a K x K confusion matrix)."""
        self._size = size

    def _ensure(self, size: int) -> None:
        if self._size is None:
            self._allocate(size)
        elif size != self._size:
            raise ValueError(
                f"{type(self).__name__} was set up for size {self._size} (classes or outputs) "
                f"but got a batch with size {size}"
            )

    @property
    def allocated(self) -> bool:
        return self._size is not None

    def _add_loss(self, loss: Tensor | float | None, n: int) -> None:
        """Add a batch's mean loss weighted by its number of samples."""
        if loss is not None:
            loss_t = loss.detach() if isinstance(loss, Tensor) else torch.tensor(loss)
            self.state["loss_sum"] += loss_t.to(self.device, torch.float64) * n
        self.state["count"] += n

    def _count(self) -> float:
        return float(self.state["count"])

    def _per_sample(self, key: str) -> float:
        """``state[key]`` divided by the number of samples added (0 when there were none)."""
        return float(self.state[key]) / max(self._count(), 1.0)

    def state_dict(self) -> dict[str, Tensor]:
        """The summed state, cloned to the CPU (safe for ``torch.load(weights_only=True)``),
        and ``_size`` (the number of classes or outputs it was allocated for; -1: not yet)."""
        out = {k: v.detach().clone().cpu() for k, v in self.state.items()}
        return out | {"_size": torch.tensor(-1 if self._size is None else self._size)}

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        """Continue from ``state`` (mid-epoch resume). A state without ``_size`` (written
        before it was recorded) gets its size from the state's shapes."""
        missing = {"loss_sum", "count"} - set(state)
        if missing:
            raise ValueError(f"metric state lacks keys {sorted(missing)}; got {sorted(state)}")
        state = dict(state)
        recorded = state.pop("_size", None)
        self.state = {k: v.to(self.device) for k, v in state.items()}
        size = self._size_from_state(self.state) if recorded is None else int(recorded)
        if size is not None and size >= 0:
            self._size = size
        elif self._size is not None:  # saved before the first batch: allocate as constructed
            self._allocate(self._size)

    def _size_from_state(self, state: dict[str, Tensor]) -> int | None:
        """The allocated size read from the state's shapes (the first sized tensor's first
        dimension; subclasses whose layout differs override this)."""
        sized = [v for v in state.values() if v.dim() > 0]
        return int(sized[0].shape[0]) if sized else None

    # ---- distributed ---------------------------------------------------------------------
    def all_reduce(self, group: ProcessGroup | None = None) -> None:
        """Sum the state over all processes of ``group`` (default: the default group).

        A no-op unless torch.distributed is initialized. Call it once, before ``compute``.
        """
        import torch.distributed as dist

        if not (dist.is_available() and dist.is_initialized()):
            return
        size = torch.tensor([self._size or 0], dtype=torch.int64, device=self.device)
        dist.all_reduce(size, op=dist.ReduceOp.MAX, group=group)
        if self._size is None and int(size) > 0:
            self._allocate(int(size))
        for key in sorted(self.state):  # the same order on every process
            dist.all_reduce(self.state[key], group=group)

    # ---- interface -----------------------------------------------------------------------
    @abstractmethod
    def update(self, output: Tensor, target: Tensor, loss: Tensor | float | None = None) -> None:
        """Add one batch: model output, target, and the batch's mean loss (optional)."""

    @abstractmethod
    def compute(self) -> dict[str, float]:
        """The metrics of everything added since ``reset`` (plain floats)."""


def metrics_for_task(
    task: str,
    device: torch.device | str = "cpu",
    *,
    target_scale: float = 1.0,
    num_classes: int | None = None,
    topk: tuple[int, ...] = (5,),
    ece_bins: int = 15,
    ignore_index: int = -100,
    detailed: bool = True,
) -> RunningMetrics:
    """The running metrics that fit ``task``.

    'classification': loss, acc, top-k, precision/recall/F1 (macro, micro), ECE, confusion
    matrix; 'multilabel': loss, hamming accuracy, subset accuracy, F1 (micro, macro);
    'regression': loss, rmse, mae (in target units via ``target_scale``), r2;
    'segmentation': loss, pixel accuracy, Dice and IoU (macro over present classes).
    ``detailed=False`` keeps the short set for per-epoch rows: loss and acc
    (classification), loss, rmse and mae (regression); the others are short already.
    """
    from trainlab.metrics.classification import ClassificationMetrics
    from trainlab.metrics.multilabel import MultiLabelMetrics
    from trainlab.metrics.overlap import OverlapMetrics
    from trainlab.metrics.regression import RegressionMetrics

    if task == "classification":
        return ClassificationMetrics(
            device,
            num_classes=num_classes,
            topk=topk,
            ece_bins=ece_bins,
            ignore_index=ignore_index,
            detailed=detailed,
        )
    if task == "regression":
        return RegressionMetrics(device, scale=target_scale, detailed=detailed)
    if task == "multilabel":
        return MultiLabelMetrics(device, num_labels=num_classes)
    if task == "segmentation":
        return OverlapMetrics(device, num_classes=num_classes, ignore_index=ignore_index)
    raise ValueError(
        f"unknown task {task!r}; expected 'classification', 'regression', 'multilabel' or "
        "'segmentation'"
    )
