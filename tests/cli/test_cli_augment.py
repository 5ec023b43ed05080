"""`trainlab train` with the augment.* and regularize.* keys, as a user runs it."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from tests.conftest import run_cli

from trainlab.cli import main


@pytest.mark.slow
def test_train_with_the_modern_ingredients(tmp_path: Path) -> None:
    sets = ["model.args.widths=[8, 16]", "augment.mixup_alpha=0.8", "augment.cutmix_alpha=1.0",
            "augment.randaugment_n=2", "augment.erasing_prob=0.25", "augment.hflip=0.5",
            "train.label_smoothing=0.1", "regularize.ema_decay=0.9",
            "regularize.clip_grad_norm=1.0"]  # fmt: skip
    args = ["train", "--epochs", "1", "--name", "m", "--no-progress"]
    for s in sets:
        args += ["--set", s]
    r = run_cli(args, tmp_path)
    assert r.returncode == 0, r.stderr
    assert "test_acc" in r.stdout
    with open(tmp_path / "runs" / "m" / "metrics.csv") as f:
        row = next(csv.DictReader(f))
    assert float(row["val_ema_acc"]) >= 0.0 and float(row["val_acc"]) >= 0.0


def test_bad_augment_values_exit_2(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["train", "--set", "augment.erasing_prob=1.5"]) == 2
    assert "augment.erasing_prob = 1.5" in capsys.readouterr().err
    assert main(["train", "--set", "augment.mixup_alpha=-1"]) == 2
    assert "augment.mixup_alpha = -1" in capsys.readouterr().err
    assert main(["train", "--set", "regularize.ema_decay=1.0"]) == 2
    assert "regularize.ema_decay = 1.0" in capsys.readouterr().err
