"""What is trained and how one step goes: the `Task` a training paradigm plugs into the engine.

A task owns its modules (one or several: a classifier; a generator and a discriminator),
says which optimizers they get (`optimizers()`), and defines the maths of one training step
(`training_step(batch, step)`) and of one validation batch (`validation_step(batch,
metrics)`). Everything else (epochs, data order, mixed precision, accumulation, clipping,
schedules, EMA, checkpoints, exact resume, logging, progress) is the engine's, reached
through the `Step` handed to `training_step` (DESIGN.md, "The engine").

A minimal task::

    class Denoise(Task):
        def setup(self, ctx):
            self.modules = {"net": MyNet()}
        def training_step(self, batch, step):
            (x,) = batch[:1]
            loss = F.mse_loss(self.modules["net"](x + 0.1 * torch.randn_like(x)), x)
            step.backward(loss)
            step.update()
            step.log("loss", loss)
        def validation_step(self, batch, metrics):
            ...

Extra state (a Fisher matrix, a replay buffer, a generator's seed) goes through
`state_dict`/`load_state_dict` and is checkpointed with everything else.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor, nn

from trainlab.metrics import RunningMetrics
from trainlab.train.build import build_model

if TYPE_CHECKING:
    from trainlab.data import DataBundle
    from trainlab.recipes.schema import Config
    from trainlab.train.run_dir import RunDir
    from trainlab.train.step import Step

OptimizerFactory = Callable[[Iterable[Any]], torch.optim.Optimizer]


@dataclass
class OptimizerSpec:
    """One optimizer of a task: what it updates and how it differs from the config.

    `module`: the parameters it updates (grouped by the config's `optim` rules: no decay on
    biases and norms, layer-wise decay, ...); `overrides`: `optim` keys that differ for this
    optimizer (e.g. `{"lr": 2e-4, "betas": (0.5, 0.999)}` for a GAN); `factory`: a callable
    `params -> Optimizer` used instead of the config's optimizer; `schedule`: whether the
    config's lr schedule drives it; `ema`: whether `regularize.ema_decay` keeps an EMA of
    `module` (evaluated as `val_ema_*`).
    """

    module: nn.Module
    overrides: dict[str, Any] = field(default_factory=dict)
    factory: OptimizerFactory | None = None
    schedule: bool = True
    ema: bool = False


@dataclass
class TaskContext:
    """What a task may read while it builds itself: the config, the data, the device and the
    run directory (None without one), where a task may write its own pictures."""

    config: Config
    data: DataBundle
    device: torch.device
    #: False when RandAugment runs per image in the loader's workers instead of batched
    batch_randaugment: bool = True
    run: RunDir | None = None

    def create_model(self, name: str | None = None, **args: Any) -> nn.Module:
        """The registered model `name` (default: the config's) for this data."""
        d = self.data
        return build_model(
            self.config, d.num_outputs, d.in_shape, task=d.task, name=name, extra_args=args
        )


class Task(ABC):
    """Base class of training tasks; subclasses set `self.modules` in `setup`.

    `modules` maps names to every `nn.Module` of the task: the engine moves them to the
    device, checkpoints them, switches train/eval mode, and (later) wraps them for DDP.
    """

    #: set by `register_task`
    name: str = ""

    def __init__(self) -> None:
        self.modules: dict[str, nn.Module] = {}

    # ------------------------------------------------------------------ building
    @classmethod
    def build_data(cls, config: Config) -> DataBundle | None:
        """The task's own data (reinforcement learning: one item per update, the rollouts
        are made by the task), or None: the config's dataset (`data.source`)."""
        return None

    def setup(self, ctx: TaskContext) -> None:  # noqa: B027 (an optional hook)
        """Build the modules (and losses, buffers) for `ctx.data` on `ctx.device`."""

    def optimizers(self) -> dict[str, OptimizerSpec]:
        """The task's optimizers by name; default: one, "main", over every module."""
        if len(self.modules) == 1:
            (module,) = self.modules.values()
        else:
            module = nn.ModuleDict(self.modules)
        return {"main": OptimizerSpec(module, ema=True)}

    # ------------------------------------------------------------------ the maths
    @abstractmethod
    def training_step(self, batch: Any, step: Step) -> None:
        """One batch: forward, `step.backward(loss)`, `step.update(name)`, `step.log(...)`."""

    @abstractmethod
    def validation_step(self, batch: Any, metrics: RunningMetrics) -> None:
        """Add one evaluation batch to `metrics` (run under no_grad, modules in eval mode)."""

    def metrics(self, device: torch.device, *, detailed: bool = False) -> RunningMetrics:
        """Fresh evaluation metrics; `detailed` for the final test report."""
        from trainlab.metrics import MeanMetrics

        return MeanMetrics(device)

    def train_metrics(self, device: torch.device) -> RunningMetrics | None:
        """Metrics the task updates during training (reset each epoch), or None: then the
        epoch row shows the epoch means of what `step.log` received."""
        return None

    # ------------------------------------------------------------------ hooks
    def on_epoch_start(self, epoch: int) -> None:  # noqa: B027 (an optional hook)
        """Called before the first batch of `epoch` (0-based), also on resume."""

    def stop_reason(self) -> str | None:
        """Checked after each epoch's validation: a reason to end training now (a budget of
        environment steps is spent), or None to go on. It must agree across ranks."""
        return None

    def save_test_plots(self, metrics: RunningMetrics, plots: Any) -> dict[str, str]:
        """Write pictures of the test metrics under the `plots` folder; returns what was
        written ({description: path})."""
        return {}

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, Any]:
        """Extra state to checkpoint (plain types and tensors); modules are saved apart."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:  # noqa: B027 (an optional hook)
        """Restore what `state_dict` returned."""

    def batch_size(self, batch: Any) -> int:
        """Samples in `batch` (for samples/s): the first tensor's length."""
        first = _first_tensor(batch)
        return int(first.shape[0]) if first is not None and first.ndim else 1


def _first_tensor(batch: Any) -> Tensor | None:
    if isinstance(batch, Tensor):
        return batch
    if isinstance(batch, dict):
        batch = list(batch.values())
    if isinstance(batch, list | tuple):
        for item in batch:
            found = _first_tensor(item)
            if found is not None:
                return found
    return None
