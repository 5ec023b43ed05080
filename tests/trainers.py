"""Helpers for the tests that run a Trainer in-process: a trainer on the digits set in a
fresh run directory, and a callback that requests a stop at a given step."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

from trainlab.recipes import load_config
from trainlab.train import RunDir, Trainer
from trainlab.train.build import build_data
from trainlab.train.callbacks import Callback


def digits_trainer(
    tmp_path: Path, name: str, overrides: Sequence[str] = (), callbacks: Sequence[Callback] = ()
) -> Trainer:
    """A Trainer for `load_config(overrides)` on the digits set (as `trainlab train` builds
    it: `build_data`, so data options such as robust.poison_rate apply), run `name` under
    `tmp_path`."""
    config = load_config(overrides=[f"name={name}", f"runs_dir={tmp_path}", *overrides])
    run = RunDir.create(config.runs_dir, config.name)
    run.write_config(config.model_dump(mode="json"))
    return Trainer(config, build_data(config), run, callbacks)


class StopAt(Callback):
    """Requests a stop (as Ctrl-C would) once the trainer has done `step` steps."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_step_end(self, trainer: Trainer, loss: torch.Tensor, batch_size: int) -> None:
        if trainer.step == self.step:
            trainer.request_stop()
