"""The console reporter: a live bar on terminals, one row per epoch, nothing left running."""

from __future__ import annotations

import io
import sys

from rich.console import Console

from trainlab.recipes import load_config
from trainlab.train import Trainer
from trainlab.train.build import build_data
from trainlab.train.progress import ConsoleReporter


def _fit(console: Console, progress: bool | None) -> str:
    config = load_config(overrides=["model.args.widths=[8]", "train.epochs=2"])
    reporter = ConsoleReporter(console, progress=progress)
    Trainer(config, build_data(config), callbacks=[reporter]).fit()
    return console.file.getvalue()  # type: ignore[attr-defined]


def test_terminal_shows_bar_rows_and_releases_stdout() -> None:
    stdout = sys.stdout
    out = _fit(Console(file=io.StringIO(), force_terminal=True, width=120), None)
    assert sys.stdout is stdout  # the live display gave stdout back
    assert "epoch 1/2" in out and "epoch 2/2" in out  # the bar's description
    assert "train_loss" in out and "val_acc" in out  # the table header


def test_no_terminal_prints_rows_without_bar() -> None:
    out = _fit(Console(file=io.StringIO(), force_terminal=False), None)
    assert "epoch 1/2" not in out
    lines = [line for line in out.splitlines() if line.strip().startswith(("1 ", "2 "))]
    assert len(lines) == 2
