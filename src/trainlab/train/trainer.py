"""The training loop: the notes' six steps (F4 section 6) plus what a real run needs.

Per batch: forward, loss, zero the gradients, backward, optimizer step, schedule step.
Per epoch: metrics on train and val, the best-on-val checkpoint, the last checkpoint and
the metrics history. At the end: test metrics from the best checkpoint, used once.

A checkpoint holds everything needed to continue bit-identically (notes F4:2442-2582):
model, optimizer, schedule, epoch, position inside the epoch, the partial epoch's metric
sums, best metric, history and every RNG. The data order is a pure function of
(seed, epoch) (see `trainlab.data.loader`), so it needs no saved state.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from trainlab.augment import Placement, PlacementChoice
from trainlab.data import BatchLoader, DataBundle, Split
from trainlab.errors import ConfigError
from trainlab.losses import loss_from_config
from trainlab.metrics import RunningMetrics, metrics_for_task
from trainlab.recipes.schema import Config
from trainlab.schedules import Scheduler
from trainlab.train.build import (
    build_augment,
    build_ema,
    build_model,
    build_optimizer_from_config,
    build_schedule,
    build_worker_transform,
    clip_gradients,
    resolve_device,
    resolve_placement,
)
from trainlab.train.callbacks import Callback
from trainlab.train.checkpoint import load_checkpoint, save_checkpoint
from trainlab.train.evaluate import evaluate
from trainlab.train.plots import plot_curves
from trainlab.train.rng import rng_state, seed_everything, set_rng_state
from trainlab.train.run_dir import RunDir
from trainlab.train.signals import stop_on_signals

log = logging.getLogger("trainlab.train")


class TrainingInterrupted(Exception):
    """Raised after a stop request (Ctrl-C, SIGTERM) once the checkpoint is saved."""


class TrainingDiverged(Exception):
    """The training loss became NaN or Inf; the last good checkpoint is kept."""


def configure_determinism(enabled: bool) -> None:
    if enabled:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False


class Trainer:
    """Wires data, model, loss, optimizer and schedule from a `Config` and runs them.

    `placement` is the RandAugment placement a resumed run recorded ("batch" or "worker"):
    it is obeyed instead of `augment.placement`, and nothing is measured (`trainlab resume`
    passes it). Without it, `auto` may measure both paths here; `load_state_dict` then
    switches to the checkpoint's placement if it differs, so a resume stays exact either way.
    """

    def __init__(
        self,
        config: Config,
        data: DataBundle,
        run: RunDir | None = None,
        callbacks: Sequence[Callback] = (),
        *,
        placement: Placement | None = None,
    ) -> None:
        self.config, self.run, self.callbacks = config, run, list(callbacks)
        self.device = resolve_device(config.train.device)
        configure_determinism(config.train.deterministic)
        seed_everything(config.seed)
        self.data = data
        self.train_split: Split = data.train.to(self.device)
        self.val_split: Split = data.val.to(self.device)
        self.model: nn.Module = self._build_model()
        self.loss_fn = self._build_loss()
        self.train_loader = BatchLoader(
            self.train_split,
            config.data.batch_size,
            shuffle=True,
            drop_last=True,
            seed=config.seed,
            num_workers=config.data.num_workers,
        )
        self._place_augment(resolve_placement(config, data, self.device, placement))
        mixes = self.augment is not None and self.augment.mixes
        # Mixup/CutMix soft targets already carry the label smoothing: apply it once
        self.train_loss_fn = self._build_loss(soft_targets_smoothed=True) if mixes else self.loss_fn
        self.optimizer = build_optimizer_from_config(config, self.model)
        self.ema = build_ema(config, self.model)
        self.scheduler = Scheduler(self.optimizer, build_schedule(config, len(self.train_loader)))
        self.train_metrics = self._metrics()
        if self.scheduler.plateau is not None:
            names = list(self.train_metrics.compute())
            if config.sched.monitor not in names:
                raise ConfigError(
                    f"sched.monitor = {config.sched.monitor!r}: expected a validation metric "
                    f"of this task, one of {', '.join(names)}"
                )
        self.epoch = 0  # epochs completed
        self.batch_in_epoch = 0  # batches of the current epoch already done
        self.step = 0  # optimizer steps done
        self.best: dict[str, Any] = {"value": None, "loss": None, "epoch": None}
        self.history: list[dict[str, Any]] = []
        self.elapsed = 0.0  # training wall time over all sessions of this run
        self.last_lr = self.optimizer.param_groups[0]["lr"]  # lr of the latest update
        self._stop = False

    # ----------------------------------------------------------------------- building
    def _place_augment(self, placement: PlacementChoice | None) -> None:
        """Put RandAugment where `placement` says: the loader's workers or the batch."""
        self.placement = placement
        if placement is not None:
            log.info("%s", placement)
        self.worker_transform = build_worker_transform(self.config, self.data, placement)
        self.train_loader.transform = self.worker_transform
        self.augment = build_augment(
            self.config, self.data, batch_randaugment=self.worker_transform is None
        )

    def _build_model(self) -> nn.Module:
        return build_model(self.config, self.data.num_outputs, self.data.in_shape).to(self.device)

    def _build_loss(self, soft_targets_smoothed: bool = False) -> nn.Module:
        num_classes = self.data.num_outputs if self.data.task == "classification" else None
        try:
            loss = loss_from_config(
                self.config,
                self.data.task,
                num_classes,
                check_targets=False,
                soft_targets_smoothed=soft_targets_smoothed,
            )
        except ValueError as e:
            raise ConfigError(str(e)) from None
        return loss.to(self.device)

    def _metrics(self) -> RunningMetrics:
        # the short set (loss, acc | rmse, mae) for epoch rows; the test summary gets all
        return metrics_for_task(
            self.data.task, self.device, target_scale=self.data.target_scale, detailed=False
        )

    @property
    def primary(self) -> str:
        return self.train_metrics.primary

    def request_stop(self) -> None:
        """Stop after the current step, saving a checkpoint that resumes exactly."""
        self._stop = True

    # ---------------------------------------------------------------------- the loop
    def train_epoch(self, epoch: int, start: int = 0) -> dict[str, float]:
        """One epoch of the six steps; returns the epoch's train metrics."""
        model, loss_fn, opt, sched = self.model, self.train_loss_fn, self.optimizer, self.scheduler
        augment, ema = self.augment, self.ema
        metrics, callbacks = self.train_metrics, self.callbacks
        every = self.config.checkpoint.every_steps
        model.train()
        for x, y in self.train_loader.epoch(epoch, start):
            xa, target = augment(x, y) if augment is not None else (x, y)
            out = model(xa)  # forward
            loss = loss_fn(out, target)  # loss
            opt.zero_grad(set_to_none=True)  # zero the gradients
            loss.backward()  # backward
            clip_gradients(self.config, model)
            opt.step()  # update
            if ema is not None:
                ema.update(model)
            self.last_lr = opt.param_groups[0]["lr"]
            sched.step()
            metrics.update(out, y, loss)
            self.step += 1
            self.batch_in_epoch += 1
            for cb in callbacks:
                cb.on_step_end(self, loss, x.shape[0])
            if self._stop:
                self.save_last()
                raise TrainingInterrupted(f"stopped at epoch {epoch + 1}, step {self.step}")
            if every and self.step % every == 0:
                self.save_last()
        return metrics.compute()

    def evaluate(
        self,
        split: Split,
        model: nn.Module | None = None,
        *,
        detailed: bool = False,
        confusion_png: Path | None = None,
    ) -> dict[str, float]:
        """Metrics of `model` (default: the trained one) on `split`, in eval mode."""
        return evaluate(
            model if model is not None else self.model,
            split,
            self.loss_fn,
            task=self.data.task,
            batch_size=self.config.data.eval_batch_size,
            target_scale=self.data.target_scale,
            detailed=detailed,
            confusion_png=confusion_png,
        )

    def fit(self) -> dict[str, Any]:
        """Train the remaining epochs, then test the best checkpoint; returns the summary."""
        for cb in self.callbacks:
            cb.on_fit_start(self)
        with stop_on_signals(self.request_stop):
            try:
                while self.epoch < self.config.train.epochs:
                    self._run_epoch()
            except BaseException as e:  # stopped, diverged or crashed: callbacks clean up
                if isinstance(e, TrainingInterrupted):
                    self.write_plots()
                for cb in self.callbacks:
                    cb.on_interrupt(self)
                raise
        summary = self.finish()
        for cb in self.callbacks:
            cb.on_fit_end(self, summary)
        return summary

    def _run_epoch(self) -> None:
        epoch, start = self.epoch, self.batch_in_epoch
        if start == 0:
            self.train_metrics.reset()
        for cb in self.callbacks:
            cb.on_epoch_start(self, epoch)
        t0 = time.perf_counter()
        train = self.train_epoch(epoch, start)
        if not math.isfinite(train["loss"]):
            raise TrainingDiverged(
                f"the training loss became {train['loss']} in epoch {epoch + 1}; "
                "try a lower optim.lr (the last good checkpoint is kept)"
            )
        val = self.evaluate(self.val_split)
        if self.scheduler.plateau is not None:  # sched.name = plateau: metric-driven lr
            self.scheduler.observe(val[self.config.sched.monitor])
        if self.ema is not None:  # the EMA weights, evaluated on the same split
            with self.ema.swapped(self.model):
                val |= {f"ema_{k}": v for k, v in self.evaluate(self.val_split).items()}
        seconds = time.perf_counter() - t0
        self.elapsed += seconds
        self.epoch, self.batch_in_epoch = epoch + 1, 0
        row = {"epoch": self.epoch, "step": self.step, "lr": float(self.last_lr)}
        row |= {f"train_{k}": v for k, v in train.items()}
        row |= {f"val_{k}": v for k, v in val.items()}
        row["time"] = round(seconds, 4)
        self.history.append(row)
        if self._improved(val[self.primary], val["loss"]):
            self.best = {"value": val[self.primary], "loss": val["loss"], "epoch": self.epoch}
            self.save(self.run.best if self.run else None)
        self.save_last()
        if self.run:
            self.run.write_metrics(self.history)
        for cb in self.callbacks:
            cb.on_epoch_end(self, row)

    def _improved(self, value: float, loss: float) -> bool:
        """Better on the primary val metric; on a tie (e.g. 100% accuracy), a lower val loss."""
        best = self.best["value"]
        if best is None:
            return True
        if value == best:
            return loss < self.best["loss"]
        return value > best if self.train_metrics.higher_is_better else value < best

    def finish(self) -> dict[str, Any]:
        """Test metrics of the best checkpoint (the test split's only use) and the summary."""
        model = self.model
        if self.run and self.run.best.is_file():
            model = self._build_model()
            model.load_state_dict(load_checkpoint(self.run.best, self.device)["model"])
        png = self.run.confusion if self.run else None
        test = self.evaluate(self.data.test, model, detailed=True, confusion_png=png)
        summary = {
            "test": test,
            "primary_metric": self.primary,
            "best_epoch": self.best["epoch"],
            f"best_val_{self.primary}": self.best["value"],
            "epochs": self.epoch,
            "steps": self.step,
            "train_seconds": round(self.elapsed, 3),
            "model": self.config.model.name,
            "parameters": sum(p.numel() for p in self.model.parameters()),
            "data": {"source": self.data.source, "task": self.data.task}
            | dict(zip(("train", "val", "test"), self.data.meta()["sizes"], strict=True)),
            "run_dir": str(self.run.path) if self.run else None,
        }
        if self.run:
            self.run.write_summary(summary)
        self.write_plots()
        return summary

    def write_plots(self) -> None:
        if self.run:
            plot_curves(self.history, self.primary, self.run.curves)

    # ----------------------------------------------------------------- checkpoints
    def state_dict(self) -> dict[str, Any]:
        return {
            "config": self.config.model_dump(mode="json"),
            "data": self.data.meta(),
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "epoch": self.epoch,
            "batch_in_epoch": self.batch_in_epoch,
            "step": self.step,
            "train_metrics": self.train_metrics.state_dict(),
            "best": dict(self.best),
            "history": list(self.history),
            "elapsed": self.elapsed,
            "last_lr": float(self.last_lr),
            "rng": rng_state(),
            "augment": self.augment.state_dict() if self.augment is not None else None,
            "augment_placement": self.placement.placement if self.placement else None,
            "ema": self.ema.state_dict() if self.ema is not None else None,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        recorded = state.get("augment_placement")
        if self.placement is not None and recorded not in (None, self.placement.placement):
            self._place_augment(PlacementChoice(recorded, "recorded by the run"))
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.epoch, self.batch_in_epoch = int(state["epoch"]), int(state["batch_in_epoch"])
        self.step = int(state["step"])
        self.last_lr = float(state["last_lr"])  # the latest update's lr (the epoch row logs it)
        self.train_metrics.load_state_dict(state["train_metrics"])
        self.best = dict(state["best"])
        self.history = list(state["history"])
        self.elapsed = float(state["elapsed"])
        set_rng_state(state["rng"])
        if self.augment is not None and state.get("augment") is not None:
            self.augment.load_state_dict(state["augment"])
        if self.ema is not None and state.get("ema") is not None:
            self.ema.load_state_dict(state["ema"])

    def save(self, path: Any) -> None:
        if path is not None:
            save_checkpoint(path, self.state_dict())

    def save_last(self) -> None:
        self.save(self.run.last if self.run else None)

    def resume(self) -> None:
        """Continue from the run's last checkpoint."""
        if self.run is None:
            raise ValueError("resume() needs a run directory")
        self.load_state_dict(load_checkpoint(self.run.last, self.device))
