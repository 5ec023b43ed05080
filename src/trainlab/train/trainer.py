"""The engine's loop: epochs of a `Task`'s training steps, evaluation, checkpoints, logging.

Per batch the task's `training_step(batch, step)` runs under the run's autocast; the
`Step` it receives does backward (loss scaling, accumulation), update (clip, optimizer,
schedule, EMA) and logging (see `trainlab.train.step`). Per epoch: train metrics, validation
metrics (and those of the EMA weights), the best-on-val checkpoint, the last checkpoint,
early stopping. At the end: test metrics of the best checkpoint, used once.

A checkpoint holds everything needed to continue bit-identically (notes F4:2442-2582):
every module, optimizer, schedule, loss scaler and EMA, the task's own state, epoch and
position inside it, the partial epoch's metric sums, best metric, history, early-stopping
state and the run's RNG streams. The data order is a pure function of (seed, epoch) (see
`trainlab.data.loader`), so it needs no saved state. Process-wide settings (determinism
flags, RNG streams, signal handlers) are the run's only while it runs (`RunScope`).
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from collections.abc import Sequence
from typing import Any, cast

import torch
from torch import Tensor, nn

from trainlab.augment import Placement, PlacementChoice
from trainlab.data import DataBundle, Split, make_loader
from trainlab.data.fingerprint import fingerprint
from trainlab.errors import CheckpointError, ConfigError
from trainlab.metrics import RunningMetrics
from trainlab.optim import LBFGS, freeze, unfreeze
from trainlab.recipes.schema import Config
from trainlab.schedules import Scheduler
from trainlab.train.build import (
    build_augment,
    build_ema,
    build_optimizer_from_config,
    build_schedule,
    build_worker_transform,
    resolve_device,
    resolve_placement,
)
from trainlab.train.callbacks import Callback
from trainlab.train.checkpoint import (
    load_checkpoint,
    load_newest_good,
    save_checkpoint,
    save_rotating,
)
from trainlab.train.distributed import Dist, local_state, no_sync, rank_seed, to_cpu, wrap_ddp
from trainlab.train.early_stop import EarlyStopping, check_monitor
from trainlab.train.faults import NonFiniteGuard, TrainingDiverged
from trainlab.train.logger import StepLogger
from trainlab.train.plots import plot_curves
from trainlab.train.registry import create_task
from trainlab.train.run_dir import RunDir
from trainlab.train.scope import RunScope
from trainlab.train.signals import stop_on_signals
from trainlab.train.step import Clipping, Precision, Step, Updater, eval_mode
from trainlab.train.task import Task, TaskContext

log = logging.getLogger("trainlab.train")


class TrainingInterrupted(Exception):
    """Raised after a stop request (Ctrl-C, SIGTERM) once the checkpoint is saved;
    `signal` is the signal's number (None: `request_stop()` was called)."""

    def __init__(self, message: str, signal: int | None = None) -> None:
        super().__init__(message)
        self.signal = signal


__all__ = ["Trainer", "TrainingDiverged", "TrainingInterrupted", "to_device"]


def to_device(batch: Any, device: torch.device) -> Any:
    """`batch` (tensors in tuples, lists, dicts) on `device`; non-blocking from pinned memory."""
    if isinstance(batch, Tensor):
        return batch.to(device, non_blocking=True) if batch.device != device else batch
    if isinstance(batch, tuple | list):
        return type(batch)(to_device(b, device) for b in batch)
    if isinstance(batch, dict):
        return {k: to_device(v, device) for k, v in batch.items()}
    return batch


class Trainer:
    """Runs `task` (default: `task.name` of the config) on `data` as `config` says.

    `placement` is the RandAugment placement a resumed run recorded ("batch" or "worker"):
    it is obeyed instead of `augment.placement`, and nothing is measured (`trainlab resume`
    passes it). `restore_best`: at the end, leave the best-on-val weights in the modules
    (else the last ones; the test metrics are the best checkpoint's either way).
    """

    def __init__(
        self,
        config: Config,
        data: DataBundle,
        run: RunDir | None = None,
        callbacks: Sequence[Callback] = (),
        *,
        task: Task | None = None,
        placement: Placement | None = None,
        restore_best: bool = True,
    ) -> None:
        self.config, self.run, self.callbacks = config, run, list(callbacks)
        self.restore_best = restore_best
        self.dist = Dist.current()
        self.device = self.dist.device(resolve_device(config.train.device))
        self.precision = Precision(config.train.precision, self.device)
        self.scope = RunScope(rank_seed(config.seed, self.dist.rank), config.train.deterministic)
        self._fresh_rng = self.scope.capture()  # this rank's seeded streams (world changes)
        # only rank 0 writes the run directory; every rank keeps the same state
        self._writes = run is not None and self.dist.is_main
        self.data = data
        with self.scope:
            self._build(task, placement)

    # ----------------------------------------------------------------------- building
    def _split(self, split: Any) -> Any:
        return split.to(self.device) if isinstance(split, Split) else split

    def _loader(self, split: Any, batch_size: int, *, train: bool = False) -> Any:
        """The in-memory loader for a `Split`; for a Dataset, the worker-process loader
        (pinned memory on CUDA, persistent workers), one per split for the whole run."""
        d, dist = self.config.data, self.dist
        kw: dict[str, Any] = {"seed": self.config.seed}
        if dist.enabled:  # training: even shards; evaluation: every sample, metrics summed
            kw |= {"rank": dist.rank, "world_size": dist.world_size, "even": train}
        if train:
            kw |= {"shuffle": True, "drop_last": True}
        if isinstance(split, Split):
            return make_loader(split, batch_size, num_workers=d.num_workers if train else 0, **kw)
        if id(split) not in self._loaders:
            self._loaders[id(split)] = make_loader(
                split,
                batch_size,
                num_workers=d.num_workers,
                pin_memory=self.device.type == "cuda",
                persistent_workers=d.persistent_workers,
                **kw,
            )
        return self._loaders[id(split)]

    def _build(self, task: Task | None, placement: Placement | None) -> None:
        config, data, device = self.config, self.data, self.device
        d = config.data
        self.train_split = self._split(data.train)
        self.val_split = self._split(data.val) if data.val is not None else None
        self._loaders: dict[int, Any] = {}
        local = self.dist.local_batch(d.batch_size)  # data.batch_size is the global batch
        self.train_loader = self._loader(self.train_split, local, train=True)
        if len(self.train_loader) == 0:
            raise ConfigError(
                f"data.batch_size = {d.batch_size}: larger than the training split "
                f"({data.meta()['sizes'][0]} samples), so an epoch has no step"
            )
        in_memory = isinstance(self.train_split, Split)
        self._set_placement(
            resolve_placement(config, data, device, placement) if in_memory else None
        )
        self.task = task if task is not None else create_task(config.task.name, **config.task.args)
        if not isinstance(self.task, Task):
            raise TypeError(f"task: expected a trainlab.train.Task, got {type(self.task).__name__}")
        ctx = TaskContext(
            config, data, device, batch_randaugment=self.worker_transform is None, run=self.run
        )
        self.task.setup(ctx)
        if not self.task.modules:
            raise TypeError(f"{type(self.task).__name__}.setup must set self.modules")
        for m in self.task.modules.values():
            m.to(device)
            if config.train.channels_last:
                cast(Any, m).to(memory_format=torch.channels_last)  # not in every torch's stubs
        self.updates_per_epoch = -(-len(self.train_loader) // config.train.accumulate)
        self.guard = NonFiniteGuard(
            config.train.nonfinite, config.train.max_skipped, self.task.modules, device, self.dist
        )
        self._ddp: dict[str, nn.Module] | None = None  # the DDP-wrapped modules, once built
        self.data_hash = fingerprint(data.train)
        self.updaters = self._build_updaters()
        self._apply_freezing(0)
        self.compile_seconds: float | None = None
        if config.train.compile:
            for m in self.task.modules.values():
                m.compile()
        self.train_metrics = self.task.train_metrics(device)
        self.clipping = Clipping(
            config.regularize.clip_grad_value, config.regularize.clip_grad_norm
        )
        self._probe = self.task.metrics(device)  # what the task's metrics are called
        probe = self._probe
        names = list(probe.compute() or {}) or [probe.primary, "loss"]
        if any(u.scheduler is not None and u.scheduler.plateau for u in self.updaters.values()):
            check_monitor("sched.monitor", config.sched.monitor, names)
        es = config.early_stop
        self.early_stop = None
        if es.patience > 0:
            self.early_stop = EarlyStopping(
                es.monitor or probe.primary,
                es.patience,
                min_delta=es.min_delta,
                mode=es.mode,
                names=names,
                primary=(probe.primary, probe.higher_is_better),
            )
        self.epoch = 0  # epochs completed
        self.batch_in_epoch = 0  # batches of the current epoch already done
        self.step = 0  # update cycles done (one per train.accumulate batches)
        self.best: dict[str, Any] = {"value": None, "loss": None, "epoch": None}
        self.history: list[dict[str, Any]] = []
        self.elapsed = 0.0  # training wall time over all sessions of this run
        self.stop_reason: str | None = None
        self._logged: dict[str, list[Any]] = {}  # name -> [sum tensor, count] this epoch
        self._best_state: dict[str, Any] | None = None
        self._stop = False
        self._stop_signal: int | None = None

    def _build_updaters(self) -> dict[str, Updater]:
        config, a = self.config, self.config.train.accumulate
        specs = self.task.optimizers()
        if not specs:
            raise TypeError(f"{type(self.task).__name__}.optimizers() returned no optimizer")
        updaters = {}
        for name, spec in specs.items():
            if spec.factory is None or isinstance(spec.factory, str):
                over = dict(spec.overrides)
                if isinstance(spec.factory, str):
                    over["name"] = spec.factory
                opt = build_optimizer_from_config(config, spec.module, over)
            else:
                opt = spec.factory(spec.module.parameters())
                if not isinstance(opt, torch.optim.Optimizer):
                    raise TypeError(
                        f"optimizer factory for {name!r}: expected it to return a "
                        f"torch.optim.Optimizer, got {type(opt).__name__}"
                    )
            closure = isinstance(opt, LBFGS | torch.optim.LBFGS)
            if closure and (a > 1 or self.precision.scales):
                raise ConfigError(
                    f"optimizer {name!r} is L-BFGS: it needs train.accumulate = 1 and no "
                    f"16-mixed loss scaling (got accumulate={a}, precision="
                    f"{config.train.precision!r})"
                )
            sched = (
                Scheduler(opt, build_schedule(config, self.updates_per_epoch))
                if spec.schedule
                else None
            )
            ema = build_ema(config, spec.module) if spec.ema else None
            updaters[name] = Updater(
                name,
                opt,
                sched,
                self.precision.scaler(),
                ema,
                spec.module if ema is not None else None,
                closure=closure,
                last_lr=float(opt.param_groups[0]["lr"]),
            )
        return updaters

    def _apply_freezing(self, epoch: int) -> None:
        """Frozen modules at the start of `epoch`: `optim.freeze` minus every
        `optim.unfreeze` entry of an epoch <= `epoch` (a function of the epoch, so resuming
        restores it). Applied when the run is built, when it is resumed, and when an
        epoch of `optim.unfreeze` starts: the only times the frozen set changes."""
        o = self.config.optim
        if not o.freeze and not o.unfreeze:
            return
        for m in self.task.modules.values():
            if o.freeze and not freeze(m, o.freeze):
                raise ConfigError(
                    f"optim.freeze = {o.freeze}: no module name matches; names look like "
                    + ", ".join(n for n, _ in list(m.named_children())[:6])
                )
            for at in sorted(k for k in o.unfreeze if k <= epoch):
                unfreeze(m, o.unfreeze[at])  # ['*'] matches every module name

    # ----------------------------------------------------------------------- access
    @property
    def model(self) -> nn.Module:
        """The task's module (the one named 'model', or the only one)."""
        mods = self.task.modules
        m = mods["model"] if "model" in mods else next(iter(mods.values()))
        return self._raw(m)

    @property
    def main(self) -> Updater:
        return self.updaters.get("main") or next(iter(self.updaters.values()))

    @property
    def optimizer(self) -> torch.optim.Optimizer:
        return self.main.optimizer

    @property
    def scheduler(self) -> Scheduler | None:
        return self.main.scheduler

    @property
    def ema(self) -> Any:
        return self.main.ema

    @property
    def augment(self) -> Any:
        return getattr(self.task, "augment", None)

    @property
    def loss_fn(self) -> Any:
        return getattr(self.task, "loss_fn", None)

    @property
    def primary(self) -> str:
        return self._probe.primary

    def _raw(self, m: nn.Module) -> nn.Module:
        """`m` without its DDP wrapper."""
        from torch.nn.parallel import DistributedDataParallel as DDP

        return m.module if isinstance(m, DDP) else m

    def request_stop(self, signal: int | None = None) -> None:
        """Stop at the end of the current update cycle, saving a checkpoint that resumes
        exactly (under DDP every rank stops at the same update)."""
        self._stop = True
        self._stop_signal = self._stop_signal or signal

    @contextlib.contextmanager
    def _training_modules(self) -> Any:
        """Under DDP, the task sees its modules wrapped (gradients averaged over ranks)
        while it trains, and unwrapped everywhere else (evaluation, checkpoints, EMA)."""
        if not self.dist.enabled:
            yield
            return
        raw = self.task.modules
        if self._ddp is None:
            self._ddp = wrap_ddp(raw, self.device)
        self.task.modules = self._ddp
        try:
            yield
        finally:
            self.task.modules = raw

    # ---------------------------------------------------------------------- the loop
    def train_epoch(self, epoch: int, start: int = 0) -> dict[str, float]:
        """One epoch of the task's training steps; returns the epoch's train metrics."""
        with self._training_modules():
            return self._train_epoch(epoch, start)

    def _train_epoch(self, epoch: int, start: int) -> dict[str, float]:
        task, device, precision = self.task, self.device, self.precision
        callbacks, n, acc = self.callbacks, len(self.train_loader), self.config.train.accumulate
        every = self.config.checkpoint.every_steps
        log_every = self.config.log.every_steps
        for m in task.modules.values():
            m.train()
        t_log, seen = time.perf_counter(), 0
        for b, batch in enumerate(self.train_loader.epoch(epoch, start), start):
            batch = to_device(batch, device)
            first = b - b % acc
            step = Step(
                self.updaters,
                precision,
                self.clipping,
                epoch=epoch,
                batch=b,
                index=self.step,
                micro=b - first,
                cycle=min(acc, n - first),
                device=device,
                want_grad_norm=bool(log_every) and (self.step + 1) % log_every == 0,
                guard=self.guard,
                before_update=self._before_update,
            )
            if step.micro == 0:
                for upd in self.updaters.values():
                    upd.zero_grad()
            first_compiled = self.config.train.compile and self.compile_seconds is None
            t0 = time.perf_counter()
            snapshot = self._metric_snapshot()
            accumulating = self.dist.enabled and not step.syncs
            sync = no_sync(task.modules) if accumulating else contextlib.nullcontext()
            with sync, precision.autocast():
                task.training_step(batch, step)
            if step.skipped_nonfinite:  # the skipped batch leaves no trace in the metrics
                self._restore_metrics(snapshot)
            if first_compiled:
                self.compile_seconds = time.perf_counter() - t0
                log.info("compiled in %.1f s (first step)", self.compile_seconds)
            if not step.skipped_nonfinite:
                self._accumulate(step)
            size = task.batch_size(batch)
            seen += size * self.dist.world_size  # samples of the global batch
            self.batch_in_epoch += 1
            if step.syncs:
                self.step += 1
            loss = step.logged.get("loss")
            for cb in callbacks:
                cb.on_step_end(self, loss, size)
            if not step.syncs:
                continue
            if log_every and self.step % log_every == 0:
                self.guard.check()  # the step row syncs anyway: read the non-finite flag
                now = time.perf_counter()
                self._log_step(epoch, step, seen / max(now - t_log, 1e-9))
                t_log, seen = now, 0
            if self.dist.any(self._stop, device) if self.dist.enabled else self._stop:
                self.save_last()
                raise TrainingInterrupted(
                    f"stopped at epoch {epoch + 1}, step {self.step}", self._stop_signal
                )
            if every and self.step % every == 0:
                self.save_last()
        self.guard.check()
        out: dict[str, float] = {}
        if self.train_metrics is not None:
            self.train_metrics.all_reduce()  # sums over ranks (a no-op in one process)
            out = self.train_metrics.compute()
        for name in sorted(self._logged):
            total, count = self._logged[name]
            both = self.dist.all_sum(torch.stack([total.double(), torch.as_tensor(
                float(count), dtype=torch.float64, device=total.device)]))  # fmt: skip
            if name not in out:
                out[name] = float(both[0]) / max(float(both[1]), 1.0)
        return out

    def _metric_snapshot(self) -> dict[str, Tensor] | None:
        """The train metrics' sums before a batch (nonfinite=skip: a skipped batch's are
        taken back out)."""
        m = self.train_metrics
        if self.guard.policy != "skip" or m is None:
            return None
        return {k: v.clone() for k, v in m.state.items()}

    def _restore_metrics(self, snapshot: dict[str, Tensor] | None) -> None:
        if snapshot is not None and self.train_metrics is not None:
            self.train_metrics.state = snapshot

    def _before_update(self, step: Step, updater: Updater) -> None:
        for cb in self.callbacks:
            cb.on_before_update(self, step, updater)

    def _accumulate(self, step: Step) -> None:
        """Epoch sums of the scalars `step` logged for the epoch, on their device (no sync)."""
        for name, value in step.logged.items():
            if name in step.step_only:
                continue
            acc = self._logged.get(name)
            if acc is None:
                acc = self._logged[name] = [torch.zeros((), dtype=torch.float64,
                                                        device=value.device), 0]  # fmt: skip
            acc[0] += value
            acc[1] += 1

    def _lrs(self) -> dict[str, float]:
        """The lr of each optimizer's latest update ('lr' when there is one optimizer)."""
        if len(self.updaters) == 1:
            return {"lr": self.main.last_lr}
        return {f"lr_{k}": u.last_lr for k, u in self.updaters.items()}

    def _log_step(self, epoch: int, step: Step, rate: float) -> None:
        row: dict[str, Any] = {"epoch": epoch + 1, "step": self.step} | self._lrs()
        row |= {k: float(v) for k, v in self.dist.all_mean(step.logged).items()}
        row["samples_per_s"] = round(rate, 2)
        self._step_logger.write(row)

    def evaluate(
        self, split: Any, *, detailed: bool = False
    ) -> tuple[dict[str, float], RunningMetrics]:
        """Metrics of the task's modules on `split` (eval mode, no gradients, autocast)."""
        loader = self._loader(split, self.config.data.eval_batch_size)
        metrics = self.task.metrics(self.device, detailed=detailed)
        with eval_mode(self.task.modules), self.precision.autocast():
            for batch in loader.epoch(0):
                self.task.validation_step(to_device(batch, self.device), metrics)
        metrics.all_reduce()  # every rank saw its shard of the split: sum the counts
        return metrics.compute(), metrics

    def fit(self) -> dict[str, Any]:
        """Train the remaining epochs, then test the best checkpoint; returns the summary."""
        with self.scope, stop_on_signals(self.request_stop):  # request_stop(signum)
            self._open_logs()
            for cb in self.callbacks:
                cb.on_fit_start(self)
            try:
                while self.epoch < self.config.train.epochs and self.stop_reason is None:
                    self._run_epoch()
            except BaseException as e:  # stopped, diverged or crashed: callbacks clean up
                if isinstance(e, TrainingInterrupted):
                    self.write_plots()
                for cb in self.callbacks:
                    cb.on_interrupt(self)
                self._step_logger.close()
                raise
            summary = self.finish()
            self._step_logger.close()
        for cb in self.callbacks:
            cb.on_fit_end(self, summary)
        return summary

    def _open_logs(self) -> None:
        lc = self.config.log
        run = self.run
        w = self._writes
        path = run.path / f"metrics_steps.{lc.format}" if run and w and lc.every_steps else None
        tb = run.path / "tensorboard" if run and w and lc.tensorboard else None
        self._step_logger = StepLogger(path, lc.format, tb)
        self._step_logger.truncate(self.step)
        if run and w:
            run.record_session()

    def _run_epoch(self) -> None:
        epoch, start = self.epoch, self.batch_in_epoch
        if start == 0:
            if self.train_metrics is not None:
                self.train_metrics.reset()
            self._logged = {}
        if start == 0 and epoch in self.config.optim.unfreeze:
            self._apply_freezing(epoch)
        self.task.on_epoch_start(epoch)
        for cb in self.callbacks:
            cb.on_epoch_start(self, epoch)
        t0 = time.perf_counter()
        train = self.train_epoch(epoch, start)
        bad = {k: v for k, v in train.items() if "loss" in k and not math.isfinite(v)}
        if bad:
            k, v = next(iter(bad.items()))
            raise TrainingDiverged(
                f"the training {k} became {v} in epoch {epoch + 1}; "
                "try a lower optim.lr (the last good checkpoint is kept)"
            )
        val: dict[str, float] = {}
        if self.val_split is not None:
            val, _ = self.evaluate(self.val_split)
            for upd in self.updaters.values():
                if upd.scheduler is not None and upd.scheduler.plateau is not None:
                    upd.scheduler.observe(val[self.config.sched.monitor])
            emas = [u for u in self.updaters.values() if u.ema is not None]
            for upd in emas:  # the EMA weights, evaluated on the same split
                assert upd.ema is not None and upd.ema_module is not None
                with upd.ema.swapped(upd.ema_module):
                    ema_val, _ = self.evaluate(self.val_split)
                prefix = "ema_" if len(emas) == 1 else f"ema_{upd.name}_"
                val |= {f"{prefix}{k}": v for k, v in ema_val.items()}
        seconds = time.perf_counter() - t0
        self.elapsed += seconds
        self.epoch, self.batch_in_epoch = epoch + 1, 0
        row: dict[str, Any] = {"epoch": self.epoch, "step": self.step} | self._lrs()
        row |= {f"train_{k}": v for k, v in train.items()}
        row |= {f"val_{k}": v for k, v in val.items()}
        row["time"] = round(seconds, 4)
        self.history.append(row)
        scores = val or train
        primary = self.primary
        if primary in scores and self._improved(scores[primary], scores.get("loss", math.nan)):
            self.best = {"value": scores[primary], "loss": scores.get("loss"), "epoch": self.epoch}
            self._save_best()
        if self.early_stop is not None and val:
            self.early_stop.observe(val)
            if self.early_stop.should_stop and self.epoch < self.config.train.epochs:
                self.stop_reason = self.early_stop.reason()
        if self.stop_reason is None and self.epoch < self.config.train.epochs:
            self.stop_reason = self.task.stop_reason()
        self.save_last()
        if self.run and self._writes:
            self.run.write_metrics(self.history)
        self._step_logger.epoch(row)
        for cb in self.callbacks:
            cb.on_epoch_end(self, row)

    def _improved(self, value: float, loss: float) -> bool:
        """Better on the primary val metric; on a tie (e.g. 100% accuracy), a lower val loss."""
        best = self.best["value"]
        if best is None:
            return True
        if value == best:
            return self.best["loss"] is not None and loss < self.best["loss"]
        higher = self._probe.higher_is_better
        return value > best if higher else value < best

    def _module_states(self) -> dict[str, Any]:
        return {k: self._raw(m).state_dict() for k, m in self.task.modules.items()}

    def _copy_states(self) -> dict[str, Any]:
        """A copy of every module's weights (not views that later updates change)."""
        return {
            k: {n: t.detach().clone() for n, t in sd.items()}
            for k, sd in self._module_states().items()
        }

    def _save_best(self) -> None:
        if self.run:
            self.save(self.run.best)  # every rank takes part; rank 0 writes
        if not self._writes:  # no run directory, or not rank 0: the best weights in memory
            self._best_state = self._copy_states()

    def _load_modules(self, states: dict[str, Any]) -> None:
        for k, m in self.task.modules.items():
            m.load_state_dict(states[k])

    def finish(self) -> dict[str, Any]:
        """Test metrics of the best checkpoint (the test split's only use) and the summary."""
        last = None
        best = None
        if self._writes and self.run is not None and self.run.best.is_file():
            best = load_checkpoint(self.run.best, "cpu")["modules"]
        elif self._best_state is not None:
            best = self._best_state
        if best is not None:
            if not self.restore_best:
                last = self._copy_states()
            self._load_modules(best)
        test: dict[str, float] = {}
        plots: dict[str, str] = {}
        if self.data.test is not None:
            test, metrics = self.evaluate(self._split(self.data.test), detailed=True)
            if self.run and self._writes:
                plots = self.task.save_test_plots(metrics, self.run.plots)
        if last is not None:
            self._load_modules(last)
        sizes = self.data.meta()["sizes"]
        summary = {
            "test": test,
            "primary_metric": self.primary,
            "best_epoch": self.best["epoch"],
            f"best_val_{self.primary}": self.best["value"],
            "epochs": self.epoch,
            "steps": self.step,
            "stopped": self.stop_reason or "completed train.epochs",
            "train_seconds": round(self.elapsed, 3),
            "compile_seconds": self.compile_seconds,
            "task": self.task.name or type(self.task).__name__,
            "model": type(self.model).__name__
            if self.config.model.name == "auto"
            else self.config.model.name,
            "parameters": sum(
                p.numel() for m in self.task.modules.values() for p in m.parameters()
            ),
            "data": {"source": self.data.source, "task": self.data.task}
            | dict(zip(("train", "val", "test"), sizes, strict=True)),
            "plots": plots,
            "run_dir": str(self.run.path) if self.run else None,
        }
        if self.run and self._writes:
            self.run.write_summary(summary)
        self.write_plots()
        return summary

    def write_plots(self) -> None:
        if self.run and self._writes:
            steps = self.run.path / f"metrics_steps.{self.config.log.format}"
            plot_curves(self.history, self.primary, self.run.curves, steps)

    # ----------------------------------------------------------------- checkpoints
    def _local_state(self) -> dict[str, Any]:
        """What differs between ranks: random streams, the task's own state, the partial
        epoch's metric sums."""
        return {
            "rng": self.scope.capture(),
            "task_state": self.task.state_dict(),
            "train_metrics": self.train_metrics.state_dict()
            if self.train_metrics is not None
            else None,
            "logged": {k: [v[0].cpu(), int(v[1])] for k, v in self._logged.items()},
        }

    def state_dict(self) -> dict[str, Any]:
        """The checkpoint; under DDP (a collective) with every rank's `_local_state`."""
        local = to_cpu(self._local_state())
        ranks = self.dist.gather(local) if self.dist.enabled else None
        return local | {
            "config": self.config.model_dump(mode="json"),
            "data": self.data.meta(),
            "task": self.task.name or type(self.task).__name__,
            "modules": self._module_states(),
            "updaters": {k: u.state_dict() for k, u in self.updaters.items()},
            "epoch": self.epoch,
            "batch_in_epoch": self.batch_in_epoch,
            "step": self.step,
            "best": dict(self.best),
            "history": list(self.history),
            "elapsed": self.elapsed,
            "stop_reason": self.stop_reason,
            "early_stop": self.early_stop.state_dict() if self.early_stop else None,
            "augment_placement": self.placement.placement if self.placement else None,
            "data_hash": self.data_hash,
            "world_size": self.dist.world_size,
            "ranks": ranks,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        recorded = state.get("augment_placement")
        if self.placement is not None and recorded not in (None, self.placement.placement):
            self._replace_placement(PlacementChoice(recorded, "recorded by the run"))
        self._load_modules(state["modules"])
        for k, u in self.updaters.items():
            u.load_state_dict(state["updaters"][k])
        ranks = state.get("ranks") or [state]  # saved by one process: its state is top-level
        mine = local_state(ranks, self.dist.rank, self.dist.world_size)
        self.task.load_state_dict(mine["task_state"])
        self.epoch, self.batch_in_epoch = int(state["epoch"]), int(state["batch_in_epoch"])
        self.step = int(state["step"])
        if self.train_metrics is not None and mine["train_metrics"] is not None:
            self.train_metrics.load_state_dict(mine["train_metrics"])
        self._logged = {k: [v[0].to(self.device), int(v[1])] for k, v in mine["logged"].items()}
        self.best = dict(state["best"])
        self.history = list(state["history"])
        self.elapsed = float(state["elapsed"])
        self.stop_reason = state["stop_reason"]
        if self.early_stop is not None and state["early_stop"] is not None:
            self.early_stop.load_state_dict(state["early_stop"])
        self.scope.restore(mine["rng"] if mine["rng"] is not None else self._fresh_rng)
        self._apply_freezing(self.epoch)

    def _set_placement(self, placement: PlacementChoice | None) -> None:
        """Where RandAugment runs: per image in the training loader's workers, or batched."""
        self.placement = placement
        if placement is not None:
            log.info("%s", placement)
        self.worker_transform = build_worker_transform(self.config, self.data, placement)
        self.train_loader.transform = self.worker_transform

    def _replace_placement(self, placement: PlacementChoice) -> None:
        """Rebuild the augmentation for a recorded RandAugment placement (before training)."""
        self._set_placement(placement)
        if hasattr(self.task, "augment"):
            self.task.augment = build_augment(
                self.config, self.data, batch_randaugment=self.worker_transform is None
            )

    def save(self, path: Any, *, step_file: bool = False) -> None:
        """Checkpoint to `path`, never after a non-finite update or with non-finite weights
        (the last good one stays). Every rank calls it (collectives: the non-finite check,
        the gather of per-rank state, the write's outcome); rank 0 writes. A failed write
        (a full disk, an unwritable folder) leaves the previous checkpoint intact and raises
        `CheckpointError` on every rank. `step_file`: rotate `step-N.pt` and `last.pt`."""
        if path is None:
            return
        self.guard.check()
        params = [p.detach() for m in self.task.modules.values() for p in m.parameters()]
        if params and not bool(torch.isfinite(torch.stack(torch._foreach_norm(params))).all()):
            raise TrainingDiverged(
                f"the weights became non-finite at epoch {self.epoch + 1}, step {self.step}; "
                "not checkpointed (the last good checkpoint is kept); try a lower optim.lr"
            )
        state = self.state_dict()
        error = None
        if self.dist.is_main:
            try:
                if step_file:
                    save_rotating(path.parent, self.step, state, self.config.checkpoint.keep_last)
                else:
                    save_checkpoint(path, state)
            except OSError as e:
                error = f"{path}: cannot write the checkpoint ({e.strerror or e}); the previous "
                error += "checkpoint is intact"
        error = self.dist.broadcast(error)
        if error is not None:
            raise CheckpointError(error if self.dist.is_main else f"rank 0: {error}")

    def save_last(self) -> None:
        self.save(self.run.last if self.run else None, step_file=True)

    def resume(self) -> None:
        """Continue from the run's last checkpoint (the newest good one when `last.pt` is
        corrupt: a warning names both). States load on the CPU and then move where they
        belong (random-number states must stay CPU tensors, even on a CUDA run)."""
        if self.run is None:
            raise ValueError("resume() needs a run directory")
        _, state, warning = load_newest_good(self.run.last, "cpu")
        if warning is not None and self.dist.is_main:
            log.warning("%s", warning)
        self.load_state_dict(state)
