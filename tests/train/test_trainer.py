"""The Trainer in-process: determinism, exact resume from any step, run directory, tasks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from tests.trainers import StopAt, digits_trainer

from trainlab.data import load_dataset
from trainlab.recipes import load_config
from trainlab.train import RunDir, Trainer, TrainingDiverged, TrainingInterrupted

SMALL = ["model.name=cnn", "model.args.widths=[8, 16]", "train.epochs=3", "data.batch_size=64"]


def _trainer(tmp_path: Path, name: str, overrides=(), callbacks=()) -> Trainer:
    return digits_trainer(tmp_path, name, [*SMALL, *overrides], callbacks)


def _weights(trainer: Trainer) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in trainer.model.state_dict().items()}


def _no_time(history: list[dict]) -> list[dict]:
    return [{k: v for k, v in row.items() if k != "time"} for row in history]


def test_same_config_twice_gives_identical_weights_and_metrics(tmp_path: Path) -> None:
    a, b = _trainer(tmp_path, "a"), _trainer(tmp_path, "b")
    sa, sb = a.fit(), b.fit()
    assert sa["test"] == sb["test"]
    assert _no_time(a.history) == _no_time(b.history)
    wa, wb = _weights(a), _weights(b)
    assert all(torch.equal(wa[k], wb[k]) for k in wa)


@pytest.mark.parametrize("stop_step", [7, 19, 40])  # mid-epoch, an epoch's last step, later
def test_resume_from_any_step_is_bit_identical(tmp_path: Path, stop_step: int) -> None:
    full = _trainer(tmp_path, "full", ["train.deterministic=true"])
    full.fit()
    stopped = _trainer(tmp_path, "stopped", callbacks=[StopAt(stop_step)])
    with pytest.raises(TrainingInterrupted):
        stopped.fit()
    del stopped
    config = load_config(
        overrides=[*SMALL, "name=stopped", f"runs_dir={tmp_path}"]
    )  # a fresh process would read this from config.yaml
    resumed = Trainer(config, load_dataset("digits"), RunDir.open(tmp_path / "stopped"))
    resumed.resume()
    assert resumed.step == stop_step
    resumed.fit()
    assert _no_time(resumed.history) == _no_time(full.history)
    wf, wr = _weights(full), _weights(resumed)
    assert all(torch.equal(wf[k], wr[k]) for k in wf)
    assert resumed.optimizer.state_dict()["state"][0]["exp_avg"].equal(
        full.optimizer.state_dict()["state"][0]["exp_avg"]
    )


def test_run_directory_contents(tmp_path: Path) -> None:
    t = _trainer(tmp_path, "r")
    summary = t.fit()
    run = t.run
    assert run is not None
    for path in (run.config, run.metrics, run.summary, run.last, run.best):
        assert path.is_file(), path
    assert (run.plots / "curves.png").stat().st_size > 1000
    lines = run.metrics.read_text().splitlines()
    assert lines[0].split(",") == [
        "epoch", "step", "lr", "train_loss", "train_acc", "val_loss", "val_acc", "time"
    ]  # fmt: skip
    assert len(lines) == 1 + 3
    assert 0 <= summary["test"]["acc"] <= 1 and summary["best_epoch"] in (1, 2, 3)


def test_regression_reports_rmse_in_original_units(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 4)).astype(np.float32)
    y = 100.0 + 50.0 * (x @ np.array([1.0, -2.0, 0.5, 0.0]))
    np.savez(tmp_path / "r.npz", x=x, y=y)
    config = load_config(
        overrides=["model.name=mlp", "model.args.widths=[32]", "train.epochs=40",
                   "optim.lr=0.01", f"data.source={tmp_path / 'r.npz'}", "data.batch_size=32"]
    )  # fmt: skip
    data = load_dataset(config.data.source)
    t = Trainer(config, data)
    summary = t.fit()
    rmse = summary["test"]["rmse"]
    baseline = float(np.std(y))  # predicting the mean
    assert summary["primary_metric"] == "rmse"
    assert rmse < 0.2 * baseline  # the model learned the linear map, in y's units
    assert summary["test"]["mae"] <= rmse


def test_divergence_stops_with_a_clear_error(
    tmp_path: Path,
) -> None:
    t = _trainer(tmp_path, "nan", ["optim.name=sgd", "optim.lr=1e12", "train.epochs=2"])
    with pytest.raises(TrainingDiverged, match="lower optim.lr"):
        t.fit()
