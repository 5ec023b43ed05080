"""The command line over the engine: typed shortcuts, config errors, the light
`--print-config`, what the run directory records, step logs and new tasks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from tests.conftest import cli_env, run_cli

from trainlab.cli import main

TINY = ["--set", "model.args.widths=[8, 16]", "--no-progress"]


@pytest.mark.parametrize("name", ["2024", "yes", "1e3", "null"])
def test_shortcut_values_stay_strings(name: str, capsys) -> None:
    assert main(["train", "--name", name, "--target", "2020", "--print-config"]) == 0
    printed = yaml.safe_load(capsys.readouterr().out)
    assert printed["name"] == name and printed["data"]["target"] == "2020"


def test_split_needs_three_fractions(capsys) -> None:
    assert main(["train", "--set", "data.split=[0.5,0.5]", "--print-config"]) == 2
    err = capsys.readouterr().err
    assert "data.split" in err and "expected three fractions" in err and "Field required" not in err


def test_print_config_does_not_import_torch(tmp_path: Path) -> None:
    code = (
        "import sys; from trainlab.cli import main; "
        "rc = main(['train', '--print-config', '--epochs', '3', '--set', 'data.batch_size=8']); "
        "print('TORCH' if 'torch' in sys.modules else 'NO-TORCH', rc)"
    )
    r = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=cli_env(),
                       capture_output=True, text=True, timeout=120)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().splitlines()[-1] == "NO-TORCH 0"


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("train.precision=16-mixed", "'16-mixed' needs a CUDA device"),
        ("early_stop.patience=-1", "early_stop.patience = -1"),
        ("early_stop.wait=3", "early_stop.wait"),
        ("task.name=gan2", "task.name = 'gan2'"),
        ("train.accumulate=0", "train.accumulate = 0"),
    ],
)
def test_engine_config_errors_exit_2_with_one_line(override: str, message: str, capsys) -> None:
    args = ["train", "--set", override, "--set", "train.device=cpu", "--epochs", "1", *TINY]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1, err


@pytest.mark.slow
def test_run_records_environment_step_log_and_curves(tmp_path: Path) -> None:
    r = run_cli(["train", "--epochs", "2", "--name", "env", "--set", "log.every_steps=5",
                 "--set", "regularize.clip_grad_norm=1.0", *TINY], tmp_path)  # fmt: skip
    assert r.returncode == 0, r.stderr
    run = tmp_path / "runs" / "env"
    session = json.loads((run / "run.json").read_text())["sessions"][0]
    import torch

    import trainlab

    assert session["torch"] == torch.__version__ and session["trainlab"] == trainlab.__version__
    assert session["argv"][1:3] == ["train", "--epochs"]
    assert "git_commit" in session
    rows = (run / "metrics_steps.csv").read_text().splitlines()
    header = rows[0].split(",")
    assert header[:3] == ["epoch", "step", "lr"] and {"loss", "grad_norm", "samples_per_s"} <= set(
        header
    )
    steps = [int(r.split(",")[1]) for r in rows[1:]]
    per_epoch = json.loads((run / "summary.json").read_text())["steps"] // 2
    assert steps == list(range(5, 2 * per_epoch + 1, 5))
    assert (run / "plots" / "curves.png").stat().st_size > 5000  # four panels


def _seg_npz(path: Path, n: int = 96) -> Path:
    """Images with a bright square whose pixels are class 1 (background 0): y (N, H, W)."""
    g = np.random.default_rng(0)
    x = g.normal(0, 0.3, (n, 1, 16, 16)).astype(np.float32)
    y = np.zeros((n, 16, 16), np.int64)
    for i in range(n):
        r, c = g.integers(0, 10, 2)
        x[i, 0, r : r + 6, c : c + 6] += 1.5
        y[i, r : r + 6, c : c + 6] = 1
    np.savez(path, x=x, y=y)
    return path


@pytest.mark.slow
def test_segmentation_from_an_npz_with_the_dice_loss(tmp_path: Path) -> None:
    """`trainlab train --data seg.npz --set loss.name=dice`: the unet by default, Dice/IoU
    metrics. The square is 5 noise sigmas bright: a trained net marks it almost exactly, so
    the test Dice must be far above an all-background or random mask's (~0.25 / ~0.3)."""
    data = _seg_npz(tmp_path / "seg.npz")
    r = run_cli(["train", "--data", str(data), "--name", "seg", "--epochs", "8", "--no-progress",
                 "--set", "loss.name=dice", "--set", "data.batch_size=16",
                 "--set", "model.args.widths=[8,16]", "--set", "optim.lr=1e-2"], tmp_path)  # fmt: skip
    assert r.returncode == 0, r.stderr
    summary = json.loads((tmp_path / "runs" / "seg" / "summary.json").read_text())
    assert summary["data"]["task"] == "segmentation" and summary["model"] == "UNet"
    assert {"dice", "iou", "pixel_acc"} <= set(summary["test"])
    assert summary["test"]["dice"] > 0.8, summary["test"]


def test_multilabel_from_an_npz(tmp_path: Path) -> None:
    g = np.random.default_rng(0)
    x = g.normal(size=(200, 6)).astype(np.float32)
    y = (x[:, :3] > 0).astype(np.int64)  # three labels, each the sign of one feature
    np.savez(tmp_path / "ml.npz", x=x, y=y)
    r = run_cli(["train", "--data", str(tmp_path / "ml.npz"), "--name", "ml", "--epochs", "6",
                 "--model", "mlp", "--no-progress", "--set", "data.batch_size=16"], tmp_path)  # fmt: skip
    assert r.returncode == 0, r.stderr
    summary = json.loads((tmp_path / "runs" / "ml" / "summary.json").read_text())
    assert summary["data"]["task"] == "multilabel"
    # each label is a linear threshold: far above the 1/8 subset accuracy of guessing
    assert summary["test"]["subset_acc"] > 0.6, summary["test"]


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("loss.name=focal", "loss.name"),
        ("loss.name=dice", "dice"),  # digits are classification: dice does not fit
    ],
)
def test_loss_errors_exit_2(override: str, message: str, capsys) -> None:
    assert main(["train", "--set", override, "--epochs", "1", *TINY]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1, err
