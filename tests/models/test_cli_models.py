"""Models through the real entry points: `trainlab train --model NAME` (in process: the CLI's
`main`, on tiny data) and `trainlab models show NAME`.

A full CLI run writes checkpoints, plots and metrics; for the big models that costs 10-45 s
each on 2 shared cores, so the CLI trains one model per family, every model is built from
a config by the trainer's `build_model` (on the meta device), and every model trains a few
steps in test_architectures.py."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from trainlab.cli import main
from trainlab.models import create_model, list_models

ONE_PER_FAMILY = ["mlp", "cnn", "cnn1d", "resnet18", "convnext_atto", "vit_tiny"]


def _data(tmp_path: Path, signal: bool) -> Path:
    rng = np.random.default_rng(0)
    n = 40
    y = np.arange(n) % 2
    if signal:  # (N, C, L): a sine whose frequency is the class, plus noise
        t = np.linspace(0, 1, 32)
        x = np.sin(2 * np.pi * (2 + 3 * y)[:, None] * t)[:, None].repeat(2, 1)
    else:  # (N, C, H, W): bright top half for class 1
        x = np.zeros((n, 3, 8, 8))
        x[y == 1, :, :4] = 1.0
    x = (x + 0.1 * rng.normal(size=x.shape)).astype(np.float32)
    path = tmp_path / ("sig.npz" if signal else "img.npz")
    np.savez(path, x=x, y=y)
    return path


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(n, marks=pytest.mark.slow) if n == "resnext50_32x4d" else n
        for n in ONE_PER_FAMILY
    ],
)
def test_train_from_the_cli(name: str, tmp_path: Path, capsys) -> None:
    data = _data(tmp_path, signal=name == "cnn1d")
    extra = [] if name in ("mlp", "cnn", "cnn1d") else ["--set", "model.args.drop_path_rate=0.1"]
    args = ["train", "--model", name, "--data", str(data), "--epochs", "1", "--no-progress",
            "--runs-dir", str(tmp_path / "runs"), "--name", "r", "--set", "data.batch_size=16",
            *extra]  # fmt: skip
    assert main(args) == 0, capsys.readouterr().err
    summary = json.loads((tmp_path / "runs" / "r" / "summary.json").read_text())
    assert summary["epochs"] == 1 and np.isfinite(summary["test"]["loss"])
    # the run trained the model asked for, on the data given: 70/15/15 of 40 samples, one
    # epoch of full batches of 16, and the parameter count of that architecture
    assert summary["model"] == name
    d = summary["data"]
    assert (d["train"], d["val"], d["test"]) == (28, 6, 6)
    assert summary["steps"] == 28 // 16
    shape = (2, 32) if name == "cnn1d" else (3, 8, 8)
    kw = {} if not extra else {"drop_path_rate": 0.1}
    with torch.device("meta"):
        model = create_model(name, num_classes=2, in_shape=shape, **kw)
    assert summary["parameters"] == sum(p.numel() for p in model.parameters())


# the token-id models (text_encoder, text_decoder) are built from a config in tests/finetune
@pytest.mark.parametrize("name", [n for n in list_models() if not n.startswith("text_")])
def test_trainer_builds_every_model_from_a_config(name: str) -> None:
    from trainlab.recipes.load import load_config
    from trainlab.train.build import build_model

    extra = [] if name in ("mlp", "cnn", "cnn1d", "unet") else ["model.args.drop_path_rate=0.2"]
    config = load_config(overrides=[f"model.name={name}", *extra])
    shape = (2, 32) if name == "cnn1d" else (3, 32, 32)
    dense = name == "unet"  # per-pixel logits
    with torch.device("meta"):
        model = build_model(config, 10, shape)
        assert model(torch.empty(2, *shape)).shape == ((2, 10, 32, 32) if dense else (2, 10))


def test_models_show_prints_the_table(capsys) -> None:
    assert main(["models", "show", "resnet50", "--input", "3x224x224"]) == 0
    out = capsys.readouterr().out
    assert "resnet50: 25,557,032 parameters" in out
    assert "FLOPs = 2 x multiply-adds" in out and "4.09 G multiply-adds" in out
    assert "layer4.2.conv3" in out and "warning:" in out


def test_models_show_bad_input_exits_2(capsys) -> None:
    assert main(["models", "show", "nope"]) == 2
    assert "unknown model" in capsys.readouterr().err
    assert main(["models", "show", "vit_tiny", "--input", "3x8"]) == 2
    assert "in_shape=(C, H, W)" in capsys.readouterr().err
    assert main(["models", "show", "mlp", "--input", "axb"]) == 2
    assert "3x224x224" in capsys.readouterr().err
