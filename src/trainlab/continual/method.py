"""The interface a continual-learning method implements, and naive fine-tuning.

A method acts at four points of the engine's step (`trainlab.continual.task`):

- `extra_batch()`: samples to train on beside the current batch (experience replay);
- `penalty(model)`: a term added to the loss (EWC's quadratic penalty);
- `project(grads, loss_of)`: the gradient replaced between backward and update (GEM, A-GEM);
- `observe(x, y, t)`: the current batch seen after the update (the reservoir buffer);

and once at the end of each task, `end_task(model, train, task, loss_of, mask)` (EWC's
Fisher and anchor, GEM's episodic memory; `mask`: the outputs task `task` is scored on, or
None). Its extra state goes through `state_dict`/`load_state_dict`
so a continual run resumes exactly mid-task.

`loss_of(x, y, t)` is the task's loss on samples `x` with labels `y` from tasks `t` (N,) (the
outputs each sample is scored on follow its own task in task-incremental streams).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from trainlab.data import Split

LossOf = Callable[[Tensor, Tensor, Tensor], Tensor]


class Method:
    """Naive fine-tuning: train each task in turn with nothing added (the baseline)."""

    name = "naive"

    def extra_batch(self) -> tuple[Tensor, Tensor, Tensor] | None:
        """(x, y, task ids) to train on with the current batch, or None."""
        return None

    def penalty(self, model: nn.Module) -> Tensor | None:
        """A term added to the loss, or None."""
        return None

    def project(self, params: list[Tensor], loss_of: LossOf) -> None:
        """Replace the gradients of `params` (already computed) in place, before the update."""

    def observe(self, x: Tensor, y: Tensor, t: Tensor) -> None:
        """See the current batch (after its update)."""

    def end_task(
        self, model: nn.Module, train: Split, task: int, loss_of: LossOf, mask: Tensor | None
    ) -> None:
        """Consolidate after training on task `task` (its training split `train`)."""

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what `state_dict` returned."""

    def memory_bytes(self) -> int:
        """Bytes of the method's extra state (Fisher, anchors, memories, buffers)."""
        return _bytes(self.state_dict())


def _bytes(obj: Any) -> int:
    if isinstance(obj, Tensor):
        return obj.numel() * obj.element_size()
    if isinstance(obj, dict):
        return sum(_bytes(v) for v in obj.values())
    if isinstance(obj, list | tuple):
        return sum(_bytes(v) for v in obj)
    return 0


def check_nonnegative(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
        raise ValueError(f"{name} = {value!r}: expected a number >= 0")
    return float(value)


def new_generator(seed: int) -> torch.Generator:
    """A CPU generator seeded with `seed` (its state is checkpointed by the methods)."""
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed = {seed!r}: expected an int >= 0")
    g = torch.Generator()
    g.manual_seed(seed)
    return g


def flat_grad(params: list[Tensor]) -> Tensor:
    """The gradients of `params` as one vector (zeros where a gradient is None)."""
    return torch.cat(
        [(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1) for p in params]
    )


def set_flat_grad(params: list[Tensor], g: Tensor) -> None:
    """Write the vector `g` back into the gradients of `params`."""
    start = 0
    for p in params:
        n = p.numel()
        p.grad = g[start : start + n].view_as(p).to(p.dtype).clone()
        start += n
