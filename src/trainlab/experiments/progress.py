"""One progress display over a whole experiment (every trial's epochs), and a line per
finished trial. Like `trainlab.train.progress`, it only reads what the loop reports."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich import progress as rp
from rich.console import Console

from trainlab.train.callbacks import Callback

if TYPE_CHECKING:
    from trainlab.train.trainer import Trainer


class ExperimentProgress:
    """A bar over `total` epochs (all trials together) on `console` when `show_bar`; each
    trial gets `callback(label)`, which advances it by one per finished epoch."""

    def __init__(self, console: Console, total: int, show_bar: bool | None = None) -> None:
        self.console = console
        self.show_bar = console.is_terminal if show_bar is None else show_bar
        self.bar: rp.Progress | None = None
        if self.show_bar:
            self.bar = rp.Progress(
                rp.TextColumn("{task.description}"),
                rp.BarColumn(),
                rp.MofNCompleteColumn(),
                rp.TextColumn("epochs, elapsed"),
                rp.TimeElapsedColumn(),
                rp.TextColumn("eta"),
                rp.TimeRemainingColumn(),
                console=console,
                transient=True,
            )
            self.task = self.bar.add_task("", total=total)
            self.bar.start()

    def callback(self, label: str) -> Callback:
        return _Advance(self, label)

    def skip(self, epochs: int) -> None:
        """A trial that will not run (already finished, or pruned early): count its epochs."""
        if self.bar is not None:
            self.bar.advance(self.task, epochs)

    def print(self, text: str) -> None:
        self.console.print(text, highlight=False, soft_wrap=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None


class _Advance(Callback):
    def __init__(self, progress: ExperimentProgress, label: str) -> None:
        self.progress, self.label = progress, label

    def on_epoch_start(self, trainer: Trainer, epoch: int) -> None:
        p = self.progress
        if p.bar is not None:
            desc = f"{self.label} epoch {epoch + 1}/{trainer.config.train.epochs}"
            p.bar.update(p.task, description=desc)

    def on_epoch_end(self, trainer: Trainer, row: dict[str, Any]) -> None:
        self.progress.skip(1)
