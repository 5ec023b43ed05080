"""Non-finite losses and gradients, caught at the update where they first appear.

`train.nonfinite` decides what happens (see docs/distributed.md):

- `stop` (default): every update records, on the device, whether its loss or any gradient
  was NaN/Inf, and the first such update (which parameter's gradient, or the loss). Nothing
  is read back per step: the flag is read where the engine syncs anyway (a step-log row,
  a checkpoint, the end of an epoch), and the run stops with `TrainingDiverged` naming the
  first bad update's step, epoch, lr and parameter. A checkpoint is never written after a
  bad update (the check comes first), so nothing non-finite reaches the disk.
- `skip`: the update is skipped (no optimizer, schedule or EMA step; the gradients are
  cleared), counted, and reported in one warning line; `train.max_skipped` skipped updates
  in a row stop the run. Deciding to skip needs the flag on the host before the optimizer
  steps: one device-to-host read per update, the same cost as a 16-mixed `GradScaler`'s
  skip test (free on a CPU). Under DDP the decision is all-reduced, so every rank skips
  together.

Per tensor, "non-finite" is `not isfinite(norm(grad))`: the norms come from one
`torch._foreach_norm` over the gradients (a gradient whose norm overflows float32, above
~1.8e19 per element, counts as non-finite too). The check runs before clipping, which would
spread one bad gradient over every parameter. Under 16-mixed the loss scaler owns inf
gradients (it skips and lowers its scale), so only the loss is checked there.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

log = logging.getLogger("trainlab.train")

POLICIES = ("stop", "skip")


class TrainingDiverged(Exception):
    """The training loss or a gradient became NaN or Inf; the last good checkpoint is kept."""


class NonFiniteGuard:
    """The device-side record of non-finite updates of one run (module docstring)."""

    def __init__(
        self,
        policy: str,
        max_skipped: int,
        modules: dict[str, nn.Module],
        device: torch.device,
        dist: Any = None,
    ) -> None:
        if policy not in POLICIES:
            raise ValueError(f"policy: expected one of {', '.join(POLICIES)}, got {policy!r}")
        if max_skipped < 0:
            raise ValueError(f"max_skipped: expected >= 0, got {max_skipped}")
        self.policy, self.max_skipped, self.device, self.dist = policy, max_skipped, device, dist
        self._names = {
            id(p): f"{k}.{n}" for k, m in modules.items() for n, p in m.named_parameters()
        }
        self._cache: dict[tuple[int, ...], tuple[str, ...]] = {}
        self._events: list[tuple[int, int, str, float, tuple[str, ...]]] = []
        self._base = 0  # id of self._events[0]
        self._loss_bad = torch.zeros((), dtype=torch.bool, device=device)
        self._first = torch.full((), -1, dtype=torch.int64, device=device)  # event id
        self._what = torch.full((), -1, dtype=torch.int64, device=device)  # -1: the loss
        self.skipped = 0  # updates skipped over the run (this session)
        self.in_row = 0

    def observe_loss(self, loss: Tensor) -> None:
        """Flag a non-finite loss of this update cycle (on the device, no sync)."""
        self._loss_bad = self._loss_bad | ~torch.isfinite(loss.detach()).all()

    def observe_update(
        self,
        params: Sequence[Tensor],
        *,
        step: int,
        epoch: int,
        updater: str,
        lr: float,
        check_grads: bool = True,
    ) -> Tensor:
        """Record this update (its gradients and the cycle's loss); the device flag of
        whether it was non-finite."""
        with_grad = [p for p in params if p.grad is not None] if check_grads else []
        key = tuple(id(p) for p in with_grad)
        names = self._cache.get(key)
        if names is None:
            names = self._cache[key] = tuple(self._names.get(id(p), "?") for p in with_grad)
        event = self._base + len(self._events)
        self._events.append((step, epoch, updater, lr, names))
        bad = self._loss_bad
        what = torch.full((), -1, dtype=torch.int64, device=self.device)
        if with_grad:
            grads = [p.grad for p in with_grad if p.grad is not None]
            norms = torch.stack(torch._foreach_norm(grads))  # (P,) one norm per gradient
            bad_grads = ~torch.isfinite(norms)
            bad = bad | bad_grads.any()
            what = torch.where(self._loss_bad, what, torch.argmax(bad_grads.to(torch.int8)))
        new = bad & (self._first < 0)
        self._first = torch.where(new, event, self._first)
        self._what = torch.where(new, what, self._what)
        self._loss_bad = torch.zeros((), dtype=torch.bool, device=self.device)
        return bad

    # ------------------------------------------------------------------ host side
    def _describe(self) -> str:
        event, what = int(self._first), int(self._what)
        step, epoch, updater, lr, names = self._events[event - self._base]
        where = "the loss" if what < 0 else f"the gradient of {names[what]}"
        opt = f" (optimizer {updater!r})" if updater != "main" else ""
        return f"{where} became non-finite at step {step + 1}, epoch {epoch + 1}, lr {lr:.6g}{opt}"

    def _forget(self) -> None:
        self._base += len(self._events)
        self._events.clear()
        self._first.fill_(-1)
        self._what.fill_(-1)

    def skip(self, bad: Tensor) -> bool:
        """`skip` policy: whether to skip this update (all ranks agree); counts, warns and
        stops after `max_skipped` in a row."""
        anywhere = self.dist.any(bad, self.device) if self.dist is not None else bool(bad)
        if not anywhere:
            self.in_row = 0
            self._forget()
            return False
        self.skipped += 1
        self.in_row += 1
        what = self._describe() if int(self._first) >= 0 else "another rank's update was not"
        self._forget()
        if self.in_row > self.max_skipped:
            raise TrainingDiverged(
                f"{what}; {self.in_row} updates in a row were non-finite (train.max_skipped = "
                f"{self.max_skipped}); the last good checkpoint is kept: try a lower optim.lr"
            )
        log.warning("%s: update skipped (%d so far, train.nonfinite=skip)", what, self.skipped)
        return True

    def check(self) -> None:
        """`stop` policy: raise `TrainingDiverged` if any update since the last check was
        non-finite (on any rank); a host sync, made where the engine syncs anyway."""
        bad = self._first >= 0
        anywhere = self.dist.any(bad, self.device) if self.dist is not None else bool(bad)
        if anywhere:
            what = self._describe() if bool(bad) else "an update of another rank was non-finite"
            raise TrainingDiverged(
                f"{what}; the last good checkpoint is kept (train.nonfinite=stop): "
                "try a lower optim.lr"
            )
        self._forget()
