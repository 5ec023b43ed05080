"""What a person sees while a run trains: a progress bar per epoch (loss, samples/s),
one table row per epoch, and nothing else. Rendering is throttled so the loop barely
notices it: the bar reads the loss (a device sync) at most ten times a second."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from torch import Tensor

from trainlab.train.callbacks import Callback

if TYPE_CHECKING:
    from trainlab.train.trainer import Trainer

_REFRESH_S = 0.1


def _fmt(key: str, value: Any) -> str:
    if isinstance(value, float):
        if key == "lr":
            return f"{value:.2e}"
        if key.endswith("acc"):
            return f"{100 * value:.2f}%"
        return f"{value:.4f}"
    return str(value)


class ConsoleReporter(Callback):
    """Progress bar (only on a terminal) and an epoch table on `console`."""

    def __init__(self, console: Console, progress: bool | None = None) -> None:
        self.console = console
        self.show_bar = console.is_terminal if progress is None else progress
        self._bar: Progress | None = None
        self._columns: list[str] = []

    def on_fit_start(self, trainer: Trainer) -> None:
        t = trainer
        sizes = "/".join(str(n) for n in t.data.meta()["sizes"])
        c = t.config.train
        extras = [f"precision {c.precision}"] if c.precision != "32" else []
        extras += [f"accumulate {c.accumulate}"] if c.accumulate > 1 else []
        extras += ["compiled"] if c.compile else []
        task = "" if t.task.name == "supervised" else f"task {t.task.name}: "
        self.console.print(
            f"[bold]trainlab[/] {task}{type(t.model).__name__} on {t.data.source} "
            f"({sizes} train/val/test, {t.data.task}), {t.config.optim.name} "
            f"lr={t.config.optim.lr:g}, {c.epochs} epochs on {t.device}"
            + (f" ({', '.join(extras)})" if extras else "")
            + (f"\n{t.placement}" if t.placement is not None else "")
            + (f"\nrun directory: {t.run.path}" if t.run else ""),
            soft_wrap=True,
        )

    def on_epoch_start(self, trainer: Trainer, epoch: int) -> None:
        if not self.show_bar:
            return
        if self._bar is None:  # one live bar for the whole fit; rows print above it
            self._bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[info]}"),
                TimeElapsedColumn(),
                TextColumn("eta"),
                TimeRemainingColumn(),
                console=self.console,
                transient=True,
                auto_refresh=False,
            )
            self._bar.start()
            self._task = self._bar.add_task("", total=len(trainer.train_loader), info="")
        self._bar.reset(
            self._task,
            total=len(trainer.train_loader),
            completed=trainer.batch_in_epoch,
            description=f"epoch {epoch + 1}/{trainer.config.train.epochs}",
            info="",
        )
        self._t0 = self._last = time.perf_counter()
        self._seen = 0

    def on_step_end(self, trainer: Trainer, loss: Tensor | None, batch_size: int) -> None:
        if self._bar is None:
            return
        self._seen += batch_size
        now = time.perf_counter()
        if now - self._last >= _REFRESH_S:  # touch rich (and sync on the loss) only here
            self._last = now
            rate = self._seen / max(now - self._t0, 1e-9)
            shown = f"loss {loss.item():.4f}  " if loss is not None else ""
            info = f"{shown}{rate:,.0f} samples/s"
            self._bar.update(self._task, completed=trainer.batch_in_epoch, info=info)
            self._bar.refresh()

    def _stop_bar(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None

    def on_epoch_end(self, trainer: Trainer, row: dict[str, Any]) -> None:
        if not self._columns:
            self._columns = [k for k in row if k != "step"]
            self._widths = [max(len(k), 9) for k in self._columns]
            header = " ".join(f"{k:>{w}}" for k, w in zip(self._columns, self._widths, strict=True))
            self.console.print(header, style="bold", soft_wrap=True)
        cells = [
            f"{_fmt(k, row.get(k, '')):>{w}}"
            for k, w in zip(self._columns, self._widths, strict=True)
        ]
        best = " *" if trainer.best["epoch"] == row["epoch"] else ""
        self.console.print(" ".join(cells) + best, highlight=False, soft_wrap=True)

    def on_interrupt(self, trainer: Trainer) -> None:
        self._stop_bar()

    def on_fit_end(self, trainer: Trainer, summary: dict[str, Any]) -> None:
        self._stop_bar()
