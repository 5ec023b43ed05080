"""The services every task gets for free: `Step.backward`, `Step.update`, `Step.log`.

`Precision` is the run's numeric mode (`train.precision`): float32; `bf16-mixed`, autocast
to bfloat16 (its exponent range equals float32's, so no loss scaling); `16-mixed`, autocast
to float16 with one `torch.amp.GradScaler` per optimizer (a scaler's skipped step, when a
gradient overflowed, is then known per optimizer, and a skipped step advances neither the
schedule nor the EMA).

Gradient accumulation (`train.accumulate = N`): each backward is scaled by 1/N (1/k for the
k batches of an epoch's last, shorter cycle), so N batches of B samples give the gradient
of one batch of N*B samples (for a loss that is a mean over samples); `update` only steps
on the batch that ends a cycle, and the schedule counts updates, not batches.

`update(name)`: unscale (16-mixed), clip by value then by global norm, optimizer step,
schedule step, EMA update, then the optimizer's gradients are cleared (set to None). With a
`NonFiniteGuard` (`train.nonfinite`), each update's loss and gradients are checked on the
device first (`trainlab.train.faults`); under `skip` a non-finite update does not happen.
Before clipping, the callbacks' `on_before_update` may read the (unscaled) gradients.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from trainlab.errors import ConfigError
from trainlab.regularize import WeightEMA, clip_grad_norm, clip_grad_value, grad_norm
from trainlab.schedules import Scheduler
from trainlab.train.faults import NonFiniteGuard

PRECISIONS = ("32", "bf16-mixed", "16-mixed")


class Precision:
    """Autocast and loss scaling for `mode` on `device`."""

    def __init__(self, mode: str, device: torch.device) -> None:
        if mode not in PRECISIONS:
            raise ConfigError(
                f"train.precision = {mode!r}: expected one of {', '.join(PRECISIONS)}"
            )
        if mode == "16-mixed" and device.type != "cuda":
            raise ConfigError(
                f"train.precision = '16-mixed' needs a CUDA device (float16 autocast with a "
                f"GradScaler); this run is on {device.type}: use 'bf16-mixed' or '32'"
            )
        self.mode, self.device = mode, device
        self.dtype = {"bf16-mixed": torch.bfloat16, "16-mixed": torch.float16}.get(mode)

    @property
    def scales(self) -> bool:
        return self.mode == "16-mixed"

    def autocast(self) -> contextlib.AbstractContextManager[Any]:
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.dtype)

    def scaler(self) -> torch.amp.GradScaler | None:
        return torch.amp.GradScaler(self.device.type) if self.scales else None


@dataclass
class Updater:
    """One optimizer of the run with its schedule, loss scaler and EMA."""

    name: str
    optimizer: torch.optim.Optimizer
    scheduler: Scheduler | None
    scaler: torch.amp.GradScaler | None
    ema: WeightEMA | None
    ema_module: nn.Module | None
    closure: bool = False
    updates: int = 0  # optimizer steps taken (skipped ones excluded)
    skipped: int = 0  # steps a GradScaler skipped (non-finite gradients)
    last_lr: float = field(default=math.nan)

    def params(self) -> list[Tensor]:
        return [p for g in self.optimizer.param_groups for p in g["params"]]

    def zero_grad(self) -> None:
        self.optimizer.zero_grad(set_to_none=True)

    def state_dict(self) -> dict[str, Any]:
        return {
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
            "scaler": self.scaler.state_dict() if self.scaler is not None else None,
            "ema": self.ema.state_dict() if self.ema is not None else None,
            "updates": self.updates,
            "skipped": self.skipped,
            "last_lr": float(self.last_lr),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scheduler is not None and state["scheduler"] is not None:
            self.scheduler.load_state_dict(state["scheduler"])
        if self.scaler is not None and state["scaler"] is not None:
            self.scaler.load_state_dict(state["scaler"])
        if self.ema is not None and state["ema"] is not None:
            self.ema.load_state_dict(state["ema"])
        self.updates, self.skipped = int(state["updates"]), int(state["skipped"])
        self.last_lr = float(state["last_lr"])


@dataclass
class Clipping:
    value: float = 0.0
    norm: float = 0.0


class Step:
    """Handed to `Task.training_step` for one batch; see the module docstring.

    Attributes: `epoch` (0-based), `batch` (index in the epoch), `index` (update cycles
    completed before this batch), `micro`/`cycle` (position and size of this batch's
    accumulation cycle), `syncs` (this batch ends the cycle: `update` steps), `device`.
    """

    def __init__(
        self,
        updaters: dict[str, Updater],
        precision: Precision,
        clipping: Clipping,
        *,
        epoch: int,
        batch: int,
        index: int,
        micro: int,
        cycle: int,
        device: torch.device,
        want_grad_norm: bool = False,
        guard: NonFiniteGuard | None = None,
        before_update: Callable[[Step, Updater], None] | None = None,
    ) -> None:
        self._updaters, self._precision, self._clip = updaters, precision, clipping
        self._guard = guard
        self.skipped_nonfinite = False  # an update of this batch was skipped (nonfinite=skip)
        self.epoch, self.batch, self.index = epoch, batch, index
        self.micro, self.cycle, self.device = micro, cycle, device
        self.syncs = micro == cycle - 1
        self._want_norm = want_grad_norm
        self._before_update = before_update  # the callbacks' on_before_update
        self.logged: dict[str, Tensor] = {}
        self.step_only: set[str] = set()

    # ------------------------------------------------------------------ helpers
    def _updater(self, name: str | None) -> Updater:
        if name is None:
            if len(self._updaters) == 1:
                return next(iter(self._updaters.values()))
            raise ValueError(
                "this task has several optimizers; name one of "
                + ", ".join(repr(n) for n in self._updaters)
            )
        if name not in self._updaters:
            raise ValueError(
                f"unknown optimizer {name!r}; this task has "
                + ", ".join(repr(n) for n in self._updaters)
            )
        return self._updaters[name]

    def optimizer(self, name: str | None = None) -> torch.optim.Optimizer:
        return self._updater(name).optimizer

    def lr(self, name: str | None = None) -> float:
        """The lr of the optimizer's first param group (as the next update will use it)."""
        return float(self._updater(name).optimizer.param_groups[0]["lr"])

    def needs_closure(self, name: str | None = None) -> bool:
        """Whether optimizer `name` re-evaluates the loss (L-BFGS): pass `update(closure=)`."""
        return self._updater(name).closure

    def autocast(self) -> contextlib.AbstractContextManager[Any]:
        """The run's autocast (already active around `training_step`)."""
        return self._precision.autocast()

    # ------------------------------------------------------------------ services
    def backward(
        self, loss: Tensor, name: str | None = None, *, retain_graph: bool = False
    ) -> None:
        """Backpropagate `loss`, scaled for accumulation (1/cycle) and, in 16-mixed, by the
        loss scaler of optimizer `name` (the only one when the task has one)."""
        if not isinstance(loss, Tensor) or loss.ndim != 0:
            got = tuple(loss.shape) if isinstance(loss, Tensor) else type(loss).__name__
            raise TypeError(f"step.backward: expected a scalar loss tensor, got {got}")
        if self._guard is not None:
            self._guard.observe_loss(loss)
        if self.cycle > 1:
            loss = loss / self.cycle
        upd = self._updater(name) if self._precision.scales else None
        if upd is not None and upd.scaler is not None:
            loss = upd.scaler.scale(loss)
        with torch.autocast(self.device.type, enabled=False):  # backward outside autocast
            loss.backward(retain_graph=retain_graph)

    def update(
        self, name: str | None = None, *, closure: Callable[[], Tensor] | None = None
    ) -> bool:
        """Step optimizer `name` if this batch ends an accumulation cycle.

        Returns whether the weights changed (False on an accumulation batch or when the
        loss scaler skipped a non-finite gradient). `closure` is for optimizers that
        re-evaluate the loss (L-BFGS): it must return the loss after its own backward.
        """
        upd = self._updater(name)
        if upd.closure and closure is None:
            raise ValueError(
                f"optimizer {upd.name!r} ({type(upd.optimizer).__name__}) re-evaluates the "
                "loss: pass step.update(closure=...)"
            )
        if not self.syncs:
            return False
        params = upd.params()
        scaler = upd.scaler
        if scaler is not None:
            scaler.unscale_(upd.optimizer)
        lr = float(upd.optimizer.param_groups[0]["lr"])
        if self._guard is not None:  # before clipping, which would spread a bad gradient
            bad = self._guard.observe_update(
                params, step=self.index, epoch=self.epoch, updater=upd.name, lr=lr,
                check_grads=scaler is None,  # 16-mixed: the loss scaler owns inf gradients
            )  # fmt: skip
            if self._guard.policy == "skip" and self._guard.skip(bad):
                self.skipped_nonfinite = True
                upd.zero_grad()
                return False
        if self._before_update is not None:
            self._before_update(self, upd)
        if self._clip.value > 0:
            clip_grad_value(params, self._clip.value)
        norm = None
        if self._clip.norm > 0:
            norm = clip_grad_norm(params, self._clip.norm)
        elif self._want_norm:
            norm = grad_norm(params)
        if norm is not None:
            key = "grad_norm" if len(self._updaters) == 1 else f"grad_norm_{upd.name}"
            self.log(key, norm, epoch=False)
        upd.last_lr = lr
        if scaler is not None:
            before = scaler.get_scale()
            scaler.step(upd.optimizer)
            scaler.update()
            stepped = not scaler.get_scale() < before  # the scale drops only on a skip
        else:
            upd.optimizer.step(closure)  # type: ignore[arg-type]  # None: no closure
            stepped = True
        if stepped:
            upd.updates += 1
            if upd.scheduler is not None:
                upd.scheduler.step()
            if upd.ema is not None and upd.ema_module is not None:
                upd.ema.update(upd.ema_module)
        else:
            upd.skipped += 1
        upd.zero_grad()
        return stepped

    def zero_grad(self, name: str | None = None) -> None:
        """Clear the gradients of optimizer `name` (every optimizer when the task has one)."""
        self._updater(name).zero_grad()

    def log(self, name: str, value: Tensor | float, *, epoch: bool = True) -> None:
        """Record a scalar of this batch: its epoch mean goes to the epoch row (as
        `train_<name>`; `epoch=False`: only to the step log) and, every `log.every_steps`
        updates, to the step log. Tensors stay on the device (no host sync) until they are
        written."""
        if not epoch:
            self.step_only.add(name)
        if isinstance(value, Tensor):
            if value.numel() != 1:
                raise ValueError(f"step.log({name!r}): expected a scalar, got {tuple(value.shape)}")
            value = value.detach().reshape(())
        else:
            value = torch.tensor(float(value))
        self.logged[name] = value


@contextlib.contextmanager
def eval_mode(modules: dict[str, nn.Module]) -> Iterator[None]:
    """Every module in eval mode (restored afterwards) and no gradients."""
    was = {k: m.training for k, m in modules.items()}
    for m in modules.values():
        m.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        for k, m in modules.items():
            m.train(was[k])
