"""Schedules wired into the config, the Trainer and `trainlab plot-lr`, end to end."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import torch
from tests.conftest import run_cli
from tests.trainers import digits_trainer

from trainlab import schedules as S
from trainlab.cli import main
from trainlab.data import load_dataset
from trainlab.errors import ConfigError
from trainlab.recipes import load_config
from trainlab.train import RunDir, Trainer, TrainingInterrupted
from trainlab.train.callbacks import Callback

SMALL = ["model.name=mlp", "model.args.widths=[16]", "train.epochs=3", "data.batch_size=128"]


class _Record(Callback):
    """The lr of every update, and a stop request at a given step."""

    def __init__(self, stop: int | None = None) -> None:
        self.lrs: list[list[float]] = []
        self.stop = stop

    def on_step_end(self, trainer, loss, batch_size) -> None:
        self.lrs.append([float(g["lr"]) for g in trainer.optimizer.param_groups])
        if trainer.step == self.stop:
            trainer.request_stop()


def _trainer(tmp_path: Path, name: str, overrides=(), callbacks=()) -> Trainer:
    return digits_trainer(tmp_path, name, [*SMALL, *overrides], callbacks)


@pytest.mark.slow
def test_trainer_follows_a_configured_schedule(tmp_path: Path) -> None:
    rec = _Record()
    t = _trainer(
        tmp_path,
        "ms",
        ["sched.name=multistep", "sched.params.milestones=[1, 2]", "sched.params.gamma=0.5",
         "sched.warmup_steps=3", "optim.lr=0.01"],
        [rec],
    )  # fmt: skip
    t.fit()
    spe = len(t.train_loader)
    f = S.build_schedule(
        "multistep", epochs=3, steps_per_epoch=spe, warmup_steps=3, milestones=[1, 2], gamma=0.5
    )
    # each recorded lr is the one set for the *next* update, i.e. step + 1
    assert [r[0] for r in rec.lrs] == pytest.approx([0.01 * f(s + 1) for s in range(3 * spe)])
    assert rec.lrs[-1][0] == pytest.approx(0.01 * 0.25)
    assert [row["lr"] for row in t.history] == pytest.approx(
        [0.01 * f(spe - 1), 0.01 * f(2 * spe - 1), 0.01 * f(3 * spe - 1)]
    )


@pytest.mark.slow
def test_plateau_in_the_trainer_resumes_exactly(tmp_path: Path) -> None:
    plateau = ["sched.name=plateau", "sched.params.patience=0", "sched.params.factor=0.5",
               "sched.params.mode=max", "sched.monitor=acc", "sched.warmup_steps=0",
               "train.epochs=4", "optim.lr=0.05"]  # fmt: skip
    full_rec = _Record()
    full = _trainer(tmp_path, "full", plateau, [full_rec])
    full.fit()
    spe = len(full.train_loader)
    assert full.scheduler.plateau.num_observed == 4
    stop = spe + spe // 2  # mid-epoch 2, after the first observation
    part_rec = _Record(stop=stop)
    stopped = _trainer(tmp_path, "stopped", plateau, [part_rec])
    with pytest.raises(TrainingInterrupted):
        stopped.fit()
    config = load_config(overrides=[*SMALL, "name=stopped", f"runs_dir={tmp_path}", *plateau])
    resumed = Trainer(
        config, load_dataset("digits", seed=config.seed), RunDir.open(tmp_path / "stopped"),
        [part_rec],
    )  # fmt: skip
    resumed.resume()
    resumed.fit()
    assert part_rec.lrs == full_rec.lrs
    assert resumed.scheduler.plateau.state_dict() == full.scheduler.plateau.state_dict()
    wf, wr = full.model.state_dict(), resumed.model.state_dict()
    assert all(torch.equal(wf[k], wr[k]) for k in wf)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["sched.name=cosinus"], "sched.name = 'cosinus': unknown schedule"),
        (["sched.params.gamma=0.1"], "'gamma' is not a parameter of schedule 'cosine'"),
        (["sched.name=step", "sched.min_factor=0.1"], "has no min_factor"),
        (["sched.warmup_kind=cubic"], "sched.warmup_kind = 'cubic'"),
    ],
)
def test_config_rejects_bad_schedules(overrides: list[str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(overrides=overrides)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["sched.name=step"], "needs the parameter 'step_size'"),
        (["sched.warmup_epochs=5"], "must be shorter than the run"),
        (["sched.name=cosine_restarts", "sched.params.t0=0"], "t0: expected a number > 0, got 0"),
        (["sched.name=plateau", "sched.monitor=f1"], "sched.monitor = 'f1'"),
    ],
)
def test_trainer_rejects_schedules_that_do_not_fit_the_run(
    tmp_path: Path, overrides: list[str], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        _trainer(tmp_path, "bad", overrides)


def test_default_warmup_is_one_epoch_and_fits_a_one_epoch_run(tmp_path: Path) -> None:
    t = _trainer(tmp_path, "one", ["train.epochs=1"])  # no error: shortened to fit
    spe = len(t.train_loader)
    f = t.scheduler.schedules[0]
    assert f(spe - 2) < f(spe - 1) == 1.0


@pytest.mark.slow
def test_cli_plot_lr(tmp_path: Path) -> None:
    r = run_cli(
        ["plot-lr", "--epochs", "4", "--out", "plots", "--set", "sched.name=one_cycle",
         "--set", "optim.name=sgd", "--set", "optim.lr=0.2"],
        tmp_path,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "lr.png" in r.stdout and "peak lr 0.2" in r.stdout
    assert (tmp_path / "plots" / "lr.png").read_bytes()[:4] == b"\x89PNG"
    with (tmp_path / "plots" / "lr.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    lrs = [float(r["lr_group0"]) for r in rows]
    assert lrs[0] == pytest.approx(0.2 / 25) and max(lrs) == pytest.approx(0.2, rel=1e-3)


def test_cli_plot_lr_bad_schedule_is_one_line_exit_2(capsys) -> None:
    assert main(["plot-lr", "--set", "sched.name=step"]) == 2
    err = capsys.readouterr().err
    assert err.strip().count("\n") == 0 and "step_size" in err
