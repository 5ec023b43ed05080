"""Train a task stream on the engine and score it: the accuracy matrix R and ACC/BWT/FWT.

`run_stream(config, stream)` trains one `ContinualTask` through every task of `stream`, one
engine `Trainer` per task (`train.epochs` epochs each, its own optimizer and schedule, the
data order seeded by `seed + t`), keeping the final weights of each task (not the best on
validation: the stream goes on from where training ended). Before any training and after
each task, every task's test split is scored: the first row is the random-init baseline b,
the others the rows of R (F3:4590-4620).

With a run directory `run` the layout is

    run/task_<t>/      task t's engine run: metrics.csv, summary.json, checkpoints/last.pt
    run/stream.pt      after each task: the next task, R so far, the weights and the method's
                       state (Fisher, anchors, memories, buffer) after consolidation
    run/R.csv, run/metrics.json, run/plots/R.png, run/plots/stream.png   at the end

and `resume=True` continues a stopped run exactly: from `stream.pt`, and inside the task it
was in from that task's last checkpoint (the engine's exact resume, the method's state
included).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from torch import nn

from trainlab.continual.method import Method
from trainlab.continual.metrics import matrix_csv, stream_metrics
from trainlab.continual.registry import method_from_config
from trainlab.continual.streams import TaskStream, make_stream
from trainlab.continual.task import ContinualTask
from trainlab.data import DataBundle
from trainlab.errors import CheckpointError, ConfigError
from trainlab.recipes.schema import Config
from trainlab.train import Callback, RunDir, Trainer, load_checkpoint, save_checkpoint
from trainlab.train.build import build_model, resolve_device
from trainlab.train.checkpoint import atomic_write_text
from trainlab.train.scope import RunScope

STATE_FILE = "stream.pt"


@dataclass
class StreamResult:
    """What a stream run measured. `r` (T, T) and `baseline` (T,) are accuracies in [0, 1]."""

    method: str
    r: np.ndarray
    baseline: np.ndarray
    train_seconds: float
    seconds: float
    memory_bytes: int
    tasks: list[dict[str, Any]] = field(default_factory=list)

    @property
    def metrics(self) -> dict[str, float]:
        return stream_metrics(self.r, self.baseline)

    def summary(self) -> dict[str, Any]:
        """metrics.json: ACC, BWT, FWT, time and memory, R and b."""
        return {
            "method": self.method,
            **self.metrics,
            "train_seconds": round(self.train_seconds, 3),
            "seconds": round(self.seconds, 3),
            "memory_bytes": self.memory_bytes,
            "R": self.r.tolist(),
            "baseline": self.baseline.tolist(),
            "tasks": self.tasks,
        }


def build_stream(config: Config, data: DataBundle) -> TaskStream:
    """The `continual` section's stream of `data`; a bad setting is a ConfigError."""
    c = config.continual
    try:
        return make_stream(
            data,
            c.scenario,
            None if c.classes_per_task is not None and c.scenario == "split" else c.tasks,
            classes_per_task=c.classes_per_task if c.scenario == "split" else None,
            seed=config.seed,
            multi_head=c.multi_head,
            max_degrees=c.max_degrees,
            shuffle_classes=c.shuffle_classes,
        )
    except (TypeError, ValueError) as e:
        raise ConfigError(f"continual ({c.scenario} tasks of {data.source}): {e}") from None


def build_continual_model(config: Config, stream: TaskStream) -> nn.Module:
    """The config's model for the stream's outputs, initialized from the run's seed."""
    with RunScope(config.seed, config.train.deterministic):
        d = stream.data
        return build_model(config, d.num_outputs, d.in_shape, task="classification")


def _scores(task: ContinualTask, stream: TaskStream, batch_size: int) -> list[float]:
    return [task.accuracy(e.test, e.index, batch_size) for e in stream.experiences]


def run_stream(
    config: Config,
    stream: TaskStream,
    *,
    method: Method | None = None,
    model: nn.Module | None = None,
    run: Path | str | None = None,
    resume: bool = False,
    callbacks: Callable[[int], Sequence[Callback]] | Sequence[Callback] = (),
) -> StreamResult:
    """Train `stream` with `method` (default: the config's) and score it (module docstring).

    `callbacks`: engine callbacks for every task's Trainer, or a function of the task index
    returning them. Raises the engine's `TrainingInterrupted` on a stop request (the state is
    checkpointed: run again with `resume=True`).
    """
    t_start = time.perf_counter()
    method = method if method is not None else method_from_config(config.continual, config.seed)
    model = model if model is not None else build_continual_model(config, stream)
    task = ContinualTask(model, method, stream.masks())
    root = Path(run) if run is not None else None
    state_path = root / STATE_FILE if root is not None else None
    eval_bs = config.data.eval_batch_size
    rows: list[list[float]] = []
    tasks: list[dict[str, Any]] = []
    start, train_seconds, seconds = 0, 0.0, 0.0
    baseline: list[float] | None = None
    if resume:
        if state_path is None:
            raise ValueError("resume=True needs a run directory (run=...)")
        if state_path.is_file():
            state = load_checkpoint(state_path, resolve_device(config.train.device))
            start, rows, baseline = int(state["next"]), state["R"], state["baseline"]
            tasks, train_seconds = list(state["tasks"]), float(state["train_seconds"])
            seconds = float(state["seconds"])
            model.load_state_dict(state["model"])
            task.load_state_dict(state["task_state"])
    elif root is not None and (root / "task_0").exists():
        raise CheckpointError(f"{root}: a stream run exists here; resume it or choose another")
    if baseline is None:
        baseline = _scores(task, stream, eval_bs)  # b: the random-init model on every task
    for t in range(start, len(stream)):
        task.begin_task(t)
        cfg = config.model_copy(update={"seed": config.seed + t})
        task_run = None
        if root is not None:
            task_run = RunDir(root / f"task_{t}")
            task_run.checkpoints.mkdir(parents=True, exist_ok=True)
            task_run.plots.mkdir(exist_ok=True)
        cbs = list(callbacks(t) if callable(callbacks) else callbacks)
        trainer = Trainer(cfg, stream.bundle(t), task_run, cbs, task=task, restore_best=False)
        if task_run is not None and resume and task_run.last.is_file():
            trainer.resume()
        summary = trainer.fit()
        t0 = time.perf_counter()
        task.end_task(stream[t].train)
        rows.append(_scores(task, stream, eval_bs))
        train_seconds += float(summary["train_seconds"])
        tasks.append({
            "task": t,
            "classes": list(stream[t].classes),
            "train_seconds": float(summary["train_seconds"]),
            "consolidate_seconds": round(time.perf_counter() - t0, 4),
            "steps": int(summary["steps"]),
        })  # fmt: skip
        if state_path is not None:
            save_checkpoint(state_path, {
                "next": t + 1, "R": rows, "baseline": baseline, "tasks": tasks,
                "train_seconds": train_seconds,
                "seconds": seconds + time.perf_counter() - t_start,
                "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
                "task_state": task.state_dict(),
            })  # fmt: skip
    result = StreamResult(
        method=method.name,
        r=np.asarray(rows, dtype=np.float64),
        baseline=np.asarray(baseline, dtype=np.float64),
        train_seconds=train_seconds,
        seconds=seconds + time.perf_counter() - t_start,
        memory_bytes=method.memory_bytes(),
        tasks=tasks,
    )
    if root is not None:
        write_results(result, root)
    return result


def write_results(result: StreamResult, root: Path) -> None:
    """R.csv, metrics.json and the pictures (plots/R.png, plots/stream.png) under `root`."""
    from trainlab.continual.plots import plot_matrix, plot_stream

    atomic_write_text(root / "R.csv", matrix_csv(result.r))
    atomic_write_text(root / "metrics.json", json.dumps(result.summary(), indent=2) + "\n")
    plot_matrix(result.r, root / "plots" / "R.png", title=f"R ({result.method})")
    plot_stream(result.r, result.baseline, root / "plots" / "stream.png", title=result.method)
