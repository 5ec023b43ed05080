"""Faults a long run meets: a NaN (both `train.nonfinite` policies), a corrupt newest
checkpoint, a full disk, changed data, SIGTERM, kill -9 at seeded steps."""

from __future__ import annotations

import errno
import os
import random
import signal
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from tests.conftest import popen_cli, run_cli
from tests.trainers import StopAt

from trainlab.cli import main
from trainlab.data import load_dataset
from trainlab.recipes import load_config
from trainlab.train import RunDir, Step, SupervisedTask, Trainer, TrainingDiverged
from trainlab.train.checkpoint import load_checkpoint, step_checkpoints

MLP = ["model.name=mlp", "train.epochs=2", "checkpoint.every_steps=1", "log.every_steps=4"]


class NaNAt(SupervisedTask):
    """Makes update `at` non-finite: its loss (`where="loss"`) or one weight's gradient."""

    def __init__(self, at: int | range, where: str = "loss") -> None:
        super().__init__()
        self.at, self.where = range(at, at + 1) if isinstance(at, int) else at, where

    def _loss_of(self, x: torch.Tensor, target: torch.Tensor) -> Any:
        out, data_loss, loss = super()._loss_of(x, target)
        if self.where == "loss" and self._index in self.at:
            loss = loss * float("nan")
        return out, data_loss, loss

    def _poison(self, g: torch.Tensor) -> torch.Tensor:
        return g.index_fill(0, torch.tensor([0]), float("inf")) if self._index in self.at else g

    def training_step(self, batch: Any, step: Step) -> None:
        self._index = step.index
        if self.where == "grad" and not hasattr(self, "_hooked"):
            self._hooked = self.model.net[3].weight.register_hook(self._poison)  # 2nd Linear
        super().training_step(batch, step)


def _trainer(tmp_path: Path, name: str, task: Any = None, *extra: str, callbacks=()) -> Trainer:
    config = load_config(overrides=[f"name={name}", f"runs_dir={tmp_path}", *MLP, *extra])
    run = RunDir.create(config.runs_dir, config.name)
    run.write_config(config.model_dump(mode="json"))
    data = load_dataset("digits", seed=config.seed)
    return Trainer(config, data, run, list(callbacks), task=task)


def _all_finite(folder: Path) -> bool:
    for p in folder.glob("*.pt"):
        for sd in load_checkpoint(p)["modules"].values():
            if not all(torch.isfinite(t).all() for t in sd.values() if t.is_floating_point()):
                return False
    return True


@pytest.mark.parametrize(("where", "named"), [("loss", "the loss"), ("grad", "model.net.3.weight")])
def test_stop_names_the_step_and_nothing_non_finite_is_on_disk(
    tmp_path: Path, where: str, named: str
) -> None:
    t = _trainer(tmp_path, "nan", NaNAt(6, where))
    with pytest.raises(TrainingDiverged, match=rf"{named}.* non-finite at step 7, epoch 1, lr"):
        t.fit()  # caught before update 7's checkpoint (checkpoint.every_steps = 1)
    ckpts = tmp_path / "nan" / "checkpoints"
    assert load_checkpoint(ckpts / "last.pt")["step"] == 6  # the last good update
    assert _all_finite(ckpts)


def test_skip_skips_the_update_and_the_run_equals_one_without_it(tmp_path: Path) -> None:
    skipped = _trainer(tmp_path, "skip", NaNAt(6), "train.nonfinite=skip")
    summary = skipped.fit()
    assert skipped.guard.skipped == 1 and skipped.main.updates == summary["steps"] - 1
    assert _all_finite(tmp_path / "skip" / "checkpoints")
    assert all(np.isfinite(v) for r in skipped.history for v in r.values() if isinstance(v, float))


def test_skip_stops_after_max_skipped_in_a_row(tmp_path: Path) -> None:
    t = _trainer(
        tmp_path, "many", NaNAt(range(3, 99)), "train.nonfinite=skip", "train.max_skipped=2"
    )
    with pytest.raises(TrainingDiverged, match=r"step 6,.*3 updates in a row"):
        t.fit()
    assert _all_finite(tmp_path / "many" / "checkpoints")


def test_a_corrupt_last_checkpoint_falls_back_to_the_newest_good_one(
    tmp_path: Path, capsys
) -> None:
    _trainer(tmp_path, "full").fit()
    with pytest.raises(Exception, match="stopped"):
        _trainer(tmp_path, "cut", callbacks=[StopAt(9)]).fit()
    ckpts = tmp_path / "cut" / "checkpoints"
    assert [s for s, _ in step_checkpoints(ckpts)] == [8, 9]  # checkpoint.keep_last = 2
    data = bytearray((ckpts / "last.pt").read_bytes())
    data[len(data) // 2] ^= 0xFF  # a flipped byte in the newest checkpoint (and its step file)
    (ckpts / "last.pt").write_bytes(bytes(data))
    assert main(["resume", str(tmp_path / "cut"), "--no-progress"]) == 0
    err = capsys.readouterr().err
    warning = [line for line in err.splitlines() if line.startswith("trainlab: warning:")]
    assert len(warning) == 1 and "last.pt" in warning[0] and "step-00000008.pt" in warning[0]
    a = load_checkpoint(tmp_path / "full" / "checkpoints" / "last.pt")["modules"]["model"]
    b = load_checkpoint(ckpts / "last.pt")["modules"]["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)  # resumed exactly from step 8


def test_a_full_disk_keeps_the_previous_checkpoint_and_stops_with_one_line(
    tmp_path: Path, monkeypatch, capsys
) -> None:
    real = os.fsync

    def fsync(fd: int) -> None:  # the disk fills up while step 5's checkpoint is written
        if "step-00000005.pt" in os.readlink(f"/proc/self/fd/{fd}"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real(fd)

    monkeypatch.setattr("trainlab.train.checkpoint.os.fsync", fsync)
    args = ["train", "--model", "mlp", "--epochs", "1", "--name", "full", "--no-progress",
            "--runs-dir", str(tmp_path), "--set", "checkpoint.every_steps=1"]  # fmt: skip
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "No space left on device" in err[0] and "intact" in err[0], err
    ckpts = tmp_path / "full" / "checkpoints"
    assert load_checkpoint(ckpts / "last.pt")["step"] == 4  # the previous one, whole
    assert not [p for p in ckpts.iterdir() if p.name.startswith(".")]  # no temp file left


def test_resume_refuses_changed_data_unless_allowed(tmp_path: Path, capsys) -> None:
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(200, 5)).astype(np.float32), rng.integers(0, 3, 200)
    np.savez(tmp_path / "d.npz", x=x, y=y)
    args = ["train", "--data", str(tmp_path / "d.npz"), "--model", "mlp", "--epochs", "1",
            "--name", "r", "--no-progress", "--runs-dir", str(tmp_path)]  # fmt: skip
    assert main(args) == 0
    x[::7, 2] += 1.0  # one feature of every 7th sample, the same sizes
    np.savez(tmp_path / "d.npz", x=x, y=y)
    capsys.readouterr()
    assert main(["resume", str(tmp_path / "r"), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "training data changed" in err[0] and "--allow-changed-data" in err[0]
    assert main(["resume", str(tmp_path / "r"), "--no-progress", "--allow-changed-data"]) == 0


def _weights(run: Path) -> dict[str, torch.Tensor]:
    return torch.load(run / "checkpoints" / "last.pt", weights_only=True)["modules"]["model"]


CLI = ["--model", "mlp", "--epochs", "3", "--no-progress", "--set", "checkpoint.every_steps=1",
       "--set", "log.every_steps=1"]  # fmt: skip


@pytest.mark.slow
def test_sigterm_saves_a_resumable_checkpoint_and_exits_143(tmp_path: Path) -> None:
    args = [
        "train",
        "--model",
        "mlp",
        "--epochs",
        "30",
        "--no-progress",
        "--name",
        "term",
        "--set",
        "log.every_steps=1",
    ]  # fmt: skip  (no periodic checkpoints)
    proc = popen_cli(args, tmp_path)
    steps, deadline = tmp_path / "runs/term/metrics_steps.csv", time.monotonic() + 300
    while not (steps.is_file() and len(steps.read_text().splitlines()) > 3):
        assert proc.poll() is None and time.monotonic() < deadline, "no progress"
        time.sleep(0.01)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 143 and "trainlab resume" in out, err
    state = load_checkpoint(tmp_path / "runs/term/checkpoints/last.pt")  # saved on SIGTERM
    assert 3 <= state["step"] < 30 * 19
    r = run_cli(["resume", str(tmp_path / "runs" / "term"), "--no-progress"], tmp_path)
    said = " ".join(r.stdout.split())  # the console wraps long paths
    assert r.returncode == 0 and f"at epoch {state['epoch'] + 1}, step {state['step']}" in said


def _kill_and_resume(tmp_path: Path, at: int) -> None:
    name = f"kill{at}"
    proc = popen_cli(["train", *CLI, "--name", name], tmp_path)
    ckpts, deadline = tmp_path / "runs" / name / "checkpoints", time.monotonic() + 300
    while not (ckpts / f"step-{at:08d}.pt").is_file():
        assert proc.poll() is None and time.monotonic() < deadline, "no progress"
        time.sleep(0.002)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    r = run_cli(["resume", str(tmp_path / "runs" / name), "--no-progress"], tmp_path)
    assert r.returncode == 0, r.stderr
    a, b = _weights(tmp_path / "runs" / "full"), _weights(tmp_path / "runs" / name)
    assert all(torch.equal(a[k], b[k]) for k in a), at
    rows = lambda run: (tmp_path / "runs" / run / "metrics.csv").read_text()  # noqa: E731
    drop_time = lambda text: [r.rsplit(",", 1)[0] for r in text.splitlines()]  # noqa: E731
    assert drop_time(rows(name)) == drop_time(rows("full"))


KILL_STEPS = sorted(random.Random(13).sample(range(1, 3 * 19 - 1), 20))  # seeded, 3 epochs


@pytest.mark.slow
def test_kill_9_at_two_seeded_steps_resumes_bit_identically(tmp_path: Path) -> None:
    assert run_cli(["train", *CLI, "--name", "full"], tmp_path).returncode == 0
    for at in KILL_STEPS[3], KILL_STEPS[15]:
        _kill_and_resume(tmp_path, at)


@pytest.mark.experiment
def test_kill_9_at_twenty_seeded_steps_resumes_bit_identically(tmp_path: Path) -> None:
    assert run_cli(["train", *CLI, "--name", "full"], tmp_path).returncode == 0
    for at in KILL_STEPS:
        _kill_and_resume(tmp_path, at)
