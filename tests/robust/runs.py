"""A Trainer on the config's data as `trainlab train` builds it (`build_data`: the training
split poisoned when robust.poison_rate > 0), in a fresh run directory under `tmp_path`."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from trainlab.recipes import load_config
from trainlab.train import RunDir, Trainer
from trainlab.train.build import build_data
from trainlab.train.callbacks import Callback


def trainer(
    tmp_path: Path, name: str, overrides: Sequence[str] = (), callbacks: Sequence[Callback] = ()
) -> Trainer:
    config = load_config(overrides=[f"name={name}", f"runs_dir={tmp_path}", *overrides])
    run = RunDir.create(config.runs_dir, config.name)
    run.write_config(config.model_dump(mode="json"))
    return Trainer(config, build_data(config), run, callbacks)
